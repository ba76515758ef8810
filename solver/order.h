/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Ordering (solver-internal): turns initial → final placements into waves of migrations.
 *
 * A wave is a set of migrations that may run concurrently, in any interleaving. A move joins
 * the current wave only if:
 *   - its destination can take every incoming VM of the wave on top of its load before the
 *     wave, counting nothing for VMs leaving it in the same wave (they may not have left yet):
 *     configured memory ≤ mem_limit and vCPUs ≤ vcpu_limit after every prefix of the wave;
 *   - the source's outgoing, the destination's incoming and the cluster's migrations stay
 *     within limits.migrations_out_per_host / _in_per_host / _per_cluster (0 is taken as 1);
 *   - no member of one of its hard keep-apart rules is on the destination (leaving it in the
 *     same wave counts as on it), or arriving there in the same wave. Never relaxed: after any
 *     subset of a wave's moves has completed (the others not started, or failed), no hard
 *     keep-apart rule is broken that was not broken before, and no host is over its limits;
 *   - the destination is not powered on in wave 1 (late_host), else from wave 2.
 * Moves are considered mandatory first, then by VM index, so mandatory moves fill the
 * earliest waves. When no move fits at all (a swap or cycle between full hosts), one VM is
 * routed through an intermediate host with room (most free memory; allowed for it; not being
 * emptied): that VM then has two steps. A VM hops at most once; voluntary moves hop only
 * within hop_budget. A swap of two members of a hard keep-apart rule (or a cycle through such
 * members) is broken the same way, through a host where no member is. When no hop helps, the
 * remaining moves are dropped: their VMs stay where they are (reported back in dropped, with the
 * keep-apart rule that blocked each in dropped_rule), which keeps every rule the executed steps
 * kept. Never stops a VM. */

#include "greedy.h"

typedef struct OrderStep {
        size_t vm;
        size_t from, to;
        unsigned wave; /* 1-based */
        bool hop;      /* first leg of a move routed through an intermediate host */
} OrderStep;

typedef struct OrderInput {
        const int *initial;    /* n_vms: host at the start (-1: not placed) */
        const int *final;      /* n_vms: host at the end */
        const bool *mandatory; /* n_vms: mandatory move (earliest waves, hops not budgeted) */
        const bool *late_host; /* n_hosts or NULL: receives VMs only from wave 2 */
        unsigned hop_budget;   /* hops allowed for voluntary moves */
} OrderInput;

typedef struct OrderResult {
        OrderStep *steps; /* owned, by wave */
        size_t n_steps;
        unsigned n_waves;
        int *final;        /* owned, n_vms: where each VM is after the steps */
        size_t *dropped;   /* owned: VMs whose move (or its rest) was dropped */
        int *dropped_rule; /* owned, parallel to dropped: why — index into Policy.rules of a hard
                            * keep-apart rule with a member on the step's destination, or -1 when
                            * no such rule blocks it (the destination stays too full) */
        size_t n_dropped;
        unsigned hops_used; /* hops of voluntary moves */
} OrderResult;

void order_result_done(OrderResult *r);
int order_plan(const Model *m, const OrderInput *in, OrderResult *ret);
