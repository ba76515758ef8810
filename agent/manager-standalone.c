/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Standalone mode's HostSource: one drsd manages every host of drsd.yaml by its libvirt URI.
 * Every host is polled here (the collector holds the reports), host modes are this drsd's
 * state file, migrations run in this drsd's executor and power commands here. Migrations
 * running in libvirt that this drsd did not start (a previous drsd's, picked up after a
 * restart, or an operator's) are adopted from the reports and count against the executor's
 * limits. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "log.h"
#include "manager-pass.h"

#define USEC_PER_SEC 1000000ULL

/* ---- host facts ------------------------------------------------------------------------ */

static bool standalone_acting_leader(const Manager *m) {
        return true;
}

static bool standalone_polls(const Manager *m, const char *host) {
        return true;
}

static const HostReport *standalone_report(Manager *m, const char *host) {
        return m->collector ? collector_get(m->collector, host) : NULL;
}

static bool standalone_stale(Manager *m, const char *host, uint64_t now_mono) {
        return !m->collector || collector_host_is_stale(m->collector, host, now_mono);
}

static HostMode standalone_mode(Manager *m, const char *host) {
        return state_get(m->state, host);
}

static const StateHost *standalone_state(Manager *m, const char *host) {
        return state_find(m->state, host);
}

static unsigned standalone_in_flight(Manager *m) {
        return m->executor ? executor_n_running(m->executor) + executor_n_queued(m->executor) : 0;
}

static bool standalone_vm_busy(Manager *m, const char *vm) {
        return m->executor && executor_vm_busy(m->executor, vm);
}

static const char *standalone_vm_target(Manager *m, const char *vm) {
        return m->executor ? executor_vm_target(m->executor, vm) : NULL;
}

/* ---- adopted migrations --------------------------------------------------------------------- */

/* Whether a VM's migration is this drsd's: an executor job, or one that finished moments ago
 * (a sample taken while it ran may arrive after its done callback). */
static bool own_migration(const char *vm, void *userdata) {
        Manager *m = userdata;
        uint64_t last = move_log_get(&m->pass->moves, vm), now = manager_realtime_usec();
        if (m->executor && executor_vm_busy(m->executor, vm))
                return true;
        return last > 0 && last + (LEADER_STALE_INTERVALS + 1) * m->config->interval_s * USEC_PER_SEC > now;
}

static void track_adopted(Manager *m, const char *host) {
        const HostReport *r = collector_get(m->collector, host);
        uint64_t now = manager_realtime_usec();
        AdoptOutcome *out = NULL;
        size_t n_out = 0;
        int k;

        if (!r || r->t_usec == 0 || !m->pass)
                return;
        k = adopt_tracker_feed(&m->adopted, r, own_migration, m, now, &out, &n_out);
        if (k < 0) {
                log_warning_errno(k, "Failed to track the migrations of host '%s': %m", host);
                return;
        }
        for (size_t i = 0; i < n_out; i++) {
                const AdoptOutcome *o = &out[i];
                _cleanup_free_ char *msg = NULL;

                if (move_log_set(&m->pass->moves, o->vm, now) < 0)
                        log_oom();
                if (o->completed) {
                        m->n_migrations_ok++;
                        if (asprintf(
                                    &msg,
                                    "Adopted migration of '%s' from '%s' to '%s' completed (observed for %" PRIu64
                                    " ms)",
                                    o->vm, o->source, o->target, o->observed_ms) < 0)
                                msg = NULL;
                } else {
                        m->n_migrations_failed++;
                        if (asprintf(
                                    &msg,
                                    "Adopted migration of '%s' from '%s' did not complete (failed or cancelled): "
                                    "the VM still runs on the source",
                                    o->vm, o->source) < 0)
                                msg = NULL;
                }
                HistoryEvent e = {
                        .type = (char *) "migration",
                        .vm = o->vm,
                        .source = o->source,
                        .target = o->target,
                        .reason = (char *) "adopted",
                        .result = (char *) (o->completed ? "completed" : "failed"),
                        .message = msg,
                };
                manager_record(
                        m, o->completed ? LOG_INFO : LOG_WARNING,
                        o->completed ? DRS_MESSAGE_MIGRATION_COMPLETED : DRS_MESSAGE_MIGRATION_FAILED, &e);
        }
        adopt_outcomes_free(out, n_out);
        /* The executor's limits count them (their sources; targets are not known here). */
        _cleanup_strv_free_ char **sources = NULL;
        for (size_t i = 0; i < m->adopted.n; i++)
                if (strv_extend(&sources, m->adopted.entries[i].source) < 0) {
                        log_oom();
                        break;
                }
        if (executor_set_foreign(m->executor, sources) < 0)
                log_oom();
        /* Newly adopted ones carry this feed's time: logged once. */
        for (size_t i = 0; i < m->adopted.n; i++)
                if (m->adopted.entries[i].since_usec == now)
                        log_event(
                                LOG_INFO,
                                (&(LogFields){
                                        .vm = m->adopted.entries[i].vm,
                                        .source = m->adopted.entries[i].source,
                                        .reason = "adopted"}),
                                "VM '%s' is migrating from '%s' without a job of this drsd: adopted, its "
                                "outcome will be recorded",
                                m->adopted.entries[i].vm, m->adopted.entries[i].source);
}

static void standalone_sampled(Manager *m, const char *host, bool good, bool have_stats) {
        if (good)
                track_adopted(m, host);
        if (have_stats)
                manager_host_reported(m, host); /* power-on completion, then the stale check */
        else
                manager_check_stale(m);
}

/* ---- actions ------------------------------------------------------------------------------- */

static void local_migration_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        Manager *m = userdata;
        bool ok = o->result == MIGRATION_OK;

        manager_migration_finished(m, req, o);
        if (ok)
                manager_note_moved(m, req->vm, req->source, req->target);
        manager_run_move_done(m, req->vm, ok);
}

static int standalone_start_migration(Manager *m, const MigrationRequest *req) {
        int k = executor_submit(m->executor, req, local_migration_done, m);
        if (k < 0)
                return k;
        manager_record_move_started(m, req, "Migrating", "started");
        return 0;
}

static void standalone_notify_role(Manager *m, char *buf, size_t size) {
        (void) snprintf(buf, size, "Leader (standalone)");
}

static int standalone_storage_move(Manager *m, const StorageMoveRequest *req) {
        return manager_start_storage_move_here(m, req, NULL, NULL);
}

const HostSource host_source_standalone = {
        .name = "standalone",
        .acting_leader = standalone_acting_leader,
        .polls = standalone_polls,
        .sampled = standalone_sampled,
        .report = standalone_report,
        .stale = standalone_stale,
        .mode = standalone_mode,
        .state = standalone_state,
        .set_mode = manager_set_local_host_mode,
        .in_flight = standalone_in_flight,
        .vm_busy = standalone_vm_busy,
        .vm_target = standalone_vm_target,
        .start_migration = standalone_start_migration,
        .notify_role = standalone_notify_role,
        .start_manual_migration = manager_start_manual_migration_here,
        .start_storage_move = standalone_storage_move,
};
