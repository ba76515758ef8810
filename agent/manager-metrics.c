/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The Manager's side of the Prometheus endpoint (metrics.h): the MetricsServer lives as long as
 * the Manager runs, its counters whether or not drsd.yaml's metrics_listen is set; a scrape
 * builds a MetricsState from the Manager, on the main thread. And the hosts' power (PowerMeter,
 * power-meter.h): in standalone mode every host's, in cluster mode this drsd's own host's power
 * reading; the model for the others; energy integrated every collection interval. */

#include <errno.h>
#include <math.h>
#include <time.h>

#include "log.h"
#include "manager-pass.h"
#include "metrics.h"

#define USEC_PER_SEC 1000000ULL

static int render(MetricsServer *s, void *userdata, char **ret, size_t *ret_len) {
        Manager *m = userdata;
        _cleanup_free_ MetricsHost *hosts = NULL;
        uint64_t now_mono = hv_now_usec(), now = manager_realtime_usec();
        double sc = 0, sc2 = 0, sm = 0, sm2 = 0;
        size_t n_up = 0;

        hosts = calloc(m->config->n_hosts ?: 1, sizeof(MetricsHost));
        if (!hosts)
                return -ENOMEM;
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const char *name = m->config->hosts[i].name;
                const HostReport *r = manager_host_report(m, name);
                MetricsHost *h = &hosts[i];

                *h = (MetricsHost){
                        .name = name,
                        .mode = manager_host_mode(m, name),
                        .report_age_s = -1,
                        .watts = manager_host_watts(m, name, &hosts[i].watts_measured)};
                if (r && r->t_usec > 0) {
                        h->reported = true;
                        leader_host_utilization(r, &h->cpu, &h->memory);
                        h->report_age_s = now_mono > r->t_usec ? (double) (now_mono - r->t_usec) / 1e6 : 0;
                } else if (m->collector)
                        h->report_age_s = now > m->started_usec ? (double) (now - m->started_usec) / 1e6 : 0;

                /* The imbalance as drsctl status shows it: over up hosts with fresh reports. */
                if (h->mode == HOST_MODE_UP && manager_host_fresh(m, name)) {
                        sc += h->cpu;
                        sc2 += h->cpu * h->cpu;
                        sm += h->memory;
                        sm2 += h->memory * h->memory;
                        n_up++;
                }
        }

        MetricsState st = {
                .leader = m->collector != NULL && manager_acting_leader(m),
                .term = m->cluster ? cluster_term(m->cluster) : 0,
                .hosts = hosts,
                .n_hosts = m->config->n_hosts,
                .have_imbalance = n_up > 0,
                .passes = m->n_passes,
                .migrations_running = m->executor ? executor_n_running(m->executor) : 0,
                .counters = metrics_server_counters(s),
                .have_energy = m->power_meter != NULL,
                .energy_j = power_meter_energy_j(m->power_meter),
                .energy_saved_j = power_meter_saved_j(m->power_meter),
        };
        if (m->pass) {
                st.benefit_measured = m->pass->benefit.total_measured;
                st.benefit_worse = m->pass->benefit.total_worse;
                st.benefit_superseded = m->pass->benefit.total_superseded;
                st.benefit_predicted = m->pass->benefit.total_predicted;
                st.benefit_realized = m->pass->benefit.total_realized;
        }
        const Rollout *ro = m->pass && manager_acting_leader(m) ? m->pass->rollout : NULL;
        if (ro) {
                st.has_rollout = true;
                st.rollout_state = ro->state;
                for (size_t i = 0; i < ro->n_hosts; i++)
                        if ((unsigned) ro->hosts[i].state < _ROLLOUT_HOST_STATE_MAX)
                                st.rollout_hosts[ro->hosts[i].state]++;
        }
        if (n_up > 0) {
                double mc = sc / (double) n_up, mm = sm / (double) n_up;
                st.cpu_imbalance = sqrt(fmax(0, sc2 / (double) n_up - mc * mc));
                st.memory_imbalance = sqrt(fmax(0, sm2 / (double) n_up - mm * mm));
        }
        return metrics_render(&st, ret, ret_len);
}

static int metrics_apply(Manager *m) {
        const char *want = m->config->metrics_listen;
        if (streq_ptr(want && *want ? want : NULL, metrics_server_address(m->metrics)))
                return 0;
        int k = metrics_server_listen(m->metrics, want);
        if (k == -EINVAL)
                return log_error_errno(
                        k,
                        "metrics_listen '%s': expected an IPv4 address or a [bracketed] IPv6 address and a port",
                        want);
        if (k < 0)
                return log_error_errno(k, "Failed to serve the metrics on '%s': %m", want);
        if (metrics_server_address(m->metrics))
                log_info(
                        "Serving Prometheus metrics on http://%s/metrics",
                        metrics_server_address(m->metrics));
        else
                log_info("Metrics endpoint off");
        return 0;
}

/* ---- power ---------------------------------------------------------------------------------- */

static double meter_model_watts(void *u, const DrsHostConfig *host, bool *ret_powered) {
        Manager *m = u;
        HostMode mode = manager_host_mode(m, host->name);
        const HostReport *r = manager_host_report(m, host->name);
        double cpu, mem;

        *ret_powered = mode != HOST_MODE_STANDBY && mode != HOST_MODE_POWER_ON_FAILED;
        if (!host->power.known || !r || r->t_usec == 0)
                return -1;
        leader_host_utilization(r, &cpu, &mem);
        return power_model_watts(&host->power, cpu);
}

static void meter_log(void *u, int level, const char *host, const char *message) {
        log_event(level, (&(LogFields){.source = host}), "%s", message);
}

static const PowerMeterOps meter_ops = {
        .model_watts = meter_model_watts,
        .log = meter_log,
};

double manager_host_watts(Manager *m, const char *host, bool *ret_measured) {
        *ret_measured = false;
        if (m->power_meter)
                return power_meter_watts(m->power_meter, host, ret_measured);
        return -1;
}

/* The meter borrows the configuration's hosts: made anew with every configuration. In cluster
 * mode it waits for this drsd's host to be known (manager-cluster.c calls it again). */
void manager_power_meter_restart(Manager *m) {
        m->power_meter = power_meter_free(m->power_meter);
        if (m->config->mode == DRS_MODE_COROSYNC && !m->local_host)
                return;
        int k = power_meter_new(
                m->event, m->config, m->config->mode == DRS_MODE_COROSYNC ? m->local_host : NULL, &meter_ops,
                m, &m->power_meter);
        if (k < 0)
                log_warning_errno(
                        k, "Failed to set up the power readings, watts come from the power models: %m");
}

/* ---- the imbalance over the last hour (imbalance-log.h) -------------------------------------- */

static int imbalance_timer_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        double cpu, mem;

        if (manager_cluster_imbalance(m, &cpu, &mem))
                imbalance_log_add(m->imbalance_log, manager_realtime_usec(), cpu, mem);
        int k = sd_event_source_set_time_relative(s, IMBALANCE_LOG_PERIOD_S * USEC_PER_SEC);
        if (k >= 0)
                k = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (k < 0)
                log_warning_errno(
                        k, "Failed to re-arm the imbalance timer, the imbalance history stops: %m");
        return 0;
}

static int imbalance_log_start(Manager *m) {
        if (m->imbalance_log)
                return 0;
        m->imbalance_log = calloc(1, sizeof(ImbalanceLog));
        if (!m->imbalance_log)
                return log_oom();
        int k = sd_event_add_time_relative(
                m->event, &m->imbalance_timer, CLOCK_MONOTONIC, IMBALANCE_LOG_PERIOD_S * USEC_PER_SEC,
                USEC_PER_SEC, imbalance_timer_handler, m);
        if (k < 0)
                return log_error_errno(k, "Failed to set up the imbalance timer: %m");
        (void) sd_event_source_set_description(m->imbalance_timer, "imbalance-timer");
        return 0;
}

int manager_metrics_start(Manager *m) {
        int k;
        k = imbalance_log_start(m);
        if (k < 0)
                return k;
        manager_power_meter_restart(m);
        if (!m->metrics) {
                k = metrics_server_new(m->event, render, m, &m->metrics);
                if (k < 0)
                        return log_error_errno(k, "Failed to set up the metrics: %m");
        }
        return metrics_apply(m);
}

void manager_metrics_reload(Manager *m) {
        /* A failed bind leaves the endpoint off (or on its old address); drsd keeps running. */
        if (m->metrics)
                (void) metrics_apply(m);
        manager_power_meter_restart(m);
}

void manager_metrics_stop(Manager *m) {
        m->imbalance_timer = sd_event_source_disable_unref(m->imbalance_timer);
        free(m->imbalance_log);
        m->imbalance_log = NULL;
        m->metrics = metrics_server_free(m->metrics);
        m->power_meter = power_meter_free(m->power_meter);
}
