/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The poller over the fake hypervisor, feeding a collector as drsd does: samples from every
 * host on the main thread, CPU rates that match the fake's, reconnect backoff while a host is
 * down and recovery after, interval changes, trigger, host removal, clean shutdown. */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector.h"
#include "hv-fake.h"
#include "macro.h"
#include "poller.h"

#define MSEC UINT64_C(1000)
#define SEC UINT64_C(1000000)

typedef struct Ctx {
        Collector *collector;
        unsigned samples[3], errors[3]; /* by host index h1..h3 */
        char last_error[256];
        pthread_t main_thread;
} Ctx;

static int host_index(const char *host) {
        return host[0] == 'h' && host[1] >= '1' && host[1] <= '3' && !host[2] ? host[1] - '1' : -1;
}

static void on_sample(const char *host, const HvHostStats *s, const char *error, void *userdata) {
        Ctx *c = userdata;
        int i = host_index(host);

        assert_true(pthread_equal(pthread_self(), c->main_thread)); /* the main thread only */
        assert_true(i >= 0);
        assert_true((s == NULL) != (error == NULL));
        if (s) {
                c->samples[i]++;
                assert_int_equal(collector_feed(c->collector, host, s), 0);
        } else {
                c->errors[i]++;
                (void) snprintf(c->last_error, sizeof(c->last_error), "%s", error);
                assert_int_equal(collector_feed_error(c->collector, host, error, hv_now_usec()), 0);
        }
}

static void run_for(sd_event *e, uint64_t usec) {
        uint64_t deadline = hv_now_usec() + usec;

        while (hv_now_usec() < deadline)
                assert_true(sd_event_run(e, 5000) >= 0);
}

static int setup(void **state) {
        hv_fake_reset();
        assert_int_equal(hv_fake_add_host("h1", 4, 8 << 20), 0);
        assert_int_equal(hv_fake_add_host("h2", 4, 8 << 20), 0);
        assert_int_equal(hv_fake_add_host("h3", 4, 8 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "busy", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "idle", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h2", "half", 1 << 20), 0);
        hv_fake_set_cpu_rate("busy", 1.0);
        hv_fake_set_cpu_rate("half", 0.5);
        return 0;
}

static double demand(Ctx *c, const char *host, const char *vm) {
        const HostReport *h = collector_get(c->collector, host);
        assert_non_null(h);
        for (size_t i = 0; i < h->n_vms; i++)
                if (streq(h->vms[i].name, vm))
                        return h->vms[i].cpu_demand;
        fail_msg("no VM '%s' on '%s'", vm, host);
        return -1;
}

static void test_collect(void **state) {
        sd_event *e;
        Poller *p;
        Ctx c = {.main_thread = pthread_self()};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(collector_new(1.0, 0, 10 * SEC, &c.collector), 0);
        assert_int_equal(poller_new(e, &hv_fake_ops, 50 * MSEC, on_sample, &c, &p), 0);
        assert_int_equal(poller_add_host(p, "h1", "fake://h1"), 0);
        assert_int_equal(poller_add_host(p, "h2", "fake://h2"), 0);
        assert_int_equal(poller_add_host(p, "h2", "fake://h2"), -EEXIST);
        assert_true(poller_has_host(p, "h1"));
        assert_false(poller_has_host(p, "h3"));

        run_for(e, 400 * MSEC);
        /* At once, then every 50 ms: about 9 in 400 ms. */
        assert_true(c.samples[0] >= 4 && c.samples[0] <= 12);
        assert_true(c.samples[1] >= 4 && c.samples[1] <= 12);
        assert_int_equal(c.errors[0] + c.errors[1], 0);
        /* One connection per host, kept. */
        assert_int_equal(hv_fake_open_calls("h1"), 1);
        assert_int_equal(hv_fake_open_calls("h2"), 1);

        /* cpu.time deltas over call-start timestamps give the fake's rates. */
        assert_float_equal(demand(&c, "h1", "busy"), 1.0, 0.05);
        assert_float_equal(demand(&c, "h1", "idle"), 0.0, 1e-9);
        assert_float_equal(demand(&c, "h2", "half"), 0.5, 0.05);
        assert_false(collector_host_is_stale(c.collector, "h1", hv_now_usec()));

        /* A slower interval applies at once; a trigger collects now. */
        poller_set_interval(p, 10 * SEC);
        run_for(e, 60 * MSEC); /* what was in flight */
        unsigned before = c.samples[0];
        run_for(e, 300 * MSEC);
        assert_int_equal(c.samples[0], before);
        poller_trigger(p, "h1");
        run_for(e, 100 * MSEC);
        assert_int_equal(c.samples[0], before + 1);
        poller_set_interval(p, 20 * MSEC);
        run_for(e, 200 * MSEC);
        assert_true(c.samples[0] >= before + 5);

        /* Removed: no callback for it after poller_remove_host() returns. */
        assert_int_equal(poller_remove_host(p, "h2"), 0);
        assert_int_equal(poller_remove_host(p, "h2"), -ENOENT);
        unsigned h2 = c.samples[1];
        run_for(e, 200 * MSEC);
        assert_int_equal(c.samples[1], h2);
        assert_false(poller_has_host(p, "h2"));
        /* And back. */
        assert_int_equal(poller_add_host(p, "h2", "fake://h2"), 0);
        run_for(e, 100 * MSEC);
        assert_true(c.samples[1] > h2);

        poller_free(p);
        collector_free(c.collector);
        sd_event_unref(e);
        HvFakeCounters k;
        hv_fake_counters(&k);
        assert_int_equal(k.open_conns, 0);
}

static void test_backoff(void **state) {
        sd_event *e;
        Poller *p;
        Ctx c = {.main_thread = pthread_self()};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(collector_new(1.0, 0, 200 * MSEC, &c.collector), 0);
        assert_int_equal(poller_new(e, &hv_fake_ops, 10 * MSEC, on_sample, &c, &p), 0);
        poller_set_backoff(p, 50 * MSEC, 200 * MSEC);
        hv_fake_set_host_down("h3", true);
        assert_int_equal(poller_add_host(p, "h3", "fake://h3"), 0);

        /* Down from the start: attempts at 0, 50, 150, 350, 550 ms (backoff 50 → 100 → 200, capped),
         * not every 10 ms. */
        run_for(e, 700 * MSEC);
        unsigned attempts = hv_fake_open_calls("h3");
        assert_true(attempts >= 3 && attempts <= 7);
        assert_int_equal(c.errors[2], attempts);
        assert_int_equal(c.samples[2], 0);
        assert_non_null(strstr(c.last_error, "cannot connect to 'fake://h3'"));
        assert_true(collector_host_is_stale(c.collector, "h3", hv_now_usec()));
        assert_non_null(collector_get(c.collector, "h3")->last_error);

        /* Back: collected again within the capped backoff. */
        hv_fake_set_host_down("h3", false);
        run_for(e, 350 * MSEC);
        assert_true(c.samples[2] > 0);
        assert_null(collector_get(c.collector, "h3")->last_error);
        assert_false(collector_host_is_stale(c.collector, "h3", hv_now_usec()));

        /* A live connection dies (libvirtd killed): an error, then reconnects with backoff. */
        hv_fake_set_host_down("h3", true);
        run_for(e, 100 * MSEC);
        unsigned errors = c.errors[2];
        assert_true(errors > 0);
        hv_fake_set_host_down("h3", false);
        unsigned samples = c.samples[2];
        run_for(e, 400 * MSEC);
        assert_true(c.samples[2] > samples);

        poller_free(p);
        collector_free(c.collector);
        sd_event_unref(e);
}

static void test_free_while_backing_off(void **state) {
        sd_event *e;
        Poller *p;
        Ctx c = {.main_thread = pthread_self()};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(collector_new(1.0, 0, SEC, &c.collector), 0);
        assert_int_equal(poller_new(e, &hv_fake_ops, SEC, on_sample, &c, &p), 0);
        hv_fake_set_host_down("h1", true);
        assert_int_equal(poller_add_host(p, "h1", "fake://h1"), 0); /* then waits 1 s … 60 s */
        assert_int_equal(poller_add_host(p, "h2", "fake://h2"), 0); /* waits its 1 s interval */
        run_for(e, 50 * MSEC);
        uint64_t t0 = hv_now_usec();
        poller_free(p); /* wakes and joins both at once */
        assert_true(hv_now_usec() - t0 < 500 * MSEC);
        assert_null(poller_free(NULL));
        assert_int_equal(poller_new(e, &hv_fake_ops, 0, on_sample, &c, &p), -EINVAL);
        collector_free(c.collector);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_collect, setup),
                cmocka_unit_test_setup(test_backoff, setup),
                cmocka_unit_test_setup(test_free_while_backing_off, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
