/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The control server and the Manager's methods over real unix sockets: server and client in one
 * process, the test driving sd_event_run() while it waits for replies (bounded). */

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "fileio.h"
#include "hv-fake.h"
#include "log.h"
#include "manager.h"
#include "protocol.h"

typedef struct Fixture {
        char *dir;
        char *config;
        char *policy;
        char *socket;
        Manager *m;
} Fixture;

static void write_text(const char *dir, const char *name, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        f->dir = strdup("/tmp/test-control-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_true(asprintf(&f->config, "%s/drsd.yaml", f->dir) > 0);
        assert_true(asprintf(&f->policy, "%s/policy.yaml", f->dir) > 0);
        assert_true(asprintf(&f->socket, "%s/run/drsd.sock", f->dir) > 0);

        char *cfg = NULL;
        assert_true(
                asprintf(
                        &cfg,
                        "mode: standalone\n"
                        "socket: %s\n"
                        "state_dir: %s/state\n"
                        "policy: %s\n"
                        "policy_dir: %s/policy.d\n"
                        "admin_group: adm\n"
                        "hosts:\n"
                        "  - name: h1\n"
                        "    uri: fake://h1\n"
                        "  - name: h2\n"
                        "    uri: fake://h2\n",
                        f->socket, f->dir, f->policy, f->dir) > 0);
        write_text(f->dir, "drsd.yaml", cfg);
        free(cfg);
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 4\n");

        /* A host in maintenance from an earlier run, and one no longer configured. */
        char sd[512];
        snprintf(sd, sizeof(sd), "%s/state", f->dir);
        assert_int_equal(mkdir(sd, 0755), 0);
        write_text(
                sd, "hosts.json",
                "{\"version\":1,\"hosts\":{\"h2\":{\"state\":\"maintenance\",\"since\":5,\"reason\":\"disk swap\"},"
                "\"h9\":{\"state\":\"standby\"}}}");

        log_set_max_level(LOG_ERR);
        char *err = NULL;
        /* The control server needs no hypervisor: the fake one (its hosts refuse connections)
         * keeps libvirt, its event thread and name lookups out of this test. */
        hv_fake_reset();
        assert_int_equal(manager_new(f->config, true, &f->m), 0);
        f->m->hv_ops = &hv_fake_ops;
        assert_int_equal(manager_load_config(f->m, &err), 0);
        assert_int_equal(manager_start(f->m, -EBADF), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[600];
        manager_free(f->m);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f->dir);
        free(f->config);
        free(f->policy);
        free(f->socket);
        free(f);
        return 0;
}

/* Sends raw bytes on fd and runs the loop until a reply is complete (5 s at most). Writing
 * and the server's reading interleave, so requests larger than the socket buffer work. */
static json_object *call_fd(Manager *m, int fd, const char *raw, size_t raw_len) {
        ProtocolReader r = {};
        uint64_t deadline = now_usec() + 5000000;
        size_t sent = 0;

        for (;;) {
                json_object *o = NULL;
                int k = protocol_reader_next(&r, &o, NULL);
                assert_true(k >= 0);
                if (k > 0) {
                        protocol_reader_done(&r);
                        return o;
                }
                assert_true(now_usec() < deadline);
                if (sent < raw_len) {
                        ssize_t l = send(fd, raw + sent, raw_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (l > 0)
                                sent += (size_t) l;
                        else
                                assert_true(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
                }
                assert_true(sd_event_run(m->event, 10000) >= 0);
                char buf[65536];
                ssize_t l = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (l > 0)
                        assert_int_equal(protocol_reader_feed(&r, buf, (size_t) l), 0);
                else
                        assert_true(l < 0 && errno == EAGAIN);
        }
}

static json_object *call(Manager *m, int fd, const char *method, json_object *params) {
        json_object *req = NULL;
        ProtocolWriter w = {};
        const char *data;

        assert_int_equal(protocol_request_new(method, params, &req), 0);
        assert_int_equal(protocol_writer_append(&w, req), 0);
        size_t n = protocol_writer_pending(&w, &data);
        json_object *reply = call_fd(m, fd, data, n);
        protocol_writer_done(&w);
        json_object_put(req);
        return reply;
}

/* The reply's parameters; fails the test on an error reply. */
static json_object *ok(json_object *reply) {
        json_object *params;
        const char *error, *message, *err;
        assert_int_equal(protocol_reply_parse(reply, &params, &error, &message, &err), 0);
        if (error)
                fail_msg("error reply %s: %s", error, message ?: "");
        return params;
}

static void expect_error(json_object *reply, const char *name, const char *in_message) {
        json_object *params;
        const char *error, *message, *err;
        assert_int_equal(protocol_reply_parse(reply, &params, &error, &message, &err), 0);
        assert_non_null(error);
        assert_string_equal(error, name);
        assert_non_null(message);
        if (in_message && !strstr(message, in_message))
                fail_msg("message '%s' lacks '%s'", message, in_message);
}

/* get(o, "hosts.1.state"): object keys and array indexes. */
static json_object *get(json_object *o, const char *path) {
        while (*path) {
                const char *dot = strchr(path, '.');
                size_t l = dot ? (size_t) (dot - path) : strlen(path);
                char key[64];
                assert_true(l < sizeof(key));
                memcpy(key, path, l);
                key[l] = 0;
                json_object *v = NULL;
                if (json_object_is_type(o, json_type_array))
                        v = json_object_array_get_idx(o, strtoul(key, NULL, 10));
                else if (!json_object_object_get_ex(o, key, &v))
                        fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
                o = v;
                path += l + (dot ? 1 : 0);
        }
        return o;
}

static void test_authorization_rule(void **state) {
        gid_t groups[] = {10, 20};
        assert_true(control_peer_is_authorized(0, 0, NULL, 0, 0, false));
        assert_false(control_peer_is_authorized(1000, 1000, groups, 2, 0, false));
        assert_true(control_peer_is_authorized(1000, 1000, groups, 2, 20, true));
        assert_true(control_peer_is_authorized(1000, 20, NULL, 0, 20, true));
        assert_false(control_peer_is_authorized(1000, 1000, groups, 2, 30, true));
}

static void test_ping_and_status(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);
        assert_true(fd >= 0);

        json_object *r = call(f->m, fd, "drs.Ping", NULL);
        assert_true(json_object_get_boolean(get(ok(r), "pong")));
        json_object_put(r);

        r = call(f->m, fd, "drs.Status", NULL);
        json_object *p = ok(r);
        assert_string_equal(json_object_get_string(get(p, "mode")), "standalone");
        assert_int_equal(json_object_array_length(get(p, "hosts")), 3);
        assert_string_equal(json_object_get_string(get(p, "hosts.0.name")), "h1");
        assert_string_equal(json_object_get_string(get(p, "hosts.0.state")), "up");
        assert_string_equal(json_object_get_string(get(p, "hosts.1.state")), "maintenance");
        assert_string_equal(json_object_get_string(get(p, "hosts.1.reason")), "disk swap");
        assert_string_equal(json_object_get_string(get(p, "hosts.2.name")), "h9");
        assert_false(json_object_get_boolean(get(p, "hosts.2.configured")));
        assert_string_equal(json_object_get_string(get(p, "hosts.2.state")), "standby");
        assert_int_equal(json_object_get_int(get(p, "policy.aggressiveness")), 4);
        assert_true(json_object_get_boolean(get(p, "passes.leader_loop")));
        assert_non_null(get(p, "cluster.cpu_imbalance"));
        /* No migration yet: nothing probed; every configured host listed. */
        assert_string_equal(json_object_get_string(get(p, "migration_encryption.mode")), "auto");
        assert_string_equal(json_object_get_string(get(p, "migration_encryption.hosts.0.host")), "h1");
        assert_string_equal(json_object_get_string(get(p, "migration_encryption.hosts.0.tls")), "unchecked");
        json_object_put(r);

        /* Socket file: mode 0660, group adm. */
        struct stat st;
        assert_int_equal(stat(f->socket, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0660);
        struct group *g = getgrnam("adm");
        assert_non_null(g);
        assert_int_equal(st.st_gid, g->gr_gid);
        close(fd);
}

static void test_bad_requests(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);
        assert_true(fd >= 0);

        json_object *r = call(f->m, fd, "drs.NoSuchMethod", NULL);
        expect_error(r, PROTOCOL_ERROR_METHOD_NOT_FOUND, "drs.NoSuchMethod");
        json_object_put(r);

        json_object *params = json_object_new_object();
        json_object_object_add(params, "bogus", json_object_new_int(1));
        r = call(f->m, fd, "drs.Status", params);
        expect_error(r, PROTOCOL_ERROR_INVALID_PARAMETER, "'bogus'");
        json_object_put(r);
        json_object_put(params);

        const char garbage[] = "{\"method\":";
        r = call_fd(f->m, fd, garbage, sizeof(garbage));
        expect_error(r, PROTOCOL_ERROR_INVALID_REQUEST, "JSON");
        json_object_put(r);

        const char nomethod[] = "{\"parameters\":{}}";
        r = call_fd(f->m, fd, nomethod, sizeof(nomethod));
        expect_error(r, PROTOCOL_ERROR_INVALID_REQUEST, "'method'");
        json_object_put(r);

        /* The connection is still good. */
        r = call(f->m, fd, "drs.Ping", NULL);
        ok(r);
        json_object_put(r);
        close(fd);
}

/* drs.Migrate and drs.MoveStorage refuse bad parameters and VMs no host reports. */
static void test_manual_move_parameters(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);
        struct {
                const char *method, *json, *error, *in_message;
        } cases[] = {
                {"drs.Migrate", "{\"vm\": \"a\"}", PROTOCOL_ERROR_INVALID_PARAMETER, "exactly one of 'to'"},
                {"drs.Migrate", "{\"vm\": \"a\", \"to\": \"h2\", \"to_uri\": \"qemu:///x\"}",
                 PROTOCOL_ERROR_INVALID_PARAMETER, "exactly one of 'to'"},
                {"drs.Migrate", "{\"to\": \"h2\"}", PROTOCOL_ERROR_INVALID_PARAMETER, "'vm'"},
                {"drs.Migrate", "{\"vm\": \"a\", \"to\": \"h2\", \"remove_source\": true}",
                 PROTOCOL_ERROR_INVALID_PARAMETER, "'copy_storage'"},
                {"drs.Migrate", "{\"vm\": \"a\", \"to\": \"nope\"}", PROTOCOL_ERROR_NO_SUCH_HOST, "'nope'"},
                {"drs.Migrate", "{\"vm\": \"a\", \"to\": \"h1\", \"copy_storage\": 1}",
                 PROTOCOL_ERROR_INVALID_PARAMETER, "'copy_storage' must be a boolean"},
                {"drs.Migrate", "{\"vm\": \"ghost\", \"to\": \"h1\"}", "drs.NoSuchVm", "'ghost'"},
                {"drs.Migrate", "{\"vm\": \"a\", \"to\": \"h1\", \"speed\": 1}",
                 PROTOCOL_ERROR_INVALID_PARAMETER, "'speed'"},
                {"drs.MoveStorage", "{\"vm\": \"a\"}", PROTOCOL_ERROR_INVALID_PARAMETER, "'pool'"},
                {"drs.MoveStorage", "{\"vm\": \"ghost\", \"pool\": \"fast\"}", "drs.NoSuchVm", "'ghost'"},
                {"drs.MoveStorage", "{\"vm\": \"a\", \"pool\": \"\"}", PROTOCOL_ERROR_INVALID_PARAMETER,
                 "non-empty"},
        };

        assert_true(fd >= 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_object *params = json_tokener_parse(cases[i].json);
                assert_non_null(params);
                json_object *r = call(f->m, fd, cases[i].method, params);
                expect_error(r, cases[i].error, cases[i].in_message);
                json_object_put(r);
                json_object_put(params);
        }
        close(fd);
}

static void test_oversized_request_closes(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);
        assert_true(fd >= 0);

        /* A delimited message just over the limit is refused and skipped… */
        size_t n = PROTOCOL_MAX_MESSAGE + 16;
        char *big = malloc(2 * PROTOCOL_MAX_MESSAGE);
        memset(big, ' ', 2 * PROTOCOL_MAX_MESSAGE);
        big[n - 1] = 0;
        json_object *r0 = call_fd(f->m, fd, big, n);
        expect_error(r0, PROTOCOL_ERROR_INVALID_REQUEST, "maximum size");
        json_object_put(r0);
        r0 = call(f->m, fd, "drs.Ping", NULL);
        ok(r0);
        json_object_put(r0);

        /* …while an unterminated stream past the limit cannot be resynchronized: closed. */
        n = 2 * PROTOCOL_MAX_MESSAGE;
        memset(big, ' ', n);
        json_object *r = call_fd(f->m, fd, big, n);
        expect_error(r, PROTOCOL_ERROR_INVALID_REQUEST, "maximum size");
        json_object_put(r);
        free(big);

        /* Then EOF. */
        uint64_t deadline = now_usec() + 5000000;
        for (;;) {
                assert_true(now_usec() < deadline);
                sd_event_run(f->m->event, 10000);
                char c;
                ssize_t l = recv(fd, &c, 1, MSG_DONTWAIT);
                if (l == 0 || (l < 0 && errno == ECONNRESET))
                        break;
                assert_true(l < 0 && errno == EAGAIN);
        }
        close(fd);
}

static void test_policy_check(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);

        json_object *params = json_object_new_object();
        json_object_object_add(params, "policy", json_object_new_string("balance:\n  aggressiveness: 9\n"));
        json_object_object_add(params, "filename", json_object_new_string("p.yaml"));
        json_object *r = call(f->m, fd, "drs.PolicyCheck", params);
        json_object *p = ok(r);
        assert_false(json_object_get_boolean(get(p, "valid")));
        assert_non_null(strstr(json_object_get_string(get(p, "error")), "p.yaml:2:19: "));
        json_object_put(r);
        json_object_put(params);

        r = call(f->m, fd, "drs.PolicyCheck", NULL);
        p = ok(r);
        assert_true(json_object_get_boolean(get(p, "valid")));
        assert_int_equal(json_object_get_int(get(p, "policy.balance.aggressiveness")), 4);
        json_object_put(r);

        params = json_object_new_object();
        json_object_object_add(params, "policy", json_object_new_int(3));
        r = call(f->m, fd, "drs.PolicyCheck", params);
        expect_error(r, PROTOCOL_ERROR_INVALID_PARAMETER, "'policy'");
        json_object_put(r);
        json_object_put(params);
        close(fd);
}

static void test_reload(void **state) {
        Fixture *f = *state;
        int fd = protocol_connect(f->socket);

        /* A broken policy: refused with file:line:column, the old one stays. */
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 4\n  bogus: 1\n");
        json_object *r = call(f->m, fd, "drs.Reload", NULL);
        expect_error(r, PROTOCOL_ERROR_POLICY_INVALID, "policy.yaml:3:3: ");
        json_object_put(r);

        r = call(f->m, fd, "drs.Status", NULL);
        json_object *p = ok(r);
        assert_int_equal(json_object_get_int(get(p, "policy.aggressiveness")), 4);
        assert_non_null(strstr(json_object_get_string(get(p, "reload.error")), "policy.yaml:3:3"));
        json_object_put(r);

        /* A broken drsd.yaml: same. */
        char *saved = NULL;
        size_t len;
        assert_int_equal(read_file_bounded(f->config, 1 << 20, &saved, &len), 0);
        write_text(f->dir, "drsd.yaml", "mode: standalone\nhosts: 3\n");
        r = call(f->m, fd, "drs.Reload", NULL);
        expect_error(r, PROTOCOL_ERROR_CONFIG_INVALID, "drsd.yaml:2:8: ");
        json_object_put(r);
        write_text(f->dir, "drsd.yaml", saved);
        free(saved);

        /* A good one applies. */
        write_text(f->dir, "policy.yaml", "balance:\n  aggressiveness: 2\n  interval: 60s\n");
        r = call(f->m, fd, "drs.Reload", NULL);
        p = ok(r);
        assert_int_equal(json_object_get_int(get(p, "policy.aggressiveness")), 2);
        json_object_put(r);
        assert_int_equal(f->m->pass_interval_s, 60);
        assert_null(f->m->last_reload_error);
        close(fd);

        /* Each attempt is in the history file. */
        char sd[512];
        HistoryEvent *ev;
        size_t n, n_bad;
        snprintf(sd, sizeof(sd), "%s/state", f->dir);
        assert_int_equal(history_read(sd, 0, 0, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 4); /* started, failed, failed, reloaded */
        assert_string_equal(ev[1].result, "failed");
        assert_string_equal(ev[3].result, "reloaded");
        history_events_free(ev, n);
}

static void test_socketpair_connection(void **state) {
        Fixture *f = *state;
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        assert_int_equal(control_server_add_connection(f->m->control, sv[0]), 0);
        json_object *r = call(f->m, sv[1], "drs.Ping", NULL);
        ok(r);
        json_object_put(r);

        /* Closing the client frees the connection. */
        size_t before = control_server_n_connections(f->m->control);
        close(sv[1]);
        uint64_t deadline = now_usec() + 5000000;
        while (control_server_n_connections(f->m->control) == before) {
                assert_true(now_usec() < deadline);
                sd_event_run(f->m->event, 10000);
        }
}

/* Forwarding (cluster mode's path to the leader): a request taken by the hook is answered
 * later through control_server_complete(), and the connection's later requests wait for it;
 * a hook may refuse with an error reply; control_server_call() runs a request directly. */
static uint64_t forwarded_id;
static unsigned n_forwarded;

static int test_forward_hook(
        Manager *m, const char *method, json_object *request, uint64_t id, json_object **ret_reply) {
        if (streq(method, "drs.Ping")) {
                forwarded_id = id;
                n_forwarded++;
                return 1;
        }
        if (streq(method, "drs.Hosts"))
                return protocol_error_new("drs.NoLeader", "no leader: test", NULL, ret_reply) < 0 ? -ENOMEM
                                                                                                  : 0;
        return 0;
}

static void test_forwarding(void **state) {
        Fixture *f = *state;
        int sv[2];
        json_object *req1 = NULL, *req2 = NULL, *r, *reply = NULL, *params = json_object_new_object();
        ProtocolWriter w = {};
        const char *data;

        control_server_set_forward(f->m->control, test_forward_hook);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        assert_int_equal(control_server_add_connection(f->m->control, sv[0]), 0);

        /* Ping (forwarded) and Status (local) in one write. */
        assert_int_equal(protocol_request_new("drs.Ping", NULL, &req1), 0);
        assert_int_equal(protocol_request_new("drs.Status", NULL, &req2), 0);
        assert_int_equal(protocol_writer_append(&w, req1), 0);
        assert_int_equal(protocol_writer_append(&w, req2), 0);
        size_t n = protocol_writer_pending(&w, &data);
        assert_int_equal(send(sv[1], data, n, MSG_NOSIGNAL), (ssize_t) n);
        for (unsigned i = 0; i < 20; i++)
                assert_true(sd_event_run(f->m->event, 10000) >= 0);
        assert_int_equal(n_forwarded, 1);
        char buf[256];
        assert_true(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN); /* nothing yet */
        assert_true(control_server_has_pending(f->m->control, forwarded_id));

        /* The "leader's" answer arrives: both replies follow, in order. */
        assert_int_equal(json_object_object_add(params, "from", json_object_new_string("leader")), 0);
        assert_int_equal(protocol_reply_new(params, &reply), 0);
        assert_int_equal(control_server_complete(f->m->control, forwarded_id, reply), 0);
        assert_int_equal(control_server_complete(f->m->control, forwarded_id, reply), -ENOENT);
        {
                ProtocolReader rd = {};
                json_object *got[2] = {};
                uint64_t deadline = now_usec() + 5000000;
                for (size_t k = 0; k < 2;) {
                        int q = protocol_reader_next(&rd, &got[k], NULL);
                        assert_true(q >= 0);
                        if (q > 0) {
                                k++;
                                continue;
                        }
                        assert_true(now_usec() < deadline);
                        assert_true(sd_event_run(f->m->event, 10000) >= 0);
                        ssize_t l = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
                        if (l > 0)
                                assert_int_equal(protocol_reader_feed(&rd, buf, (size_t) l), 0);
                }
                protocol_reader_done(&rd);
                assert_string_equal(json_object_get_string(get(ok(got[0]), "from")), "leader");
                assert_non_null(get(ok(got[1]), "version")); /* Status, answered locally, after it */
                json_object_put(got[0]);
                json_object_put(got[1]);
        }

        /* Refused by the hook: its error reply. */
        r = call(f->m, sv[1], "drs.Hosts", NULL);
        expect_error(r, "drs.NoLeader", "no leader");
        json_object_put(r);

        /* The leader's side: a request run without a connection. */
        assert_int_equal(control_server_call(f->m->control, req1, &r), 0);
        assert_true(json_object_get_boolean(get(ok(r), "pong")));
        json_object_put(r);

        control_server_set_forward(f->m->control, NULL);
        json_object_put(reply);
        json_object_put(params);
        json_object_put(req1);
        json_object_put(req2);
        protocol_writer_done(&w);
        close(sv[1]);
}

static void test_connection_limit(void **state) {
        Fixture *f = *state;
        int fds[CONTROL_MAX_CONNECTIONS + 1];

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = protocol_connect(f->socket);
                assert_true(fds[i] >= 0);
        }
        uint64_t deadline = now_usec() + 5000000;
        while (control_server_n_connections(f->m->control) < CONTROL_MAX_CONNECTIONS) {
                assert_true(now_usec() < deadline);
                sd_event_run(f->m->event, 10000);
        }
        for (int i = 0; i < 20; i++)
                sd_event_run(f->m->event, 1000);
        assert_int_equal(control_server_n_connections(f->m->control), CONTROL_MAX_CONNECTIONS);

        /* Exactly one of them was closed by the server. */
        size_t closed = 0;
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                char c;
                if (recv(fds[i], &c, 1, MSG_DONTWAIT) == 0)
                        closed++;
        }
        assert_int_equal(closed, 1);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        deadline = now_usec() + 5000000;
        while (control_server_n_connections(f->m->control) > 0) {
                assert_true(now_usec() < deadline);
                sd_event_run(f->m->event, 10000);
        }
}

/* A child that drops to nobody (with the given supplementary groups) and calls drs.Ping:
 * exits 0 when the reply is an error named expect_error (NULL: a normal reply). */
static void run_unprivileged_client(Fixture *f, const gid_t *groups, size_t n_groups, const char *expect) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                json_object *r = NULL, *params;
                const char *error = NULL, *message, *err;
                if (setgroups(n_groups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(10);
                if (protocol_call(f->socket, -1, "drs.Ping", NULL, 5000000, &r) < 0)
                        _exit(11);
                if (protocol_reply_parse(r, &params, &error, &message, &err) < 0)
                        _exit(12);
                if (expect ? !streq_ptr(error, expect) || !message || !strstr(message, "uid 65534")
                           : error != NULL)
                        _exit(13);
                _exit(0);
        }

        uint64_t deadline = now_usec() + 10000000;
        int status;
        for (;;) {
                assert_true(now_usec() < deadline);
                sd_event_run(f->m->event, 10000);
                pid_t p = waitpid(pid, &status, WNOHANG);
                assert_true(p >= 0);
                if (p == pid)
                        break;
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_peer_authorization(void **state) {
        Fixture *f = *state;
        if (geteuid() != 0)
                skip();
        /* Let nobody reach the socket at all, so authorization is what refuses. */
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/run", f->dir);
        assert_int_equal(chmod(f->dir, 0755), 0);
        assert_int_equal(chmod(f->socket, 0666), 0);

        run_unprivileged_client(f, NULL, 0, PROTOCOL_ERROR_PERMISSION_DENIED);
        struct group *g = getgrnam("adm");
        assert_non_null(g);
        gid_t adm = g->gr_gid;
        run_unprivileged_client(f, &adm, 1, NULL);
}

static void test_corrupt_state_refuses_start(void **state) {
        Fixture *f = *state;
        char sd[512], *err = NULL;
        Manager *m = NULL;

        snprintf(sd, sizeof(sd), "%s/state", f->dir);
        write_text(sd, "hosts.json", "{\"version\":1,\"hosts\":{\"h2\":{\"state\":\"maintenan");
        /* A second manager on the same files (the first holds the socket: it must not get there). */
        assert_int_equal(manager_new(f->config, true, &m), 0);
        assert_int_equal(manager_load_config(m, &err), 0);
        assert_int_equal(manager_start(m, -EBADF), -EBADMSG);
        manager_free(m);
}

static void test_second_instance_refused(void **state) {
        Fixture *f = *state;
        char *err = NULL;
        Manager *m = NULL;

        assert_int_equal(manager_new(f->config, true, &m), 0);
        assert_int_equal(manager_load_config(m, &err), 0);
        /* The real hypervisor ops: refused before it starts libvirt's thread or polls a host. */
        assert_int_equal(manager_start(m, -EBADF), -EADDRINUSE);
        assert_null(m->virt_event);
        assert_null(m->poller);
        assert_null(m->executor);
        manager_free(m);
        /* The first one's socket is still there and serving. */
        int fd = protocol_connect(f->socket);
        assert_true(fd >= 0);
        json_object *r = call(f->m, fd, "drs.Ping", NULL);
        ok(r);
        json_object_put(r);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_authorization_rule),
                cmocka_unit_test_setup_teardown(test_ping_and_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manual_move_parameters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_request_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_policy_check, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_socketpair_connection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_forwarding, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_peer_authorization, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_state_refuses_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_second_instance_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
