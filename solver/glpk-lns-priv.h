/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals of solver/glpk-lns.c exposed to tests/solver/test-lns.c and the benchmark only
 * (libvirt's *-priv.h pattern). Nothing here includes glpk.h. */

#include "lns.h"

typedef struct LnsTestHooks {
        /* Make GLPK raise an internal error (an out-of-range column index, which GLPK treats
         * as fatal) while building the sub-MIP of this 1-based round; 0 = never. */
        unsigned glpk_error_at_round;
        /* Skip the LP lower bound. */
        bool no_lower_bound;
        /* Skip the exchange local search after the GLPK rounds (it runs after a GLPK error too:
         * it needs no GLPK). */
        bool no_exchange;
} LnsTestHooks;

/* lns_improve() with test hooks (hooks may be NULL). */
int lns_improve_full(
        const Model *m, Assignment *a, const LnsOptions *opts, const LnsTestHooks *hooks,
        LnsStats *ret_stats);

/* The LP lower bound of the weighted imbalance alone (see glpk-lns.c), for the benchmark:
 * 0 and *ret_bound set, or < 0 (-ENOMEM, -EIO when GLPK failed, -E2BIG above the size limit). */
int lns_lower_bound(const Model *m, unsigned move_budget, double *ret_bound);
