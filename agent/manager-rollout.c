/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Rolling maintenance's control methods (drsctl rollout …): the leader's side. The steps are
 * agent/leader/rollout.c's; the commands and the saved state manager-pass.c's.
 *
 *   drs.RolloutStart {hosts: [H…] | all: true | group: G, command, health, timeout_s,
 *                     parallel: N | "auto", dry_run}
 *       the order and the waves (each checked on the cluster now: every VM of the wave's
 *       hosts placeable elsewhere, hard rules kept; auto also keeps dpm.headroom_hosts);
 *       unless dry_run, starts the rollout
 *   drs.RolloutStatus    the rollout (or null) with each host's mode, VMs and step time now
 *   drs.RolloutPause, drs.RolloutResume, drs.RolloutAbort */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "manager-pass.h"
#include "manager-rollout.h"
#include "protocol.h"
#include "waves.h"

#define USEC_PER_SEC UINT64_C(1000000)

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static int not_leader(json_object **reply, char **reterr_error) {
        return control_fail(reply, reterr_error, PROTOCOL_ERROR_INTERNAL, "the leader is not running");
}

/* The hosts of the request, in rollout order, as indexes into p->hosts. */
static int request_hosts(
        Manager *m, const Problem *p, json_object *params, size_t **ret, size_t *ret_n, json_object **reply,
        char **reterr_error) {
        json_object *hosts = NULL, *all = NULL, *group = NULL;
        _cleanup_free_ size_t *l = NULL;
        size_t n = 0;
        int k;

        (void) json_object_object_get_ex(params, "hosts", &hosts);
        (void) json_object_object_get_ex(params, "all", &all);
        (void) json_object_object_get_ex(params, "group", &group);
        if ((hosts != NULL) + (all != NULL && json_object_get_boolean(all)) + (group != NULL) != 1)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "exactly one of 'hosts', 'all' or 'group' is required");
        if (group) {
                if (!json_object_is_type(group, json_type_string))
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "'group' must be a string");
                k = rollout_group_hosts(p, json_object_get_string(group), &l, &n);
                if (k == -ENOENT)
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "no host group '%s' in the policy", json_object_get_string(group));
                if (k < 0)
                        return k;
        } else {
                size_t max = hosts ? (json_object_is_type(hosts, json_type_array)
                                              ? json_object_array_length(hosts)
                                              : 0)
                                   : p->n_hosts;
                l = calloc(max ?: 1, sizeof(size_t));
                if (!l)
                        return -ENOMEM;
                for (size_t i = 0; i < max; i++) {
                        if (!hosts) {
                                l[n++] = i;
                                continue;
                        }
                        json_object *h = json_object_array_get_idx(hosts, i);
                        const char *name =
                                json_object_is_type(h, json_type_string) ? json_object_get_string(h) : NULL;
                        size_t j = 0;
                        while (name && j < p->n_hosts && !streq(p->hosts[j].name, name))
                                j++;
                        if (!name || j == p->n_hosts)
                                return control_fail(
                                        reply, reterr_error, PROTOCOL_ERROR_NO_SUCH_HOST,
                                        "no host '%s' in '%s'", name ?: "?", m->config_path);
                        for (size_t x = 0; x < n; x++)
                                if (l[x] == j)
                                        return control_fail(
                                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                                "host '%s' is listed twice", name);
                        l[n++] = j;
                }
        }
        if (n == 0 || n > ROLLOUT_MAX_HOSTS)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER, "no hosts to roll out");
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int get_template(
        json_object *params, const char *key, bool required, const char **ret, json_object **reply,
        char **reterr_error) {
        json_object *v;
        _cleanup_free_ char *x = NULL;

        *ret = NULL;
        if (!json_object_object_get_ex(params, key, &v)) {
                if (!required)
                        return 0;
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER, "parameter '%s' is required",
                        key);
        }
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!s || !*s || strlen(s) > ROLLOUT_MAX_COMMAND ||
            policy_expand_command(s, "h", "a", "m", "b", &x) < 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "'%s' must be a command template of at most %u bytes using only {host} {address} {mac} "
                        "{bmc} ({{ and }} for braces)",
                        key, ROLLOUT_MAX_COMMAND);
        *ret = s;
        return 0;
}

static int waves_json(
        const Problem *p, const size_t *order, size_t n, unsigned parallel, unsigned headroom,
        json_object **ret) {
        _cleanup_(json_object_putp) json_object *waves = json_object_new_array();
        SolverOptions opts = {.time_limit_s = 5.0};

        if (!waves)
                return -ENOMEM;
        for (size_t i = 0, w = 1; i < n; i += parallel, w++) {
                size_t len = n - i < parallel ? n - i : parallel;
                _cleanup_free_ char *why = NULL;
                int k = rollout_wave_check(p, order + i, len, headroom, &opts, &why);
                if (k < 0)
                        return k;
                json_object *o = json_object_new_object(), *hosts = json_object_new_array();
                if (!o || json_object_array_add(waves, o) < 0) {
                        json_object_put(o);
                        json_object_put(hosts);
                        return -ENOMEM;
                }
                if (control_add(o, "hosts", hosts) < 0)
                        return -ENOMEM;
                for (size_t j = 0; j < len; j++)
                        if (json_object_array_add(
                                    hosts, json_object_new_string(p->hosts[order[i + j]].name)) < 0)
                                return -ENOMEM;
                if (control_add(o, "wave", json_object_new_uint64(w)) < 0 ||
                    control_add(o, "ok", json_object_new_boolean(k > 0)) < 0 ||
                    (why && control_add(o, "why", json_object_new_string(why)) < 0))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(waves);
        return 0;
}

/* The rollout as saved, plus what the hosts look like now. */
static int status_json(Manager *m, const Rollout *r, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *hosts;
        uint64_t now = manager_realtime_usec();
        int k;

        k = rollout_to_json(r, &o);
        if (k < 0)
                return k;
        if (!json_object_object_get_ex(o, "hosts", &hosts))
                return -EINVAL;
        for (size_t i = 0; i < r->n_hosts; i++) {
                const RolloutHost *h = &r->hosts[i];
                json_object *j = json_object_array_get_idx(hosts, i);
                const HostReport *rep = manager_host_report(m, h->name);
                bool fresh = manager_host_fresh(m, h->name);
                if (control_add(
                            j, "mode",
                            json_object_new_string(host_mode_to_string(manager_host_mode(m, h->name)))) <
                            0 ||
                    control_add(j, "reporting", json_object_new_boolean(fresh)) < 0 ||
                    (rep && rep->t_usec > 0 &&
                     control_add(j, "vms", json_object_new_uint64(rep->n_vms)) < 0) ||
                    control_add(
                            j, "step_s",
                            json_object_new_uint64(
                                    h->step_usec > 0 && now > h->step_usec
                                            ? (now - h->step_usec) / USEC_PER_SEC
                                            : 0)) < 0)
                        return -ENOMEM;
        }
        if (control_add(o, "hosts_done", json_object_new_uint64(rollout_n_done(r))) < 0 ||
            control_add(o, "waiting_for_window", json_object_new_boolean(r->waiting)) < 0 ||
            control_add(o, "waves", json_object_new_uint64(rollout_n_waves(r))) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int manager_method_rollout_start(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"hosts",     "all",      "group",   "command", "health",
                                              "timeout_s", "parallel", "dry_run", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL, *waves = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_free_ size_t *order = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *command = NULL, *health = NULL;
        json_object *v;
        uint64_t timeout_s = ROLLOUT_DEFAULT_TIMEOUT_S, parallel = 1;
        bool dry_run = false, parallel_auto = false, in_windows = false;
        size_t n = 0;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        if (json_object_object_get_ex(params, "dry_run", &v))
                dry_run = json_object_get_boolean(v);
        if (json_object_object_get_ex(params, "in_windows", &v))
                in_windows = json_object_get_boolean(v);
        if ((k = get_template(params, "command", !dry_run, &command, reply, reterr_error)) < 0 ||
            (k = get_template(params, "health", false, &health, reply, reterr_error)) < 0 ||
            (k = control_get_u64(
                     params, "timeout_s", false, 7 * 24 * 3600, &timeout_s, reply, reterr_error)) < 0)
                return k;
        if (timeout_s == 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER, "'timeout_s' must be > 0");
        if (json_object_object_get_ex(params, "parallel", &v) && json_object_is_type(v, json_type_string)) {
                if (!streq(json_object_get_string(v), "auto"))
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "'parallel' must be a number or \"auto\"");
                parallel_auto = true;
        } else if (
                (k = control_get_u64(
                         params, "parallel", false, ROLLOUT_MAX_HOSTS, &parallel, reply, reterr_error)) < 0)
                return k;
        else if (parallel == 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER, "'parallel' must be >= 1");
        if (!m->collector || !manager_acting_leader(m))
                return not_leader(reply, reterr_error);

        k = manager_build_problem(m, NULL, &p);
        if (k < 0)
                return k;
        k = request_hosts(m, p, params, &order, &n, reply, reterr_error);
        if (k < 0)
                return k;
        unsigned headroom = m->policy->dpm.headroom_hosts;
        if (parallel_auto) {
                _cleanup_free_ char *why = NULL;
                unsigned kp = 0;
                SolverOptions opts = {.time_limit_s = 5.0};
                k = rollout_auto_parallel(p, order, n, headroom, 0, &opts, &kp, &why);
                if (k < 0)
                        return k;
                if (kp == 0)
                        return control_fail(
                                reply, reterr_error, "drs.Refused",
                                "--parallel auto: not even one host at a time can be emptied: %s",
                                why ?: "?");
                parallel = kp;
        }
        if (parallel > n)
                parallel = n;
        k = waves_json(p, order, n, (unsigned) parallel, parallel_auto ? headroom : 0, &waves);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++)
                if (strv_extend(&names, p->hosts[order[i]].name) < 0)
                        return -ENOMEM;

        o = json_object_new_object();
        if (!o || control_add(o, "dry_run", json_object_new_boolean(dry_run)) < 0 ||
            control_add(o, "parallel", json_object_new_uint64(parallel)) < 0 ||
            control_add(o, "parallel_auto", json_object_new_boolean(parallel_auto)) < 0 ||
            control_add(o, "waves", TAKE_PTR(waves)) < 0)
                return -ENOMEM;
        if (!dry_run) {
                _cleanup_(rollout_freep) Rollout *r = NULL;
                if (rollout_is_active(m->pass->rollout))
                        return control_fail(
                                reply, reterr_error, "drs.Busy",
                                "a rollout is %s ('drsctl rollout status'); resume or abort it first",
                                rollout_state_to_string(m->pass->rollout->state));
                k = rollout_new(
                        names, n, command, health, timeout_s, (unsigned) parallel, parallel_auto, "drsctl",
                        manager_realtime_usec(), &r);
                if (k < 0)
                        return k;
                r->in_windows = in_windows;
                k = leader_pass_rollout_start(m->pass, r, manager_now());
                if (k < 0)
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INTERNAL, "cannot start the rollout: %s",
                                strerror(-k));
                TAKE_PTR(r);
                json_object *st = NULL;
                k = status_json(m, m->pass->rollout, &st);
                if (k < 0 || control_add(o, "rollout", st) < 0)
                        return -ENOMEM;
        }
        *reply = TAKE_PTR(o);
        return 0;
}

int manager_method_rollout_status(
        Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *st = NULL;
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        if (!m->pass || !manager_acting_leader(m))
                return not_leader(reply, reterr_error);
        if (m->pass->rollout) {
                k = status_json(m, m->pass->rollout, &st);
                if (k < 0)
                        return k;
        }
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "rollout", st) < 0) {
                json_object_put(st);
                return -ENOMEM;
        }
        *reply = TAKE_PTR(o);
        return 0;
}

typedef int (*RolloutAction)(LeaderPass *lp, const char *by, LeaderNow now);

static int rollout_action(
        Manager *m, json_object *params, json_object **reply, char **reterr_error, RolloutAction f,
        const char *what) {
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        if (!m->pass || !manager_acting_leader(m))
                return not_leader(reply, reterr_error);
        k = f(m->pass, "drsctl", manager_now());
        if (k == -ENOENT)
                return control_fail(reply, reterr_error, "drs.NoRollout", "no rollout is running or paused");
        if (k == -EALREADY)
                return control_fail(
                        reply, reterr_error, "drs.InvalidState", "the rollout is already %s",
                        rollout_state_to_string(m->pass->rollout->state));
        if (k < 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INTERNAL, "cannot %s the rollout: %s", what,
                        strerror(-k));
        return manager_method_rollout_status(m, params, reply, reterr_error);
}

int manager_method_rollout_pause(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        return rollout_action(m, params, reply, reterr_error, leader_pass_rollout_pause, "pause");
}

int manager_method_rollout_resume(
        Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        return rollout_action(m, params, reply, reterr_error, leader_pass_rollout_resume, "resume");
}

int manager_method_rollout_abort(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        return rollout_action(m, params, reply, reterr_error, leader_pass_rollout_abort, "abort");
}
