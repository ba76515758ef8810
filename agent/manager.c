/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "log.h"
#include "manager-pass.h"
#include "manager-rollout.h"
#include "policy-load.h"
#include "protocol.h"

#define USEC_PER_SEC 1000000ULL

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(DrsConfig *, drs_config_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

int manager_new(const char *config_path, bool foreground, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int k;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->foreground = foreground;
        m->config_path = strdup(config_path ?: DRSD_DEFAULT_CONFIG);
        if (!m->config_path)
                return -ENOMEM;
        k = sd_event_new(&m->event);
        if (k < 0)
                return k;
        m->started_usec = manager_realtime_usec();
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->source && m->source->stop)
                m->source->stop(m);
        control_server_free(m->control);
        manager_metrics_stop(m);
        manager_leader_stop(m);
        sd_event_source_disable_unref(m->pass_timer);
        sd_event_source_disable_unref(m->standby_wait);
        sd_event_source_disable_unref(m->sigterm);
        sd_event_source_disable_unref(m->sigint);
        sd_event_source_disable_unref(m->sighup);
        sd_event_unref(m->event);
        history_free(m->history);
        state_free(m->state);
        policy_free(m->policy);
        drs_config_free(m->config);
        free(m->socket_path);
        free(m->last_reload_error);
        free(m->config_path);
        free(m);
        return NULL;
}

/* Which file kind failed, for the error name of drs.Reload. */
typedef enum LoadFailure {
        LOAD_OK,
        LOAD_CONFIG,
        LOAD_POLICY,
} LoadFailure;

static int resolve_group(const char *name, gid_t *ret) {
        struct group gr, *res = NULL;
        char buf[16384];

        int k = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
        if (k != 0)
                return -k;
        if (!res)
                return -ESRCH;
        *ret = res->gr_gid;
        return 0;
}

static int error_string(PolicyError *e, const char *fallback_file, int k, char **ret) {
        if (e->message)
                return policy_error_to_string(e, ret);
        if (asprintf(ret, "%s: %s", fallback_file, strerror(k < 0 ? -k : k)) < 0)
                return -ENOMEM;
        return 0;
}

/* Reads drsd.yaml and the policy it names. Nothing is changed on failure. */
static int load_files(
        const DrsConfig *current, const char *config_path, DrsConfig **ret_config, Policy **ret_policy,
        gid_t *ret_gid, bool *ret_have_gid, LoadFailure *ret_failure, char **reterr_msg) {
        _cleanup_(drs_config_freep) DrsConfig *cfg = NULL;
        _cleanup_(policy_freep) Policy *pol = NULL;
        PolicyError e = {};
        gid_t gid = 0;
        bool have_gid = false;
        int k;

        k = drs_config_load_file(config_path, &cfg, &e);
        if (k < 0) {
                *ret_failure = LOAD_CONFIG;
                int r = error_string(&e, config_path, k, reterr_msg);
                policy_error_clear(&e);
                return r < 0 ? r : (k == -ENOMEM ? k : -EINVAL);
        }
        /* The mode and this host's name shape everything drsd runs: a restart changes them. */
        if (current && (cfg->mode != current->mode || !streq_ptr(cfg->host, current->host))) {
                *ret_failure = LOAD_CONFIG;
                if (asprintf(
                            reterr_msg, "%s: 'mode' and 'host' cannot change on a reload: restart drsd",
                            config_path) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        if (cfg->admin_group) {
                k = resolve_group(cfg->admin_group, &gid);
                if (k < 0) {
                        *ret_failure = LOAD_CONFIG;
                        if (asprintf(
                                    reterr_msg, "%s: admin_group '%s' %s", config_path, cfg->admin_group,
                                    k == -ESRCH ? "does not exist" : strerror(-k)) < 0)
                                return -ENOMEM;
                        return -EINVAL;
                }
                have_gid = true;
        }

        k = policy_load(cfg->policy, cfg->policy_dir, &pol, &e);
        if (k < 0) {
                *ret_failure = LOAD_POLICY;
                int r = error_string(&e, cfg->policy, k, reterr_msg);
                policy_error_clear(&e);
                return r < 0 ? r : (k == -ENOMEM ? k : -EINVAL);
        }

        *ret_failure = LOAD_OK;
        *ret_config = TAKE_PTR(cfg);
        *ret_policy = TAKE_PTR(pol);
        *ret_gid = gid;
        *ret_have_gid = have_gid;
        return 0;
}

int manager_load_config(Manager *m, char **reterr_msg) {
        DrsConfig *cfg = NULL;
        Policy *pol = NULL;
        LoadFailure failure;
        gid_t gid;
        bool have_gid;

        int k = load_files(m->config, m->config_path, &cfg, &pol, &gid, &have_gid, &failure, reterr_msg);
        if (k < 0)
                return k;
        drs_config_free(m->config);
        policy_free(m->policy);
        m->config = cfg;
        m->policy = pol;
        /* The mode needs a restart: the first configuration picks where host facts come from. */
        if (!m->source)
                m->source = cfg->mode == DRS_MODE_COROSYNC ? &host_source_cluster : &host_source_standalone;
        m->admin_gid = gid;
        m->have_admin_gid = have_gid;
        return 0;
}

static size_t count_out_of_service(const Manager *m) {
        size_t n = 0;
        if (m->state)
                for (size_t i = 0; i < m->state->n_hosts; i++)
                        if (m->state->hosts[i].mode != HOST_MODE_UP)
                                n++;
        return n;
}

static void manager_notify_status(Manager *m, const char *prefix) {
        char role[128];
        m->source->notify_role(m, role, sizeof(role));
        (void) sd_notifyf(
                false,
                "%sSTATUS=%s of %zu host(s), %zu out of service; automation %s; pass every "
                "%" PRIu64 "s (%" PRIu64 " so far); plan %s; %u migration(s) running, %u queued",
                prefix ?: "", role, m->config->n_hosts, count_out_of_service(m),
                automation_level_to_string(m->policy->automation.level), m->pass_interval_s, m->n_passes,
                m->pass && m->pass->run ? "running" : "idle",
                m->executor ? executor_n_running(m->executor) : 0,
                m->executor ? executor_n_queued(m->executor) : 0);
}

/* The pass timer. */

static int pass_timer_handler(sd_event_source *s, uint64_t usec, void *userdata);

static int manager_arm_pass_timer(Manager *m) {
        uint64_t interval = m->policy->balance.interval_s;
        int k;

        if (interval == 0)
                interval = 1;
        if (m->pass_timer && interval == m->pass_interval_s)
                return 0;
        m->pass_interval_s = interval;

        if (!m->pass_timer) {
                k = sd_event_add_time_relative(
                        m->event, &m->pass_timer, CLOCK_MONOTONIC, interval * USEC_PER_SEC, USEC_PER_SEC,
                        pass_timer_handler, m);
                if (k < 0)
                        return k;
                (void) sd_event_source_set_description(m->pass_timer, "pass-timer");
                return 0;
        }
        /* The interval changed on reload: count from now. */
        k = sd_event_source_set_time_relative(m->pass_timer, interval * USEC_PER_SEC);
        if (k < 0)
                return k;
        return sd_event_source_set_enabled(m->pass_timer, SD_EVENT_ONESHOT);
}

static int pass_timer_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int k;

        k = manager_pass(m);
        if (k < 0)
                log_warning_errno(k, "Pass failed: %m");

        k = sd_event_source_set_time_relative(s, m->pass_interval_s * USEC_PER_SEC);
        if (k >= 0)
                k = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (k < 0)
                return log_error_errno(k, "Failed to re-arm the pass timer: %m");
        manager_notify_status(m, NULL);
        return 0;
}

/* Reload. */

static int manager_reload_full(Manager *m, LoadFailure *ret_failure, char **reterr_msg) {
        _cleanup_free_ char *err = NULL;
        DrsConfig *cfg = NULL;
        Policy *pol = NULL;
        LoadFailure failure = LOAD_OK;
        gid_t gid;
        bool have_gid;
        int k;

        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration and policy");
        m->last_reload_usec = manager_realtime_usec();

        k = load_files(m->config, m->config_path, &cfg, &pol, &gid, &have_gid, &failure, &err);
        if (k < 0) {
                HistoryEvent e = {
                        .type = (char *) "policy",
                        .result = (char *) "failed",
                        .reason = (char *) "reload",
                        .message = err,
                };
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg, "Reload failed, keeping the previous configuration and policy: %s",
                            err ?: strerror(-k)) < 0)
                        msg = NULL;
                e.message = msg ?: err;
                manager_record(m, LOG_ERR, DRS_MESSAGE_CONFIG_RELOAD_FAILED, &e);

                free(m->last_reload_error);
                m->last_reload_error = err ? strdup(err) : NULL;
                if (ret_failure)
                        *ret_failure = failure;
                if (reterr_msg)
                        *reterr_msg = TAKE_PTR(err);
                manager_notify_status(m, "READY=1\n");
                return k;
        }

        if (!streq_ptr(cfg->socket, m->config->socket))
                log_warning(
                        "Reload: 'socket' changed to '%s'; still serving '%s' until drsd restarts",
                        cfg->socket, m->socket_path ?: "(socket activation)");
        if (!streq_ptr(cfg->state_dir, m->config->state_dir))
                log_warning(
                        "Reload: 'state_dir' changed to '%s'; still using '%s' until drsd restarts",
                        cfg->state_dir, m->config->state_dir);
        if (!streq_ptr(cfg->state_dir, m->config->state_dir) || !streq_ptr(cfg->socket, m->config->socket)) {
                /* Keep what is in use visible in drs.Status: the running values stay. */
                char *t = cfg->state_dir;
                cfg->state_dir = m->config->state_dir;
                m->config->state_dir = t;
                t = cfg->socket;
                cfg->socket = m->config->socket;
                m->config->socket = t;
        }

        drs_config_free(m->config);
        policy_free(m->policy);
        m->config = cfg;
        m->policy = pol;
        m->admin_gid = gid;
        m->have_admin_gid = have_gid;
        if (m->control)
                control_server_set_admin_group(m->control, gid, have_gid);
        m->n_reloads++;
        free(m->last_reload_error);
        m->last_reload_error = NULL;

        k = manager_arm_pass_timer(m);
        if (k < 0)
                log_error_errno(k, "Failed to re-arm the pass timer: %m");
        manager_leader_reload(m);
        manager_metrics_reload(m);

        HistoryEvent e = {
                .type = (char *) "policy",
                .result = (char *) "reloaded",
                .reason = (char *) "reload",
                .message = (char *) "Reloaded configuration and policy",
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_CONFIG_RELOADED, &e);
        manager_notify_status(m, "READY=1\n");
        if (ret_failure)
                *ret_failure = LOAD_OK;
        return 0;
}

int manager_reload(Manager *m, char **reterr_msg) {
        return manager_reload_full(m, NULL, reterr_msg);
}

/* Signals. */

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        log_info("Received %s, exiting", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        log_info("Received SIGHUP, reloading '%s'", m->config_path);
        (void) manager_reload(m, NULL);
        return 0;
}

int manager_start(Manager *m, int listen_fd) {
        _cleanup_free_ char *err = NULL;
        sigset_t mask;
        int k;

        if (!m->config || !m->policy)
                return log_error_errno(-EINVAL, "Configuration not loaded");

        /* Persistent state first: a corrupt state file stops drsd rather than forgetting which
         * hosts are in maintenance. */
        k = mkdir_parents_and_self(m->config->state_dir, 0755);
        if (k < 0)
                return log_error_errno(
                        k, "Failed to create the state directory '%s': %m", m->config->state_dir);
        k = state_load(m->config->state_dir, &m->state, &err);
        if (k == -EBADMSG)
                return log_error_errno(
                        k,
                        "State file '%s/" STATE_FILE_NAME
                        "' is corrupt: %s. Refusing to start: hosts in maintenance or standby "
                        "would be forgotten. Repair or remove the file",
                        m->config->state_dir, err ?: "unknown error");
        if (k < 0)
                return log_error_errno(
                        k, "Failed to load '%s/" STATE_FILE_NAME "': %m", m->config->state_dir);
        k = history_open(m->config->state_dir, 0, &m->history);
        if (k < 0)
                return log_error_errno(
                        k, "Failed to open the history file in '%s': %m", m->config->state_dir);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        /* SIGCHLD for the power commands' child sources: blocked before any thread starts, so
         * every thread inherits the mask. */
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        if ((k = sd_event_add_signal(m->event, &m->sigterm, SIGTERM, on_exit_signal, m)) < 0 ||
            (k = sd_event_add_signal(m->event, &m->sigint, SIGINT, on_exit_signal, m)) < 0 ||
            (k = sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_sighup, m)) < 0)
                return log_error_errno(k, "Failed to set up signal handlers: %m");

        k = sd_event_set_watchdog(m->event, true);
        if (k < 0)
                return log_error_errno(k, "Failed to enable the watchdog: %m");

        k = manager_arm_pass_timer(m);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the pass timer: %m");

        k = manager_metrics_start(m);
        if (k < 0)
                return k;

        /* The control socket before the leader: a second drsd is refused before it starts
         * libvirt's event thread, connects to any host or could run a migration. */
        k = control_server_new(
                m->event, m, manager_methods, manager_n_methods, m->admin_gid, m->have_admin_gid,
                &m->control);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the control server: %m");
        if (listen_fd >= 0) {
                k = control_server_adopt(m->control, listen_fd);
                if (k < 0)
                        return log_error_errno(k, "Failed to serve the activated control socket: %m");
        } else {
                k = control_server_listen(m->control, m->config->socket);
                if (k == -EADDRINUSE)
                        return log_error_errno(
                                k, "Control socket '%s' is in use: is another drsd running?",
                                m->config->socket);
                if (k < 0)
                        return log_error_errno(k, "Failed to listen on '%s': %m", m->config->socket);
                m->socket_path = strdup(m->config->socket);
                if (!m->socket_path)
                        return log_oom();
        }

        /* Cluster mode: this host's identity, corosync, forwarding; before the poller needs it. */
        k = m->source->start ? m->source->start(m) : 0;
        if (k < 0)
                return k;

        k = manager_leader_start(m);
        if (k < 0)
                return k;
        /* Standalone: a rollout saved by the last run continues (or pauses, see rollout.h);
         * cluster mode loads it when this drsd starts leading. */
        if (manager_acting_leader(m))
                (void) manager_rollout_load(m);

        HistoryEvent e = {
                .type = (char *) "daemon",
                .result = (char *) "started",
                .message = (char *) "drsd started",
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_DAEMON_STARTED, &e);
        manager_notify_status(m, "READY=1\n");
        return 0;
}

int manager_run(Manager *m) {
        int k = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        HistoryEvent e = {
                .type = (char *) "daemon",
                .result = (char *) "stopped",
                .message = (char *) "drsd stopping",
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_DAEMON_STOPPING, &e);
        return k;
}

/* Control methods. Each takes the request parameters and fills the reply parameters. */

/* json-c represents null as a NULL pointer: add it directly. */
static int add_optional_string(json_object *o, const char *key, const char *s) {
        if (!s)
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        return control_add(o, key, json_object_new_string(s));
}

static int policy_summary(const Manager *m, const Policy *p, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (add_optional_string(o, "file", m->config->policy) < 0 ||
            add_optional_string(o, "dropin_dir", m->config->policy_dir) < 0 ||
            control_add(
                    o, "automation",
                    json_object_new_string(automation_level_to_string(p->automation.level))) < 0 ||
            control_add(o, "balance", json_object_new_boolean(p->balance.enabled)) < 0 ||
            control_add(o, "aggressiveness", json_object_new_int(p->balance.aggressiveness)) < 0 ||
            control_add(o, "interval_s", json_object_new_uint64(p->balance.interval_s)) < 0 ||
            control_add(o, "max_moves_per_pass", json_object_new_uint64(p->balance.max_moves_per_pass)) <
                    0 ||
            control_add(o, "groups", json_object_new_uint64(p->n_groups)) < 0 ||
            control_add(o, "rules", json_object_new_uint64(p->n_rules)) < 0 ||
            control_add(o, "dpm", json_object_new_boolean(p->dpm.enabled)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int add_double(json_object *o, const char *key, double v) {
        /* Fixed precision: 4 decimals are plenty for utilizations and imbalances. */
        return control_add(o, key, json_object_new_double(round(v * 10000.0) / 10000.0));
}

static int
host_json(Manager *m, const char *name, const DrsHostConfig *hc, const StateHost *sh, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *blockers = NULL;
        const HostReport *r = manager_host_report(m, name);
        if (!o)
                return -ENOMEM;
        if (control_add(o, "name", json_object_new_string(name)) < 0 ||
            add_optional_string(o, "uri", hc ? hc->uri : NULL) < 0 ||
            control_add(o, "configured", json_object_new_boolean(hc != NULL)) < 0 ||
            control_add(
                    o, "state", json_object_new_string(host_mode_to_string(sh ? sh->mode : HOST_MODE_UP))) <
                    0)
                return -ENOMEM;
        if (sh && (control_add(o, "since", json_object_new_uint64(sh->since_usec)) < 0 ||
                   add_optional_string(o, "reason", sh->reason) < 0))
                return -ENOMEM;
        if (hc) {
                bool reported = r && r->t_usec > 0;
                double cpu = 0, mem = 0;
                leader_host_utilization(reported ? r : NULL, &cpu, &mem);
                if (control_add(o, "reported", json_object_new_boolean(reported)) < 0 ||
                    control_add(o, "stale", json_object_new_boolean(!manager_host_fresh(m, name))) < 0 ||
                    control_add(
                            o, "draining",
                            json_object_new_boolean(m->pass && strv_contains(m->pass->draining, name))) <
                            0 ||
                    control_add(o, "cpus", json_object_new_int(reported ? (int) r->cpus : 0)) < 0 ||
                    control_add(o, "memory_mib", json_object_new_uint64(reported ? r->memory_mib : 0)) < 0 ||
                    control_add(o, "vms", json_object_new_uint64(reported ? r->n_vms : 0)) < 0 ||
                    add_double(o, "cpu_utilization", cpu) < 0 ||
                    add_double(o, "memory_utilization", mem) < 0 ||
                    add_optional_string(o, "last_error", r ? r->last_error : NULL) < 0)
                        return -ENOMEM;
                bool measured;
                double watts = manager_host_watts(m, name, &measured);
                if (watts >= 0 && (add_double(o, "watts", watts) < 0 ||
                                   control_add(
                                           o, "watts_source",
                                           json_object_new_string(measured ? "measured" : "model")) < 0))
                        return -ENOMEM;
                const LeaderPowerOp *pw = m->pass ? leader_pass_power_find(m->pass, name) : NULL;
                if (pw && control_add(
                                  o, "power_action",
                                  json_object_new_string(power_action_to_string(pw->action))) < 0)
                        return -ENOMEM;
        }
        blockers = json_object_new_array();
        if (!blockers)
                return -ENOMEM;
        for (size_t i = 0; m->pass && i < m->pass->n_blockers; i++) {
                const Blocker *bl = &m->pass->blockers[i];
                if (!streq(bl->host, name))
                        continue;
                json_object *b = json_object_new_object();
                if (!b || json_object_array_add(blockers, b) < 0) {
                        json_object_put(b);
                        return -ENOMEM;
                }
                if (control_add(b, "vm", json_object_new_string(bl->vm)) < 0 ||
                    control_add(b, "why", json_object_new_string(bl->why)) < 0)
                        return -ENOMEM;
        }
        if (control_add(o, "blockers", TAKE_PTR(blockers)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* All hosts: configured ones in configuration order, then hosts only the state file knows. */
static int hosts_json(Manager *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *hosts = json_object_new_array();
        int k;
        if (!hosts)
                return -ENOMEM;
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                json_object *h;
                const DrsHostConfig *hc = &m->config->hosts[i];
                k = host_json(m, hc->name, hc, manager_host_state(m, hc->name), &h);
                if (k < 0)
                        return k;
                if (json_object_array_add(hosts, h) < 0) {
                        json_object_put(h);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; m->state && i < m->state->n_hosts; i++) {
                const StateHost *sh = &m->state->hosts[i];
                if (drs_config_find_host(m->config, sh->name))
                        continue;
                json_object *h;
                k = host_json(m, sh->name, NULL, sh, &h);
                if (k < 0)
                        return k;
                if (json_object_array_add(hosts, h) < 0) {
                        json_object_put(h);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(hosts);
        return 0;
}

/* Population standard deviation of utilization over up hosts with fresh reports (the same
 * measure the solver reports as imbalance). */
bool manager_cluster_imbalance(Manager *m, double *ret_cpu, double *ret_memory) {
        double sc = 0, sc2 = 0, sm = 0, sm2 = 0;
        size_t n = 0;
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                if (manager_host_mode(m, h) != HOST_MODE_UP || !manager_host_fresh(m, h))
                        continue;
                double c, mm;
                leader_host_utilization(manager_host_report(m, h), &c, &mm);
                sc += c;
                sc2 += c * c;
                sm += mm;
                sm2 += mm * mm;
                n++;
        }
        if (n == 0) {
                *ret_cpu = *ret_memory = 0;
                return false;
        }
        double mc = sc / (double) n, mmn = sm / (double) n;
        *ret_cpu = sqrt(fmax(0, sc2 / (double) n - mc * mc));
        *ret_memory = sqrt(fmax(0, sm2 / (double) n - mmn * mmn));
        return true;
}

static int run_json(const LeaderRun *r, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL, *moves = NULL;
        static const char *const state_names[] = {"pending", "running", "done", "failed", "skipped"};
        if (!r) {
                *ret = NULL;
                return 0;
        }
        o = json_object_new_object();
        moves = json_object_new_array();
        if (!o || !moves)
                return -ENOMEM;
        for (size_t i = 0; i < r->plan->n_moves; i++) {
                const PlanMove *mv = &r->plan->moves[i];
                json_object *x = json_object_new_object();
                if (!x || json_object_array_add(moves, x) < 0) {
                        json_object_put(x);
                        return -ENOMEM;
                }
                if (control_add(x, "vm", json_object_new_string(r->problem->vms[mv->vm].name)) < 0 ||
                    control_add(x, "from", json_object_new_string(r->problem->hosts[mv->from].name)) < 0 ||
                    control_add(x, "to", json_object_new_string(r->problem->hosts[mv->to].name)) < 0 ||
                    control_add(x, "wave", json_object_new_int((int) mv->wave)) < 0 ||
                    control_add(x, "reason", json_object_new_string(move_reason_to_string(mv->reason))) <
                            0 ||
                    add_optional_string(x, "rule", mv->rule) < 0 || add_double(x, "gain", mv->gain) < 0 ||
                    control_add(x, "recommendation", json_object_new_boolean(mv->recommendation)) < 0 ||
                    control_add(x, "state", json_object_new_string(state_names[r->moves[i]])) < 0)
                        return -ENOMEM;
        }
        if (control_add(o, "id", json_object_new_uint64(r->id)) < 0 ||
            control_add(o, "wave", json_object_new_int((int) r->wave)) < 0 ||
            control_add(o, "waves", json_object_new_int((int) r->n_waves)) < 0 ||
            control_add(o, "mandatory", json_object_new_boolean(r->mandatory)) < 0 ||
            control_add(o, "done", json_object_new_uint64(r->n_done)) < 0 ||
            control_add(o, "failed", json_object_new_uint64(r->n_failed)) < 0 ||
            control_add(o, "running", json_object_new_uint64(r->n_running)) < 0 ||
            control_add(o, "moves", TAKE_PTR(moves)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int method_ping(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o || control_add(o, "pong", json_object_new_boolean(true)) < 0 ||
            control_add(o, "version", json_object_new_string(DRS_VERSION)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* status.migration_encryption: the policy's migration.tls and each host's migration TLS as the
 * executor's probe last found it ({"host", "tls": "yes"|"no"|"unknown"|"unchecked", "why",
 * "checked_s_ago"}): configured hosts first, in configuration order, then others probed
 * (remote targets). */
static int encryption_status_json(Manager *m, json_object **ret) {
        static const char *const states[] = {"unknown", "yes", "no"};
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *a = json_object_new_array();
        MigrationTlsHost *h = NULL;
        size_t n = 0;
        uint64_t now = hv_now_usec();
        int k;

        if (!o || !a)
                return -ENOMEM;
        if (m->executor) {
                k = executor_tls_hosts(m->executor, &h, &n);
                if (k < 0)
                        return k;
        }
        for (size_t pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < (pass == 0 ? m->config->n_hosts : n); i++) {
                        const char *name = pass == 0 ? m->config->hosts[i].name : h[i].host;
                        const MigrationTlsHost *f = NULL;
                        bool configured = false;
                        for (size_t j = 0; j < n && !f; j++)
                                if (streq(h[j].host, name))
                                        f = &h[j];
                        for (size_t j = 0; pass == 1 && j < m->config->n_hosts; j++)
                                configured = configured || streq(m->config->hosts[j].name, name);
                        if (configured)
                                continue;
                        json_object *x = json_object_new_object();
                        if (json_object_array_add(a, x) < 0) {
                                json_object_put(x);
                                k = -ENOMEM;
                                goto out;
                        }
                        if (control_add(x, "host", json_object_new_string(name)) < 0 ||
                            control_add(
                                    x, "tls",
                                    json_object_new_string(
                                            f && f->checked_usec > 0 ? states[f->state] : "unchecked")) <
                                    0 ||
                            add_optional_string(x, "why", f ? f->why : NULL) < 0 ||
                            (f && f->checked_usec > 0 &&
                             control_add(
                                     x, "checked_s_ago",
                                     json_object_new_uint64((now - f->checked_usec) / USEC_PER_SEC)) < 0)) {
                                k = -ENOMEM;
                                goto out;
                        }
                }
        if (control_add(
                    o, "mode", json_object_new_string(migration_tls_to_string(m->policy->migration.tls))) <
                    0 ||
            control_add(o, "hosts", TAKE_PTR(a)) < 0) {
                k = -ENOMEM;
                goto out;
        }
        *ret = TAKE_PTR(o);
        k = 0;
out:
        migration_tls_hosts_free(h, n);
        return k;
}

static int method_status(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL, *hosts = NULL, *pol = NULL, *passes = NULL,
                                                *reload = NULL, *enc = NULL;
        int k;

        k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;

        o = json_object_new_object();
        hosts = json_object_new_array();
        passes = json_object_new_object();
        reload = json_object_new_object();
        if (!o || !hosts || !passes || !reload)
                return -ENOMEM;

        json_object_put(TAKE_PTR(hosts));
        k = hosts_json(m, &hosts);
        if (k < 0)
                return k;

        k = policy_summary(m, m->policy, &pol);
        if (k < 0)
                return k;
        k = encryption_status_json(m, &enc);
        if (k < 0)
                return k;

        if (control_add(passes, "interval_s", json_object_new_uint64(m->pass_interval_s)) < 0 ||
            control_add(passes, "count", json_object_new_uint64(m->n_passes)) < 0 ||
            control_add(passes, "last", json_object_new_uint64(m->last_pass_usec)) < 0 ||
            control_add(
                    passes, "leader_loop",
                    json_object_new_boolean(m->collector != NULL && manager_acting_leader(m))) < 0 ||
            add_optional_string(passes, "last_plan", m->pass ? m->pass->last_plan_summary : NULL) < 0)
                return -ENOMEM;
        {
                _cleanup_(json_object_putp) json_object *cl = json_object_new_object(), *run = NULL,
                                                        *rec = NULL;
                double ci, mi;
                AutomationLevel level = m->policy->automation.level;
                (void) manager_cluster_imbalance(m, &ci, &mi);
                (void) leader_automation_at(m->policy, time(NULL), &level);
                if (!cl || add_double(cl, "cpu_imbalance", ci) < 0 ||
                    add_double(cl, "memory_imbalance", mi) < 0 ||
                    add_double(
                            cl, "threshold",
                            policy_imbalance_threshold(m->policy->balance.aggressiveness) > 1e9
                                    ? -1
                                    : policy_imbalance_threshold(m->policy->balance.aggressiveness)) < 0 ||
                    control_add(
                            cl, "automation", json_object_new_string(automation_level_to_string(level))) <
                            0 ||
                    control_add(
                            cl, "migrations_running",
                            json_object_new_int(m->executor ? (int) executor_n_running(m->executor) : 0)) <
                            0 ||
                    control_add(cl, "migrations_ordered", json_object_new_int((int) m->n_orders)) < 0 ||
                    control_add(
                            cl, "migrations_queued",
                            json_object_new_int(m->executor ? (int) executor_n_queued(m->executor) : 0)) <
                            0 ||
                    control_add(cl, "migrations_completed", json_object_new_uint64(m->n_migrations_ok)) <
                            0 ||
                    control_add(cl, "migrations_failed", json_object_new_uint64(m->n_migrations_failed)) < 0)
                        return -ENOMEM;
                k = run_json(m->pass ? m->pass->run : NULL, &run);
                if (k < 0)
                        return k;
                k = run_json(m->pass ? m->pass->recommendations : NULL, &rec);
                if (k < 0)
                        return k;
                if (m->imbalance_log) {
                        uint64_t now = manager_realtime_usec(), hour = 3600ULL * USEC_PER_SEC;
                        json_object *ih;
                        k = imbalance_log_to_json(m->imbalance_log, now > hour ? now - hour : 0, &ih);
                        if (k < 0)
                                return k;
                        if (control_add(cl, "imbalance_history", ih) < 0)
                                return -ENOMEM;
                }
                if (m->pass) {
                        BenefitSummary bs;
                        benefit_summary(&m->pass->benefit, manager_now().mono_usec, &bs);
                        json_object *b = json_object_new_object();
                        if (control_add(cl, "benefit", b) < 0 ||
                            control_add(b, "window_s", json_object_new_uint64(BENEFIT_WINDOW_S)) < 0 ||
                            control_add(b, "moves", json_object_new_uint64(bs.moves)) < 0 ||
                            add_double(b, "predicted", bs.predicted) < 0 ||
                            add_double(b, "realized", bs.realized) < 0 ||
                            add_double(
                                    b, "realized_share", bs.predicted > 0 ? bs.realized / bs.predicted : 0) <
                                    0 ||
                            control_add(b, "worse", json_object_new_uint64(bs.worse)) < 0 ||
                            control_add(b, "no_effect", json_object_new_uint64(bs.no_effect)) < 0 ||
                            control_add(b, "superseded", json_object_new_uint64(bs.superseded)) < 0 ||
                            control_add(b, "measuring", json_object_new_uint64(m->pass->benefit.n_moves)) <
                                    0)
                                return -ENOMEM;
                }
                const ProblemDemand *sd = m->pass ? &m->pass->dpm_standby_demand : NULL;
                if (m->policy->dpm.enabled && sd && sd->set) {
                        json_object *d = json_object_new_object();
                        if (control_add(cl, "dpm_standby_demand", d) < 0 ||
                            add_double(d, "percentile", m->policy->dpm.standby_percentile) < 0 ||
                            add_double(d, "cpu", sd->cpu) < 0 ||
                            control_add(d, "memory_mib", json_object_new_uint64((uint64_t) sd->memory_mib)) <
                                    0 ||
                            control_add(d, "samples", json_object_new_uint64(sd->samples)) < 0 ||
                            control_add(d, "window_s", json_object_new_uint64(sd->window_s)) < 0)
                                return -ENOMEM;
                }
                if (json_object_object_add(cl, "plan", TAKE_PTR(run)) < 0 ||
                    json_object_object_add(cl, "recommendations", TAKE_PTR(rec)) < 0 ||
                    control_add(o, "cluster", TAKE_PTR(cl)) < 0)
                        return -ENOMEM;
        }
        if (m->power_meter) {
                /* Power now and energy since start (PowerMeter): hosts with neither a model nor a
                 * reading count as unknown. */
                double total = 0;
                unsigned known = 0, measured = 0;
                for (size_t i = 0; i < m->config->n_hosts; i++) {
                        bool meas;
                        double w = manager_host_watts(m, m->config->hosts[i].name, &meas);
                        if (w < 0)
                                continue;
                        total += w;
                        known++;
                        measured += meas;
                }
                json_object *pw = json_object_new_object();
                if (control_add(o, "power", pw) < 0 || add_double(pw, "watts", total) < 0 ||
                    control_add(pw, "hosts_known", json_object_new_uint64(known)) < 0 ||
                    control_add(pw, "hosts_measured", json_object_new_uint64(measured)) < 0 ||
                    add_double(pw, "energy_kwh", power_meter_energy_j(m->power_meter) / 3.6e6) < 0 ||
                    add_double(pw, "saved_kwh", power_meter_saved_j(m->power_meter) / 3.6e6) < 0)
                        return -ENOMEM;
        }
        if (control_add(reload, "count", json_object_new_uint64(m->n_reloads)) < 0 ||
            control_add(reload, "last", json_object_new_uint64(m->last_reload_usec)) < 0 ||
            add_optional_string(reload, "error", m->last_reload_error) < 0)
                return -ENOMEM;

        if (control_add(o, "version", json_object_new_string(DRS_VERSION)) < 0 ||
            control_add(o, "mode", json_object_new_string(drs_mode_to_string(m->config->mode))) < 0 ||
            control_add(o, "pid", json_object_new_int((int) getpid())) < 0 ||
            control_add(o, "started", json_object_new_uint64(m->started_usec)) < 0 ||
            control_add(o, "config", json_object_new_string(m->config_path)) < 0 ||
            control_add(o, "state_dir", json_object_new_string(m->config->state_dir)) < 0 ||
            control_add(o, "hosts", TAKE_PTR(hosts)) < 0 || control_add(o, "policy", TAKE_PTR(pol)) < 0 ||
            control_add(o, "migration_encryption", TAKE_PTR(enc)) < 0 ||
            (m->source->status_json && m->source->status_json(m, o) < 0) ||
            control_add(o, "passes", TAKE_PTR(passes)) < 0 || control_add(o, "reload", TAKE_PTR(reload)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.PolicyCheck: without parameters, checks the policy files on disk as a reload would load
 * them (without applying anything); with {"policy": TEXT, "filename": NAME}, checks that text
 * alone over the defaults. Replies {"valid": true, "policy": {effective policy}} or
 * {"valid": false, "error": "file:line:column: …"}. */
static int method_policy_check(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"policy", "filename", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL, *effective = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *err = NULL, *json = NULL;
        PolicyError e = {};
        json_object *text = NULL, *filename = NULL;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        if (json_object_object_get_ex(params, "policy", &text) &&
            !json_object_is_type(text, json_type_string))
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'policy' must be a string (the YAML text)");
        if (json_object_object_get_ex(params, "filename", &filename) &&
            !json_object_is_type(filename, json_type_string))
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'filename' must be a string");
        if (filename && !text)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'filename' needs 'policy'");

        if (text) {
                const char *name = filename ? json_object_get_string(filename) : "<request>";
                k = policy_new(&p);
                if (k < 0)
                        return k;
                k = policy_parse_string(
                        p, name, json_object_get_string(text), (size_t) json_object_get_string_len(text),
                        &e);
                if (k >= 0)
                        k = policy_validate(p, &e);
                if (k < 0) {
                        int r = error_string(&e, name, k, &err);
                        policy_error_clear(&e);
                        if (r < 0)
                                return r;
                }
        } else {
                k = policy_load(m->config->policy, m->config->policy_dir, &p, &e);
                if (k < 0) {
                        int r = error_string(&e, m->config->policy, k, &err);
                        policy_error_clear(&e);
                        if (r < 0)
                                return r;
                }
        }
        if (k == -ENOMEM)
                return k;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (control_add(o, "valid", json_object_new_boolean(k >= 0)) < 0)
                return -ENOMEM;
        if (k < 0) {
                if (control_add(o, "error", json_object_new_string(err)) < 0)
                        return -ENOMEM;
        } else {
                k = policy_to_json(p, &json);
                if (k < 0)
                        return k;
                effective = json_tokener_parse(json);
                if (!effective)
                        return -EBADMSG;
                if (control_add(o, "policy", TAKE_PTR(effective)) < 0)
                        return -ENOMEM;
        }
        *reply = TAKE_PTR(o);
        return 0;
}

static int method_reload(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_free_ char *err = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL, *pol = NULL;
        LoadFailure failure = LOAD_OK;
        int k;

        k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;

        k = manager_reload_full(m, &failure, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return control_fail(
                        reply, reterr_error,
                        failure == LOAD_POLICY ? PROTOCOL_ERROR_POLICY_INVALID
                                               : PROTOCOL_ERROR_CONFIG_INVALID,
                        "%s (the previous configuration and policy stay in force)", err ?: "reload failed");

        k = policy_summary(m, m->policy, &pol);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o || control_add(o, "policy", TAKE_PTR(pol)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.Hosts: the hosts alone (as in drs.Status). */
static int method_hosts(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL, *hosts = NULL;
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        k = hosts_json(m, &hosts);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o || control_add(o, "hosts", TAKE_PTR(hosts)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.Vms: every running VM the collector knows, by host. */
static int method_vms(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL, *vms = NULL;
        uint64_t now = (uint64_t) time(NULL);
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        vms = json_object_new_array();
        if (!vms)
                return -ENOMEM;
        for (size_t i = 0; m->collector && i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                const HostReport *r = manager_host_report(m, h);
                for (size_t j = 0; r && j < r->n_vms; j++) {
                        const VmReport *v = &r->vms[j];
                        uint64_t moved = (m->pass ? move_log_get(&m->pass->moves, v->name) : 0) / 1000000ULL;
                        json_object *x = json_object_new_object();
                        if (!x || json_object_array_add(vms, x) < 0) {
                                json_object_put(x);
                                return -ENOMEM;
                        }
                        if (control_add(x, "name", json_object_new_string(v->name)) < 0 ||
                            control_add(x, "host", json_object_new_string(h)) < 0 ||
                            control_add(x, "vcpus", json_object_new_int((int) v->vcpus)) < 0 ||
                            control_add(x, "memory_mib", json_object_new_uint64(v->memory_mib)) < 0 ||
                            add_double(x, "cpu_demand", v->cpu_demand) < 0 ||
                            control_add(
                                    x, "memory_demand_mib", json_object_new_uint64(v->memory_demand_mib)) <
                                    0 ||
                            control_add(
                                    x, "migrating",
                                    json_object_new_boolean(v->migrating || manager_vm_busy(m, v->name))) <
                                    0 ||
                            control_add(
                                    x, "automation",
                                    json_object_new_string(automation_level_to_string(policy_vm_automation(
                                            m->policy, v->name, m->policy->automation.level)))) < 0)
                                return -ENOMEM;
                        if (moved > 0 && control_add(
                                                 x, "last_moved_s",
                                                 json_object_new_uint64(now > moved ? now - moved : 0)) < 0)
                                return -ENOMEM;
                        double share;
                        unsigned f = m->pass ? benefit_vm_factor(&m->pass->benefit, v->name, &share) : 1;
                        if (!isnan(share) && m->pass &&
                            (add_double(x, "moves_realized_share", share) < 0 ||
                             control_add(x, "cooldown_factor", json_object_new_uint64(f)) < 0))
                                return -ENOMEM;
                }
        }
        o = json_object_new_object();
        if (!o || control_add(o, "vms", TAKE_PTR(vms)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* A plan as {"plan": plan_to_json, "text": plan_to_text}. */
static int plan_reply(const Problem *p, const Plan *plan, json_object *o) {
        _cleanup_free_ char *json = NULL, *text = NULL;
        int k = plan_to_json(p, plan, &json);
        if (k < 0)
                return k;
        k = plan_to_text(p, plan, &text);
        if (k < 0)
                return k;
        json_object *pj = json_tokener_parse(json);
        if (!pj)
                return -EBADMSG;
        if (control_add(o, "plan", pj) < 0 || control_add(o, "text", json_object_new_string(text)) < 0)
                return -ENOMEM;
        return 0;
}

static int no_leader(json_object **reply, char **reterr_error) {
        return control_fail(reply, reterr_error, PROTOCOL_ERROR_INTERNAL, "the leader is not running");
}

/* drs.Plan: what a pass would do now (a dry run: nothing is started or recorded). */
static int method_plan(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        if (!m->collector || !manager_acting_leader(m))
                return no_leader(reply, reterr_error);
        k = manager_build_problem(m, NULL, &p);
        if (k < 0)
                return k;
        k = manager_solve(m, p, &plan);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        k = plan_reply(p, plan, o);
        if (k < 0)
                return k;
        if (control_add(o, "automation", json_object_new_string(automation_level_to_string(p->automation))) <
                    0 ||
            control_add(o, "plan_running", json_object_new_boolean(m->pass && m->pass->run)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.Apply: runs the recommendations of the last manual plan. */
static int method_apply(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t n = 0;
        int k = control_refuse_parameters(params, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        k = manager_apply(m, &n);
        if (k == -ENOENT)
                return control_fail(
                        reply, reterr_error, "drs.NothingToApply",
                        "no recommendations to apply (see 'drsctl plan')");
        if (k == -EBUSY)
                return control_fail(
                        reply, reterr_error, "drs.Busy",
                        "a plan is running; apply again when it has finished");
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o || control_add(o, "moves", json_object_new_uint64(n)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

static int get_host_param(
        Manager *m, json_object *params, const DrsHostConfig **ret, json_object **reply,
        char **reterr_error) {
        json_object *h;
        if (!json_object_object_get_ex(params, "host", &h) || !json_object_is_type(h, json_type_string))
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'host' (a string) is required");
        const DrsHostConfig *hc = drs_config_find_host(m->config, json_object_get_string(h));
        if (!hc)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_NO_SUCH_HOST, "no host '%s' in '%s'",
                        json_object_get_string(h), m->config_path);
        *ret = hc;
        return 0;
}

static int set_mode_recorded(Manager *m, const char *host, HostMode mode, const char *why) {
        return manager_set_host_mode(m, host, mode, why);
}

static int mode_error(int k, const char *host, json_object **reply, char **reterr_error) {
        if (k == -EHOSTDOWN)
                return control_fail(
                        reply, reterr_error, "drs.HostUnreachable",
                        "the drsd of host '%s' is not in the cluster: its mode is its own drsd's to change",
                        host);
        if (k == -EREMOTE)
                return control_fail(
                        reply, reterr_error, "drs.NotLeader",
                        "this drsd is no longer the leader; try again");
        return k;
}

/* drs.Evacuate {"host": H, "dry_run": bool}: the evacuation plan (the whole cluster's plan with H
 * in maintenance); unless dry_run, H becomes entering-maintenance and a pass runs at once.
 * Replies {"plan", "text", "unplaceable": n, "state"}. */
static int method_evacuate(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"host", "dry_run", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        const DrsHostConfig *hc;
        json_object *d;
        bool dry_run = false;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        k = get_host_param(m, params, &hc, reply, reterr_error);
        if (k < 0)
                return k;
        if (json_object_object_get_ex(params, "dry_run", &d)) {
                if (!json_object_is_type(d, json_type_boolean))
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "parameter 'dry_run' must be a boolean");
                dry_run = json_object_get_boolean(d);
        }
        if (!m->collector || !manager_acting_leader(m))
                return no_leader(reply, reterr_error);
        HostMode mode = manager_host_mode(m, hc->name);
        if (!dry_run && (mode == HOST_MODE_STANDBY || mode == HOST_MODE_POWER_ON_FAILED))
                return control_fail(
                        reply, reterr_error, "drs.InvalidState",
                        "host '%s' is %s: it holds no VM; use exit-maintenance or power-clear first",
                        hc->name, host_mode_to_string(mode));

        k = manager_build_problem(m, hc->name, &p);
        if (k < 0)
                return k;
        /* An evacuation is mandatory work: plan it even when the cluster is at manual. */
        k = manager_solve(m, p, &plan);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        k = plan_reply(p, plan, o);
        if (k < 0)
                return k;
        size_t n_blocked = 0;
        for (size_t i = 0; i < plan->n_unplaceable; i++)
                if (plan->unplaceable[i].vm < p->n_vms && p->vms[plan->unplaceable[i].vm].host >= 0 &&
                    streq(p->hosts[p->vms[plan->unplaceable[i].vm].host].name, hc->name))
                        n_blocked++;
        if (n_blocked > 0) {
                /* What would make it possible: the smallest fix (a small MIP, at most 2 s). */
                SolverFix *fix = NULL;
                ssize_t hi = -1;
                for (size_t h = 0; h < p->n_hosts; h++)
                        if (streq(p->hosts[h].name, hc->name))
                                hi = (ssize_t) h;
                if (hi >= 0 && solver_smallest_fix(p, (size_t) hi, 2000, &fix) >= 0) {
                        _cleanup_free_ char *ft = NULL, *fj = NULL;
                        json_object *fo = NULL;
                        if (solver_fix_to_text(p, fix, &ft) >= 0 && solver_fix_to_json(p, fix, &fj) >= 0 &&
                            (fo = json_tokener_parse(fj)) &&
                            (control_add(o, "fix", fo) < 0 ||
                             control_add(o, "fix_text", json_object_new_string(ft)) < 0)) {
                                solver_fix_free(fix);
                                return -ENOMEM;
                        }
                        solver_fix_free(fix);
                }
        }
        if (!dry_run && mode != HOST_MODE_MAINTENANCE) {
                k = set_mode_recorded(m, hc->name, HOST_MODE_ENTERING_MAINTENANCE, "drsctl evacuate");
                if (k < 0)
                        return mode_error(k, hc->name, reply, reterr_error);
                manager_request_pass(m, "evacuate");
        }
        if (control_add(o, "host", json_object_new_string(hc->name)) < 0 ||
            control_add(o, "dry_run", json_object_new_boolean(dry_run)) < 0 ||
            control_add(o, "unplaceable", json_object_new_uint64(n_blocked)) < 0 ||
            control_add(
                    o, "state",
                    json_object_new_string(host_mode_to_string(manager_host_mode(m, hc->name)))) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.ExitMaintenance {"host"}: back to service from entering-maintenance, maintenance or
 * power-on-failed. drs.PowerClear {"host"}: power-on-failed → standby (DPM may choose it
 * again). */
static int
change_mode(Manager *m, json_object *params, json_object **reply, char **reterr_error, bool power_clear) {
        static const char *const allowed[] = {"host", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL;
        const DrsHostConfig *hc;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        k = get_host_param(m, params, &hc, reply, reterr_error);
        if (k < 0)
                return k;
        if (!manager_acting_leader(m))
                return no_leader(reply, reterr_error);
        HostMode mode = manager_host_mode(m, hc->name);
        if (power_clear) {
                if (mode != HOST_MODE_POWER_ON_FAILED)
                        return control_fail(
                                reply, reterr_error, "drs.InvalidState",
                                "host '%s' is %s, not power-on-failed", hc->name, host_mode_to_string(mode));
                k = set_mode_recorded(m, hc->name, HOST_MODE_STANDBY, "drsctl power-clear");
        } else {
                if (mode == HOST_MODE_STANDBY)
                        return control_fail(
                                reply, reterr_error, "drs.InvalidState",
                                "host '%s' is in standby (DPM powers it on when needed)", hc->name);
                k = set_mode_recorded(m, hc->name, HOST_MODE_UP, "drsctl exit-maintenance");
        }
        if (k < 0)
                return mode_error(k, hc->name, reply, reterr_error);
        manager_request_pass(m, power_clear ? "power-clear" : "exit-maintenance");
        o = json_object_new_object();
        if (!o || control_add(o, "host", json_object_new_string(hc->name)) < 0 ||
            control_add(o, "changed", json_object_new_boolean(k > 0)) < 0 ||
            control_add(
                    o, "state",
                    json_object_new_string(host_mode_to_string(manager_host_mode(m, hc->name)))) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.ResetFeedback {"vm"}: forgets what the VM's last moves realized (its cooldown factor is 1
 * again). */
static int method_reset_feedback(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"vm", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *vm;
        int k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        if (!json_object_object_get_ex(params, "vm", &vm) || !json_object_is_type(vm, json_type_string))
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'vm' (a VM name) is required");
        if (!m->pass || !manager_acting_leader(m))
                return no_leader(reply, reterr_error);
        const char *name = json_object_get_string(vm);
        unsigned f = benefit_vm_factor(&m->pass->benefit, name, NULL);
        int had = benefit_vm_reset(&m->pass->benefit, name);
        if (had)
                log_info(
                        "VM '%s': move feedback reset (cooldown ×%u → ×1) by drsctl reset-feedback", name,
                        f);
        o = json_object_new_object();
        if (!o || control_add(o, "vm", json_object_new_string(name)) < 0 ||
            control_add(o, "changed", json_object_new_boolean(had > 0)) < 0 ||
            control_add(o, "factor_was", json_object_new_uint64(f)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

static int
method_exit_maintenance(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        return change_mode(m, params, reply, reterr_error, false);
}

static int method_power_clear(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        return change_mode(m, params, reply, reterr_error, true);
}

/* drs.Place {"name", "vcpus", "memory_mib"}: the best host for a new VM now. */
static int method_place(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"name", "vcpus", "memory_mib", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        json_object *name;
        uint64_t vcpus = 0, mem = 0;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        if (!json_object_object_get_ex(params, "name", &name) ||
            !json_object_is_type(name, json_type_string) || json_object_get_string_len(name) == 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter 'name' (a non-empty string) is required");
        if ((k = control_get_u64(params, "vcpus", true, 4096, &vcpus, reply, reterr_error)) < 0 ||
            (k = control_get_u64(params, "memory_mib", true, UINT64_C(1) << 40, &mem, reply, reterr_error)) <
                    0)
                return k;
        if (vcpus == 0 || mem == 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "'vcpus' and 'memory_mib' must be positive");
        if (!m->collector || !manager_acting_leader(m))
                return no_leader(reply, reterr_error);
        k = manager_build_problem(m, NULL, &p);
        if (k < 0)
                return k;
        SolverVm vm = {
                .name = (char *) json_object_get_string(name),
                .host = -1,
                .vcpus = (unsigned) vcpus,
                .memory_mib = mem,
                .cpu_demand = (double) vcpus, /* no measurement yet: as configured */
                .memory_demand_mib = mem,
                .last_moved_s = -1,
        };
        SolverOptions opts = {.time_limit_s = 2.0};
        k = solver_place(p, &vm, &opts, &plan);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        k = plan_reply(p, plan, o);
        if (k < 0)
                return k;
        if (add_optional_string(
                    o, "host", plan->placement_host >= 0 ? p->hosts[plan->placement_host].name : NULL) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.History {"since": µs, "max": n}: events, oldest first. */
static int method_history(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"since", "max", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL, *arr = NULL;
        HistoryEvent *events = NULL;
        size_t n = 0, n_bad = 0;
        uint64_t since = 0, max = 1000;
        int k;

        k = control_refuse_parameters(params, allowed, reply, reterr_error);
        if (k < 0)
                return k;
        if ((k = control_get_u64(params, "since", false, INT64_MAX, &since, reply, reterr_error)) < 0 ||
            (k = control_get_u64(params, "max", false, 100000, &max, reply, reterr_error)) < 0)
                return k;
        k = history_read(m->config->state_dir, since, max, &events, &n, &n_bad);
        if (k < 0)
                return k;
        arr = json_object_new_array();
        if (!arr) {
                history_events_free(events, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *x;
                k = history_event_to_json(&events[i], &x);
                if (k < 0)
                        break;
                if (json_object_array_add(arr, x) < 0) {
                        json_object_put(x);
                        k = -ENOMEM;
                        break;
                }
        }
        history_events_free(events, n);
        if (k < 0)
                return k;
        o = json_object_new_object();
        if (!o || control_add(o, "events", TAKE_PTR(arr)) < 0 ||
            control_add(o, "unreadable", json_object_new_uint64(n_bad)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

const ControlMethodEntry manager_methods[] = {
        {"drs.Ping", method_ping},
        {"drs.Status", method_status},
        {"drs.Hosts", method_hosts},
        {"drs.Vms", method_vms},
        {"drs.Plan", method_plan},
        {"drs.Apply", method_apply},
        {"drs.Evacuate", method_evacuate},
        {"drs.ExitMaintenance", method_exit_maintenance},
        {"drs.PowerClear", method_power_clear},
        {"drs.ResetFeedback", method_reset_feedback},
        {"drs.Place", method_place},
        {"drs.History", method_history},
        {"drs.PolicyCheck", method_policy_check},
        {"drs.Reload", method_reload},
        {"drs.Migrate", manager_method_migrate},
        {"drs.MoveStorage", manager_method_move_storage},
        {"drs.RolloutStart", manager_method_rollout_start},
        {"drs.RolloutStatus", manager_method_rollout_status},
        {"drs.RolloutPause", manager_method_rollout_pause},
        {"drs.RolloutResume", manager_method_rollout_resume},
        {"drs.RolloutAbort", manager_method_rollout_abort},
};
const size_t manager_n_methods = ELEMENTSOF(manager_methods);
