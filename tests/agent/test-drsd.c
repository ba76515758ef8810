/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The real drsd binary: started on a small configuration in a temporary directory, talked to
 * over its socket, reloaded with a broken policy (SIGHUP and drs.Reload), stopped with SIGTERM.
 * Only the PID this test started is signalled; every wait is bounded. */

#include <sys/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "protocol.h"

static const char *drsd_path;

typedef struct Fixture {
        char *dir;
        char *config;
        char *socket;
        char *log;
        pid_t pid;
} Fixture;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static void write_text(const char *dir, const char *name, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static pid_t spawn(Fixture *f, const char *extra_arg) {
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
                execl(drsd_path, drsd_path, "--config", f->config, "--foreground", extra_arg, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* waitpid with a deadline; returns the status, fails the test on timeout. */
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

static json_object *call(Fixture *f, const char *method, json_object *params) {
        json_object *r = NULL;
        int k = protocol_call(f->socket, -1, method, params, 5000000, &r);
        if (k < 0)
                fail_msg("%s: %s", method, strerror(-k));
        return r;
}

static json_object *params_of(json_object *reply, const char **ret_error, const char **ret_message) {
        json_object *p;
        const char *err;
        assert_int_equal(protocol_reply_parse(reply, &p, ret_error, ret_message, &err), 0);
        return p;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = strdup("/tmp/test-drsd-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_true(asprintf(&f->config, "%s/drsd.yaml", f->dir) > 0);
        assert_true(asprintf(&f->socket, "%s/run/drsd.sock", f->dir) > 0);
        assert_true(asprintf(&f->log, "%s/drsd.log", f->dir) > 0);
        char *cfg;
        assert_true(
                asprintf(
                        &cfg,
                        "socket: %s\n"
                        "state_dir: %s/state\n"
                        "policy: %s/policy.yaml\n"
                        "policy_dir: %s/policy.d\n"
                        "hosts:\n"
                        "  - name: h1\n"
                        "    uri: qemu+tcp://h1/system\n",
                        f->socket, f->dir, f->dir, f->dir) > 0);
        write_text(f->dir, "drsd.yaml", cfg);
        free(cfg);
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 4\n");
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

static bool log_contains(Fixture *f, const char *needle) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_file_bounded(f->log, 1 << 20, &buf, &len) < 0)
                return false;
        return strstr(buf, needle) != NULL;
}

static void test_check_config(void **state) {
        Fixture *f = *state;
        int status;

        status = wait_exit(spawn(f, "--check-config"), 10000000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 4\n  bogus: 1\n");
        status = wait_exit(spawn(f, "--check-config"), 10000000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        assert_true(log_contains(f, "policy.yaml:3:3: unknown key 'bogus'"));
}

static void test_lifecycle(void **state) {
        Fixture *f = *state;
        json_object *r, *p;
        const char *error, *message;

        f->pid = spawn(f, NULL);

        /* Wait until it answers (bounded). */
        uint64_t deadline = now_usec() + 10000000;
        for (;;) {
                json_object *o = NULL;
                if (protocol_call(f->socket, -1, "drs.Ping", NULL, 1000000, &o) >= 0) {
                        p = params_of(o, &error, &message);
                        assert_null(error);
                        assert_true(json_object_get_boolean(json_object_object_get(p, "pong")));
                        json_object_put(o);
                        break;
                }
                int status;
                if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
                        f->pid = 0;
                        fail_msg("drsd exited early (status %d)", status);
                }
                assert_true(now_usec() < deadline);
                usleep(20000);
        }

        r = call(f, "drs.Status", NULL);
        p = params_of(r, &error, &message);
        assert_null(error);
        json_object *hosts = json_object_object_get(p, "hosts");
        assert_int_equal(json_object_array_length(hosts), 1);
        assert_string_equal(
                json_object_get_string(json_object_object_get(json_object_array_get_idx(hosts, 0), "state")),
                "up");
        assert_int_equal(
                json_object_get_int(
                        json_object_object_get(json_object_object_get(p, "policy"), "aggressiveness")),
                4);
        json_object_put(r);

        /* SIGHUP with a broken policy: the old one stays, the error is logged with file:line:column. */
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 2\n  bogus: 1\n");
        assert_int_equal(kill(f->pid, SIGHUP), 0);
        deadline = now_usec() + 10000000;
        for (;;) {
                r = call(f, "drs.Status", NULL);
                p = params_of(r, &error, &message);
                json_object *err = json_object_object_get(json_object_object_get(p, "reload"), "error");
                if (err) {
                        assert_non_null(strstr(json_object_get_string(err), "policy.yaml:3:3"));
                        assert_int_equal(
                                json_object_get_int(json_object_object_get(
                                        json_object_object_get(p, "policy"), "aggressiveness")),
                                4);
                        json_object_put(r);
                        break;
                }
                json_object_put(r);
                assert_true(now_usec() < deadline);
                usleep(20000);
        }
        assert_true(log_contains(f, "policy.yaml:3:3: unknown key 'bogus'"));
        assert_true(log_contains(f, "keeping the previous configuration and policy"));

        /* drs.Reload after fixing it applies the new policy. */
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 2\n");
        r = call(f, "drs.Reload", NULL);
        p = params_of(r, &error, &message);
        assert_null(error);
        json_object_put(r);
        r = call(f, "drs.Status", NULL);
        p = params_of(r, &error, &message);
        assert_int_equal(
                json_object_get_int(
                        json_object_object_get(json_object_object_get(p, "policy"), "aggressiveness")),
                2);
        json_object_put(r);

        /* SIGTERM: exits 0 and removes its socket. */
        assert_int_equal(kill(f->pid, SIGTERM), 0);
        int status = wait_exit(f->pid, 10000000);
        f->pid = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(access(f->socket, F_OK), -1);

        /* The history file recorded start, failed reload, reload, stop. */
        char path[512];
        _cleanup_free_ char *hist = NULL;
        size_t len;
        snprintf(path, sizeof(path), "%s/state/history.jsonl", f->dir);
        assert_int_equal(read_file_bounded(path, 1 << 20, &hist, &len), 0);
        assert_non_null(strstr(hist, "\"result\":\"started\""));
        assert_non_null(strstr(hist, "\"result\":\"failed\""));
        assert_non_null(strstr(hist, "\"result\":\"reloaded\""));
        assert_non_null(strstr(hist, "\"result\":\"stopped\""));
}

static void test_corrupt_state_refuses_to_start(void **state) {
        Fixture *f = *state;
        char sd[512];
        snprintf(sd, sizeof(sd), "%s/state", f->dir);
        assert_int_equal(mkdir(sd, 0755), 0);
        write_text(sd, "hosts.json", "{\"version\":1,\"hosts\":{\"h1\":{\"state\":\"maintenance\"");

        int status = wait_exit(spawn(f, NULL), 10000000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_true(log_contains(f, "is corrupt"));
        assert_int_equal(access(f->socket, F_OK), -1);
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "Usage: %s PATH-TO-DRSD\n", argv[0]);
                return 2;
        }
        drsd_path = argv[1];
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_state_refuses_to_start, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
