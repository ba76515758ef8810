/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by solver.c, place.c and plan.c (solver-internal). */

#include "macro.h"
#include "solver.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

/* An empty plan: no_action, solver "greedy", placement_host -1. */
int plan_new(Plan **ret);

/* Appends (vm, why) to plan->unplaceable; takes why (NULL counts as out of memory). */
int plan_add_unplaceable(Plan *plan, size_t vm, char *why);
