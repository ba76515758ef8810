/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The compiled model every solver algorithm works on (solver-internal, not installed).
 *
 * model_build() turns a Problem into flat arrays: capacities, demands, who may move for which
 * reason, which host each VM may run on under the hard rules, the VM–VM rules as index lists.
 * An Assignment is a placement (VM → host) with per-host sums kept up to date, so that the
 * objective and feasibility of a single move are evaluated in O(1) (plus the VM's rules).
 *
 * Objective ("score", lower is better):
 *     score = (w_cpu * sd(u_cpu) + w_mem * sd(u_mem)) / (w_cpu + w_mem) + soft-rule penalties
 * where u_cpu[h] = cpu load / cpu capacity and u_mem[h] = memory demand / memory, and sd is
 * the population standard deviation over the hosts that count (up hosts that are not being
 * emptied). This weighted imbalance is also what the policy's thresholds and min_gain use. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "solver.h"

/* Penalty per VM that breaks a soft rule, in score units. */
#define MODEL_SOFT_PENALTY 0.05

/* Migration cost the optimizers (GLPK's sub-MIPs, the local search) add per moved VM of the
 * mean configured memory, in score units (proportional to the VM's move_mib). */
#define MODEL_MIGRATION_COST 2e-5

typedef struct ModelVmRule {
        size_t rule;   /* index into Policy.rules */
        RuleType type; /* RULE_KEEP_TOGETHER or RULE_KEEP_APART */
        bool hard;
        size_t *vms; /* owned; indexes of member VMs, ascending */
        size_t n_vms;
} ModelVmRule;

typedef struct Model {
        const Problem *problem; /* not owned */
        size_t n_hosts, n_vms;
        double w_cpu, w_mem; /* normalized: w_cpu + w_mem == 1 */

        /* Per host (owned arrays of n_hosts). */
        double *cpu_cap;       /* cores */
        double *mem_cap;       /* MiB, for utilization */
        double *mem_limit;     /* MiB of configured VM memory allowed: memory * overcommit - reserve */
        double *vcpu_limit;    /* INFINITY when the policy sets no cap */
        bool *target_ok;       /* may receive VMs now: up and not frozen */
        bool *source_ok;       /* VMs on it may be moved: not frozen */
        bool *must_empty;      /* maintenance or standby: every movable VM must leave */
        bool *counted;         /* counts in the imbalance: up (frozen included) */
        bool *dpm_may_standby; /* DPM may choose to put it in standby: up, not frozen, not excluded */

        /* Per VM (owned arrays of n_vms). */
        double *cpu;      /* demand, cores */
        double *mem;      /* demand, MiB */
        double *mem_cfg;  /* configured memory, MiB: what must fit */
        double *move_mib; /* what a move transfers, in MiB of memory: configured memory plus local disks
                           * scaled by migration bandwidth / copy bandwidth (the migration cost) */
        double *vcpus;
        int *initial;                /* host at the start; -1 for placement requests */
        AutomationLevel *automation; /* effective level of the VM (cluster level and overrides) */
        bool *fixed;                 /* never moves in this pass: disabled, migrating, or its host frozen */
        bool *may_balance;           /* may move for balance/DPM: not fixed, automation >= MANUAL with the
                                      * cluster allowing balance, and out of its cooldown */
        bool *recommend_only;        /* its moves are recommendations (manual, cluster or VM) */

        /* VM–host rules, as rows of n_hosts per VM; a NULL row means "no rule": use the accessors
         * model_allowed() and model_soft_penalty() below rather than the rows. */
        uint8_t **allowed_row; /* owned: per VM NULL or n_hosts flags (hard rules) */
        float **penalty_row;   /* owned: per VM NULL or n_hosts penalties in score units (soft rules) */
        int *hard_rule;        /* owned, n_vms: index into Policy.rules of a hard VM–host rule the VM
                                * breaks where it is now (-1 if none): the reason for a mandatory move */

        ModelVmRule *vm_rules; /* owned array: keep-together / keep-apart */
        size_t n_vm_rules;
        size_t **rules_of_vm; /* owned: per VM, indexes into vm_rules, terminated by SIZE_MAX */
} Model;

int model_build(const Problem *p, Model **ret);
/* The policy's group of that name and kind, or NULL. */
const Group *policy_find_group(const Policy *p, const char *name, GroupKind kind);
/* Is the object (name + labels) a member of group g? By label, or by a member pattern. */
bool group_matches(const Group *g, const char *name, char *const *labels);

/* The smallest score improvement a balance move must bring: the policy's min_gain divided by
 * the number of up hosts. One move changes the standard deviation by about 2c/N (c: the share
 * of a host the VM uses, N: hosts), so an absolute threshold would forbid every move on a big
 * cluster and allow trivial ones on a small one; per host, 0.01 means "worth about as much as
 * moving 0.5 % of a host's load from a host one deviation above the mean to one below". */
double model_min_gain(const Model *m);

/* Hard VM–host rules allow vm on host (capacity and host state not considered). */
static inline bool model_allowed(const Model *m, size_t vm, size_t host) {
        return !m->allowed_row[vm] || m->allowed_row[vm][host];
}

/* Soft VM–host rule penalty of vm on host. */
static inline double model_soft_penalty(const Model *m, size_t vm, size_t host) {
        return m->penalty_row[vm] ? m->penalty_row[vm][host] : 0.0;
}
Model *model_free(Model *m);

typedef struct Assignment {
        int *host;         /* owned, n_vms: current host of each VM */
        double *cpu_load;  /* owned, n_hosts: sum of cpu demand */
        double *mem_load;  /* owned, n_hosts: sum of memory demand */
        double *mem_cfg;   /* owned, n_hosts: sum of configured memory */
        double *vcpu_load; /* owned, n_hosts: sum of vCPUs */
        unsigned *count;   /* owned, n_hosts: VMs on the host */
        /* Running sums over counted hosts, for O(1) scoring. */
        double sum_ucpu, sum_ucpu2, sum_umem, sum_umem2;
        size_t n_counted;
} Assignment;

/* From the problem's current placement. */
int assignment_init(const Model *m, Assignment *a);
int assignment_copy(const Model *m, const Assignment *a, Assignment *ret);
void assignment_done(Assignment *a);

/* Weighted imbalance of the assignment (no penalties). */
double assignment_imbalance(const Model *m, const Assignment *a);
/* Imbalance + soft-rule penalties: the objective. */
double assignment_score(const Model *m, const Assignment *a);
void assignment_metrics(const Model *m, const Assignment *a, PlanMetrics *ret);

/* Whether vm may be on host under hard constraints given everyone else's current place:
 * host accepts VMs, allowed by VM–host rules, memory and vCPU capacity, keep-apart (hard).
 * Hard keep-together is not checked here (moves of such groups go through the unit helpers).
 * On false, *reterr_why (if not NULL) points to a static short reason: "memory", "vcpus",
 * "rule", "host state". */
bool assignment_fits(const Model *m, const Assignment *a, size_t vm, size_t host, const char **reterr_why);

/* Change of assignment_score() if vm moved to host (negative = better). O(1) + the VM's rules. */
double assignment_move_delta(const Model *m, const Assignment *a, size_t vm, size_t host);

/* The same in two steps, for trying one VM on many hosts: the source's part once
 * (assignment_move_from), then each host (assignment_move_delta_to) — bit-for-bit the result
 * of assignment_move_delta(). Valid while the assignment does not change. */
typedef struct MoveFrom {
        size_t vm;
        int from;
        double sc, sc2, sm, sm2; /* utilization sums with vm taken off its host */
        double imbalance;        /* assignment_imbalance() now */
        double own_from;         /* vm's soft VM–host penalty where it is */
} MoveFrom;
void assignment_move_from(const Model *m, const Assignment *a, size_t vm, MoveFrom *ret);
double assignment_move_delta_to(const Model *m, const Assignment *a, const MoveFrom *f, size_t host);
/* The same; *ret_imbalance (if not NULL): the part of it that is the weighted imbalance's
 * change (the rest is soft-rule penalties). */
double assignment_move_delta_split(
        const Model *m, const Assignment *a, const MoveFrom *f, size_t host, double *ret_imbalance);

/* Moves vm to host, updating every sum. No checks. */
void assignment_move(const Model *m, Assignment *a, size_t vm, size_t host);

/* Soft-rule penalty VM vm has (or would have) on host, given the others' places. */
double assignment_vm_penalty(const Model *m, const Assignment *a, size_t vm, size_t host);

/* The held-demand view (SolverVm.cpu_demand_stable): the same model with each VM's CPU demand
 * replaced by what of it has held. *ret NULL when no VM's differs (nothing to check). Shares
 * every array but cpu with m: free with model_stable_free(), and only while m lives. */
int model_stable_new(const Model *m, Model **ret);
Model *model_stable_free(Model *s);

/* The pruning's judgement of a balance move (solver_plan()'s prune_small_moves(), the local
 * search's ls_prune()): its gain must clear min_gain (1) on the imbalance above a target — the
 * plan balances down to target, not below: under target σ is noise that the next samples
 * redraw, and a move's share of it does not hold — and (2) on the demands that have held as on
 * the measured ones. A StableCheck follows an assignment of m on the held-demand view. */
typedef struct StableCheck {
        double target; /* imbalance the plan balances down to */
        Model *view;   /* owned (model_stable_new()), or NULL: no held-demand view */
        Assignment a;  /* on view, synced by stable_check_sync() */
        bool *exempt;  /* n_hosts: sources above balance.overload at the start (measured
                        * demands): a move off one relieves an overload, its whole gain counts
                        * (not only above the target) */
} StableCheck;
int stable_check_init(const Model *m, double target, StableCheck *ret);
void stable_check_done(StableCheck *c);
/* Brings the view's assignment to a's placement (O(VMs)); call after a changes, before
 * stable_check_gain(). */
void stable_check_sync(const Model *m, const Assignment *a, StableCheck *c);
/* How much worse the plan gets with vm on host (its initial one): the change of
 * max(imbalance - target, 0) + penalties (the plain score change when the VM's initial host is
 * exempt), the lower of the measured demands' and the held demands' (without a view: the
 * measured). *ret_raw (if not NULL): the plain score change, the lower of both, to rank moves
 * whose gains are all 0 above the target. c NULL: assignment_move_delta(). */
double stable_check_gain(
        const Model *m, const Assignment *a, const StableCheck *c, size_t vm, size_t host, double *ret_raw);
