/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* solver_plan(): one pass of balance, evacuation, rules and DPM.
 *
 *   1. model_build(), assignment_init(); the "before" metrics.
 *   2. Mandatory moves (greedy_mandatory()): VMs on hosts in maintenance or standby, VMs that
 *      break a hard VM–host rule, hard keep-apart and keep-together violations. Not limited by
 *      max_moves_per_pass: the budget caps balance moves only.
 *   3. DPM (dpm_run(), when enabled): power-ons and consolidation onto fewer hosts, on a working
 *      copy of the host flags (chosen hosts become must_empty).
 *   4. Balance (greedy_balance()), when the cluster level is full or manual (manual: the moves
 *      are recommendations) and the weighted imbalance exceeds the aggressiveness threshold, or
 *      a soft rule is broken (then only VMs that break one may move; such moves are "balance"
 *      moves and need min_gain like any other: the penalty is part of the objective), or DPM powered a host
 * on (balance then fills it, reason dpm).
 *   5. prune_small_moves() reverts greedy's balance moves that contribute less than
 *      model_min_gain() to the plan; then, unless opts->greedy_only or balance did not run,
 *      lns_improve() (GLPK on neighbourhoods, see glpk-lns.c) with the whole budget: mandatory
 *      moves made plus the balance budget left (LNS counts every VM away from its initial
 *      host); keep_executable() takes back voluntary moves the orderer could not sequence;
 *      ls_improve() (single moves and swaps on the exact objective, see local-search.c) with
 *      the same budget, keeping the plan sequenceable; prune_small_moves() and
 *      keep_executable() again. If that does not beat greedy's pruned plan
 *      (assignment_score()), greedy's plan is used and the plan says "greedy". Pruning
 *      reverts a hard keep-together unit whole or not at all. If anything is unplaceable,
 *      greedy_mandatory() runs again on the result: balance may have made the room it lacked.
 *   6. Moves = VMs whose final host differs from the initial one (a VM moved twice by greedy is
 *      one move), ordered in waves (order_plan()); reason maintenance > rule > dpm > balance.
 *      When ordering drops moves while mandatory work is undone, mandatory work runs again on
 *      what the steps leave and that is ordered (at most ORDER_RETRIES times). A dropped
 *      mandatory move is reported unplaceable with the orderer's reason (full host or the
 *      hard keep-apart rule that blocked it).
 *      Per-move gain: the move's contribution to the final plan — how much the objective
 *      (weighted imbalance + soft-rule penalties) would be worse with that VM left on its
 *      initial host and every other move made. After prune_small_moves() every balance move
 *      whose revert fits has a gain of at least model_min_gain(); a mandatory move may show a
 *      negative gain (an evacuation onto busier hosts).
 *   7. Status: partial when anything is unplaceable; no_action when nothing moves or powers;
 *      optimal only when LNS ran and its gap against the LP lower bound is 0; else feasible.
 *
 * Deterministic: every loop is in index order, ties go to the lowest index, no hashing; the
 * caller's clock only bounds LNS as a safety net. */

#include <errno.h>
#include <math.h>

#include "bound.h"
#include "dpm.h"
#include "greedy.h"
#include "lns.h"
#include "local-search.h"
#include "macro.h"
#include "order.h"
#include "solver-internal.h"

#define LNS_SUB_TIME_LIMIT_S 2.0 /* a safety net only: the work per sub-MIP is bounded by nodes */
#define DEFAULT_TIME_LIMIT_S 5.0
#define ORDER_RETRIES 2
/* A balancing plan brings the weighted imbalance down to this share of the aggressiveness
 * threshold, not further (StableCheck.target). */
#define BALANCE_TARGET_SHARE 0.5 /* plan_fill(): mandatory work re-run on what ordering could execute */

DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Greedy *, greedy_free);

static int unplaceable_cmp(const void *x, const void *y) {
        const PlanUnplaceable *a = x, *b = y;
        return a->vm < b->vm ? -1 : a->vm > b->vm;
}

static int power_cmp(const void *x, const void *y) {
        const PlanPower *a = x, *b = y;
        if (a->wave != b->wave)
                return a->wave < b->wave ? -1 : 1;
        return a->host < b->host ? -1 : a->host > b->host;
}

static bool balance_allowed(const Problem *p) {
        return p->policy->balance.enabled &&
               (p->automation == AUTOMATION_FULL || p->automation == AUTOMATION_MANUAL);
}

static unsigned count_balance_moved(const Model *m, const Assignment *a, const MoveTag *tags) {
        unsigned n = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (a->host[v] != m->initial[v] && !tags[v].mandatory)
                        n++;
        return n;
}

/* The exact-objective local search, with the budget LNS had (every VM away from its initial
 * host counts; see run_lns()). */
static int
run_ls(const Model *m, Assignment *a, const SolverOptions *opts, const Greedy *g, const DpmResult *dpm,
       unsigned move_budget, StableCheck *stable, LsStats *ret_stats) {
        _cleanup_free_ bool *mandatory = calloc(m->n_vms ? m->n_vms : 1, sizeof(bool));
        if (!mandatory)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++)
                mandatory[v] = g->tags[v].mandatory;
        LsOptions lo = {
                .mandatory = mandatory,
                .late_host = dpm->power_on,
                .move_budget = move_budget,
                .min_gain = model_min_gain(m),
                .stable = stable,
                .time_limit_s = opts->time_limit_s > 0 ? opts->time_limit_s : DEFAULT_TIME_LIMIT_S,
                .clock_us = opts->clock_us,
                .clock_userdata = opts->clock_userdata,
        };
        return ls_improve(m, a, &lo, ret_stats);
}

static unsigned count_moved(const Model *m, const Assignment *a) {
        unsigned n = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                n += m->initial[v] >= 0 && a->host[v] != m->initial[v];
        return n;
}

static int
run_lns(const Model *m, Assignment *a, const SolverOptions *opts, unsigned budget_left,
        LnsStats *ret_stats) {
        size_t moved = 0, n_counted = 0, n_movable = 0;

        for (size_t v = 0; v < m->n_vms; v++) {
                moved += a->host[v] != m->initial[v];
                n_movable += m->may_balance[v];
        }
        for (size_t h = 0; h < m->n_hosts; h++)
                n_counted += m->counted[h];
        if (n_counted < 2 || n_movable == 0)
                return 0; /* trivial: nothing LNS could do */

        LnsOptions lo = {
                .move_budget = (unsigned) moved + budget_left,
                .rounds = opts->effort,
                .no_mip = opts->no_glpk,
                .no_bound = true,
                .sub_time_limit_s = LNS_SUB_TIME_LIMIT_S,
                .time_limit_s = opts->time_limit_s > 0 ? opts->time_limit_s : DEFAULT_TIME_LIMIT_S,
                .clock_us = opts->clock_us,
                .clock_userdata = opts->clock_userdata,
        };
        return lns_improve(m, a, &lo, ret_stats);
}

/* May prune_small_moves() send v back to its initial host? A balance move only. */
static bool
prunable(const Model *m, const Assignment *a, const MoveTag *tags, const DpmResult *dpm, size_t v) {
        int i = m->initial[v];
        return i >= 0 && a->host[v] != i && !tags[v].mandatory && tags[v].reason != REASON_DPM &&
               m->may_balance[v] && !m->must_empty[i] && !dpm->standby[i] && !dpm->power_on[a->host[v]];
}

/* Sends the hard keep-together unit of head back to its initial host (the members that moved),
 * if that is a legal revert: the unit started together, every member away from it may be
 * pruned, and each one fits back, the earlier ones back. On success returns true with the
 * score change in *ret_delta and the unit moved back; else everything stays. from: scratch,
 * n_vms; on return the members' hosts before the call (for unit_unrevert()). */
static bool unit_revert(
        const Model *m, Assignment *a, const Greedy *g, const DpmResult *dpm, size_t head, int *from,
        double *ret_delta) {
        int home = m->initial[head];
        size_t n = 0;
        double d = 0;
        bool ok = home >= 0;

        for (size_t u = head; ok && u != SIZE_MAX; u = g->unit_next[u]) {
                ok = m->initial[u] == home;
                if (ok && a->host[u] != home) {
                        ok = prunable(m, a, g->tags, dpm, u);
                        n++;
                }
        }
        if (!ok || n == 0)
                return false;

        /* Tentatively, in member order; undone on failure. */
        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u])
                from[u] = a->host[u];
        for (size_t u = head; ok && u != SIZE_MAX; u = g->unit_next[u]) {
                if (a->host[u] == home)
                        continue;
                if (!assignment_fits(m, a, u, (size_t) home, NULL)) {
                        ok = false;
                        break;
                }
                d += assignment_move_delta(m, a, u, (size_t) home);
                assignment_move(m, a, u, (size_t) home);
        }
        if (!ok)
                for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u])
                        if (a->host[u] != from[u])
                                assignment_move(m, a, u, (size_t) from[u]);
        *ret_delta = d;
        return ok;
}

/* Undoes unit_revert(): the members back to from (their hosts before it). */
static void unit_unrevert(const Model *m, Assignment *a, const Greedy *g, size_t head, const int *from) {
        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u])
                if (a->host[u] != from[u])
                        assignment_move(m, a, u, (size_t) from[u]);
}

/* The objective the plan is judged on: the imbalance above target, plus soft-rule penalties. */
static double target_score(const Model *m, const Assignment *a, double target) {
        double imb = assignment_imbalance(m, a);
        return assignment_score(m, a) - imb + fmax(imb - target, 0);
}

/* How many moves ordering drops from the plan a holds and how many hops it routes through
 * (hops: what the balance budget leaves, as keep_executable()). */
static int count_dropped(
        const Model *m, const Assignment *a, const Greedy *g, const DpmResult *dpm, size_t *ret,
        unsigned *ret_hops) {
        _cleanup_(order_result_done) OrderResult ord = {};
        _cleanup_free_ bool *mandatory = calloc(m->n_vms ? m->n_vms : 1, sizeof(bool));
        unsigned max = m->problem->policy->balance.max_moves_per_pass, used = 0;

        if (!mandatory)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++) {
                mandatory[v] = g->tags[v].mandatory;
                used += a->host[v] != m->initial[v] && !mandatory[v];
        }
        OrderInput in = {
                .initial = m->initial,
                .final = a->host,
                .mandatory = mandatory,
                .late_host = dpm->power_on,
                .hop_budget = used < max ? max - used : 0,
        };
        int r = order_plan(m, &in, &ord);
        if (r < 0)
                return r;
        *ret = ord.n_dropped;
        *ret_hops = ord.hops_used;
        return 0;
}

/* LNS optimizes the plan as a whole and knows no per-move minimum gain: afterwards, balance
 * moves whose own contribution (how much worse the final score would be with that VM back on
 * its initial host) is below model_min_gain() are reverted, smallest contribution first, until
 * every balance move left earns its keep. The contribution is the lower of the one on the
 * measured demands and the one on the demands that have held (stable, see StableCheck): a
 * gain that rests on a burst that just began or just ended is not kept. Mandatory and DPM moves are never
 * reverted. A hard keep-together unit is reverted whole or not at all (its members back on their common
 * initial host; the contribution is the whole unit's): reverting one member would split it. */
static int prune_small_moves(
        const Model *m, Assignment *a, const Greedy *g, const DpmResult *dpm, StableCheck *stable) {
        double min_gain = model_min_gain(m);
        _cleanup_free_ int *from = calloc(m->n_vms ? m->n_vms : 1, sizeof(int));
        _cleanup_free_ bool *skip = calloc(m->n_vms ? m->n_vms : 1, sizeof(bool));
        size_t base_dropped = 0;
        unsigned hops = 0;
        int r;

        if (!from || !skip)
                return -ENOMEM;
        if (stable) {
                r = count_dropped(m, a, g, dpm, &base_dropped, &hops);
                if (r < 0)
                        return r;
        }
        for (size_t round = 0; round < m->n_vms; round++) {
                size_t worst = SIZE_MAX;
                double worst_gain = min_gain, worst_raw = INFINITY;

                stable_check_sync(m, a, stable);

                for (size_t v = 0; v < m->n_vms; v++) {
                        double gain, raw;
                        if (greedy_in_unit(g, v)) {
                                if (g->unit_head[v] != v)
                                        continue;
                                if (!unit_revert(m, a, g, dpm, v, from, &gain))
                                        continue;
                                unit_unrevert(m, a, g, v, from);
                                raw = gain;
                        } else {
                                if (skip[v] || !prunable(m, a, g->tags, dpm, v))
                                        continue;
                                size_t i = (size_t) m->initial[v];
                                gain = stable_check_gain(m, a, stable, v, i, &raw);
                                if (gain >= min_gain || !assignment_fits(m, a, v, i, NULL))
                                        continue;
                        }
                        /* The smallest gain first; among equal ones (0 under the target) the
                         * smallest plain gain. */
                        if (gain > worst_gain || (gain == worst_gain && raw >= worst_raw))
                                continue;
                        worst = v;
                        worst_gain = gain;
                        worst_raw = raw;
                }
                if (worst == SIZE_MAX)
                        return 0;
                if (greedy_in_unit(g, worst)) {
                        double d;
                        (void) unit_revert(m, a, g, dpm, worst, from, &d);
                        continue;
                }
                int back = a->host[worst];
                assignment_move(m, a, worst, (size_t) m->initial[worst]);
                if (!stable)
                        continue;
                /* A move kept for the imbalance above the target may be half of a swap or make
                 * room for another: its revert must leave a plan ordering runs as it is, with no
                 * more hops (as the local search's pruning). */
                size_t dropped;
                unsigned h;
                r = count_dropped(m, a, g, dpm, &dropped, &h);
                if (r < 0)
                        return r;
                if (dropped > base_dropped || h > hops) {
                        assignment_move(m, a, worst, (size_t) back);
                        skip[worst] = true;
                } else
                        hops = h;
        }
        return 0;
}

/* Keeps of the voluntary moves what ordering can execute: a voluntary move the orderer drops (a
 * swap between full hosts with no host to hop through, …) is taken back, its VM where the
 * steps leave it, so that the local search and the choice against greedy's plan see the plan
 * that will run. Mandatory moves stay: plan_fill() re-runs mandatory work on what the steps
 * leave. Hops: what the balance budget leaves, as plan_fill(). */
static int keep_executable(const Model *m, Assignment *a, const Greedy *g, const DpmResult *dpm) {
        _cleanup_(order_result_done) OrderResult ord = {};
        _cleanup_free_ bool *mandatory = calloc(m->n_vms ? m->n_vms : 1, sizeof(bool));
        _cleanup_free_ int *final = calloc(m->n_vms ? m->n_vms : 1, sizeof(int));
        unsigned max = m->problem->policy->balance.max_moves_per_pass, used = 0;
        int r;

        if (!mandatory || !final)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++) {
                mandatory[v] = g->tags[v].mandatory;
                final[v] = a->host[v];
                used += a->host[v] != m->initial[v] && !mandatory[v];
        }
        OrderInput in = {
                .initial = m->initial,
                .final = final,
                .mandatory = mandatory,
                .late_host = dpm->power_on,
                .hop_budget = used < max ? max - used : 0,
        };
        r = order_plan(m, &in, &ord);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ord.n_dropped; i++) {
                size_t v = ord.dropped[i];
                if (!mandatory[v] && ord.final[v] >= 0 && a->host[v] != ord.final[v])
                        assignment_move(m, a, v, (size_t) ord.final[v]);
        }
        return 0;
}

/* Why ordering dropped the mandatory move of ord->dropped[i] (to dest) before it started. */
static char *dropped_why(const Model *m, const OrderResult *ord, size_t i, size_t dest) {
        const Problem *p = m->problem;
        size_t v = ord->dropped[i];
        int k = ord->dropped_rule ? ord->dropped_rule[i] : -1;

        if (k < 0 || (size_t) k >= p->policy->n_rules)
                return solver_strdup_printf(
                        "could not be sequenced: '%s' stays full until it would have room (a cycle between full hosts, no host with room to pass through)",
                        p->hosts[dest].name);

        /* The member of the rule still on the destination (ord->final: where the steps leave it). */
        const char *other = NULL;
        for (size_t r = 0; r < m->n_vm_rules && !other; r++) {
                const ModelVmRule *rule = &m->vm_rules[r];
                if (rule->rule != (size_t) k)
                        continue;
                for (size_t j = 0; j < rule->n_vms && !other; j++)
                        if (rule->vms[j] != v && ord->final[rule->vms[j]] == (int) dest)
                                other = p->vms[rule->vms[j]].name;
        }
        if (other)
                return solver_strdup_printf(
                        "could not be sequenced: rule '%s' (hard keep-apart): '%s' stays on '%s' until it has left, and no host free of the rule's members has room to pass through",
                        p->policy->rules[k].name, other, p->hosts[dest].name);
        return solver_strdup_printf(
                "could not be sequenced: rule '%s' (hard keep-apart): a member stays on '%s' until it has left, and no host free of the rule's members has room to pass through",
                p->policy->rules[k].name, p->hosts[dest].name);
}

/* Plan moves, power actions and unplaceable VMs from the final assignment. */
static int plan_fill(
        Plan *plan, const Model *m, Assignment *a, Greedy *g, const DpmResult *dpm,
        const MoveReason *host_reason, unsigned hop_budget) {
        const Problem *p = m->problem;
        _cleanup_(order_result_done) OrderResult ord = {};
        _cleanup_free_ bool *mandatory = calloc(m->n_vms ? m->n_vms : 1, sizeof(bool));
        _cleanup_free_ int *final = calloc(m->n_vms ? m->n_vms : 1, sizeof(int));
        int r;

        if (!mandatory || !final)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++) {
                final[v] = a->host[v];
                mandatory[v] = g->tags[v].mandatory;
        }

        OrderInput in = {
                .initial = m->initial,
                .final = final,
                .mandatory = mandatory,
                .late_host = dpm->power_on,
                .hop_budget = hop_budget,
        };
        for (unsigned attempt = 0;; attempt++) {
                r = order_plan(m, &in, &ord);
                if (r < 0)
                        return r;

                /* Ordering dropped moves (their VMs stay): the room they would have freed or
                 * taken is where it was. If mandatory work is left undone, run it again on what
                 * the steps really leave, then order that: a VM that did not fit (or whose move
                 * depended on a dropped one) may have a place now. */
                bool changed = false, undone = g->unplaceable.n > 0;
                for (size_t v = 0; v < m->n_vms; v++) {
                        changed = changed || ord.final[v] != final[v];
                        undone = undone || (mandatory[v] && ord.final[v] != final[v]);
                }
                if (!changed || !undone || attempt >= ORDER_RETRIES)
                        break;
                for (size_t v = 0; v < m->n_vms; v++) {
                        if (ord.final[v] < 0 || a->host[v] == ord.final[v])
                                continue;
                        assignment_move(m, a, v, (size_t) ord.final[v]);
                        if (ord.final[v] == m->initial[v])
                                g->tags[v] = (MoveTag){.reason = REASON_BALANCE, .rule = -1};
                }
                unplaceable_list_done(&g->unplaceable);
                r = greedy_mandatory(g, host_reason);
                if (r < 0)
                        return r;
                for (size_t v = 0; v < m->n_vms; v++) {
                        final[v] = a->host[v];
                        mandatory[v] = g->tags[v].mandatory;
                }
                order_result_done(&ord);
        }

        plan->n_need_in_flight = g->n_need_in_flight;
        /* Unplaceable: greedy's, and mandatory moves ordering had to drop before they started. */
        for (size_t i = 0; i < g->unplaceable.n; i++) {
                r = plan_add_unplaceable(
                        plan, g->unplaceable.items[i].vm, strdup(g->unplaceable.items[i].why));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ord.n_dropped; i++) {
                size_t v = ord.dropped[i];
                if (!mandatory[v] || ord.final[v] != m->initial[v])
                        continue;
                char *why = dropped_why(m, &ord, i, (size_t) final[v]);
                r = plan_add_unplaceable(plan, v, why);
                if (r < 0)
                        return r;
        }
        if (plan->n_unplaceable > 1)
                qsort(plan->unplaceable, plan->n_unplaceable, sizeof(PlanUnplaceable), unplaceable_cmp);

        plan->moves = calloc(ord.n_steps ? ord.n_steps : 1, sizeof(PlanMove));
        if (!plan->moves)
                return -ENOMEM;
        for (size_t i = 0; i < ord.n_steps; i++) {
                const OrderStep *s = &ord.steps[i];
                const MoveTag *t = &g->tags[s->vm];
                PlanMove *pm = &plan->moves[plan->n_moves];
                MoveReason reason = t->reason;

                if (!t->mandatory)
                        reason = dpm->power_on[final[s->vm]] ? REASON_DPM : REASON_BALANCE;
                *pm = (PlanMove){
                        .wave = s->wave,
                        .vm = s->vm,
                        .from = s->from,
                        .to = s->to,
                        .reason = reason,
                        .memory_mib = p->vms[s->vm].memory_mib,
                        .disk_copy_mib = p->vms[s->vm].local_disk_mib,
                        .recommendation = m->recommend_only[s->vm],
                };
                plan->n_moves++;
                if (reason == REASON_RULE) {
                        int k = t->rule;
                        pm->rule = strdup(
                                k >= 0 && (size_t) k < p->policy->n_rules ? p->policy->rules[k].name : "?");
                        if (!pm->rule)
                                return -ENOMEM;
                }
        }

        /* The final assignment is what ordering could execute. */
        for (size_t v = 0; v < m->n_vms; v++)
                if (ord.final[v] >= 0 && a->host[v] != ord.final[v])
                        assignment_move(m, a, v, (size_t) ord.final[v]);

        /* Gain of a move: its contribution to the final plan, i.e. how much the objective would
         * be worse with that VM back on its initial host and everything else as planned. Carried
         * by a VM's last step (an intermediate hop shows 0). */
        for (size_t i = 0; i < plan->n_moves; i++) {
                PlanMove *pm = &plan->moves[i];
                int init = m->initial[pm->vm];
                if (init >= 0 && (int) pm->to == a->host[pm->vm])
                        pm->gain = assignment_move_delta(m, a, pm->vm, (size_t) init);
        }

        /* Power: on in wave 1; standby in the wave after the host's last evacuation step. */
        plan->power = calloc(m->n_hosts ? m->n_hosts : 1, sizeof(PlanPower));
        if (!plan->power)
                return -ENOMEM;
        for (size_t h = 0; h < m->n_hosts; h++) {
                if (dpm->power_on[h])
                        plan->power[plan->n_power++] = (PlanPower){.host = h, .action = POWER_ON, .wave = 1};
                if (!dpm->standby[h] || a->count[h] > 0)
                        continue; /* a standby host ordering could not empty stays on */
                unsigned wave = 0;
                for (size_t i = 0; i < ord.n_steps; i++)
                        if (ord.steps[i].from == h && ord.steps[i].wave > wave)
                                wave = ord.steps[i].wave;
                plan->power[plan->n_power++] =
                        (PlanPower){.host = h, .action = POWER_STANDBY, .wave = wave + 1};
        }
        if (plan->n_power > 1)
                qsort(plan->power, plan->n_power, sizeof(PlanPower), power_cmp);
        return 0;
}

/* A powered host whose CPU demand is above balance.overload of its capacity: balance relieves
 * it whatever the cluster's imbalance. */
static bool any_overloaded(const Model *m, const Assignment *a) {
        double th = m->problem->policy->balance.overload;
        for (size_t h = 0; h < m->n_hosts; h++)
                if (m->counted[h] && a->cpu_load[h] > th * m->cpu_cap[h] + 1e-9)
                        return true;
        return false;
}

int solver_plan(const Problem *p, const SolverOptions *opts, Plan **ret) {
        static const SolverOptions default_opts = {};
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(greedy_freep) Greedy *g = NULL;
        _cleanup_(dpm_result_done) DpmResult dpm = {};
        _cleanup_(assignment_done) Assignment a = {};
        _cleanup_free_ MoveReason *host_reason = NULL;
        _cleanup_(stable_check_done) StableCheck stable = {};
        const BalancePolicy *bp = &p->policy->balance;
        LnsStats stats = {};
        LsStats ls_stats = {};
        bool lns_ran = false, searched = false;
        unsigned total_budget = 0;
        int r;

        if (!opts)
                opts = &default_opts;

        r = plan_new(&plan);
        if (r < 0)
                return r;
        r = model_build(p, &m);
        if (r < 0)
                return r;
        r = assignment_init(m, &a);
        if (r < 0)
                return r;
        assignment_metrics(m, &a, &plan->before);

        host_reason = calloc(m->n_hosts ? m->n_hosts : 1, sizeof(MoveReason));
        if (!host_reason)
                return -ENOMEM;
        for (size_t h = 0; h < m->n_hosts; h++)
                host_reason[h] = p->hosts[h].state == HOST_STANDBY ? REASON_DPM : REASON_MAINTENANCE;

        r = greedy_new(m, &a, &g);
        if (r < 0)
                return r;
        r = greedy_mandatory(g, host_reason);
        if (r < 0)
                return r;

        r = dpm_run(m, g, host_reason, &dpm);
        if (r < 0)
                return r;

        bool balance_ran = false;
        if (balance_allowed(p)) {
                bool imbalanced =
                        dpm.n_power_on > 0 ||
                        assignment_imbalance(m, &a) > policy_imbalance_threshold(bp->aggressiveness);
                if (!imbalanced && any_overloaded(m, &a)) {
                        /* Under the threshold but a host is overloaded: relieve it, nothing more. */
                        r = greedy_relieve(g, bp->max_moves_per_pass, bp->overload, dpm.power_on);
                        if (r < 0)
                                return r;
                }
                bool soft_broken = assignment_score(m, &a) - assignment_imbalance(m, &a) > 1e-9;
                if (imbalanced || soft_broken) {
                        r = greedy_balance(
                                g, bp->max_moves_per_pass, model_min_gain(m), dpm.power_on, !imbalanced);
                        if (r < 0)
                                return r;
                        balance_ran = imbalanced;
                }
        }

        if (balance_ran) {
                r = stable_check_init(
                        m, BALANCE_TARGET_SHARE * policy_imbalance_threshold(bp->aggressiveness), &stable);
                if (r < 0)
                        return r;
                r = prune_small_moves(m, &a, g, &dpm, &stable);
                if (r < 0)
                        return r;
        }

        if (balance_ran && !opts->greedy_only) {
                /* Greedy's pruned plan is the fallback: the final plan is never worse. */
                _cleanup_(assignment_done) Assignment greedy_a = {};
                r = keep_executable(m, &a, g, &dpm);
                if (r < 0)
                        return r;
                r = assignment_copy(m, &a, &greedy_a);
                if (r < 0)
                        return r;
                double greedy_score = target_score(m, &greedy_a, stable.target);
                unsigned greedy_moved = count_moved(m, &greedy_a);
                unsigned used = count_balance_moved(m, &a, g->tags);
                unsigned left = used < bp->max_moves_per_pass ? bp->max_moves_per_pass - used : 0;
                total_budget = count_moved(m, &a) + left;
                searched = true;
                r = run_lns(m, &a, opts, left, &stats);
                if (r < 0)
                        return r;
                lns_ran = stats.improvements > 0 || stats.exchanges > 0;
                r = keep_executable(m, &a, g, &dpm);
                if (r < 0)
                        return r;
                r = run_ls(m, &a, opts, g, &dpm, total_budget, &stable, &ls_stats);
                if (r < 0)
                        return r;
                lns_ran = lns_ran || ls_stats.improved;
                r = prune_small_moves(m, &a, g, &dpm, &stable);
                if (r < 0)
                        return r;
                r = keep_executable(m, &a, g, &dpm);
                if (r < 0)
                        return r;
                /* LNS counts every VM away from its initial host against one budget; if it
                 * traded a mandatory move for a balance move (a keep-apart partner moved instead),
                 * the balance budget could be exceeded: then greedy's plan too. */
                double score = target_score(m, &a, stable.target);
                bool better = score < greedy_score - 1e-12 ||
                              (score < greedy_score + 1e-12 &&
                               (count_moved(m, &a) < greedy_moved ||
                                (count_moved(m, &a) == greedy_moved &&
                                 assignment_score(m, &a) < assignment_score(m, &greedy_a) - 1e-12)));
                if (!better || (count_balance_moved(m, &a, g->tags) > bp->max_moves_per_pass &&
                                count_balance_moved(m, &a, g->tags) > used)) {
                        /* LNS + pruning did not beat greedy: greedy's plan, greedy's name. */
                        Assignment t = a;
                        a = greedy_a;
                        greedy_a = t;
                        lns_ran = false;
                }
        }

        if (g->unplaceable.n > 0) {
                /* Balance (or LNS) may have made the room mandatory work lacked: a move off a
                 * full host, when the VM that must leave did not fit anywhere before it. Mandatory
                 * work comes first: run it again on the final placement (idempotent when nothing
                 * changed), which also words what is still unplaceable by the final placement. */
                unplaceable_list_done(&g->unplaceable);
                r = greedy_mandatory(g, host_reason);
                if (r < 0)
                        return r;
        }

        unsigned used = count_balance_moved(m, &a, g->tags);
        r = plan_fill(
                plan, m, &a, g, &dpm, host_reason,
                used < bp->max_moves_per_pass ? bp->max_moves_per_pass - used : 0);
        if (r < 0)
                return r;
        assignment_metrics(m, &a, &plan->after);
        plan->dpm_wants_standby = dpm.wants_standby;
        plan->dpm_wants_power_on = dpm.wants_power_on;
        plan->dpm_standby_held = dpm.standby_held;
        plan->dpm_power_on_held = dpm.power_on_held;
        plan->dpm_quorum_limited = dpm.quorum_limited;
        plan->dpm_votes_after = dpm.votes_after;

        if (lns_ran)
                /* GLPK when one of its sub-MIP results is in the plan, else the searches. */
                plan->solver = stats.improvements > 0 ? "greedy+glpk" : "greedy+exchange";
        if (searched) {
                /* The gap of the plan as it will run against the bound of any plan within the
                 * same budget (bound.h), whichever plan won. */
                double lb, score = assignment_score(m, &a);
                r = bound_imbalance(m, &a, total_budget, &lb);
                if (r < 0)
                        return r;
                plan->gap = score > 1e-12 ? fmin(fmax((score - lb) / score, 0), 1) : 0;
        }
        if (plan->n_unplaceable > 0)
                plan->status = PLAN_PARTIAL;
        else if (plan->n_moves == 0 && plan->n_power == 0)
                plan->status = PLAN_NO_ACTION;
        else if (searched && plan->gap <= 0)
                plan->status = PLAN_OPTIMAL;
        else
                plan->status = PLAN_FEASIBLE;

        *ret = TAKE_PTR(plan);
        return 0;
}
