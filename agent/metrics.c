/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"

#define USEC_PER_MSEC 1000ULL

_Static_assert(_MIGRATION_RESULT_MAX == 5, "name every migration result below");
_Static_assert(_POWER_ACTION_MAX == 2, "name every power action below");

/* The label values. "completed" for MIGRATION_OK, as in the journal and the history. */
static const char *const migration_result_names[_MIGRATION_RESULT_MAX] = {
        [MIGRATION_OK] = "completed",    [MIGRATION_SKIPPED] = "skipped", [MIGRATION_FAILED] = "failed",
        [MIGRATION_ABORTED] = "aborted", [MIGRATION_LOST] = "lost",
};
static const char *const power_action_names[_POWER_ACTION_MAX] = {
        [POWER_STANDBY] = "standby",
        [POWER_ON] = "power_on",
};
static const char *const power_result_names[_METRICS_POWER_RESULT_MAX] = {
        [METRICS_POWER_STARTED] = "started",
        [METRICS_POWER_COMPLETED] = "completed",
        [METRICS_POWER_FAILED] = "failed",
};

/* Buckets, seconds. Solve: the pass's solver runs under a 5 s limit. Migration: a small idle VM
 * takes a second, a large busy one many minutes. Downtime: libvirt's default max downtime is
 * 300 ms; the policy's stall schedule raises it to seconds. */
static const double solve_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double duration_buckets[] = {1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
static const double downtime_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* ---- counters and histograms ------------------------------------------------------------- */

void metrics_histogram_init(MetricsHistogram *h, const double *le, size_t n_le) {
        *h = (MetricsHistogram){.le = le, .n_le = n_le <= METRICS_MAX_BUCKETS ? n_le : METRICS_MAX_BUCKETS};
}

void metrics_histogram_observe(MetricsHistogram *h, double v) {
        size_t i = 0;
        if (isnan(v))
                return;
        while (i < h->n_le && v > h->le[i])
                i++;
        h->counts[i]++;
        h->count++;
        h->sum += v;
}

MetricsPowerResult metrics_power_result_from_string(const char *s) {
        for (size_t i = 0; s && i < _METRICS_POWER_RESULT_MAX; i++)
                if (streq(power_result_names[i], s))
                        return (MetricsPowerResult) i;
        return _METRICS_POWER_RESULT_INVALID;
}

void metrics_counters_init(MetricsCounters *c) {
        *c = (MetricsCounters){};
        metrics_histogram_init(&c->solve, solve_buckets, ELEMENTSOF(solve_buckets));
        metrics_histogram_init(&c->migration_duration, duration_buckets, ELEMENTSOF(duration_buckets));
        metrics_histogram_init(&c->migration_downtime, downtime_buckets, ELEMENTSOF(downtime_buckets));
}

void metrics_counters_migration(
        MetricsCounters *c, MigrationResult r, uint64_t duration_ms, uint64_t downtime_ms) {
        if ((unsigned) r >= _MIGRATION_RESULT_MAX)
                return;
        c->migrations[r]++;
        if (r != MIGRATION_OK)
                return;
        metrics_histogram_observe(&c->migration_duration, (double) duration_ms / 1000.0);
        if (downtime_ms > 0)
                metrics_histogram_observe(&c->migration_downtime, (double) downtime_ms / 1000.0);
}

void metrics_counters_power(MetricsCounters *c, PowerAction a, MetricsPowerResult r) {
        if ((unsigned) a >= _POWER_ACTION_MAX || (unsigned) r >= _METRICS_POWER_RESULT_MAX)
                return;
        c->power[a][r]++;
}

void metrics_counters_solve(MetricsCounters *c, double seconds) {
        if (isnan(seconds) || seconds < 0)
                return;
        c->have_solve = true;
        c->last_solve_s = seconds;
        metrics_histogram_observe(&c->solve, seconds);
}

/* ---- the renderer -------------------------------------------------------------------------- */

/* A Go-parsable float, as short as round-trips: "0.25", "1e-05", "NaN", "+Inf". */
static void format_double(double v, char *buf, size_t size) {
        if (isnan(v)) {
                (void) snprintf(buf, size, "NaN");
                return;
        }
        if (isinf(v)) {
                (void) snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 6; prec <= 17; prec += prec < 15 ? 9 : 1) {
                (void) snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        return;
        }
}

typedef struct Writer {
        FILE *f;
} Writer;

_printf_(2, 3) static void w_printf(Writer *w, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vfprintf(w->f, fmt, ap);
        va_end(ap);
}

static void w_family(Writer *w, const char *name, const char *type, const char *help) {
        w_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void w_label_value(Writer *w, const char *v) {
        for (const char *p = v ?: ""; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", w->f);
                else if (*p == '"')
                        fputs("\\\"", w->f);
                else if (*p == '\n')
                        fputs("\\n", w->f);
                else
                        fputc(*p, w->f);
        }
}

/* name{k1="v1",k2="v2"} value: labels as a NULL-terminated key, value, key, value… list. */
static void w_sample(Writer *w, const char *name, const char *const *labels, double v) {
        char num[64];
        fputs(name, w->f);
        if (labels && labels[0]) {
                fputc('{', w->f);
                for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
                        w_printf(w, "%s%s=\"", i > 0 ? "," : "", labels[i]);
                        w_label_value(w, labels[i + 1]);
                        fputc('"', w->f);
                }
                fputc('}', w->f);
        }
        format_double(v, num, sizeof(num));
        w_printf(w, " %s\n", num);
}

static void w_u64(Writer *w, const char *name, const char *const *labels, uint64_t v) {
        /* Counters are exact up to 2^53 as doubles; print integers as integers. */
        fputs(name, w->f);
        if (labels && labels[0]) {
                fputc('{', w->f);
                for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
                        w_printf(w, "%s%s=\"", i > 0 ? "," : "", labels[i]);
                        w_label_value(w, labels[i + 1]);
                        fputc('"', w->f);
                }
                fputc('}', w->f);
        }
        w_printf(w, " %" PRIu64 "\n", v);
}

static void w_histogram(Writer *w, const char *name, const char *help, const MetricsHistogram *h) {
        char bucket[128], le[64];
        uint64_t cum = 0;

        w_family(w, name, "histogram", help);
        (void) snprintf(bucket, sizeof(bucket), "%s_bucket", name);
        for (size_t i = 0; i < h->n_le; i++) {
                cum += h->counts[i];
                format_double(h->le[i], le, sizeof(le));
                w_u64(w, bucket, (const char *const[]){"le", le, NULL}, cum);
        }
        w_u64(w, bucket, (const char *const[]){"le", "+Inf", NULL}, h->count);
        (void) snprintf(bucket, sizeof(bucket), "%s_sum", name);
        w_sample(w, bucket, NULL, h->sum);
        (void) snprintf(bucket, sizeof(bucket), "%s_count", name);
        w_u64(w, bucket, NULL, h->count);
}

int metrics_render(const MetricsState *s, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        const MetricsCounters *c = s->counters;
        uint64_t by_mode[_HOST_MODE_MAX] = {};
        Writer w;

        w.f = open_memstream(&buf, &len);
        if (!w.f)
                return -ENOMEM;

        w_family(
                &w, "drs_leader", "gauge",
                "Whether this drsd is the leader that plans and acts (standalone: 1).");
        w_u64(&w, "drs_leader", NULL, s->leader ? 1 : 0);
        w_family(
                &w, "drs_term", "gauge",
                "The leader election term (0 in standalone mode: there are no elections).");
        w_u64(&w, "drs_term", NULL, s->term);

        for (size_t i = 0; i < s->n_hosts; i++)
                if ((unsigned) s->hosts[i].mode < _HOST_MODE_MAX)
                        by_mode[s->hosts[i].mode]++;
        w_family(
                &w, "drs_hosts", "gauge",
                "Configured hosts by state (drsd's host state: up, maintenance, standby, ...).");
        for (int m = 0; m < _HOST_MODE_MAX; m++)
                w_u64(&w, "drs_hosts",
                      (const char *const[]){"state", host_mode_to_string((HostMode) m), NULL}, by_mode[m]);

        w_family(
                &w, "drs_cluster_imbalance_ratio", "gauge",
                "Population standard deviation of utilization over the up hosts with fresh reports.");
        if (s->have_imbalance) {
                w_sample(
                        &w, "drs_cluster_imbalance_ratio", (const char *const[]){"resource", "cpu", NULL},
                        s->cpu_imbalance);
                w_sample(
                        &w, "drs_cluster_imbalance_ratio", (const char *const[]){"resource", "memory", NULL},
                        s->memory_imbalance);
        }

        w_family(
                &w, "drs_host_utilization_ratio", "gauge",
                "Utilization of a host as drs sees it: smoothed VM demand over capacity (CPU cores, memory).");
        for (size_t i = 0; i < s->n_hosts; i++) {
                const MetricsHost *h = &s->hosts[i];
                if (!h->reported)
                        continue;
                w_sample(
                        &w, "drs_host_utilization_ratio",
                        (const char *const[]){"host", h->name, "resource", "cpu", NULL}, h->cpu);
                w_sample(
                        &w, "drs_host_utilization_ratio",
                        (const char *const[]){"host", h->name, "resource", "memory", NULL}, h->memory);
        }

        w_family(
                &w, "drs_report_age_seconds", "gauge",
                "Seconds since the last good statistics report of a host (since drsd started when there was none).");
        for (size_t i = 0; i < s->n_hosts; i++)
                if (s->hosts[i].report_age_s >= 0)
                        w_sample(
                                &w, "drs_report_age_seconds",
                                (const char *const[]){"host", s->hosts[i].name, NULL},
                                s->hosts[i].report_age_s);

        w_family(
                &w, "drs_host_power_watts", "gauge",
                "Power a host draws now: measured by its power_reading command (source=\"measured\") or its power model at its CPU utilization (source=\"model\"); 0 in standby.");
        for (size_t i = 0; i < s->n_hosts; i++)
                if (s->hosts[i].watts >= 0)
                        w_sample(
                                &w, "drs_host_power_watts",
                                (const char *const[]){
                                        "host", s->hosts[i].name, "source",
                                        s->hosts[i].watts_measured ? "measured" : "model", NULL},
                                s->hosts[i].watts);
        w_family(
                &w, "drs_energy_joules_total", "counter",
                "Energy the hosts drew since drsd started (measured or modelled watts, integrated every collection interval).");
        if (s->have_energy)
                w_sample(&w, "drs_energy_joules_total", NULL, s->energy_j);
        w_family(
                &w, "drs_energy_saved_joules_total", "counter",
                "Energy DPM saved since drsd started against every host on (a host in standby would draw its model's idle watts).");
        if (s->have_energy)
                w_sample(&w, "drs_energy_saved_joules_total", NULL, s->energy_saved_j);

        w_family(
                &w, "drs_move_benefit_predicted", "gauge",
                "Since drsd started: sum of the imbalance gains the plans predicted for the balance and DPM moves measured to their last checkpoint (15 min after completion).");
        w_sample(&w, "drs_move_benefit_predicted", NULL, s->benefit_predicted);
        w_family(
                &w, "drs_move_benefit_realized", "gauge",
                "Since drsd started: sum of the imbalance gains those moves realized 15 min after completion (the counterfactual of the VM back on its source, from measured demand); may decrease when moves make things worse.");
        w_sample(&w, "drs_move_benefit_realized", NULL, s->benefit_realized);
        w_family(
                &w, "drs_moves_measured_total", "counter",
                "Moves whose benefit was measured: outcome=\"helped\" (realized >= 0), \"worse\" (realized < 0), \"superseded\" (the VM moved again, stopped or its source left service first).");
        w_u64(&w, "drs_moves_measured_total", (const char *const[]){"outcome", "helped", NULL},
              s->benefit_measured - s->benefit_worse);
        w_u64(&w, "drs_moves_measured_total", (const char *const[]){"outcome", "worse", NULL},
              s->benefit_worse);
        w_u64(&w, "drs_moves_measured_total", (const char *const[]){"outcome", "superseded", NULL},
              s->benefit_superseded);

        w_family(
                &w, "drs_passes_total", "counter", "Leader passes (collect, plan, act) since drsd started.");
        w_u64(&w, "drs_passes_total", NULL, s->passes);

        w_family(&w, "drs_plan_solve_seconds", "gauge", "Solver time of the last pass's plan.");
        if (c->have_solve)
                w_sample(&w, "drs_plan_solve_seconds", NULL, c->last_solve_s);
        w_histogram(&w, "drs_plan_solve_duration_seconds", "Solver time of the passes' plans.", &c->solve);

        w_family(
                &w, "drs_migrations_total", "counter",
                "Live migrations drs started that have finished, by result (skipped: a precheck refused it).");
        for (int r = 0; r < _MIGRATION_RESULT_MAX; r++)
                w_u64(&w, "drs_migrations_total",
                      (const char *const[]){"result", migration_result_names[r], NULL}, c->migrations[r]);
        w_family(&w, "drs_migrations_running", "gauge", "Live migrations running now.");
        w_u64(&w, "drs_migrations_running", NULL, s->migrations_running);
        w_histogram(
                &w, "drs_migration_duration_seconds", "Wall time of completed live migrations.",
                &c->migration_duration);
        w_histogram(
                &w, "drs_migration_downtime_seconds",
                "Downtime (VM paused) of completed live migrations, as libvirt reports it.",
                &c->migration_downtime);

        w_family(
                &w, "drs_power_actions_total", "counter",
                "DPM power actions by action (standby, power_on) and result (started, completed, failed).");
        for (int a = 0; a < _POWER_ACTION_MAX; a++)
                for (int r = 0; r < _METRICS_POWER_RESULT_MAX; r++)
                        w_u64(&w, "drs_power_actions_total",
                              (const char *const[]){
                                      "action", power_action_names[a], "result", power_result_names[r],
                                      NULL},
                              c->power[a][r]);

        w_family(
                &w, "drs_rollout_state", "gauge",
                "The last rolling maintenance (drsctl rollout) on the leader: 1 for its state (running, paused, done, aborted).");
        for (int r = 0; s->has_rollout && r < _ROLLOUT_STATE_MAX; r++)
                w_u64(&w, "drs_rollout_state",
                      (const char *const[]){"state", rollout_state_to_string((RolloutState) r), NULL},
                      s->rollout_state == (RolloutState) r);
        w_family(
                &w, "drs_rollout_hosts", "gauge",
                "Hosts of the last rollout by step (pending, evacuating, command, returning, health, done, failed, unknown, skipped); their sum is the rollout's size.");
        for (int h = 0; s->has_rollout && h < _ROLLOUT_HOST_STATE_MAX; h++)
                w_u64(&w, "drs_rollout_hosts",
                      (const char *const[]){
                              "state", rollout_host_state_to_string((RolloutHostState) h), NULL},
                      s->rollout_hosts[h]);

        if (ferror(w.f)) {
                fclose(w.f);
                return -ENOMEM;
        }
        if (fclose(w.f) != 0)
                return -ENOMEM;
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- ADDRESS:PORT ---------------------------------------------------------------------------- */

int metrics_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char addr[INET6_ADDRSTRLEN + 2];
        const char *colon, *a = s;
        size_t alen;
        unsigned long port = 0;

        if (!s)
                return -EINVAL;
        colon = strrchr(s, ':');
        if (!colon || !colon[1] || strlen(colon + 1) > 5)
                return -EINVAL;
        for (const char *p = colon + 1; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                port = port * 10 + (unsigned long) (*p - '0');
        }
        if (port > 65535)
                return -EINVAL;
        alen = (size_t) (colon - s);
        bool v6 = alen >= 2 && s[0] == '[' && s[alen - 1] == ']';
        if (v6) {
                a = s + 1;
                alen -= 2;
        }
        if (alen == 0 || alen >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, a, alen);
        addr[alen] = 0;

        *ret = (struct sockaddr_storage){};
        if (v6) {
                struct sockaddr_in6 *sa = (struct sockaddr_in6 *) ret;
                sa->sin6_family = AF_INET6;
                sa->sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, addr, &sa->sin6_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof(*sa);
        } else {
                struct sockaddr_in *sa = (struct sockaddr_in *) ret;
                sa->sin_family = AF_INET;
                sa->sin_port = htons((uint16_t) port);
                if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof(*sa);
        }
        return 0;
}

/* ---- the server ------------------------------------------------------------------------------- */

struct MetricsServer {
        sd_event *event; /* reference held */
        MetricsRenderFn render;
        void *userdata;
        MetricsCounters counters;

        char *address; /* owned; what it serves on, NULL = off */
        uint16_t port;
        struct MHD_Daemon *daemon;  /* owned; owns the listening socket */
        sd_event_source *io;        /* owned; MHD's epoll fd */
        sd_event_source *timer;     /* owned; MHD's next timeout */
        struct MHD_Response *r_404; /* owned */
        struct MHD_Response *r_405; /* owned */
};

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                return;
        /* MHD's messages end in a newline. */
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = 0;
        log_warning("Metrics endpoint: %s", msg);
}

static void server_stop(MetricsServer *s) {
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->daemon)
                MHD_stop_daemon(s->daemon); /* closes the listening socket and every connection */
        s->daemon = NULL;
        free(s->address);
        s->address = NULL;
        s->port = 0;
}

MetricsServer *metrics_server_free(MetricsServer *s) {
        if (!s)
                return NULL;
        server_stop(s);
        if (s->r_404)
                MHD_destroy_response(s->r_404);
        if (s->r_405)
                MHD_destroy_response(s->r_405);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

static struct MHD_Response *static_response(const char *text) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8") !=
                         MHD_YES) {
                MHD_destroy_response(r);
                return NULL;
        }
        return r;
}

int metrics_server_new(sd_event *event, MetricsRenderFn render, void *userdata, MetricsServer **ret) {
        _cleanup_(metrics_server_freep) MetricsServer *s = NULL;

        s = calloc(1, sizeof(MetricsServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->render = render;
        s->userdata = userdata;
        metrics_counters_init(&s->counters);
        s->r_404 = static_response("Not found: the metrics are at /metrics\n");
        s->r_405 = static_response("Method not allowed: GET or HEAD\n");
        if (!s->r_404 || !s->r_405)
                return -ENOMEM;
        if (MHD_add_response_header(s->r_405, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static enum MHD_Result on_request(
        void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
        const char *upload_data, size_t *upload_data_size, void **req_cls) {
        MetricsServer *s = cls;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        /* No request body is accepted: answer at the headers (MHD discards a body). */
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, s->r_405);
        if (!streq(url, "/metrics"))
                return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, s->r_404);

        int k = s->render(s, s->userdata, &text, &len);
        if (k < 0) {
                log_warning_errno(k, "Failed to render the metrics: %m");
                return MHD_NO; /* closes the connection */
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r)
                return MHD_NO;
        TAKE_PTR(text);
        enum MHD_Result res = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
        if (res == MHD_YES)
                res = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (res == MHD_YES)
                res = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return res;
}

/* After every MHD_run(): arm the timer for MHD's next timeout (0 = more to do at once). */
static void server_rearm(MetricsServer *s) {
        MHD_UNSIGNED_LONG_LONG ms = 0;
        int k;

        if (MHD_get_timeout(s->daemon, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        k = sd_event_source_set_time_relative(s->timer, (uint64_t) ms * USEC_PER_MSEC);
        if (k >= 0)
                k = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        if (k < 0)
                log_warning_errno(k, "Metrics endpoint: failed to arm its timer: %m");
}

static void server_run(MetricsServer *s) {
        if (MHD_run(s->daemon) != MHD_YES)
                log_debug("Metrics endpoint: MHD_run() failed");
        server_rearm(s);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        server_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        server_run(userdata);
        return 0;
}

static int listen_socket(const struct sockaddr_storage *sa, socklen_t salen, uint16_t *ret_port) {
        int fd, one = 1;
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);

        fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A restarted drsd must not wait for TIME_WAIT connections of the previous one. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            (sa->ss_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
            bind(fd, (const struct sockaddr *) sa, salen) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &bound, &blen) < 0) {
                int k = -errno;
                close(fd);
                return k;
        }
        *ret_port =
                ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &bound)->sin6_port
                                                  : ((struct sockaddr_in *) &bound)->sin_port);
        return fd;
}

int metrics_server_listen(MetricsServer *s, const char *address) {
        struct sockaddr_storage sa;
        socklen_t salen;
        _cleanup_free_ char *copy = NULL;
        sd_event_source *io = NULL, *timer = NULL;
        struct MHD_Daemon *d;
        uint16_t port = 0;
        int fd, k;

        if (address && !*address)
                address = NULL;
        if (streq_ptr(address, s->address))
                return 0;
        if (!address) {
                server_stop(s);
                return 0;
        }
        k = metrics_parse_listen(address, &sa, &salen);
        if (k < 0)
                return k;
        copy = strdup(address);
        if (!copy)
                return -ENOMEM;

        fd = listen_socket(&sa, salen, &port);
        if (fd == -EADDRINUSE && s->daemon) {
                /* Probably our own port on another address (127.0.0.1:9477 → 0.0.0.0:9477). */
                server_stop(s);
                fd = listen_socket(&sa, salen, &port);
        }
        if (fd < 0)
                return fd;
        /* External polling with epoll: MHD_run() on our loop, never a thread of its own. MHD
         * takes the listening socket (it closes it in MHD_stop_daemon(), not when starting
         * fails). */
        d = MHD_start_daemon(
                MHD_USE_EPOLL | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, on_request, s,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_MAX_CONNECTIONS,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) METRICS_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
        if (!d) {
                close(fd);
                return -EIO;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0) {
                MHD_stop_daemon(d);
                return -EIO;
        }
        k = sd_event_add_io(s->event, &io, info->epoll_fd, EPOLLIN, on_io, s);
        if (k >= 0)
                k = sd_event_add_time_relative(s->event, &timer, CLOCK_MONOTONIC, 0, 0, on_timer, s);
        if (k < 0) {
                sd_event_source_disable_unref(io);
                MHD_stop_daemon(d);
                return k;
        }
        (void) sd_event_source_set_description(io, "metrics-io");
        (void) sd_event_source_set_description(timer, "metrics-timer");
        (void) sd_event_source_set_enabled(timer, SD_EVENT_OFF);

        server_stop(s);
        s->daemon = d;
        s->io = io;
        s->timer = timer;
        s->address = TAKE_PTR(copy);
        s->port = port;
        server_rearm(s);
        return 0;
}

const char *metrics_server_address(const MetricsServer *s) {
        return s ? s->address : NULL;
}

uint16_t metrics_server_port(const MetricsServer *s) {
        return s ? s->port : 0;
}

const MetricsCounters *metrics_server_counters(const MetricsServer *s) {
        return &s->counters;
}

void metrics_server_migration(
        MetricsServer *s, MigrationResult r, uint64_t duration_ms, uint64_t downtime_ms) {
        if (s)
                metrics_counters_migration(&s->counters, r, duration_ms, downtime_ms);
}

void metrics_server_power(MetricsServer *s, PowerAction a, const char *result) {
        MetricsPowerResult r = metrics_power_result_from_string(result);
        if (s && r >= 0)
                metrics_counters_power(&s->counters, a, r);
}

void metrics_server_solve(MetricsServer *s, double seconds) {
        if (s)
                metrics_counters_solve(&s->counters, seconds);
}
