/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DPM hysteresis in the solver: Problem.dpm_hold_* keep DPM from acting while the plan still
 * says what it wants; a power-on that mandatory moves need is never held. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- quorum (cluster mode) ------------------------------------------------------------------ */

/* n hosts of 32 cores at 1 % load (far below the band), one small VM each; no headroom, so only
 * min_hosts_on and quorum limit how many go to standby. */
static Problem *idle_cluster(unsigned n) {
        char buf[4096];
        size_t o = 0;
        o += (size_t) snprintf(buf + o, sizeof(buf) - o, "hosts:\n");
        for (unsigned i = 1; i <= n; i++)
                o += (size_t) snprintf(
                        buf + o, sizeof(buf) - o, "  - {name: h%02u, cpus: 32, memory_mib: 131072}\n", i);
        o += (size_t) snprintf(buf + o, sizeof(buf) - o, "vms:\n");
        for (unsigned i = 1; i <= n; i++)
                o += (size_t) snprintf(
                        buf + o, sizeof(buf) - o,
                        "  - {name: vm%02u, host: h%02u, vcpus: 1, memory_mib: 1024, cpu_demand: 0.3}\n", i,
                        i);
        (void) snprintf(
                buf + o, sizeof(buf) - o,
                "policy:\n  dpm: {enabled: true, min_hosts_on: 1, headroom_hosts: 0}\n");
        return tp_parse(buf);
}

/* Cluster mode as votequorum reports it: every host a member with `votes` each (votes[i], or 1). */
static void set_quorum(Problem *p, unsigned quorum, unsigned total_votes, const unsigned *votes) {
        p->quorum = (ProblemQuorum){.enabled = true, .quorum = quorum, .total_votes = total_votes};
        for (size_t h = 0; h < p->n_hosts; h++)
                p->hosts[h].votes = votes ? votes[h] : 1;
}

typedef struct QuorumCase {
        const char *name;
        unsigned n_hosts;
        unsigned quorum, total_votes; /* what votequorum reports */
        unsigned votes[8];            /* per host; all 0 = 1 each */
        unsigned n_standby_before;    /* hosts h01… already powered off (votes 0, gone from total) */
        unsigned tolerate;
        size_t expect_standby;
        bool expect_limited;
} QuorumCase;

static const QuorumCase quorum_cases[] = {
        /* Without quorum DPM would leave one host on (min_hosts_on 1). */
        {"default, 5 hosts: 3 of 5 stay", 5, 3, 5, {}, 0, 0, 2, true},
        {"default, 5 hosts, tolerate 1: 4 stay", 5, 3, 5, {}, 0, 1, 1, true},
        {"default, 5 hosts, tolerate 2: all stay", 5, 3, 5, {}, 0, 2, 0, true},
        {"default, 5 hosts, 2 off already: none more", 5, 3, 3, {}, 2, 0, 0, true},
        {"default, 3 hosts (the testbed): 2 of 3 stay", 3, 2, 3, {}, 0, 0, 1, true},
        {"default, 3 hosts, tolerate 1: all stay", 3, 2, 3, {}, 0, 1, 0, true},
        /* two_node: votequorum reports quorum 1 with 2 votes: one may go. */
        {"two_node", 2, 1, 2, {}, 0, 0, 1, false},
        {"two_node, tolerate 1", 2, 1, 2, {}, 0, 1, 0, true},
        /* last_man_standing: 5 hosts, 2 off and votequorum recalculated expected votes to 3,
         * quorum 2: one more may go (without it, quorum 3: none). */
        {"last_man_standing, recalculated", 5, 2, 3, {}, 2, 0, 1, true},
        /* auto_tie_breaker is not counted on: 4 hosts, quorum 3 → 3 stay, not 2. */
        {"auto_tie_breaker not counted on", 4, 3, 4, {}, 0, 0, 1, true},
        /* A quorum device with 2 votes (3 hosts): 5 votes, quorum 3: two hosts may go. */
        {"qdevice with 2 votes", 3, 3, 5, {}, 0, 0, 2, false},
        /* Weighted votes: h01 holds 3 of 6 (quorum 4): it never goes, the others may until 4 stay. */
        {"weighted votes", 4, 4, 6, {3, 1, 1, 1}, 0, 0, 2, true},
};

static void test_quorum_cases(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(quorum_cases); i++) {
                const QuorumCase *c = &quorum_cases[i];
                _cleanup_(tp_problem_freep) Problem *p = idle_cluster(c->n_hosts);
                unsigned votes[8];
                for (unsigned h = 0; h < c->n_hosts; h++)
                        votes[h] = c->votes[h] ?: 1;
                for (unsigned h = 0; h < c->n_standby_before; h++) {
                        /* Already powered off: in standby, holding no VM and no vote. */
                        p->hosts[h].state = HOST_STANDBY;
                        votes[h] = 0;
                        p->vms[h].host = (int) (p->n_hosts - 1);
                }
                set_quorum(p, c->quorum, c->total_votes, votes);
                p->policy->dpm.tolerate_failures = c->tolerate;

                Plan *plan = plan_of(p);
                fprintf(stderr, "%s: %zu standby, limited %d, votes after %u\n", c->name,
                        n_power(plan, POWER_STANDBY), plan->dpm_quorum_limited, plan->dpm_votes_after);
                assert_int_equal(n_power(plan, POWER_STANDBY), c->expect_standby);
                assert_int_equal(plan->dpm_quorum_limited, c->expect_limited);
                /* Whatever was chosen, what stays powered keeps quorum with the tolerance. */
                unsigned left = c->total_votes, stay[8], n_stay = 0;
                for (size_t h = 0; h < p->n_hosts; h++) {
                        bool off = p->hosts[h].state == HOST_STANDBY;
                        for (size_t k = 0; k < plan->n_power; k++)
                                off |= plan->power[k].host == h && plan->power[k].action == POWER_STANDBY;
                        if (off)
                                left -= votes[h];
                        else
                                stay[n_stay++] = votes[h];
                }
                assert_int_equal(plan->dpm_votes_after, left);
                for (unsigned t = 0; t < c->tolerate && n_stay > 0; t++) {
                        unsigned *mx = &stay[0];
                        for (unsigned k = 1; k < n_stay; k++)
                                if (stay[k] > *mx)
                                        mx = &stay[k];
                        left -= *mx;
                        *mx = 0;
                }
                assert_true(left >= c->quorum);
                plan_free(plan);
        }
}

/* A host ordered to standby whose corosync is still a member (its power-off has not finished)
 * still holds its votes but is leaving: it counts as gone. */
static void test_quorum_pending_power_off(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = idle_cluster(5);
        set_quorum(p, 3, 5, NULL);
        p->hosts[0].state = HOST_STANDBY;
        p->vms[0].host = 4;
        Plan *plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_STANDBY), 1);
        assert_true(plan->dpm_quorum_limited);
        assert_int_equal(plan->dpm_votes_after, 3);
        char *text = NULL, *json = NULL;
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        assert_non_null(strstr(
                text, "dpm: standby limited by quorum (3 of 5 votes stay powered; votequorum needs 3"));
        assert_int_equal(plan_to_json(p, plan, &json), 0);
        assert_non_null(strstr(json, "\"dpm_limited\": true"));
        free(text);
        free(json);
        plan_free(plan);
}

/* Standalone mode (quorum not enabled): no limit, nothing said about quorum. */
static void test_quorum_standalone(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = idle_cluster(5);
        Plan *plan = plan_of(p);
        assert_true(n_power(plan, POWER_STANDBY) > 2); /* more than a 5-vote quorum would allow */
        assert_false(plan->dpm_quorum_limited);
        char *json = NULL;
        assert_int_equal(plan_to_json(p, plan, &json), 0);
        assert_null(strstr(json, "\"quorum\""));
        free(json);
        plan_free(plan);
}

/* ---- power models and local overload -------------------------------------------------------- */

/* Two models like CloudSim's HP ProLiant G4 and G5 (SPECpower): the G5 gives 43 % more cores
 * for 15 % more watts. */
#define G4 "power: {watts: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]}"
#define G5 "power: {watts: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]}"

/* Low load on 2 G4 and 2 G5: DPM empties the G4s, though they hold more memory to move. */
static void test_standby_least_efficient(void **state) {
        _cleanup_(tp_problem_freep) Problem *p =
                tp_parse("hosts:\n"
                         "  - {name: g5a, cpus: 53, memory_mib: 131072, " G5 "}\n"
                         "  - {name: g4a, cpus: 37, memory_mib: 131072, " G4 "}\n"
                         "  - {name: g5b, cpus: 53, memory_mib: 131072, " G5 "}\n"
                         "  - {name: g4b, cpus: 37, memory_mib: 131072, " G4 "}\n"
                         "vms:\n"
                         "  - {name: vm01, host: g5a, vcpus: 2, memory_mib: 2048, cpu_demand: 1}\n"
                         "  - {name: vm02, host: g4a, vcpus: 2, memory_mib: 8192, cpu_demand: 1}\n"
                         "  - {name: vm03, host: g5b, vcpus: 2, memory_mib: 2048, cpu_demand: 1}\n"
                         "  - {name: vm04, host: g4b, vcpus: 2, memory_mib: 8192, cpu_demand: 1}\n"
                         "policy:\n"
                         "  dpm: {enabled: true, min_hosts_on: 1, headroom_hosts: 1}\n");
        Plan *plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_STANDBY), 2);
        for (size_t i = 0; i < plan->n_power; i++)
                assert_true(
                        plan->power[i].host == tp_host(p, "g4a") ||
                        plan->power[i].host == tp_host(p, "g4b"));
        /* Every VM that moves lands on a host that stays on: none moves twice. */
        for (size_t i = 0; i < plan->n_moves; i++)
                assert_true(
                        plan->moves[i].to == tp_host(p, "g5a") || plan->moves[i].to == tp_host(p, "g5b"));
        plan_free(plan);

        /* Without power models: the least memory first (the G5s). */
        for (size_t h = 0; h < p->n_hosts; h++)
                p->hosts[h].power.known = false;
        plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_STANDBY), 2);
        for (size_t i = 0; i < plan->n_power; i++)
                assert_true(
                        plan->power[i].host == tp_host(p, "g5a") ||
                        plan->power[i].host == tp_host(p, "g5b"));
        plan_free(plan);
}

/* Demand above the band: of a G4 and a G5 in standby, the G5 is powered on. */
static void test_power_on_most_efficient(void **state) {
        _cleanup_(tp_problem_freep) Problem *p =
                tp_parse("hosts:\n"
                         "  - {name: h01, cpus: 16, memory_mib: 65536}\n"
                         "  - {name: g4, cpus: 37, memory_mib: 262144, state: standby, " G4 "}\n"
                         "  - {name: g5, cpus: 53, memory_mib: 131072, state: standby, " G5 "}\n"
                         "vms:\n"
                         "  - {name: vm01, host: h01, vcpus: 8, memory_mib: 8192, cpu_demand: 7.5}\n"
                         "  - {name: vm02, host: h01, vcpus: 8, memory_mib: 8192, cpu_demand: 7.5}\n"
                         "policy:\n"
                         "  dpm: {enabled: true}\n");
        Plan *plan = plan_of(p);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        assert_int_equal(plan->power[0].host, tp_host(p, "g5"));
        plan_free(plan);
}

/* n hosts at 10 % CPU and one at 150 %: a population σ far under aggressiveness 3's threshold
 * (0.1) once there are many hosts, yet the hot host is relieved (balance.overload). */
static Problem *one_hot(unsigned n) {
        size_t len = 256 + (size_t) n * 160, o = 0;
        _cleanup_free_ char *buf = malloc(len);
        assert_non_null(buf);
        o += (size_t) snprintf(buf + o, len - o, "hosts:\n");
        for (unsigned i = 0; i < n; i++)
                o += (size_t) snprintf(
                        buf + o, len - o, "  - {name: h%04u, cpus: 16, memory_mib: 131072}\n", i);
        o += (size_t) snprintf(buf + o, len - o, "vms:\n");
        for (unsigned i = 0; i < n; i++)
                o += (size_t) snprintf(
                        buf + o, len - o,
                        "  - {name: vm%04u, host: h%04u, vcpus: 4, memory_mib: 4096, cpu_demand: 1.6}\n", i,
                        i);
        for (unsigned k = 0; k < 6; k++)
                o += (size_t) snprintf(
                        buf + o, len - o,
                        "  - {name: hot%u, host: h0000, vcpus: 4, memory_mib: 4096, cpu_demand: 3.73}\n", k);
        return tp_parse(buf);
}

static void test_local_overload(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = one_hot(2000);
        Plan *plan = plan_of(p);
        assert_true(plan->before.cpu_imbalance < policy_imbalance_threshold(3));
        assert_true(plan->before.max_cpu_utilization > 1.4);
        assert_true(plan->n_moves > 0);
        assert_true(plan->after.max_cpu_utilization <= 1.0);
        plan_free(plan);

        /* Relieving it is overload's doing: a threshold the host stays under changes nothing. */
        p->policy->balance.overload = 1.0;
        for (size_t v = 0; v < p->n_vms; v++)
                if (p->vms[v].host == 0 && p->vms[v].cpu_demand > 3)
                        p->vms[v].cpu_demand = 2.0; /* 13.6 cores on 16: 85 % */
        plan = plan_of(p);
        assert_int_equal(plan->n_moves, 0);
        plan_free(plan);
}

/* Every powered host busy, one over capacity, a standby host: overload is a reason to power on,
 * although the cluster as a whole is inside the band. */
static void test_overload_power_on(void **state) {
        _cleanup_(tp_problem_freep) Problem *p =
                tp_parse("hosts:\n"
                         "  - {name: h01, cpus: 16, memory_mib: 65536}\n"
                         "  - {name: h02, cpus: 16, memory_mib: 65536}\n"
                         "  - {name: h03, cpus: 16, memory_mib: 65536}\n"
                         "  - {name: h04, cpus: 16, memory_mib: 65536, state: standby}\n"
                         "vms:\n"
                         "  - {name: vm01, host: h01, vcpus: 16, memory_mib: 4096, cpu_demand: 10}\n"
                         "  - {name: vm02, host: h01, vcpus: 16, memory_mib: 4096, cpu_demand: 9}\n"
                         "  - {name: vm03, host: h02, vcpus: 16, memory_mib: 4096, cpu_demand: 11}\n"
                         "  - {name: vm04, host: h03, vcpus: 16, memory_mib: 4096, cpu_demand: 11}\n"
                         "policy:\n"
                         "  dpm: {enabled: true, target_utilization: {low: 30%, high: 90%}}\n");
        Plan *plan = plan_of(p);
        /* 41 cores on 48: 85 %, inside the band; h01 at 119 %, and neither other host has room
         * (3.4 cores up to 90 %) for a VM of h01 (9 and 10 cores). */
        assert_true(plan->dpm_wants_power_on);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        assert_int_equal(plan->power[0].host, tp_host(p, "h04"));
        assert_true(n_moves_to(p, plan, "h04") >= 1);
        plan_free(plan);
}

/* Problem.dpm_standby_demand: standby is judged on the caller's statistic (a percentile of
 * measured demand), while the hosts left on must still carry the VMs' demands (their peaks). */
static void test_standby_statistic(void **state) {
        static const char *const yaml =
                "hosts:\n"
                "  - {name: h01, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h02, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h03, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h04, cpus: 32, memory_mib: 131072}\n"
                "vms:\n"
                "  - {name: vm01, host: h01, vcpus: 16, memory_mib: 8192, cpu_demand: 15}\n"
                "  - {name: vm02, host: h02, vcpus: 16, memory_mib: 8192, cpu_demand: 15}\n"
                "  - {name: vm03, host: h03, vcpus: 16, memory_mib: 8192, cpu_demand: 15}\n"
                "  - {name: vm04, host: h04, vcpus: 16, memory_mib: 8192, cpu_demand: 15}\n"
                "policy:\n"
                "  dpm: {enabled: true, headroom_hosts: 0}\n";
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);

        /* The VMs' peaks: 60 of 128 cores (47 %), inside the band: no standby. */
        Plan *plan = plan_of(p);
        assert_false(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_STANDBY), 0);
        plan_free(plan);

        /* Measured at the percentile: 20 cores (16 %): one host goes; a second would leave two
         * hosts that cannot carry the peaks (60 > 81 % of 64). */
        p->dpm_standby_demand = (ProblemDemand){.set = true, .cpu = 20, .memory_mib = 32768, .samples = 10};
        plan = plan_of(p);
        assert_true(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_STANDBY), 1);
        char *text = NULL;
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        assert_non_null(strstr(text, "standby judged on demand at the 95th percentile of 10 pass(es)"));
        free(text);
        plan_free(plan);

        /* And the other way: the VMs' demands are low (8 of 128 cores) but the statistic is
         * not (a burst in the window): no standby. */
        for (size_t v = 0; v < p->n_vms; v++)
                p->vms[v].cpu_demand = 2;
        p->dpm_standby_demand = (ProblemDemand){.set = true, .cpu = 70, .memory_mib = 32768, .samples = 10};
        plan = plan_of(p);
        assert_false(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_STANDBY), 0);
        plan_free(plan);
}

/* A frozen host (stale reports) may be dead: DPM does not count its capacity, neither to put
 * another host in standby nor against a power-on. */
static void test_frozen_capacity(void **state) {
        /* 3 hosts on, 1 in standby; 40 of 96 cores busy: 42 %, just under the band (45 %). */
        static const char *const yaml =
                "hosts:\n"
                "  - {name: h01, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h02, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h03, cpus: 32, memory_mib: 131072}\n"
                "  - {name: h04, cpus: 32, memory_mib: 131072, state: standby}\n"
                "vms:\n"
                "  - {name: vm01, host: h01, vcpus: 16, memory_mib: 8192, cpu_demand: 14}\n"
                "  - {name: vm02, host: h02, vcpus: 16, memory_mib: 8192, cpu_demand: 13}\n"
                "  - {name: vm03, host: h03, vcpus: 16, memory_mib: 8192, cpu_demand: 13}\n"
                "policy:\n"
                "  dpm: {enabled: true, headroom_hosts: 0, target_utilization: {low: 45%, high: 60%}}\n";
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);

        Plan *plan = plan_of(p);
        assert_true(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_ON), 0);
        plan_free(plan);

        /* h03 stops reporting: 2 hosts' capacity (64 cores) for 40 cores is 63 %, above the
         * band: no standby, and h04 is powered on. */
        p->hosts[tp_host(p, "h03")].frozen = true;
        plan = plan_of(p);
        assert_false(plan->dpm_wants_standby);
        assert_int_equal(n_power(plan, POWER_STANDBY), 0);
        assert_true(plan->dpm_wants_power_on);
        assert_int_equal(n_power(plan, POWER_ON), 1);
        plan_free(plan);
}

/* Issue 15, item 4: a VM that must leave (its host is in maintenance) and is being migrated
 * already is neither moved again nor unplaceable, and does not make the plan partial. */
static void test_in_flight_not_unplaceable(void **state) {
        static const char *const yaml =
                "hosts:\n"
                "  - {name: h01, cpus: 16, memory_mib: 65536, state: maintenance}\n"
                "  - {name: h02, cpus: 16, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: vm01, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1, migrating: true}\n"
                "  - {name: vm02, host: h01, vcpus: 2, memory_mib: 4096, cpu_demand: 1}\n";
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        Plan *plan = plan_of(p);
        assert_int_equal(plan->n_unplaceable, 0);
        assert_int_equal(plan->n_need_in_flight, 1);
        assert_int_equal(plan->n_moves, 1);
        assert_int_equal(plan->moves[0].vm, tp_vm(p, "vm02"));
        assert_int_not_equal(plan->status, PLAN_PARTIAL);
        char *text = NULL;
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        assert_non_null(strstr(text, "in flight: 1 VM(s) that must move are being migrated already"));
        assert_null(strstr(text, "unplaceable"));
        free(text);
        plan_free(plan);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_power_on_held),
                cmocka_unit_test(test_standby_held),
                cmocka_unit_test(test_mandatory_power_on_not_held),
                cmocka_unit_test(test_disabled_wants_nothing),
                cmocka_unit_test(test_quorum_cases),
                cmocka_unit_test(test_quorum_pending_power_off),
                cmocka_unit_test(test_quorum_standalone),
                cmocka_unit_test(test_standby_least_efficient),
                cmocka_unit_test(test_power_on_most_efficient),
                cmocka_unit_test(test_local_overload),
                cmocka_unit_test(test_overload_power_on),
                cmocka_unit_test(test_standby_statistic),
                cmocka_unit_test(test_frozen_capacity),
                cmocka_unit_test(test_in_flight_not_unplaceable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
