/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Rolling maintenance waves (drsctl rollout --dry-run and drsd's rollout with --parallel auto):
 * which hosts may be in maintenance at once. Pure, like the rest of the solver: a Problem in,
 * an answer out; it runs solver_plan() on a copy of the Problem with the wave's hosts in
 * maintenance, so "fits" means exactly what an evacuation would do (capacity, hard rules,
 * automation overrides). */

#include <stdbool.h>
#include <stddef.h>

#include "solver.h"

/* Whether hosts[0..n) (indexes into p->hosts) can be in maintenance at once: the solver's
 * evacuation plan places every VM they hold on the other up hosts (capacity and hard rules
 * hold), and the up hosts left keep headroom_hosts hosts' worth of spare memory (the largest
 * ones; 0 = no headroom asked). Returns 1 yes, 0 no (*ret_why, newly allocated, says why: the
 * VMs that fit nowhere, or the headroom), < 0 on error. */
int rollout_wave_check(
        const Problem *p, const size_t *hosts, size_t n, unsigned headroom_hosts, const SolverOptions *opts,
        char **ret_why);

/* --parallel auto: the largest k (at most max_parallel; 0 = no bound) such that every wave of k
 * consecutive hosts of order[0..n) passes rollout_wave_check(). *ret 0 (with *ret_why) when not
 * even one host at a time passes. */
int rollout_auto_parallel(
        const Problem *p, const size_t *order, size_t n, unsigned headroom_hosts, unsigned max_parallel,
        const SolverOptions *opts, unsigned *ret, char **ret_why);

/* The hosts of p in host group `group` of p's policy (by name pattern or label), in p's order:
 * *ret (newly allocated indexes into p->hosts) and *ret_n. -ENOENT when the policy has no such
 * host group. */
int rollout_group_hosts(const Problem *p, const char *group, size_t **ret, size_t *ret_n);
