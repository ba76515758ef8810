/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Prometheus endpoint: GET /metrics in the text exposition format 0.0.4, drs-level series
 * only (drsd.yaml's metrics_listen; off when unset).
 *
 * Two parts:
 *
 *   metrics_render()   pure: a MetricsState (what the Manager sees now, plus the counters and
 *                      histograms kept here) → the exposition text. Unit-tested in
 *                      tests/agent/test-metrics.c.
 *   MetricsServer      the counters and histograms, fed by the Manager where things happen
 *                      (metrics_server_migration/_power/_solve), and an optional libmicrohttpd
 *                      daemon serving them.
 *
 * Threading: none of its own. The daemon runs in MHD's external-polling epoll mode: MHD's
 * epoll fd is one IO source on the Manager's sd-event loop (plus a timer for MHD's connection
 * timeouts), so MHD_run() — and with it the request handler — runs on the main thread, the
 * one that owns the Manager's state. A scrape calls the render callback, which builds a
 * MetricsState from the Manager and renders it: every scrape is current (report ages included),
 * and there is no snapshot to keep in sync and no lock. Sockets are non-blocking; a scrape of a
 * cluster of a hundred hosts renders in microseconds, so the loop (and its watchdog) never
 * waits on a client. At most METRICS_MAX_CONNECTIONS clients, each closed after
 * METRICS_CONNECTION_TIMEOUT_S of silence. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "admission.h"
#include "macro.h"
#include "solver.h"
#include "rollout.h"
#include "state.h"

#define METRICS_MAX_BUCKETS 16
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_CONNECTION_TIMEOUT_S 10
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- counters and histograms ------------------------------------------------------------- */

typedef struct MetricsHistogram {
        const double *le; /* static; upper bounds, ascending (+Inf is implied) */
        size_t n_le;
        uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; [n_le] = above the last */
        uint64_t count;
        double sum;
} MetricsHistogram;

/* Initializes with the given bounds (n_le <= METRICS_MAX_BUCKETS). */
void metrics_histogram_init(MetricsHistogram *h, const double *le, size_t n_le);
/* Adds one observation (NaN is ignored). */
void metrics_histogram_observe(MetricsHistogram *h, double v);

/* The results a power action is counted by. */
typedef enum MetricsPowerResult {
        METRICS_POWER_STARTED,
        METRICS_POWER_COMPLETED,
        METRICS_POWER_FAILED,
        _METRICS_POWER_RESULT_MAX,
        _METRICS_POWER_RESULT_INVALID = -1,
} MetricsPowerResult;

/* "started", "completed", "failed" (the history's result words); others: invalid. */
MetricsPowerResult metrics_power_result_from_string(const char *s);

typedef struct MetricsCounters {
        uint64_t migrations[_MIGRATION_RESULT_MAX];
        uint64_t power[_POWER_ACTION_MAX][_METRICS_POWER_RESULT_MAX];
        bool have_solve;
        double last_solve_s;
        MetricsHistogram solve;              /* leader passes' plans, seconds */
        MetricsHistogram migration_duration; /* completed migrations, seconds */
        MetricsHistogram migration_downtime; /* completed migrations with a known downtime, seconds */
} MetricsCounters;

void metrics_counters_init(MetricsCounters *c);
/* A migration finished (every result counts; duration and downtime of completed ones feed the
 * histograms, a downtime of 0 = unknown is left out). */
void metrics_counters_migration(
        MetricsCounters *c, MigrationResult r, uint64_t duration_ms, uint64_t downtime_ms);
void metrics_counters_power(MetricsCounters *c, PowerAction a, MetricsPowerResult r);
void metrics_counters_solve(MetricsCounters *c, double seconds);

/* ---- the renderer -------------------------------------------------------------------------- */

typedef struct MetricsHost {
        const char *name;
        HostMode mode;
        bool reported;       /* cpu/memory are valid: the host has a report */
        double cpu, memory;  /* utilization as the leader sees it (demand / capacity) */
        double report_age_s; /* seconds since its last good report; < 0 = leave out */
        double watts;        /* power draw now (PowerMeter); < 0 = unknown, leave out */
        bool watts_measured; /* from its power_reading command, else its power model */
} MetricsHost;

typedef struct MetricsState {
        bool leader;
        uint64_t term;
        const MetricsHost *hosts;
        size_t n_hosts;
        bool have_imbalance; /* at least one up host with a fresh report */
        double cpu_imbalance, memory_imbalance;
        uint64_t passes;
        unsigned migrations_running;
        /* Energy since drsd started (PowerMeter): drawn by the hosts, saved by DPM against every
         * host on. have_energy false: leave out. */
        bool have_energy;
        double energy_j, energy_saved_j;
        /* Moves measured to their last checkpoint since drsd started (this drsd as leader):
         * predicted and realized gains summed, how many made the balance worse, how many
         * measurements ended early (the VM moved again, stopped, its source left 'up'). */
        uint64_t benefit_measured, benefit_worse, benefit_superseded;
        double benefit_predicted, benefit_realized;
        const MetricsCounters *counters; /* never NULL */
        /* Rolling maintenance (drsctl rollout): the leader's last rollout; none: has_rollout false. */
        bool has_rollout;
        RolloutState rollout_state;
        uint64_t rollout_hosts[_ROLLOUT_HOST_STATE_MAX]; /* its hosts by step */
} MetricsState;

/* The exposition text (NUL-terminated, newly allocated; *ret_len without the NUL). Every family
 * has HELP and TYPE lines, families in a fixed order, label values escaped. */
int metrics_render(const MetricsState *s, char **ret, size_t *ret_len);

/* ---- ADDRESS:PORT ---------------------------------------------------------------------------- */

/* "1.2.3.4:PORT" or "[v6]:PORT" (address literals only, no names) → a sockaddr. -EINVAL when it
 * is neither. */
int metrics_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* ---- the server ------------------------------------------------------------------------------- */

typedef struct MetricsServer MetricsServer;

/* Fills a MetricsState from the caller's world and renders it (metrics_render()); on the
 * sd-event thread. */
typedef int (*MetricsRenderFn)(MetricsServer *s, void *userdata, char **ret, size_t *ret_len);

int metrics_server_new(sd_event *event, MetricsRenderFn render, void *userdata, MetricsServer **ret);
MetricsServer *metrics_server_free(MetricsServer *s); /* NULL-safe; closes the listening socket */
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsServer *, metrics_server_free);

/* Serves on address (metrics_parse_listen() syntax), replacing the current listener; NULL or ""
 * stops serving. Unchanged address: nothing happens. On failure the old listener stays, unless
 * the new address's port was in use (then it was stopped, as it probably held that port). */
int metrics_server_listen(MetricsServer *s, const char *address);
/* What it serves on now (NULL = off), and the port actually bound (useful with port 0). */
const char *metrics_server_address(const MetricsServer *s);
uint16_t metrics_server_port(const MetricsServer *s);

/* The counters (NULL-safe feeders for the Manager's hooks). */
const MetricsCounters *metrics_server_counters(const MetricsServer *s);
void metrics_server_migration(
        MetricsServer *s, MigrationResult r, uint64_t duration_ms, uint64_t downtime_ms);
void metrics_server_power(MetricsServer *s, PowerAction a, const char *result);
void metrics_server_solve(MetricsServer *s, double seconds);
