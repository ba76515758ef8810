/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* lns_improve(): never worse, never breaks capacity, hard rules or the move budget, leaves fixed
 * VMs alone, deterministic, and survives a GLPK error. Problems come from the benchmark's
 * seeded generator with rules and host states added here. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bound.h"
#include "cluster-gen.h"
#include "glpk-lns-priv.h"
#include "macro.h"
#include "model.h"

/* GLPK's wall-clock limit is only a safety net; under ASan on a loaded machine 0.5 s could
 * fire and make runs differ, so the tests give it room. */
#define SUB_TIME_S 60.0

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);

static char *xstrdup(const char *s) {
        char *d = strdup(s);
        assert_non_null(d);
        return d;
}

/* Appends a VM group of the given VMs and a rule on it. */
static void
add_vm_rule(Problem *p, const char *name, RuleType type, bool hard, const size_t *vms, size_t n) {
        Policy *pol = p->policy;
        char gname[64];
        snprintf(gname, sizeof(gname), "g-%s", name);

        pol->groups = realloc(pol->groups, (pol->n_groups + 1) * sizeof(Group));
        assert_non_null(pol->groups);
        Group *g = &pol->groups[pol->n_groups++];
        *g = (Group){.name = xstrdup(gname), .kind = GROUP_VM};
        for (size_t i = 0; i < n; i++)
                assert_int_equal(strv_extend(&g->members, p->vms[vms[i]].name), 0);
        if (!g->members)
                g->members = calloc(1, sizeof(char *));

        pol->rules = realloc(pol->rules, (pol->n_rules + 1) * sizeof(Rule));
        assert_non_null(pol->rules);
        pol->rules[pol->n_rules++] = (Rule){
                .name = xstrdup(name),
                .type = type,
                .vm_group = xstrdup(gname),
                .hard = hard,
                .enabled = true,
        };
}

/* A small random cluster with rules, a disabled VM, a cooling VM and maybe a host in
 * maintenance; the rules hold in the start. */
static Problem *make_problem(uint64_t seed, unsigned hosts, unsigned vms) {
        Problem *p = NULL;
        ClusterSpec spec = {.n_hosts = hosts, .n_vms = vms, .seed = seed};
        uint64_t rng = seed * 7919 + 13;

        assert_int_equal(cluster_generate(&spec, &p), 0);
        assert_true(p->n_vms > 10);

        /* Hard keep-apart: one VM from each of four different hosts. */
        size_t apart[4], n_apart = 0;
        for (size_t v = 0; v < p->n_vms && n_apart < 4; v++) {
                bool clash = false;
                for (size_t i = 0; i < n_apart; i++)
                        clash |= p->vms[apart[i]].host == p->vms[v].host;
                if (!clash && cluster_rand(&rng) % 3 == 0)
                        apart[n_apart++] = v;
        }
        add_vm_rule(p, "apart", RULE_KEEP_APART, true, apart, n_apart);

        /* Hard keep-together: two VMs already on one host. */
        size_t together[2] = {SIZE_MAX, SIZE_MAX};
        for (size_t v = p->n_vms / 2; v < p->n_vms && together[1] == SIZE_MAX; v++)
                for (size_t w = v + 1; w < p->n_vms; w++)
                        if (p->vms[w].host == p->vms[v].host) {
                                together[0] = v;
                                together[1] = w;
                                break;
                        }
        if (together[1] != SIZE_MAX)
                add_vm_rule(p, "together", RULE_KEEP_TOGETHER, true, together, 2);

        /* Soft keep-apart over a few VMs. */
        size_t soft[3] = {1, 2, 3};
        add_vm_rule(p, "soft-apart", RULE_KEEP_APART, false, soft, 3);

        p->vms[5].last_moved_s = 60; /* in its cooldown */
        p->vms[6].migrating = true;
        if (seed % 3 == 0)
                p->hosts[cluster_rand(&rng) % p->n_hosts].state = HOST_MAINTENANCE;
        return p;
}

static bool shares_host(const Assignment *a, const ModelVmRule *k) {
        for (size_t i = 0; i < k->n_vms; i++)
                for (size_t j = i + 1; j < k->n_vms; j++)
                        if (a->host[k->vms[i]] == a->host[k->vms[j]])
                                return true;
        return false;
}

static bool all_together(const Assignment *a, const ModelVmRule *k) {
        for (size_t i = 1; i < k->n_vms; i++)
                if (a->host[k->vms[i]] != a->host[k->vms[0]])
                        return false;
        return true;
}

static unsigned count_moves(const Model *m, const Assignment *a) {
        unsigned n = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                n += m->initial[v] >= 0 && a->host[v] != m->initial[v];
        return n;
}

/* Every invariant lns_improve() promises, between start s and result a. */
static void check_invariants(const Model *m, const Assignment *s, const Assignment *a, unsigned budget) {
        double mem[1024] = {}, vcpu[1024] = {};
        assert_true(m->n_hosts <= 1024);

        for (size_t v = 0; v < m->n_vms; v++) {
                int h = a->host[v];
                assert_true(h >= 0 && (size_t) h < m->n_hosts);
                mem[h] += m->mem_cfg[v];
                vcpu[h] += m->vcpus[v];
                if (h != s->host[v]) {
                        /* Only movable VMs move, to hosts that accept them under the rules. */
                        assert_false(m->fixed[v]);
                        assert_true(m->may_balance[v]);
                        assert_true(m->target_ok[h]);
                        assert_false(m->must_empty[h]);
                        assert_true(model_allowed(m, v, (size_t) h));
                        assert_true(m->source_ok[s->host[v]]);
                }
        }
        for (size_t h = 0; h < m->n_hosts; h++) {
                /* The running sums match the placement. */
                assert_true(fabs(mem[h] - a->mem_cfg[h]) < 1e-6);
                assert_true(fabs(vcpu[h] - a->vcpu_load[h]) < 1e-6);
                if (s->mem_cfg[h] <= m->mem_limit[h])
                        assert_true(a->mem_cfg[h] <= m->mem_limit[h]);
                if (s->vcpu_load[h] <= m->vcpu_limit[h])
                        assert_true(a->vcpu_load[h] <= m->vcpu_limit[h]);
        }
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                if (!rule->hard)
                        continue;
                if (rule->type == RULE_KEEP_APART && !shares_host(s, rule))
                        assert_false(shares_host(a, rule));
                if (rule->type == RULE_KEEP_TOGETHER && all_together(s, rule))
                        assert_true(all_together(a, rule));
        }
        unsigned start = count_moves(m, s);
        assert_true(count_moves(m, a) <= (budget > start ? budget : start));
        assert_true(assignment_score(m, a) <= assignment_score(m, s) + 1e-12);
}

static void run_case(uint64_t seed, unsigned hosts, unsigned vms, unsigned budget, unsigned rounds) {
        _cleanup_(problem_freep) Problem *p = make_problem(seed, hosts, vms);
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(assignment_done) Assignment s = {}, a = {};
        LnsStats stats = {};

        assert_int_equal(model_build(p, &m), 0);
        assert_int_equal(assignment_init(m, &s), 0);
        assert_int_equal(assignment_copy(m, &s, &a), 0);
        LnsOptions o = {.sub_time_limit_s = SUB_TIME_S, .move_budget = budget, .rounds = rounds};
        assert_int_equal(lns_improve(m, &a, &o, &stats), 0);
        assert_false(stats.glpk_failed);
        assert_true(stats.rounds_run >= 1 && stats.rounds_run <= rounds);
        assert_true(stats.gap >= 0 && stats.gap <= 1);
        check_invariants(m, &s, &a, budget);
        if (stats.lower_bound > 0)
                assert_true(stats.lower_bound <= assignment_imbalance(m, &a) + 1e-9);
}

static void test_invariants_random(void **state) {
        for (uint64_t seed = 1; seed <= 16; seed++)
                run_case(
                        seed, 6 + (unsigned) (seed % 11), 80 + (unsigned) (seed * 13 % 200),
                        (unsigned) (seed * 7 % 30), 3);
}

static void test_improves(void **state) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(assignment_done) Assignment a = {};
        ClusterSpec spec = {.n_hosts = 16, .n_vms = 300, .seed = 1};
        LnsStats stats = {};

        assert_int_equal(cluster_generate(&spec, &p), 0);
        assert_int_equal(model_build(p, &m), 0);
        assert_int_equal(assignment_init(m, &a), 0);
        double before = assignment_score(m, &a);
        LnsOptions o = {.sub_time_limit_s = SUB_TIME_S, .move_budget = 50, .rounds = 4};
        assert_int_equal(lns_improve(m, &a, &o, &stats), 0);
        assert_true(stats.improvements > 0);
        /* From a 0.24 CPU imbalance, four neighbourhoods cut the score at least in half. */
        assert_true(assignment_score(m, &a) < before / 2);
        assert_true(count_moves(m, &a) <= 50);
        /* 16 hosts / 300 VMs is small enough for the LP bound. */
        assert_true(stats.lower_bound >= 0);
        assert_true(stats.lower_bound <= assignment_imbalance(m, &a) + 1e-9);
}

/* bound_imbalance(): below every plan found within the budget, and at least the GLPK LP of the
 * same relaxation (which under-estimates the squares by tangents), up to rounding. */
static void test_bound(void **state) {
        static const ClusterSpec specs[] = {
                {.n_hosts = 16, .n_vms = 300, .seed = 1},
                {.n_hosts = 16, .n_vms = 300, .seed = 2, .mem_fill = 0.97},
                {.n_hosts = 32, .n_vms = 1000, .seed = 3},
                {.n_hosts = 8, .n_vms = 60, .seed = 4},
        };
        static const unsigned budgets[] = {0, 1, 5, 50, 400};

        for (size_t i = 0; i < ELEMENTSOF(specs); i++)
                for (size_t j = 0; j < ELEMENTSOF(budgets); j++) {
                        _cleanup_(problem_freep) Problem *p = NULL;
                        _cleanup_(model_freep) Model *m = NULL;
                        _cleanup_(assignment_done) Assignment a = {};
                        double lb, lp;

                        assert_int_equal(cluster_generate(&specs[i], &p), 0);
                        assert_int_equal(model_build(p, &m), 0);
                        assert_int_equal(assignment_init(m, &a), 0);
                        assert_int_equal(bound_imbalance(m, &a, budgets[j], &lb), 0);
                        assert_true(lb >= 0);
                        /* With no move the bound is the imbalance itself. */
                        if (budgets[j] == 0)
                                assert_true(fabs(lb - assignment_imbalance(m, &a)) < 1e-6);
                        if (lns_lower_bound(m, budgets[j], &lp) == 0) {
                                if (lb < lp - 1e-4)
                                        fail_msg(
                                                "spec %zu budget %u: bound %g below the LP's %g", i,
                                                budgets[j], lb, lp);
                        }
                        LnsOptions o = {
                                .sub_time_limit_s = SUB_TIME_S, .move_budget = budgets[j], .rounds = 2};
                        LnsStats st = {};
                        assert_int_equal(lns_improve(m, &a, &o, &st), 0);
                        if (lb > assignment_imbalance(m, &a) + 1e-9)
                                fail_msg(
                                        "spec %zu budget %u: bound %g above a plan's %g", i, budgets[j], lb,
                                        assignment_imbalance(m, &a));
                }
}

static void test_deterministic(void **state) {
        int *first = NULL;
        LnsStats st[2] = {};
        size_t n = 0;

        for (int run = 0; run < 2; run++) {
                _cleanup_(problem_freep) Problem *p = make_problem(42, 12, 250);
                _cleanup_(model_freep) Model *m = NULL;
                _cleanup_(assignment_done) Assignment a = {};
                assert_int_equal(model_build(p, &m), 0);
                assert_int_equal(assignment_init(m, &a), 0);
                LnsOptions o = {.sub_time_limit_s = SUB_TIME_S, .move_budget = 20, .rounds = 5};
                assert_int_equal(lns_improve(m, &a, &o, &st[run]), 0);
                if (run == 0) {
                        n = m->n_vms;
                        first = malloc(n * sizeof(int));
                        assert_non_null(first);
                        memcpy(first, a.host, n * sizeof(int));
                } else {
                        assert_int_equal(n, m->n_vms);
                        assert_memory_equal(first, a.host, n * sizeof(int));
                }
        }
        assert_int_equal(st[0].rounds_run, st[1].rounds_run);
        assert_int_equal(st[0].improvements, st[1].improvements);
        assert_true(st[0].gap == st[1].gap);
        free(first);
}

/* GLPK raises an internal error in round 2: the error hook longjmps back, the environment is
 * freed, and the result is the valid assignment of round 1 (ASan checks for leaks). */
static void test_glpk_error(void **state) {
        _cleanup_(problem_freep) Problem *p = make_problem(7, 10, 200);
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(assignment_done) Assignment s = {}, a = {}, b = {};
        LnsStats stats = {}, one = {};

        assert_int_equal(model_build(p, &m), 0);
        assert_int_equal(assignment_init(m, &s), 0);
        assert_int_equal(assignment_copy(m, &s, &a), 0);
        assert_int_equal(assignment_copy(m, &s, &b), 0);

        LnsOptions o = {.sub_time_limit_s = SUB_TIME_S, .move_budget = 20, .rounds = 6};
        LnsTestHooks hooks = {.glpk_error_at_round = 2, .no_exchange = true};
        assert_int_equal(lns_improve_full(m, &a, &o, &hooks, &stats), 0);
        assert_true(stats.glpk_failed);
        assert_int_equal(stats.rounds_run, 2);
        check_invariants(m, &s, &a, 20);

        /* Same as one clean round. */
        LnsOptions o1 = {.sub_time_limit_s = SUB_TIME_S, .move_budget = 20, .rounds = 1};
        LnsTestHooks no_lb = {.no_lower_bound = true, .no_exchange = true};
        assert_int_equal(lns_improve_full(m, &b, &o1, &no_lb, &one), 0);
        assert_false(one.glpk_failed);
        assert_memory_equal(a.host, b.host, m->n_vms * sizeof(int));

        /* An error in the very first round leaves the start untouched; GLPK works again after. */
        _cleanup_(assignment_done) Assignment c = {};
        assert_int_equal(assignment_copy(m, &s, &c), 0);
        hooks.glpk_error_at_round = 1;
        assert_int_equal(lns_improve_full(m, &c, &o, &hooks, &stats), 0);
        assert_true(stats.glpk_failed);
        assert_memory_equal(c.host, s.host, m->n_vms * sizeof(int));
        assert_int_equal(lns_improve(m, &c, &o, &stats), 0);
        assert_false(stats.glpk_failed);
        check_invariants(m, &s, &c, 20);
}

/* Nothing may move: budget 0, or every VM disabled, or one host. */
static void test_nothing_to_do(void **state) {
        for (int variant = 0; variant < 3; variant++) {
                _cleanup_(problem_freep) Problem *p = make_problem(3, variant == 2 ? 1 : 8, 120);
                _cleanup_(model_freep) Model *m = NULL;
                _cleanup_(assignment_done) Assignment s = {}, a = {};
                LnsStats stats = {};

                if (variant == 1)
                        p->automation = AUTOMATION_PARTIAL; /* no balancing at all */
                assert_int_equal(model_build(p, &m), 0);
                assert_int_equal(assignment_init(m, &s), 0);
                assert_int_equal(assignment_copy(m, &s, &a), 0);
                LnsOptions o = {
                        .sub_time_limit_s = SUB_TIME_S, .move_budget = variant == 0 ? 0 : 10, .rounds = 3};
                assert_int_equal(lns_improve(m, &a, &o, &stats), 0);
                assert_false(stats.glpk_failed);
                assert_memory_equal(a.host, s.host, m->n_vms * sizeof(int));
                assert_int_equal(stats.improvements, 0);
        }
}

/* A start over the move budget (mandatory moves made before) never gets more moves. */
static void test_budget_already_used(void **state) {
        _cleanup_(problem_freep) Problem *p = make_problem(11, 10, 200);
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(assignment_done) Assignment s = {}, a = {};
        LnsStats stats = {};

        assert_int_equal(model_build(p, &m), 0);
        assert_int_equal(assignment_init(m, &s), 0);
        /* Five balance moves already planned, by hand, where they fit. */
        unsigned made = 0;
        for (size_t v = 10; v < m->n_vms && made < 5; v++) {
                if (!m->may_balance[v])
                        continue;
                for (size_t h = 0; h < m->n_hosts; h++)
                        if ((int) h != s.host[v] && assignment_fits(m, &s, v, h, NULL)) {
                                assignment_move(m, &s, v, h);
                                made++;
                                break;
                        }
        }
        assert_int_equal(made, 5);
        assert_int_equal(assignment_copy(m, &s, &a), 0);
        LnsOptions o = {.sub_time_limit_s = SUB_TIME_S, .move_budget = 3, .rounds = 4};
        assert_int_equal(lns_improve(m, &a, &o, &stats), 0);
        assert_true(count_moves(m, &a) <= 5);
        assert_true(assignment_score(m, &a) <= assignment_score(m, &s) + 1e-12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invariants_random),
                cmocka_unit_test(test_improves),
                cmocka_unit_test(test_bound),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_glpk_error),
                cmocka_unit_test(test_nothing_to_do),
                cmocka_unit_test(test_budget_already_used),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
