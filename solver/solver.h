/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The drs solver: a Problem (hosts, VMs, placement, policy, `now` as data) in, a Plan out.
 *
 * Pure C: no I/O, no clock, no logging, no globals. Deterministic: the same Problem gives a
 * byte-identical Plan (the optimizer's effort is bounded by deterministic work limits; the
 * wall-clock limit is only a safety net, read through the clock the caller passes in). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

typedef enum HostState {
        HOST_UP,
        HOST_MAINTENANCE, /* entering or in maintenance: must end with no VM, receives none */
        HOST_STANDBY,     /* powered off by DPM: holds no VM; DPM may power it on */
        _HOST_STATE_MAX,
        _HOST_STATE_INVALID = -1,
} HostState;

const char *host_state_to_string(HostState s);
HostState host_state_from_string(const char *s);

typedef struct SolverHost {
        char *name;          /* owned */
        double cpus;         /* CPU capacity in cores (> 0) */
        uint64_t memory_mib; /* physical memory */
        HostState state;
        bool frozen;           /* stale reports or power-on failed: neither source nor target */
        uint64_t incoming_mib; /* configured memory of VMs migrating here right now (still on their source
                                  in vms): held against this host's capacity until they arrive */
        char **groups;         /* owned strv: labels; host groups of the policy also match by name */
        unsigned votes;        /* Problem.quorum: the votes this host's corosync node holds now (0: not
                                  a member, e.g. powered off) */
        PowerModel power;      /* watts by CPU utilization; unknown: DPM ranks hosts by memory only */
} SolverHost;

typedef struct SolverVm {
        char *name; /* owned */
        int host;   /* index into Problem.hosts; -1 only for placement requests */
        unsigned vcpus;
        uint64_t memory_mib; /* configured size: what must fit */
        double cpu_demand;   /* measured, in cores */
        /* What of cpu_demand has held (drsd: the lowest of a 15-minute mean and the recent rates;
         * <= cpu_demand). A balance move is made only if its gain clears min_gain on these
         * demands too (a gain that rests on a burst that just began or just ended does not
         * hold). has_cpu_demand_stable false (snapshots without it, tests): cpu_demand. */
        double cpu_demand_stable;
        bool has_cpu_demand_stable;
        uint64_t memory_demand_mib; /* measured active memory */
        int64_t last_moved_s;       /* seconds since drs last moved it; < 0 = never */
        bool migrating;             /* a migration is in flight: stays where it is this pass */
        uint64_t local_disk_mib; /* disks only its current host sees: a move copies them (0: all shared) */
        char **groups;           /* owned strv: labels; VM groups of the policy match by name too */
} SolverVm;

/* Cluster mode: what votequorum says now. DPM puts a host in standby only if the votes of the
 * hosts that stay powered (total_votes less the votes of every host in or going to standby),
 * less the votes of dpm.tolerate_failures of them, still reach quorum. */
typedef struct ProblemQuorum {
        bool enabled;         /* false (standalone mode, snapshots): no quorum to keep */
        unsigned quorum;      /* votes votequorum needs now */
        unsigned total_votes; /* votes present now: members' and a quorum device's */
} ProblemQuorum;

/* The quorum arithmetic DPM and the leader's power-off check share: of total_votes, the votes
 * left when the hosts flagged off[] are powered off, less the votes of the `tolerate` largest
 * voters among those that stay (they may fail). votes[h]: each host's votes (0: not a member);
 * a quorum device's votes stay in total_votes. scratch: n unsigned. */
unsigned quorum_votes_left(
        unsigned total_votes, const unsigned *votes, const bool *off, size_t n, unsigned tolerate,
        unsigned *scratch);

typedef struct ProblemDemand {
        bool set;
        double cpu;        /* cores */
        double memory_mib; /* MiB */
        unsigned samples;  /* how many passes the statistic covers */
        uint64_t window_s; /* and over how long */
} ProblemDemand;

typedef struct Problem {
        SolverHost *hosts; /* owned array */
        size_t n_hosts;
        SolverVm *vms; /* owned array */
        size_t n_vms;
        Policy *policy;             /* owned; never NULL after problem_new() */
        AutomationLevel automation; /* the cluster level in force now (policy windows already
                                     * applied by the caller); default from the policy */
        /* DPM hysteresis, decided by the caller (leader_dpm_hold()): demand outside the band
         * has not lasted long enough yet, so DPM only says what it wants (Plan.dpm_wants_*)
         * and does not act. A power-on that mandatory moves need (VMs placeable nowhere else)
         * is never held. Both false (snapshots): DPM acts in this pass. */
        bool dpm_hold_standby;
        bool dpm_hold_power_on;
        ProblemQuorum quorum;
        /* DPM's standby statistic, decided by the caller (leader_dpm_hold()): the cluster's
         * measured demand at dpm.standby_percentile over the last dpm.standby_delay. Standby
         * (whether to empty hosts, and how many) is judged on it; whether the hosts left on
         * carry the demand and power-on are judged on the VMs' demands (their recent peaks).
         * set false (snapshots): standby is judged on the VMs' demands too. */
        ProblemDemand dpm_standby_demand;
        /* Lines the caller wants in the plan's reasons (plan_to_text "note: …", plan_to_json
         * "notes"), e.g. a VM's move feedback; owned strv, may be NULL. */
        char **notes;
} Problem;

int problem_new(Problem **ret); /* empty, with a default policy */
Problem *problem_free(Problem *p);

typedef enum MoveReason {
        REASON_BALANCE,
        REASON_MAINTENANCE,
        REASON_RULE,
        REASON_DPM,
        REASON_PLACEMENT,
        _REASON_MAX,
} MoveReason;

const char *move_reason_to_string(MoveReason r);

typedef enum PlanStatus {
        PLAN_OPTIMAL,   /* proven optimal for the model within the move budget */
        PLAN_FEASIBLE,  /* a valid plan, not proven optimal (gap says how far at most) */
        PLAN_NO_ACTION, /* nothing worth doing */
        PLAN_PARTIAL,   /* mandatory work left undone: see unplaceable */
        _PLAN_STATUS_MAX,
} PlanStatus;

const char *plan_status_to_string(PlanStatus s);

typedef struct PlanMove {
        unsigned wave;   /* 1-based; moves of one wave may run concurrently */
        size_t vm;       /* index into Problem.vms */
        size_t from, to; /* indexes into Problem.hosts */
        MoveReason reason;
        char *rule; /* owned; rule name when reason == REASON_RULE, else NULL */
        uint64_t memory_mib;
        uint64_t disk_copy_mib; /* local disks the move copies (SolverVm.local_disk_mib) */
        double gain;            /* weighted imbalance reduction attributed to this move */
        bool recommendation;    /* automation (cluster or VM) is manual: only recommended */
} PlanMove;

typedef enum PowerAction {
        POWER_STANDBY,
        POWER_ON,
        _POWER_ACTION_MAX,
} PowerAction;

const char *power_action_to_string(PowerAction a);

typedef struct PlanPower {
        size_t host;
        PowerAction action;
        unsigned wave; /* standby: after its evacuation wave; power-on: before the moves onto it */
} PlanPower;

typedef struct PlanUnplaceable {
        size_t vm;
        char *why; /* owned; e.g. "memory: needs 8192 MiB, most free on an eligible host is 4096 MiB (h02)"
                      or "rule 'db-apart'" */
} PlanUnplaceable;

typedef struct PlanMetrics {
        double cpu_imbalance;    /* population standard deviation of CPU utilization over up hosts */
        double memory_imbalance; /* same for memory demand / memory */
        double max_cpu_utilization;
        double max_memory_utilization;
} PlanMetrics;

typedef struct Plan {
        PlanStatus status;
        const char *solver; /* static: "greedy", "greedy+glpk", "greedy+exchange", "placement" */
        double solve_ms;    /* filled by the caller from its clock; the solver leaves 0 */
        double gap;         /* relative MIP gap of the last optimizer step; 0 when none ran */
        PlanMetrics before, after;
        PlanMove *moves; /* owned array, in execution order (by wave) */
        size_t n_moves;
        PlanPower *power; /* owned array */
        size_t n_power;
        PlanUnplaceable *unplaceable; /* owned array */
        size_t n_unplaceable;
        /* VMs that must move (their host is being emptied, or they break a hard rule) and are
         * being migrated already: neither moved again nor unplaceable; they stay this pass. */
        size_t n_need_in_flight;
        /* DPM (enabled): total demand was below the band with more hosts on than needed
         * (wants standby) or above it (wants power-on) — whether or not the plan acts on it;
         * *_held: it did not act because the Problem held that direction. */
        bool dpm_wants_standby, dpm_wants_power_on;
        bool dpm_standby_held, dpm_power_on_held;
        /* Problem.quorum.enabled: a standby DPM wanted was not made because the hosts left
         * powered would then hold fewer votes than quorum + tolerate_failures hosts' votes;
         * dpm_votes_after: the votes of the hosts that stay powered after this plan. */
        bool dpm_quorum_limited;
        unsigned dpm_votes_after;
        int placement_host; /* solver_place(): chosen host, -1 if none */
        char *placement_vm; /* owned; solver_place(): the requested VM's name (unplaceable.vm is then
                             * SIZE_MAX); NULL for solver_plan() */
} Plan;

Plan *plan_free(Plan *p);

/* Optional knobs; zero-initialized means defaults. */
typedef struct SolverOptions {
        double time_limit_s;                  /* safety net on the optimizer; default 5 s */
        uint64_t (*clock_us)(void *userdata); /* monotonic clock for the safety net; NULL = none */
        void *clock_userdata;
        bool greedy_only; /* skip GLPK (the baseline in benchmarks) */
        bool no_glpk;     /* skip GLPK's sub-MIPs but run the exchange and local searches (tests) */
        unsigned effort;  /* deterministic optimizer work budget; 0 = default */
} SolverOptions;

/* Balance, evacuation, rules and DPM in one pass. */
int solver_plan(const Problem *p, const SolverOptions *opts, Plan **ret);

/* Best host for a new VM (vm->host is ignored). ret->placement_host, or -1 with unplaceable. */
int solver_place(const Problem *p, const SolverVm *vm, const SolverOptions *opts, Plan **ret);

/* The plan as JSON (the `drsctl plan --json` format, see README) and as a human table. */
/* For each i: how much the objective (as PlanMove.gain measures it) would worsen with VM vms[i]
 * on hosts[i] instead of where p places it now, everything else as it is — the benefit its
 * move realizes under p's measured demands (negative: the move made things worse). */
int solver_move_gains(const Problem *p, const size_t *vms, const size_t *hosts, size_t n, double *ret);

/* The smallest fix for a host that cannot be emptied (solver/fix.c, a small MIP): the hard
 * rules to relax, standby hosts to power on, configured memory to free, VMs to move by hand —
 * up to SOLVER_FIX_OPTIONS alternatives, smallest first. */
#define SOLVER_FIX_OPTIONS 3
typedef enum FixKind {
        FIX_PINNED,      /* vm: automation disabled, drs never moves it */
        FIX_RELAX_RULE,  /* rule */
        FIX_POWER_ON,    /* host: in standby */
        FIX_FREE_MEMORY, /* host, mib */
        FIX_BY_HAND,     /* vm: fits nowhere even so */
} FixKind;
typedef struct FixStep {
        FixKind kind;
        int rule, host, vm; /* indexes into the Problem's policy rules, hosts, VMs; -1 = none */
        uint64_t mib;
} FixStep;
typedef struct FixOption {
        FixStep *steps; /* owned */
        size_t n_steps;
} FixOption;
typedef struct SolverFix {
        int host;           /* the host to empty */
        FixOption *options; /* owned; smallest first; none when nothing was found in time */
        size_t n_options;
        bool proven; /* the first option is proven minimal (GLPK finished within the limit) */
} SolverFix;
int solver_smallest_fix(const Problem *p, size_t host, int tm_lim_ms, SolverFix **ret);
void solver_fix_free(SolverFix *f);
int solver_fix_to_text(const Problem *p, const SolverFix *f, char **ret);
int solver_fix_to_json(const Problem *p, const SolverFix *f, char **ret);

int plan_to_json(const Problem *p, const Plan *plan, char **ret);
int plan_to_text(const Problem *p, const Plan *plan, char **ret);
