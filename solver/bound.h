/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A lower bound of the weighted imbalance any plan within a move budget can reach
 * (solver-internal), for the plan's gap. Pure C, no GLPK, O(hosts × budget) per evaluation of a
 * few thousand evaluations: ≈ 1–10 ms at 16–64 hosts, tens of milliseconds at 1,000 hosts.
 *
 * The relaxation (per resource, CPU and memory apart): a fraction y_v ∈ [0,1] of each movable
 * VM leaves its host (Σ y ≤ the budget left after forced moves), the load that leaves — and the
 * load of VMs that had to leave hosts being emptied — lands anywhere up (an inflow ≥ 0 per host
 * that may receive), capacity and rules are dropped, and the mean is a free variable c:
 * minimize Σ_h (u_h − c)², which is n·var at the best c. It is solved through its Lagrangian
 * dual: prices μ ≥ 0 on the budget and ν on the flow balance make the hosts independent, each a
 * one-dimensional convex problem solved exactly (the largest VMs of a host leave first: the
 * cost of removing load is convex piecewise linear), the mean by bisection with a convexity
 * certificate, (μ, ν) by nested bisection on their subgradients. Every dual value is a lower
 * bound (weak duality), so an approximate maximization only makes the bound weaker, never wrong;
 * the best one found is returned. sqrt(bound / n) bounds each standard deviation. */

#include "model.h"

/* The bound of w_cpu·σ_cpu + w_mem·σ_mem (soft penalties ≥ 0 are left out) for plans from the
 * initial placement with at most move_budget VMs away from their initial host; a: the plan,
 * for which VMs were forced off hosts being emptied or breaking a hard rule (their load is
 * placed freely and their moves use budget). Returns 0 or -ENOMEM. */
int bound_imbalance(const Model *m, const Assignment *a, unsigned move_budget, double *ret_bound);
