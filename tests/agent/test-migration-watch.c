/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The stall ladder as a pure state machine (agent/leader/migration-watch.c): first downtime, raises,
 * the auto-converge retry, the final abort, the dirty-rate stall and its grace, the timeout. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "migration-watch.h"

static const uint64_t steps[] = {300, 1000, 3000};

static HvJobInfo running(uint64_t remaining) {
        return (HvJobInfo){
                .type = HV_JOB_RUNNING,
                .memory_total_bytes = UINT64_C(1) << 30,
                .memory_remaining_bytes = remaining,
                .memory_page_size = 4096,
                .memory_bps = 100 * 4096,
                .memory_iteration = 1,
        };
}

static MigrationWatchAction poll(MigrationWatch *w, const HvJobInfo *ji, uint64_t *set, uint64_t *value) {
        return migration_watch_poll(w, ji, set, value);
}

static void test_setup_and_first_downtime(void **state) {
        MigrationWatch w;
        uint64_t set, value;
        HvJobInfo ji = {.type = HV_JOB_NONE};

        migration_watch_init(&w, steps, 3, 0, true, 0, 60000000);
        assert_int_equal(migration_watch_poll_interval(&w, 1000000), MIGRATION_WATCH_FAST_POLL_USEC);
        assert_int_equal(poll(&w, NULL, &set, &value), MIGRATION_WATCH_CONTINUE);
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        ji = (HvJobInfo){.type = HV_JOB_RUNNING}; /* setting up: no RAM numbers */
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        assert_int_equal(set, 0);
        assert_int_equal(migration_watch_poll_interval(&w, 1000000), 1000000);
        ji = running(1000);
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        assert_int_equal(set, 300);
        ji = running(900);
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        assert_int_equal(set, 0);
        assert_false(migration_watch_expired(&w, 59999999));
        assert_true(migration_watch_expired(&w, 60000000));
}

static void test_ladder(void **state) {
        MigrationWatch w;
        uint64_t set, value;
        HvJobInfo ji = running(1000);
        unsigned raises = 0;
        MigrationWatchAction a;

        migration_watch_init(&w, steps, 3, 0, true, 0, UINT64_MAX / 2);
        /* Remaining stays at 1000: a stall every 3 polls. */
        for (unsigned i = 0; i < 50; i++) {
                a = poll(&w, &ji, &set, &value);
                if (a == MIGRATION_WATCH_RAISE_DOWNTIME) {
                        raises++;
                        assert_int_equal(value, steps[raises]);
                        continue;
                }
                if (a != MIGRATION_WATCH_CONTINUE)
                        break;
        }
        assert_int_equal(raises, 2);
        assert_int_equal(a, MIGRATION_WATCH_RETRY);
        assert_int_equal(w.stall_steps, 3);

        /* The retry starts at the last step and aborts for good. */
        migration_watch_init(&w, steps, 3, 2, false, 0, UINT64_MAX / 2);
        for (unsigned i = 0; i < 50; i++) {
                a = poll(&w, &ji, &set, &value);
                if (i == 0)
                        assert_int_equal(set, 3000);
                if (a != MIGRATION_WATCH_CONTINUE)
                        break;
        }
        assert_int_equal(a, MIGRATION_WATCH_ABORT_STALL);
        assert_int_equal(value, 3000);
}

static void test_dirty_rate(void **state) {
        MigrationWatch w;
        uint64_t set, value;
        HvJobInfo ji = running(1000);

        migration_watch_init(&w, steps, 3, 0, false, 0, UINT64_MAX / 2);
        /* Shrinking but dirtying as fast as it sends, from the second iteration: a stall. */
        ji.memory_iteration = 2;
        ji.memory_dirty_rate_pps = 100;
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_RAISE_DOWNTIME);
        assert_int_equal(value, 1000);
        /* Grace: 3 polls after a raise the dirty rate alone is no stall. */
        for (unsigned i = 0; i < 3; i++) {
                ji.memory_remaining_bytes -= 10;
                assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        }
        ji.memory_remaining_bytes -= 10;
        assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_RAISE_DOWNTIME);
        assert_int_equal(value, 3000);
        /* Slower dirtying, shrinking: fine. */
        ji.memory_dirty_rate_pps = 10;
        for (unsigned i = 0; i < 10; i++) {
                ji.memory_remaining_bytes -= 10;
                assert_int_equal(poll(&w, &ji, &set, &value), MIGRATION_WATCH_CONTINUE);
        }
}

static void test_no_schedule(void **state) {
        MigrationWatch w;
        uint64_t set, value;
        HvJobInfo ji = running(1000);
        MigrationWatchAction a = MIGRATION_WATCH_CONTINUE;

        migration_watch_init(&w, NULL, 0, 0, false, 0, UINT64_MAX / 2);
        for (unsigned i = 0; i < 10 && a == MIGRATION_WATCH_CONTINUE; i++) {
                a = poll(&w, &ji, &set, &value);
                assert_int_equal(set, 0);
        }
        assert_int_equal(a, MIGRATION_WATCH_ABORT_STALL);
        assert_int_equal(value, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_setup_and_first_downtime),
                cmocka_unit_test(test_ladder),
                cmocka_unit_test(test_dirty_rate),
                cmocka_unit_test(test_no_schedule),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
