/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DPM hysteresis in the solver: Problem.dpm_hold_* keep DPM from acting while the plan still
 * says what it wants; a power-on that mandatory moves need is never held. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "solver-test.h"

/* 90 % of the powered cores busy: above the band (81 %); two standby hosts. */
static const char *const up_yaml =
        "hosts:\n"
        "  - {name: h01, cpus: 16, memory_mib: 65536}\n"
        "  - {name: h02, cpus: 16, memory_mib: 65536}\n"
        "  - {name: h03, cpus: 16, memory_mib: 65536, state: standby}\n"
        "  - {name: h04, cpus: 16, memory_mib: 65536, state: standby}\n"
        "vms:\n"
        "  - {name: vm01, host: h01, vcpus: 4, memory_mib: 8192, cpu_demand: 7.2}\n"
        "  - {name: vm02, host: h01, vcpus: 4, memory_mib: 8192, cpu_demand: 7.2}\n"
        "  - {name: vm03, host: h02, vcpus: 4, memory_mib: 8192, cpu_demand: 7.2}\n"
        "  - {name: vm04, host: h02, vcpus: 4, memory_mib: 8192, cpu_demand: 7.2}\n"
        "policy:\n"
        "  dpm: {enabled: true}\n";

/* 6 % busy: below the band (45 %), four hosts on. */
static const char *const down_yaml =
        "hosts:\n"
        "  - {name: h01, cpus: 32, memory_mib: 131072}\n"
        "  - {name: h02, cpus: 32, memory_mib: 131072}\n"
        "  - {name: h03, cpus: 32, memory_mib: 131072}\n"
        "  - {name: h04, cpus: 32, memory_mib: 131072}\n"
        "vms:\n"
        "  - {name: vm01, host: h01, vcpus: 2, memory_mib: 8192, cpu_demand: 2}\n"
        "  - {name: vm02, host: h02, vcpus: 2, memory_mib: 8192, cpu_demand: 2}\n"
        "  - {name: vm03, host: h03, vcpus: 2, memory_mib: 8192, cpu_demand: 2}\n"
        "  - {name: vm04, host: h04, vcpus: 2, memory_mib: 8192, cpu_demand: 2}\n"
        "policy:\n"
        "  dpm: {enabled: true}\n";

static Plan *plan_of(Problem *p) {
        Plan *plan = NULL;
        SolverOptions o = {.greedy_only = true};
        assert_int_equal(solver_plan(p, &o, &plan), 0);
        return plan;
}

static size_t n_power(const Plan *plan, PowerAction a) {
        size_t n = 0;
        for (size_t i = 0; i < plan->n_power; i++)
                n += plan->power[i].action == a;
        return n;
}

static size_t n_moves_to(const Problem *p, const Plan *plan, const char *host) {
        size_t n = 0, h = tp_host(p, host);
        for (size_t i = 0; i < plan->n_moves; i++)
                n += plan->moves[i].to == h;
        return n;
}

static void test_power_on_held(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(up_yaml);

        Plan *plan = plan_of(p);
        assert_true(plan->dpm_wants_power_on);
        assert_false(plan->dpm_power_on_held);
        assert_false(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        plan_free(plan);

        p->dpm_hold_power_on = true;
        plan = plan_of(p);
        assert_true(plan->dpm_wants_power_on);
        assert_true(plan->dpm_power_on_held);
        assert_int_equal(plan->n_power, 0);
        assert_int_equal(n_moves_to(p, plan, "h03") + n_moves_to(p, plan, "h04"), 0);
        char *json = NULL;
        assert_int_equal(plan_to_json(p, plan, &json), 0);
        const char *held = strstr(json, "\"dpm_held\"");
        assert_non_null(held);
        const char *end = strchr(held, ']');
        assert_non_null(end);
        const char *on = strstr(held, "\"power_on\"");
        assert_true(on && on < end);
        const char *sb = strstr(held, "\"standby\"");
        assert_true(!sb || sb > end);
        free(json);
        plan_free(plan);

        /* Holding the other direction changes nothing here. */
        p->dpm_hold_power_on = false;
        p->dpm_hold_standby = true;
        plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        assert_false(plan->dpm_standby_held);
        plan_free(plan);
}

static void test_standby_held(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(down_yaml);

        Plan *plan = plan_of(p);
        assert_true(plan->dpm_wants_standby);
        assert_true(n_power(plan, POWER_STANDBY) >= 1);
        plan_free(plan);

        p->dpm_hold_standby = true;
        plan = plan_of(p);
        assert_true(plan->dpm_wants_standby);
        assert_true(plan->dpm_standby_held);
        assert_int_equal(plan->n_power, 0);
        for (size_t i = 0; i < plan->n_moves; i++)
                assert_int_not_equal(plan->moves[i].reason, REASON_DPM);
        char *text = NULL;
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        assert_non_null(strstr(text, "dpm: standby held"));
        free(text);
        plan_free(plan);
}

/* An evacuation that needs a standby host: its power-on is not held. */
static void test_mandatory_power_on_not_held(void **state) {
        _cleanup_(tp_problem_freep) Problem *p =
                tp_parse("hosts:\n"
                         "  - {name: h01, cpus: 16, memory_mib: 16384, state: maintenance}\n"
                         "  - {name: h02, cpus: 16, memory_mib: 16384}\n"
                         "  - {name: h03, cpus: 16, memory_mib: 16384, state: standby}\n"
                         "vms:\n"
                         "  - {name: vm01, host: h01, vcpus: 2, memory_mib: 12288, cpu_demand: 0.5}\n"
                         "  - {name: vm02, host: h02, vcpus: 2, memory_mib: 12288, cpu_demand: 0.5}\n"
                         "policy:\n"
                         "  dpm: {enabled: true}\n");
        p->dpm_hold_power_on = true;
        p->dpm_hold_standby = true;
        Plan *plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        assert_int_equal(plan->power[0].host, tp_host(p, "h03"));
        assert_int_equal(n_moves_to(p, plan, "h03"), 1);
        assert_int_equal(plan->n_unplaceable, 0);
        plan_free(plan);
}

/* DPM off: it wants nothing, whatever the load. */
static void test_disabled_wants_nothing(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(up_yaml);
        p->policy->dpm.enabled = false;
        Plan *plan = plan_of(p);
        assert_false(plan->dpm_wants_power_on);
        assert_false(plan->dpm_wants_standby);
        assert_int_equal(plan->n_power, 0);
        plan_free(plan);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_power_on_held),
                cmocka_unit_test(test_standby_held),
                cmocka_unit_test(test_mandatory_power_on_not_held),
                cmocka_unit_test(test_disabled_wants_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
