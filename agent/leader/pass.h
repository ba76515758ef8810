/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The leader pass: everything the leader decides, in one pure module that drsd (standalone and
 * cluster mode, agent/manager-pass.c) and the simulator (sim/sim.c) both drive.
 *
 *   leader_pass_run()         one pass: stale hosts, entering-maintenance → maintenance, drained
 *                             DPM hosts → power-off, the Problem (leader_build_problem with the
 *                             host facts, the cooldowns, migrations in flight and lately
 *                             completed), the DPM hysteresis, the solver (through ops), and the
 *                             plan: manual or recommendations only → kept for drsctl apply; else
 *                             started as a LeaderRun unless one is running (a running plan is
 *                             replaced only by a mandatory one, at once: the memory of its
 *                             migrations in flight stays held on their targets)
 *   leader_pass_apply()       drsctl apply: run the kept recommendations
 *   leader_pass_move_done()   a move of the plan ended: the next wave when the current one is done
 *                             (each move checked again at submission: the target up and not
 *                             draining, both hosts reporting); a failed move skips later moves
 *                             into its source (LeaderRun)
 *   leader_pass_moved()       a migration completed: its VM is placed on the target for a few
 *                             intervals whatever older reports say
 *   leader_pass_power_done()  a power command ended; a power-off that worked → standby, failed →
 *                             up; a power-on that worked waits (dpm.power_on_timeout) for a
 *                             report of the host taken after it started
 *   leader_pass_host_reported()  a host's report arrived: power-on completion, stale hosts
 *   leader_pass_power_expire()   power-ons that did not answer in time → power-on-failed
 *
 * The module owns the leader's memory (the plan in progress, the recommendations, hosts being
 * drained, hosts seen stale, power actions in progress, the DPM clocks, the cooldowns, recent
 * moves) and reads the host facts and acts only through LeaderPassOps. No I/O, no clock (now is
 * a parameter), no logging (messages go to ops->log and ops->record). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benefit.h"
#include "config.h"
#include "history.h"
#include "leader.h"
#include "policy.h"
#include "rollout.h"
#include "solver.h"
#include "state.h"

/* Reports older than this many collection intervals make a host stale (drsd and drs-sim). */
#define LEADER_STALE_INTERVALS 3

typedef struct LeaderNow {
        uint64_t mono_usec; /* CLOCK_MONOTONIC (or the virtual clock): reports, power waits, DPM delays */
        uint64_t real_usec; /* CLOCK_REALTIME: cooldowns, automation windows */
} LeaderNow;

/* What a record is about (drsd: its journal MESSAGE_ID). */
typedef enum LeaderRecordKind {
        LEADER_RECORD_PLAN,           /* a plan decided or finished; a VM blocking a maintenance */
        LEADER_RECORD_POWER_STANDBY,  /* a power-off (DPM standby) started, completed or failed */
        LEADER_RECORD_POWER_ON,       /* a power-on started, its command done, completed or failed */
        LEADER_RECORD_HOST_REPORTING, /* a host went stale or reports again (journal only) */
        LEADER_RECORD_BENEFIT,        /* what a move realized against its prediction */
        LEADER_RECORD_ROLLOUT,        /* a rolling maintenance step, pause, resume, end */
} LeaderRecordKind;

typedef struct LeaderPowerOp {
        char *host; /* owned */
        PowerAction action;
        bool waiting;          /* power-on: the command is done, waiting for a report of the host */
        uint64_t started_usec; /* mono */
        uint64_t wait_s;       /* power-on: dpm.power_on_timeout when it started */
} LeaderPowerOp;

/* An entering-maintenance host's VM that cannot go anywhere (from plan.unplaceable). */
typedef struct Blocker {
        char *host; /* owned */
        char *vm;   /* owned */
        char *why;  /* owned */
} Blocker;

void blockers_free(Blocker *b, size_t n);

/* A migration that completed lately: a report taken before it may still show the VM on its
 * source (LeaderInput.moved). */
typedef struct RecentMove {
        char *vm, *from, *to; /* owned */
        uint64_t done_usec;   /* mono */
} RecentMove;

typedef struct LeaderPassOps {
        /* Facts. report: the host's last report (NULL or t_usec 0: none); stale: its reports
         * stopped (or cannot be trusted); mode: as the leader sees it now. */
        const HostReport *(*report)(void *u, const char *host);
        bool (*stale)(void *u, const char *host, uint64_t now_mono);
        HostMode (*mode)(void *u, const char *host);
        /* Migrations this leader started or ordered that have not ended (queued or running). */
        unsigned (*in_flight)(void *u);
        /* Cluster mode: votequorum's view for DPM (Problem.quorum), each host's votes set in
         * hosts[].votes. NULL (standalone): no quorum to keep. */
        void (*quorum)(void *u, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret);
        /* A VM with a migration (or another job) in flight: migrating in the Problem. */
        bool (*vm_busy)(void *u, const char *vm);
        /* The target of this leader's migration of vm in flight, NULL when none or not known. */
        const char *(*vm_target)(void *u, const char *vm);

        /* Actions. */
        int (*solve)(void *u, const Problem *p, Plan **ret);
        /* Sets (or orders) a host's mode; cancels migrations queued to it when it leaves up. */
        int (*set_mode)(void *u, const char *host, HostMode mode, const char *reason);
        /* Starts (or orders) one move of a plan; reason as in the journal ("balance", "rule 'x'").
         * The checks that the hosts report and the target accepts are done already. */
        int (*start_migration)(void *u, const Problem *p, const PlanMove *mv, const char *reason);
        /* Migrations queued to host and not started are cancelled (it stopped being a target). */
        void (*cancel_queued_to)(void *u, const char *host, const char *why);
        /* Runs a host's power command; leader_pass_power_done() reports its end. -ENOENT: no
         * command configured (recorded by the callee); other errors: it could not run. */
        int (*power_command)(void *u, const char *host, PowerAction action);
        /* The pass no longer tracks a power action of host (it ended, or a power-on was given
         * up): free what runs it, stopping a command that still runs. May be NULL. */
        void (*power_forget)(void *u, const char *host);
        /* A power-on command finished: ask the host for a report now. May be NULL. */
        void (*poll_now)(void *u, const char *host);
        /* Cluster mode: a drained host powers itself off on the leader's order (its own drsd
         * checks its libvirt once more). NULL or -EOPNOTSUPP: the leader runs the power-off
         * command itself (power_command). */
        int (*order_power_off)(void *u, const char *host);
        void (*request_pass)(void *u, const char *why);
        /* Rolling maintenance (rollout.h). NULL: rollouts are not supported (drs-sim).
         * rollout_command runs a host's rollout command or health check (a template, expanded
         * with the host's configuration), bounded by timeout_s; leader_pass_rollout_command_done()
         * reports its end. rollout_save keeps the rollout durable (NULL r: none any more); a
         * failure keeps a command from starting. */
        int (*rollout_command)(
                void *u, const char *host, const char *template, uint64_t timeout_s, bool health,
                uint32_t runner);
        /* Cluster mode: who runs host's command (0 = the leader itself; the leader's own host:
         * another member, whose host is not in r's steps in progress). May be NULL: always 0. */
        uint32_t (*rollout_runner)(void *u, const char *host, const Rollout *r);
        /* Whether that member is still in the cluster. May be NULL (standalone). */
        bool (*rollout_runner_alive)(void *u, uint32_t runner);
        int (*rollout_save)(void *u, const Rollout *r);
        /* Journal and history (e is the history event; its message says it all). */
        void (*record)(void *u, int level, LeaderRecordKind kind, const HistoryEvent *e);
        /* Journal only (syslog levels). May be NULL. */
        void (*log)(void *u, int level, const char *message);
} LeaderPassOps;

typedef struct LeaderPass {
        const LeaderPassOps *ops; /* borrowed */
        void *userdata;

        /* Configuration (borrowed; leader_pass_configure on every reload). */
        const Policy *policy;
        const DrsHostConfig *hosts;
        size_t n_hosts;
        uint64_t interval_s; /* collection interval */

        /* The leader's memory. */
        LeaderRun *run;             /* owned; the plan being carried out, NULL when none */
        LeaderRun *recommendations; /* owned; the last plan kept as recommendations (drsctl apply) */
        uint64_t n_runs;            /* plans started */
        uint64_t n_replaced;        /* running plans replaced by a mandatory one */
        char **draining;            /* owned strv: hosts DPM empties before standby */
        char **stale_hosts;         /* owned strv: hosts stale at the last check */
        LeaderPowerOp *power;       /* owned array: power actions in progress */
        size_t n_power;
        DpmHysteresis dpm;  /* how long demand has been outside the DPM band */
        MoveLog moves;      /* owned; last move of each VM (cooldown); kept by every drsd */
        RecentMove *recent; /* owned array: migrations completed in the last few intervals */
        size_t n_recent;
        Blocker *blockers; /* owned array */
        size_t n_blockers;
        /* The blockers come from a pass that ran with no plan and no migration in flight: they
         * are not the transient "a migration of it is in progress" kind. */
        bool blockers_settled;
        PlanMetrics last_metrics; /* of the last pass's plan (before) */
        /* The last pass's plan: quorum kept DPM from a standby (Plan.dpm_quorum_limited), and the
         * votes the hosts left powered hold (cluster mode). */
        bool dpm_quorum_limited;
        ProblemDemand dpm_standby_demand; /* the last pass's standby statistic (drsctl status) */
        unsigned dpm_votes_after;
        uint64_t last_plan_usec; /* real; of the last solver run of a pass */
        BenefitTracker benefit;  /* predicted versus realized benefit of completed moves */
        char *last_plan_summary; /* owned; one line about the last pass's plan */
        Rollout *rollout;        /* owned; the rolling maintenance in progress or last ended, NULL = none */
} LeaderPass;

int leader_pass_new(const LeaderPassOps *ops, void *userdata, LeaderPass **ret);
LeaderPass *leader_pass_free(LeaderPass *lp);
DEFINE_TRIVIAL_CLEANUP_FUNC(LeaderPass *, leader_pass_free);

void leader_pass_configure(
        LeaderPass *lp, const Policy *policy, const DrsHostConfig *hosts, size_t n_hosts,
        uint64_t interval_s);
/* Leadership lost (or a new leader): the plan, the recommendations, the draining list and the
 * DPM clocks are dropped (a new leader's delays count from its own passes). */
void leader_pass_drop_plan(LeaderPass *lp);

int leader_pass_run(LeaderPass *lp, LeaderNow now);
/* Starts the recommendations of the last manual plan. -ENOENT when there are none, -EBUSY while
 * a plan runs. */
int leader_pass_apply(LeaderPass *lp, LeaderNow now, size_t *ret_n);

/* The cluster as a Problem now (force_maintenance: a host presented as in maintenance, e.g.
 * evacuate --dry-run; may be NULL), with the DPM holds of the hysteresis. */
int leader_pass_build_problem(LeaderPass *lp, LeaderNow now, const char *force_maintenance, Problem **ret);

void leader_pass_check_stale(LeaderPass *lp, LeaderNow now);
void leader_pass_host_reported(LeaderPass *lp, const char *host, LeaderNow now);
void leader_pass_move_done(LeaderPass *lp, const char *vm, bool ok, LeaderNow now);
void leader_pass_moved(LeaderPass *lp, const char *vm, const char *from, const char *to, LeaderNow now);
/* message: what the command said (may be NULL). -ENOENT when no such action is in progress. */
int leader_pass_power_done(
        LeaderPass *lp, const char *host, bool ok, const char *message, uint64_t duration_ms, LeaderNow now);
void leader_pass_power_expire(LeaderPass *lp, LeaderNow now);
/* Starts a power command through ops (nothing when one is in progress for host: -EBUSY). */
int leader_pass_power_start(LeaderPass *lp, const char *host, PowerAction action, LeaderNow now);
const LeaderPowerOp *leader_pass_power_find(const LeaderPass *lp, const char *host);
bool leader_pass_host_fresh(LeaderPass *lp, const char *host, LeaderNow now);
/* A move of the plan in progress leaves host (pending or running). */
bool leader_pass_host_has_moves(LeaderPass *lp, const char *host);

/* Rolling maintenance (rollout.c; see rollout.h). start takes r (-EBUSY while one is active,
 * -EOPNOTSUPP without rollout ops); pause, resume and abort: -ENOENT when there is no active
 * rollout, -EALREADY when it already is so (by: who, for the journal). load: a rollout read back
 * after a restart or by a new leader (taken): a host whose command was running becomes unknown
 * and the rollout pauses. tick: steps the rollout (every pass and report). */
int leader_pass_rollout_start(LeaderPass *lp, Rollout *r, LeaderNow now);
int leader_pass_rollout_pause(LeaderPass *lp, const char *by, LeaderNow now);
int leader_pass_rollout_resume(LeaderPass *lp, const char *by, LeaderNow now);
int leader_pass_rollout_abort(LeaderPass *lp, const char *by, LeaderNow now);
void leader_pass_rollout_load(LeaderPass *lp, Rollout *r, LeaderNow now);
void leader_pass_rollout_tick(LeaderPass *lp, LeaderNow now);
/* The VMs of the hosts being evacuated prefer hosts not still to come (a soft rule in p's
 * policy copy); build_problem calls it. */
int leader_pass_rollout_prefer_done(LeaderPass *lp, Problem *p);
/* A member that ran a rollout command left the cluster: its host is unknown, the rollout pauses. */
void leader_pass_rollout_runner_left(LeaderPass *lp, uint32_t runner, LeaderNow now);
/* A rollout command or health check of host ended. -ENOENT when none was running. */
int leader_pass_rollout_command_done(
        LeaderPass *lp, const char *host, bool ok, const char *message, uint64_t duration_ms, LeaderNow now);

/* Hosts no longer configured stop draining (after a reload). */
void leader_pass_forget_unconfigured(LeaderPass *lp);
