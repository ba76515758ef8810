/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The collector on synthetic samples: rates, counter resets (restart, migration), balloon vs
 * rss, EWMA and peak window, staleness, forgetting. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collector.h"
#include "macro.h"

#define SEC UINT64_C(1000000)
#define NS_PER_SEC UINT64_C(1000000000)

static HvDomainStats dom(const char *name, uint64_t cpu_ns) {
        return (HvDomainStats){
                .name = (char *) name,
                .running = true,
                .vcpus = 2,
                .memory_kib = 1048576,
                .cpu_time_ns = cpu_ns,
                .have_balloon = true,
                .balloon_available_kib = 1000 * 1024,
                .balloon_unused_kib = 600 * 1024,
                .balloon_rss_kib = 900 * 1024,
        };
}

static void feed1(Collector *c, const char *host, uint64_t t, HvDomainStats d) {
        HvHostStats s = {
                .t_usec = t,
                .cpus = 8,
                .memory_kib = 16 << 20,
                .free_kib = 8 << 20,
                .domains = &d,
                .n_domains = 1};
        assert_int_equal(collector_feed(c, host, &s), 0);
}

static const VmReport *vm(const Collector *c, const char *host, const char *name) {
        const HostReport *h = collector_get(c, host);
        assert_non_null(h);
        for (size_t i = 0; i < h->n_vms; i++)
                if (streq(h->vms[i].name, name))
                        return &h->vms[i];
        return NULL;
}

static void test_rates(void **state) {
        Collector *c;

        assert_int_equal(collector_new(1.0, 0, 30 * SEC, &c), 0);
        feed1(c, "h1", 100 * SEC, dom("a", 5 * NS_PER_SEC));
        assert_true(vm(c, "h1", "a")->cpu_demand == 0); /* one sample: no rate yet */
        feed1(c, "h1", 102 * SEC, dom("a", 6 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 0.5, 1e-9);
        feed1(c, "h1", 103 * SEC, dom("a", 8 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 2.0, 1e-9);

        /* A sample that is not newer is ignored. */
        feed1(c, "h1", 103 * SEC, dom("a", 100 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 2.0, 1e-9);

        const HostReport *h = collector_get(c, "h1");
        assert_int_equal(h->cpus, 8);
        assert_int_equal(h->memory_mib, 16384);
        assert_int_equal(h->free_mib, 8192);
        assert_int_equal(h->t_usec, 103 * SEC);
        assert_int_equal(h->vms[0].vcpus, 2);
        assert_int_equal(h->vms[0].memory_mib, 1024);
        assert_null(h->last_error);
        collector_free(c);
}

static void test_counter_reset(void **state) {
        Collector *c;

        assert_int_equal(collector_new(1.0, 0, 30 * SEC, &c), 0);
        feed1(c, "h1", 10 * SEC, dom("a", 50 * NS_PER_SEC));
        feed1(c, "h1", 11 * SEC, dom("a", 51 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.0, 1e-9);
        /* Restarted on the same host: the counter went backwards; no rate from this pair, the
         * smoothed demand stays. */
        feed1(c, "h1", 12 * SEC, dom("a", 1 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.0, 1e-9);
        /* The next pair measures again from the new baseline. */
        feed1(c, "h1", 14 * SEC, dom("a", 2 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 0.5, 1e-9);

        /* Migrated to h2: the counter restarts at 0 there; the demand carries over (not idle),
         * h1's next sample no longer lists it. */
        feed1(c, "h2", 15 * SEC, dom("a", 0));
        assert_float_equal(vm(c, "h2", "a")->cpu_demand, 0.5, 1e-9);
        HvHostStats empty = {.t_usec = 16 * SEC, .cpus = 8, .memory_kib = 16 << 20};
        assert_int_equal(collector_feed(c, "h1", &empty), 0);
        assert_int_equal(collector_get(c, "h1")->n_vms, 0);
        feed1(c, "h2", 17 * SEC, dom("a", 3 * NS_PER_SEC));
        assert_float_equal(vm(c, "h2", "a")->cpu_demand, 1.5, 1e-9);
        /* Even with a counter larger than on h1 a host change is a new baseline. */
        feed1(c, "h1", 18 * SEC, dom("a", 100 * NS_PER_SEC));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.5, 1e-9);
        collector_free(c);
}

static void test_memory(void **state) {
        Collector *c;
        HvDomainStats d[3];

        assert_int_equal(collector_new(1.0, 0, 30 * SEC, &c), 0);
        d[0] = dom("balloon", 0); /* available − unused = 400 MiB */
        d[1] = dom("rss", 0);
        d[1].have_balloon = false; /* no guest driver: rss, 900 MiB */
        d[2] = dom("nothing", 0);
        d[2].have_balloon = false;
        d[2].balloon_rss_kib = 0; /* nothing measured: the configured 1024 MiB */
        HvHostStats s = {.t_usec = SEC, .cpus = 4, .memory_kib = 8 << 20, .domains = d, .n_domains = 3};
        assert_int_equal(collector_feed(c, "h1", &s), 0);
        assert_int_equal(vm(c, "h1", "balloon")->memory_demand_mib, 400);
        assert_int_equal(vm(c, "h1", "rss")->memory_demand_mib, 900);
        assert_int_equal(vm(c, "h1", "nothing")->memory_demand_mib, 1024);
        /* Sorted by name. */
        const HostReport *h = collector_get(c, "h1");
        assert_string_equal(h->vms[0].name, "balloon");
        assert_string_equal(h->vms[1].name, "nothing");
        assert_string_equal(h->vms[2].name, "rss");
        collector_free(c);
}

static void test_ewma_peak(void **state) {
        Collector *c;
        uint64_t cpu = 0;

        /* alpha 0.5, peak over the last 2 rates. */
        assert_int_equal(collector_new(0.5, 2, 30 * SEC, &c), 0);
        feed1(c, "h1", 0 * SEC + 1, dom("a", cpu));
        cpu += 4 * NS_PER_SEC; /* 4 cores for 1 s */
        feed1(c, "h1", 1 * SEC + 1, dom("a", cpu));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 4.0, 1e-9);
        feed1(c, "h1", 2 * SEC + 1, dom("a", cpu)); /* idle: ewma 2, peak 4 */
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 4.0, 1e-9);
        feed1(c, "h1", 3 * SEC + 1, dom("a", cpu)); /* ewma 1, peak window (0, 0) */
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.0, 1e-9);
        feed1(c, "h1", 4 * SEC + 1, dom("a", cpu)); /* ewma 0.5 */
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 0.5, 1e-9);
        cpu += NS_PER_SEC / 10;
        feed1(c, "h1", 5 * SEC + 1, dom("a", cpu)); /* rate 0.1: ewma 0.3, peak 0.1 */
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 0.3, 1e-9);
        collector_free(c);

        /* EWMA only. */
        assert_int_equal(collector_new(0.25, 0, 30 * SEC, &c), 0);
        cpu = 0;
        feed1(c, "h1", 1, dom("a", cpu));
        cpu += 2 * NS_PER_SEC;
        feed1(c, "h1", SEC + 1, dom("a", cpu));     /* first rate sets it: 2 */
        feed1(c, "h1", 2 * SEC + 1, dom("a", cpu)); /* 0.25·0 + 0.75·2 */
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.5, 1e-9);
        collector_free(c);
}

static void test_stale(void **state) {
        Collector *c;

        assert_int_equal(collector_new(0.5, 3, 30 * SEC, &c), 0);
        assert_true(collector_host_is_stale(c, "h1", 100 * SEC)); /* unknown */
        assert_null(collector_get(c, "h1"));

        assert_int_equal(
                collector_feed_error(c, "h1", "cannot connect to 'qemu+tcp://h1/system'", 100 * SEC), 0);
        const HostReport *h = collector_get(c, "h1");
        assert_non_null(h);
        assert_int_equal(h->t_usec, 0);
        assert_string_equal(h->last_error, "cannot connect to 'qemu+tcp://h1/system'");
        assert_true(collector_host_is_stale(c, "h1", 100 * SEC)); /* never a good sample */

        feed1(c, "h1", 110 * SEC, dom("a", 0));
        assert_null(collector_get(c, "h1")->last_error);
        assert_false(collector_host_is_stale(c, "h1", 110 * SEC));
        assert_false(collector_host_is_stale(c, "h1", 140 * SEC));
        assert_true(collector_host_is_stale(c, "h1", 141 * SEC));

        /* Errors keep the last good sample's time and VMs: staleness comes from time. */
        assert_int_equal(collector_feed_error(c, "h1", "Broken pipe", 120 * SEC), 0);
        h = collector_get(c, "h1");
        assert_int_equal(h->t_usec, 110 * SEC);
        assert_int_equal(h->n_vms, 1);
        assert_string_equal(h->last_error, "Broken pipe");
        assert_false(collector_host_is_stale(c, "h1", 120 * SEC));

        assert_int_equal(collector_remove_host(c, "h1"), 0);
        assert_null(collector_get(c, "h1"));
        assert_int_equal(collector_remove_host(c, "h1"), -ENOENT);
        collector_free(c);
}

static void test_forget(void **state) {
        Collector *c;
        uint64_t cpu = 0;

        assert_int_equal(collector_new(1.0, 0, 10 * SEC, &c), 0);
        feed1(c, "h1", 1 * SEC, dom("a", cpu));
        cpu += NS_PER_SEC;
        feed1(c, "h1", 2 * SEC, dom("a", cpu));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.0, 1e-9);
        /* Gone from every host for more than 3 × stale_after: forgotten; back with no history. */
        for (uint64_t t = 3; t <= 40; t++)
                feed1(c, "h1", t * SEC, dom("b", 0));
        feed1(c, "h1", 41 * SEC, dom("a", cpu));
        assert_true(vm(c, "h1", "a")->cpu_demand == 0);
        collector_free(c);
}

static void test_invalid(void **state) {
        Collector *c = NULL;

        assert_int_equal(collector_new(0, 1, SEC, &c), -EINVAL);
        assert_int_equal(collector_new(1.5, 1, SEC, &c), -EINVAL);
        assert_int_equal(collector_new(0.5, 1, 0, &c), -EINVAL);
        assert_null(collector_free(NULL));
        assert_int_equal(collector_new(0.5, 1, SEC, &c), 0);
        assert_int_equal(collector_feed(c, "h1", NULL), -EINVAL);
        assert_null(collector_get(c, NULL));
        collector_free(c);
}

/* The held demand (cpu_demand_stable): a burst that just began is not in it, one that just
 * ended is out of it at once, one that lasts enters it at the 15-minute mean's pace; never
 * above cpu_demand. */
static void test_stable(void **state) {
        Collector *c;
        uint64_t t = 0, ns = 0;

        assert_int_equal(collector_new(0.5, 3, 300 * SEC, &c), 0);
        feed1(c, "h1", t, dom("a", ns));
        /* An hour at 1 core, 30 s samples. */
        for (int i = 0; i < 120; i++) {
                t += 30 * SEC, ns += 30 * NS_PER_SEC;
                feed1(c, "h1", t, dom("a", ns));
        }
        assert_true(vm(c, "h1", "a")->has_cpu_demand_stable);
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 1.0, 1e-9);
        assert_float_equal(vm(c, "h1", "a")->cpu_demand_stable, 1.0, 1e-9);
        /* A burst to 5 cores: seen at once in cpu_demand (the peak), not in the held demand. */
        t += 30 * SEC, ns += 150 * NS_PER_SEC;
        feed1(c, "h1", t, dom("a", ns));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 5.0, 1e-9);
        assert_float_equal(vm(c, "h1", "a")->cpu_demand_stable, 1.0, 1e-9);
        /* Ten minutes of it: the window is all burst, the 15-minute mean about half way. */
        for (int i = 0; i < 19; i++) {
                t += 30 * SEC, ns += 150 * NS_PER_SEC;
                feed1(c, "h1", t, dom("a", ns));
        }
        double st = vm(c, "h1", "a")->cpu_demand_stable;
        assert_true(st > 2.5 && st < 3.5); /* 1 + 4 (1 - e^(-600/900)) ≈ 2.95 */
        /* The burst ends: the newest rate is 1 core, the peak keeps cpu_demand up for three
         * samples; the held demand drops to the newest rate at once. */
        t += 30 * SEC, ns += 30 * NS_PER_SEC;
        feed1(c, "h1", t, dom("a", ns));
        assert_float_equal(vm(c, "h1", "a")->cpu_demand, 5.0, 1e-9);
        assert_float_equal(vm(c, "h1", "a")->cpu_demand_stable, 1.0, 1e-9);
        collector_free(c);
}

/* The storage topology of a sample (pools, each VM's disks) is copied into the report. */
static void test_storage(void **state) {
        Collector *c;
        char *markers[] = {(char *) ".drs-pool-x", NULL};
        HvPool pool = {.name = (char *) "local", .target = (char *) "/l", .markers = markers};
        HvDiskUse disk = {.path = (char *) "/l/a.qcow2", .allocation_bytes = 7};
        HvDomainStats d = dom("a", 0);
        HvHostStats s = {.t_usec = SEC, .cpus = 8, .memory_kib = 16 << 20, .domains = &d, .n_domains = 1};

        d.disks = &disk;
        d.n_disks = 1;
        s.pools = &pool;
        s.n_pools = 1;
        assert_int_equal(collector_new(1.0, 0, 30 * SEC, &c), 0);
        assert_int_equal(collector_feed(c, "h1", &s), 0);
        const HostReport *h = collector_get(c, "h1");
        assert_int_equal(h->n_pools, 1);
        assert_ptr_not_equal(h->pools, &pool);
        assert_string_equal(h->pools[0].target, "/l");
        assert_string_equal(h->pools[0].markers[0], ".drs-pool-x");
        assert_int_equal(vm(c, "h1", "a")->n_disks, 1);
        assert_string_equal(vm(c, "h1", "a")->disks[0].path, "/l/a.qcow2");
        assert_int_equal(vm(c, "h1", "a")->disks[0].allocation_bytes, 7);
        /* The next sample replaces them. */
        s.t_usec = 2 * SEC;
        s.n_pools = 0;
        d.n_disks = 0;
        assert_int_equal(collector_feed(c, "h1", &s), 0);
        assert_int_equal(collector_get(c, "h1")->n_pools, 0);
        assert_int_equal(vm(c, "h1", "a")->n_disks, 0);
        collector_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rates),   cmocka_unit_test(test_counter_reset),
                cmocka_unit_test(test_memory),  cmocka_unit_test(test_ewma_peak),
                cmocka_unit_test(test_stale),   cmocka_unit_test(test_forget),
                cmocka_unit_test(test_invalid), cmocka_unit_test(test_storage),
                cmocka_unit_test(test_stable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
