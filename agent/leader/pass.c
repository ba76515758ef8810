/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The leader pass (see pass.h): what used to be manager-pass.c's decisions and the
 * simulator's copy of them, now one module. Messages are the journal's and the history's. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "pass.h"

#define USEC_PER_SEC UINT64_C(1000000)

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

static void check_draining(LeaderPass *lp, LeaderNow now);

_printf_(3, 4) static void plog(LeaderPass *lp, int level, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (!lp->ops->log)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (m)
                lp->ops->log(lp->userdata, level, m);
}

static void precord(LeaderPass *lp, int level, LeaderRecordKind kind, const HistoryEvent *e) {
        if (lp->ops->record)
                lp->ops->record(lp->userdata, level, kind, e);
}

void blockers_free(Blocker *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(b[i].host);
                free(b[i].vm);
                free(b[i].why);
        }
        free(b);
}

static void recent_clear(LeaderPass *lp) {
        for (size_t i = 0; i < lp->n_recent; i++) {
                free(lp->recent[i].vm);
                free(lp->recent[i].from);
                free(lp->recent[i].to);
        }
        free(lp->recent);
        lp->recent = NULL;
        lp->n_recent = 0;
}

int leader_pass_new(const LeaderPassOps *ops, void *userdata, LeaderPass **ret) {
        LeaderPass *lp = calloc(1, sizeof(LeaderPass));
        if (!lp)
                return -ENOMEM;
        lp->ops = ops;
        lp->userdata = userdata;
        *ret = lp;
        return 0;
}

LeaderPass *leader_pass_free(LeaderPass *lp) {
        if (!lp)
                return NULL;
        leader_run_free(lp->run);
        leader_run_free(lp->recommendations);
        strv_free(lp->draining);
        strv_free(lp->stale_hosts);
        for (size_t i = 0; i < lp->n_power; i++)
                free(lp->power[i].host);
        free(lp->power);
        move_log_done(&lp->moves);
        recent_clear(lp);
        blockers_free(lp->blockers, lp->n_blockers);
        free(lp->last_plan_summary);
        benefit_tracker_done(&lp->benefit);
        rollout_free(lp->rollout);
        free(lp);
        return NULL;
}

void leader_pass_configure(
        LeaderPass *lp, const Policy *policy, const DrsHostConfig *hosts, size_t n_hosts,
        uint64_t interval_s) {
        lp->policy = policy;
        lp->hosts = hosts;
        lp->n_hosts = n_hosts;
        lp->interval_s = interval_s;
}

void leader_pass_drop_plan(LeaderPass *lp) {
        lp->dpm = (DpmHysteresis){}; /* a new leader's delays count from its own passes */
        lp->run = leader_run_free(lp->run);
        lp->recommendations = leader_run_free(lp->recommendations);
        lp->draining = strv_free(lp->draining);
        /* The rollout is saved: the next leader (or this one again) loads it. */
        lp->rollout = rollout_free(lp->rollout);
}

void leader_pass_forget_unconfigured(LeaderPass *lp) {
        for (size_t i = 0; lp->draining && lp->draining[i]; i++) {
                bool known = false;
                for (size_t h = 0; h < lp->n_hosts && !known; h++)
                        known = streq(lp->hosts[h].name, lp->draining[i]);
                if (!known && strv_remove(lp->draining, lp->draining[i]))
                        i--;
        }
}

/* ---- host facts ---------------------------------------------------------------------- */

static const HostReport *host_report(LeaderPass *lp, const char *host) {
        return lp->ops->report(lp->userdata, host);
}

static HostMode host_mode(LeaderPass *lp, const char *host) {
        return lp->ops->mode(lp->userdata, host);
}

bool leader_pass_host_fresh(LeaderPass *lp, const char *host, LeaderNow now) {
        const HostReport *r = host_report(lp, host);
        return r && r->t_usec > 0 && !lp->ops->stale(lp->userdata, host, now.mono_usec);
}

static void set_host_mode(LeaderPass *lp, const char *host, HostMode mode, const char *reason) {
        int k = lp->ops->set_mode(lp->userdata, host, mode, reason);
        if (k < 0 && k != -ENOMEM)
                plog(lp, LOG_WARNING, "Cannot set host '%s' %s: %s", host, host_mode_to_string(mode),
                     strerror(-k));
}

static void request_pass(LeaderPass *lp, const char *why) {
        lp->ops->request_pass(lp->userdata, why);
}

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void leader_pass_check_stale(LeaderPass *lp, LeaderNow now) {
        /* lp->stale_hosts is kept sorted: with hundreds of hosts in standby (all stale) a linear
         * lookup per host per check was most of a simulated data centre's time. */
        size_t n_stale = strv_length(lp->stale_hosts);
        for (size_t i = 0; i < lp->n_hosts; i++) {
                const char *h = lp->hosts[i].name;
                bool stale = lp->ops->stale(lp->userdata, h, now.mono_usec);
                bool was = n_stale > 0 &&
                           bsearch(&h, lp->stale_hosts, n_stale, sizeof(char *), str_ptr_cmp) != NULL;
                if (stale == was)
                        continue;
                if (stale) {
                        if (strv_extend(&lp->stale_hosts, h) < 0)
                                return;
                        n_stale++;
                        qsort(lp->stale_hosts, n_stale, sizeof(char *), str_ptr_cmp);
                } else if (strv_remove(lp->stale_hosts, h))
                        n_stale--;
                HostMode mode = host_mode(lp, h);
                /* A host in standby is expected to be silent. */
                if (mode == HOST_MODE_STANDBY || mode == HOST_MODE_POWER_ON_FAILED)
                        continue;
                const HostReport *r = host_report(lp, h);
                const char *err = r && r->last_error ? r->last_error : NULL;
                /* A host never heard from (e.g. right after drsd started) is not "stale". */
                const char *what = !r || r->t_usec == 0 ? "has not reported" : "is stale: no report";
                _cleanup_free_ char *msg = NULL;
                int n = stale ? asprintf(
                                        &msg, "Host '%s' %s for %u intervals%s%s", h, what,
                                        LEADER_STALE_INTERVALS, err ? ": " : "", err ?: "")
                              : asprintf(&msg, "Host '%s' reports again", h);
                if (n < 0)
                        msg = NULL;
                HistoryEvent e = {.source = (char *) h, .message = msg};
                precord(lp, stale ? LOG_WARNING : LOG_NOTICE, LEADER_RECORD_HOST_REPORTING, &e);
                if (stale)
                        request_pass(lp, "a host went stale");
        }
}

/* ---- power ---------------------------------------------------------------------------------- */

const LeaderPowerOp *leader_pass_power_find(const LeaderPass *lp, const char *host) {
        for (size_t i = 0; i < lp->n_power; i++)
                if (streq(lp->power[i].host, host))
                        return &lp->power[i];
        return NULL;
}

static void power_remove(LeaderPass *lp, const char *host) {
        for (size_t i = 0; i < lp->n_power; i++)
                if (streq(lp->power[i].host, host)) {
                        char *h = lp->power[i].host;
                        memmove(&lp->power[i], &lp->power[i + 1],
                                (lp->n_power - i - 1) * sizeof(LeaderPowerOp));
                        lp->n_power--;
                        if (lp->ops->power_forget)
                                lp->ops->power_forget(lp->userdata, h);
                        free(h);
                        return;
                }
}

static void record_power(
        LeaderPass *lp, int level, const char *host, PowerAction a, const char *result, uint64_t duration_ms,
        const char *message) {
        HistoryEvent e = {
                .type = (char *) "power",
                .source = (char *) host,
                .reason = (char *) power_action_to_string(a),
                .result = (char *) result,
                .duration_ms = duration_ms,
                .message = (char *) message,
        };
        precord(lp, level, a == POWER_ON ? LEADER_RECORD_POWER_ON : LEADER_RECORD_POWER_STANDBY, &e);
}

int leader_pass_power_start(LeaderPass *lp, const char *host, PowerAction action, LeaderNow now) {
        int k;

        if (leader_pass_power_find(lp, host))
                return -EBUSY;
        LeaderPowerOp *l = reallocarray(lp->power, lp->n_power + 1, sizeof(LeaderPowerOp));
        if (!l)
                return -ENOMEM;
        lp->power = l;
        LeaderPowerOp op = {
                .host = strdup(host),
                .action = action,
                .started_usec = now.mono_usec,
                .wait_s = lp->policy->dpm.power_on_timeout_s,
        };
        if (!op.host)
                return -ENOMEM;
        lp->power[lp->n_power++] = op;
        k = lp->ops->power_command(lp->userdata, host, action);
        if (k < 0) {
                power_remove(lp, host);
                if (k == -ENOENT) /* no command configured: recorded by the callee */
                        return k;
                _cleanup_free_ char *err = NULL;
                if (asprintf(&err, "Cannot run the command for '%s': %s", host, strerror(-k)) < 0)
                        err = NULL;
                record_power(lp, LOG_ERR, host, action, "failed", 0, err);
                if (action == POWER_ON)
                        set_host_mode(lp, host, HOST_MODE_POWER_ON_FAILED, err);
                else
                        (void) strv_remove(lp->draining, host);
                return k;
        }
        return 0;
}

/* A power-on waits for a report of the host taken after the command started. */
static void power_on_check(LeaderPass *lp, const char *host, LeaderNow now) {
        const LeaderPowerOp *op = leader_pass_power_find(lp, host);
        if (!op || op->action != POWER_ON || !op->waiting)
                return;
        const HostReport *r = host_report(lp, host);
        if (!r || r->t_usec <= op->started_usec)
                return;
        _cleanup_free_ char *msg = NULL;
        uint64_t ms = (now.mono_usec - op->started_usec) / 1000U;
        if (asprintf(&msg, "Host '%s' is powered on and its libvirt answers (%" PRIu64 " ms)", host, ms) < 0)
                msg = NULL;
        record_power(lp, LOG_NOTICE, host, POWER_ON, "completed", ms, msg);
        set_host_mode(lp, host, HOST_MODE_UP, "DPM: demand rose");
        power_remove(lp, host);
        request_pass(lp, "a host was powered on");
}

int leader_pass_power_done(
        LeaderPass *lp, const char *host, bool ok, const char *message, uint64_t duration_ms,
        LeaderNow now) {
        LeaderPowerOp *op = (LeaderPowerOp *) leader_pass_power_find(lp, host);
        if (!op)
                return -ENOENT;

        if (op->action == POWER_STANDBY) {
                (void) strv_remove(lp->draining, host);
                record_power(
                        lp, ok ? LOG_NOTICE : LOG_ERR, host, POWER_STANDBY, ok ? "completed" : "failed",
                        duration_ms, message);
                if (ok)
                        set_host_mode(lp, host, HOST_MODE_STANDBY, "DPM: low demand");
                else /* standby was set before the command */
                        set_host_mode(lp, host, HOST_MODE_UP, "DPM: the power-off command failed");
                power_remove(lp, host);
                request_pass(lp, "power-off finished");
                return 0;
        }
        if (!ok) {
                record_power(lp, LOG_ERR, host, POWER_ON, "failed", duration_ms, message);
                set_host_mode(lp, host, HOST_MODE_POWER_ON_FAILED, message);
                power_remove(lp, host);
                return 0;
        }
        record_power(lp, LOG_INFO, host, POWER_ON, "command-done", duration_ms, message);
        op->waiting = true;
        /* Do not wait for the poller's reconnect backoff (up to a minute): ask now. */
        if (lp->ops->poll_now)
                lp->ops->poll_now(lp->userdata, host);
        power_on_check(lp, host, now);
        return 0;
}

void leader_pass_power_expire(LeaderPass *lp, LeaderNow now) {
        for (size_t i = 0; i < lp->n_power;) {
                const LeaderPowerOp *op = &lp->power[i];
                if (op->action != POWER_ON || now.mono_usec < op->started_usec + op->wait_s * USEC_PER_SEC) {
                        i++;
                        continue;
                }
                _cleanup_free_ char *host = strdup(op->host), *msg = NULL;
                if (!host)
                        return;
                if (asprintf(
                            &msg,
                            "Host '%s' did not answer within %" PRIu64
                            " s of its power-on (dpm.power_on_timeout)",
                            host, op->wait_s) < 0)
                        msg = NULL;
                record_power(
                        lp, LOG_ERR, host, POWER_ON, "failed", (now.mono_usec - op->started_usec) / 1000U,
                        msg);
                set_host_mode(lp, host, HOST_MODE_POWER_ON_FAILED, msg);
                power_remove(lp, host);
        }
}

void leader_pass_host_reported(LeaderPass *lp, const char *host, LeaderNow now) {
        power_on_check(lp, host, now);
        leader_pass_check_stale(lp, now);
        leader_pass_rollout_tick(lp, now);
}

/* ---- migrations ------------------------------------------------------------------------- */

static void finish_run_if_done(LeaderPass *lp, LeaderNow now);

static const char *reason_string(const PlanMove *mv, char *buf, size_t size) {
        if (mv->reason == REASON_RULE && mv->rule) {
                (void) snprintf(buf, size, "rule '%s'", mv->rule);
                return buf;
        }
        return move_reason_to_string(mv->reason);
}

static void recent_prune(LeaderPass *lp, uint64_t now_mono) {
        uint64_t keep = (LEADER_STALE_INTERVALS + 1) * lp->interval_s * USEC_PER_SEC;
        size_t j = 0;
        for (size_t i = 0; i < lp->n_recent; i++) {
                RecentMove *r = &lp->recent[i];
                if (now_mono > r->done_usec + keep) {
                        free(r->vm);
                        free(r->from);
                        free(r->to);
                        continue;
                }
                lp->recent[j++] = *r;
        }
        lp->n_recent = j;
}

void leader_pass_moved(LeaderPass *lp, const char *vm, const char *from, const char *to, LeaderNow now) {
        recent_prune(lp, now.mono_usec);
        RecentMove *n = reallocarray(lp->recent, lp->n_recent + 1, sizeof(RecentMove));
        if (!n)
                return;
        lp->recent = n;
        RecentMove r = {
                .vm = strdup(vm), .from = strdup(from), .to = strdup(to), .done_usec = now.mono_usec};
        if (!r.vm || !r.from || !r.to) {
                free(r.vm);
                free(r.from);
                free(r.to);
                return;
        }
        lp->recent[lp->n_recent++] = r;
}

/* A completed balance or DPM move starts its benefit measurement: the gain its plan predicted,
 * against the VM's host before the plan's first step of it (a hop's last step carries the
 * gain of the whole route). */
static void track_benefit(LeaderPass *lp, size_t i, LeaderNow now) {
        const Problem *p = lp->run->problem;
        const Plan *plan = lp->run->plan;
        const PlanMove *pm = &plan->moves[i];
        if (pm->reason != REASON_BALANCE && pm->reason != REASON_DPM)
                return;
        size_t from = pm->from;
        for (size_t k = 0; k < i; k++)
                if (plan->moves[k].vm == pm->vm) {
                        from = plan->moves[k].from;
                        break;
                }
        (void) benefit_add(
                &lp->benefit, p->vms[pm->vm].name, p->hosts[from].name, p->hosts[pm->to].name,
                move_reason_to_string(pm->reason), pm->gain, lp->run->id, now.mono_usec);
}

void leader_pass_move_done(LeaderPass *lp, const char *vm, bool ok, LeaderNow now) {
        if (!lp->run)
                return;
        int i = leader_run_move_done(lp->run, vm, ok);
        if (i < 0)
                return;
        if (ok)
                track_benefit(lp, (size_t) i, now);
        finish_run_if_done(lp, now);
}

static ssize_t problem_vm(const Problem *p, const char *name) {
        for (size_t v = 0; v < p->n_vms; v++)
                if (streq(p->vms[v].name, name))
                        return (ssize_t) v;
        return -1;
}

static ssize_t problem_host(const Problem *p, const char *name) {
        for (size_t h = 0; h < p->n_hosts; h++)
                if (streq(p->hosts[h].name, name))
                        return (ssize_t) h;
        return -1;
}

/* The benefit measurements due now, on this pass's Problem (its measured demands): the
 * objective's worsening with the VM back on its source is what the move realizes. */
static void measure_benefit(LeaderPass *lp, const Problem *p, LeaderNow now) {
        size_t from = 0;
        ssize_t i;
        while ((i = benefit_next_due(&lp->benefit, from, now.mono_usec)) >= 0) {
                BenefitMove *bm = &lp->benefit.moves[i];
                ssize_t v = problem_vm(p, bm->vm), src = problem_host(p, bm->from),
                        dst = problem_host(p, bm->to);
                double realized = 0;
                const char *why = NULL;
                if (v < 0)
                        why = "the VM is gone";
                else if (dst < 0 || p->vms[v].host != (int) dst)
                        why = "the VM moved again";
                else if (p->vms[v].migrating)
                        why = "the VM is migrating";
                else if (src < 0 || p->hosts[src].state != HOST_UP || p->hosts[src].frozen)
                        why = "its source host is not up (nothing to compare with)";
                else {
                        size_t vv = (size_t) v, hh = (size_t) src;
                        if (solver_move_gains(p, &vv, &hh, 1, &realized) < 0)
                                why = "not measurable";
                }
                unsigned after_s;
                bool fin;
                _cleanup_free_ char *vm = strdup(bm->vm), *src_name = strdup(bm->from),
                                    *dst_name = strdup(bm->to), *reason = strdup(bm->reason);
                double predicted = bm->predicted;
                uint64_t plan_id = bm->plan_id;
                unsigned f0 = vm ? benefit_vm_factor(&lp->benefit, vm, NULL) : 1;
                (void) benefit_record(
                        &lp->benefit, (size_t) i, why != NULL, realized, now.mono_usec, &after_s, &fin);
                if (!fin)
                        from = (size_t) i + 1;
                else
                        from = (size_t) i;
                _cleanup_free_ char *msg = NULL;
                int n = why ? asprintf(
                                      &msg, "Move of '%s' %s → %s (%s): no longer measured after %u s: %s",
                                      vm ?: "?", src_name ?: "?", dst_name ?: "?", reason ?: "?", after_s,
                                      why)
                            : asprintf(
                                      &msg,
                                      "Move of '%s' %s → %s (%s): predicted gain %.4f, realized %.4f after %u s (%.0f %%)%s",
                                      vm ?: "?", src_name ?: "?", dst_name ?: "?", reason ?: "?", predicted,
                                      realized, after_s, 100.0 * realized / predicted,
                                      realized < 0 ? ": it made the balance worse" : "");
                if (n < 0)
                        msg = NULL;
                HistoryEvent e = {
                        .type = (char *) "benefit",
                        .vm = vm,
                        .source = src_name,
                        .target = dst_name,
                        .reason = reason,
                        .result = (char *) (why ? "superseded" : fin ? "final" : "measured"),
                        .has_gain = why == NULL,
                        .predicted_gain = predicted,
                        .realized_gain = realized,
                        .after_s = after_s,
                        .message = msg,
                };
                precord(lp, why || realized >= 0 ? LOG_INFO : LOG_NOTICE, LEADER_RECORD_BENEFIT, &e);
                BenefitPlan bp;
                if (fin && plan_id > 0 && benefit_plan_finished(&lp->benefit, plan_id, &bp)) {
                        _cleanup_free_ char *pmsg = NULL;
                        if (asprintf(
                                    &pmsg,
                                    "Plan %" PRIu64
                                    ": %u move(s) measured to 15 min realized %.0f %% of the predicted "
                                    "gain (%.4f of %.4f), %u made it worse, %u ended early",
                                    plan_id, bp.measured,
                                    bp.predicted > 0 ? 100.0 * bp.realized / bp.predicted : 0, bp.realized,
                                    bp.predicted, bp.worse, bp.superseded) < 0)
                                pmsg = NULL;
                        HistoryEvent pe = {
                                .type = (char *) "benefit",
                                .reason = (char *) "plan",
                                .result = (char *) "plan",
                                .has_gain = bp.measured > 0,
                                .predicted_gain = bp.predicted,
                                .realized_gain = bp.realized,
                                .after_s = benefit_checkpoint_s[BENEFIT_CHECKPOINTS - 1],
                                .message = pmsg,
                        };
                        precord(lp, LOG_INFO, LEADER_RECORD_BENEFIT, &pe);
                }
                double share;
                unsigned f1 = vm ? benefit_vm_factor(&lp->benefit, vm, &share) : 1;
                if (f1 != f0)
                        plog(lp, LOG_NOTICE,
                             "VM '%s': its last moves realized %.0f %% of their predicted gain: cooldown ×%u "
                             "(drsctl vms --reset-feedback %s resets it)",
                             vm, 100.0 * share, f1, vm);
        }
}

typedef struct SubmitContext {
        LeaderPass *lp;
        LeaderNow now;
} SubmitContext;

static int submit_move(const Problem *p, const PlanMove *mv, void *userdata) {
        SubmitContext *c = userdata;
        LeaderPass *lp = c->lp;
        const char *vm = p->vms[mv->vm].name, *src = p->hosts[mv->from].name, *dst = p->hosts[mv->to].name;
        char rbuf[300];
        const char *reason = reason_string(mv, rbuf, sizeof(rbuf));
        int k;

        /* A target that is not answering (being powered on, stale) is skipped; a later pass
         * plans again. */
        bool dst_fresh = leader_pass_host_fresh(lp, dst, c->now);
        if (!dst_fresh || !leader_pass_host_fresh(lp, src, c->now)) {
                plog(lp, LOG_INFO, "Skipping the move of '%s' to '%s': %s is not reporting", vm, dst,
                     dst_fresh ? src : dst);
                return -EHOSTDOWN;
        }
        HostMode dm = host_mode(lp, dst);
        bool draining = strv_contains(lp->draining, dst);
        if (!leader_host_accepts(dm, draining)) {
                plog(lp, LOG_INFO,
                     "Skipping the move of '%s' to '%s': the target is %s since the plan was made", vm, dst,
                     draining ? "draining for standby" : host_mode_to_string(dm));
                return -EHOSTDOWN;
        }
        k = lp->ops->start_migration(lp->userdata, p, mv, reason);
        if (k < 0) {
                plog(lp, LOG_WARNING, "Cannot start the migration of '%s': %s", vm, strerror(-k));
                return k;
        }
        return 0;
}

static void finish_run_if_done(LeaderPass *lp, LeaderNow now) {
        SubmitContext c = {.lp = lp, .now = now};

        if (!lp->run)
                return;
        if (leader_run_advance(lp->run, submit_move, &c) > 0)
                return;
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "Plan %" PRIu64 " finished: %zu moved, %zu failed, %zu not started", lp->run->id,
                    lp->run->n_done, lp->run->n_failed,
                    lp->run->plan->n_moves - lp->run->n_done - lp->run->n_failed) < 0)
                msg = NULL;
        HistoryEvent e = {.type = (char *) "plan", .result = (char *) "finished", .message = msg};
        precord(lp, LOG_INFO, LEADER_RECORD_PLAN, &e);
        lp->run = leader_run_free(lp->run);
        check_draining(lp, now);
}

/* ---- DPM and maintenance --------------------------------------------------------------------- */

/* A draining host goes to standby once its libvirt reports no running VM and no plan moves
 * anything. Power-off only then: the last VM's migration must be complete. */
/* Cluster mode: whether powering host off now still keeps votequorum's quorum with
 * dpm.tolerate_failures hosts failing (DPM checked it when it chose the host, but a host may have
 * failed since). Hosts in standby — also those whose power-off runs — count as off. */
static bool
quorum_allows_power_off(LeaderPass *lp, const char *host, unsigned *ret_left, ProblemQuorum *ret_q) {
        if (!lp->ops->quorum)
                return true;
        _cleanup_free_ LeaderHost *hosts = calloc(lp->n_hosts ?: 1, sizeof(LeaderHost));
        _cleanup_free_ unsigned *votes = calloc(2 * lp->n_hosts + 1, sizeof(unsigned));
        _cleanup_free_ bool *off = calloc(lp->n_hosts + 1, sizeof(bool));
        ProblemQuorum q = {};
        if (!hosts || !votes || !off)
                return false;
        for (size_t i = 0; i < lp->n_hosts; i++)
                hosts[i] = (LeaderHost){.config = &lp->hosts[i], .mode = host_mode(lp, lp->hosts[i].name)};
        lp->ops->quorum(lp->userdata, hosts, lp->n_hosts, &q);
        if (!q.enabled)
                return true;
        for (size_t i = 0; i < lp->n_hosts; i++) {
                votes[lp->n_hosts + i] = hosts[i].votes;
                off[i] = hosts[i].mode == HOST_MODE_STANDBY || streq(lp->hosts[i].name, host);
        }
        *ret_left = quorum_votes_left(
                q.total_votes, votes + lp->n_hosts, off, lp->n_hosts, lp->policy->dpm.tolerate_failures,
                votes);
        *ret_q = q;
        return *ret_left >= q.quorum;
}

static void check_draining(LeaderPass *lp, LeaderNow now) {
        if (lp->run || lp->ops->in_flight(lp->userdata) > 0)
                return;
        for (size_t i = 0; lp->draining && lp->draining[i]; i++) {
                const HostReport *r = host_report(lp, lp->draining[i]);
                if (leader_pass_power_find(lp, lp->draining[i]) ||
                    !leader_pass_host_fresh(lp, lp->draining[i], now) || !r || r->n_vms > 0)
                        continue;
                /* A copy: strv_remove() and power_start free the list's entry. */
                _cleanup_free_ char *host = strdup(lp->draining[i]);
                if (!host)
                        return;
                unsigned left = 0;
                ProblemQuorum q = {};
                if (!quorum_allows_power_off(lp, host, &left, &q)) {
                        plog(lp, LOG_NOTICE,
                             "Host '%s' is empty but stays on: quorum (%u of %u votes would stay powered; "
                             "votequorum needs %u, with dpm.tolerate_failures %u)",
                             host, left, q.total_votes, q.quorum, lp->policy->dpm.tolerate_failures);
                        (void) strv_remove(lp->draining, host);
                        i--; /* the list shifted; bounded by its length */
                        continue;
                }
                plog(lp, LOG_INFO, "Host '%s' is empty: powering it off", host);
                /* Cluster mode: its own drsd runs the command (after checking its libvirt once more). */
                int k = lp->ops->order_power_off ? lp->ops->order_power_off(lp->userdata, host)
                                                 : -EOPNOTSUPP;
                if (k != -EOPNOTSUPP) {
                        if (k < 0)
                                plog(lp, LOG_WARNING, "Cannot order host '%s' to power off", host);
                        (void) strv_remove(lp->draining, host);
                        i--;
                        continue;
                }
                /* Standby is set (and saved) before the command runs, as a cluster drsd announces
                 * it: a drsd restarted meanwhile must not take the host for an empty up host and
                 * send it VMs while it powers off. A failed command sets it up again. */
                set_host_mode(lp, host, HOST_MODE_STANDBY, "DPM: low demand");
                if (leader_pass_power_start(lp, host, POWER_STANDBY, now) < 0) {
                        set_host_mode(lp, host, HOST_MODE_UP, "DPM: the power-off command could not run");
                        (void) strv_remove(lp->draining, host);
                        i--; /* the list shifted; bounded by its length */
                }
        }
}

bool leader_pass_host_has_moves(LeaderPass *lp, const char *host) {
        if (!lp->run)
                return false;
        for (size_t i = 0; i < lp->run->plan->n_moves; i++) {
                const PlanMove *mv = &lp->run->plan->moves[i];
                if ((lp->run->moves[i] == LEADER_MOVE_PENDING || lp->run->moves[i] == LEADER_MOVE_RUNNING) &&
                    streq(lp->run->problem->hosts[mv->from].name, host))
                        return true;
        }
        return false;
}

static void check_maintenance(LeaderPass *lp, LeaderNow now) {
        for (size_t i = 0; i < lp->n_hosts; i++) {
                const char *h = lp->hosts[i].name;
                if (host_mode(lp, h) != HOST_MODE_ENTERING_MAINTENANCE)
                        continue;
                const HostReport *r = host_report(lp, h);
                if (!leader_pass_host_fresh(lp, h, now) || !r || r->n_vms > 0 ||
                    leader_pass_host_has_moves(lp, h))
                        continue;
                set_host_mode(lp, h, HOST_MODE_MAINTENANCE, "evacuated: no running VM left");
        }
}

/* ---- the pass ------------------------------------------------------------------------------- */

static bool vm_busy(const char *vm, void *userdata) {
        LeaderPass *lp = userdata;
        return lp->ops->vm_busy(lp->userdata, vm);
}

static const char *vm_target(const char *vm, void *userdata) {
        LeaderPass *lp = userdata;
        return lp->ops->vm_target(lp->userdata, vm);
}

static ssize_t host_index(const LeaderPass *lp, const char *name) {
        for (size_t h = 0; h < lp->n_hosts; h++)
                if (streq(lp->hosts[h].name, name))
                        return (ssize_t) h;
        return -1;
}

/* sample: this is the pass's own Problem: its demand joins DPM's standby statistic. */
static int
build_problem(LeaderPass *lp, LeaderNow now, const char *force_maintenance, bool sample, Problem **ret) {
        _cleanup_free_ LeaderHost *hosts = NULL;
        _cleanup_free_ LeaderMovedVm *moved = NULL;
        size_t n_moved = 0;
        AutomationLevel level;
        int k;

        hosts = calloc(lp->n_hosts ?: 1, sizeof(LeaderHost));
        if (!hosts)
                return -ENOMEM;
        recent_prune(lp, now.mono_usec);
        moved = calloc(lp->n_recent ?: 1, sizeof(LeaderMovedVm));
        if (!moved)
                return -ENOMEM;
        for (size_t i = 0; i < lp->n_recent; i++) {
                const RecentMove *r = &lp->recent[i];
                ssize_t from = host_index(lp, r->from), to = host_index(lp, r->to);
                if (from >= 0 && to >= 0)
                        moved[n_moved++] = (LeaderMovedVm){
                                .vm = r->vm,
                                .from = (size_t) from,
                                .to = (size_t) to,
                                .done_usec = r->done_usec};
        }
        for (size_t i = 0; i < lp->n_hosts; i++) {
                const DrsHostConfig *hc = &lp->hosts[i];
                const HostReport *r = host_report(lp, hc->name);
                hosts[i] = (LeaderHost){
                        .config = hc,
                        .report = r && r->t_usec > 0 ? r : NULL,
                        .stale = lp->ops->stale(lp->userdata, hc->name, now.mono_usec),
                        .mode = host_mode(lp, hc->name),
                        .draining = strv_contains(lp->draining, hc->name),
                };
        }
        ProblemQuorum quorum = {};
        if (lp->ops->quorum)
                lp->ops->quorum(lp->userdata, hosts, lp->n_hosts, &quorum);
        k = leader_automation_at(lp->policy, (time_t) (now.real_usec / USEC_PER_SEC), &level);
        if (k < 0)
                plog(lp, LOG_WARNING,
                     "Unknown timezone '%s' in the policy: automation windows are evaluated in UTC",
                     lp->policy->automation.timezone);
        LeaderInput in = {
                .policy = lp->policy,
                .hosts = hosts,
                .n_hosts = lp->n_hosts,
                .moves = &lp->moves,
                .now_usec = now.real_usec,
                .automation = level,
                .vm_busy = vm_busy,
                .vm_target = vm_target,
                .userdata = lp,
                .moved = moved,
                .n_moved = n_moved,
                .force_maintenance = force_maintenance,
                .quorum = quorum,
        };
        k = leader_build_problem(&in, ret);
        if (k < 0)
                return k;
        /* Feedback: a VM whose moves realized little waits its cooldown × its factor — it
         * looks moved more recently than it was. */
        for (size_t v = 0; v < (*ret)->n_vms; v++) {
                SolverVm *sv = &(*ret)->vms[v];
                double share;
                unsigned f = benefit_vm_factor(&lp->benefit, sv->name, &share);
                if (f <= 1)
                        continue;
                if (sv->last_moved_s >= 0)
                        sv->last_moved_s /= f;
                _cleanup_free_ char *note = NULL;
                if (asprintf(
                            &note, "%s: moves realized %.0f %% of prediction, cooldown ×%u", sv->name,
                            100.0 * share, f) >= 0 &&
                    strv_extend(&(*ret)->notes, note) < 0) {
                        *ret = problem_free(*ret);
                        return -ENOMEM;
                }
        }
        if (sample) {
                double cpu, mem;
                leader_demand_now(*ret, &cpu, &mem);
                leader_dpm_sample(&lp->dpm, now.mono_usec, cpu, mem);
        }
        leader_dpm_hold(&lp->dpm, lp->policy, now.mono_usec, *ret);
        /* A rolling maintenance holds DPM: no standby, and a power-on only when the evacuation
         * needs it (mandatory moves are never held). */
        if (rollout_is_active(lp->rollout))
                (*ret)->dpm_hold_standby = (*ret)->dpm_hold_power_on = true;
        k = leader_pass_rollout_prefer_done(lp, *ret);
        if (k < 0) {
                *ret = problem_free(*ret);
                return k;
        }
        return 0;
}

int leader_pass_build_problem(LeaderPass *lp, LeaderNow now, const char *force_maintenance, Problem **ret) {
        return build_problem(lp, now, force_maintenance, false, ret);
}

static int update_blockers(LeaderPass *lp, const Problem *p, const Plan *plan) {
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
        /* Name the new blockers once (not every pass), and for each host with a new one, the
         * smallest fix that would let it empty (an evacuation, a rollout's, DPM's draining). */
        for (size_t i = 0; i < n; i++) {
                bool known = false, host_named = false;
                for (size_t j = 0; j < lp->n_blockers; j++)
                        known = known ||
                                (streq(lp->blockers[j].vm, b[i].vm) && streq(lp->blockers[j].why, b[i].why));
                if (known)
                        continue;
                for (size_t j = 0; j < i; j++)
                        host_named = host_named || streq(b[j].host, b[i].host);
                ssize_t hi = -1;
                for (size_t h = 0; h < p->n_hosts && !host_named; h++)
                        if (streq(p->hosts[h].name, b[i].host))
                                hi = (ssize_t) h;
                SolverFix *fix = NULL;
                _cleanup_free_ char *fix_text = NULL;
                if (hi >= 0 && solver_smallest_fix(p, (size_t) hi, 2000, &fix) >= 0) {
                        if (fix->n_options > 0 && solver_fix_to_text(p, fix, &fix_text) >= 0) {
                                size_t l = strlen(fix_text);
                                if (l > 0 && fix_text[l - 1] == '\n')
                                        fix_text[l - 1] = 0;
                        }
                        solver_fix_free(fix);
                }
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg, "VM '%s' cannot leave host '%s': %s%s%s", b[i].vm, b[i].host, b[i].why,
                            fix_text ? "; " : "", fix_text ?: "") < 0)
                        msg = NULL;
                HistoryEvent e = {
                        .type = (char *) "plan",
                        .vm = b[i].vm,
                        .source = b[i].host,
                        .result = (char *) "unplaceable",
                        .reason = (char *) "maintenance",
                        .message = msg,
                };
                precord(lp, LOG_WARNING, LEADER_RECORD_PLAN, &e);
        }
        blockers_free(lp->blockers, lp->n_blockers);
        lp->blockers = b;
        lp->n_blockers = n;
        return 0;
}

static void record_plan(LeaderPass *lp, const Problem *p, const Plan *plan, const char *what) {
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
        free(lp->last_plan_summary);
        lp->last_plan_summary = strdup(msg);
        HistoryEvent e = {
                .type = (char *) "plan",
                .result = (char *) what,
                .reason = (char *) plan_status_to_string(plan->status),
                .message = msg,
        };
        precord(lp, LOG_INFO, LEADER_RECORD_PLAN, &e);
}

static int start_run(LeaderPass *lp, Problem *p, Plan *plan, bool include_recommended, LeaderNow now) {
        LeaderRun *run;
        int k;

        /* DPM: hosts to put in standby drain first; power-ons start now (their moves are
         * skipped until the host answers, and the next pass plans onto it). */
        for (size_t i = 0; i < plan->n_power; i++) {
                const char *h = p->hosts[plan->power[i].host].name;
                if (plan->power[i].action == POWER_STANDBY) {
                        if (!strv_contains(lp->draining, h) && strv_extend(&lp->draining, h) < 0) {
                                problem_free(p);
                                plan_free(plan);
                                return -ENOMEM;
                        }
                        lp->ops->cancel_queued_to(lp->userdata, h, "draining for standby");
                } else if (host_mode(lp, h) == HOST_MODE_STANDBY)
                        (void) leader_pass_power_start(lp, h, POWER_ON, now);
        }

        leader_dpm_note(&lp->dpm, plan, true, now.mono_usec);
        k = leader_run_new(p, plan, include_recommended, ++lp->n_runs, &run);
        if (k < 0)
                return k;
        lp->run = leader_run_free(lp->run);
        lp->run = run;
        finish_run_if_done(lp, now);
        return 0;
}

static int pass_run(LeaderPass *lp, LeaderNow now);

int leader_pass_run(LeaderPass *lp, LeaderNow now) {
        int k = pass_run(lp, now);
        /* After the plan: its blockers say whether an evacuation can complete. */
        leader_pass_rollout_tick(lp, now);
        return k;
}

static int pass_run(LeaderPass *lp, LeaderNow now) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        int k;

        leader_pass_check_stale(lp, now);
        check_maintenance(lp, now);
        check_draining(lp, now);

        bool settled = !lp->run && lp->ops->in_flight(lp->userdata) == 0;
        k = build_problem(lp, now, NULL, true, &p);
        if (k < 0)
                return k;
        lp->dpm_standby_demand = p->dpm_standby_demand;
        measure_benefit(lp, p, now);
        k = lp->ops->solve(lp->userdata, p, &plan);
        if (k < 0)
                return k;
        uint64_t was_above = lp->dpm.above_since_usec, was_below = lp->dpm.below_since_usec;
        leader_dpm_note(&lp->dpm, plan, false, now.mono_usec);
        if (plan->dpm_power_on_held && was_above == 0)
                plog(lp, LOG_INFO,
                     "DPM: demand above the band; a power-on waits until it stays there for %" PRIu64
                     " s (dpm.power_on_delay)",
                     lp->policy->dpm.power_on_delay_s);
        if (plan->dpm_standby_held && was_below == 0)
                plog(lp, LOG_INFO,
                     "DPM: demand below the band; standby waits until demand has been measured for %" PRIu64
                     " s (dpm.standby_delay) since this leader started or the last power-on",
                     lp->policy->dpm.standby_delay_s);
        if (plan->dpm_quorum_limited && !lp->dpm_quorum_limited)
                plog(lp, LOG_NOTICE,
                     "DPM: no more hosts to standby: quorum (%u of %u votes would stay powered; "
                     "votequorum needs %u, with dpm.tolerate_failures %u)",
                     plan->dpm_votes_after, p->quorum.total_votes, p->quorum.quorum,
                     lp->policy->dpm.tolerate_failures);
        lp->dpm_quorum_limited = plan->dpm_quorum_limited;
        lp->dpm_votes_after = plan->dpm_votes_after;
        lp->last_metrics = plan->before;
        lp->last_plan_usec = now.real_usec;
        (void) update_blockers(lp, p, plan);
        lp->blockers_settled = settled;

        if (plan->n_moves == 0 && plan->n_power == 0) {
                if (plan->n_unplaceable > 0)
                        record_plan(lp, p, plan, "partial");
                free(lp->last_plan_summary);
                lp->last_plan_summary = NULL;
                if (asprintf(
                            &lp->last_plan_summary,
                            "no action: CPU imbalance %.4f, memory %.4f (%zu unplaceable)%s%s%s",
                            plan->before.cpu_imbalance, plan->before.memory_imbalance, plan->n_unplaceable,
                            plan->dpm_power_on_held ? "; DPM power-on held (dpm.power_on_delay)" : "",
                            plan->dpm_standby_held ? "; DPM standby held (dpm.standby_delay)" : "",
                            plan->dpm_quorum_limited ? "; DPM standby held back by quorum" : "") < 0)
                        lp->last_plan_summary = NULL;
                return 0;
        }

        if (lp->run && !(leader_plan_is_mandatory(plan) && !lp->run->mandatory)) {
                plog(lp, LOG_DEBUG, "Plan %" PRIu64 " still running (%zu moves left): not starting another",
                     lp->run->id, leader_run_n_left(lp->run));
                return 0;
        }

        bool manual = p->automation == AUTOMATION_MANUAL;
        size_t n_rec = 0;
        for (size_t i = 0; i < plan->n_moves; i++)
                n_rec += plan->moves[i].recommendation;

        if (manual || (n_rec == plan->n_moves && plan->n_power == 0)) {
                /* The journal and history get a recommendation once, not every pass. */
                if (!lp->recommendations ||
                    !leader_plans_same_actions(
                            lp->recommendations->problem, lp->recommendations->plan, p, plan))
                        record_plan(lp, p, plan, "recommended");
                LeaderRun *rec;
                k = leader_run_new(TAKE_PTR(p), TAKE_PTR(plan), true, 0, &rec);
                if (k < 0)
                        return k;
                leader_run_free(lp->recommendations);
                lp->recommendations = rec;
                return 0;
        }

        if (lp->run) {
                plog(lp, LOG_NOTICE, "Plan %" PRIu64 " replaced by a mandatory plan", lp->run->id);
                lp->n_replaced++;
        }
        record_plan(lp, p, plan, "started");
        return start_run(lp, TAKE_PTR(p), TAKE_PTR(plan), false, now);
}

int leader_pass_apply(LeaderPass *lp, LeaderNow now, size_t *ret_n) {
        if (!lp->recommendations || lp->recommendations->plan->n_moves == 0)
                return -ENOENT;
        if (lp->run)
                return -EBUSY;
        LeaderRun *rec = TAKE_PTR(lp->recommendations);
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
        precord(lp, LOG_NOTICE, LEADER_RECORD_PLAN, &e);
        int k = start_run(lp, p, plan, true, now);
        if (k < 0)
                return k;
        *ret_n = n;
        return 0;
}
