/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The drs simulator: drsd's real leader pass (agent/leader/pass.c: policy, collector,
 * leader_build_problem, the solver, LeaderRun, MoveLog, host State, DPM and maintenance), the
 * executor's admission rule and stall ladder, against a simulated cluster on a virtual clock.
 *
 *   Scenario     what to simulate: hosts, VMs with load patterns or a trace file, the policy,
 *                migration and power timings and failure rates, scheduled events, expectations
 *                (scenario.c parses it from YAML; random.c generates one from a seed)
 *   sim_run()    runs it: every collection interval each powered host's HvHostStats (the
 *                boundary drsd's collector reads from libvirt) is fed to the real collector;
 *                every balance interval (and when something asks for one) a pass builds the
 *                Problem, solves it and carries the plan out wave by wave through a simulated
 *                executor whose migrations progress by bandwidth and dirty rate and are watched
 *                by agent/leader/migration-watch.c; DPM and maintenance transitions by drsd's pass.
 *                An invariant checker looks at every step.
 *   SimResult    what happened: imbalance over time, migrations, maintenance, power, faults,
 *                invariant violations, expectations met or not; report.c prints it as text,
 *                JSON or an SVG chart.
 *
 * Deterministic: a seeded PRNG, the virtual clock only (no wall clock in results), the solver
 * with its wall-clock safety net off. Library code: never logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "policy.h"

/* ---- the scenario ---------------------------------------------------------------------- */

typedef enum SimPattern {
        SIM_PATTERN_STEADY,  /* base, with noise */
        SIM_PATTERN_DIURNAL, /* base at night, peak at peak_at (cosine over the day) */
        SIM_PATTERN_BURSTY,  /* base, and peak during random bursts */
        SIM_PATTERN_GROWING, /* from base at the start to peak at the end */
        _SIM_PATTERN_MAX,
        _SIM_PATTERN_INVALID = -1,
} SimPattern;

const char *sim_pattern_to_string(SimPattern p);
SimPattern sim_pattern_from_string(const char *s);

/* A demand over time, as a fraction of the VM's vCPUs (CPU) or configured memory (memory). */
typedef struct SimLoad {
        SimPattern pattern;
        double base, peak;        /* fractions 0..1 */
        unsigned peak_minute;     /* diurnal: minute of the day of the peak; default 14:00 */
        double noise;             /* relative jitter per sample, default 0.05 */
        double burst_probability; /* bursty: chance that a burst_s slot is a burst; default 0.1 */
        uint64_t burst_s;         /* bursty: burst slot length; default 600 */
} SimLoad;

typedef struct SimHostSpec {
        char *name; /* owned; with count > 1 a prefix: NAME01, NAME02, … */
        unsigned count;
        unsigned cpus;
        uint64_t memory_mib;
        char **groups;    /* owned strv */
        bool standby;     /* starts powered off in standby */
        PowerModel power; /* watts by CPU utilization; unknown: no energy counted */
} SimHostSpec;

typedef struct SimVmSpec {
        char *name; /* owned; with count > 1 a prefix */
        unsigned count;
        char *host; /* owned; initial host; NULL = placed by the simulator (round robin that fits) */
        unsigned vcpus;
        uint64_t memory_mib;
        SimLoad cpu, memory;
        double dirty_mib_s; /* memory written per second, what a migration must re-send; default 20 */
        char **groups;      /* owned strv */
} SimVmSpec;

typedef enum SimEventType {
        SIM_EVENT_EVACUATE,         /* drsctl evacuate HOST */
        SIM_EVENT_EXIT_MAINTENANCE, /* drsctl exit-maintenance HOST */
        SIM_EVENT_KILL_HOST,        /* the host dies: no reports, its VMs down with it */
        SIM_EVENT_REVIVE_HOST,      /* a killed host comes back with its VMs */
        SIM_EVENT_FAIL_MIGRATIONS,  /* migrations (to HOST, or all) fail in [at, until) */
        SIM_EVENT_STALL_MIGRATIONS, /* VMs dirty memory 20× faster in [at, until) */
        SIM_EVENT_FAIL_POWER,       /* power commands (for HOST, or all) fail in [at, until) */
        SIM_EVENT_LEADER_CHANGE,    /* a new leader: the plan in flight is dropped, a new term */
        _SIM_EVENT_MAX,
} SimEventType;

typedef struct SimEvent {
        SimEventType type;
        char *host;            /* owned; NULL = every host (fail/stall) or none */
        uint64_t at_s;         /* seconds after the start */
        uint64_t until_s;      /* windows: end (exclusive); else = at_s */
        unsigned line, column; /* where it was defined; 0 when generated */
} SimEvent;

/* Expectations of a shipped scenario; a negative value (double) or UINT64_MAX = not checked. */
typedef struct SimExpect {
        int64_t max_migrations;
        int64_t max_moved_twice_within_cooldown;
        int64_t max_returns;            /* moves back to the host a VM came from within the cooldown */
        int64_t max_idle_balance_moves; /* balance moves while every up host is below 20 % CPU */
        int64_t min_migrations;
        double max_memory_utilization; /* physical memory demand / memory of any host, at any sample */
        double max_cpu_utilization;    /* of any up host, at any sample after the first pass */
        double max_evacuation_share;   /* of one evacuation's VMs, the largest share one target got */
        double min_dpm_savings;        /* 1 − powered host-hours / always-on host-hours */
        double max_final_cpu_imbalance;
        int64_t max_maintenance_s; /* every evacuation done within this many seconds */
        int64_t max_power_actions; /* standby and power-on commands that ended (ok or failed) */
        int64_t min_power_ons;     /* power-on commands that succeeded */
        int64_t min_passes_without_quorum, max_passes_without_quorum;
} SimExpect;

typedef struct Scenario {
        char *file;        /* owned; NULL when generated */
        char *name;        /* owned */
        char *description; /* owned; may be NULL */
        uint64_t seed;
        uint64_t duration_s;
        uint64_t interval_s; /* collection interval (drsd.yaml's interval), default 10 */
        bool greedy_only;    /* solver: greedy heuristic only (default: the full solver) */
        /* Cluster mode's votequorum: one vote per host, every host expected; the leader acts only
         * while the hosts that answer hold a majority, and DPM keeps it (dpm.tolerate_failures). */
        bool quorum;
        unsigned effort; /* solver: deterministic optimizer budget, 0 = default */
        Policy *policy;  /* owned: defaults overlaid with the scenario's policy */

        SimHostSpec *hosts; /* owned array */
        size_t n_hosts;
        SimVmSpec *vms; /* owned array */
        size_t n_vms;

        /* Migration model. */
        uint64_t link_mib_s;        /* network bandwidth per migration, default 1170 (10 Gbit/s) */
        uint64_t setup_ms;          /* before RAM is sent, default 2000 */
        double migration_fail_rate; /* chance a migration fails midway, default 0 */
        /* Power model. */
        uint64_t power_off_s;   /* the power-off command, default 30 */
        uint64_t power_on_s;    /* the power-on command, default 5 */
        uint64_t boot_s;        /* then until libvirt answers, default 90 */
        double power_fail_rate; /* chance a power command fails, default 0 */

        /* Trace file: per-VM demands over time, replacing the patterns of the VMs it names. */
        struct SimTracePoint *trace; /* owned array, sorted by time */
        size_t n_trace;

        SimEvent *events; /* owned array, sorted by at_s */
        size_t n_events;
        SimExpect expect;
} Scenario;

typedef struct SimTracePoint {
        uint64_t t_s;
        char *vm; /* owned */
        double cpu_cores;
        uint64_t memory_mib;
} SimTracePoint;

/* The defaults, no hosts, VMs or events. */
int scenario_new(Scenario **ret);
Scenario *scenario_free(Scenario *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scenario *, scenario_free);

/* Parses a scenario document; file names it in errors (FILE:LINE:COLUMN) and is the base of
 * relative paths (the trace file). -EINVAL with *reterr on a bad document. */
int scenario_parse(const char *file, const char *buf, size_t len, Scenario **ret, PolicyError *reterr);
/* Reads and parses a file. */
int scenario_load(const char *path, Scenario **ret, PolicyError *reterr);

/* A random scenario for the randomized test: a small cluster, random loads, policy, rules and
 * faults. The same seed gives the same scenario. */
int scenario_random(uint64_t seed, Scenario **ret);

/* ---- running it ------------------------------------------------------------------------- */

#define SIM_MAX_VIOLATIONS_KEPT 20

typedef struct SimStats {
        double min, median, max;
} SimStats;

typedef struct SimMaintenance {
        char *host;          /* owned */
        uint64_t start_s;    /* evacuate */
        int64_t done_s;      /* maintenance reached; -1 = not by the end */
        unsigned n_vms;      /* VMs it held at the start */
        unsigned max_to_one; /* most of them that went to one target */
} SimMaintenance;

typedef struct SimSeriesPoint {
        uint64_t t_s;
        float *cpu; /* owned, n_hosts; < 0 = not powered */
        float *mem; /* owned, n_hosts */
        unsigned hosts_on;
        unsigned migrations; /* started since the previous point */
} SimSeriesPoint;

typedef struct SimMark {
        uint64_t t_s;
        char *label; /* owned */
} SimMark;

typedef struct SimResult {
        char *name; /* owned */
        uint64_t seed;
        uint64_t duration_s;
        size_t n_hosts, n_vms;
        char **host_names; /* owned strv */

        uint64_t steps;   /* clock advances (samples, polls, events) */
        uint64_t samples; /* collection rounds */
        uint64_t passes, plans_started, plans_replaced;
        uint64_t passes_without_quorum; /* Scenario.quorum: leader passes skipped, no majority */

        SimStats cpu_imbalance, memory_imbalance; /* over the samples after the first pass */
        double final_cpu_imbalance, final_memory_imbalance;
        double max_cpu_utilization, max_memory_utilization; /* demand / capacity, any up host */

        uint64_t migrations_started, migrations_ok, migrations_failed, migrations_aborted,
                migrations_skipped;
        uint64_t migrations_by_reason[5]; /* balance, maintenance, rule, dpm, placement (MoveReason) */
        uint64_t stall_steps, retries;
        uint64_t vms_moved, max_moves_one_vm;
        uint64_t moved_twice_within_cooldown, balance_moved_twice_within_cooldown, returns;
        uint64_t idle_balance_moves;

        SimMaintenance *maintenance; /* owned array */
        size_t n_maintenance;

        uint64_t standby_ok, standby_failed, power_on_ok, power_on_failed;
        /* drsd's benefit measurements (agent/leader/benefit.c): moves measured to 15 min, how
         * many made the balance worse or realized under a tenth of their prediction, ended
         * early; predicted and realized gains summed. */
        uint64_t benefit_measured, benefit_worse, benefit_little, benefit_superseded;
        double benefit_predicted, benefit_realized;
        double host_hours_on, host_hours_always_on;
        /* Energy: every powered host charged by its power model at its CPU utilization (a
         * booting host at its maximum, a host in standby 0 W); hosts without a model count 0. */
        double energy_j;
        /* Host-hours of hosts that answer, and of those with CPU demand >= capacity. */
        double host_hours_serving, host_hours_overloaded;

        /* Faults exercised. */
        uint64_t faults_migration_failed, faults_stalled, faults_host_killed, faults_power_failed,
                faults_leader_changes, stale_orders_refused;

        uint64_t n_violations;
        SimMark violations[SIM_MAX_VIOLATIONS_KEPT]; /* the first ones */
        size_t n_violations_kept;
        char **expect_failures; /* owned strv: expectations not met */

        SimSeriesPoint *series; /* owned array; with keep_series */
        size_t n_series;
        SimMark *marks; /* owned array: scheduled events, for the chart */
        size_t n_marks;
} SimResult;

SimResult *sim_result_free(SimResult *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(SimResult *, sim_result_free);

typedef struct SimOptions {
        bool keep_series; /* per-host utilization over time (for the SVG) */
        /* When set, a CSV row per host and sample: seconds, host, powered (1 when it answers,
         * b when booting, 0 when off), CPU demand (cores), CPU capacity (cores), watts (its
         * model at its utilization; booting: maximum; 0 off or without a model). */
        FILE *series;
        /* When set, a CSV row per balance or DPM move measured to 15 minutes (see drs-sim
         * --help for the columns). */
        FILE *moves;
} SimOptions;

int sim_run(const Scenario *s, const SimOptions *opts, SimResult **ret);

/* Whether the run is clean: no invariant violation and every expectation met. */
bool sim_result_ok(const SimResult *r);

/* ---- reports ------------------------------------------------------------------------------ */

int sim_result_to_text(const SimResult *r, FILE *f);
int sim_result_to_json(const SimResult *r, char **ret);
int sim_result_to_svg(const SimResult *r, FILE *f);
