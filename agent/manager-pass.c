/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The leader's wiring in drsd: what runs, and how often. The decisions themselves are
 * agent/leader/pass.c's (the same module drs-sim drives); this file gives it the host facts and
 * carries out what it decides, through the Manager's HostSource (standalone: the poller and the
 * local executor; cluster mode: the CPG reports and orders to the hosts' drsds).
 *
 *   - libvirt's event thread starts first (manager_leader_start), then the poller: one worker
 *     per polled host collects stats every `interval` of drsd.yaml and hands each sample to
 *     on_sample() on this thread, which feeds the collector and tells the HostSource.
 *   - manager_pass(): every balance interval of the policy (the pass timer in manager.c) and
 *     at once when manager_request_pass() was called: leader_pass_run().
 *   - Migrations: the HostSource starts (or orders) each move; its result comes back through
 *     manager_migration_finished() (standalone) or a RESULT (cluster mode), and the pass
 *     submits the next wave when the current one is done.
 *   - DPM: power commands run here (power.c, on the event loop); the pass decides what they
 *     mean (standby or up again, the power-on wait of dpm.power_on_timeout, power-on-failed).
 * Every decision, migration and power action goes to the journal and the history file
 * (manager_record). This file is also the Manager's base, which the other manager*.c call and
 * which calls none of them (manager-pass.h): the journal and history, host facts and host modes
 * through the HostSource, the records of migrations. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "manager-pass.h"
#include "metrics.h"
#include "poller.h"
#include "storage-move.h"
#include "virt-event.h"

#define USEC_PER_SEC 1000000ULL
#define POWER_OFF_TIMEOUT_USEC (60ULL * USEC_PER_SEC)
#define POWER_ON_TIMEOUT_USEC (60ULL * USEC_PER_SEC)
#define SOLVER_TIME_LIMIT_S 5.0
/* Demand smoothing: quick to follow (a pass every interval acts on the last ~3 samples). */
#define COLLECTOR_EWMA_ALPHA 0.5
#define COLLECTOR_PEAK_WINDOW 3

static uint64_t clock_us(void *userdata) {
        return hv_now_usec();
}

LeaderNow manager_now(void) {
        return (LeaderNow){.mono_usec = hv_now_usec(), .real_usec = manager_realtime_usec()};
}

/* ---- journal, history and host modes: what every part of the Manager records ---------------- */

uint64_t manager_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000U;
}

void manager_record(Manager *m, int level, const char *message_id, const HistoryEvent *e) {
        LogFields f = {
                .message_id = message_id,
                .vm = e->vm,
                .source = e->source,
                .target = e->target,
                .reason = e->reason,
        };
        log_event(level, &f, "%s", e->message ?: e->type);

        if (!m->history)
                return;
        HistoryEvent copy = *e;
        if (copy.time_usec == 0)
                copy.time_usec = manager_realtime_usec();
        int k = history_append(m->history, &copy);
        if (k < 0)
                log_warning_errno(k, "Failed to append to the history file '%s': %m", m->history->path);
}

void manager_record_mode_change(
        Manager *m, const char *host, HostMode old, HostMode mode, const char *reason, const char *how) {
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "Host '%s': %s → %s (%s)%s", host, host_mode_to_string(old),
                    host_mode_to_string(mode), reason ?: "no reason given", how ?: "") < 0)
                msg = NULL;
        HistoryEvent e = {
                .type = (char *) "host",
                .source = (char *) host,
                .reason = (char *) reason,
                .result = (char *) host_mode_to_string(mode),
                .message = msg,
        };
        manager_record(m, LOG_NOTICE, DRS_MESSAGE_HOST_STATE_CHANGED, &e);
}

int manager_set_local_host_mode(Manager *m, const char *host, HostMode mode, const char *reason) {
        HostMode old = state_get(m->state, host);
        _cleanup_free_ char *msg = NULL;
        int k;

        k = state_set(m->state, host, mode, reason, manager_realtime_usec());
        if (k < 0)
                return log_error_errno(k, "Failed to save the state of host '%s': %m", host);
        if (k == 0)
                return 0;
        manager_record_mode_change(m, host, old, mode, reason, NULL);
        if (mode != HOST_MODE_UP)
                manager_cancel_queued_to(m, host, host_mode_to_string(mode));
        return 1;
}

/* ", N disk(s) copied (X MiB), source volumes kept|removed" for a migration's message (a
 * static buffer: main thread only). */
static const char *disk_copy_note(const MigrationOutcome *o) {
        static char buf[128];

        (void) snprintf(
                buf, sizeof(buf), ", %u disk(s) copied (%.1f MiB), source volumes %s", o->disks_copied,
                (double) o->disk_bytes / 1048576.0, o->source_storage_removed ? "removed" : "kept");
        return buf;
}

/* ", over TLS" / ", plain (…)" for a migration's message; "; attempted over TLS" … for a
 * failed one (a static buffer: main thread only). */
const char *manager_encryption_note(const MigrationOutcome *o) {
        static char buf[256];
        const char *pre = o->result == MIGRATION_OK ? "," : "; attempted";

        switch (o->encryption) {
        case MIGRATION_ENCRYPTION_TLS:
                (void) snprintf(buf, sizeof(buf), "%s over TLS", pre);
                break;
        case MIGRATION_ENCRYPTION_PLAIN:
                (void) snprintf(buf, sizeof(buf), "%s plain (migration.tls: false)", pre);
                break;
        case MIGRATION_ENCRYPTION_PLAIN_FALLBACK:
                (void) snprintf(
                        buf, sizeof(buf), "%s plain (%s)", pre,
                        o->encryption_note ?: "an end has no migration TLS");
                break;
        default:
                return "";
        }
        return buf;
}

bool manager_acting_leader(const Manager *m) {
        return m->source && m->source->acting_leader(m);
}

/* ---- host facts: through the HostSource ------------------------------------------------ */

const HostReport *manager_host_report(Manager *m, const char *host) {
        return m->source->report(m, host);
}

bool manager_host_stale(Manager *m, const char *host, uint64_t now_mono) {
        return m->source->stale(m, host, now_mono);
}

HostMode manager_host_mode(Manager *m, const char *host) {
        return m->source->mode(m, host);
}

const StateHost *manager_host_state(Manager *m, const char *host) {
        return m->source->state(m, host);
}

int manager_set_host_mode(Manager *m, const char *host, HostMode mode, const char *reason) {
        return m->source->set_mode(m, host, mode, reason);
}

unsigned manager_migrations_in_flight(Manager *m) {
        return m->source->in_flight(m);
}

bool manager_vm_busy(Manager *m, const char *vm) {
        return m->source->vm_busy(m, vm);
}

const char *manager_vm_target(Manager *m, const char *vm) {
        return m->source->vm_target(m, vm);
}

bool manager_host_fresh(Manager *m, const char *host) {
        if (!m->collector || !m->pass)
                return false;
        return leader_pass_host_fresh(m->pass, host, manager_now());
}

/* ---- samples ---------------------------------------------------------------------------- */

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
        m->source->sampled(m, host, s && k >= 0, s != NULL);
}

void manager_host_reported(Manager *m, const char *host) {
        if (m->pass)
                leader_pass_host_reported(m->pass, host, manager_now());
}

void manager_check_stale(Manager *m) {
        if (m->pass)
                leader_pass_check_stale(m->pass, manager_now());
}

/* ---- migrations ------------------------------------------------------------------------- */

void manager_record_migration(
        Manager *m, const MigrationRequest *req, const MigrationOutcome *o, bool cool_down_failure) {
        bool ok = o->result == MIGRATION_OK;
        _cleanup_free_ char *msg = NULL;

        metrics_server_migration(m->metrics, o->result, o->duration_ms, o->downtime_ms);
        if (ok) {
                m->n_migrations_ok++;
                if (m->pass && move_log_set(&m->pass->moves, req->vm, manager_realtime_usec()) < 0)
                        log_oom();
                if (asprintf(
                            &msg,
                            "Migrated '%s' from '%s' to '%s' (%s) in %" PRIu64 " ms, downtime %" PRIu64
                            " ms%s%s%s",
                            req->vm, req->source, req->target, req->reason, o->duration_ms, o->downtime_ms,
                            o->disks_copied > 0 ? disk_copy_note(o)
                            : req->copy_storage ? ", no disk needed copying"
                                                : "",
                            o->stall_steps > 0 ? ", after stall handling" : "",
                            manager_encryption_note(o)) < 0)
                        msg = NULL;
        } else {
                m->n_migrations_failed++;
                /* A failed VM cools down too: no immediate retry of the same move. */
                if (cool_down_failure && o->result != MIGRATION_SKIPPED && m->pass &&
                    move_log_set(&m->pass->moves, req->vm, manager_realtime_usec()) < 0)
                        log_oom();
                if (asprintf(
                            &msg, "Migration of '%s' from '%s' to '%s' (%s) %s after %" PRIu64 " ms: %s%s",
                            req->vm, req->source, req->target, req->reason,
                            migration_result_to_string(o->result), o->duration_ms,
                            o->message ?: "no message", manager_encryption_note(o)) < 0)
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
                .encryption = (char *) migration_encryption_to_string(o->encryption),
                .message = msg,
        };
        manager_record(
                m, ok ? LOG_INFO : LOG_WARNING,
                ok ? DRS_MESSAGE_MIGRATION_COMPLETED : DRS_MESSAGE_MIGRATION_FAILED, &e);
}

void manager_migration_finished(Manager *m, const MigrationRequest *req, const MigrationOutcome *o) {
        manager_record_migration(m, req, o, true);
        if (o->result == MIGRATION_LOST)
                log_error(
                        "VM '%s' is not found running exactly once after its migration: check it by hand",
                        req->vm);
}

void manager_note_moved(Manager *m, const char *vm, const char *from, const char *to) {
        if (m->pass)
                leader_pass_moved(m->pass, vm, from, to, manager_now());
}

void manager_run_move_done(Manager *m, const char *vm, bool ok) {
        if (m->pass)
                leader_pass_move_done(m->pass, vm, ok, manager_now());
}

void manager_cancel_queued_to(Manager *m, const char *host, const char *why) {
        unsigned n = m->executor ? executor_cancel_queued_to(m->executor, host) : 0;
        if (n > 0)
                log_notice("Cancelled %u queued migration(s) to '%s': it is %s", n, host, why);
}

void manager_drop_plan(Manager *m) {
        if (m->pass)
                leader_pass_drop_plan(m->pass);
}

void manager_record_move_started(
        Manager *m, const MigrationRequest *req, const char *verb, const char *result) {
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "%s '%s' from '%s' to '%s' (%s, wave %u, gain %.4f)", verb, req->vm, req->source,
                    req->target, req->reason, req->wave, req->gain) < 0)
                msg = NULL;
        HistoryEvent e = {
                .type = (char *) "migration",
                .vm = (char *) req->vm,
                .source = (char *) req->source,
                .target = (char *) req->target,
                .reason = (char *) req->reason,
                .result = (char *) result,
                .message = msg,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_MIGRATION_STARTED, &e);
}

/* ---- DPM power commands (what they mean is the pass's) --------------------------------------- */

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

static void
log_command_output(const char *message_id, const char *host, const char *what, const char *output) {
        if (!output || !*output)
                return;
        log_event(
                LOG_INFO, (&(LogFields){.message_id = message_id, .source = host}),
                "%s command output for '%s': %s", what, host, output);
}

/* "WHAT command for 'HOST' timed out after N ms" or "… exited with status N after N ms". */
static char *command_outcome(const PowerCommandResult *r, const char *what, const char *host) {
        char *msg = NULL;
        int n = r->timed_out
                        ? asprintf(
                                  &msg, "%s command for '%s' timed out after %" PRIu64 " ms", what, host,
                                  r->duration_ms)
                        : asprintf(
                                  &msg, "%s command for '%s' exited with status %d after %" PRIu64 " ms",
                                  what, host, r->exit_status, r->duration_ms);
        return n < 0 ? NULL : msg;
}

static void on_power_command_done(PowerCommand *c, const PowerCommandResult *r, void *userdata) {
        PowerOp *op = userdata;
        Manager *m = op->manager;
        const char *what = op->action == POWER_ON ? "Power-on" : "Power-off";
        _cleanup_free_ char *msg = NULL, *host = strdup(op->host);
        bool ok = !r->timed_out && r->exit_status == 0;

        if (!host) {
                log_oom();
                return;
        }
        log_command_output(DRS_MESSAGE_POWER_ACTION, host, what, r->output);
        msg = command_outcome(r, what, host);
        /* May free op (the pass forgets the action: power_forget). */
        if (leader_pass_power_done(m->pass, host, ok, msg, r->duration_ms, manager_now()) < 0)
                power_op_remove(m, op);
}

static int on_power_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        PowerOp *op = userdata;
        Manager *m = op->manager;
        /* Frees op through power_forget. */
        leader_pass_power_expire(m->pass, manager_now());
        return 0;
}

/* The pass's power_command: runs the configured command on the event loop. */
static int power_command(void *u, const char *host, PowerAction action) {
        Manager *m = u;
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
                HistoryEvent e = {
                        .type = (char *) "power",
                        .source = (char *) host,
                        .reason = (char *) power_action_to_string(action),
                        .result = (char *) "failed",
                        .message = msg,
                };
                manager_record(m, LOG_ERR, DRS_MESSAGE_POWER_ACTION, &e);
                metrics_server_power(m->metrics, action, "failed");
                return -ENOENT;
        }
        op = calloc(1, sizeof(PowerOp));
        if (!op)
                return log_oom();
        op->host = strdup(host);
        op->action = action;
        op->manager = m;
        PowerOp **n = op->host ? reallocarray(m->power_ops, m->n_power_ops + 1, sizeof(PowerOp *)) : NULL;
        if (!n) {
                power_op_free(op);
                return log_oom();
        }
        m->power_ops = n;
        m->power_ops[m->n_power_ops++] = op;

        if (action == POWER_ON) {
                k = sd_event_add_time_relative(
                        m->event, &op->timer, CLOCK_MONOTONIC,
                        m->policy->dpm.power_on_timeout_s * USEC_PER_SEC, USEC_PER_SEC, on_power_on_timeout,
                        op);
                if (k < 0) {
                        power_op_remove(m, op);
                        return log_error_errno(k, "Failed to arm the power-on timer: %m");
                }
        }

        /* The draw at stake: what the host drew before its standby (what DPM saves from now
         * on), or what it will draw at least once on (its model at idle). */
        bool measured = false;
        double w = action == POWER_ON ? (hc->power.known ? power_model_watts(&hc->power, 0) : -1)
                                      : manager_host_watts(m, host, &measured);
        /* The host is in standby already when its command runs (the meter then says 0 W): it
         * is empty, so what it drew is its idle draw. */
        if (action == POWER_STANDBY && w <= 0 && hc->power.known)
                w = power_model_watts(&hc->power, 0);
        char drawn[64] = "";
        if (w > 0)
                (void) snprintf(
                        drawn, sizeof(drawn),
                        action == POWER_ON ? " (%.0f W idle by its model)" : " (drawing %.0f W, %s)", w,
                        measured ? "measured" : "by its model");
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "%s '%s'%s: %s", action == POWER_ON ? "Powering on" : "Powering off", host, drawn,
                    cmd) < 0)
                msg = NULL;
        HistoryEvent e = {
                .type = (char *) "power",
                .source = (char *) host,
                .reason = (char *) power_action_to_string(action),
                .result = (char *) "started",
                .watts = w > 0 ? (uint64_t) llround(w) : 0,
                .message = msg,
        };
        manager_record(m, LOG_NOTICE, DRS_MESSAGE_POWER_ACTION, &e);
        metrics_server_power(m->metrics, action, "started");
        k = power_command_start(
                m->event, cmd, action == POWER_ON ? POWER_ON_TIMEOUT_USEC : POWER_OFF_TIMEOUT_USEC,
                on_power_command_done, op, &op->command);
        if (k < 0) {
                power_op_remove(m, op);
                return k;
        }
        return 0;
}

static void power_forget(void *u, const char *host) {
        Manager *m = u;
        PowerOp *op = power_op_find(m, host);
        if (op)
                power_op_remove(m, op);
}

/* ---- rolling maintenance: the operator's commands and the saved state ---------------------- */

static RolloutCmd *rollout_cmd_free(RolloutCmd *c) {
        if (!c)
                return NULL;
        power_command_free(c->command);
        free(c->host);
        free(c);
        return NULL;
}

static void rollout_cmd_remove(Manager *m, RolloutCmd *c) {
        for (size_t i = 0; i < m->n_rollout_cmds; i++)
                if (m->rollout_cmds[i] == c) {
                        memmove(&m->rollout_cmds[i], &m->rollout_cmds[i + 1],
                                (m->n_rollout_cmds - i - 1) * sizeof(RolloutCmd *));
                        m->n_rollout_cmds--;
                        break;
                }
        rollout_cmd_free(c);
}

static void on_rollout_command_done(PowerCommand *pc, const PowerCommandResult *r, void *userdata) {
        RolloutCmd *c = userdata;
        Manager *m = c->manager;
        _cleanup_free_ char *host = strdup(c->host), *msg = NULL;
        bool ok = !r->timed_out && r->exit_status == 0, by_message = c->by_message;

        rollout_cmd_remove(m, c);
        if (!host) {
                log_oom();
                return;
        }
        log_command_output(DRS_MESSAGE_ROLLOUT, host, "Rollout", r->output);
        msg = command_outcome(r, "Rollout", host);
        /* Run for the leader (cluster mode): whoever leads now learns the outcome by message. */
        if (by_message && m->source->rollout_command_done)
                m->source->rollout_command_done(m, host, ok, msg, r->duration_ms);
        else if (m->pass)
                (void) leader_pass_rollout_command_done(
                        m->pass, host, ok, msg, r->duration_ms, manager_now());
}

int manager_rollout_run(Manager *m, const char *host, const char *cmd, uint64_t timeout_s, bool by_message) {
        RolloutCmd *c;
        int k;

        c = calloc(1, sizeof(RolloutCmd));
        RolloutCmd **n =
                c ? reallocarray(m->rollout_cmds, m->n_rollout_cmds + 1, sizeof(RolloutCmd *)) : NULL;
        if (!n || !(c->host = strdup(host))) {
                rollout_cmd_free(c);
                return log_oom();
        }
        m->rollout_cmds = n;
        m->rollout_cmds[m->n_rollout_cmds++] = c;
        c->manager = m;
        c->by_message = by_message;
        log_event(
                LOG_NOTICE, (&(LogFields){.message_id = DRS_MESSAGE_ROLLOUT, .source = host}),
                "Rollout: running for '%s'%s: %s", host, by_message ? " (for the leader)" : "", cmd);
        k = power_command_start(
                m->event, cmd, timeout_s * USEC_PER_SEC, on_rollout_command_done, c, &c->command);
        if (k < 0)
                rollout_cmd_remove(m, c);
        return k;
}

/* The pass's rollout_command: the template expanded with the host's configuration, run here
 * (standalone drsd, or the leader in cluster mode) like the DPM power commands, or (runner, cluster
 * mode: the leader's own host) by another drsd. */
static int rollout_command(
        void *u, const char *host, const char *template, uint64_t timeout_s, bool health, uint32_t runner) {
        Manager *m = u;
        const DrsHostConfig *hc = drs_config_find_host(m->config, host);
        _cleanup_free_ char *cmd = NULL;
        int k;

        if (!hc)
                return -ENXIO;
        k = policy_expand_command(template, hc->name, hc->address, hc->mac, hc->bmc, &cmd);
        if (k < 0)
                return k;
        if (runner != 0)
                return m->source->order_rollout_command
                               ? m->source->order_rollout_command(m, runner, host, cmd, timeout_s, health)
                               : -EOPNOTSUPP;
        return manager_rollout_run(m, host, cmd, timeout_s, false);
}

static uint32_t rollout_runner(void *u, const char *host, const Rollout *r) {
        Manager *m = u;
        return m->source->rollout_runner ? m->source->rollout_runner(m, host, r) : 0;
}

static bool rollout_runner_alive(void *u, uint32_t runner) {
        Manager *m = u;
        return m->source->rollout_runner_alive && m->source->rollout_runner_alive(m, runner);
}

static int rollout_path(Manager *m, char **ret) {
        return asprintf(ret, "%s/%s", m->config->state_dir, ROLLOUT_FILE_NAME) < 0 ? -ENOMEM : 0;
}

int manager_rollout_store(Manager *m, const char *json) {
        _cleanup_free_ char *path = NULL;
        int k;

        k = rollout_path(m, &path);
        if (k < 0)
                return log_oom();
        if (json)
                k = write_file_atomic(path, json, strlen(json), 0640);
        else
                k = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        if (k < 0)
                return log_error_errno(k, "Failed to save the rollout state '%s': %m", path);
        return 0;
}

int manager_rollout_save(Manager *m, const Rollout *r) {
        _cleanup_free_ char *json = NULL;
        int k;

        if (r && rollout_format(r, &json) < 0)
                return log_oom();
        k = manager_rollout_store(m, json);
        if (k < 0)
                return k;
        if (m->source->rollout_saved)
                m->source->rollout_saved(m, json);
        return 0;
}

static int rollout_save(void *u, const Rollout *r) {
        return manager_rollout_save(u, r);
}

int manager_rollout_load(Manager *m) {
        _cleanup_free_ char *path = NULL, *buf = NULL, *err = NULL;
        Rollout *r = NULL;
        size_t len = 0;
        int k;

        if (!m->pass)
                return 0;
        k = rollout_path(m, &path);
        if (k < 0)
                return log_oom();
        k = read_file_bounded(path, 4U * 1024U * 1024U, &buf, &len);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return log_error_errno(k, "Failed to read the rollout state '%s': %m", path);
        k = rollout_parse(buf, len, &r, &err);
        if (k < 0)
                return log_error_errno(
                        k, "Failed to load the rollout state '%s': %s", path, err ?: "out of memory");
        leader_pass_rollout_load(m->pass, r, manager_now());
        if (rollout_is_active(r))
                log_info(
                        "Rollout loaded from '%s': %s, %zu of %zu hosts done", path,
                        rollout_state_to_string(r->state), rollout_n_done(r), r->n_hosts);
        return 0;
}

/* ---- the pass's view of drsd (LeaderPassOps) ------------------------------------------------ */

static const HostReport *ops_report(void *u, const char *host) {
        return manager_host_report(u, host);
}

static bool ops_stale(void *u, const char *host, uint64_t now_mono) {
        Manager *m = u;
        return !m->collector || manager_host_stale(m, host, now_mono);
}

static HostMode ops_mode(void *u, const char *host) {
        return manager_host_mode(u, host);
}

static unsigned ops_in_flight(void *u) {
        return manager_migrations_in_flight(u);
}

static bool ops_vm_busy(void *u, const char *vm) {
        Manager *m = u;
        return manager_vm_busy(m, vm) || storage_mover_vm_busy(m->storage_mover, vm);
}

static const char *ops_vm_target(void *u, const char *vm) {
        return manager_vm_target(u, vm);
}

static void ops_quorum(void *u, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret) {
        Manager *m = u;
        if (m->source->quorum)
                m->source->quorum(m, hosts, n_hosts, ret);
}

static int ops_solve(void *u, const Problem *p, Plan **ret) {
        Manager *m = u;
        int k = manager_solve(m, p, ret);
        if (k < 0)
                return log_error_errno(k, "Solver failed: %m");
        metrics_server_solve(m->metrics, (*ret)->solve_ms / 1000.0);
        return 0;
}

static int ops_set_mode(void *u, const char *host, HostMode mode, const char *reason) {
        return manager_set_host_mode(u, host, mode, reason);
}

static int ops_start_migration(void *u, const Problem *p, const PlanMove *mv, const char *reason) {
        Manager *m = u;
        const char *vm = p->vms[mv->vm].name, *src = p->hosts[mv->from].name, *dst = p->hosts[mv->to].name;
        const DrsHostConfig *sc = drs_config_find_host(m->config, src),
                            *dc = drs_config_find_host(m->config, dst);

        if (!m->executor || !sc || !dc)
                return -ENXIO;
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
                .wave = mv->wave,
                .gain = mv->gain,
        };
        return m->source->start_migration(m, &req);
}

static void ops_cancel_queued_to(void *u, const char *host, const char *why) {
        manager_cancel_queued_to(u, host, why);
}

static void ops_poll_now(void *u, const char *host) {
        Manager *m = u;
        if (m->poller)
                poller_trigger(m->poller, host);
}

/* The leader runs the power-off command itself (standalone), or orders the host's own drsd
 * (cluster mode: HostSource.order_power_off). */
static int ops_order_power_off(void *u, const char *host) {
        Manager *m = u;
        return m->source->order_power_off ? m->source->order_power_off(m, host) : -EOPNOTSUPP;
}

static void ops_request_pass(void *u, const char *why) {
        manager_request_pass(u, why);
}

static void ops_record(void *u, int level, LeaderRecordKind kind, const HistoryEvent *e) {
        Manager *m = u;
        switch (kind) {
        case LEADER_RECORD_PLAN:
                manager_record(m, level, DRS_MESSAGE_PLAN_DECIDED, e);
                break;
        case LEADER_RECORD_POWER_STANDBY:
        case LEADER_RECORD_POWER_ON:
                manager_record(m, level, DRS_MESSAGE_POWER_ACTION, e);
                metrics_server_power(
                        m->metrics, kind == LEADER_RECORD_POWER_ON ? POWER_ON : POWER_STANDBY, e->result);
                break;
        case LEADER_RECORD_BENEFIT:
                manager_record(m, level, DRS_MESSAGE_MOVE_BENEFIT, e);
                break;
        case LEADER_RECORD_ROLLOUT:
                manager_record(m, level, DRS_MESSAGE_ROLLOUT, e);
                break;
        case LEADER_RECORD_HOST_REPORTING:
                log_event(
                        level,
                        (&(LogFields){.message_id = DRS_MESSAGE_HOST_STATE_CHANGED, .source = e->source}),
                        "%s", e->message ?: "");
                break;
        }
}

static void ops_log(void *u, int level, const char *message) {
        log_full_errno(level, 0, "%s", message);
}

static const LeaderPassOps pass_ops = {
        .report = ops_report,
        .stale = ops_stale,
        .mode = ops_mode,
        .in_flight = ops_in_flight,
        .vm_busy = ops_vm_busy,
        .vm_target = ops_vm_target,
        .quorum = ops_quorum,
        .solve = ops_solve,
        .set_mode = ops_set_mode,
        .start_migration = ops_start_migration,
        .cancel_queued_to = ops_cancel_queued_to,
        .power_command = power_command,
        .power_forget = power_forget,
        .poll_now = ops_poll_now,
        .order_power_off = ops_order_power_off,
        .request_pass = ops_request_pass,
        .rollout_command = rollout_command,
        .rollout_runner = rollout_runner,
        .rollout_runner_alive = rollout_runner_alive,
        .rollout_save = rollout_save,
        .record = ops_record,
        .log = ops_log,
};

/* ---- the pass ------------------------------------------------------------------------------- */

int manager_build_problem(Manager *m, const char *force_maintenance, Problem **ret) {
        if (!m->pass)
                return -ESRCH;
        return leader_pass_build_problem(m->pass, manager_now(), force_maintenance, ret);
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

int manager_pass(Manager *m) {
        int k;

        m->n_passes++;
        m->last_pass_usec = manager_realtime_usec();
        if (!m->collector || !m->pass || !manager_acting_leader(m))
                return 0;
        k = leader_pass_run(m->pass, manager_now());
        if (k == -ENOMEM)
                return log_oom();
        return k;
}

int manager_apply(Manager *m, size_t *ret_n) {
        if (!m->pass)
                return -ENOENT;
        return leader_pass_apply(m->pass, manager_now(), ret_n);
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
                if (drs_config_find_host(m->config, h) && m->source->polls(m, h))
                        continue;
                (void) poller_remove_host(m->poller, h);
                (void) collector_remove_host(m->collector, h);
                if (strv_remove(m->polled, h))
                        i--;
        }
        poller_set_interval(m->poller, m->config->interval_s * USEC_PER_SEC);
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const DrsHostConfig *hc = &m->config->hosts[i];
                /* Cluster mode: only this host, by its local URI. */
                if (!m->source->polls(m, hc->name))
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

        k = leader_pass_new(&pass_ops, m, &m->pass);
        if (k < 0)
                return log_oom();
        leader_pass_configure(
                m->pass, m->policy, m->config->hosts, m->config->n_hosts, m->config->interval_s);

        /* Cooldowns survive a restart: the last completed move of each VM from the history. */
        k = history_read(m->config->state_dir, 0, 0, &events, &n, NULL);
        if (k < 0)
                log_warning_errno(k, "Failed to read the history for cooldowns: %m");
        else {
                k = move_log_load(&m->pass->moves, events, n);
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
                LEADER_STALE_INTERVALS * m->config->interval_s * USEC_PER_SEC, &m->collector);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the collector: %m");
        k = executor_new(m->event, m->hv_ops, m->policy, &m->executor);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the executor: %m");
        k = executor_set_tls_dir(m->executor, m->config->migration_tls_dir);
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
                strv_length(m->polled), m->config->interval_s, m->policy->balance.interval_s,
                m->source->order_power_off ? " when leading" : "");
        return 0;
}

void manager_leader_reload(Manager *m) {
        int k;
        if (m->pass) {
                leader_pass_configure(
                        m->pass, m->policy, m->config->hosts, m->config->n_hosts, m->config->interval_s);
                /* Hosts no longer configured cannot drain. */
                leader_pass_forget_unconfigured(m->pass);
        }
        if (m->executor) {
                executor_set_policy(m->executor, m->policy);
                if (executor_set_tls_dir(m->executor, m->config->migration_tls_dir) < 0)
                        log_oom();
        }
        if (m->poller) {
                k = poller_configure(m);
                if (k < 0)
                        log_warning_errno(k, "Failed to update the polled hosts: %m");
        }
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
        /* A rollout command still running is stopped with drsd (its host is "unknown" next time). */
        for (size_t i = 0; i < m->n_rollout_cmds; i++)
                rollout_cmd_free(m->rollout_cmds[i]);
        free(m->rollout_cmds);
        m->rollout_cmds = NULL;
        m->n_rollout_cmds = 0;
        m->collector = collector_free(m->collector);
        m->virt_event = virt_event_stop(m->virt_event);
        m->pass = leader_pass_free(m->pass);
        adopt_tracker_done(&m->adopted);
        m->polled = strv_free(m->polled);
}
