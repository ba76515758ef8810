/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster-msg.h"

/* Fills m with a message of type t with every field set (strings are literals: never pass such a
 * message to cluster_msg_done()). */
static void fill(ClusterMsg *m, ClusterMsgType t) {
        static ClusterVm vms[] = {
                {.name = (char *) "web-1",
                 .vcpus = 4,
                 .memory_mib = 8192,
                 .cpu_demand = 1.234,
                 .memory_demand_mib = 6000,
                 .migrating = true,
                 .busy = false},
                {.name = (char *) "db-1",
                 .vcpus = 16,
                 .memory_mib = UINT64_MAX,
                 .cpu_demand = 0.001,
                 .memory_demand_mib = 1,
                 .migrating = false,
                 .busy = true,
                 .target = (char *) "h2"},
                {.name = (char *) "", .cpu_demand = 3999999.999},
        };

        *m = (ClusterMsg){.type = t, .sender = 0x01020304, .term = UINT64_C(0x1122334455667788)};
        switch (t) {
        case CLUSTER_MSG_SYNC:
                m->sync = (ClusterSync){
                        .leader = UINT32_MAX,
                        .leader_term = 7,
                        .max_term = UINT64_MAX,
                        .host = (char *) "h1"};
                break;
        case CLUSTER_MSG_REPORT:
                m->report = (ClusterReport){
                        .host = (char *) "h1",
                        .migration_uri = (char *) "tcp://h1.example:49152",
                        .mode = HOST_MODE_POWER_ON_FAILED,
                        .mode_reason = (char *) "drsctl evacuate by uid 0",
                        .mode_since_usec = UINT64_C(1700000000000000),
                        .have_sample = true,
                        .sample_age_ms = 1500,
                        .cpus = 64,
                        .memory_mib = 262144,
                        .free_mib = 100000,
                        .last_error = (char *) "libvirt: connection reset",
                        .vms = vms,
                        .n_vms = ELEMENTSOF(vms),
                };
                break;
        case CLUSTER_MSG_MIGRATE:
                m->migrate = (ClusterMigrate){
                        .order_id = 42,
                        .vm = (char *) "web-1",
                        .source = (char *) "h1",
                        .target = (char *) "h2",
                        .target_migration_uri = (char *) "tcp://h2:49152",
                        .memory_mib = 8192,
                        .reason = (char *) "rule:spread-web",
                };
                break;
        case CLUSTER_MSG_SET_MODE:
                m->set_mode = (ClusterSetMode){
                        .order_id = 43,
                        .host = (char *) "h3",
                        .mode = HOST_MODE_ENTERING_MAINTENANCE,
                        .reason = (char *) "dpm",
                };
                break;
        case CLUSTER_MSG_RESULT:
                m->result = (ClusterResult){
                        .order_id = 42,
                        .order_term = 7,
                        .vm = (char *) "web-1",
                        .source = (char *) "h1",
                        .target = (char *) "h2",
                        .result = CLUSTER_RESULT_MAX - 1,
                        .duration_ms = 12345,
                        .downtime_ms = 67,
                        .message = (char *) "VM not found running exactly once",
                };
                break;
        case CLUSTER_MSG_REQUEST:
                m->request = (ClusterRequest){
                        .request_id = 9, .to = 3, .json = (char *) "{\"method\":\"drs.Status\"}"};
                break;
        case CLUSTER_MSG_REPLY:
                m->reply = (ClusterReply){
                        .request_id = 9,
                        .to = 1,
                        .part = 2,
                        .n_parts = 3,
                        .json = (char *) "{\"parameters\":{\"hosts\":[]}}"};
                break;
        case CLUSTER_MSG_POWER_OFF:
                m->power_off = (ClusterPowerOff){.order_id = UINT64_MAX, .host = (char *) "h4"};
                break;
        case CLUSTER_MSG_ROLLOUT:
                m->rollout = (ClusterRollout){.json = (char *) "{\"version\":1,\"state\":\"running\"}"};
                break;
        case CLUSTER_MSG_ROLLOUT_RUN:
                m->rollout_run = (ClusterRolloutRun){
                        .to = 2,
                        .host = (char *) "h1",
                        .command = (char *) "reboot h1",
                        .timeout_s = 600,
                        .health = true};
                break;
        case CLUSTER_MSG_ROLLOUT_DONE:
                m->rollout_done = (ClusterRolloutDone){
                        .host = (char *) "h1",
                        .ok = true,
                        .duration_ms = 1234,
                        .message = (char *) "exited with status 0"};
                break;
        default:
                fail();
        }
}

static bool str_eq(const char *a, const char *b) {
        return streq_ptr(a, b);
}

static bool msg_equal(const ClusterMsg *a, const ClusterMsg *b) {
        if (a->type != b->type || a->sender != b->sender || a->term != b->term)
                return false;

        switch (a->type) {
        case CLUSTER_MSG_SYNC:
                return a->sync.leader == b->sync.leader && a->sync.leader_term == b->sync.leader_term &&
                       a->sync.max_term == b->sync.max_term && str_eq(a->sync.host, b->sync.host);
        case CLUSTER_MSG_REPORT: {
                const ClusterReport *x = &a->report, *y = &b->report;
                if (!str_eq(x->host, y->host) || !str_eq(x->migration_uri, y->migration_uri) ||
                    x->mode != y->mode || !str_eq(x->mode_reason, y->mode_reason) ||
                    x->mode_since_usec != y->mode_since_usec || x->have_sample != y->have_sample ||
                    x->sample_age_ms != y->sample_age_ms || x->cpus != y->cpus ||
                    x->memory_mib != y->memory_mib || x->free_mib != y->free_mib ||
                    !str_eq(x->last_error, y->last_error) || x->n_vms != y->n_vms)
                        return false;
                for (size_t i = 0; i < x->n_vms; i++) {
                        const ClusterVm *v = &x->vms[i], *w = &y->vms[i];
                        if (!str_eq(v->name, w->name) || v->vcpus != w->vcpus ||
                            v->memory_mib != w->memory_mib || v->cpu_demand != w->cpu_demand ||
                            v->memory_demand_mib != w->memory_demand_mib || v->migrating != w->migrating ||
                            v->busy != w->busy || !str_eq(v->target, w->target))
                                return false;
                }
                return true;
        }
        case CLUSTER_MSG_MIGRATE:
                return a->migrate.order_id == b->migrate.order_id && str_eq(a->migrate.vm, b->migrate.vm) &&
                       str_eq(a->migrate.source, b->migrate.source) &&
                       str_eq(a->migrate.target, b->migrate.target) &&
                       str_eq(a->migrate.target_migration_uri, b->migrate.target_migration_uri) &&
                       a->migrate.memory_mib == b->migrate.memory_mib &&
                       str_eq(a->migrate.reason, b->migrate.reason);
        case CLUSTER_MSG_SET_MODE:
                return a->set_mode.order_id == b->set_mode.order_id &&
                       str_eq(a->set_mode.host, b->set_mode.host) && a->set_mode.mode == b->set_mode.mode &&
                       str_eq(a->set_mode.reason, b->set_mode.reason);
        case CLUSTER_MSG_RESULT:
                return a->result.order_id == b->result.order_id &&
                       a->result.order_term == b->result.order_term && str_eq(a->result.vm, b->result.vm) &&
                       str_eq(a->result.source, b->result.source) &&
                       str_eq(a->result.target, b->result.target) && a->result.result == b->result.result &&
                       a->result.duration_ms == b->result.duration_ms &&
                       a->result.downtime_ms == b->result.downtime_ms &&
                       str_eq(a->result.message, b->result.message);
        case CLUSTER_MSG_REQUEST:
                return a->request.request_id == b->request.request_id && a->request.to == b->request.to &&
                       str_eq(a->request.json, b->request.json);
        case CLUSTER_MSG_REPLY:
                return a->reply.request_id == b->reply.request_id && a->reply.to == b->reply.to &&
                       a->reply.part == b->reply.part && a->reply.n_parts == b->reply.n_parts &&
                       str_eq(a->reply.json, b->reply.json);
        case CLUSTER_MSG_POWER_OFF:
                return a->power_off.order_id == b->power_off.order_id &&
                       str_eq(a->power_off.host, b->power_off.host);
        case CLUSTER_MSG_ROLLOUT:
                return str_eq(a->rollout.json, b->rollout.json);
        case CLUSTER_MSG_ROLLOUT_RUN:
                return a->rollout_run.to == b->rollout_run.to &&
                       str_eq(a->rollout_run.host, b->rollout_run.host) &&
                       str_eq(a->rollout_run.command, b->rollout_run.command) &&
                       a->rollout_run.timeout_s == b->rollout_run.timeout_s &&
                       a->rollout_run.health == b->rollout_run.health;
        case CLUSTER_MSG_ROLLOUT_DONE:
                return str_eq(a->rollout_done.host, b->rollout_done.host) &&
                       a->rollout_done.ok == b->rollout_done.ok &&
                       a->rollout_done.duration_ms == b->rollout_done.duration_ms &&
                       str_eq(a->rollout_done.message, b->rollout_done.message);
        default:
                return false;
        }
}

/* Encodes m, decodes it, checks it equals m and that re-encoding gives the same bytes. */
static void roundtrip(const ClusterMsg *m) {
        _cleanup_free_ void *buf = NULL, *buf2 = NULL;
        _cleanup_(cluster_msg_done) ClusterMsg d = {};
        const char *err = NULL;
        size_t size = 0, size2 = 0;

        assert_int_equal(cluster_msg_encode(m, &buf, &size), 0);
        assert_true(size >= CLUSTER_MSG_HEADER_SIZE);
        assert_true(size <= CLUSTER_MSG_MAX);
        if (cluster_msg_decode(buf, size, &d, &err) < 0)
                fail_msg("%s: %s", cluster_msg_type_to_string(m->type), err);
        assert_true(msg_equal(m, &d));

        assert_int_equal(cluster_msg_encode(&d, &buf2, &size2), 0);
        assert_int_equal(size, size2);
        assert_memory_equal(buf, buf2, size);
}

static void encode_msg(const ClusterMsg *m, uint8_t **ret, size_t *ret_size) {
        void *buf = NULL;

        assert_int_equal(cluster_msg_encode(m, &buf, ret_size), 0);
        *ret = buf;
}

static void encode_type(ClusterMsgType t, uint8_t **ret, size_t *ret_size) {
        ClusterMsg m;

        fill(&m, t);
        encode_msg(&m, ret, ret_size);
}

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

/* Asserts that buf is refused with -EBADMSG, a message, and a zeroed *ret. */
static void expect_bad_at(const uint8_t *buf, size_t size, const char *what, int line) {
        ClusterMsg m = {.type = CLUSTER_MSG_SYNC, .sender = 1};
        const char *err = NULL;

        int k = cluster_msg_decode(buf, size, &m, &err);
        if (k != -EBADMSG) {
                if (k == 0)
                        cluster_msg_done(&m);
                fail_msg("line %d: %s: decode returned %d, expected -EBADMSG", line, what, k);
        }
        if (!err)
                fail_msg("line %d: %s: no error message", line, what);
        assert_int_equal(m.type, 0);
        assert_int_equal(m.sender, 0);
        assert_int_equal(m.term, 0);
        /* reterr_msg may be NULL. */
        assert_int_equal(cluster_msg_decode(buf, size, &m, NULL), -EBADMSG);
}
#define expect_bad(buf, size, what) expect_bad_at(buf, size, what, __LINE__)

static void test_type_to_string(void **state) {
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_SYNC), "sync");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_REPORT), "report");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_MIGRATE), "migrate");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_SET_MODE), "set-mode");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_RESULT), "result");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_REQUEST), "request");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_REPLY), "reply");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_POWER_OFF), "power-off");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_ROLLOUT), "rollout");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_ROLLOUT_RUN), "rollout-run");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_ROLLOUT_DONE), "rollout-done");
        assert_null(cluster_msg_type_to_string(0));
        assert_null(cluster_msg_type_to_string(_CLUSTER_MSG_TYPE_MAX));
        assert_null(cluster_msg_type_to_string((ClusterMsgType) -1));
}

static void test_roundtrip_every_type(void **state) {
        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                ClusterMsg m;
                fill(&m, t);
                roundtrip(&m);
        }

        /* The header is laid out as documented. */
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        encode_type(CLUSTER_MSG_POWER_OFF, &buf, &size);
        assert_int_equal(size, CLUSTER_MSG_HEADER_SIZE + 8 + 2 + 2);
        const uint8_t header[] = {
                'D', 'R', 'S', '1', 0,    1,    0,    8,    0,    0,    0,    (uint8_t) size,
                1,   2,   3,   4,   0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
        assert_memory_equal(buf, header, sizeof(header));
}

static void test_roundtrip_null_optional(void **state) {
        ClusterMsg m;

        fill(&m, CLUSTER_MSG_REPORT);
        m.report.mode_reason = NULL;
        m.report.last_error = NULL;
        m.report.vms = NULL;
        m.report.n_vms = 0;
        m.term = 0;
        roundtrip(&m);

        fill(&m, CLUSTER_MSG_SET_MODE);
        m.set_mode.reason = NULL;
        roundtrip(&m);

        fill(&m, CLUSTER_MSG_RESULT);
        m.result.message = NULL;
        roundtrip(&m);

        /* Zero everywhere but the sender and the required strings. */
        fill(&m, CLUSTER_MSG_SYNC);
        m.sync = (ClusterSync){.host = (char *) ""};
        m.term = 0;
        roundtrip(&m);

        /* An empty optional string comes back as NULL; a NULL required one as "". */
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(cluster_msg_done) ClusterMsg d = {};
        size_t size;
        fill(&m, CLUSTER_MSG_RESULT);
        m.result.message = (char *) "";
        m.result.vm = NULL;
        encode_msg(&m, &buf, &size);
        assert_int_equal(cluster_msg_decode(buf, size, &d, NULL), 0);
        assert_null(d.result.message);
        assert_string_equal(d.result.vm, "");
}

static void test_cpu_demand(void **state) {
        static const struct {
                double in, out;
        } cases[] = {
                {0, 0},
                {0.001, 0.001},
                {0.0004, 0},
                {0.0006, 0.001},
                {1.234, 1.234},
                {17.9999, 18},
                {-3, 0},
                {NAN, 0},
                {INFINITY, 3999999.999},
                {1e12, 3999999.999},
                {3999999.999, 3999999.999},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ClusterVm vm = {.name = (char *) "v", .cpu_demand = cases[i].in};
                ClusterMsg m;
                _cleanup_free_ uint8_t *buf = NULL;
                _cleanup_(cluster_msg_done) ClusterMsg d = {};
                size_t size;

                fill(&m, CLUSTER_MSG_REPORT);
                m.report.vms = &vm;
                m.report.n_vms = 1;
                encode_msg(&m, &buf, &size);
                assert_int_equal(cluster_msg_decode(buf, size, &d, NULL), 0);
                assert_int_equal(d.report.n_vms, 1);
                if (d.report.vms[0].cpu_demand != cases[i].out)
                        fail_msg(
                                "%g: got %.9g, expected %.9g", cases[i].in, d.report.vms[0].cpu_demand,
                                cases[i].out);
        }
}

static void test_report_limits(void **state) {
        _cleanup_free_ ClusterVm *vms = calloc(CLUSTER_REPORT_MAX_VMS + 1, sizeof(ClusterVm));
        _cleanup_free_ char *names = calloc(CLUSTER_REPORT_MAX_VMS + 1, 16);
        _cleanup_free_ char *long_name = malloc(201);
        _cleanup_free_ void *buf = NULL;
        ClusterMsg m;
        size_t size;

        assert_non_null(vms);
        assert_non_null(names);
        assert_non_null(long_name);
        for (size_t i = 0; i <= CLUSTER_REPORT_MAX_VMS; i++) {
                char *name = names + i * 16;
                snprintf(name, 16, "vm-%04zu", i);
                vms[i] = (ClusterVm){
                        .name = name,
                        .vcpus = (uint32_t) i,
                        .memory_mib = i * 1024,
                        .cpu_demand = (double) i / 1000.0,
                        .memory_demand_mib = i,
                        .migrating = i % 2,
                        .busy = i % 3 == 0,
                };
        }

        /* The maximum number of VMs with short names fits. */
        fill(&m, CLUSTER_MSG_REPORT);
        m.report.vms = vms;
        m.report.n_vms = CLUSTER_REPORT_MAX_VMS;
        roundtrip(&m);

        /* One more is refused before the size is looked at. */
        m.report.n_vms = CLUSTER_REPORT_MAX_VMS + 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        assert_null(buf);

        /* Fewer VMs with long names exceed the message size. */
        memset(long_name, 'x', 200);
        long_name[200] = 0;
        for (size_t i = 0; i < CLUSTER_REPORT_MAX_VMS; i++)
                vms[i].name = long_name;
        m.report.n_vms = CLUSTER_REPORT_MAX_VMS;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EMSGSIZE);
        assert_null(buf);

        /* But a VM name over its limit is -EINVAL, even in a message that is too large. */
        _cleanup_free_ char *too_long = malloc(CLUSTER_NAME_MAX + 2);
        assert_non_null(too_long);
        memset(too_long, 'y', CLUSTER_NAME_MAX + 1);
        too_long[CLUSTER_NAME_MAX + 1] = 0;
        vms[CLUSTER_REPORT_MAX_VMS - 1].name = too_long;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* A name at its limit is fine. */
        too_long[CLUSTER_NAME_MAX] = 0;
        vms[0].name = too_long;
        m.report.n_vms = 1;
        roundtrip(&m);
}

static void test_encode_refusals(void **state) {
        _cleanup_free_ char *text = malloc(CLUSTER_JSON_MAX + 2);
        void *buf = NULL;
        ClusterMsg m;
        size_t size;

        assert_non_null(text);
        memset(text, 'a', CLUSTER_JSON_MAX + 1);
        text[CLUSTER_JSON_MAX + 1] = 0;

        fill(&m, CLUSTER_MSG_SYNC);
        m.sender = 0;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        fill(&m, CLUSTER_MSG_SYNC);
        m.type = 0;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.type = _CLUSTER_MSG_TYPE_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        fill(&m, CLUSTER_MSG_REPORT);
        m.report.mode = _HOST_MODE_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.report.mode = _HOST_MODE_INVALID;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        fill(&m, CLUSTER_MSG_SET_MODE);
        m.set_mode.mode = _HOST_MODE_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        fill(&m, CLUSTER_MSG_RESULT);
        m.result.result = CLUSTER_RESULT_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* Names, texts and JSON: one byte over the limit is refused, the limit itself fits. */
        fill(&m, CLUSTER_MSG_SYNC);
        m.sync.host = text + CLUSTER_JSON_MAX - CLUSTER_NAME_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.sync.host++;
        roundtrip(&m);

        fill(&m, CLUSTER_MSG_MIGRATE);
        m.migrate.reason = text + CLUSTER_JSON_MAX - CLUSTER_TEXT_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.migrate.reason++;
        roundtrip(&m);

        fill(&m, CLUSTER_MSG_REPLY);
        m.reply.json = text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.reply.json++;
        roundtrip(&m);

        /* Reply pieces: 1..CLUSTER_REPLY_MAX_PARTS of them, part < n_parts. */
        fill(&m, CLUSTER_MSG_REPLY);
        m.reply.n_parts = 0;
        m.reply.part = 0;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.reply.n_parts = CLUSTER_REPLY_MAX_PARTS + 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.reply.n_parts = 3;
        m.reply.part = 3;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.reply.n_parts = CLUSTER_REPLY_MAX_PARTS;
        m.reply.part = CLUSTER_REPLY_MAX_PARTS - 1;
        roundtrip(&m);
        m.reply.n_parts = 1;
        m.reply.part = 0;
        roundtrip(&m);

        assert_null(buf);
}

static void test_decode_refusals(void **state) {
        _cleanup_free_ uint8_t *sync = NULL, *report = NULL, *result = NULL, *set_mode = NULL, *big = NULL;
        size_t sync_size, report_size, result_size, set_mode_size;
        uint8_t b[512];
        ClusterMsg m;

        encode_type(CLUSTER_MSG_SYNC, &sync, &sync_size);
        assert_true(sync_size + 1 <= sizeof(b));

#define RESET() memcpy(b, sync, sync_size)

        expect_bad(NULL, 0, "empty");
        expect_bad(sync, CLUSTER_MSG_HEADER_SIZE - 1, "shorter than the header");

        RESET();
        b[0] ^= 0x80;
        expect_bad(b, sync_size, "wrong magic");

        RESET();
        b[5] = 2;
        expect_bad(b, sync_size, "version 2");
        RESET();
        b[4] = 1;
        expect_bad(b, sync_size, "version 257");

        RESET();
        b[7] = 0;
        expect_bad(b, sync_size, "type 0");
        b[7] = 9;
        expect_bad(b, sync_size, "type 9");
        b[6] = 1;
        b[7] = 1;
        expect_bad(b, sync_size, "type 257");

        RESET();
        put_be32(b + 8, (uint32_t) sync_size + 1);
        expect_bad(b, sync_size, "length field over the size");
        put_be32(b + 8, (uint32_t) sync_size - 1);
        expect_bad(b, sync_size, "length field under the size");

        RESET();
        put_be32(b + 12, 0);
        expect_bad(b, sync_size, "sender 0");

        /* A trailing byte, with the length field saying so. */
        RESET();
        b[sync_size] = 0;
        put_be32(b + 8, (uint32_t) sync_size + 1);
        expect_bad(b, sync_size + 1, "trailing byte");
        /* … and with the length field left alone. */
        RESET();
        expect_bad(b, sync_size + 1, "trailing byte, length not updated");

        /* Every message type: every prefix is refused, both as is (the length field gives it
         * away) and with the length field patched to the prefix (a truncated field). */
        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                _cleanup_free_ uint8_t *full = NULL, *copy = NULL;
                size_t size;

                encode_type(t, &full, &size);
                copy = malloc(size);
                assert_non_null(copy);
                for (size_t n = 0; n < size; n++) {
                        expect_bad(full, n, "prefix");
                        if (n >= CLUSTER_MSG_HEADER_SIZE) {
                                memcpy(copy, full, n);
                                put_be32(copy + 8, (uint32_t) n);
                                expect_bad(copy, n, "truncated field");
                        }
                }
        }

        /* REPLY: header, request_id u64, to u32, part u16, n_parts u16, then the JSON piece. */
        {
                _cleanup_free_ uint8_t *reply = NULL;
                size_t reply_size, at = CLUSTER_MSG_HEADER_SIZE + 8 + 4;
                encode_type(CLUSTER_MSG_REPLY, &reply, &reply_size);
                assert_true(reply_size <= sizeof(b));
                memcpy(b, reply, reply_size);
                assert_int_equal(cluster_msg_decode(b, reply_size, &m, NULL), 0);
                assert_int_equal(m.reply.part, 2);
                assert_int_equal(m.reply.n_parts, 3);
                cluster_msg_done(&m);
                b[at + 1] = 3; /* part 3 of 3 */
                expect_bad(b, reply_size, "reply part == n_parts");
                memcpy(b, reply, reply_size);
                b[at + 3] = 0; /* 0 parts */
                expect_bad(b, reply_size, "reply of 0 parts");
                memcpy(b, reply, reply_size);
                b[at + 2] = 1; /* 259 parts */
                expect_bad(b, reply_size, "reply of too many parts");
        }

        /* SYNC: header, leader u32, leader_term u64, max_term u64, then the host string. */
        const size_t host_at = CLUSTER_MSG_HEADER_SIZE + 4 + 8 + 8;
        assert_int_equal(sync_size, host_at + 2 + 2); /* "h1" */

        /* A NUL inside a string. */
        RESET();
        b[host_at + 3] = 0;
        expect_bad(b, sync_size, "NUL in a string");
        b[host_at + 2] = 0;
        expect_bad(b, sync_size, "NUL string");

        /* A string over its limit: a host name of CLUSTER_NAME_MAX + 1 bytes. */
        size_t n = host_at + 2 + CLUSTER_NAME_MAX + 1;
        assert_true(n <= sizeof(b));
        RESET();
        memset(b + host_at + 2, 'h', CLUSTER_NAME_MAX + 1);
        b[host_at] = (uint8_t) ((CLUSTER_NAME_MAX + 1) >> 8);
        b[host_at + 1] = (uint8_t) (CLUSTER_NAME_MAX + 1);
        put_be32(b + 8, (uint32_t) n);
        expect_bad(b, n, "name over its limit");
        /* The same at the limit is accepted. */
        b[host_at] = 0;
        b[host_at + 1] = (uint8_t) CLUSTER_NAME_MAX;
        put_be32(b + 8, (uint32_t) n - 1);
        assert_int_equal(cluster_msg_decode(b, n - 1, &m, NULL), 0);
        assert_int_equal(strlen(m.sync.host), CLUSTER_NAME_MAX);
        cluster_msg_done(&m);
        assert_int_equal(m.type, 0);
        /* A string length running past the end. */
        RESET();
        b[host_at] = 0xff;
        b[host_at + 1] = 0xff;
        expect_bad(b, sync_size, "string length past the end");

        /* REPORT with host "h1", migration_uri "tcp://h1.example:49152", then the mode. */
        fill(&m, CLUSTER_MSG_REPORT);
        m.report.vms = NULL;
        m.report.n_vms = 0;
        m.report.mode_reason = NULL;
        encode_msg(&m, &report, &report_size);
        assert_true(report_size <= sizeof(b));
        const size_t mode_at = CLUSTER_MSG_HEADER_SIZE + 2 + 2 + 2 + strlen(m.report.migration_uri);
        const size_t have_sample_at = mode_at + 1 + 2 + 8;
        const size_t count_at = report_size - 4;

        memcpy(b, report, report_size);
        assert_int_equal(b[mode_at], HOST_MODE_POWER_ON_FAILED);
        assert_int_equal(b[have_sample_at], 1);
        b[mode_at] = _HOST_MODE_MAX;
        expect_bad(b, report_size, "mode out of range");
        b[mode_at] = 0xff;
        expect_bad(b, report_size, "mode 255");

        memcpy(b, report, report_size);
        b[have_sample_at] = 2;
        expect_bad(b, report_size, "bool 2");
        b[have_sample_at] = 0xff;
        expect_bad(b, report_size, "bool 255");

        /* The VM count is the last field: counts the remaining bytes cannot hold. */
        memcpy(b, report, report_size);
        put_be32(b + count_at, UINT32_MAX);
        expect_bad(b, report_size, "VM count 0xFFFFFFFF");
        put_be32(b + count_at, 1);
        expect_bad(b, report_size, "VM count 1, no VM");

        /* A report with more VMs than allowed, each of the smallest size (empty name, zeros). */
        const size_t vm_size = 2 + 4 + 8 + 4 + 8 + 1 + 1 + 2;
        size_t big_size = report_size + (CLUSTER_REPORT_MAX_VMS + 1) * vm_size;
        big = calloc(1, big_size);
        assert_non_null(big);
        memcpy(big, report, report_size);
        put_be32(big + 8, (uint32_t) big_size);
        put_be32(big + count_at, CLUSTER_REPORT_MAX_VMS + 1);
        expect_bad(big, big_size, "too many VMs");
        /* The maximum is accepted. */
        big_size -= vm_size;
        put_be32(big + 8, (uint32_t) big_size);
        put_be32(big + count_at, CLUSTER_REPORT_MAX_VMS);
        assert_int_equal(cluster_msg_decode(big, big_size, &m, NULL), 0);
        assert_int_equal(m.report.n_vms, CLUSTER_REPORT_MAX_VMS);
        assert_string_equal(m.report.vms[CLUSTER_REPORT_MAX_VMS - 1].name, "");
        cluster_msg_done(&m);
        /* A VM's bool and CPU demand (the last VM: its busy byte, then its empty target, end the
         * message). */
        big[big_size - 3] = 2;
        expect_bad(big, big_size, "VM bool 2");
        big[big_size - 3] = 0;
        put_be32(big + big_size - 3 - 1 - 8 - 4, UINT32_C(4000000000));
        expect_bad(big, big_size, "CPU demand out of range");
        put_be32(big + big_size - 3 - 1 - 8 - 4, UINT32_C(3999999999));
        assert_int_equal(cluster_msg_decode(big, big_size, &m, NULL), 0);
        assert_true(m.report.vms[CLUSTER_REPORT_MAX_VMS - 1].cpu_demand == 3999999.999);
        cluster_msg_done(&m);

        /* SET_MODE: header, order_id, host "h3", mode. */
        encode_type(CLUSTER_MSG_SET_MODE, &set_mode, &set_mode_size);
        memcpy(b, set_mode, set_mode_size);
        const size_t set_mode_at = CLUSTER_MSG_HEADER_SIZE + 8 + 2 + 2;
        assert_int_equal(b[set_mode_at], HOST_MODE_ENTERING_MAINTENANCE);
        b[set_mode_at] = _HOST_MODE_MAX;
        expect_bad(b, set_mode_size, "set-mode mode out of range");

        /* RESULT: header, order_id, order_term, vm "web-1", source "h1", target "h2", result. */
        encode_type(CLUSTER_MSG_RESULT, &result, &result_size);
        memcpy(b, result, result_size);
        const size_t result_at = CLUSTER_MSG_HEADER_SIZE + 8 + 8 + 2 + 5 + 2 + 2 + 2 + 2;
        assert_int_equal(b[result_at], CLUSTER_RESULT_MAX - 1);
        b[result_at] = CLUSTER_RESULT_MAX;
        expect_bad(b, result_size, "result out of range");
        b[result_at] = 0xff;
        expect_bad(b, result_size, "result 255");

        /* Larger than CLUSTER_MSG_MAX, however consistent. */
        free(big);
        big_size = CLUSTER_MSG_MAX + 1;
        big = calloc(1, big_size);
        assert_non_null(big);
        memcpy(big, sync, CLUSTER_MSG_HEADER_SIZE);
        put_be32(big + 8, (uint32_t) big_size);
        expect_bad(big, big_size, "over CLUSTER_MSG_MAX");

#undef RESET
}

/* Every single-bit flip of a valid message of every type: refused or decoded, never a crash
 * (run under ASan/valgrind to mean something). Whatever decodes re-encodes to the same bytes. */
static void test_bit_flips(void **state) {
        size_t ok = 0, bad = 0;

        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t size;

                encode_type(t, &buf, &size);
                for (size_t bit = 0; bit < size * 8; bit++) {
                        ClusterMsg m;
                        const char *err = NULL;

                        buf[bit / 8] ^= (uint8_t) (1U << (bit % 8));
                        int k = cluster_msg_decode(buf, size, &m, &err);
                        if (k == 0) {
                                _cleanup_free_ void *again = NULL;
                                size_t again_size;
                                assert_int_equal(cluster_msg_encode(&m, &again, &again_size), 0);
                                assert_int_equal(again_size, size);
                                assert_memory_equal(again, buf, size);
                                cluster_msg_done(&m);
                                ok++;
                        } else {
                                assert_int_equal(k, -EBADMSG);
                                assert_non_null(err);
                                bad++;
                        }
                        buf[bit / 8] ^= (uint8_t) (1U << (bit % 8));
                }
        }
        assert_true(ok > 0);
        assert_true(bad > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_to_string),          cmocka_unit_test(test_roundtrip_every_type),
                cmocka_unit_test(test_roundtrip_null_optional), cmocka_unit_test(test_cpu_demand),
                cmocka_unit_test(test_report_limits),           cmocka_unit_test(test_encode_refusals),
                cmocka_unit_test(test_decode_refusals),         cmocka_unit_test(test_bit_flips),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
