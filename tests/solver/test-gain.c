/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* solver_move_gains(): what a move realizes under measured demand — the objective's worsening
 * with the VM back on its source, as PlanMove.gain predicts it. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "solver-test.h"

/* Two hosts; hot sits on h01 with warm; h02 is idle. */
static const char *const yaml = "hosts:\n"
                                "  - {name: h01, cpus: 16, memory_mib: 65536}\n"
                                "  - {name: h02, cpus: 16, memory_mib: 65536}\n"
                                "vms:\n"
                                "  - {name: hot, host: h01, vcpus: 8, memory_mib: 4096, cpu_demand: 8}\n"
                                "  - {name: warm, host: h01, vcpus: 8, memory_mib: 4096, cpu_demand: 4}\n"
                                "  - {name: idle, host: h02, vcpus: 2, memory_mib: 4096, cpu_demand: 0}\n";

static void test_gains(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        SolverOptions o = {.greedy_only = true};
        Plan *plan = NULL;

        /* The plan moves hot (or warm) to h02 with a predicted gain. */
        assert_int_equal(solver_plan(p, &o, &plan), 0);
        assert_true(plan->n_moves >= 1);
        size_t v = plan->moves[0].vm, from = plan->moves[0].from, to = plan->moves[0].to;
        double predicted = plan->moves[0].gain;
        assert_true(predicted > 0);

        /* Carried out with demand unchanged: it realizes exactly what was predicted. */
        p->vms[v].host = (int) to;
        double g;
        assert_int_equal(solver_move_gains(p, &v, &from, 1, &g), 0);
        assert_float_equal(g, predicted, 1e-9);

        /* The VM's load fell to nothing after the move (a bursty VM): little realized. */
        double cpu = p->vms[v].cpu_demand;
        p->vms[v].cpu_demand = 0;
        assert_int_equal(solver_move_gains(p, &v, &from, 1, &g), 0);
        assert_true(g < 0.1 * predicted);
        p->vms[v].cpu_demand = cpu;

        /* The source emptied meanwhile (the others' load left it): the move made it worse. */
        for (size_t i = 0; i < p->n_vms; i++)
                if (i != v && p->vms[i].host == (int) from)
                        p->vms[i].cpu_demand = 0;
        size_t idle = tp_vm(p, "idle");
        p->vms[idle].cpu_demand = 6;
        assert_int_equal(solver_move_gains(p, &v, &from, 1, &g), 0);
        assert_true(g < 0);

        /* At its own host: 0. Bad indices: -EINVAL. */
        assert_int_equal(solver_move_gains(p, &v, &to, 1, &g), 0);
        assert_float_equal(g, 0, 1e-12);
        size_t bad = p->n_hosts;
        assert_int_equal(solver_move_gains(p, &v, &bad, 1, &g), -EINVAL);
        plan_free(plan);
}

/* Problem.notes (the pass's move feedback) appear among the plan's reasons. */
static void test_notes(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        SolverOptions o = {.greedy_only = true};
        Plan *plan = NULL;
        char *text = NULL, *json = NULL;
        assert_int_equal(strv_extend(&p->notes, "hot: moves realized 12 % of prediction, cooldown ×4"), 0);
        assert_int_equal(solver_plan(p, &o, &plan), 0);
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        assert_int_equal(plan_to_json(p, plan, &json), 0);
        assert_non_null(strstr(text, "note: hot: moves realized 12 % of prediction, cooldown ×4\n"));
        assert_non_null(strstr(json, "\"notes\""));
        free(text);
        free(json);
        plan_free(plan);
}

/* Four hosts of 16 cores; h01 also holds burst (8 cores measured). */
static const char *const yaml4 =
        "hosts:\n"
        "  - {name: h01, cpus: 16, memory_mib: 65536}\n"
        "  - {name: h02, cpus: 16, memory_mib: 65536}\n"
        "  - {name: h03, cpus: 16, memory_mib: 65536}\n"
        "  - {name: h04, cpus: 16, memory_mib: 65536}\n"
        "vms:\n"
        "  - {name: burst, host: h01, vcpus: 8, memory_mib: 4096, cpu_demand: 8, memory_demand_mib: 4096}\n"
        "  - {name: a1, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: a2, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: a3, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: a4, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: b1, host: h02, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: b2, host: h02, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: b3, host: h02, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: b4, host: h02, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: c1, host: h03, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: c2, host: h03, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: c3, host: h03, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: c4, host: h03, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: d1, host: h04, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: d2, host: h04, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: d3, host: h04, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n"
        "  - {name: d4, host: h04, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 4096}\n";

/* A balance move must hold: its gain must clear min_gain on the demands that have held
 * (SolverVm.cpu_demand_stable) too, and the plan balances down to half the aggressiveness
 * threshold, not below. */
static void test_held_demand(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml4);
        size_t burst = tp_vm(p, "burst");
        Plan *plan = NULL;

        /* burst's 8 cores have held: h01 is relieved, down to the target (0.05) and no further. */
        for (int greedy = 0; greedy < 2; greedy++) {
                SolverOptions o = {.greedy_only = greedy};
                p->vms[burst].cpu_demand_stable = 8;
                p->vms[burst].has_cpu_demand_stable = true;
                assert_int_equal(solver_plan(p, &o, &plan), 0);
                assert_true(plan->n_moves >= 1);
                double before = (plan->before.cpu_imbalance + plan->before.memory_imbalance) / 2,
                       after = (plan->after.cpu_imbalance + plan->after.memory_imbalance) / 2;
                assert_true(before > 0.10);
                assert_true(after < 0.10);
                /* Every move counts: without any one of them the plan would end above 0.05. */
                assert_true(after > 0.05 - 0.03);
                for (size_t i = 0; i < plan->n_moves; i++) {
                        assert_int_equal(plan->moves[i].reason, REASON_BALANCE);
                        assert_true(plan->moves[i].gain > 0);
                }
                plan = plan_free(plan);

                /* The same load, but burst began a moment ago (held: 1 core): nothing to do. */
                p->vms[burst].cpu_demand_stable = 1;
                assert_int_equal(solver_plan(p, &o, &plan), 0);
                assert_int_equal(plan->n_moves, 0);
                plan = plan_free(plan);

                /* Unknown (a peer's report, a snapshot): judged on the measured demand. */
                p->vms[burst].has_cpu_demand_stable = false;
                assert_int_equal(solver_plan(p, &o, &plan), 0);
                assert_true(plan->n_moves >= 1);
                plan = plan_free(plan);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gains),
                cmocka_unit_test(test_notes),
                cmocka_unit_test(test_held_demand),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
