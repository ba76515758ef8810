/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The Manager's side of the Prometheus endpoint (metrics.h): the MetricsServer lives as long as
 * the Manager runs, its counters whether or not drsd.yaml's metrics_listen is set; a scrape
 * builds a MetricsState from the Manager, on the main thread. */

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
                        .name = name, .mode = manager_host_mode(m, name), .report_age_s = -1, .watts = -1};
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
        };
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

int manager_metrics_start(Manager *m) {
        int k;
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
}

void manager_metrics_stop(Manager *m) {
        m->metrics = metrics_server_free(m->metrics);
}
