/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* DPM (solver-internal): keep the utilization of the powered hosts inside the policy's band.
 *
 * Utilization = max(total CPU demand / CPU capacity, total memory demand / memory) over the
 * hosts that count (up), with the demand of every placed VM (also those still on hosts being
 * emptied).
 *
 * Up: when above target_high — or when a host is overloaded (balance.overload) and no other
 * powered host has room for any of its VMs, or when mandatory moves left VMs without a place —
 * power on standby hosts (not frozen), the most efficient first (watts per core at full load,
 * with power models), then the largest, until back at or below target_high (for unplaceable
 * VMs: one more host at a time while that places more of them). Powered-on hosts become
 * targets; balance then moves VMs there (reason dpm).
 *
 * Down: when below target_low, nothing is unplaceable, nothing was powered on and more than
 * max(min_hosts_on, 1) hosts are on: rank the eligible hosts (dpm_may_standby, no VM in its
 * cooldown or just arrived) least efficient first (power models; 2 % classes), then least
 * configured memory to migrate; take them in that order while the powered hosts stay below
 * target_low, the others could carry the demand at ≤ target_high with headroom_hosts of their
 * largest hosts' capacity held spare (per dimension), quorum holds and the VMs to move fit in
 * balance.max_moves_per_pass (at least one host); flag them all must_empty, then evacuate each
 * all or nothing (reason dpm) onto the hosts that stay on, so no VM moves twice; a host that
 * cannot be emptied is powered on again (a target for the others).
 * Cluster mode (Problem.quorum.enabled): a host is chosen only if the hosts that stay powered
 * keep quorum + tolerate_failures of them (votes_left()); a host with fewer votes may still be.
 *
 * Greedy on purpose: a consolidation MIP found nothing in 10 s from 32 hosts up (DESIGN.md);
 * LNS may rebalance the result afterwards. */

#include "greedy.h"

typedef struct DpmResult {
        bool *standby;  /* owned, n_hosts: emptied by DPM, to be put in standby */
        bool *power_on; /* owned, n_hosts: to be powered on (wave 1) */
        size_t n_standby, n_power_on;
        bool wants_standby, wants_power_on; /* demand outside the band (see Plan) */
        bool standby_held, power_on_held;   /* Problem.dpm_hold_* kept DPM from acting */
        bool quorum_limited;                /* a standby was refused for Problem.quorum */
        unsigned votes_after;               /* Problem.quorum: votes of the hosts left powered */
} DpmResult;

void dpm_result_done(DpmResult *r);

/* Decides and applies DPM on the working model m (its host flags change) and on g's assignment
 * (g->m must be m). host_reason is what greedy_mandatory() got (for re-running it). */
int dpm_run(Model *m, Greedy *g, const MoveReason *host_reason, DpmResult *ret);
