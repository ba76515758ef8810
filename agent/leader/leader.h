/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The leader pass, as far as it can be pure: what the Manager calls every balance interval
 * (and at once on evacuate, exit-maintenance, reload or a host going stale).
 *
 *   leader_build_problem()   configured hosts + collector reports + persistent host modes +
 *                            last-moved times + executor jobs → a solver Problem
 *   leader_automation_at()   the cluster automation level at a wall-clock time, with the
 *                            policy's windows in the policy's timezone
 *   LeaderRun                one plan being carried out wave by wave: the next wave is handed
 *                            to the submit callback when every move of the previous one has
 *                            finished (the executor's done callback reports each move)
 *   MoveLog                  when drs last moved each VM (cooldown), rebuilt from the history
 *                            file at start
 *
 * No I/O, no clock (now is a parameter), no logging: unit-tested in tests/agent/test-leader.c
 * with synthetic HostReports. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "collector.h"
#include "config.h"
#include "history.h"
#include "policy.h"
#include "solver.h"
#include "state.h"

/* ---- last-moved times ---------------------------------------------------------------- */

typedef struct MoveLogEntry {
        char *vm;           /* owned */
        uint64_t time_usec; /* CLOCK_REALTIME of the last completed move */
} MoveLogEntry;

typedef struct MoveLog {
        MoveLogEntry *entries; /* owned array, unsorted (clusters have thousands of VMs at most) */
        size_t n;
} MoveLog;

void move_log_done(MoveLog *l);
/* Records (or advances) the last move of vm. */
int move_log_set(MoveLog *l, const char *vm, uint64_t time_usec);
/* 0 = never moved (that drs knows of). */
uint64_t move_log_get(const MoveLog *l, const char *vm);
/* Feeds history events: every completed migration sets its VM's time. */
int move_log_load(MoveLog *l, const HistoryEvent *events, size_t n);

/* ---- adopted migrations ----------------------------------------------------------------- */

/* A migration drsd did not start (a previous drsd's, still running in libvirt after a restart,
 * or an operator's): seen as a VM reported migrating by its source while this drsd has no job
 * for it. Its outcome is inferred from later reports: the VM running on another host →
 * completed; still on the source and no longer migrating → not completed (failed or
 * cancelled; which one is not known). */
typedef struct AdoptedMigration {
        char *vm;            /* owned */
        char *source;        /* owned */
        uint64_t since_usec; /* CLOCK_REALTIME when first seen migrating */
} AdoptedMigration;

typedef struct AdoptTracker {
        AdoptedMigration *entries; /* owned array */
        size_t n;
} AdoptTracker;

typedef struct AdoptOutcome {
        char *vm;     /* owned */
        char *source; /* owned */
        char *target; /* owned; NULL when not completed */
        bool completed;
        uint64_t observed_ms; /* from first seen migrating to the outcome: a lower bound */
} AdoptOutcome;

void adopt_tracker_done(AdoptTracker *t);
void adopt_outcomes_free(AdoptOutcome *o, size_t n);
bool adopt_tracker_has(const AdoptTracker *t, const char *vm);
/* Feeds one host's fresh report: first resolves tracked migrations (the VM on another host:
 * completed; on the source and not migrating: not completed; absent from the source: still
 * waiting for it to show up elsewhere), then adopts the report's migrating VMs that own() does
 * not claim (own may be NULL: claims nothing). Each outcome is returned once, in *ret (owned
 * array, NULL when none). */
int adopt_tracker_feed(
        AdoptTracker *t, const HostReport *r, bool (*own)(const char *vm, void *userdata), void *userdata,
        uint64_t now_usec, AdoptOutcome **ret, size_t *ret_n);

/* ---- the Problem ----------------------------------------------------------------------- */

typedef struct LeaderHost {
        const DrsHostConfig *config; /* borrowed; name and groups */
        const HostReport *report;    /* borrowed; NULL = never reported */
        bool stale;                  /* the collector says its reports are missing */
        HostMode mode;               /* from State */
        bool draining;               /* DPM empties it before standby: presented as maintenance */
        unsigned votes;              /* cluster mode: its corosync node's votes (0: not a member) */
} LeaderHost;

/* A migration that completed (at done_usec, CLOCK_MONOTONIC like HostReport.t_usec) possibly
 * after the reports were taken: its VM is placed on `to`, not where a report older than the
 * completion still shows it. */
typedef struct LeaderMovedVm {
        const char *vm;  /* borrowed */
        size_t from, to; /* indexes into LeaderInput.hosts */
        uint64_t done_usec;
} LeaderMovedVm;

typedef struct LeaderInput {
        const Policy *policy; /* borrowed; copied into the Problem */
        const LeaderHost *hosts;
        size_t n_hosts;
        const MoveLog *moves; /* may be NULL */
        uint64_t now_usec;    /* CLOCK_REALTIME */
        AutomationLevel automation;
        /* VMs with an executor job (queued or running): migrating in the Problem. May be NULL. */
        bool (*vm_busy)(const char *vm, void *userdata);
        /* The target host of this drsd's migration of vm in flight (queued or running), NULL when
         * none or not known; its memory is held on that host (SolverHost.incoming_mib). A VM
         * migrating without one here uses its report's migrating_to. May be NULL. */
        const char *(*vm_target)(const char *vm, void *userdata);
        void *userdata;
        /* A host presented as in maintenance whatever its mode (evacuate --dry-run); may be NULL. */
        const char *force_maintenance;
        /* Migrations completed lately (e.g. within the last few collection intervals); may be NULL. */
        const LeaderMovedVm *moved;
        size_t n_moved;
        /* Cluster mode: votequorum's view (copied into the Problem; hosts[].votes per host). */
        ProblemQuorum quorum;
} LeaderInput;

/* Host mode → solver state: entering-maintenance/maintenance → HOST_MAINTENANCE,
 * standby/power-on-failed → HOST_STANDBY; up → HOST_UP. */
HostState leader_host_state(HostMode mode);

/* Builds the Problem. A VM that a report older than its completed migration (in->moved) still
 * shows on the source is placed on the target (once, if the target's report lists it too).
 * A host is frozen when its reports are stale (unless it is in standby:
 * a powered-off host cannot report, and DPM must be able to power it on) or its power-on
 * failed. VMs come from every report (a stale host's last report included, so its memory
 * stays accounted); a VM reported by two hosts at once (the instant a migration switches
 * over) is kept once, on the first host, and marked migrating. */
int leader_build_problem(const LeaderInput *in, Problem **ret);

/* Whether a host may receive a migration now: up and not being emptied for standby. A plan's
 * later wave is checked again when it is submitted (the host may have been put in maintenance
 * since the plan was made). */
bool leader_host_accepts(HostMode mode, bool draining);

/* Whether two plans make the same moves (VM, from, to, in order) and power actions, compared
 * by name (the Problems they index may differ): drsd records a recommendation once, not again
 * every pass while it stays the same. */
bool leader_plans_same_actions(const Problem *pa, const Plan *a, const Problem *pb, const Plan *b);

/* ---- DPM hysteresis ---------------------------------------------------------------------- */

/* The cluster's measured demand at one pass (leader_demand_now()). */
typedef struct DpmSample {
        uint64_t t_usec;
        double cpu;        /* cores */
        double memory_mib; /* MiB */
} DpmSample;

/* At most this many passes make the standby statistic: a window longer than this many passes
 * is judged on its newest ones (at a pass every 10 s: 85 minutes). */
#define DPM_SAMPLES_MAX 512

/* DPM's view across passes (a monotonic or virtual clock). Kept by whoever runs the passes
 * (drsd's leader, the simulator); starts empty on a new leader, so the delays count again from
 * there. Zero-initialised is empty. */
typedef struct DpmHysteresis {
        uint64_t above_since_usec;          /* since when demand has been above the band; 0 = it is not */
        uint64_t below_since_usec;          /* since when the plans want standby (for the log); 0 = not */
        uint64_t samples_from_usec;         /* demand counts from here: the first pass, or the last
                                               power-on (0 = no sample yet) */
        DpmSample samples[DPM_SAMPLES_MAX]; /* ring of the newest passes' demand */
        size_t n_samples, next_sample;
} DpmHysteresis;

/* The demand DPM's standby statistic samples: the sum of every placed VM's demand in p (what
 * balance packs by: the larger of its EWMA and its recent peak). Not the newest raw rates:
 * judged on a lower measure than power-on, consolidation eats the band's hysteresis and DPM
 * cycles (PlanetLab day, `tuned`: 2.3x the migrations, 1.3 % of host time overloaded). */
void leader_demand_now(const Problem *p, double *ret_cpu, double *ret_memory_mib);

/* Records this pass's demand (call once per pass, before leader_dpm_hold()). */
void leader_dpm_sample(DpmHysteresis *h, uint64_t now_usec, double cpu, double memory_mib);

/* Before the solver runs:
 * - p->dpm_standby_demand: the dpm.standby_percentile of the recorded demand over the last
 *   dpm.standby_delay (only samples since the last power-on count);
 * - p->dpm_hold_standby: until those samples cover dpm.standby_delay (or fill the ring), so a
 *   new leader and a power-on are followed by a full window of measurements; a burst inside the
 *   window longer than (1 − percentile) of it keeps the statistic up and blocks standby;
 * - p->dpm_hold_power_on: until demand (the VMs' recent peaks) has been above the band for
 *   dpm.power_on_delay as seen by previous passes.
 * A delay of 0 never holds (the statistic is then this pass's demand). */
void leader_dpm_hold(const DpmHysteresis *h, const Policy *policy, uint64_t now_usec, Problem *p);

/* After a pass: demand above the band (plan->dpm_wants_power_on) starts or continues its clock,
 * back inside stops it. started: the plan's power actions (if any) were carried out. A power-on
 * restarts the power-on clock and the standby window (no second power-on while the first host
 * boots, no standby until a full window was measured after it); standbys restart only the
 * power-on clock: a consolidation episode goes on while the statistic stays below the band. */
void leader_dpm_note(DpmHysteresis *h, const Plan *plan, bool started, uint64_t now_usec);

/* The cluster level at now: policy_automation_at() with the local weekday and minute in
 * policy->automation.timezone. "UTC" (and "Etc/UTC") use gmtime_r(); any other zone is
 * read from /usr/share/zoneinfo/ZONE and converted by tz.c, without touching TZ or the
 * process's time zone (safe from any thread). -EINVAL when the zone is unknown or its file not
 * TZif (the weekday/minute then come from UTC and the level is still set). */
int leader_automation_at(const Policy *p, time_t now, AutomationLevel *ret);

/* Utilization of one reported host: CPU demand / cpus and memory demand / memory. */
void leader_host_utilization(const HostReport *r, double *ret_cpu, double *ret_memory);

/* Whether a plan holds a mandatory move (maintenance or rule), which may replace a running
 * plan. */
bool leader_plan_is_mandatory(const Plan *plan);

/* ---- carrying a plan out ------------------------------------------------------------------ */

typedef enum LeaderMoveState {
        LEADER_MOVE_PENDING,
        LEADER_MOVE_RUNNING,
        LEADER_MOVE_DONE,
        LEADER_MOVE_FAILED,
        LEADER_MOVE_SKIPPED, /* a recommendation, or the submit callback refused it */
} LeaderMoveState;

/* Starts one move; returns < 0 when it cannot (the move is then skipped). */
typedef int (*LeaderSubmit)(const Problem *p, const PlanMove *mv, void *userdata);

typedef struct LeaderRun {
        Problem *problem;         /* owned */
        Plan *plan;               /* owned */
        LeaderMoveState *moves;   /* owned, plan->n_moves */
        unsigned wave;            /* the wave in progress; 0 = none started */
        unsigned n_waves;         /* highest wave of the plan */
        size_t n_running;         /* moves submitted and not reported done */
        size_t n_done, n_failed;  /* finished moves */
        bool mandatory;           /* holds a maintenance or rule move */
        bool include_recommended; /* drsctl apply: run recommendations too */
        uint64_t id;              /* sequence number, for the journal */
} LeaderRun;

/* Takes problem and plan (also on failure). */
int leader_run_new(Problem *problem, Plan *plan, bool include_recommended, uint64_t id, LeaderRun **ret);
LeaderRun *leader_run_free(LeaderRun *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(LeaderRun *, leader_run_free);

/* When no move is running, submits the moves of the next wave that has any (skipping
 * recommendations unless include_recommended, and moves the callback refuses). Returns 1
 * when moves are running, 0 when the plan is finished. */
int leader_run_advance(LeaderRun *r, LeaderSubmit submit, void *userdata);

/* A running move of vm finished. Returns the move index or -ENOENT when the run does not
 * know it. A move that failed (or was skipped) leaves its VM where it was: pending moves of
 * later waves into its source host are skipped (transitively), as they may need the room it
 * would have freed. */
int leader_run_move_done(LeaderRun *r, const char *vm, bool success);

bool leader_run_finished(const LeaderRun *r);
/* Moves not finished yet (pending + running). */
size_t leader_run_n_left(const LeaderRun *r);
/* Whether every move of waves <= wave is finished (a standby after wave W may go ahead). */
bool leader_run_wave_finished(const LeaderRun *r, unsigned wave);
