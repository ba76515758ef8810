/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Greedy steps of solver_plan() (solver-internal).
 *
 * greedy_mandatory(): moves every VM that has to move — off hosts that must be emptied
 * (maintenance, standby, DPM's choices) and off places that break a hard rule — biggest
 * configured memory first, each to the host where it fits with the best score delta (which
 * spreads them). Hard keep-together groups move as one unit. Not limited by the move budget.
 * A VM that fits nowhere is listed with a precise reason and stays where it is.
 *
 * greedy_balance(): best single move (or unit move) at a time, by net benefit
 *     net = gain − λ · move_mib / mean_mem_cfg,   λ = GREEDY_COST_FACTOR · model_min_gain()
 * where gain = −assignment_move_delta() (score units), accepted while gain ≥ min_gain and
 * net > 0, until the budget (distinct VMs away from their initial host for balance) is used
 * or no move gains (move_mib: configured memory plus local disks a move copies, Model). The
 * cost term makes a big VM need a bigger gain than a small one: a VM
 * of the mean size costs half the minimum gain, one of 4× the mean twice the minimum gain.
 *
 * Everything iterates in index order and breaks ties by the lowest index: deterministic. */

#include "macro.h"
#include "model.h"

#define GREEDY_COST_FACTOR 0.5

/* Up to this many hosts greedy_balance() scans every VM × host; above, each iteration scans the
 * VMs of the max(GREEDY_CANDIDATE_HOSTS, hosts / 8) hottest hosts against as many coldest. */
#define GREEDY_FULL_SCAN_HOSTS 32
#define GREEDY_CANDIDATE_HOSTS 16

/* Why a VM ended away from its initial host (per VM, kept by the steps that move it). */
typedef struct MoveTag {
        bool mandatory;    /* moved by a mandatory step: not limited by the move budget */
        MoveReason reason; /* meaningful when the VM moved */
        int rule;          /* index into Policy.rules for REASON_RULE, else -1 */
} MoveTag;

typedef struct UnplaceableList {
        PlanUnplaceable *items; /* owned array; each why owned */
        size_t n;
} UnplaceableList;

void unplaceable_list_done(UnplaceableList *l);
/* Appends (vm, why); takes ownership of why (freed on failure too). */
int unplaceable_list_add(UnplaceableList *l, size_t vm, char *why);

typedef struct Greedy {
        const Model *m; /* not owned; the flags of the (working) model may change between calls */
        Assignment *a;  /* not owned */
        MoveTag *tags;  /* owned, n_vms */
        /* Hard keep-together units (connected components of the hard keep-together rules):
         * unit_head[v] is the lowest member index (v itself when alone), unit_next[v] the next
         * member in ascending order or SIZE_MAX, unit_rule[head] the lowest Policy.rules index
         * of the unit's rules (-1 when alone). */
        size_t *unit_head, *unit_next; /* owned, n_vms */
        int *unit_rule;                /* owned, n_vms */
        double mean_mem;               /* mean configured memory of the placed VMs (> 0) */
        double lambda;                 /* migration cost of a mean-sized VM, in score units */
        unsigned balance_moved;        /* VMs away from their initial host for balance / DPM fill */
        UnplaceableList unplaceable;
        size_t n_need_in_flight; /* greedy_mandatory: VMs that must move and are migrating already */
} Greedy;

int greedy_new(const Model *m, Assignment *a, Greedy **ret);
Greedy *greedy_free(Greedy *g);

static inline bool greedy_in_unit(const Greedy *g, size_t vm) {
        return g->unit_head[vm] != vm || g->unit_next[vm] != SIZE_MAX;
}

/* The mandatory moves. host_reason[h] is the reason for VMs leaving must_empty host h
 * (REASON_MAINTENANCE or REASON_DPM). Unplaceable VMs are appended to g->unplaceable. */
int greedy_mandatory(Greedy *g, const MoveReason *host_reason);

/* Empties one host (already flagged must_empty and not target_ok in the model) with reason,
 * all or nothing: 0 when every VM found a place, -ENOSPC (everything rolled back) when one did
 * not or a VM on it cannot move. */
int greedy_evacuate_host(Greedy *g, size_t host, MoveReason reason);

/* Balance moves (only_soft: only of VMs that break a soft rule where they are). Moves onto a host flagged in
 * dpm_target (may be NULL) are tagged REASON_DPM. Stops when g->balance_moved reaches budget. Returns the
 * number of moves made (>= 0) or -ENOMEM. */
int greedy_balance(Greedy *g, unsigned budget, double min_gain, const bool *dpm_target, bool only_soft);

/* Local overload: while a counted host's CPU demand is above overload × its capacity, moves
 * the VM of such a host whose move cuts the imbalance most (ties: the smaller migration) to a
 * host that it fits and leaves at or under overload, within the balance budget. Returns the
 * number of moves. */
int greedy_relieve(Greedy *g, unsigned budget, double overload, const bool *dpm_target);

/* Why vm (not in a unit) fits on no host, as a newly allocated sentence, e.g.
 * "memory: needs 8192 MiB, largest free on an eligible host is 4096 MiB on 'h02'". */
int greedy_explain(const Model *m, const Assignment *a, size_t vm, char **ret);

/* Rebuilds *a's running sums after the model's counted flags changed. */
int assignment_rebase(const Model *m, Assignment *a);

/* vasprintf() into a new string, or NULL when out of memory. */
_printf_(1, 2) char *solver_strdup_printf(const char *fmt, ...);
