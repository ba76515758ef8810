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
#include "imbalance-log.h"
#include "leader.h"
#include "pass.h"
#include "macro.h"
#include "policy.h"
#include "power-meter.h"
#include "power.h"
#include "state.h"
#include "storage-move.h"

typedef struct MetricsServer MetricsServer;
typedef struct StorageMover StorageMover;
typedef struct Poller Poller;
typedef struct VirtEvent VirtEvent;

/* What runs one DPM power action of the pass (manager-pass.c): the command, and for a power-on
 * the timer of its wait (dpm.power_on_timeout). The pass (LeaderPass.power) says what it means. */
typedef struct PowerOp {
        char *host; /* owned */
        PowerAction action;
        PowerCommand *command;   /* owned; NULL once it ended */
        sd_event_source *timer;  /* owned; the power-on wait bound */
        struct Manager *manager; /* borrowed */
} PowerOp;

/* A rolling maintenance command or health check running here (manager-pass.c). */
typedef struct RolloutCmd {
        char *host;              /* owned */
        PowerCommand *command;   /* owned */
        struct Manager *manager; /* borrowed */
        bool by_message;         /* run for the leader: the outcome goes out as a message */
} RolloutCmd;

/* Cluster mode: a VM's file disks, from its host's STORAGE. */
typedef struct PeerVmDisks {
        char *name;       /* owned */
        HvDiskUse *disks; /* owned */
        size_t n_disks;
} PeerVmDisks;

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
        char *pending_reason;     /* owned; the order's reason, for sending it again */
        unsigned pending_resends; /* times sent again (a report still showing the old mode) */
        /* Cluster protocol: 2 once a STORAGE of the host arrived since its drsd (re)joined; 1
         * for a drsd of the previous version (it sends none). Its storage facts: the pools go
         * to report.pools, the VMs' disks (sorted by VM name) onto report.vms at every report. */
        uint16_t protocol;
        PeerVmDisks *disks; /* owned array, sorted by name */
        size_t n_disks;
        ClusterStorageAssembly storage_parts; /* owned; the STORAGE parts being received */
} Peer;

/* A MIGRATE (or STORAGE_MOVE) order of this leader without a RESULT (STORAGE_DONE) yet. */
typedef struct Order {
        uint64_t id;
        char *vm;     /* owned */
        char *source; /* owned; STORAGE_MOVE: the VM's host */
        char *target; /* owned; STORAGE_MOVE: the pool */
        bool manual;  /* drsctl migrate / move-storage: not a move of the plan */
        bool storage; /* a STORAGE_MOVE */
} Order;

/* A manual MIGRATE order seen on the wire (every drsd records its outcome). */
typedef struct ManualSeen {
        uint64_t term;
        uint64_t order_id; /* 0 = free */
        bool storage;      /* a STORAGE_MOVE (source: the VM's host), else a MIGRATE */
        char vm[256];      /* CLUSTER_NAME_MAX + 1 */
        char source[256];
} ManualSeen;

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

typedef struct Manager Manager;

/* Where host facts come from and how the leader acts on hosts: the one seam between standalone
 * mode (host_source_standalone, manager-standalone.c: every host polled here, migrations and
 * power commands run by this drsd) and cluster mode (host_source_cluster, manager-cluster.c:
 * reports multicast by each host's drsd, modes owned by each host's drsd, migrations and
 * power-offs ordered to them). Picked once from drsd.yaml's mode (it needs a restart). */
typedef struct HostSource {
        const char *name;
        /* This drsd plans and acts (standalone: always). */
        bool (*acting_leader)(const Manager *m);
        /* Whether this drsd's poller collects host. */
        bool (*polls)(const Manager *m, const char *host);
        /* A sample (or an error, good false) of a polled host was fed to the collector. */
        void (*sampled)(Manager *m, const char *host, bool good, bool have_stats);
        const HostReport *(*report)(Manager *m, const char *host);
        bool (*stale)(Manager *m, const char *host, uint64_t now_mono);
        HostMode (*mode)(Manager *m, const char *host);
        const StateHost *(*state)(Manager *m, const char *host); /* NULL when up */
        int (*set_mode)(Manager *m, const char *host, HostMode mode, const char *reason);
        unsigned (*in_flight)(Manager *m);
        bool (*vm_busy)(Manager *m, const char *vm);
        const char *(*vm_target)(Manager *m, const char *vm);
        /* Starts (standalone) or orders (cluster) one planned move, and records it. */
        int (*start_migration)(Manager *m, const MigrationRequest *req);
        /* votequorum's view for DPM (LeaderPassOps.quorum); NULL: no quorum (standalone). */
        void (*quorum)(Manager *m, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret);
        /* NULL: the leader runs a drained host's power-off command itself; else it orders it. */
        int (*order_power_off)(Manager *m, const char *host);
        int (*start)(Manager *m);                       /* after the control server exists; may be NULL */
        void (*stop)(Manager *m);                       /* may be NULL */
        int (*status_json)(Manager *m, json_object *o); /* adds to drs.Status; may be NULL */
        void (*notify_role)(Manager *m, char *buf, size_t size); /* sd_notify STATUS= role */
        /* The leader saved the rollout (json: its saved form, NULL = none): cluster mode multicasts
         * it so that every drsd keeps a copy for the next leader. May be NULL. */
        void (*rollout_saved)(Manager *m, const char *json);
        /* Cluster mode (NULL in standalone mode): the leader's own host's command runs on another
         * member (rollout_runner picks it: 0 = none, the leader runs it), ordered with
         * order_rollout_command; that member reports the end with rollout_command_done. */
        uint32_t (*rollout_runner)(Manager *m, const char *host, const Rollout *r);
        bool (*rollout_runner_alive)(Manager *m, uint32_t runner);
        int (*order_rollout_command)(
                Manager *m, uint32_t runner, const char *host, const char *command, uint64_t timeout_s,
                bool health);
        void (*rollout_command_done)(
                Manager *m, const char *host, bool ok, const char *message, uint64_t duration_ms);
        /* drsctl migrate / move-storage, after the leader's checks: standalone runs them here
         * (manager_start_manual_migration_here(), manager_start_storage_move_here()); cluster
         * mode orders them to the VM's host's drsd. -EBUSY, -EPROTONOSUPPORT (that drsd speaks an
         * older cluster protocol), -EHOSTDOWN (not in the cluster), -EOPNOTSUPP, … */
        int (*start_manual_migration)(Manager *m, const MigrationRequest *req);
        int (*start_storage_move)(Manager *m, const StorageMoveRequest *req);
} HostSource;

extern const HostSource host_source_standalone;
extern const HostSource host_source_cluster;

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
        const HostSource *source;    /* borrowed; standalone or cluster, from the configuration */
        LeaderPass *pass;            /* owned; the leader's decisions and memory (agent/leader/pass.c) */
        const HvOps *hv_ops;         /* borrowed; hv_libvirt_ops unless a test sets another */
        VirtEvent *virt_event;       /* owned; libvirt's event thread, started before any connection */
        Poller *poller;              /* owned; per-host collection threads */
        Collector *collector;        /* owned; host reports */
        Executor *executor;          /* owned; migrations */
        StorageMover *storage_mover; /* owned; live storage moves (manager-storage.c), made on first use */
        AdoptTracker adopted;        /* owned; migrations in flight that this drsd did not start */
        char **polled;               /* owned strv: hosts the poller collects */
        PowerOp **power_ops;         /* owned array of owned: the pass's power commands running here */
        size_t n_power_ops;
        sd_event_source *pass_soon; /* owned; a deferred pass (evacuate, reload, stale host, …) */
        RolloutCmd **rollout_cmds;  /* owned array of owned: rollout commands running here */
        size_t n_rollout_cmds;
        uint64_t n_migrations_ok, n_migrations_failed;

        MetricsServer *metrics;      /* owned; counters always, the endpoint when metrics_listen is set */
        PowerMeter *power_meter;     /* owned; watts and energy (manager-metrics.c) */
        ImbalanceLog *imbalance_log; /* owned; the last hour's imbalance (manager-metrics.c) */
        sd_event_source *imbalance_timer; /* owned; adds to imbalance_log every IMBALANCE_LOG_PERIOD_S */

        /* Cluster mode (manager-cluster.c); all empty in standalone mode. */
        Cluster *cluster; /* owned */
        char *local_host; /* owned; this drsd's host */
        Peer *peers;      /* owned array */
        size_t n_peers;
        Order *orders; /* owned array */
        size_t n_orders;
        uint64_t next_order_id;
        uint32_t storage_generation; /* of this host's STORAGE messages */
        ManualSeen manual_seen[32];  /* the last manual orders seen, a ring */
        size_t manual_seen_next;
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

/* ---- the parts manager.c wires in (the rest is manager-pass.h) ---------------------------- */

/* The Prometheus endpoint (manager-metrics.c): start serves drsd.yaml's metrics_listen (an
 * error when it cannot); reload follows a changed address (logged, never fatal); stop frees. */
int manager_metrics_start(Manager *m);
/* Watts of a host now (PowerMeter: measured where a reading is fresh, else its model); < 0
 * unknown. */
double manager_host_watts(Manager *m, const char *host, bool *ret_measured);
void manager_power_meter_restart(Manager *m);
void manager_metrics_reload(Manager *m);
void manager_metrics_stop(Manager *m);
/* The imbalance drsctl status shows (manager.c): population standard deviation of CPU and
 * memory utilization over up hosts with fresh reports; false (and zeros) when there is none. */
bool manager_cluster_imbalance(Manager *m, double *ret_cpu, double *ret_memory);
/* Manual moves (manager-storage.c): drs.Migrate and drs.MoveStorage. */
int manager_method_migrate(Manager *m, json_object *params, json_object **reply, char **reterr_error);
int manager_method_move_storage(Manager *m, json_object *params, json_object **reply, char **reterr_error);
/* manager-storage.c: a manual migration run by this drsd's executor (recorded when it ends, no
 * cooldown on failure), and a storage move run by this drsd's storage mover (done NULL: recorded
 * when it ends; else done is called instead and should record it with
 * manager_record_storage_move()). */
int manager_start_manual_migration_here(Manager *m, const MigrationRequest *req);
int manager_start_storage_move_here(
        Manager *m, const StorageMoveRequest *req, StorageMoveDone done, void *userdata);
void manager_record_storage_move(Manager *m, const StorageMoveRequest *req, const StorageMoveOutcome *o);

/* The control methods, for control_server_new(). */
extern const ControlMethodEntry manager_methods[];
extern const size_t manager_n_methods;
