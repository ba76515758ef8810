/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Exact-objective local search (solver-internal), after greedy, GLPK's neighbourhoods and the
 * exchange search: single moves and swaps (two VMs trade hosts) evaluated on the true objective
 * — assignment_score() (weighted σ + soft-rule penalties) plus the migration cost λ per moved
 * VM the sub-MIPs use — never its piecewise-linear fit. Best improvement per step, then
 * perturbation from the best plan found (a few random feasible moves or swaps) and descent
 * again (iterated local search), until a deterministic work budget (candidate evaluations) is
 * spent; the caller's clock is only a safety net. Deterministic: index order, ties to the
 * lowest index, a PRNG seeded from the sizes.
 *
 * With LsOptions.stable, the score counts the weighted imbalance only above its target (half
 * the aggressiveness threshold): the search does not balance below it, and its pruning judges
 * moves as solver_plan()'s (stable_check_gain(): on held as on measured demands, and no revert
 * that drops moves or adds hops); once its best plan is at the target it looks for fewer moves
 * with fewer perturbations.
 *
 * Rules of the neighbourhood:
 *   - every VM away from its initial host counts against move_budget (a swap of two VMs that
 *     were home adds two); a step that adds k moves must improve the score by k × min_gain
 *     (every balance move earns its keep, as in greedy);
 *   - a VM may be moved when LNS may move it (balance-movable, not fixed, not in a hard
 *     keep-together group, on a host that is up, not frozen and not being emptied); VMs with
 *     VM–VM rules move singly (assignment_fits() checks keep-apart), not in swaps;
 *   - a swap must fit at both ends after it (memory and vCPUs), and one of its two halves must
 *     fit on its destination before the other leaves: the orderer can then run it in two
 *     waves, no host ever over its limits, without a free host to hop through. */

#include "model.h"

typedef struct LsOptions {
        unsigned move_budget;  /* max VMs away from Model.initial */
        double min_gain;       /* score a step must gain per move it adds (model_min_gain()) */
        StableCheck *stable;   /* or NULL: the pruning also judges gains on the held demands */
        uint64_t work;         /* candidate evaluations; 0 = default for the size */
        const bool *mandatory; /* n_vms or NULL: mandatory moves (the orderer puts them first) */
        const bool *late_host; /* n_hosts or NULL: hosts powered on in this pass (OrderInput) */
        double time_limit_s;   /* safety net, on clock_us; 0 = none */
        uint64_t (*clock_us)(void *userdata);
        void *clock_userdata;
} LsOptions;

typedef struct LsStats {
        unsigned steps;    /* improving steps applied (on the way to the best plan or not) */
        unsigned swaps;    /* of which swaps */
        unsigned restarts; /* perturbations */
        uint64_t work;     /* candidate evaluations made */
        bool improved;     /* the result is better than the input */
} LsStats;

/* Every step keeps the plan sequenceable: order_plan() (with the hops the budget left allows)
 * drops no more moves from it than from the input plan. */

/* Improves *a in place; never worse on score + migration cost, never breaks hard constraints or
 * the move budget. Returns 0 or -ENOMEM. */
int ls_improve(const Model *m, Assignment *a, const LsOptions *opts, LsStats *ret_stats);
