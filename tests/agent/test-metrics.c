/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The Prometheus endpoint: the pure renderer on synthetic states (checked by the strict format
 * checker, and by promtool when it is installed), the listen-address parser, the checker's own
 * strictness, and the libmicrohttpd server on an in-process sd-event loop (loopback only). */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "prom-check.h"

static const PromSample *must_find(const PromText *t, const char *name, const char *labels) {
        const PromSample *s = prom_find(t, name, labels);
        if (!s)
                fail_msg("no sample %s{%s}", name, labels);
        return s;
}

static void check_text(const char *text, PromText *ret) {
        _cleanup_free_ char *err = NULL;
        int k = prom_check(text, "drs_", ret, &err);
        if (k < 0)
                fail_msg("format check: %s\n%s", err ?: strerror(-k), text);
}

/* promtool check metrics, when Debian's prometheus package is installed. */
static void promtool_check(const char *text) {
        if (system("command -v promtool >/dev/null 2>&1") != 0)
                return;
        char path[] = "/tmp/test-metrics-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
        int status = system(cmd);
        unlink(path);
        assert_int_equal(status, 0);
}

static void test_render_empty(void **state) {
        MetricsCounters c;
        MetricsState s = {.counters = &c};
        _cleanup_free_ char *text = NULL;
        PromText t;
        size_t len;

        metrics_counters_init(&c);
        assert_int_equal(metrics_render(&s, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        check_text(text, &t);
        promtool_check(text);
        assert_true(must_find(&t, "drs_leader", "")->value == 0);
        assert_true(must_find(&t, "drs_hosts", "state=\"up\"")->value == 0);
        assert_true(must_find(&t, "drs_passes_total", "")->value == 0);
        /* Families without samples keep their HELP/TYPE; no series for what is unknown. */
        assert_non_null(strstr(text, "# TYPE drs_cluster_imbalance_ratio gauge\n"));
        assert_null(prom_find(&t, "drs_cluster_imbalance_ratio", "resource=\"cpu\""));
        assert_null(prom_find(&t, "drs_plan_solve_seconds", ""));
        assert_true(must_find(&t, "drs_migration_duration_seconds_count", "")->value == 0);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"+Inf\"")->value == 0);
        prom_text_done(&t);
}

static void test_render_values(void **state) {
        MetricsCounters c;
        MetricsHost hosts[] = {
                {.name = "h1",
                 .mode = HOST_MODE_UP,
                 .reported = true,
                 .cpu = 0.5,
                 .memory = 0.25,
                 .report_age_s = 1.5,
                 .watts = 187,
                 .watts_measured = true},
                {.name = "h2",
                 .mode = HOST_MODE_MAINTENANCE,
                 .reported = true,
                 .cpu = 0,
                 .memory = 0.1,
                 .report_age_s = 0,
                 .watts = 96.5},
                {.name = "h3", .mode = HOST_MODE_STANDBY, .report_age_s = 600, .watts = 0},
                {.name = "odd\"na\\me\n", .mode = HOST_MODE_UP, .report_age_s = -1, .watts = -1},
        };
        MetricsState s = {
                .leader = true,
                .term = 7,
                .hosts = hosts,
                .n_hosts = ELEMENTSOF(hosts),
                .have_imbalance = true,
                .cpu_imbalance = 0.125,
                .memory_imbalance = 0.1,
                .passes = 42,
                .migrations_running = 2,
                .counters = &c,
                .have_energy = true,
                .energy_j = 3.6e6,
                .energy_saved_j = 7.2e5,
                .has_rollout = true,
                .rollout_state = ROLLOUT_PAUSED,
                .rollout_hosts =
                        {[ROLLOUT_HOST_DONE] = 1, [ROLLOUT_HOST_FAILED] = 1, [ROLLOUT_HOST_PENDING] = 3},
        };
        _cleanup_free_ char *text = NULL;
        PromText t;
        size_t len;

        metrics_counters_init(&c);
        metrics_counters_migration(&c, MIGRATION_OK, 4000, 50);   /* 4 s, 50 ms */
        metrics_counters_migration(&c, MIGRATION_OK, 30000, 0);   /* downtime unknown: not observed */
        metrics_counters_migration(&c, MIGRATION_OK, 7200000, 2); /* 2 h: above every bucket */
        metrics_counters_migration(&c, MIGRATION_FAILED, 1000, 0);
        metrics_counters_migration(&c, MIGRATION_SKIPPED, 0, 0);
        metrics_counters_migration(&c, (MigrationResult) 99, 0, 0); /* ignored */
        metrics_counters_power(&c, POWER_ON, METRICS_POWER_STARTED);
        metrics_counters_power(&c, POWER_ON, METRICS_POWER_FAILED);
        metrics_counters_power(&c, POWER_STANDBY, METRICS_POWER_COMPLETED);
        metrics_counters_power(&c, POWER_STANDBY, _METRICS_POWER_RESULT_INVALID); /* ignored */
        metrics_counters_solve(&c, 0.002);
        metrics_counters_solve(&c, 0.01); /* on a bound: counted in that bucket */
        metrics_counters_solve(&c, NAN);  /* ignored */

        assert_int_equal(metrics_render(&s, &text, &len), 0);
        check_text(text, &t);
        promtool_check(text);

        assert_true(must_find(&t, "drs_leader", "")->value == 1);
        assert_true(must_find(&t, "drs_rollout_state", "state=\"paused\"")->value == 1);
        assert_true(must_find(&t, "drs_rollout_state", "state=\"running\"")->value == 0);
        assert_true(must_find(&t, "drs_rollout_hosts", "state=\"done\"")->value == 1);
        assert_true(must_find(&t, "drs_rollout_hosts", "state=\"pending\"")->value == 3);
        assert_true(must_find(&t, "drs_rollout_hosts", "state=\"unknown\"")->value == 0);
        assert_true(must_find(&t, "drs_host_power_watts", "host=\"h1\",source=\"measured\"")->value == 187);
        assert_true(must_find(&t, "drs_host_power_watts", "host=\"h2\",source=\"model\"")->value == 96.5);
        assert_true(must_find(&t, "drs_host_power_watts", "host=\"h3\",source=\"model\"")->value == 0);
        assert_null(prom_find(&t, "drs_host_power_watts", "host=\"odd\\\"na\\\\me\\n\",source=\"model\""));
        assert_true(must_find(&t, "drs_energy_joules_total", "")->value == 3.6e6);
        assert_true(must_find(&t, "drs_energy_saved_joules_total", "")->value == 7.2e5);
        assert_true(must_find(&t, "drs_term", "")->value == 7);
        assert_true(must_find(&t, "drs_hosts", "state=\"up\"")->value == 2);
        assert_true(must_find(&t, "drs_hosts", "state=\"maintenance\"")->value == 1);
        assert_true(must_find(&t, "drs_hosts", "state=\"standby\"")->value == 1);
        assert_true(must_find(&t, "drs_hosts", "state=\"entering-maintenance\"")->value == 0);
        assert_true(must_find(&t, "drs_hosts", "state=\"power-on-failed\"")->value == 0);
        assert_true(must_find(&t, "drs_cluster_imbalance_ratio", "resource=\"cpu\"")->value == 0.125);
        assert_true(must_find(&t, "drs_cluster_imbalance_ratio", "resource=\"memory\"")->value == 0.1);
        assert_true(
                must_find(&t, "drs_host_utilization_ratio", "host=\"h1\",resource=\"cpu\"")->value == 0.5);
        assert_true(
                must_find(&t, "drs_host_utilization_ratio", "host=\"h2\",resource=\"memory\"")->value ==
                0.1);
        assert_null(prom_find(&t, "drs_host_utilization_ratio", "host=\"h3\",resource=\"cpu\""));
        assert_true(must_find(&t, "drs_report_age_seconds", "host=\"h1\"")->value == 1.5);
        assert_true(must_find(&t, "drs_report_age_seconds", "host=\"h3\"")->value == 600);
        assert_null(prom_find(&t, "drs_report_age_seconds", "host=\"odd\\\"na\\\\me\\n\""));
        assert_true(must_find(&t, "drs_passes_total", "")->value == 42);
        assert_true(must_find(&t, "drs_migrations_running", "")->value == 2);

        assert_true(must_find(&t, "drs_plan_solve_seconds", "")->value == 0.01);
        assert_true(must_find(&t, "drs_plan_solve_duration_seconds_bucket", "le=\"0.001\"")->value == 0);
        assert_true(must_find(&t, "drs_plan_solve_duration_seconds_bucket", "le=\"0.005\"")->value == 1);
        assert_true(must_find(&t, "drs_plan_solve_duration_seconds_bucket", "le=\"0.01\"")->value == 2);
        assert_true(must_find(&t, "drs_plan_solve_duration_seconds_count", "")->value == 2);
        assert_true(fabs(must_find(&t, "drs_plan_solve_duration_seconds_sum", "")->value - 0.012) < 1e-12);

        assert_true(must_find(&t, "drs_migrations_total", "result=\"completed\"")->value == 3);
        assert_true(must_find(&t, "drs_migrations_total", "result=\"failed\"")->value == 1);
        assert_true(must_find(&t, "drs_migrations_total", "result=\"skipped\"")->value == 1);
        assert_true(must_find(&t, "drs_migrations_total", "result=\"aborted\"")->value == 0);
        assert_true(must_find(&t, "drs_migrations_total", "result=\"lost\"")->value == 0);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"2.5\"")->value == 0);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"5\"")->value == 1);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"30\"")->value == 2);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"3600\"")->value == 2);
        assert_true(must_find(&t, "drs_migration_duration_seconds_bucket", "le=\"+Inf\"")->value == 3);
        assert_true(must_find(&t, "drs_migration_duration_seconds_sum", "")->value == 7234);
        assert_true(must_find(&t, "drs_migration_downtime_seconds_count", "")->value == 2);
        assert_true(must_find(&t, "drs_migration_downtime_seconds_bucket", "le=\"0.005\"")->value == 1);
        assert_true(must_find(&t, "drs_migration_downtime_seconds_bucket", "le=\"0.05\"")->value == 2);
        assert_true(fabs(must_find(&t, "drs_migration_downtime_seconds_sum", "")->value - 0.052) < 1e-12);

        assert_true(
                must_find(&t, "drs_power_actions_total", "action=\"power_on\",result=\"started\"")->value ==
                1);
        assert_true(
                must_find(&t, "drs_power_actions_total", "action=\"power_on\",result=\"failed\"")->value ==
                1);
        assert_true(
                must_find(&t, "drs_power_actions_total", "action=\"standby\",result=\"completed\"")->value ==
                1);
        assert_true(
                must_find(&t, "drs_power_actions_total", "action=\"standby\",result=\"started\"")->value ==
                0);

        /* Exact lines: HELP/TYPE order, escaping, number formatting. */
        assert_non_null(strstr(text, "# HELP drs_passes_total "));
        assert_non_null(strstr(text, "\n# TYPE drs_passes_total counter\ndrs_passes_total 42\n"));
        assert_non_null(strstr(text, "drs_hosts{state=\"entering-maintenance\"} 0\n"));
        assert_non_null(strstr(text, "drs_host_utilization_ratio{host=\"h2\",resource=\"memory\"} 0.1\n"));
        assert_non_null(strstr(text, "drs_plan_solve_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert_true(t.n_families >= 14);
        prom_text_done(&t);

        /* A host name needing escapes (drsd.yaml forbids them; the renderer does not rely on it). */
        hosts[3].reported = true;
        hosts[3].report_age_s = 3;
        free(text);
        text = NULL;
        assert_int_equal(metrics_render(&s, &text, &len), 0);
        check_text(text, &t);
        assert_non_null(strstr(text, "drs_report_age_seconds{host=\"odd\\\"na\\\\me\\n\"} 3\n"));
        assert_true(must_find(&t, "drs_report_age_seconds", "host=\"odd\\\"na\\\\me\\n\"")->value == 3);
        prom_text_done(&t);
}

static void test_power_result(void **state) {
        assert_int_equal(metrics_power_result_from_string("started"), METRICS_POWER_STARTED);
        assert_int_equal(metrics_power_result_from_string("completed"), METRICS_POWER_COMPLETED);
        assert_int_equal(metrics_power_result_from_string("failed"), METRICS_POWER_FAILED);
        assert_int_equal(metrics_power_result_from_string("command-done"), _METRICS_POWER_RESULT_INVALID);
        assert_int_equal(metrics_power_result_from_string(NULL), _METRICS_POWER_RESULT_INVALID);
}

static void test_parse_listen(void **state) {
        struct sockaddr_storage sa;
        socklen_t len;

        assert_int_equal(metrics_parse_listen("127.0.0.1:9477", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET);
        assert_int_equal(ntohs(((struct sockaddr_in *) &sa)->sin_port), 9477);
        assert_int_equal(metrics_parse_listen("0.0.0.0:1", &sa, &len), 0);
        assert_int_equal(metrics_parse_listen("[::1]:9477", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET6);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_int_equal(ntohs(((struct sockaddr_in6 *) &sa)->sin6_port), 9477);
        assert_int_equal(metrics_parse_listen("[::]:9477", &sa, &len), 0);
        assert_int_equal(metrics_parse_listen("[fe80::1]:80", &sa, &len), 0);

        const char *bad[] = {
                "localhost:9477",   "::1:9477",      "[::1]",
                "127.0.0.1",        "127.0.0.1:",    ":9477",
                "127.0.0.1:65536",  "127.0.0.1:9x7", "[::1:9477",
                "[127.0.0.1]:9477", "1.2.3:9477",    "",
                "[]:9477",          "127.0.0.1: 1",  "127.0.0.1:123456",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (metrics_parse_listen(bad[i], &sa, &len) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(metrics_parse_listen(NULL, &sa, &len), -EINVAL);
}

/* The checker refuses what Prometheus would refuse, and what drsd must not emit. */
static void test_checker_strict(void **state) {
        static const char *const bad[] = {
                "",
                "drs_x 1\n",                                       /* no HELP/TYPE */
                "# TYPE drs_x gauge\ndrs_x 1\n",                   /* no HELP */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x 1",     /* no newline */
                "# HELP drs_x x\n# TYPE drs_x gauge\n\ndrs_x 1\n", /* blank line */
                "# HELP drs_x x\n# TYPE drs_x counter\ndrs_x 1\n", /* counter without _total */
                "# HELP drs_x_total x\n# TYPE drs_x_total gauge\ndrs_x_total 1\n", /* _total not a counter */
                "# HELP drs_x_total x\n# TYPE drs_x_total counter\ndrs_x_total -1\n",
                "# HELP drs_x_ms x\n# TYPE drs_x_ms gauge\ndrs_x_ms 1\n", /* not base units */
                "# HELP x x\n# TYPE x gauge\nx 1\n",                      /* prefix */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{a=\"1\"} 1\ndrs_x{a=\"1\"} 2\n", /* series twice
                                                                                             */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{a=\"1\",a=\"2\"} 1\n",           /* label twice */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{a=\"\\t\"} 1\n",                 /* bad escape */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{a=1} 1\n",                       /* unquoted */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{1a=\"1\"} 1\n",                  /* label name */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x{__a=\"1\"} 1\n",                 /* reserved */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x 1 1700000000\n",                 /* timestamp */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x nan\n", /* Go spelling only */
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x 0x10\n",
                "# HELP drs_x x\n# TYPE drs_x gauge\ndrs_x 1\n# HELP drs_y y\n# TYPE drs_y gauge\ndrs_y 1\n"
                "drs_x 2\n", /* not contiguous */
                "# HELP drs_x x\n# TYPE drs_x gauge\n# HELP drs_x x\ndrs_x 1\n",
                "# HELP drs_x x\n# TYPE drs_x summary\ndrs_x 1\n",
                /* histograms */
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{le=\"1\"} 1\ndrs_h_sum 1\ndrs_h_count 1\n",
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{le=\"1\"} 2\ndrs_h_bucket{le=\"+Inf\"} 1\n"
                "drs_h_sum 1\ndrs_h_count 1\n", /* not monotone */
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{le=\"2\"} 0\ndrs_h_bucket{le=\"1\"} 0\n"
                "drs_h_bucket{le=\"+Inf\"} 1\ndrs_h_sum 1\ndrs_h_count 1\n", /* bounds not ascending */
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{le=\"+Inf\"} 2\ndrs_h_sum 1\ndrs_h_count 1\n",
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{le=\"+Inf\"} 1\ndrs_h_count 1\n", /* no
                                                                                                           sum
                                                                                                         */
                "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h 1\n",
                "# HELP drs_h h\n# TYPE drs_h gauge\ndrs_h{le=\"1\"} 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                PromText t;
                _cleanup_free_ char *err = NULL;
                if (prom_check(bad[i], "drs_", &t, &err) != -EBADMSG)
                        fail_msg("accepted #%zu:\n%s", i, bad[i]);
                assert_non_null(err);
                assert_null(t.samples);
        }

        PromText t;
        assert_int_equal(
                prom_check(
                        "# HELP drs_h h\n# TYPE drs_h histogram\ndrs_h_bucket{a=\"x\",le=\"0.5\"} 1\n"
                        "drs_h_bucket{a=\"x\",le=\"+Inf\"} 3\ndrs_h_sum{a=\"x\"} 4.5\ndrs_h_count{a=\"x\"} 3\n"
                        "# HELP drs_g g\n# TYPE drs_g gauge\ndrs_g NaN\ndrs_g{b=\"q\\\"\"} -Inf\n",
                        "drs_", &t, NULL),
                0);
        assert_int_equal(t.n_families, 2);
        assert_true(must_find(&t, "drs_h_count", "a=\"x\"")->value == 3);
        assert_true(isnan(must_find(&t, "drs_g", "")->value));
        prom_text_done(&t);
}

/* ---- the server on an in-process loop ---------------------------------------------------------- */

typedef struct Scrape {
        const char *address;
        uint16_t port;
        const char *method, *path;
        int k, status;
        char *content_type, *body;
        size_t len;
        volatile int done;
} Scrape;

static void *scrape_thread(void *p) {
        Scrape *s = p;
        s->k = prom_http(
                s->address, s->port, s->method, s->path, &s->status, &s->content_type, &s->body, &s->len);
        __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

static void scrape(sd_event *e, Scrape *s) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, scrape_thread, s), 0);
        for (int i = 0; i < 1000 && !__atomic_load_n(&s->done, __ATOMIC_SEQ_CST); i++)
                assert_true(sd_event_run(e, 10000) >= 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(s->done);
}

static int n_renders;

static int render_fixed(MetricsServer *s, void *userdata, char **ret, size_t *ret_len) {
        MetricsState st = {.leader = true, .passes = 5, .counters = metrics_server_counters(s)};
        n_renders++;
        return metrics_render(&st, ret, ret_len);
}

static void server_roundtrip(const char *listen, const char *client) {
        sd_event *e = NULL;
        _cleanup_(metrics_server_freep) MetricsServer *srv = NULL;
        PromText t;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(metrics_server_new(e, render_fixed, NULL, &srv), 0);
        assert_null(metrics_server_address(srv));
        assert_int_equal(metrics_server_listen(srv, listen), 0);
        assert_string_equal(metrics_server_address(srv), listen);
        uint16_t port = metrics_server_port(srv);
        assert_true(port > 0);
        metrics_server_migration(srv, MIGRATION_ABORTED, 1000, 0);
        metrics_server_power(srv, POWER_STANDBY, "started");
        metrics_server_power(srv, POWER_STANDBY, "command-done"); /* not a counted result */
        metrics_server_solve(srv, 0.5);

        Scrape s = {.address = client, .port = port, .method = "GET", .path = "/metrics"};
        n_renders = 0;
        scrape(e, &s);
        assert_int_equal(s.k, 0);
        assert_int_equal(s.status, 200);
        assert_string_equal(s.content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert_int_equal(n_renders, 1);
        check_text(s.body, &t);
        assert_true(must_find(&t, "drs_passes_total", "")->value == 5);
        assert_true(must_find(&t, "drs_migrations_total", "result=\"aborted\"")->value == 1);
        assert_true(
                must_find(&t, "drs_power_actions_total", "action=\"standby\",result=\"started\"")->value ==
                1);
        assert_true(must_find(&t, "drs_plan_solve_seconds", "")->value == 0.5);
        prom_text_done(&t);
        free(s.body);
        free(s.content_type);

        Scrape h = {.address = client, .port = port, .method = "HEAD", .path = "/metrics"};
        scrape(e, &h);
        assert_int_equal(h.k, 0);
        assert_int_equal(h.status, 200);
        assert_int_equal(h.len, 0);
        free(h.body);
        free(h.content_type);

        Scrape nf = {.address = client, .port = port, .method = "GET", .path = "/"};
        scrape(e, &nf);
        assert_int_equal(nf.status, 404);
        free(nf.body);
        free(nf.content_type);

        Scrape na = {.address = client, .port = port, .method = "DELETE", .path = "/metrics"};
        scrape(e, &na);
        assert_int_equal(na.status, 405);
        free(na.body);
        free(na.content_type);

        /* The same address again: nothing happens; "" stops serving. */
        assert_int_equal(metrics_server_listen(srv, listen), 0);
        assert_int_equal(metrics_server_port(srv), port);
        assert_int_equal(metrics_server_listen(srv, ""), 0);
        assert_null(metrics_server_address(srv));
        assert_true(prom_http(client, port, "GET", "/metrics", &s.status, NULL, NULL, NULL) < 0);

        srv = metrics_server_free(srv);
        sd_event_unref(e);
}

static void test_server_ipv4(void **state) {
        server_roundtrip("127.0.0.1:0", "127.0.0.1");
}

static void test_server_ipv6(void **state) {
        /* Skipped where the loopback has no IPv6 (some containers). */
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
        if (fd >= 0)
                close(fd);
        if (!ok)
                skip();
        server_roundtrip("[::1]:0", "::1");
}

static void test_server_errors(void **state) {
        sd_event *e = NULL;
        _cleanup_(metrics_server_freep) MetricsServer *a = NULL, *b = NULL;
        char addr[64];

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(metrics_server_new(e, render_fixed, NULL, &a), 0);
        assert_int_equal(metrics_server_new(e, render_fixed, NULL, &b), 0);
        assert_int_equal(metrics_server_listen(a, "localhost:9477"), -EINVAL);
        assert_int_equal(metrics_server_listen(a, "127.0.0.1:0"), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned) metrics_server_port(a));
        /* Another server on a port in use: refused, and a keeps serving. */
        assert_int_equal(metrics_server_listen(b, addr), -EADDRINUSE);
        assert_null(metrics_server_address(b));
        assert_non_null(metrics_server_address(a));
        /* The same server moving to its own port on another spelling of the address works. */
        assert_int_equal(metrics_server_listen(a, addr), 0);
        assert_string_equal(metrics_server_address(a), addr);
        a = metrics_server_free(a);
        b = metrics_server_free(b);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render_empty),   cmocka_unit_test(test_render_values),
                cmocka_unit_test(test_power_result),   cmocka_unit_test(test_parse_listen),
                cmocka_unit_test(test_checker_strict), cmocka_unit_test(test_server_ipv4),
                cmocka_unit_test(test_server_ipv6),    cmocka_unit_test(test_server_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
