/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The leader in standalone mode: what runs, and how often.
 *
 *   - libvirt's event thread starts first (manager_leader_start), then the poller: one worker
 *     per configured host collects stats every `interval` of drsd.yaml and hands each sample
 *     to on_sample() on this thread, which feeds the collector. A host whose samples stop
 *     coming is stale: the next check (every sample and every pass) requests a pass at once.
 *   - manager_pass(): every balance interval of the policy (the pass timer in manager.c) and
 *     at once when manager_request_pass() was called. Maintenance and DPM bookkeeping first
 *     (an entering-maintenance host without running VMs becomes maintenance; a drained DPM
 *     host gets its power-off command), then the Problem (leader_build_problem), the solver,
 *     and the plan: manual → kept as recommendations; otherwise started as a LeaderRun unless
 *     one is running (a running plan is only replaced by a mandatory one).
 *   - A LeaderRun submits wave by wave to the executor; on_migration_done() (executor thread →
 *     this thread) records the result and submits the next wave when the current one is done.
 *   - DPM: a POWER_STANDBY in the plan makes the host "draining" (presented as maintenance to
 *     the solver, so it receives nothing and is emptied); once its libvirt reports no running
 *     VM and no plan is moving anything, it is set standby and its power-off command runs;
 *     failure → up again. A POWER_ON runs the power-on command and waits
 *     (dpm.power_on_timeout) for a fresh sample of the host; success → up and a pass;
 *     failure → power-on-failed (cleared only by `drsctl exit-maintenance` or `drsctl
 *     power-clear`).
 * Every decision, migration and power action goes to the journal and the history file
 * (manager_record). */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "poller.h"
#include "storage-move.h"
#include "virt-event.h"

#define USEC_PER_SEC 1000000ULL
#define POWER_OFF_TIMEOUT_USEC (60ULL * USEC_PER_SEC)
#define POWER_ON_TIMEOUT_USEC (60ULL * USEC_PER_SEC)
/* Cluster DPM: how many intervals a standby announcement may take to come back through CPG. */
#define STANDBY_WAIT_INTERVALS 3ULL
/* Reports older than this many collection intervals make a host stale. */
#define STALE_INTERVALS 3
#define SOLVER_TIME_LIMIT_S 5.0
/* Demand smoothing: quick to follow (a pass every interval acts on the last ~3 samples). */
#define COLLECTOR_EWMA_ALPHA 0.5
#define COLLECTOR_PEAK_WINDOW 3

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

static uint64_t clock_us(void *userdata) {
        return hv_now_usec();
}

void blockers_free(Blocker *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(b[i].host);
                free(b[i].vm);
                free(b[i].why);
        }
        free(b);
}

static int strv_remove(char **l, const char *s) {
        size_t j = 0;
        int found = 0;
        for (size_t i = 0; l && l[i]; i++) {
                if (streq(l[i], s)) {
                        free(l[i]);
                        found = 1;
                        continue;
                }
                l[j++] = l[i];
        }
        if (l)
                l[j] = NULL;
        return found;
}

/* ---- host facts ---------------------------------------------------------------------- */

bool manager_host_fresh(Manager *m, const char *host) {
        if (!m->collector)
                return false;
        const HostReport *r = manager_host_report(m, host);
        return r && r->t_usec > 0 && !manager_host_stale(m, host, hv_now_usec());
}

static const HostReport *host_report(Manager *m, const char *host) {
        return manager_host_report(m, host);
}

static PowerOp *power_op_find(Manager *m, const char *host) {
        for (size_t i = 0; i < m->n_power_ops; i++)
                if (streq(m->power_ops[i]->host, host))
                        return m->power_ops[i];
        return NULL;
}

static void power_op_free(PowerOp *op) {
        if (!op)
                return;
        power_command_free(op->command);
        sd_event_source_disable_unref(op->timer);
        free(op->host);
        free(op);
}

static void power_op_remove(Manager *m, PowerOp *op) {
        for (size_t i = 0; i < m->n_power_ops; i++)
                if (m->power_ops[i] == op) {
                        memmove(&m->power_ops[i], &m->power_ops[i + 1],
                                (m->n_power_ops - i - 1) * sizeof(PowerOp *));
                        m->n_power_ops--;
                        break;
                }
        power_op_free(op);
}

static void set_host_mode(Manager *m, const char *host, HostMode mode, const char *reason) {
        int k = manager_set_host_mode(m, host, mode, reason);
        if (k < 0 && k != -ENOMEM)
                log_warning_errno(k, "Cannot set host '%s' %s: %m", host, host_mode_to_string(mode));
}

/* ---- samples ---------------------------------------------------------------------------- */

static void check_stale(Manager *m) {
        uint64_t now = hv_now_usec();
        for (size_t i = 0; m->collector && i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                bool stale = manager_host_stale(m, h, now);
                bool was = strv_contains(m->stale_hosts, h);
                if (stale == was)
                        continue;
                if (stale) {
                        if (strv_extend(&m->stale_hosts, h) < 0) {
                                log_oom();
                                return;
                        }
                } else
                        (void) strv_remove(m->stale_hosts, h);
                HostMode mode = manager_host_mode(m, h);
                /* A host in standby is expected to be silent. */
                if (mode == HOST_MODE_STANDBY || mode == HOST_MODE_POWER_ON_FAILED)
                        continue;
                const HostReport *r = host_report(m, h);
                const char *err = r && r->last_error ? r->last_error : NULL;
                /* A host never heard from (e.g. right after drsd started) is not "stale". */
                const char *what = !r || r->t_usec == 0 ? "has not reported" : "is stale: no report";
                log_event(
                        stale ? LOG_WARNING : LOG_NOTICE,
                        (&(LogFields){.message_id = DRS_MESSAGE_HOST_STATE_CHANGED, .source = h}),
                        stale ? "Host '%s' %s for %u intervals%s%s" : "Host '%s' reports again", h, what,
                        STALE_INTERVALS, err ? ": " : "", err ?: "");
                if (stale)
                        manager_request_pass(m, "a host went stale");
        }
}

static void power_on_check(Manager *m, const char *host);

/* Whether a VM's migration is this drsd's: an executor job, or one that finished moments ago
 * (a sample taken while it ran may arrive after its done callback). */
static bool own_migration(const char *vm, void *userdata) {
        Manager *m = userdata;
        uint64_t last = move_log_get(&m->moves, vm), now = manager_realtime_usec();
        if (m->executor && executor_vm_busy(m->executor, vm))
                return true;
        return last > 0 && last + (STALE_INTERVALS + 1) * m->config->interval_s * USEC_PER_SEC > now;
}

/* Migrations running in libvirt that this drsd did not start (a previous drsd's, picked up
 * after a restart, or an operator's): adopted, and their outcome recorded when the reports
 * show it. */
static void track_adopted(Manager *m, const char *host) {
        const HostReport *r = collector_get(m->collector, host);
        uint64_t now = manager_realtime_usec();
        AdoptOutcome *out = NULL;
        size_t n_out = 0;
        int k;

        if (!r || r->t_usec == 0)
                return;
        k = adopt_tracker_feed(&m->adopted, r, own_migration, m, now, &out, &n_out);
        if (k < 0) {
                log_warning_errno(k, "Failed to track the migrations of host '%s': %m", host);
                return;
        }
        for (size_t i = 0; i < n_out; i++) {
                const AdoptOutcome *o = &out[i];
                _cleanup_free_ char *msg = NULL;

                if (move_log_set(&m->moves, o->vm, now) < 0)
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

static void on_sample(const char *host, const HvHostStats *s, const char *error, void *userdata) {
        Manager *m = userdata;
        int k;

        if (!m->collector)
                return;
        if (s)
                k = collector_feed(m->collector, host, s);
        else
                k = collector_feed_error(m->collector, host, error ?: "unknown error", hv_now_usec());
        if (k < 0)
                log_warning_errno(k, "Failed to record the sample of host '%s': %m", host);
        if (manager_is_cluster(m)) {
                /* Cluster mode: the one host polled is this one; every drsd (this one too) learns
                 * of it from the report multicast. */
                manager_cluster_report_now(m);
                return;
        }
        if (s && k >= 0)
                track_adopted(m, host);
        if (s)
                power_on_check(m, host);
        check_stale(m);
}

void manager_cluster_host_reported(Manager *m, const char *host) {
        power_on_check(m, host);
        check_stale(m);
}

/* ---- migrations ------------------------------------------------------------------------- */

static void finish_run_if_done(Manager *m);

static const char *reason_string(const PlanMove *mv, char *buf, size_t size) {
        if (mv->reason == REASON_RULE && mv->rule) {
                (void) snprintf(buf, size, "rule '%s'", mv->rule);
                return buf;
        }
        return move_reason_to_string(mv->reason);
}

void manager_record_migration(
        Manager *m, const MigrationRequest *req, const MigrationOutcome *o, bool cool_down_failure) {
        bool ok = o->result == MIGRATION_OK;
        _cleanup_free_ char *msg = NULL;

        metrics_server_migration(m->metrics, o->result, o->duration_ms, o->downtime_ms);
        if (ok) {
                m->n_migrations_ok++;
                if (move_log_set(&m->moves, req->vm, manager_realtime_usec()) < 0)
                        log_oom();
                if (asprintf(
                            &msg,
                            "Migrated '%s' from '%s' to '%s' (%s) in %" PRIu64 " ms, downtime %" PRIu64
                            " ms%s%s",
                            req->vm, req->source, req->target, req->reason, o->duration_ms, o->downtime_ms,
                            o->disks_copied > 0 ? manager_disk_copy_note(o)
                            : req->copy_storage ? ", no disk needed copying"
                                                : "",
                            o->stall_steps > 0 ? ", after stall handling" : "") < 0)
                        msg = NULL;
        } else {
                m->n_migrations_failed++;
                /* A failed VM cools down too: no immediate retry of the same move. */
                if (cool_down_failure && o->result != MIGRATION_SKIPPED &&
                    move_log_set(&m->moves, req->vm, manager_realtime_usec()) < 0)
                        log_oom();
                if (asprintf(
                            &msg, "Migration of '%s' from '%s' to '%s' (%s) %s after %" PRIu64 " ms: %s",
                            req->vm, req->source, req->target, req->reason,
                            migration_result_to_string(o->result), o->duration_ms,
                            o->message ?: "no message") < 0)
                        msg = NULL;
        }
        HistoryEvent e = {
                .type = (char *) "migration",
                .vm = (char *) req->vm,
                .source = (char *) req->source,
                .target = (char *) req->target,
                .reason = (char *) req->reason,
                .result = (char *) (ok ? "completed" : migration_result_to_string(o->result)),
                .duration_ms = o->duration_ms,
                .downtime_ms = o->downtime_ms,
                .message = msg,
        };
        manager_record(
                m, ok ? LOG_INFO : LOG_WARNING,
                ok ? DRS_MESSAGE_MIGRATION_COMPLETED : DRS_MESSAGE_MIGRATION_FAILED, &e);
}

void manager_migration_finished(Manager *m, const MigrationRequest *req, const MigrationOutcome *o) {
        bool ok = o->result == MIGRATION_OK;

        manager_record_migration(m, req, o, true);
        if (!manager_is_cluster(m)) {
                if (ok)
                        manager_note_moved(m, req->vm, req->source, req->target);
                manager_run_move_done(m, req->vm, ok);
        }
        if (o->result == MIGRATION_LOST)
                log_error(
                        "VM '%s' is not found running exactly once after its migration: check it by hand",
                        req->vm);
}

static void recent_prune(Manager *m, uint64_t now) {
        uint64_t keep = (STALE_INTERVALS + 1) * m->config->interval_s * USEC_PER_SEC;
        size_t j = 0;
        for (size_t i = 0; i < m->n_recent; i++) {
                RecentMove *r = &m->recent[i];
                if (now > r->done_usec + keep) {
                        free(r->vm);
                        free(r->from);
                        free(r->to);
                        continue;
                }
                m->recent[j++] = *r;
        }
        m->n_recent = j;
}

void manager_note_moved(Manager *m, const char *vm, const char *from, const char *to) {
        uint64_t now = hv_now_usec();
        recent_prune(m, now);
        RecentMove *n = reallocarray(m->recent, m->n_recent + 1, sizeof(RecentMove));
        if (!n) {
                log_oom();
                return;
        }
        m->recent = n;
        RecentMove r = {.vm = strdup(vm), .from = strdup(from), .to = strdup(to), .done_usec = now};
        if (!r.vm || !r.from || !r.to) {
                free(r.vm);
                free(r.from);
                free(r.to);
                log_oom();
                return;
        }
        m->recent[m->n_recent++] = r;
}

void manager_run_move_done(Manager *m, const char *vm, bool ok) {
        if (m->run && leader_run_move_done(m->run, vm, ok) >= 0)
                finish_run_if_done(m);
}

void manager_cancel_queued_to(Manager *m, const char *host, const char *why) {
        unsigned n = m->executor ? executor_cancel_queued_to(m->executor, host) : 0;
        if (n > 0)
                log_notice("Cancelled %u queued migration(s) to '%s': it is %s", n, host, why);
}

void manager_drop_plan(Manager *m) {
        m->dpm = (DpmHysteresis){}; /* a new leader's delays count from its own passes */
        m->run = leader_run_free(m->run);
        m->recommendations = leader_run_free(m->recommendations);
        m->draining = strv_free(m->draining);
}

static void on_migration_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        manager_migration_finished(userdata, req, o);
}

static int submit_move(const Problem *p, const PlanMove *mv, void *userdata) {
        Manager *m = userdata;
        const char *vm = p->vms[mv->vm].name, *src = p->hosts[mv->from].name, *dst = p->hosts[mv->to].name;
        const DrsHostConfig *sc = drs_config_find_host(m->config, src),
                            *dc = drs_config_find_host(m->config, dst);
        char rbuf[300];
        const char *reason = reason_string(mv, rbuf, sizeof(rbuf));

        if (!m->executor || !sc || !dc)
                return -ENXIO;
        /* A target that is not answering (being powered on, stale) is skipped; a later pass
         * plans again. */
        if (!manager_host_fresh(m, dst) || !manager_host_fresh(m, src)) {
                log_info(
                        "Skipping the move of '%s' to '%s': %s is not reporting", vm, dst,
                        manager_host_fresh(m, dst) ? src : dst);
                return -EHOSTDOWN;
        }
        HostMode dm = manager_host_mode(m, dst);
        bool draining = strv_contains(m->draining, dst);
        if (!leader_host_accepts(dm, draining)) {
                log_info(
                        "Skipping the move of '%s' to '%s': the target is %s since the plan was made", vm,
                        dst, draining ? "draining for standby" : host_mode_to_string(dm));
                return -EHOSTDOWN;
        }
        MigrationRequest req = {
                .vm = vm,
                .source = src,
                .target = dst,
                .source_uri = sc->uri,
                .target_uri = dc->uri,
                .target_migration_uri = dc->migration_uri ?: dc->uri,
                .memory_mib = mv->memory_mib,
                .reason = reason,
                /* Disks another host cannot see go with the VM (the solver counted the copy). */
                .copy_storage = mv->disk_copy_mib > 0,
                .remove_source_storage = mv->disk_copy_mib > 0 && m->policy->storage.remove_source,
                .disk_mib = mv->disk_copy_mib,
        };
        int k = manager_is_cluster(m) ? manager_cluster_order_migration(m, &req)
                                      : executor_submit(m->executor, &req, on_migration_done, m);
        if (k < 0) {
                log_warning_errno(k, "Cannot start the migration of '%s': %m", vm);
                return k;
        }
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "%s '%s' from '%s' to '%s' (%s, wave %u, gain %.4f)",
                    manager_is_cluster(m) ? "Ordered the migration of" : "Migrating", vm, src, dst, reason,
                    mv->wave, mv->gain) < 0)
                msg = NULL;
        HistoryEvent e = {
                .type = (char *) "migration",
                .vm = (char *) vm,
                .source = (char *) src,
                .target = (char *) dst,
                .reason = (char *) reason,
                .result = (char *) (manager_is_cluster(m) ? "ordered" : "started"),
                .message = msg,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_MIGRATION_STARTED, &e);
        return 0;
}

static void check_draining(Manager *m);

static void finish_run_if_done(Manager *m) {
        if (!m->run)
                return;
        if (leader_run_advance(m->run, submit_move, m) > 0)
                return;
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "Plan %" PRIu64 " finished: %zu moved, %zu failed, %zu not started", m->run->id,
                    m->run->n_done, m->run->n_failed,
                    m->run->plan->n_moves - m->run->n_done - m->run->n_failed) < 0)
                msg = NULL;
        HistoryEvent e = {.type = (char *) "plan", .result = (char *) "finished", .message = msg};
        manager_record(m, LOG_INFO, DRS_MESSAGE_PLAN_DECIDED, &e);
        m->run = leader_run_free(m->run);
        check_draining(m);
}

/* ---- DPM ---------------------------------------------------------------------------------- */

static void record_power(
        Manager *m, int level, const char *host, PowerAction a, const char *result, uint64_t duration_ms,
        const char *message) {
        HistoryEvent e = {
                .type = (char *) "power",
                .source = (char *) host,
                .reason = (char *) power_action_to_string(a),
                .result = (char *) result,
                .duration_ms = duration_ms,
                .message = (char *) message,
        };
        manager_record(m, level, DRS_MESSAGE_POWER_ACTION, &e);
        metrics_server_power(m->metrics, a, result);
}

static void log_command_output(const char *host, const char *what, const char *output) {
        if (!output || !*output)
                return;
        log_event(
                LOG_INFO, (&(LogFields){.message_id = DRS_MESSAGE_POWER_ACTION, .source = host}),
                "%s command output for '%s': %s", what, host, output);
}

static void on_power_command_done(PowerCommand *c, const PowerCommandResult *r, void *userdata) {
        PowerOp *op = userdata;
        Manager *m = op->manager;
        const char *what = op->action == POWER_ON ? "Power-on" : "Power-off";
        _cleanup_free_ char *msg = NULL;
        bool ok = !r->timed_out && r->exit_status == 0;

        log_command_output(op->host, what, r->output);
        int n = r->timed_out
                        ? asprintf(
                                  &msg, "%s command for '%s' timed out after %" PRIu64 " ms", what, op->host,
                                  r->duration_ms)
                        : asprintf(
                                  &msg, "%s command for '%s' exited with status %d after %" PRIu64 " ms",
                                  what, op->host, r->exit_status, r->duration_ms);
        if (n < 0)
                msg = NULL;

        if (op->action == POWER_STANDBY) {
                (void) strv_remove(m->draining, op->host);
                record_power(
                        m, ok ? LOG_NOTICE : LOG_ERR, op->host, POWER_STANDBY, ok ? "completed" : "failed",
                        r->duration_ms, msg);
                if (ok)
                        set_host_mode(m, op->host, HOST_MODE_STANDBY, "DPM: low demand");
                else /* standby was set before the command */
                        set_host_mode(m, op->host, HOST_MODE_UP, "DPM: the power-off command failed");
                power_op_remove(m, op);
                manager_request_pass(m, "power-off finished");
                return;
        }

        if (!ok) {
                record_power(m, LOG_ERR, op->host, POWER_ON, "failed", r->duration_ms, msg);
                set_host_mode(m, op->host, HOST_MODE_POWER_ON_FAILED, msg);
                power_op_remove(m, op);
                return;
        }
        record_power(m, LOG_INFO, op->host, POWER_ON, "command-done", r->duration_ms, msg);
        op->phase = POWER_PHASE_WAIT;
        /* Do not wait for the poller's reconnect backoff (up to a minute): ask now. */
        if (m->poller)
                poller_trigger(m->poller, op->host);
        power_on_check(m, op->host);
}

static int on_power_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        PowerOp *op = userdata;
        Manager *m = op->manager;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(
                    &msg,
                    "Host '%s' did not answer within %" PRIu64 " s of its power-on (dpm.power_on_timeout)",
                    op->host, op->wait_s) < 0)
                msg = NULL;
        record_power(
                m, LOG_ERR, op->host, POWER_ON, "failed", (hv_now_usec() - op->started_usec) / 1000U, msg);
        set_host_mode(m, op->host, HOST_MODE_POWER_ON_FAILED, msg);
        power_op_remove(m, op);
        return 0;
}

/* A power-on waits for a sample of the host taken after the command started. */
static void power_on_check(Manager *m, const char *host) {
        PowerOp *op = power_op_find(m, host);
        if (!op || op->action != POWER_ON || op->phase != POWER_PHASE_WAIT)
                return;
        const HostReport *r = host_report(m, host);
        if (!r || r->t_usec <= op->started_usec)
                return;
        _cleanup_free_ char *msg = NULL;
        uint64_t ms = (hv_now_usec() - op->started_usec) / 1000U;
        if (asprintf(&msg, "Host '%s' is powered on and its libvirt answers (%" PRIu64 " ms)", host, ms) < 0)
                msg = NULL;
        record_power(m, LOG_NOTICE, host, POWER_ON, "completed", ms, msg);
        set_host_mode(m, host, HOST_MODE_UP, "DPM: demand rose");
        power_op_remove(m, op);
        manager_request_pass(m, "a host was powered on");
}

static int power_start(Manager *m, const char *host, PowerAction action) {
        const DrsHostConfig *hc = drs_config_find_host(m->config, host);
        _cleanup_free_ char *cmd = NULL;
        PowerOp *op;
        int k;

        if (!hc || power_op_find(m, host))
                return -EBUSY;
        k = power_command_for(m->policy, hc, action, &cmd);
        if (k < 0) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg, "No %s command configured for '%s' (dpm.commands in the policy)",
                            action == POWER_ON ? "power_on" : "power_off", host) < 0)
                        msg = NULL;
                record_power(m, LOG_ERR, host, action, "failed", 0, msg);
                return k;
        }
        op = calloc(1, sizeof(PowerOp));
        if (!op)
                return log_oom();
        op->host = strdup(host);
        op->action = action;
        op->manager = m;
        op->started_usec = hv_now_usec();
        op->wait_s = m->policy->dpm.power_on_timeout_s;
        PowerOp **n = op->host ? reallocarray(m->power_ops, m->n_power_ops + 1, sizeof(PowerOp *)) : NULL;
        if (!n) {
                power_op_free(op);
                return log_oom();
        }
        m->power_ops = n;
        m->power_ops[m->n_power_ops++] = op;

        if (action == POWER_ON) {
                k = sd_event_add_time_relative(
                        m->event, &op->timer, CLOCK_MONOTONIC, op->wait_s * USEC_PER_SEC, USEC_PER_SEC,
                        on_power_on_timeout, op);
                if (k < 0) {
                        power_op_remove(m, op);
                        return log_error_errno(k, "Failed to arm the power-on timer: %m");
                }
        }

        _cleanup_free_ char *msg = NULL;
        if (asprintf(&msg, "%s '%s': %s", action == POWER_ON ? "Powering on" : "Powering off", host, cmd) <
            0)
                msg = NULL;
        record_power(m, LOG_NOTICE, host, action, "started", 0, msg);
        k = power_command_start(
                m->event, cmd, action == POWER_ON ? POWER_ON_TIMEOUT_USEC : POWER_OFF_TIMEOUT_USEC,
                on_power_command_done, op, &op->command);
        if (k < 0) {
                _cleanup_free_ char *err = NULL;
                if (asprintf(&err, "Cannot run the command for '%s': %s", host, strerror(-k)) < 0)
                        err = NULL;
                record_power(m, LOG_ERR, host, action, "failed", 0, err);
                if (action == POWER_ON)
                        set_host_mode(m, host, HOST_MODE_POWER_ON_FAILED, err);
                else
                        (void) strv_remove(m->draining, host);
                power_op_remove(m, op);
                return k;
        }
        return 0;
}

/* A draining host goes to standby once its libvirt reports no running VM and no plan moves
 * anything. Power-off only then: the last VM's migration must be complete. */
static void check_draining(Manager *m) {
        if (m->run || manager_migrations_in_flight(m) > 0)
                return;
        for (size_t i = 0; m->draining && m->draining[i]; i++) {
                const char *h = m->draining[i];
                const HostReport *r = host_report(m, h);
                if (power_op_find(m, h) || !manager_host_fresh(m, h) || !r || r->n_vms > 0)
                        continue;
                log_info("Host '%s' is empty: powering it off", h);
                if (manager_is_cluster(m)) {
                        /* Its own drsd runs the command (after checking its libvirt once more). */
                        if (manager_cluster_order_power_off(m, h) < 0)
                                log_warning("Cannot order host '%s' to power off", h);
                        (void) strv_remove(m->draining, h);
                        i--;
                        continue;
                }
                /* Standby is set (and saved) before the command runs, as a cluster drsd announces
                 * it: a drsd restarted meanwhile must not take the host for an empty up host and
                 * send it VMs while it powers off. A failed command sets it up again. */
                set_host_mode(m, h, HOST_MODE_STANDBY, "DPM: low demand");
                if (power_start(m, h, POWER_STANDBY) < 0) {
                        set_host_mode(m, h, HOST_MODE_UP, "DPM: the power-off command could not run");
                        (void) strv_remove(m->draining, h);
                        i--; /* the list shifted; bounded by its length */
                }
        }
}

/* ---- maintenance ------------------------------------------------------------------------------ */

static bool host_has_moves(Manager *m, const char *host) {
        if (!m->run)
                return false;
        for (size_t i = 0; i < m->run->plan->n_moves; i++) {
                const PlanMove *mv = &m->run->plan->moves[i];
                if ((m->run->moves[i] == LEADER_MOVE_PENDING || m->run->moves[i] == LEADER_MOVE_RUNNING) &&
                    streq(m->run->problem->hosts[mv->from].name, host))
                        return true;
        }
        return false;
}

static void check_maintenance(Manager *m) {
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                if (manager_host_mode(m, h) != HOST_MODE_ENTERING_MAINTENANCE)
                        continue;
                const HostReport *r = host_report(m, h);
                if (!manager_host_fresh(m, h) || !r || r->n_vms > 0 || host_has_moves(m, h))
                        continue;
                set_host_mode(m, h, HOST_MODE_MAINTENANCE, "evacuated: no running VM left");
        }
}

/* ---- the pass ------------------------------------------------------------------------------- */

static bool vm_busy(const char *vm, void *userdata) {
        Manager *m = userdata;
        return manager_vm_busy(m, vm) || storage_mover_vm_busy(m->storage_mover, vm);
}

static const char *vm_target(const char *vm, void *userdata) {
        return manager_vm_target(userdata, vm);
}

int manager_build_problem(Manager *m, const char *force_maintenance, Problem **ret) {
        _cleanup_free_ LeaderHost *hosts = NULL;
        _cleanup_free_ LeaderMovedVm *moved = NULL;
        size_t n_moved = 0;
        uint64_t now_mono = hv_now_usec(), now = manager_realtime_usec();
        AutomationLevel level;
        int k;

        hosts = calloc(m->config->n_hosts ?: 1, sizeof(LeaderHost));
        if (!hosts)
                return -ENOMEM;
        recent_prune(m, now_mono);
        moved = calloc(m->n_recent ?: 1, sizeof(LeaderMovedVm));
        if (!moved)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_recent; i++) {
                const RecentMove *r = &m->recent[i];
                ssize_t from = -1, to = -1;
                for (size_t h = 0; h < m->config->n_hosts; h++) {
                        if (streq(m->config->hosts[h].name, r->from))
                                from = (ssize_t) h;
                        if (streq(m->config->hosts[h].name, r->to))
                                to = (ssize_t) h;
                }
                if (from >= 0 && to >= 0)
                        moved[n_moved++] = (LeaderMovedVm){
                                .vm = r->vm,
                                .from = (size_t) from,
                                .to = (size_t) to,
                                .done_usec = r->done_usec};
        }
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const DrsHostConfig *hc = &m->config->hosts[i];
                const HostReport *r = host_report(m, hc->name);
                hosts[i] = (LeaderHost){
                        .config = hc,
                        .report = r && r->t_usec > 0 ? r : NULL,
                        .stale = !m->collector || manager_host_stale(m, hc->name, now_mono),
                        .mode = manager_host_mode(m, hc->name),
                        .draining = strv_contains(m->draining, hc->name),
                };
        }
        ProblemQuorum quorum = {};
        if (manager_is_cluster(m))
                manager_cluster_quorum(m, hosts, m->config->n_hosts, &quorum);
        k = leader_automation_at(m->policy, (time_t) (now / USEC_PER_SEC), &level);
        if (k < 0)
                log_warning(
                        "Unknown timezone '%s' in the policy: automation windows are evaluated in UTC",
                        m->policy->automation.timezone);
        LeaderInput in = {
                .policy = m->policy,
                .hosts = hosts,
                .n_hosts = m->config->n_hosts,
                .moves = &m->moves,
                .now_usec = now,
                .automation = level,
                .vm_busy = vm_busy,
                .vm_target = vm_target,
                .userdata = m,
                .moved = moved,
                .n_moved = n_moved,
                .force_maintenance = force_maintenance,
                .quorum = quorum,
        };
        k = leader_build_problem(&in, ret);
        if (k >= 0)
                leader_dpm_hold(&m->dpm, m->policy, now_mono, *ret);
        return k;
}

int manager_solve(Manager *m, const Problem *p, Plan **ret) {
        SolverOptions opts = {
                .time_limit_s = SOLVER_TIME_LIMIT_S,
                .clock_us = clock_us,
        };
        uint64_t start = hv_now_usec();
        int k = solver_plan(p, &opts, ret);
        if (k < 0)
                return k;
        (*ret)->solve_ms = (double) (hv_now_usec() - start) / 1000.0;
        return 0;
}

static int update_blockers(Manager *m, const Problem *p, const Plan *plan) {
        Blocker *b = NULL;
        size_t n = 0;

        if (plan->n_unplaceable > 0) {
                b = calloc(plan->n_unplaceable, sizeof(Blocker));
                if (!b)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < plan->n_unplaceable; i++) {
                const PlanUnplaceable *u = &plan->unplaceable[i];
                if (u->vm >= p->n_vms || p->vms[u->vm].host < 0)
                        continue;
                b[n] = (Blocker){
                        .host = strdup(p->hosts[p->vms[u->vm].host].name),
                        .vm = strdup(p->vms[u->vm].name),
                        .why = strdup(u->why ?: "no host fits"),
                };
                n++;
                if (!b[n - 1].host || !b[n - 1].vm || !b[n - 1].why) {
                        blockers_free(b, n);
                        return -ENOMEM;
                }
        }
        /* Name the new blockers once (not every pass). */
        for (size_t i = 0; i < n; i++) {
                bool known = false;
                for (size_t j = 0; j < m->n_blockers; j++)
                        known = known ||
                                (streq(m->blockers[j].vm, b[i].vm) && streq(m->blockers[j].why, b[i].why));
                if (known)
                        continue;
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "VM '%s' cannot leave host '%s': %s", b[i].vm, b[i].host, b[i].why) < 0)
                        msg = NULL;
                HistoryEvent e = {
                        .type = (char *) "plan",
                        .vm = b[i].vm,
                        .source = b[i].host,
                        .result = (char *) "unplaceable",
                        .reason = (char *) "maintenance",
                        .message = msg,
                };
                manager_record(m, LOG_WARNING, DRS_MESSAGE_PLAN_DECIDED, &e);
        }
        blockers_free(m->blockers, m->n_blockers);
        m->blockers = b;
        m->n_blockers = n;
        return 0;
}

static void record_plan(Manager *m, const Problem *p, const Plan *plan, const char *what) {
        _cleanup_free_ char *msg = NULL;
        size_t n_rec = 0;
        for (size_t i = 0; i < plan->n_moves; i++)
                n_rec += plan->moves[i].recommendation;
        if (asprintf(
                    &msg,
                    "Plan %s: %zu move(s) (%zu recommended only), %zu power action(s), %zu unplaceable; CPU "
                    "imbalance %.4f → %.4f, memory %.4f → %.4f; automation %s; %s in %.1f ms",
                    what, plan->n_moves, n_rec, plan->n_power, plan->n_unplaceable,
                    plan->before.cpu_imbalance, plan->after.cpu_imbalance, plan->before.memory_imbalance,
                    plan->after.memory_imbalance, automation_level_to_string(p->automation),
                    plan->solver ?: "solver", plan->solve_ms) < 0)
                return;
        free(m->last_plan_summary);
        m->last_plan_summary = strdup(msg);
        HistoryEvent e = {
                .type = (char *) "plan",
                .result = (char *) what,
                .reason = (char *) plan_status_to_string(plan->status),
                .message = msg,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_PLAN_DECIDED, &e);
}

static int start_run(Manager *m, Problem *p, Plan *plan, bool include_recommended) {
        LeaderRun *run;
        int k;

        /* DPM: hosts to put in standby drain first; power-ons start now (their moves are
         * skipped until the host answers, and the next pass plans onto it). */
        for (size_t i = 0; i < plan->n_power; i++) {
                const char *h = p->hosts[plan->power[i].host].name;
                if (plan->power[i].action == POWER_STANDBY) {
                        if (!strv_contains(m->draining, h) && strv_extend(&m->draining, h) < 0)
                                return log_oom();
                        manager_cancel_queued_to(m, h, "draining for standby");
                } else if (manager_host_mode(m, h) == HOST_MODE_STANDBY)
                        (void) power_start(m, h, POWER_ON);
        }

        leader_dpm_note(&m->dpm, plan, true, hv_now_usec());
        k = leader_run_new(p, plan, include_recommended, ++m->n_runs, &run);
        if (k < 0)
                return k;
        m->run = leader_run_free(m->run);
        m->run = run;
        finish_run_if_done(m);
        return 0;
}

int manager_pass(Manager *m) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        int k;

        m->n_passes++;
        m->last_pass_usec = manager_realtime_usec();
        if (!m->collector || !manager_acting_leader(m))
                return 0;

        check_stale(m);
        check_maintenance(m);
        check_draining(m);

        k = manager_build_problem(m, NULL, &p);
        if (k < 0)
                return log_error_errno(k, "Failed to build the cluster snapshot: %m");
        k = manager_solve(m, p, &plan);
        if (k < 0)
                return log_error_errno(k, "Solver failed: %m");
        DpmHysteresis was = m->dpm;
        leader_dpm_note(&m->dpm, plan, false, hv_now_usec());
        if (plan->dpm_power_on_held && was.above_since_usec == 0)
                log_info(
                        "DPM: demand above the band; a power-on waits until it stays there for %" PRIu64
                        " s (dpm.power_on_delay)",
                        m->policy->dpm.power_on_delay_s);
        if (plan->dpm_standby_held && was.below_since_usec == 0)
                log_info(
                        "DPM: demand below the band; standby waits until it stays there for %" PRIu64
                        " s (dpm.standby_delay)",
                        m->policy->dpm.standby_delay_s);
        if (plan->dpm_quorum_limited && !m->dpm_quorum_limited)
                log_notice(
                        "DPM: no more hosts to standby: quorum (%u of %u votes would stay powered; "
                        "votequorum needs %u, with dpm.tolerate_failures %u)",
                        plan->dpm_votes_after, p->quorum.total_votes, p->quorum.quorum,
                        m->policy->dpm.tolerate_failures);
        m->dpm_quorum_limited = plan->dpm_quorum_limited;
        m->dpm_votes_after = plan->dpm_votes_after;
        m->last_metrics = plan->before;
        m->last_plan_usec = manager_realtime_usec();
        metrics_server_solve(m->metrics, plan->solve_ms / 1000.0);
        (void) update_blockers(m, p, plan);

        if (plan->n_moves == 0 && plan->n_power == 0) {
                if (plan->n_unplaceable > 0)
                        record_plan(m, p, plan, "partial");
                free(m->last_plan_summary);
                m->last_plan_summary = NULL;
                if (asprintf(
                            &m->last_plan_summary,
                            "no action: CPU imbalance %.4f, memory %.4f (%zu unplaceable)%s%s%s",
                            plan->before.cpu_imbalance, plan->before.memory_imbalance, plan->n_unplaceable,
                            plan->dpm_power_on_held ? "; DPM power-on held (dpm.power_on_delay)" : "",
                            plan->dpm_standby_held ? "; DPM standby held (dpm.standby_delay)" : "",
                            plan->dpm_quorum_limited ? "; DPM standby held back by quorum" : "") < 0)
                        m->last_plan_summary = NULL;
                return 0;
        }

        if (m->run && !(leader_plan_is_mandatory(plan) && !m->run->mandatory)) {
                log_debug(
                        "Plan %" PRIu64 " still running (%zu moves left): not starting another", m->run->id,
                        leader_run_n_left(m->run));
                return 0;
        }

        bool manual = p->automation == AUTOMATION_MANUAL;
        size_t n_rec = 0;
        for (size_t i = 0; i < plan->n_moves; i++)
                n_rec += plan->moves[i].recommendation;

        if (manual || (n_rec == plan->n_moves && plan->n_power == 0)) {
                /* The journal and history get a recommendation once, not every pass. */
                if (!m->recommendations ||
                    !leader_plans_same_actions(
                            m->recommendations->problem, m->recommendations->plan, p, plan))
                        record_plan(m, p, plan, "recommended");
                LeaderRun *rec;
                k = leader_run_new(TAKE_PTR(p), TAKE_PTR(plan), true, 0, &rec);
                if (k < 0)
                        return log_oom();
                leader_run_free(m->recommendations);
                m->recommendations = rec;
                return 0;
        }

        if (m->run)
                log_notice("Plan %" PRIu64 " replaced by a mandatory plan", m->run->id);
        record_plan(m, p, plan, "started");
        k = start_run(m, TAKE_PTR(p), TAKE_PTR(plan), false);
        if (k < 0)
                return log_error_errno(k, "Failed to start the plan: %m");
        return 0;
}

int manager_apply(Manager *m, size_t *ret_n) {
        if (!m->recommendations || m->recommendations->plan->n_moves == 0)
                return -ENOENT;
        if (m->run)
                return -EBUSY;
        LeaderRun *rec = TAKE_PTR(m->recommendations);
        Problem *p = TAKE_PTR(rec->problem);
        Plan *plan = TAKE_PTR(rec->plan);
        size_t n = plan->n_moves;
        leader_run_free(rec);
        HistoryEvent e = {
                .type = (char *) "plan",
                .result = (char *) "applied",
                .reason = (char *) "drsctl apply",
                .message = (char *) "Applying the recommended plan",
        };
        manager_record(m, LOG_NOTICE, DRS_MESSAGE_PLAN_DECIDED, &e);
        int k = start_run(m, p, plan, true);
        if (k < 0)
                return k;
        *ret_n = n;
        return 0;
}

/* ---- pass requests ------------------------------------------------------------------------ */

static int on_pass_soon(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        int k = manager_pass(m);
        if (k < 0)
                log_warning_errno(k, "Pass failed: %m");
        return 0;
}

void manager_request_pass(Manager *m, const char *why) {
        int k;
        if (!m->pass_soon) {
                k = sd_event_add_defer(m->event, &m->pass_soon, on_pass_soon, m);
                if (k < 0) {
                        log_warning_errno(k, "Failed to request a pass: %m");
                        return;
                }
                (void) sd_event_source_set_description(m->pass_soon, "pass-soon");
        }
        log_debug("Pass requested: %s", why);
        (void) sd_event_source_set_enabled(m->pass_soon, SD_EVENT_ONESHOT);
}

/* ---- start, reload, stop -------------------------------------------------------------------- */

/* Polls exactly the configured hosts (a reload may add or remove some). */
static int poller_configure(Manager *m) {
        int k;

        for (size_t i = 0; m->polled && m->polled[i]; i++) {
                const char *h = m->polled[i];
                if (drs_config_find_host(m->config, h) &&
                    (!manager_is_cluster(m) || streq_ptr(h, m->local_host)))
                        continue;
                (void) poller_remove_host(m->poller, h);
                (void) collector_remove_host(m->collector, h);
                (void) strv_remove(m->stale_hosts, h);
                if (strv_remove(m->polled, h))
                        i--;
        }
        poller_set_interval(m->poller, m->config->interval_s * USEC_PER_SEC);
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const DrsHostConfig *hc = &m->config->hosts[i];
                /* Cluster mode: only this host, by its local URI. */
                if (manager_is_cluster(m) && !streq_ptr(hc->name, m->local_host))
                        continue;
                if (poller_has_host(m->poller, hc->name))
                        continue;
                k = poller_add_host(m->poller, hc->name, hc->uri ?: MANAGER_LOCAL_URI);
                if (k < 0)
                        return k;
                if (strv_extend(&m->polled, hc->name) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int manager_leader_start(Manager *m) {
        HistoryEvent *events = NULL;
        size_t n = 0;
        int k;

        if (!m->hv_ops)
                m->hv_ops = &hv_libvirt_ops;

        /* Cooldowns survive a restart: the last completed move of each VM from the history. */
        k = history_read(m->config->state_dir, 0, 0, &events, &n, NULL);
        if (k < 0)
                log_warning_errno(k, "Failed to read the history for cooldowns: %m");
        else {
                k = move_log_load(&m->moves, events, n);
                history_events_free(events, n);
                if (k < 0)
                        return log_oom();
        }

        /* libvirt's event loop before the first connection (keepalive, close callbacks). */
        if (m->hv_ops == &hv_libvirt_ops) {
                k = virt_event_start(&m->virt_event);
                if (k < 0)
                        return log_error_errno(k, "Failed to start libvirt's event loop: %m");
        }

        k = collector_new(
                COLLECTOR_EWMA_ALPHA, COLLECTOR_PEAK_WINDOW,
                STALE_INTERVALS * m->config->interval_s * USEC_PER_SEC, &m->collector);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the collector: %m");
        k = executor_new(m->event, m->hv_ops, m->policy, &m->executor);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the executor: %m");
        k = poller_new(m->event, m->hv_ops, m->config->interval_s * USEC_PER_SEC, on_sample, m, &m->poller);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the poller: %m");
        k = poller_configure(m);
        if (k < 0)
                return log_error_errno(k, "Failed to start polling the hosts: %m");
        log_info(
                "Polling %zu host(s) every %" PRIu64 " s; passes every %" PRIu64 " s%s",
                manager_is_cluster(m) ? 1 : m->config->n_hosts, m->config->interval_s,
                m->policy->balance.interval_s, manager_is_cluster(m) ? " when leading" : "");
        return 0;
}

void manager_leader_reload(Manager *m) {
        int k;
        if (m->executor)
                executor_set_policy(m->executor, m->policy);
        if (m->poller) {
                k = poller_configure(m);
                if (k < 0)
                        log_warning_errno(k, "Failed to update the polled hosts: %m");
        }
        /* Hosts no longer configured cannot drain. */
        for (size_t i = 0; m->draining && m->draining[i]; i++)
                if (!drs_config_find_host(m->config, m->draining[i]) &&
                    strv_remove(m->draining, m->draining[i]))
                        i--;
        manager_request_pass(m, "reload");
}

void manager_leader_stop(Manager *m) {
        /* Order: nothing may call back into the Manager once it is half gone. */
        m->pass_soon = sd_event_source_disable_unref(m->pass_soon);
        m->poller = poller_free(m->poller);
        m->executor = executor_free(m->executor);
        m->storage_mover = storage_mover_free(m->storage_mover);
        for (size_t i = 0; i < m->n_power_ops; i++)
                power_op_free(m->power_ops[i]);
        free(m->power_ops);
        m->power_ops = NULL;
        m->n_power_ops = 0;
        m->collector = collector_free(m->collector);
        m->virt_event = virt_event_stop(m->virt_event);
        m->run = leader_run_free(m->run);
        m->recommendations = leader_run_free(m->recommendations);
        move_log_done(&m->moves);
        adopt_tracker_done(&m->adopted);
        blockers_free(m->blockers, m->n_blockers);
        m->blockers = NULL;
        m->n_blockers = 0;
        m->stale_hosts = strv_free(m->stale_hosts);
        m->polled = strv_free(m->polled);
        m->draining = strv_free(m->draining);
        free(m->last_plan_summary);
        m->last_plan_summary = NULL;
        for (size_t i = 0; i < m->n_recent; i++) {
                free(m->recent[i].vm);
                free(m->recent[i].from);
                free(m->recent[i].to);
        }
        free(m->recent);
        m->recent = NULL;
        m->n_recent = 0;
}

static int on_standby_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->standby_wait = sd_event_source_disable_unref(m->standby_wait);
        log_warning(
                "The standby announcement of '%s' did not come back through the cluster: not powering off",
                m->local_host);
        set_host_mode(m, m->local_host, HOST_MODE_UP, "DPM: the standby announcement was not delivered");
        return 0;
}

/* Cluster mode, on the standby host's own drsd (the leader's POWER_OFF order): only when its
 * libvirt reports no running VM; the host announces standby, runs the command once that
 * announcement came back through CPG (manager_local_power_off_go(); it cannot announce after),
 * and comes back up if it does not come back in time or the command fails. */
void manager_local_power_off(Manager *m) {
        const char *h = m->local_host;
        const HostReport *r = h && m->collector ? collector_get(m->collector, h) : NULL;
        int k;

        if (!h)
                return;
        if (power_op_find(m, h) || m->standby_wait) /* a repeated order: already under way */
                return;
        if (!r || r->t_usec == 0 || collector_host_is_stale(m->collector, h, hv_now_usec()) ||
            r->n_vms > 0 ||
            (m->executor && executor_n_running(m->executor) + executor_n_queued(m->executor) > 0)) {
                log_warning(
                        "Not powering off '%s': its libvirt %s", h,
                        r && r->n_vms > 0 ? "still reports running VMs" : "has no fresh report");
                return;
        }
        k = sd_event_add_time_relative(
                m->event, &m->standby_wait, CLOCK_MONOTONIC,
                STANDBY_WAIT_INTERVALS * m->config->interval_s * USEC_PER_SEC, USEC_PER_SEC,
                on_standby_wait_timeout, m);
        if (k < 0) {
                log_error_errno(k, "Failed to arm the standby timer: %m");
                return;
        }
        /* Announces it (manager_set_host_mode multicasts the report); the command starts
         * when the report is delivered back: manager_local_power_off_go(). */
        if (state_get(m->state, h) == HOST_MODE_STANDBY)
                manager_cluster_report_now(m);
        else
                set_host_mode(m, h, HOST_MODE_STANDBY, "DPM: low demand");
}

void manager_local_power_off_go(Manager *m) {
        const char *h = m->local_host;

        if (!m->standby_wait || !h)
                return;
        m->standby_wait = sd_event_source_disable_unref(m->standby_wait);
        if (state_get(m->state, h) != HOST_MODE_STANDBY)
                return; /* changed its mind meanwhile (an operator, a new order) */
        if (power_start(m, h, POWER_STANDBY) < 0)
                set_host_mode(m, h, HOST_MODE_UP, "DPM: the power-off command could not run");
}
