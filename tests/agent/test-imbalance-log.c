/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* imbalance-log.c: samples in order, the ring dropping the oldest once full, a clock that
 * steps back, the since filter, and the JSON drs.Status returns. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "imbalance-log.h"
#include "macro.h"

#define SEC 1000000ULL
#define T0 (1800000000ULL * SEC)

/* The JSON of l since since_usec, as a string (owned by the caller). */
static char *json_of(const ImbalanceLog *l, uint64_t since_usec) {
        json_object *o = NULL;
        assert_int_equal(imbalance_log_to_json(l, since_usec, &o), 0);
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        assert_non_null(s);
        return s;
}

static void test_empty(void **state) {
        ImbalanceLog l = {};
        _cleanup_free_ char *s = json_of(&l, 0);
        assert_string_equal(s, "{\"period_s\":10,\"samples\":[]}");
}

static void test_order_and_rounding(void **state) {
        ImbalanceLog l = {};
        imbalance_log_add(&l, T0, 0.123456, 0.5);
        imbalance_log_add(&l, T0 + 10 * SEC, 0.2, 0.00004);
        _cleanup_free_ char *s = json_of(&l, 0);
        assert_string_equal(
                s, "{\"period_s\":10,\"samples\":[[1800000000,0.1235,0.5],[1800000010,0.2,0.0]]}");
}

static void test_clock_back_ignored(void **state) {
        ImbalanceLog l = {};
        imbalance_log_add(&l, T0 + 10 * SEC, 0.1, 0.1);
        imbalance_log_add(&l, T0, 0.9, 0.9);
        assert_int_equal(l.n, 1);
        imbalance_log_add(&l, T0 + 10 * SEC, 0.2, 0.2); /* the same second is fine */
        assert_int_equal(l.n, 2);
}

static void test_ring_and_since(void **state) {
        ImbalanceLog *l = calloc(1, sizeof(ImbalanceLog));
        json_object *o = NULL, *samples;
        assert_non_null(l);
        for (unsigned i = 0; i < IMBALANCE_LOG_SAMPLES + 25; i++)
                imbalance_log_add(l, T0 + i * 10 * SEC, (double) i / 1000.0, 0);
        assert_int_equal(l->n, IMBALANCE_LOG_SAMPLES);

        /* The oldest 25 are gone; the rest in order. */
        assert_int_equal(imbalance_log_to_json(l, 0, &o), 0);
        assert_true(json_object_object_get_ex(o, "samples", &samples));
        assert_int_equal(json_object_array_length(samples), IMBALANCE_LOG_SAMPLES);
        for (size_t i = 0; i < IMBALANCE_LOG_SAMPLES; i++) {
                json_object *x = json_object_array_get_idx(samples, i);
                assert_int_equal(
                        json_object_get_int64(json_object_array_get_idx(x, 0)),
                        (int64_t) ((T0 / SEC) + (i + 25) * 10));
        }
        json_object_put(o);

        /* since: only the last 3 samples. */
        uint64_t last = T0 + (IMBALANCE_LOG_SAMPLES + 24) * 10 * SEC;
        assert_int_equal(imbalance_log_to_json(l, last - 20 * SEC, &o), 0);
        assert_true(json_object_object_get_ex(o, "samples", &samples));
        assert_int_equal(json_object_array_length(samples), 3);
        json_object_put(o);
        free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_order_and_rounding),
                cmocka_unit_test(test_clock_back_ignored),
                cmocka_unit_test(test_ring_and_since),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
