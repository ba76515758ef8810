/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small MIP for solver modules other than the neighbourhood search (solver-internal; GLPK
 * stays in glpk-lns.c, with its error guard). Columns and rows are 1-based. */

#include <stdbool.h>

typedef struct Mip Mip;

int mip_new(Mip **ret);
Mip *mip_free(Mip *m);
/* A column lo ≤ x ≤ hi (hi = INFINITY: no upper bound) costing obj per unit; binary: 0/1. */
int mip_col(Mip *m, double lo, double hi, double obj, bool binary);
/* A row lo ≤ Σ ≤ hi (-INFINITY / INFINITY: that side open). */
int mip_row(Mip *m, double lo, double hi);
int mip_coef(Mip *m, int row, int col, double v);
/* Solves within tm_lim_ms. 0: a solution (*ret_optimal: proven optimal); -ENOENT: none found
 * (infeasible, or the time ran out first); -EIO: GLPK failed. */
int mip_solve(Mip *m, int tm_lim_ms, bool *ret_optimal);
double mip_value(const Mip *m, int col);
