/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The executor over the fake hypervisor: limits (from the fake's own concurrency counters),
 * stall handling (downtime steps → auto-converge retry → abort), timeout, precheck failure,
 * libvirt failure, a lost VM, success verification, cancel, shutdown without aborting. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "executor.h"
#include "hv-fake.h"
#include "macro.h"

#define MAX_RESULTS 64

typedef struct Result {
        char vm[32];
        MigrationResult result;
        char message[256];
        uint64_t downtime_ms, duration_ms;
        unsigned stall_steps;
        MigrationEncryption encryption;
        char encryption_note[256];
} Result;

static Result results[MAX_RESULTS];
static unsigned n_results;
static unsigned n_events[_MIGRATION_EVENT_MAX];

static void on_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        assert_true(n_results < MAX_RESULTS);
        Result *r = &results[n_results++];
        *r = (Result){
                .result = o->result,
                .downtime_ms = o->downtime_ms,
                .duration_ms = o->duration_ms,
                .stall_steps = o->stall_steps,
                .encryption = o->encryption};
        (void) snprintf(r->vm, sizeof(r->vm), "%s", req->vm);
        (void) snprintf(r->encryption_note, sizeof(r->encryption_note), "%s", o->encryption_note ?: "");
        (void) snprintf(r->message, sizeof(r->message), "%s", o->message ? o->message : "");
        if (o->result == MIGRATION_OK)
                assert_null(o->message);
}

static void on_progress(
        const MigrationRequest *req, MigrationEvent ev, uint64_t value, const char *detail, void *userdata) {
        assert_true((unsigned) ev < _MIGRATION_EVENT_MAX);
        assert_non_null(migration_event_to_string(ev));
        n_events[ev]++;
}

static const Result *result_of(const char *vm) {
        for (unsigned i = 0; i < n_results; i++)
                if (streq(results[i].vm, vm))
                        return &results[i];
        return NULL;
}

static int setup(void **state) {
        hv_fake_reset();
        n_results = 0;
        memset(n_events, 0, sizeof(n_events));
        for (int i = 1; i <= 4; i++) {
                char h[8];
                (void) snprintf(h, sizeof(h), "h%d", i);
                assert_int_equal(hv_fake_add_host(h, 8, 32 << 20), 0);
        }
        return 0;
}

/* Runs the loop until n results are in (bounded). */
static void run_until_results(sd_event *e, Executor *x, unsigned n, uint64_t max_usec) {
        uint64_t deadline = hv_now_usec() + max_usec;

        while (n_results < n) {
                assert_true(hv_now_usec() < deadline);
                assert_true(sd_event_run(e, 20000) >= 0);
        }
}

static void submit(Executor *x, const char *vm, const char *src, const char *dst, uint64_t mib) {
        char su[32], tu[32], tm[32];
        (void) snprintf(su, sizeof(su), "fake://%s", src);
        (void) snprintf(tu, sizeof(tu), "fake://%s", dst);
        (void) snprintf(tm, sizeof(tm), "fake-mig://%s", dst);
        MigrationRequest req = {
                .vm = vm,
                .source = src,
                .target = dst,
                .source_uri = su,
                .target_uri = tu,
                .target_migration_uri = tm,
                .memory_mib = mib,
                .reason = "balance",
        };
        assert_int_equal(executor_submit(x, &req, on_done, NULL), 0);
}

static void make(sd_event **ret_e, Policy **ret_p, Executor **ret_x) {
        assert_int_equal(sd_event_new(ret_e), 0);
        assert_int_equal(policy_new(ret_p), 0);
        assert_int_equal(executor_new(*ret_e, &hv_fake_ops, *ret_p, ret_x), 0);
        executor_set_timing(*ret_x, 10000, 0, 0);
        executor_set_progress(*ret_x, on_progress, NULL);
}

static void done(sd_event *e, Policy *p, Executor *x) {
        HvFakeCounters c;

        executor_free(x);
        policy_free(p);
        sd_event_unref(e);
        hv_fake_counters(&c);
        assert_int_equal(c.open_conns, 0);
        assert_int_equal(c.active_migrations, 0);
}

static void test_limits(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        char vm[16];

        make(&e, &p, &x);
        /* 1 out and 1 in per host, 2 in the cluster. */
        p->limits.migrations_out_per_host = 1;
        p->limits.migrations_in_per_host = 1;
        p->limits.migrations_per_cluster = 2;
        assert_int_equal(executor_set_policy(x, p), 0);

        for (int i = 0; i < 6; i++) {
                (void) snprintf(vm, sizeof(vm), "a%d", i);
                assert_int_equal(hv_fake_add_domain("h1", vm, 1 << 20), 0);
                assert_int_equal(hv_fake_script_migration(vm, &(HvFakeMigration){.polls = 4}), 0);
                submit(x, vm, "h1", i % 2 ? "h2" : "h3", 1024);
        }
        for (int i = 0; i < 4; i++) {
                (void) snprintf(vm, sizeof(vm), "b%d", i);
                assert_int_equal(hv_fake_add_domain("h2", vm, 1 << 20), 0);
                submit(x, vm, "h2", i % 2 ? "h4" : "h1", 1024);
        }
        assert_int_equal(executor_n_running(x) + executor_n_queued(x), 10);
        assert_true(executor_n_running(x) <= 2);
        assert_true(executor_vm_busy(x, "a0"));
        assert_false(executor_vm_busy(x, "nope"));
        /* The same VM twice: busy. */
        MigrationRequest dup = {
                .vm = "a5",
                .source = "h1",
                .target = "h4",
                .source_uri = "fake://h1",
                .target_uri = "fake://h4"};
        assert_int_equal(executor_submit(x, &dup, on_done, NULL), -EBUSY);

        run_until_results(e, x, 10, 60 * UINT64_C(1000000));
        hv_fake_counters(&c);
        assert_int_equal(c.migrate_calls, 10);
        assert_int_equal(c.max_out_per_host, 1);
        assert_int_equal(c.max_in_per_host, 1);
        assert_int_equal(c.max_total, 2); /* reached, never passed */
        for (unsigned i = 0; i < n_results; i++) {
                const char *where;
                assert_int_equal(results[i].result, MIGRATION_OK);
                assert_int_equal(results[i].downtime_ms, 42);
                assert_int_equal(hv_fake_n_running(results[i].vm, &where), 1);
        }
        const char *where;
        hv_fake_n_running("a1", &where);
        assert_string_equal(where, "h2");
        hv_fake_n_running("b0", &where);
        assert_string_equal(where, "h1");
        assert_int_equal(n_events[MIGRATION_EVENT_STARTED], 10);
        assert_int_equal(executor_n_running(x), 0);
        assert_int_equal(executor_n_queued(x), 0);

        /* Wider limits, read at dispatch: 2 out / 2 in per host, 3 in the cluster. */
        hv_fake_reset();
        n_results = 0;
        for (int i = 1; i <= 4; i++) {
                char h[8];
                (void) snprintf(h, sizeof(h), "h%d", i);
                assert_int_equal(hv_fake_add_host(h, 8, 32 << 20), 0);
        }
        p->limits.migrations_out_per_host = 2;
        p->limits.migrations_in_per_host = 2;
        p->limits.migrations_per_cluster = 3;
        assert_int_equal(executor_set_policy(x, p), 0);
        for (int i = 0; i < 8; i++) {
                (void) snprintf(vm, sizeof(vm), "c%d", i);
                assert_int_equal(hv_fake_add_domain(i < 4 ? "h1" : "h2", vm, 1 << 20), 0);
                assert_int_equal(hv_fake_script_migration(vm, &(HvFakeMigration){.polls = 5}), 0);
                submit(x, vm, i < 4 ? "h1" : "h2", i % 2 ? "h3" : "h4", 1024);
        }
        run_until_results(e, x, 8, 60 * UINT64_C(1000000));
        hv_fake_counters(&c);
        assert_int_equal(c.max_out_per_host, 2);
        assert_true(c.max_in_per_host <= 2);
        assert_int_equal(c.max_total, 3);
        done(e, p, x);
}

static void test_stall_auto_converge_abort(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        const char *where;

        make(&e, &p, &x);
        assert_true(p->migration.auto_converge); /* the default */
        assert_int_equal(p->migration.n_max_downtime_ms, 3);
        assert_int_equal(hv_fake_add_domain("h1", "s", 1 << 20), 0);
        assert_int_equal(hv_fake_script_migration("s", &(HvFakeMigration){.stall = true}), 0);
        submit(x, "s", "h1", "h2", 1024);
        run_until_results(e, x, 1, 30 * UINT64_C(1000000));

        hv_fake_counters(&c);
        assert_int_equal(result_of("s")->result, MIGRATION_ABORTED);
        assert_non_null(strstr(result_of("s")->message, "stalled"));
        assert_non_null(strstr(result_of("s")->message, "3000 ms"));
        /* 300 → 1000 → 3000, abort, retry with auto-converge at 3000, abort. */
        assert_int_equal(c.migrate_calls, 2);
        assert_int_equal(c.auto_converge_migrations, 1);
        assert_int_equal(c.abort_calls, 2);
        assert_int_equal(c.n_downtimes, 4);
        assert_int_equal(c.downtimes_ms[0], 300);
        assert_int_equal(c.downtimes_ms[1], 1000);
        assert_int_equal(c.downtimes_ms[2], 3000);
        assert_int_equal(c.downtimes_ms[3], 3000);
        assert_int_equal(result_of("s")->stall_steps, 3); /* two raises and the retry */
        assert_int_equal(n_events[MIGRATION_EVENT_DOWNTIME_RAISED], 2);
        assert_int_equal(n_events[MIGRATION_EVENT_AUTO_CONVERGE], 1);
        assert_int_equal(n_events[MIGRATION_EVENT_ABORTING], 2);
        assert_int_equal(n_events[MIGRATION_EVENT_STARTED], 2);
        assert_int_equal(hv_fake_n_running("s", &where), 1);
        assert_string_equal(where, "h1"); /* still on the source */
        done(e, p, x);
}

static void test_stall_resolved_by_auto_converge(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        const char *where;

        make(&e, &p, &x);
        assert_int_equal(hv_fake_add_domain("h1", "s", 1 << 20), 0);
        assert_int_equal(
                hv_fake_script_migration("s", &(HvFakeMigration){.stall_unless_auto_converge = true}), 0);
        submit(x, "s", "h1", "h2", 1024);
        run_until_results(e, x, 1, 30 * UINT64_C(1000000));
        hv_fake_counters(&c);
        assert_int_equal(result_of("s")->result, MIGRATION_OK);
        assert_int_equal(c.migrate_calls, 2);
        assert_int_equal(c.auto_converge_migrations, 1);
        assert_int_equal(c.abort_calls, 1);
        assert_int_equal(result_of("s")->stall_steps, 3);
        assert_int_equal(hv_fake_n_running("s", &where), 1);
        assert_string_equal(where, "h2");
        done(e, p, x);
}

static void test_stall_no_auto_converge(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;

        make(&e, &p, &x);
        p->migration.auto_converge = false;
        uint64_t steps[] = {500};
        free(p->migration.max_downtime_ms);
        p->migration.max_downtime_ms = malloc(sizeof(steps));
        memcpy(p->migration.max_downtime_ms, steps, sizeof(steps));
        p->migration.n_max_downtime_ms = 1;
        assert_int_equal(executor_set_policy(x, p), 0);
        assert_int_equal(hv_fake_add_domain("h1", "s", 1 << 20), 0);
        assert_int_equal(hv_fake_script_migration("s", &(HvFakeMigration){.stall = true}), 0);
        submit(x, "s", "h1", "h2", 1024);
        run_until_results(e, x, 1, 30 * UINT64_C(1000000));
        hv_fake_counters(&c);
        assert_int_equal(result_of("s")->result, MIGRATION_ABORTED);
        assert_int_equal(c.migrate_calls, 1);
        assert_int_equal(c.auto_converge_migrations, 0);
        assert_int_equal(c.abort_calls, 1);
        assert_int_equal(c.n_downtimes, 1);
        assert_int_equal(c.downtimes_ms[0], 500);
        assert_int_equal(result_of("s")->stall_steps, 0);
        done(e, p, x);
}

static void test_timeout(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        const char *where;

        make(&e, &p, &x);
        /* 1 s per GiB, 512 MiB, floor 0.2 s: 0.5 s. */
        p->migration.timeout_s_per_gib = 1;
        assert_int_equal(executor_set_policy(x, p), 0);
        executor_set_timing(x, 0, 200000, 0);
        assert_int_equal(hv_fake_add_domain("h1", "t", 512 << 10), 0);
        assert_int_equal(hv_fake_script_migration("t", &(HvFakeMigration){.hang = true}), 0);
        uint64_t t0 = hv_now_usec();
        submit(x, "t", "h1", "h2", 512);
        run_until_results(e, x, 1, 30 * UINT64_C(1000000));
        uint64_t took = hv_now_usec() - t0;
        hv_fake_counters(&c);
        assert_int_equal(result_of("t")->result, MIGRATION_ABORTED);
        assert_non_null(strstr(result_of("t")->message, "timed out"));
        assert_int_equal(c.abort_calls, 1);
        assert_int_equal(c.migrate_calls, 1);
        assert_true(took >= 500000);
        assert_true(took < 5000000);
        assert_int_equal(hv_fake_n_running("t", &where), 1);
        assert_string_equal(where, "h1");
        done(e, p, x);
}

static void test_precheck_failure(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;

        make(&e, &p, &x);
        assert_int_equal(hv_fake_add_domain("h1", "v", 1 << 20), 0);
        assert_int_equal(
                hv_fake_script_migration(
                        "v",
                        &(HvFakeMigration){
                                .precheck_error = "network 'prod' does not exist on the destination"}),
                0);
        submit(x, "v", "h1", "h2", 1024);
        run_until_results(e, x, 1, 10 * UINT64_C(1000000));
        hv_fake_counters(&c);
        assert_int_equal(result_of("v")->result, MIGRATION_SKIPPED);
        assert_string_equal(
                result_of("v")->message,
                "precheck on 'h2' failed: network 'prod' does not exist on the destination");
        assert_int_equal(c.precheck_calls, 1);
        assert_int_equal(c.migrate_calls, 0);

        /* An unreachable target: skipped too, nothing started. */
        hv_fake_set_host_down("h3", true);
        submit(x, "v", "h1", "h3", 1024);
        run_until_results(e, x, 2, 10 * UINT64_C(1000000));
        assert_int_equal(results[1].result, MIGRATION_SKIPPED);
        assert_non_null(strstr(results[1].message, "cannot connect to target 'h3'"));
        hv_fake_counters(&c);
        assert_int_equal(c.migrate_calls, 0);
        done(e, p, x);
}

static void test_failure_and_lost(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        const char *where;

        make(&e, &p, &x);
        assert_int_equal(hv_fake_add_domain("h1", "f", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h2", "l", 1 << 20), 0);
        assert_int_equal(
                hv_fake_script_migration(
                        "f",
                        &(HvFakeMigration){
                                .fail_message = "unable to connect to server at 'h3:49152'",
                                .fail_after_polls = 2}),
                0);
        assert_int_equal(hv_fake_script_migration("l", &(HvFakeMigration){.lose = true}), 0);
        submit(x, "f", "h1", "h3", 1024);
        submit(x, "l", "h2", "h4", 1024);
        run_until_results(e, x, 2, 10 * UINT64_C(1000000));
        assert_int_equal(result_of("f")->result, MIGRATION_FAILED);
        assert_string_equal(result_of("f")->message, "unable to connect to server at 'h3:49152'");
        assert_int_equal(hv_fake_n_running("f", &where), 1);
        assert_string_equal(where, "h1");
        assert_int_equal(result_of("l")->result, MIGRATION_LOST);
        assert_non_null(strstr(result_of("l")->message, "running on the target: no"));
        done(e, p, x);
}

static void test_cancel_queued(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;

        make(&e, &p, &x);
        for (int i = 0; i < 3; i++) {
                char vm[8];
                (void) snprintf(vm, sizeof(vm), "q%d", i);
                assert_int_equal(hv_fake_add_domain("h1", vm, 1 << 20), 0);
                submit(x, vm, "h1", "h2", 1024);
        }
        assert_int_equal(executor_n_running(x), 1);
        assert_int_equal(executor_n_queued(x), 2);
        assert_int_equal(executor_cancel_queued(x, "q2"), 1);
        assert_int_equal(n_results, 1);
        assert_int_equal(result_of("q2")->result, MIGRATION_SKIPPED);
        assert_int_equal(executor_cancel_queued(x, NULL), 1);
        assert_int_equal(executor_cancel_queued(x, "q0"), 0); /* running: not cancelled */
        run_until_results(e, x, 3, 10 * UINT64_C(1000000));
        assert_int_equal(result_of("q0")->result, MIGRATION_OK);
        done(e, p, x);
}

/* Queued migrations to one target are cancelled (that host left `up`); others stay. */
static void test_cancel_queued_to(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;

        make(&e, &p, &x);
        assert_int_equal(hv_fake_add_domain("h1", "t0", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "t1", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "t2", 1 << 20), 0);
        submit(x, "t0", "h1", "h2", 1024); /* runs */
        submit(x, "t1", "h1", "h2", 1024); /* queued, to h2 */
        submit(x, "t2", "h1", "h3", 1024); /* queued, to h3 */
        assert_int_equal(executor_n_running(x), 1);
        assert_int_equal(executor_n_queued(x), 2);
        assert_int_equal(executor_cancel_queued_to(x, "h4"), 0);
        assert_int_equal(executor_cancel_queued_to(x, NULL), 0);
        assert_int_equal(executor_cancel_queued_to(x, "h2"), 1); /* t1; t0 runs on */
        assert_int_equal(n_results, 1);
        assert_int_equal(result_of("t1")->result, MIGRATION_SKIPPED);
        assert_non_null(strstr(result_of("t1")->message, "no longer up"));
        assert_int_equal(executor_n_queued(x), 1);
        run_until_results(e, x, 3, 10 * UINT64_C(1000000));
        assert_int_equal(result_of("t0")->result, MIGRATION_OK);
        assert_int_equal(result_of("t2")->result, MIGRATION_OK);
        done(e, p, x);
}

/* Migrations this executor did not start (adopted) hold their source's outgoing slot. */
static void test_foreign(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        char *h1[] = {(char *) "h1", NULL};

        make(&e, &p, &x);
        assert_int_equal(hv_fake_add_domain("h1", "a", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h3", "b", 1 << 20), 0);
        assert_int_equal(executor_set_foreign(x, h1), 0);
        submit(x, "a", "h1", "h2", 1024); /* h1's one outgoing slot is taken */
        submit(x, "b", "h3", "h2", 1024); /* another source: starts */
        assert_int_equal(executor_n_running(x), 1);
        assert_int_equal(executor_n_queued(x), 1);
        assert_string_equal(executor_vm_target(x, "a"), "h2");
        run_until_results(e, x, 1, 10 * UINT64_C(1000000));
        assert_int_equal(result_of("b")->result, MIGRATION_OK);
        assert_int_equal(executor_n_queued(x), 1); /* still waiting for the foreign one */
        assert_int_equal(executor_set_foreign(x, NULL), 0);
        assert_int_equal(executor_n_queued(x), 0);
        run_until_results(e, x, 2, 10 * UINT64_C(1000000));
        assert_int_equal(result_of("a")->result, MIGRATION_OK);
        done(e, p, x);
}

static void test_shutdown_does_not_abort(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        const char *where;

        make(&e, &p, &x);
        /* A long grace: a worker blocked in migrate is detached at once anyway. */
        executor_set_timing(x, 0, 0, 10 * UINT64_C(1000000));
        assert_int_equal(hv_fake_add_domain("h1", "long", 1 << 20), 0);
        assert_int_equal(hv_fake_script_migration("long", &(HvFakeMigration){.hang = true}), 0);
        submit(x, "long", "h1", "h2", 1024);
        /* Until it is in migrate. */
        for (int i = 0; i < 500; i++) {
                hv_fake_counters(&c);
                if (c.active_migrations == 1)
                        break;
                assert_true(sd_event_run(e, 10000) >= 0);
        }
        assert_int_equal(c.active_migrations, 1);
        uint64_t t0 = hv_now_usec();
        executor_free(x);
        assert_true(hv_now_usec() - t0 < 1000000);
        hv_fake_counters(&c);
        assert_int_equal(c.abort_calls, 0);
        assert_int_equal(c.active_migrations, 1); /* still going, in "libvirt" */
        assert_int_equal(n_results, 0);

        /* The migration ends on its own; the detached worker cleans up after itself. */
        hv_fake_release_all();
        for (int i = 0; i < 500; i++) {
                hv_fake_counters(&c);
                if (c.active_migrations == 0 && c.open_conns == 0)
                        break;
                usleep(10000);
        }
        assert_int_equal(c.open_conns, 0);
        usleep(50000);
        assert_int_equal(hv_fake_n_running("long", &where), 1);
        assert_string_equal(where, "h2");
        assert_int_equal(n_results, 0);
        policy_free(p);
        sd_event_unref(e);
}

static void test_strings(void **state) {
        assert_string_equal(migration_result_to_string(MIGRATION_OK), "ok");
        assert_string_equal(migration_result_to_string(MIGRATION_LOST), "lost");
        assert_null(migration_result_to_string(_MIGRATION_RESULT_MAX));
        assert_string_equal(migration_event_to_string(MIGRATION_EVENT_AUTO_CONVERGE), "auto-converge");
        assert_null(executor_free(NULL));
}

static void submit_copy(Executor *x, const char *vm, const char *src, const char *dst, bool remove_source) {
        char su[32], tu[32], tm[32];
        (void) snprintf(su, sizeof(su), "fake://%s", src);
        (void) snprintf(tu, sizeof(tu), "fake://%s", dst);
        (void) snprintf(tm, sizeof(tm), "fake-mig://%s", dst);
        MigrationRequest req = {
                .vm = vm,
                .source = src,
                .target = dst,
                .source_uri = su,
                .target_uri = tu,
                .target_migration_uri = tm,
                .memory_mib = 128,
                .reason = "manual",
                .copy_storage = true,
                .remove_source_storage = remove_source,
                .disk_mib = 2,
        };
        assert_int_equal(executor_submit(x, &req, on_done, NULL), 0);
}

/* Disk copy: the volumes prepare_storage created go with a successful migration (and the
 * source's are removed when asked), and are deleted again when it fails or is skipped. */
static void test_copy_storage(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;

        assert_int_equal(hv_fake_add_domain("h1", "ok1", 128 << 10), 0);
        assert_int_equal(hv_fake_add_domain("h1", "ok2", 128 << 10), 0);
        assert_int_equal(hv_fake_add_domain("h1", "bad", 128 << 10), 0);
        assert_int_equal(hv_fake_add_domain("h1", "stale", 128 << 10), 0);
        assert_int_equal(
                hv_fake_script_migration("ok1", &(HvFakeMigration){.polls = 2, .local_disks = 2}), 0);
        assert_int_equal(
                hv_fake_script_migration("ok2", &(HvFakeMigration){.polls = 2, .local_disks = 1}), 0);
        assert_int_equal(
                hv_fake_script_migration(
                        "bad",
                        &(HvFakeMigration){
                                .local_disks = 1, .fail_message = "NBD broke", .fail_after_polls = 1}),
                0);
        assert_int_equal(
                hv_fake_script_migration(
                        "stale", &(HvFakeMigration){.prepare_error = "another volume at the path"}),
                0);
        make(&e, &p, &x);

        submit_copy(x, "ok1", "h1", "h2", true);
        run_until_results(e, x, 1, 10000000);
        hv_fake_counters(&c);
        assert_int_equal(result_of("ok1")->result, MIGRATION_OK);
        assert_int_equal(c.copy_disk_migrations, 1);
        assert_int_equal(c.last_copy_disks, 2);
        assert_int_equal(c.volumes_deleted[0], 2); /* the source's, asked for */
        assert_int_equal(c.volumes_deleted[1], 0);

        submit_copy(x, "ok2", "h1", "h2", false);
        run_until_results(e, x, 2, 10000000);
        hv_fake_counters(&c);
        assert_int_equal(result_of("ok2")->result, MIGRATION_OK);
        assert_int_equal(c.volumes_deleted[0], 2); /* kept */
        assert_int_equal(c.volumes_deleted[1], 0);

        submit_copy(x, "bad", "h1", "h3", false);
        run_until_results(e, x, 3, 10000000);
        hv_fake_counters(&c);
        assert_int_equal(result_of("bad")->result, MIGRATION_FAILED);
        assert_int_equal(c.volumes_deleted[2], 1); /* the target's copy, rolled back */
        assert_int_equal(c.volumes_deleted[0], 2);

        submit_copy(x, "stale", "h1", "h2", false);
        run_until_results(e, x, 4, 10000000);
        hv_fake_counters(&c);
        assert_int_equal(result_of("stale")->result, MIGRATION_SKIPPED);
        assert_non_null(strstr(result_of("stale")->message, "another volume at the path"));
        assert_int_equal(c.migrate_calls, 3);
        assert_int_equal(c.prepare_calls, 4);
        assert_int_equal(hv_fake_n_running("stale", NULL), 1);
        done(e, p, x);
}

/* migration.tls: auto uses TLS between hosts that have it and falls back (saying why) to one
 * without; true refuses before anything is prepared; false does not probe. */
static void test_tls(void **state) {
        sd_event *e;
        Policy *p;
        Executor *x;
        HvFakeCounters c;
        MigrationTlsHost *h = NULL;
        size_t n = 0;

        make(&e, &p, &x);
        hv_fake_set_tls("h1", 1);
        hv_fake_set_tls("h2", 1);
        hv_fake_set_tls("h4", -1);
        assert_int_equal(hv_fake_add_domain("h1", "a", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "b", 1 << 20), 0);
        assert_int_equal(hv_fake_add_domain("h1", "c", 1 << 20), 0);
        submit(x, "a", "h1", "h2", 1024);
        run_until_results(e, x, 1, 10 * UINT64_C(1000000));
        assert_int_equal(results[0].result, MIGRATION_OK);
        assert_int_equal(results[0].encryption, MIGRATION_ENCRYPTION_TLS);
        assert_string_equal(results[0].encryption_note, "");
        hv_fake_counters(&c);
        assert_int_equal(c.tls_migrations, 1);
        assert_int_equal(c.tls_probe_calls, 2);

        submit(x, "b", "h1", "h3", 1024);
        run_until_results(e, x, 2, 10 * UINT64_C(1000000));
        assert_int_equal(results[1].result, MIGRATION_OK);
        assert_int_equal(results[1].encryption, MIGRATION_ENCRYPTION_PLAIN_FALLBACK);
        assert_string_equal(
                results[1].encryption_note,
                "'h3' has no migration TLS: missing ca-cert.pem, server-cert.pem in /etc/pki/qemu");
        hv_fake_counters(&c);
        assert_int_equal(c.tls_migrations, 1);
        assert_int_equal(c.tls_probe_calls, 3); /* h1 from the cache */

        /* A probe that fails: plain, and probed again next time (not cached). */
        submit(x, "c", "h1", "h4", 1024);
        run_until_results(e, x, 3, 10 * UINT64_C(1000000));
        assert_int_equal(results[2].encryption, MIGRATION_ENCRYPTION_PLAIN_FALLBACK);
        assert_non_null(strstr(results[2].encryption_note, "cannot check migration TLS on 'h4'"));

        /* What status shows. */
        assert_int_equal(executor_tls_hosts(x, &h, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(h[0].host, "h1");
        assert_int_equal(h[0].state, MIGRATION_TLS_STATE_YES);
        assert_int_equal(h[2].state, MIGRATION_TLS_STATE_NO);
        assert_non_null(h[2].why);
        assert_int_equal(h[3].state, MIGRATION_TLS_STATE_UNKNOWN);
        migration_tls_hosts_free(h, n);

        /* Another directory (drsd.yaml's migration_tls_dir): what was found is forgotten. */
        assert_int_equal(executor_set_tls_dir(x, "/srv/pki/qemu"), 0);
        assert_int_equal(executor_tls_hosts(x, &h, &n), 0);
        assert_int_equal(n, 0);
        migration_tls_hosts_free(h, n);
        hv_fake_counters(&c);
        unsigned probes = c.tls_probe_calls;
        submit(x, "b", "h3", "h1", 1024);
        run_until_results(e, x, 4, 10 * UINT64_C(1000000));
        assert_int_equal(results[3].result, MIGRATION_OK);
        assert_string_equal(
                results[3].encryption_note,
                "'h3' has no migration TLS: missing ca-cert.pem, server-cert.pem in /srv/pki/qemu");
        hv_fake_counters(&c);
        assert_int_equal(c.tls_probe_calls, probes + 2);
        assert_int_equal(executor_set_tls_dir(x, NULL), 0);
        submit(x, "b", "h1", "h3", 1024);
        run_until_results(e, x, 5, 10 * UINT64_C(1000000));
        assert_int_equal(results[4].result, MIGRATION_OK);
        n_results = 3; /* the checks below count from here */

        /* true: refused by the precheck, nothing prepared or migrated. */
        p->migration.tls = MIGRATION_TLS_TRUE;
        assert_int_equal(executor_set_policy(x, p), 0);
        hv_fake_counters(&c);
        unsigned migrate_before = c.migrate_calls, precheck_before = c.precheck_calls;
        submit(x, "b", "h3", "h1", 1024);
        run_until_results(e, x, 4, 10 * UINT64_C(1000000));
        assert_int_equal(results[3].result, MIGRATION_SKIPPED);
        assert_string_equal(
                results[3].message,
                "precheck failed: migration.tls is true but 'h3' has no migration TLS: missing ca-cert.pem, "
                "server-cert.pem in /etc/pki/qemu");
        assert_int_equal(results[3].encryption, MIGRATION_ENCRYPTION_UNKNOWN);
        hv_fake_counters(&c);
        assert_int_equal(c.migrate_calls, migrate_before);
        assert_int_equal(c.precheck_calls, precheck_before);
        assert_int_equal(hv_fake_n_running("b", NULL), 1);

        /* false: plain, no probe. */
        p->migration.tls = MIGRATION_TLS_FALSE;
        assert_int_equal(executor_set_policy(x, p), 0);
        unsigned probes_before = c.tls_probe_calls;
        submit(x, "a", "h2", "h1", 1024);
        run_until_results(e, x, 5, 10 * UINT64_C(1000000));
        assert_int_equal(results[4].result, MIGRATION_OK);
        assert_int_equal(results[4].encryption, MIGRATION_ENCRYPTION_PLAIN);
        hv_fake_counters(&c);
        assert_int_equal(c.tls_probe_calls, probes_before);
        assert_int_equal(c.tls_migrations, 1);
        done(e, p, x);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_copy_storage, setup),
                cmocka_unit_test_setup(test_limits, setup),
                cmocka_unit_test_setup(test_stall_auto_converge_abort, setup),
                cmocka_unit_test_setup(test_stall_resolved_by_auto_converge, setup),
                cmocka_unit_test_setup(test_stall_no_auto_converge, setup),
                cmocka_unit_test_setup(test_timeout, setup),
                cmocka_unit_test_setup(test_precheck_failure, setup),
                cmocka_unit_test_setup(test_failure_and_lost, setup),
                cmocka_unit_test_setup(test_cancel_queued, setup),
                cmocka_unit_test_setup(test_cancel_queued_to, setup),
                cmocka_unit_test_setup(test_foreign, setup),
                cmocka_unit_test_setup(test_shutdown_does_not_abort, setup),
                cmocka_unit_test_setup(test_tls, setup),
                cmocka_unit_test(test_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
