/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Manager: drsd's one owner of state and of the sd-event loop (everything runs on the main
 * thread). It holds the configuration (drsd.yaml), the policy, the persistent host state, the
 * history file and the control socket, and drives:
 *
 *   - signals: SIGTERM/SIGINT exit the loop cleanly; SIGHUP reloads drsd.yaml and the policy
 *     (a file with an error keeps the old configuration and policy, logged as file:line:column);
 *   - sd_notify: READY=1 once serving, STATUS= lines, RELOADING=1/READY=1 around reloads,
 *     STOPPING=1, and WATCHDOG=1 through sd_event_set_watchdog() when WatchdogSec= is set;
 *   - the pass timer: every balance interval of the policy, re-armed by itself, calling
 *     manager_pass() (the leader loop's hook; see there). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cluster.h"
#include "collector.h"
#include "config.h"
#include "control.h"
#include "executor.h"
#include "history.h"
#include "hv.h"
#include "leader.h"
#include "macro.h"
#include "policy.h"
#include "power.h"
#include "state.h"

typedef struct MetricsServer MetricsServer;
typedef struct StorageMover StorageMover;
typedef struct Poller Poller;
typedef struct VirtEvent VirtEvent;

/* One DPM power action in progress (manager-pass.c). */
typedef enum PowerPhase {
        POWER_PHASE_COMMAND, /* the command runs */
        POWER_PHASE_WAIT,    /* power-on: waiting for the host's libvirt to answer */
} PowerPhase;

typedef struct PowerOp {
        char *host; /* owned */
        PowerAction action;
        PowerPhase phase;
        PowerCommand *command;   /* owned */
        sd_event_source *timer;  /* owned; the power-on wait bound */
        uint64_t started_usec;   /* CLOCK_MONOTONIC */
        uint64_t wait_s;         /* power-on: dpm.power_on_timeout when it started */
        struct Manager *manager; /* borrowed */
} PowerOp;

/* An entering-maintenance host's VM that cannot go anywhere (from plan.unplaceable). */
typedef struct Blocker {
        char *host; /* owned */
        char *vm;   /* owned */
        char *why;  /* owned */
} Blocker;

/* Cluster mode (manager-cluster.c): a host's last report as multicast by its drsd. */
typedef struct Peer {
        char *host;          /* owned */
        uint32_t nodeid;     /* of the drsd that sent the last report */
        char *migration_uri; /* owned; from the report */
        HostReport report;   /* owned contents; t_usec on this drsd's CLOCK_MONOTONIC, 0 = no sample */
        StateHost state;     /* owned contents; the mode the host's drsd announces */
        StateHost shown;     /* borrowed from state: as manager_host_state() shows it (pending order) */
        uint64_t received_usec;
        bool pending; /* the leader ordered pending_mode and the host has not confirmed it yet */
        HostMode pending_mode;
        uint64_t pending_until_usec;
} Peer;

/* A MIGRATE order of this leader without a RESULT yet. */
typedef struct Order {
        uint64_t id;
        char *vm;     /* owned */
        char *source; /* owned */
        char *target; /* owned */
} Order;

/* A migration that completed lately: a report taken before it may still show the VM on its
 * source (LeaderInput.moved). */
typedef struct RecentMove {
        char *vm, *from, *to; /* owned */
        uint64_t done_usec;   /* CLOCK_MONOTONIC */
} RecentMove;

/* A drsctl request forwarded to the leader, waiting for its REPLY. */
typedef struct Forward {
        uint64_t id; /* the control server's pending id, also the request id on the wire */
        uint32_t leader;
        sd_event_source *timer; /* owned */
        char *reply;            /* owned; the reply's pieces received so far, concatenated */
        size_t reply_len;
        uint16_t next_part; /* the piece expected next */
} Forward;

/* The local libvirt in cluster mode when the host's entry has no uri. */
#define MANAGER_LOCAL_URI "qemu:///system"

#define DRSD_DEFAULT_CONFIG "/etc/drs/drsd.yaml"

struct Manager {
        sd_event *event;   /* owned */
        char *config_path; /* owned */
        bool foreground;

        DrsConfig *config; /* owned; the configuration in force */
        Policy *policy;    /* owned; the policy in force */
        gid_t admin_gid;   /* resolved from config->admin_group */
        bool have_admin_gid;

        State *state;     /* owned; from config->state_dir at start (a reload does not move it) */
        History *history; /* owned; same directory */

        ControlServer *control;      /* owned */
        char *socket_path;           /* owned; what the control socket was bound to, NULL when activated */
        sd_event_source *pass_timer; /* owned */
        sd_event_source *sigterm;    /* owned */
        sd_event_source *sigint;     /* owned */
        sd_event_source *sighup;     /* owned */

        uint64_t started_usec;     /* CLOCK_REALTIME */
        uint64_t n_passes;         /* pass timer firings */
        uint64_t last_pass_usec;   /* CLOCK_REALTIME of the last pass; 0 = none yet */
        uint64_t pass_interval_s;  /* the interval the timer is armed with */
        uint64_t n_reloads;        /* successful reloads */
        uint64_t last_reload_usec; /* CLOCK_REALTIME of the last attempt; 0 = none */
        char *last_reload_error; /* owned; file:line:column: … of the last failed reload, NULL after a good
                                    one */

        /* The leader (manager-pass.c). */
        const HvOps *hv_ops;         /* borrowed; hv_libvirt_ops unless a test sets another */
        VirtEvent *virt_event;       /* owned; libvirt's event thread, started before any connection */
        Poller *poller;              /* owned; per-host collection threads */
        Collector *collector;        /* owned; host reports */
        Executor *executor;          /* owned; migrations */
        StorageMover *storage_mover; /* owned; live storage moves (manager-storage.c), made on first use */
        MoveLog moves;               /* owned; last move of each VM (cooldown), from history at start */
        AdoptTracker adopted;        /* owned; migrations in flight that this drsd did not start */
        LeaderRun *run;              /* owned; the plan being carried out, NULL when none */
        LeaderRun *recommendations;  /* owned; the last plan with recommendations (drsctl apply) */
        uint64_t n_runs;             /* plans started */
        PlanMetrics last_metrics;    /* of the last pass's plan (before) */
        uint64_t last_plan_usec;     /* CLOCK_REALTIME of the last solver run of a pass */
        char *last_plan_summary;     /* owned; one line about the last pass's plan */
        Blocker *blockers;           /* owned array */
        size_t n_blockers;
        char **stale_hosts;  /* owned strv: hosts stale at the last check */
        char **draining;     /* owned strv: hosts DPM empties before standby */
        char **polled;       /* owned strv: hosts the poller collects */
        PowerOp **power_ops; /* owned array of owned */
        size_t n_power_ops;
        sd_event_source *pass_soon; /* owned; a deferred pass (evacuate, reload, stale host, …) */
        uint64_t n_migrations_ok, n_migrations_failed;
        RecentMove *recent; /* owned array: migrations completed in the last few intervals */
        DpmHysteresis dpm;  /* how long demand has been outside the DPM band (leader passes) */
        /* The last pass's plan: quorum kept DPM from a standby (Plan.dpm_quorum_limited), and the
         * votes the hosts left powered hold (cluster mode). */
        bool dpm_quorum_limited;
        unsigned dpm_votes_after;
        size_t n_recent;

        MetricsServer *metrics; /* owned; counters always, the endpoint when metrics_listen is set */

        /* Cluster mode (manager-cluster.c); all empty in standalone mode. */
        Cluster *cluster; /* owned */
        char *local_host; /* owned; this drsd's host */
        Peer *peers;      /* owned array */
        size_t n_peers;
        Order *orders; /* owned array */
        size_t n_orders;
        uint64_t next_order_id;
        Forward *forwards; /* owned array */
        size_t n_forwards;
        uint32_t last_leader;
        uint64_t last_term;
        bool was_leader;
        /* DPM: standby announced, the power-off waits for that report to come back through
         * CPG (then every member has it: agreed order) — a host that died with its
         * announcement unsent would otherwise look up-but-silent, and never be powered on. */
        sd_event_source *standby_wait; /* owned; the give-up timer while waiting */
};

int manager_new(const char *config_path, bool foreground, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads drsd.yaml and the policy it names, without touching the state directory (also what
 * --check-config runs). On a bad file returns -EINVAL and *reterr_msg ("file:line:column: …"). */
int manager_load_config(Manager *m, char **reterr_msg);

/* Opens the state directory (host state, history), sets up signals, the watchdog, the pass
 * timer and the control socket (listen_fd >= 0: socket activation, taken over; else bound at
 * the configured path). Logs what fails. */
int manager_start(Manager *m, int listen_fd);

/* Runs the loop until SIGTERM/SIGINT; returns the exit code of the loop. */
int manager_run(Manager *m);

/* Re-reads drsd.yaml and the policy; on error keeps both old ones, sets last_reload_error and
 * returns -EINVAL with *reterr_msg (may be NULL). Logs and records the outcome. */
int manager_reload(Manager *m, char **reterr_msg);

/* One leader pass (manager-pass.c): collector reports + host state → solver → executor and
 * DPM, per the automation level in force now. */
int manager_pass(Manager *m);
/* Runs a pass soon (from the loop, not nested): evacuate, exit-maintenance, reload, a host
 * going stale, a power-on that completed. */
void manager_request_pass(Manager *m, const char *why);

/* The leader's parts in manager-pass.c. */
int manager_leader_start(Manager *m);   /* virt-event thread, collector, poller, executor */
void manager_leader_stop(Manager *m);   /* frees them (in-flight migrations continue in libvirt) */
void manager_leader_reload(Manager *m); /* policy/config changed: poller hosts, executor policy */
/* The cluster as a Problem now (force_maintenance: a host presented as in maintenance). */
int manager_build_problem(Manager *m, const char *force_maintenance, Problem **ret);
int manager_solve(Manager *m, const Problem *p, Plan **ret);
/* Starts the recommendations of the last manual plan. -ENOENT when there are none. */
int manager_apply(Manager *m, size_t *ret_n);
/* The Prometheus endpoint (manager-metrics.c): start serves drsd.yaml's metrics_listen (an
 * error when it cannot); reload follows a changed address (logged, never fatal); stop frees. */
int manager_metrics_start(Manager *m);
void manager_metrics_reload(Manager *m);
void manager_metrics_stop(Manager *m);
/* Whether the collector has fresh reports of host. */
bool manager_host_fresh(Manager *m, const char *host);
void blockers_free(Blocker *b, size_t n);

/* CLOCK_REALTIME in µs: history times, cooldowns, status timestamps (hv_now_usec() is the
 * monotonic clock of reports). */
uint64_t manager_realtime_usec(void);

/* Records an event in the journal (with its MESSAGE_ID and fields) and in the history file. */
void manager_record(Manager *m, int level, const char *message_id, const HistoryEvent *e);

/* Host facts whatever the mode (standalone: the collector and the state file; cluster: the
 * hosts' reports, this host's own state file, and the modes the leader ordered). */
const HostReport *manager_host_report(Manager *m, const char *host);
bool manager_host_stale(Manager *m, const char *host, uint64_t now_mono);
HostMode manager_host_mode(Manager *m, const char *host);
const StateHost *manager_host_state(Manager *m, const char *host); /* NULL when up */
/* Sets a host's mode and records the change: locally, or (cluster mode, another host) by an order
 * to that host's drsd (-EREMOTE when this drsd is not the leader, -EHOSTDOWN when the host's drsd is
 * not in the cluster). Returns 1 when changed (or ordered), 0 when it already was so. */
int manager_set_host_mode(Manager *m, const char *host, HostMode mode, const char *reason);
/* Migrations this drsd started or ordered that have not ended. */
unsigned manager_migrations_in_flight(Manager *m);
bool manager_vm_busy(Manager *m, const char *vm);
/* The target of this drsd's migration (job or order) of vm in flight; NULL when none. */
const char *manager_vm_target(Manager *m, const char *vm);
/* The pass code's hooks for results: records a finished migration of this drsd's executor
 * (history, journal, metrics, cooldown; standalone: advances the plan), and marks a plan's move
 * done (cluster mode: from a RESULT). */
void manager_migration_finished(Manager *m, const MigrationRequest *req, const MigrationOutcome *o);
/* The recording part alone (history, journal, metrics, counters, the VM's last move; a failure
 * sets it too when cool_down_failure): what manual migrations use. */
void manager_record_migration(
        Manager *m, const MigrationRequest *req, const MigrationOutcome *o, bool cool_down_failure);
void manager_run_move_done(Manager *m, const char *vm, bool ok);
/* Remembers a completed migration for a few intervals (see RecentMove). */
void manager_note_moved(Manager *m, const char *vm, const char *from, const char *to);
/* A host stopped being a valid target (why: its mode, or "draining for standby"): migrations
 * to it queued in this drsd's executor and not started are cancelled (skipped). */
void manager_cancel_queued_to(Manager *m, const char *host, const char *why);
/* Drops the plan in progress and the recommendations (leadership lost). */
void manager_drop_plan(Manager *m);
/* DPM in cluster mode: this host's drsd announces standby once it runs no VM, and powers its
 * host off when that announcement has been delivered back to it (manager_local_power_off_go). */
void manager_local_power_off(Manager *m);
void manager_local_power_off_go(Manager *m);

/* Cluster mode (manager-cluster.c). */
bool manager_is_cluster(const Manager *m);
bool manager_acting_leader(const Manager *m); /* standalone: always */
int manager_cluster_start(Manager *m);        /* after the control server exists */
void manager_cluster_stop(Manager *m);
void manager_cluster_report_now(Manager *m);
int manager_cluster_order_migration(Manager *m, const MigrationRequest *req);
int manager_cluster_order_power_off(Manager *m, const char *host);
/* The leader got a report of host (power-on completion, maintenance progress). */
void manager_cluster_host_reported(Manager *m, const char *host);
int manager_cluster_status_json(Manager *m, json_object *o);
/* votequorum's view for the Problem, each host's votes set in hosts[] (LeaderHost.votes). When
 * votequorum cannot be read, quorum is out of reach: DPM then powers nothing off. */
void manager_cluster_quorum(Manager *m, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret);
int manager_forward(
        Manager *m, const char *method, json_object *request, uint64_t id, json_object **ret_reply);

/* ", N disk(s) copied (X MiB), source volumes kept|removed" for a migration's message (a
 * static buffer: main thread only). */
const char *manager_disk_copy_note(const MigrationOutcome *o);

/* Manual moves (manager-storage.c): drs.Migrate and drs.MoveStorage. */
int manager_method_migrate(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_move_storage(Manager *m, json_object *params, json_object **reply, char **reterr_error);

/* The control methods, for control_server_new(). */
extern const ControlMethodEntry manager_methods[];
extern const size_t manager_n_methods;
