/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Manager's base (manager-pass.c): the leader's wiring (the pass, its timer's hook, the
 * poller, collector and executor it starts) and what every other part of the Manager calls —
 * the journal and history (manager_record), host facts and host modes through the HostSource,
 * the records of migrations. The layering of agent/'s daemon files, each calling only the ones
 * below it (checked with nm: no two files call each other):
 *
 *   drsd.c → manager.c → manager-cluster.c, manager-standalone.c, manager-storage.c,
 *                        manager-metrics.c → manager-pass.c → power.c, metrics.c
 *
 * (manager.c, manager-cluster.c and manager-storage.c call control.c too). manager-pass.c calls
 * none of the files above it: what depends on the mode goes through the HostSource (manager.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager.h"

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
/* Whether the collector has fresh reports of host. */
bool manager_host_fresh(Manager *m, const char *host);
/* Now on both clocks, for the pass. */
LeaderNow manager_now(void);
/* A host's report arrived (power-on completion, stale hosts), or just the stale check. */
void manager_host_reported(Manager *m, const char *host);
void manager_check_stale(Manager *m);
/* Records a planned move started (verb "Migrating", result "started") or ordered. */
void manager_record_move_started(
        Manager *m, const MigrationRequest *req, const char *verb, const char *result);

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
/* This drsd's own state file: sets and records host's mode (cancels migrations queued to it
 * when it leaves up). Returns 1 when changed, 0 when it already was so. */
int manager_set_local_host_mode(Manager *m, const char *host, HostMode mode, const char *reason);
/* Journal and history of a mode change (how: NULL, or " — ordered"). */
void manager_record_mode_change(
        Manager *m, const char *host, HostMode old, HostMode mode, const char *reason, const char *how);
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
/* ", over TLS" / ", plain (why)" / "; attempted over TLS" … for a migration's message, "" when
 * unknown (a static buffer: main thread only). */
const char *manager_encryption_note(const MigrationOutcome *o);
/* Remembers a completed migration for a few intervals (see RecentMove). */
void manager_note_moved(Manager *m, const char *vm, const char *from, const char *to);
/* A host stopped being a valid target (why: its mode, or "draining for standby"): migrations
 * to it queued in this drsd's executor and not started are cancelled (skipped). */
void manager_cancel_queued_to(Manager *m, const char *host, const char *why);
/* Drops the plan in progress and the recommendations (leadership lost). */
void manager_drop_plan(Manager *m);
bool manager_acting_leader(const Manager *m); /* standalone: always */
/* Rolling maintenance: loads STATE_DIR/rollout.json into the pass (when this drsd starts
 * leading); a missing file is no rollout. Logs what fails. */
int manager_rollout_load(Manager *m);
/* Writes STATE_DIR/rollout.json (json NULL: removes it); cluster mode's followers keep the
 * leader's copy with it. */
int manager_rollout_store(Manager *m, const char *json);
/* Runs an expanded rollout command for host on this drsd's loop; its end goes to the pass, or
 * (by_message: run for the leader in cluster mode) to HostSource.rollout_command_done. */
int manager_rollout_run(Manager *m, const char *host, const char *cmd, uint64_t timeout_s, bool by_message);
/* Saves the rollout (NULL: removes the file) and hands it to the HostSource. */
int manager_rollout_save(Manager *m, const Rollout *r);
