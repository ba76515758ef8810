/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* GLPK large-neighbourhood search (solver-internal). The only code that includes glpk.h is
 * solver/glpk-lns.c.
 *
 * Starting from a (greedy) assignment, repeatedly picks a neighbourhood (a few VMs on the
 * hottest and coldest hosts and on the endpoints of planned moves × a set of candidate hosts),
 * solves a small MIP over it (piecewise-linear convex fit of the squared utilization deviation,
 * a cost per migration, hard memory / vCPU capacity and hard rules, the global move budget),
 * warm-started from the current assignment, and keeps the result only if the score improves;
 * then an exchange local search (undo one planned move, make a better one). */

#include "model.h"

typedef struct LnsOptions {
        unsigned move_budget;    /* max VMs whose final host differs from Model.initial (balance moves) */
        unsigned rounds;         /* deterministic work limit: number of neighbourhood MIPs */
        bool no_mip;             /* no sub-MIPs: the exchange search (and the bound) only */
        bool no_bound;           /* skip the LP bound (solver_plan() computes bound.h's) */
        double sub_time_limit_s; /* safety net per sub-MIP (GLPK tm_lim) */
        double time_limit_s;     /* safety net for the whole search, on opts->clock_us */
        uint64_t (*clock_us)(void *userdata);
        void *clock_userdata;
} LnsOptions;

typedef struct LnsStats {
        unsigned rounds_run;
        unsigned improvements; /* sub-MIPs whose result was kept */
        unsigned exchanges;    /* changes kept by the exchange local search */
        double gap;            /* relative gap of the final solution vs the LP bound (0..1), or 0 */
        double lower_bound;    /* LP-relaxation lower bound of the imbalance, if computed */
        bool glpk_failed;      /* an error hook fired or GLPK returned an error; result still valid */
} LnsStats;

/* Improves *a in place; never makes the score worse, never breaks hard constraints or the move
 * budget. Returns 0, or -ENOMEM. GLPK errors are caught (glp_error_hook + longjmp) and reported
 * in stats->glpk_failed with *a left at the best known valid assignment. */
int lns_improve(const Model *m, Assignment *a, const LnsOptions *opts, LnsStats *ret_stats);
