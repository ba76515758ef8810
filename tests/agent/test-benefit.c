/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Predicted versus realized benefit (agent/leader/benefit.c): checkpoints at 1, 5 and 15 min,
 * moves that helped, did nothing or made it worse, measurements superseded by a new move of the
 * VM or ended early, and the rolling 24-hour summary. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include <cmocka.h>

#include "benefit.h"

#define S 1000000ULL

/* Takes every due measurement at now with the given realized gain; returns how many. */
static unsigned measure_all(BenefitTracker *t, uint64_t now, double realized, bool superseded) {
        unsigned n = 0, cp;
        bool fin;
        ssize_t i;
        size_t from = 0;
        while ((i = benefit_next_due(t, from, now)) >= 0) {
                assert_int_equal(benefit_record(t, (size_t) i, superseded, realized, now, &cp, &fin), 0);
                from = fin ? (size_t) i : (size_t) i + 1;
                n++;
        }
        return n;
}

static void test_checkpoints(void **state) {
        BenefitTracker *t = calloc(1, sizeof(BenefitTracker));
        BenefitSummary s;
        unsigned cp;
        bool fin;
        const uint64_t t0 = 1000 * S;

        assert_non_null(t);
        /* Nothing predicted (a hop's first step, a DPM move that costs balance): not tracked. */
        assert_int_equal(benefit_add(t, "hop", "h1", "h2", "balance", 0, 0, t0), 0);
        assert_int_equal(benefit_add(t, "dpm", "h1", "h2", "dpm", -0.001, 0, t0), 0);
        assert_int_equal(t->n_moves, 0);

        assert_int_equal(benefit_add(t, "web", "h1", "h2", "balance", 0.10, 0, t0), 0);
        assert_int_equal(benefit_next_due(t, 0, t0 + 59 * S), -1);
        assert_int_equal(benefit_next_due(t, 0, t0 + 60 * S), 0);
        assert_int_equal(benefit_record(t, 0, false, 0.08, t0 + 60 * S, &cp, &fin), 0);
        assert_int_equal(cp, 60);
        assert_false(fin);
        assert_int_equal(benefit_next_due(t, 0, t0 + 299 * S), -1);
        assert_int_equal(benefit_record(t, 0, false, 0.09, t0 + 300 * S, &cp, &fin), 0);
        assert_int_equal(cp, 300);
        assert_false(fin);
        assert_int_equal(benefit_next_due(t, 0, t0 + 899 * S), -1);
        assert_int_equal(benefit_record(t, 0, false, 0.07, t0 + 900 * S, &cp, &fin), 0);
        assert_int_equal(cp, 900);
        assert_true(fin);
        assert_int_equal(t->n_moves, 0);

        benefit_summary(t, t0 + 900 * S, &s);
        assert_int_equal(s.moves, 1);
        assert_float_equal(s.predicted, 0.10, 1e-12);
        assert_float_equal(s.realized, 0.07, 1e-12); /* the 15-minute value counts */
        assert_int_equal(s.worse, 0);
        assert_int_equal(s.no_effect, 0);
        assert_int_equal(t->total_measured, 1);
        benefit_tracker_done(t);
        free(t);
}

static void test_outcomes(void **state) {
        BenefitTracker *t = calloc(1, sizeof(BenefitTracker));
        BenefitSummary s;
        const uint64_t t0 = 5000 * S;

        assert_non_null(t);
        /* helped, did nothing (< 10 % of the prediction), made it worse */
        assert_int_equal(benefit_add(t, "a", "h1", "h2", "balance", 0.10, 7, t0), 0);
        assert_int_equal(benefit_add(t, "b", "h1", "h3", "balance", 0.10, 7, t0), 0);
        assert_int_equal(benefit_add(t, "c", "h2", "h3", "dpm", 0.05, 8, t0), 0);
        for (uint64_t at = 60; at <= 900; at = at == 60 ? 300 : 900) {
                ssize_t i;
                size_t from = 0;
                unsigned cp;
                bool fin;
                while ((i = benefit_next_due(t, from, t0 + at * S)) >= 0) {
                        const char *vm = t->moves[i].vm;
                        double r = vm[0] == 'a' ? 0.12 : vm[0] == 'b' ? 0.005 : -0.02;
                        assert_int_equal(benefit_record(t, (size_t) i, false, r, t0 + at * S, &cp, &fin), 0);
                        from = fin ? (size_t) i : (size_t) i + 1;
                }
                if (at == 900)
                        break;
        }
        assert_int_equal(t->n_moves, 0);
        /* Per plan: plan 7 (a helped, b did little), plan 8 (c made it worse). */
        BenefitPlan bp;
        assert_true(benefit_plan_finished(t, 7, &bp));
        assert_int_equal(bp.measured, 2);
        assert_float_equal(bp.predicted, 0.20, 1e-12);
        assert_float_equal(bp.realized, 0.125, 1e-12);
        assert_int_equal(bp.worse, 0);
        assert_true(benefit_plan_finished(t, 8, &bp));
        assert_int_equal(bp.worse, 1);
        assert_false(benefit_plan_finished(t, 7, &bp)); /* forgotten once reported */
        benefit_summary(t, t0 + 900 * S, &s);
        assert_int_equal(s.moves, 3);
        assert_int_equal(s.worse, 1);
        assert_int_equal(s.no_effect, 1);
        assert_float_equal(s.predicted, 0.25, 1e-12);
        assert_float_equal(s.realized, 0.105, 1e-12);
        assert_int_equal(t->total_worse, 1);

        /* A VM moved again before its measurement ended: superseded, not counted as measured;
         * the new move is measured on its own. */
        assert_int_equal(benefit_add(t, "d", "h1", "h2", "balance", 0.10, 0, t0 + 1000 * S), 0);
        assert_int_equal(measure_all(t, t0 + 1060 * S, 0.05, false), 1);
        assert_int_equal(benefit_add(t, "d", "h2", "h3", "balance", 0.04, 0, t0 + 1100 * S), 0);
        assert_int_equal(t->n_moves, 1);
        assert_float_equal(t->moves[0].predicted, 0.04, 1e-12);
        assert_int_equal(t->total_superseded, 1);
        /* A VM that stopped: the caller reports it superseded at the checkpoint. */
        assert_int_equal(measure_all(t, t0 + 1160 * S, 0, true), 1);
        assert_int_equal(t->n_moves, 0);
        benefit_summary(t, t0 + 1160 * S, &s);
        assert_int_equal(s.moves, 3);
        assert_int_equal(s.superseded, 2);

        /* The summary forgets what is older than 24 h. */
        benefit_summary(t, t0 + 900 * S + BENEFIT_WINDOW_S * S + S, &s);
        assert_int_equal(s.moves, 0);
        assert_int_equal(s.superseded, 2);
        benefit_summary(t, t0 + 1160 * S + BENEFIT_WINDOW_S * S + S, &s);
        assert_int_equal(s.superseded, 0);
        assert_int_equal(t->total_measured, 3); /* totals stay (Prometheus) */
        benefit_tracker_done(t);
        free(t);
}

/* Feedback: a VM whose last moves realized little waits its cooldown × 2..4; reset forgets. */
static void
move_measured(BenefitTracker *t, const char *vm, double predicted, double realized, uint64_t t0) {
        assert_int_equal(benefit_add(t, vm, "h1", "h2", "balance", predicted, 0, t0), 0);
        for (unsigned k = 0; k < BENEFIT_CHECKPOINTS; k++) {
                unsigned cp;
                bool fin;
                ssize_t i = benefit_next_due(t, 0, t0 + benefit_checkpoint_s[k] * S);
                assert_true(i >= 0);
                assert_int_equal(
                        benefit_record(
                                t, (size_t) i, false, realized, t0 + benefit_checkpoint_s[k] * S, &cp, &fin),
                        0);
                assert_int_equal(fin, k == BENEFIT_CHECKPOINTS - 1);
        }
}

static void test_feedback(void **state) {
        BenefitTracker *t = calloc(1, sizeof(BenefitTracker));
        double share;

        assert_non_null(t);
        move_measured(t, "bursty", 0.10, 0.01, 0);
        assert_int_equal(benefit_vm_factor(t, "bursty", &share), 1); /* one move: no verdict */
        assert_true(isnan(share));
        move_measured(t, "bursty", 0.10, 0.01, 2000 * S);
        assert_int_equal(benefit_vm_factor(t, "bursty", &share), 4); /* 10 %: ×4 (the cap) */
        assert_float_equal(share, 0.1, 1e-12);

        move_measured(t, "so-so", 0.10, 0.03, 0);
        move_measured(t, "so-so", 0.10, 0.03, 2000 * S);
        assert_int_equal(benefit_vm_factor(t, "so-so", NULL), 2); /* 30 %: ×2 */

        move_measured(t, "fine", 0.10, 0.06, 0);
        move_measured(t, "fine", 0.10, 0.04, 2000 * S);
        assert_int_equal(benefit_vm_factor(t, "fine", NULL), 1); /* 50 %: no penalty */

        move_measured(t, "worse", 0.10, -0.05, 0);
        move_measured(t, "worse", 0.10, -0.05, 2000 * S);
        assert_int_equal(benefit_vm_factor(t, "worse", NULL), 4);

        /* Good moves later lift the penalty (the last 4 count). */
        for (unsigned k = 0; k < 3; k++)
                move_measured(t, "bursty", 0.10, 0.12, (4000 + 2000 * k) * S);
        assert_int_equal(benefit_vm_factor(t, "bursty", NULL), 1);

        assert_int_equal(benefit_vm_reset(t, "worse"), 1);
        assert_int_equal(benefit_vm_factor(t, "worse", NULL), 1);
        assert_int_equal(benefit_vm_reset(t, "worse"), 0);
        assert_int_equal(benefit_vm_factor(t, "so-so", NULL), 2); /* the others keep theirs */
        benefit_tracker_done(t);
        free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_checkpoints),
                cmocka_unit_test(test_outcomes),
                cmocka_unit_test(test_feedback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
