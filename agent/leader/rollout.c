/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Rolling maintenance: the rollout as a value and its saved form (see rollout.h). The steps
 * themselves are pass.c's leader_pass_rollout_*(). */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static const char *const state_names[_ROLLOUT_STATE_MAX] = {
        [ROLLOUT_RUNNING] = "running",
        [ROLLOUT_PAUSED] = "paused",
        [ROLLOUT_DONE] = "done",
        [ROLLOUT_ABORTED] = "aborted",
};

static const char *const host_state_names[_ROLLOUT_HOST_STATE_MAX] = {
        [ROLLOUT_HOST_PENDING] = "pending", [ROLLOUT_HOST_EVACUATING] = "evacuating",
        [ROLLOUT_HOST_COMMAND] = "command", [ROLLOUT_HOST_RETURNING] = "returning",
        [ROLLOUT_HOST_HEALTH] = "health",   [ROLLOUT_HOST_DONE] = "done",
        [ROLLOUT_HOST_FAILED] = "failed",   [ROLLOUT_HOST_UNKNOWN] = "unknown",
        [ROLLOUT_HOST_SKIPPED] = "skipped",
};

const char *rollout_state_to_string(RolloutState s) {
        return s >= 0 && s < _ROLLOUT_STATE_MAX ? state_names[s] : NULL;
}

RolloutState rollout_state_from_string(const char *s) {
        for (int i = 0; s && i < _ROLLOUT_STATE_MAX; i++)
                if (streq(state_names[i], s))
                        return (RolloutState) i;
        return _ROLLOUT_STATE_INVALID;
}

const char *rollout_host_state_to_string(RolloutHostState s) {
        return s >= 0 && s < _ROLLOUT_HOST_STATE_MAX ? host_state_names[s] : NULL;
}

RolloutHostState rollout_host_state_from_string(const char *s) {
        for (int i = 0; s && i < _ROLLOUT_HOST_STATE_MAX; i++)
                if (streq(host_state_names[i], s))
                        return (RolloutHostState) i;
        return _ROLLOUT_HOST_STATE_INVALID;
}

Rollout *rollout_free(Rollout *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_hosts; i++) {
                free(r->hosts[i].name);
                free(r->hosts[i].note);
        }
        free(r->hosts);
        free(r->command);
        free(r->health);
        free(r->started_by);
        free(r->reason);
        free(r);
        return NULL;
}

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int rollout_new(
        char *const *hosts, size_t n, const char *command, const char *health, uint64_t timeout_s,
        unsigned parallel, bool parallel_auto, const char *started_by, uint64_t now_usec, Rollout **ret) {
        _cleanup_(rollout_freep) Rollout *r = NULL;

        if (n == 0 || n > ROLLOUT_MAX_HOSTS || parallel == 0 || !command || timeout_s == 0)
                return -EINVAL;
        r = calloc(1, sizeof(Rollout));
        if (!r)
                return -ENOMEM;
        r->hosts = calloc(n, sizeof(RolloutHost));
        if (!r->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r->hosts[i] = (RolloutHost){
                        .name = strdup(hosts[i]),
                        .state = ROLLOUT_HOST_PENDING,
                        .wave = (unsigned) (i / parallel) + 1,
                };
                r->n_hosts++;
                if (!r->hosts[i].name)
                        return -ENOMEM;
        }
        if (dup_opt(command, &r->command) < 0 || dup_opt(health, &r->health) < 0 ||
            dup_opt(started_by, &r->started_by) < 0)
                return -ENOMEM;
        r->id = now_usec;
        r->timeout_s = timeout_s;
        r->parallel = parallel;
        r->parallel_auto = parallel_auto;
        r->state = ROLLOUT_RUNNING;
        r->started_usec = now_usec;
        r->wave = 1;
        *ret = TAKE_PTR(r);
        return 0;
}

bool rollout_is_active(const Rollout *r) {
        return r && (r->state == ROLLOUT_RUNNING || r->state == ROLLOUT_PAUSED);
}

size_t rollout_n_done(const Rollout *r) {
        size_t n = 0;
        for (size_t i = 0; r && i < r->n_hosts; i++)
                n += r->hosts[i].state == ROLLOUT_HOST_DONE || r->hosts[i].state == ROLLOUT_HOST_SKIPPED;
        return n;
}

unsigned rollout_n_waves(const Rollout *r) {
        return r && r->n_hosts > 0 ? r->hosts[r->n_hosts - 1].wave : 0;
}

RolloutHost *rollout_find(Rollout *r, const char *host) {
        for (size_t i = 0; r && i < r->n_hosts; i++)
                if (streq(r->hosts[i].name, host))
                        return &r->hosts[i];
        return NULL;
}

static int replace_string(char **field, const char *s) {
        char *c = NULL;
        if (s && !(c = strdup(s)))
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

int rollout_set_state(Rollout *r, RolloutState s, const char *reason) {
        int k = replace_string(&r->reason, reason);
        if (k < 0)
                return k;
        r->state = s;
        return 0;
}

int rollout_host_set_note(RolloutHost *h, const char *note) {
        return replace_string(&h->note, note);
}

/* ---- the saved form --------------------------------------------------------------------- */

static int add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_str(json_object *o, const char *key, const char *s) {
        return s ? add(o, key, json_object_new_string(s)) : 0;
}

int rollout_to_json(const Rollout *r, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(),
                                                *hosts = json_object_new_array();

        if (!o || !hosts)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_hosts; i++) {
                const RolloutHost *h = &r->hosts[i];
                json_object *j = json_object_new_object();
                if (!j || json_object_array_add(hosts, j) < 0) {
                        json_object_put(j);
                        return -ENOMEM;
                }
                if (add_str(j, "name", h->name) < 0 ||
                    add_str(j, "state", rollout_host_state_to_string(h->state)) < 0 ||
                    (h->state == ROLLOUT_HOST_FAILED &&
                     add_str(j, "failed_step", rollout_host_state_to_string(h->failed_step)) < 0) ||
                    add(j, "wave", json_object_new_uint64(h->wave)) < 0 ||
                    add(j, "step_usec", json_object_new_uint64(h->step_usec)) < 0 ||
                    add(j, "done_usec", json_object_new_uint64(h->done_usec)) < 0 ||
                    add(j, "command_ms", json_object_new_uint64(h->command_ms)) < 0 ||
                    add(j, "vms_at_start", json_object_new_uint64(h->vms_at_start)) < 0 ||
                    add(j, "runner", json_object_new_uint64(h->runner)) < 0 ||
                    add_str(j, "note", h->note) < 0)
                        return -ENOMEM;
        }
        if (add(o, "version", json_object_new_int(ROLLOUT_FILE_VERSION)) < 0 ||
            add(o, "id", json_object_new_uint64(r->id)) < 0 || add_str(o, "command", r->command) < 0 ||
            add_str(o, "health", r->health) < 0 ||
            add(o, "timeout_s", json_object_new_uint64(r->timeout_s)) < 0 ||
            add(o, "parallel", json_object_new_uint64(r->parallel)) < 0 ||
            add(o, "parallel_auto", json_object_new_boolean(r->parallel_auto)) < 0 ||
            add(o, "in_windows", json_object_new_boolean(r->in_windows)) < 0 ||
            add_str(o, "started_by", r->started_by) < 0 ||
            add_str(o, "state", rollout_state_to_string(r->state)) < 0 ||
            add_str(o, "reason", r->reason) < 0 ||
            add(o, "started_usec", json_object_new_uint64(r->started_usec)) < 0 ||
            add(o, "finished_usec", json_object_new_uint64(r->finished_usec)) < 0 ||
            add(o, "wave", json_object_new_uint64(r->wave)) < 0 || add(o, "hosts", TAKE_PTR(hosts)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

_printf_(2, 3) static int bad(char **reterr_msg, const char *fmt, ...) {
        va_list ap;
        if (reterr_msg) {
                va_start(ap, fmt);
                if (vasprintf(reterr_msg, fmt, ap) < 0)
                        *reterr_msg = NULL;
                va_end(ap);
        }
        return -EBADMSG;
}

/* A field of o: a string (NULL when absent and optional), an unsigned integer, a boolean. */
static int get_str(json_object *o, const char *key, bool required, char **ret, char **reterr_msg) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return required ? bad(reterr_msg, "'%s' missing", key) : 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return bad(reterr_msg, "'%s' is not a string", key);
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int get_u64(json_object *o, const char *key, uint64_t *ret, char **reterr_msg) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return bad(reterr_msg, "'%s' missing or not a non-negative integer", key);
        *ret = json_object_get_uint64(v);
        return 0;
}

static int get_host(json_object *j, RolloutHost *h, char **reterr_msg) {
        _cleanup_free_ char *state = NULL, *failed = NULL;
        uint64_t wave = 0, vms = 0;
        int k;

        if (!json_object_is_type(j, json_type_object))
                return bad(reterr_msg, "a host is not an object");
        if ((k = get_str(j, "name", true, &h->name, reterr_msg)) < 0 ||
            (k = get_str(j, "state", true, &state, reterr_msg)) < 0 ||
            (k = get_str(j, "failed_step", false, &failed, reterr_msg)) < 0 ||
            (k = get_u64(j, "wave", &wave, reterr_msg)) < 0 ||
            (k = get_u64(j, "step_usec", &h->step_usec, reterr_msg)) < 0 ||
            (k = get_u64(j, "done_usec", &h->done_usec, reterr_msg)) < 0 ||
            (k = get_u64(j, "command_ms", &h->command_ms, reterr_msg)) < 0 ||
            (k = get_u64(j, "vms_at_start", &vms, reterr_msg)) < 0 ||
            (k = get_str(j, "note", false, &h->note, reterr_msg)) < 0)
                return k;
        json_object *runner;
        if (json_object_object_get_ex(j, "runner", &runner)) {
                uint64_t u = 0;
                if ((k = get_u64(j, "runner", &u, reterr_msg)) < 0)
                        return k;
                if (u > UINT32_MAX)
                        return bad(reterr_msg, "host '%s': runner out of range", h->name);
                h->runner = (uint32_t) u;
        }
        h->state = rollout_host_state_from_string(state);
        if (h->state < 0)
                return bad(reterr_msg, "host '%s': unknown state '%s'", h->name, state);
        h->failed_step = failed ? rollout_host_state_from_string(failed) : ROLLOUT_HOST_PENDING;
        if (h->failed_step < 0)
                return bad(reterr_msg, "host '%s': unknown failed_step '%s'", h->name, failed);
        if (wave == 0 || wave > ROLLOUT_MAX_HOSTS || vms > UINT32_MAX)
                return bad(reterr_msg, "host '%s': wave or vms_at_start out of range", h->name);
        h->wave = (unsigned) wave;
        h->vms_at_start = (unsigned) vms;
        return 0;
}

int rollout_from_json(json_object *o, Rollout **ret, char **reterr_msg) {
        _cleanup_(rollout_freep) Rollout *r = NULL;
        _cleanup_free_ char *state = NULL;
        json_object *v, *hosts;
        uint64_t version = 0, parallel = 0, wave = 0;
        int k;

        if (!json_object_is_type(o, json_type_object))
                return bad(reterr_msg, "top level is not a JSON object");
        if ((k = get_u64(o, "version", &version, reterr_msg)) < 0)
                return k;
        if (version != ROLLOUT_FILE_VERSION)
                return bad(
                        reterr_msg, "unsupported version %" PRIu64 " (expected %d)", version,
                        ROLLOUT_FILE_VERSION);
        r = calloc(1, sizeof(Rollout));
        if (!r)
                return -ENOMEM;
        if ((k = get_u64(o, "id", &r->id, reterr_msg)) < 0 ||
            (k = get_str(o, "command", true, &r->command, reterr_msg)) < 0 ||
            (k = get_str(o, "health", false, &r->health, reterr_msg)) < 0 ||
            (k = get_u64(o, "timeout_s", &r->timeout_s, reterr_msg)) < 0 ||
            (k = get_u64(o, "parallel", &parallel, reterr_msg)) < 0 ||
            (k = get_str(o, "started_by", false, &r->started_by, reterr_msg)) < 0 ||
            (k = get_str(o, "state", true, &state, reterr_msg)) < 0 ||
            (k = get_str(o, "reason", false, &r->reason, reterr_msg)) < 0 ||
            (k = get_u64(o, "started_usec", &r->started_usec, reterr_msg)) < 0 ||
            (k = get_u64(o, "finished_usec", &r->finished_usec, reterr_msg)) < 0 ||
            (k = get_u64(o, "wave", &wave, reterr_msg)) < 0)
                return k;
        if (json_object_object_get_ex(o, "parallel_auto", &v))
                r->parallel_auto = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "in_windows", &v))
                r->in_windows = json_object_get_boolean(v);
        r->state = rollout_state_from_string(state);
        if (r->state < 0)
                return bad(reterr_msg, "unknown state '%s'", state);
        if (parallel == 0 || parallel > ROLLOUT_MAX_HOSTS || wave == 0 || wave > ROLLOUT_MAX_HOSTS ||
            r->timeout_s == 0)
                return bad(reterr_msg, "parallel, wave or timeout_s out of range");
        r->parallel = (unsigned) parallel;
        r->wave = (unsigned) wave;
        if (!json_object_object_get_ex(o, "hosts", &hosts) || !json_object_is_type(hosts, json_type_array))
                return bad(reterr_msg, "'hosts' missing or not an array");
        size_t n = json_object_array_length(hosts);
        if (n == 0 || n > ROLLOUT_MAX_HOSTS)
                return bad(reterr_msg, "'hosts' is empty or has more than %u hosts", ROLLOUT_MAX_HOSTS);
        r->hosts = calloc(n, sizeof(RolloutHost));
        if (!r->hosts)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r->n_hosts++;
                k = get_host(json_object_array_get_idx(hosts, i), &r->hosts[i], reterr_msg);
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int rollout_format(const Rollout *r, char **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int k = rollout_to_json(r, &o);
        if (k < 0)
                return k;
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!s || asprintf(ret, "%s\n", s) < 0)
                return -ENOMEM;
        return 0;
}

int rollout_parse(const char *buf, size_t len, Rollout **ret, char **reterr_msg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        enum json_tokener_error jerr = json_tokener_success;

        if (len > 4U * 1024U * 1024U || memchr(buf, 0, len) || len > INT32_MAX)
                return bad(reterr_msg, "too large or contains a NUL byte");
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success)
                return bad(reterr_msg, "not a complete JSON document (%s)", json_tokener_error_desc(jerr));
        return rollout_from_json(o, ret, reterr_msg);
}

/* ---- the steps (LeaderPass hooks, pass.h) ----------------------------------------------------- */

#include <syslog.h>

#include "pass.h"

#define USEC_PER_SEC UINT64_C(1000000)

/* Journal and history: type "rollout", the host as source. */
_printf_(5, 6) static void record(
        LeaderPass *lp, int level, const char *host, const char *result, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        HistoryEvent e = {
                .type = (char *) "rollout",
                .source = (char *) host,
                .reason = (char *) "rollout",
                .result = (char *) result,
                .message = msg,
        };
        if (lp->ops->record)
                lp->ops->record(lp->userdata, level, LEADER_RECORD_ROLLOUT, &e);
}

static int save(LeaderPass *lp) {
        return lp->ops->rollout_save ? lp->ops->rollout_save(lp->userdata, lp->rollout) : 0;
}

static void set_mode(LeaderPass *lp, const char *host, HostMode mode, const char *reason) {
        int k = lp->ops->set_mode(lp->userdata, host, mode, reason);
        if (k < 0)
                record(lp, LOG_WARNING, host, "warning", "Rollout: cannot set host '%s' %s: %s", host,
                       host_mode_to_string(mode), strerror(-k));
}

/* A step of h failed: h stays where it is (in maintenance), the rollout pauses. */
static void fail(LeaderPass *lp, RolloutHost *h, RolloutHostState step, const char *why) {
        Rollout *r = lp->rollout;

        h->failed_step = step;
        h->state = ROLLOUT_HOST_FAILED;
        (void) rollout_host_set_note(h, why);
        if (r->state == ROLLOUT_RUNNING)
                (void) rollout_set_state(r, ROLLOUT_PAUSED, why);
        record(lp, LOG_ERR, h->name, "paused", "Rollout paused: %s; host '%s' stays in maintenance", why,
               h->name);
}

static void finish_host(LeaderPass *lp, RolloutHost *h, LeaderNow now) {
        Rollout *r = lp->rollout;

        set_mode(lp, h->name, HOST_MODE_UP, "rollout: host done");
        h->state = ROLLOUT_HOST_DONE;
        h->done_usec = now.real_usec;
        record(lp, LOG_NOTICE, h->name, "host-done", "Rollout: host '%s' done (%zu of %zu)", h->name,
               rollout_n_done(r), r->n_hosts);
        lp->ops->request_pass(lp->userdata, "rollout host done");
}

static bool step_timed_out(const Rollout *r, const RolloutHost *h, LeaderNow now) {
        return now.real_usec > h->step_usec + r->timeout_s * USEC_PER_SEC;
}

static void start_command(LeaderPass *lp, RolloutHost *h, bool health, LeaderNow now) {
        Rollout *r = lp->rollout;
        char why[512];
        int k;

        h->state = health ? ROLLOUT_HOST_HEALTH : ROLLOUT_HOST_COMMAND;
        h->step_usec = now.real_usec;
        /* Cluster mode: another drsd runs the command of the leader's own host (its reboot ends
         * this leadership; the next leader waits for that drsd's result). */
        h->runner = lp->ops->rollout_runner ? lp->ops->rollout_runner(lp->userdata, h->name, r) : 0;
        /* Saved before the command starts: a leader that dies while it runs leaves "command"
         * behind, which the next one reports as unknown instead of running it again. */
        k = save(lp);
        if (k < 0) {
                (void) snprintf(
                        why, sizeof(why), "cannot save the rollout state before the command of '%s': %s",
                        h->name, strerror(-k));
                fail(lp, h, health ? ROLLOUT_HOST_HEALTH : ROLLOUT_HOST_COMMAND, why);
                return;
        }
        record(lp, LOG_NOTICE, h->name, health ? "health-started" : "command-started",
               "Rollout: host '%s' %s: running the %s%s", h->name,
               health ? "is back" : "is in maintenance and runs no VM", health ? "health check" : "command",
               h->runner ? " (by another drsd: this is the leader's host)" : "");
        k = lp->ops->rollout_command(
                lp->userdata, h->name, health ? r->health : r->command, r->timeout_s, health, h->runner);
        if (k < 0) {
                (void) snprintf(
                        why, sizeof(why), "cannot run the %s of '%s': %s",
                        health ? "health check" : "command", h->name, strerror(-k));
                fail(lp, h, health ? ROLLOUT_HOST_HEALTH : ROLLOUT_HOST_COMMAND, why);
        }
}

/* THE GATE: the host is in maintenance, a report of its libvirt taken after drs first saw it
 * in maintenance (it receives no VM from then on) lists no running VM, and no move of the plan
 * leaves it. The first sight asks the host for a report at once. */
static bool host_empty(LeaderPass *lp, RolloutHost *h, LeaderNow now) {
        const HostReport *rep = lp->ops->report(lp->userdata, h->name);

        if (lp->ops->mode(lp->userdata, h->name) != HOST_MODE_MAINTENANCE) {
                h->gate_after_mono = 0;
                return false;
        }
        if (h->gate_after_mono == 0) {
                h->gate_after_mono = now.mono_usec;
                if (lp->ops->poll_now)
                        lp->ops->poll_now(lp->userdata, h->name);
                return false;
        }
        return rep && rep->t_usec > h->gate_after_mono && leader_pass_host_fresh(lp, h->name, now) &&
               rep->n_vms == 0 && !leader_pass_host_has_moves(lp, h->name);
}

/* An evacuation that cannot complete: a VM of host fits nowhere in a pass that ran with nothing
 * moving, and nothing moves now. */
static bool evacuation_blocked(LeaderPass *lp, const char *host, char *buf, size_t size) {
        size_t len = 0;

        if (!lp->blockers_settled || lp->run || lp->ops->in_flight(lp->userdata) > 0)
                return false;
        buf[0] = 0;
        for (size_t i = 0; i < lp->n_blockers; i++) {
                const Blocker *b = &lp->blockers[i];
                if (!streq(b->host, host) || len >= size)
                        continue;
                int n = snprintf(
                        buf + len, size - len, "%sVM '%s' fits nowhere: %s", len ? "; " : "", b->vm, b->why);
                len += n > 0 ? (size_t) n : 0;
        }
        return len > 0;
}

static void step_host(LeaderPass *lp, RolloutHost *h, LeaderNow now) {
        Rollout *r = lp->rollout;
        HostMode mode = lp->ops->mode(lp->userdata, h->name);
        const HostReport *rep = lp->ops->report(lp->userdata, h->name);
        char why[1024];

        switch (h->state) {
        case ROLLOUT_HOST_PENDING:
                if (r->waiting)
                        return;
                if (mode == HOST_MODE_STANDBY || mode == HOST_MODE_POWER_ON_FAILED) {
                        h->state = ROLLOUT_HOST_SKIPPED;
                        (void) rollout_host_set_note(h, "in standby when its turn came: not patched");
                        record(lp, LOG_NOTICE, h->name, "host-skipped", "Rollout: host '%s' is %s: skipped",
                               h->name, host_mode_to_string(mode));
                        return;
                }
                h->state = ROLLOUT_HOST_EVACUATING;
                h->step_usec = now.real_usec;
                h->vms_at_start = rep ? (unsigned) rep->n_vms : 0;
                if (mode == HOST_MODE_UP)
                        set_mode(lp, h->name, HOST_MODE_ENTERING_MAINTENANCE, "rollout");
                record(lp, LOG_NOTICE, h->name, "evacuating",
                       "Rollout: evacuating host '%s' (%u VMs; wave %u of %u)", h->name, h->vms_at_start,
                       h->wave, rollout_n_waves(r));
                lp->ops->request_pass(lp->userdata, "rollout evacuation");
                return;
        case ROLLOUT_HOST_EVACUATING:
                if (mode == HOST_MODE_UP) {
                        (void) snprintf(
                                why, sizeof(why), "host '%s' left maintenance during its evacuation",
                                h->name);
                        fail(lp, h, ROLLOUT_HOST_EVACUATING, why);
                } else if (host_empty(lp, h, now))
                        start_command(lp, h, false, now);
                else if (evacuation_blocked(lp, h->name, why, sizeof(why)))
                        fail(lp, h, ROLLOUT_HOST_EVACUATING, why);
                else if (step_timed_out(r, h, now)) {
                        (void) snprintf(
                                why, sizeof(why),
                                "the evacuation of '%s' did not complete within %" PRIu64
                                " s (%zu VMs left)",
                                h->name, r->timeout_s, rep ? rep->n_vms : 0);
                        fail(lp, h, ROLLOUT_HOST_EVACUATING, why);
                }
                return;
        case ROLLOUT_HOST_RETURNING:
                if (rep && rep->t_usec > h->back_after_mono && leader_pass_host_fresh(lp, h->name, now)) {
                        record(lp, LOG_NOTICE, h->name, "back",
                               "Rollout: host '%s' is back: its libvirt answers", h->name);
                        if (r->health)
                                start_command(lp, h, true, now);
                        else
                                finish_host(lp, h, now);
                } else if (step_timed_out(r, h, now)) {
                        (void) snprintf(
                                why, sizeof(why), "host '%s' did not come back within %" PRIu64 " s",
                                h->name, r->timeout_s);
                        fail(lp, h, ROLLOUT_HOST_RETURNING, why);
                }
                return;
        default: /* command and health: their end drives them */
                return;
        }
}

void leader_pass_rollout_tick(LeaderPass *lp, LeaderNow now) {
        Rollout *r = lp->rollout;
        char *before = NULL;

        if (!r || r->state != ROLLOUT_RUNNING)
                return;
        (void) rollout_format(r, &before);
        /* --in-windows: no new host outside the policy's automation windows (level manual now). */
        AutomationLevel level = AUTOMATION_FULL;
        bool was_waiting = r->waiting;
        if (r->in_windows && lp->policy)
                (void) leader_automation_at(lp->policy, (time_t) (now.real_usec / USEC_PER_SEC), &level);
        r->waiting = level == AUTOMATION_MANUAL;
        if (r->waiting != was_waiting)
                record(lp, LOG_NOTICE, NULL, r->waiting ? "waiting" : "window",
                       r->waiting
                               ? "Rollout: outside the automation windows: no new host starts until one opens"
                               : "Rollout: inside an automation window: hosts start again");
        /* Bounded: one round per wave at most. */
        for (unsigned round = 0; round <= rollout_n_waves(r) && r->state == ROLLOUT_RUNNING; round++) {
                bool wave_done = true;
                for (size_t i = 0; i < r->n_hosts && r->state == ROLLOUT_RUNNING; i++) {
                        RolloutHost *h = &r->hosts[i];
                        if (h->wave != r->wave)
                                continue;
                        step_host(lp, h, now);
                        wave_done = wave_done &&
                                    (h->state == ROLLOUT_HOST_DONE || h->state == ROLLOUT_HOST_SKIPPED);
                }
                if (!wave_done || r->state != ROLLOUT_RUNNING)
                        break;
                if (r->wave < rollout_n_waves(r)) {
                        r->wave++;
                        continue;
                }
                (void) rollout_set_state(r, ROLLOUT_DONE, NULL);
                r->finished_usec = now.real_usec;
                record(lp, LOG_NOTICE, NULL, "done",
                       "Rollout done: %zu of %zu hosts patched in %" PRIu64 " s", rollout_n_done(r),
                       r->n_hosts, (now.real_usec - r->started_usec) / USEC_PER_SEC);
        }
        /* Saved on every change (timestamps included). */
        char *after = NULL;
        if (rollout_format(r, &after) < 0 || !before || !streq(before, after)) {
                int k = save(lp);
                if (k < 0 && r->state == ROLLOUT_RUNNING) {
                        (void) rollout_set_state(r, ROLLOUT_PAUSED, "cannot save the rollout state");
                        record(lp, LOG_ERR, NULL, "paused", "Rollout paused: cannot save its state: %s",
                               strerror(-k));
                }
        }
        free(before);
        free(after);
}

int leader_pass_rollout_start(LeaderPass *lp, Rollout *r, LeaderNow now) {
        if (!lp->ops->rollout_command)
                return -EOPNOTSUPP;
        if (rollout_is_active(lp->rollout))
                return -EBUSY;
        rollout_free(lp->rollout);
        lp->rollout = r;
        int k = save(lp);
        if (k < 0) {
                lp->rollout = NULL; /* the caller keeps r */
                return k;
        }
        record(lp, LOG_NOTICE, NULL, "started",
               "Rollout started by %s: %zu host(s) in %u wave(s) of %u%s, timeout %" PRIu64
               " s per step: %s",
               r->started_by ?: "?", r->n_hosts, rollout_n_waves(r), r->parallel,
               r->parallel_auto ? " (auto)" : "", r->timeout_s, r->command);
        leader_pass_rollout_tick(lp, now);
        return 0;
}

int leader_pass_rollout_pause(LeaderPass *lp, const char *by, LeaderNow now) {
        Rollout *r = lp->rollout;
        _cleanup_free_ char *why = NULL;

        if (!rollout_is_active(r))
                return -ENOENT;
        if (r->state == ROLLOUT_PAUSED)
                return -EALREADY;
        if (asprintf(&why, "paused by %s", by ?: "the operator") < 0 ||
            rollout_set_state(r, ROLLOUT_PAUSED, why) < 0)
                return -ENOMEM;
        record(lp, LOG_NOTICE, NULL, "paused", "Rollout %s (steps in progress finish)", why);
        return save(lp);
}

int leader_pass_rollout_resume(LeaderPass *lp, const char *by, LeaderNow now) {
        Rollout *r = lp->rollout;

        if (!rollout_is_active(r))
                return -ENOENT;
        if (r->state == ROLLOUT_RUNNING)
                return -EALREADY;
        for (size_t i = 0; i < r->n_hosts; i++) {
                RolloutHost *h = &r->hosts[i];
                /* A step waiting while paused gets its whole timeout again. */
                if (h->state == ROLLOUT_HOST_EVACUATING || h->state == ROLLOUT_HOST_RETURNING)
                        h->step_usec = now.real_usec;
                if (h->state != ROLLOUT_HOST_FAILED && h->state != ROLLOUT_HOST_UNKNOWN)
                        continue;
                /* Retry the step that failed; an unknown command is not run again: wait for the
                 * host to come back. A failed command runs again once the gate holds again. */
                RolloutHostState step =
                        h->state == ROLLOUT_HOST_UNKNOWN ? ROLLOUT_HOST_RETURNING : h->failed_step;
                if (step == ROLLOUT_HOST_COMMAND)
                        step = ROLLOUT_HOST_EVACUATING;
                if (step == ROLLOUT_HOST_HEALTH)
                        step = ROLLOUT_HOST_RETURNING;
                h->state = step;
                h->step_usec = now.real_usec;
                h->back_after_mono = now.mono_usec;
                if (step == ROLLOUT_HOST_EVACUATING && lp->ops->mode(lp->userdata, h->name) == HOST_MODE_UP)
                        set_mode(lp, h->name, HOST_MODE_ENTERING_MAINTENANCE, "rollout");
        }
        if (rollout_set_state(r, ROLLOUT_RUNNING, NULL) < 0)
                return -ENOMEM;
        record(lp, LOG_NOTICE, NULL, "resumed", "Rollout resumed by %s", by ?: "the operator");
        int k = save(lp);
        if (k < 0)
                return k;
        lp->ops->request_pass(lp->userdata, "rollout resumed");
        leader_pass_rollout_tick(lp, now);
        return 0;
}

int leader_pass_rollout_abort(LeaderPass *lp, const char *by, LeaderNow now) {
        Rollout *r = lp->rollout;
        _cleanup_free_ char *why = NULL;

        if (!rollout_is_active(r))
                return -ENOENT;
        if (asprintf(&why, "aborted by %s", by ?: "the operator") < 0 ||
            rollout_set_state(r, ROLLOUT_ABORTED, why) < 0)
                return -ENOMEM;
        r->finished_usec = now.real_usec;
        record(lp, LOG_NOTICE, NULL, "aborted",
               "Rollout %s: %zu of %zu hosts done; hosts not done stay in the mode they are in "
               "(exit-maintenance returns them)",
               why, rollout_n_done(r), r->n_hosts);
        return save(lp);
}

void leader_pass_rollout_load(LeaderPass *lp, Rollout *r, LeaderNow now) {
        _cleanup_free_ char *unknown = NULL;

        rollout_free(lp->rollout);
        lp->rollout = r;
        if (!rollout_is_active(r))
                return;
        for (size_t i = 0; i < r->n_hosts; i++) {
                RolloutHost *h = &r->hosts[i];
                h->back_after_mono = now.mono_usec;
                /* Run by a drsd that is still here: its result will come. */
                if ((h->state == ROLLOUT_HOST_COMMAND || h->state == ROLLOUT_HOST_HEALTH) &&
                    h->runner != 0 && lp->ops->rollout_runner_alive &&
                    lp->ops->rollout_runner_alive(lp->userdata, h->runner)) {
                        record(lp, LOG_NOTICE, h->name, "waiting",
                               "Rollout: the %s of '%s' runs on node %" PRIu32 ": waiting for its result",
                               h->state == ROLLOUT_HOST_HEALTH ? "health check" : "command", h->name,
                               h->runner);
                        continue;
                }
                if (h->state == ROLLOUT_HOST_HEALTH) /* a health check may run again */
                        h->state = ROLLOUT_HOST_RETURNING;
                if (h->state != ROLLOUT_HOST_COMMAND)
                        continue;
                h->state = ROLLOUT_HOST_UNKNOWN;
                (void) rollout_host_set_note(
                        h, "its command was running when the leader stopped: unknown — check it");
                if (!unknown &&
                    asprintf(
                            &unknown,
                            "host '%s': its command was running when the leader stopped: unknown — "
                            "check it, then resume",
                            h->name) < 0)
                        unknown = NULL;
                record(lp, LOG_ERR, h->name, "unknown",
                       "Rollout: host '%s' ran its command when the leader stopped: its outcome is unknown — check it",
                       h->name);
        }
        if (unknown && r->state == ROLLOUT_RUNNING) {
                (void) rollout_set_state(r, ROLLOUT_PAUSED, unknown);
                record(lp, LOG_ERR, NULL, "paused", "Rollout paused: %s", unknown);
        }
        (void) save(lp);
}

int leader_pass_rollout_command_done(
        LeaderPass *lp, const char *host, bool ok, const char *message, uint64_t duration_ms,
        LeaderNow now) {
        RolloutHost *h = rollout_find(lp->rollout, host);
        char why[1024];

        if (!h || (h->state != ROLLOUT_HOST_COMMAND && h->state != ROLLOUT_HOST_HEALTH))
                return -ENOENT;
        bool health = h->state == ROLLOUT_HOST_HEALTH;
        if (!ok) {
                (void) snprintf(
                        why, sizeof(why), "the %s of '%s' failed: %s", health ? "health check" : "command",
                        host, message ?: "no reason given");
                fail(lp, h, h->state, why);
        } else if (health) {
                record(lp, LOG_NOTICE, host, "health-passed", "Rollout: health check of '%s' passed", host);
                finish_host(lp, h, now);
        } else {
                h->command_ms = duration_ms;
                h->state = ROLLOUT_HOST_RETURNING;
                h->step_usec = now.real_usec;
                h->back_after_mono = now.mono_usec;
                record(lp, LOG_NOTICE, host, "command-done",
                       "Rollout: the command of '%s' succeeded in %" PRIu64
                       " ms: waiting for the host to come back",
                       host, duration_ms);
                if (lp->ops->poll_now)
                        lp->ops->poll_now(lp->userdata, host);
        }
        (void) save(lp);
        leader_pass_rollout_tick(lp, now);
        return 0;
}

/* Hosts already done are preferred as targets: the VMs of the hosts being evacuated get a soft
 * should-not-run-on rule against the hosts still to come (pending), so that no VM moves onto a
 * host about to be patched while a done (or untouched) host has room. The rule only names the
 * VMs on the evacuating hosts now; once moved they are no longer in it. */
static int append_group(Policy *pol, const char *name, GroupKind kind, char **members) {
        Group *g = reallocarray(pol->groups, pol->n_groups + 1, sizeof(Group));
        if (!g)
                return -ENOMEM;
        pol->groups = g;
        g[pol->n_groups] = (Group){.name = strdup(name), .kind = kind, .members = members};
        if (!g[pol->n_groups].name)
                return -ENOMEM;
        pol->n_groups++;
        return 0;
}

int leader_pass_rollout_prefer_done(LeaderPass *lp, Problem *p) {
        const Rollout *r = lp->rollout;
        _cleanup_strv_free_ char **vms = NULL, **pending = NULL;
        int k;

        if (!r || r->state != ROLLOUT_RUNNING)
                return 0;
        for (size_t i = 0; i < r->n_hosts; i++) {
                const RolloutHost *h = &r->hosts[i];
                if (h->state == ROLLOUT_HOST_PENDING && strv_extend(&pending, h->name) < 0)
                        return -ENOMEM;
                if (h->state != ROLLOUT_HOST_EVACUATING)
                        continue;
                for (size_t v = 0; v < p->n_vms; v++)
                        if (p->vms[v].host >= 0 && streq(p->hosts[p->vms[v].host].name, h->name) &&
                            strv_extend(&vms, p->vms[v].name) < 0)
                                return -ENOMEM;
        }
        if (!vms || !pending)
                return 0;
        Policy *pol = p->policy;
        Rule *rules = reallocarray(pol->rules, pol->n_rules + 1, sizeof(Rule));
        if (!rules)
                return -ENOMEM;
        pol->rules = rules;
        if ((k = append_group(pol, "drs-rollout-evacuating", GROUP_VM, TAKE_PTR(vms))) < 0 ||
            (k = append_group(pol, "drs-rollout-pending", GROUP_HOST, TAKE_PTR(pending))) < 0)
                return k;
        rules[pol->n_rules] = (Rule){
                .name = strdup("drs-rollout-prefer-done"),
                .type = RULE_SHOULD_NOT_RUN_ON,
                .vm_group = strdup("drs-rollout-evacuating"),
                .host_group = strdup("drs-rollout-pending"),
                .enabled = true,
        };
        pol->n_rules++;
        if (!rules[pol->n_rules - 1].name || !rules[pol->n_rules - 1].vm_group ||
            !rules[pol->n_rules - 1].host_group)
                return -ENOMEM;
        return 0;
}

void leader_pass_rollout_runner_left(LeaderPass *lp, uint32_t runner, LeaderNow now) {
        Rollout *r = lp->rollout;
        char why[512];

        if (!rollout_is_active(r) || runner == 0)
                return;
        for (size_t i = 0; i < r->n_hosts; i++) {
                RolloutHost *h = &r->hosts[i];
                if (h->runner != runner ||
                    (h->state != ROLLOUT_HOST_COMMAND && h->state != ROLLOUT_HOST_HEALTH))
                        continue;
                if (h->state == ROLLOUT_HOST_HEALTH) { /* a health check may run again */
                        h->state = ROLLOUT_HOST_RETURNING;
                        h->step_usec = now.real_usec;
                        continue;
                }
                h->state = ROLLOUT_HOST_UNKNOWN;
                (void) snprintf(
                        why, sizeof(why),
                        "host '%s': node %" PRIu32 ", which ran its command, left the cluster: unknown — "
                        "check it, then resume",
                        h->name, runner);
                (void) rollout_host_set_note(h, why);
                if (r->state == ROLLOUT_RUNNING)
                        (void) rollout_set_state(r, ROLLOUT_PAUSED, why);
                record(lp, LOG_ERR, h->name, "unknown", "Rollout paused: %s", why);
        }
        (void) save(lp);
        leader_pass_rollout_tick(lp, now);
}
