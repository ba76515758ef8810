/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The real drsd's Prometheus endpoint: drsd started on a temporary configuration with
 * metrics_listen on 127.0.0.1 and a free port, scraped over HTTP, the text checked with the
 * strict format checker (and promtool when installed), some values asserted (leader, hosts by
 * state before and after an evacuation, passes, report ages); SIGHUP moves the endpoint and
 * turns it off; a port in use stops drsd at start. The hosts' libvirt URIs point at a closed
 * port of 127.0.0.1: all traffic stays on the loopback. Only the PID this test started is
 * signalled; every wait is bounded. */

#include <sys/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "prom-check.h"
#include "protocol.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static const char *drsd_path;

typedef struct Fixture {
        char *dir;
        char *config;
        char *socket;
        char *log;
        pid_t pid;
        uint16_t port;
} Fixture;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* A free TCP port on 127.0.0.1 (bound, read, closed: free unless someone takes it meanwhile). */
static uint16_t free_port(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static void write_config(Fixture *f, const char *metrics_listen) {
        _cleanup_free_ char *cfg = NULL;
        const struct group *g = getgrgid(getegid());
        assert_non_null(g);
        assert_true(
                asprintf(
                        &cfg,
                        "socket: %s\n"
                        "state_dir: %s/state\n"
                        "policy: %s/policy.yaml\n"
                        "policy_dir: %s/policy.d\n"
                        "admin_group: %s\n"
                        "interval: 1s\n"
                        "metrics_listen: \"%s\"\n"
                        "hosts:\n"
                        "  - name: h1\n"
                        "    uri: qemu+tcp://127.0.0.1:1/system\n"
                        "  - name: h2\n"
                        "    uri: qemu+tcp://127.0.0.1:1/system\n",
                        f->socket, f->dir, f->dir, f->dir, g->gr_name, metrics_listen) > 0);
        assert_int_equal(write_file_atomic(f->config, cfg, strlen(cfg), 0644), 0);
}

static pid_t spawn(Fixture *f) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* The drsd under test dies with the test, even when a runner SIGKILLs the test. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                        _exit(127);
                int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
                        _exit(127);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                execl(drsd_path, drsd_path, "--config", f->config, "--foreground", (char *) NULL);
                _exit(127);
        }
        return pid;
}

static int wait_exit(pid_t pid, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        int status;
        for (;;) {
                pid_t p = waitpid(pid, &status, WNOHANG);
                assert_true(p >= 0);
                if (p == pid)
                        return status;
                if (now_usec() >= deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        fail_msg("drsd (pid %d) did not exit in time", (int) pid);
                }
                usleep(20000);
        }
}

static bool log_contains(Fixture *f, const char *needle) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_file_bounded(f->log, 1 << 20, &buf, &len) < 0)
                return false;
        return strstr(buf, needle) != NULL;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = strdup("/tmp/test-drsd-metrics-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_true(asprintf(&f->config, "%s/drsd.yaml", f->dir) > 0);
        assert_true(asprintf(&f->socket, "%s/run/drsd.sock", f->dir) > 0);
        assert_true(asprintf(&f->log, "%s/drsd.log", f->dir) > 0);
        char path[512];
        snprintf(path, sizeof(path), "%s/policy.yaml", f->dir);
        const char *pol = "balance:\n  interval: 1s\n";
        assert_int_equal(write_file_atomic(path, pol, strlen(pol), 0644), 0);
        f->port = free_port();
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[600];
        if (f->pid > 0) {
                kill(f->pid, SIGKILL);
                waitpid(f->pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->dir);
        free(f->config);
        free(f->socket);
        free(f->log);
        free(f);
        return 0;
}

static void wait_ready(Fixture *f) {
        uint64_t deadline = now_usec() + 10000000;
        for (;;) {
                json_object *o = NULL;
                if (protocol_call(f->socket, -1, "drs.Ping", NULL, 1000000, &o) >= 0) {
                        json_object_put(o);
                        return;
                }
                int status;
                if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
                        f->pid = 0;
                        fail_msg("drsd exited early (status %d)", status);
                }
                assert_true(now_usec() < deadline);
                usleep(20000);
        }
}

/* GET /metrics, checked; fills *ret. */
static void scrape(uint16_t port, PromText *ret) {
        _cleanup_free_ char *ctype = NULL, *body = NULL, *err = NULL;
        size_t len;
        int status = 0;

        int k = prom_http("127.0.0.1", port, "GET", "/metrics", &status, &ctype, &body, &len);
        if (k < 0)
                fail_msg("scrape of 127.0.0.1:%u: %s", (unsigned) port, strerror(-k));
        assert_int_equal(status, 200);
        assert_non_null(ctype);
        assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
        assert_int_equal(strlen(body), len);
        k = prom_check(body, "drs_", ret, &err);
        if (k < 0)
                fail_msg("format check: %s\n%s", err ?: strerror(-k), body);

        if (system("command -v promtool >/dev/null 2>&1") == 0) {
                char path[600];
                snprintf(path, sizeof(path), "/tmp/test-drsd-metrics-scrape-%d", (int) getpid());
                assert_int_equal(write_file_atomic(path, body, len, 0600), 0);
                char cmd[700];
                snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
                int rc = system(cmd);
                unlink(path);
                assert_int_equal(rc, 0);
        }
}

static double value(const PromText *t, const char *name, const char *labels) {
        const PromSample *s = prom_find(t, name, labels);
        if (!s)
                fail_msg("no sample %s{%s}", name, labels);
        return s->value;
}

static void test_scrape(void **state) {
        Fixture *f = *state;
        char listen[64];
        PromText t;

        snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned) f->port);
        write_config(f, listen);
        f->pid = spawn(f);
        wait_ready(f);
        assert_true(log_contains(f, "Serving Prometheus metrics on http://127.0.0.1:"));

        /* Passes run every second: wait for two (bounded). */
        uint64_t deadline = now_usec() + 15000000;
        for (;;) {
                scrape(f->port, &t);
                if (value(&t, "drs_passes_total", "") >= 2)
                        break;
                prom_text_done(&t);
                assert_true(now_usec() < deadline);
                usleep(200000);
        }
        assert_true(value(&t, "drs_leader", "") == 1);
        assert_true(value(&t, "drs_term", "") == 0);
        assert_true(value(&t, "drs_hosts", "state=\"up\"") == 2);
        assert_true(value(&t, "drs_hosts", "state=\"maintenance\"") == 0);
        /* No host answers: no utilization, but report ages (since drsd started). */
        assert_null(prom_find(&t, "drs_host_utilization_ratio", "host=\"h1\",resource=\"cpu\""));
        assert_null(prom_find(&t, "drs_cluster_imbalance_ratio", "resource=\"cpu\""));
        assert_true(value(&t, "drs_report_age_seconds", "host=\"h1\"") >= 0);
        assert_true(value(&t, "drs_report_age_seconds", "host=\"h2\"") < 60);
        assert_true(value(&t, "drs_migrations_total", "result=\"completed\"") == 0);
        assert_true(value(&t, "drs_migrations_running", "") == 0);
        assert_true(value(&t, "drs_power_actions_total", "action=\"power_on\",result=\"started\"") == 0);
        assert_true(value(&t, "drs_plan_solve_duration_seconds_count", "") >= 1);
        assert_true(value(&t, "drs_plan_solve_seconds", "") >= 0);
        prom_text_done(&t);

        /* An evacuation shows in the host states. */
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        json_object *reply = NULL;
        json_object_object_add(params, "host", json_object_new_string("h2"));
        assert_int_equal(protocol_call(f->socket, -1, "drs.Evacuate", params, 5000000, &reply), 0);
        json_object *p;
        const char *error = NULL, *message = NULL, *perr = NULL;
        assert_int_equal(protocol_reply_parse(reply, &p, &error, &message, &perr), 0);
        if (error)
                fail_msg("drs.Evacuate: %s: %s", error, message ?: "");
        json_object_put(reply);
        scrape(f->port, &t);
        assert_true(value(&t, "drs_hosts", "state=\"up\"") == 1);
        assert_true(value(&t, "drs_hosts", "state=\"entering-maintenance\"") == 1);
        prom_text_done(&t);

        /* Not /metrics: 404. */
        int status = 0;
        assert_int_equal(prom_http("127.0.0.1", f->port, "GET", "/", &status, NULL, NULL, NULL), 0);
        assert_int_equal(status, 404);

        /* SIGHUP with another port: the endpoint moves. */
        uint16_t port2 = free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned) port2);
        write_config(f, listen);
        assert_int_equal(kill(f->pid, SIGHUP), 0);
        deadline = now_usec() + 10000000;
        while (prom_http("127.0.0.1", port2, "GET", "/metrics", &status, NULL, NULL, NULL) < 0) {
                assert_true(now_usec() < deadline);
                usleep(50000);
        }
        assert_int_equal(status, 200);
        assert_true(prom_http("127.0.0.1", f->port, "GET", "/metrics", &status, NULL, NULL, NULL) < 0);
        scrape(port2, &t);
        assert_true(value(&t, "drs_hosts", "state=\"entering-maintenance\"") == 1);
        prom_text_done(&t);

        /* SIGHUP with metrics_listen empty: off. */
        write_config(f, "");
        assert_int_equal(kill(f->pid, SIGHUP), 0);
        deadline = now_usec() + 10000000;
        while (prom_http("127.0.0.1", port2, "GET", "/metrics", &status, NULL, NULL, NULL) >= 0) {
                assert_true(now_usec() < deadline);
                usleep(50000);
        }
        while (!log_contains(f, "Metrics endpoint off")) {
                assert_true(now_usec() < deadline);
                usleep(50000);
        }

        assert_int_equal(kill(f->pid, SIGTERM), 0);
        status = wait_exit(f->pid, 15000000);
        f->pid = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_port_in_use(void **state) {
        Fixture *f = *state;
        char addr[64];
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);

        /* Hold a listening socket; drsd must refuse to start on its port. */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned) ntohs(sa.sin_port));
        write_config(f, addr);
        int status = wait_exit(spawn(f), 15000000);
        close(fd);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_true(log_contains(f, "Failed to serve the metrics on"));

        /* A name instead of an address literal: drsd.yaml refuses it (file:line:column), drsd exits. */
        write_config(f, "localhost:9477");
        status = wait_exit(spawn(f), 15000000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_true(log_contains(f, "invalid value for 'metrics_listen'"));
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "Usage: %s PATH-TO-DRSD\n", argv[0]);
                return 2;
        }
        drsd_path = argv[1];
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_scrape, setup, teardown),
                cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
