/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* agent/leader/admission.c: the queue and the migration limits drsd's executor and drs-sim
 * share. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admission.h"

#define D(n) ((void *) (uintptr_t) (n))

static void limits(Admission *a, unsigned cluster, unsigned out, unsigned in) {
        LimitsPolicy l = {
                .migrations_per_cluster = cluster,
                .migrations_out_per_host = out,
                .migrations_in_per_host = in};
        admission_set_limits(a, &l);
}

static void test_fifo_first_fit(void **state) {
        Admission a = {};
        void *d;

        limits(&a, 8, 1, 1);
        assert_int_equal(admission_submit(&a, "v1", "h1", "h2", D(1)), 0);
        assert_int_equal(admission_submit(&a, "v2", "h1", "h3", D(2)), 0); /* h1 out: waits */
        assert_int_equal(admission_submit(&a, "v3", "h4", "h5", D(3)), 0); /* fits: not held up */
        assert_true(admission_next(&a, &d));
        assert_ptr_equal(d, D(1));
        assert_true(admission_next(&a, &d));
        assert_ptr_equal(d, D(3));
        assert_false(admission_next(&a, &d));
        assert_int_equal(admission_n_running(&a, NULL, NULL), 2);
        assert_int_equal(admission_n_running(&a, "h1", NULL), 1);
        assert_int_equal(admission_n_queued(&a), 1);
        assert_true(admission_finish(&a, D(1)));
        assert_false(admission_finish(&a, D(1)));
        assert_true(admission_next(&a, &d));
        assert_ptr_equal(d, D(2));
        admission_done(&a);
}

static void test_busy_and_target(void **state) {
        Admission a = {};
        void *d;

        limits(&a, 0, 0, 0); /* 0 counts as 1 */
        assert_int_equal(admission_submit(&a, "v1", "h1", "h1", D(1)), -EINVAL);
        assert_int_equal(admission_submit(&a, "v1", "h1", "h2", D(1)), 0);
        assert_int_equal(admission_submit(&a, "v1", "h2", "h3", D(2)), -EBUSY);
        assert_true(admission_vm_busy(&a, "v1"));
        assert_string_equal(admission_vm_target(&a, "v1"), "h2");
        assert_null(admission_vm_target(&a, "v2"));
        assert_int_equal(admission_submit(&a, "v2", "h3", "h4", D(2)), 0);
        assert_true(admission_next(&a, &d));
        assert_false(admission_next(&a, &d)); /* the cluster limit: 1 */
        admission_done(&a);
}

static void test_foreign(void **state) {
        Admission a = {};
        void *d;
        char *foreign[] = {(char *) "h1", NULL};

        limits(&a, 2, 1, 1);
        assert_int_equal(admission_set_foreign(&a, foreign), 0);
        assert_int_equal(admission_submit(&a, "v1", "h1", "h2", D(1)), 0); /* h1's out limit is used */
        assert_int_equal(admission_submit(&a, "v2", "h3", "h4", D(2)), 0);
        assert_int_equal(admission_submit(&a, "v3", "h5", "h6", D(3)), 0);
        assert_true(admission_next(&a, &d));
        assert_ptr_equal(d, D(2));
        assert_false(admission_next(&a, &d)); /* cluster: 1 running + 1 foreign */
        assert_int_equal(admission_set_foreign(&a, NULL), 0);
        assert_true(admission_next(&a, &d));
        assert_ptr_equal(d, D(1));
        admission_done(&a);
}

static void test_take_queued(void **state) {
        Admission a = {};
        void *d;

        limits(&a, 1, 1, 1);
        assert_int_equal(admission_submit(&a, "v1", "h1", "h2", D(1)), 0);
        assert_int_equal(admission_submit(&a, "v2", "h3", "h2", D(2)), 0);
        assert_int_equal(admission_submit(&a, "v3", "h3", "h4", D(3)), 0);
        assert_true(admission_next(&a, &d)); /* v1 runs: not taken back */
        assert_true(admission_take_queued(&a, NULL, "h2", &d));
        assert_ptr_equal(d, D(2));
        assert_false(admission_take_queued(&a, NULL, "h2", &d));
        assert_true(admission_take_queued(&a, "v3", NULL, &d));
        assert_ptr_equal(d, D(3));
        assert_int_equal(admission_n_queued(&a), 0);
        assert_true(admission_vm_busy(&a, "v1"));
        admission_done(&a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fifo_first_fit),
                cmocka_unit_test(test_busy_and_target),
                cmocka_unit_test(test_foreign),
                cmocka_unit_test(test_take_queued),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
