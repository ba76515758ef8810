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

#include "cluster-msg-equal.h"
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

        static char *markers_default[] = {(char *) "nfs:srv.example:/export", (char *) "", NULL};
        static char *markers_none[] = {NULL};
        static ClusterPool pools[] = {
                {.name = (char *) "default",
                 .target = (char *) "/var/lib/libvirt/images",
                 .markers = markers_default},
                {.name = (char *) "scratch", .target = NULL, .markers = markers_none},
        };
        static ClusterDisk web_disks[] = {
                {.path = (char *) "/var/lib/libvirt/images/web-1.qcow2", .allocation_bytes = 1},
                {.path = (char *) "/var/lib/libvirt/images/web-1-data.raw", .allocation_bytes = UINT64_MAX},
                {.path = (char *) "", .allocation_bytes = 0},
        };
        static ClusterDisk db_disks[] = {
                {.path = (char *) "/srv/scratch/db-1.qcow2", .allocation_bytes = UINT64_C(21474836480)},
        };
        static ClusterVmDisks vm_disks[] = {
                {.name = (char *) "web-1", .disks = web_disks, .n_disks = ELEMENTSOF(web_disks)},
                {.name = (char *) "db-1", .disks = db_disks, .n_disks = ELEMENTSOF(db_disks)},
                {.name = (char *) "no-disks"},
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
        case CLUSTER_MSG_STORAGE:
                m->storage = (ClusterStorage){
                        .host = (char *) "h1",
                        .generation = UINT32_C(0xdeadbeef),
                        .part = 0,
                        .n_parts = 1,
                        .pools = pools,
                        .n_pools = ELEMENTSOF(pools),
                        .vms = vm_disks,
                        .n_vms = ELEMENTSOF(vm_disks),
                };
                break;
        case CLUSTER_MSG_STORAGE_MOVE:
                m->storage_move = (ClusterStorageMove){
                        .order_id = 44,
                        .vm = (char *) "web-1",
                        .host = (char *) "h1",
                        .pool = (char *) "fast",
                        .disk = (char *) "/var/lib/libvirt/images/web-1.qcow2",
                        .remove_source = true,
                        .force = true,
                        .bandwidth_mib_s = UINT64_MAX,
                };
                break;
        case CLUSTER_MSG_STORAGE_DONE:
                m->storage_done = (ClusterStorageDone){
                        .order_id = 44,
                        .order_term = 7,
                        .vm = (char *) "web-1",
                        .host = (char *) "h1",
                        .pool = (char *) "fast",
                        .ok = true,
                        .duration_ms = 98765,
                        .bytes = UINT64_MAX,
                        .source_removed = true,
                        .moved = (char *) "vda: default → fast; vdb: default → fast",
                        .message = (char *) "block job cancelled",
                        .warning = (char *) "source copy of vdb left behind",
                };
                break;
        default:
                fail();
        }
}

/* fill() with every version-2 field of MIGRATE and RESULT set too (other types: as fill()). */
static void fill_v2(ClusterMsg *m, ClusterMsgType t) {
        fill(m, t);
        if (t == CLUSTER_MSG_MIGRATE) {
                m->migrate.copy_storage = true;
                m->migrate.remove_source_storage = true;
                m->migrate.disk_mib = UINT64_C(0x0102030405060708);
                m->migrate.remote = true;
                m->migrate.target_uri = (char *) "qemu+tls://remote.example/system";
                m->migrate.parallel_connections = 64;
                m->migrate.compression = CLUSTER_COMPRESSION_MAX - 1;
                m->migrate.remote_bandwidth_mib_s = UINT64_MAX;
        } else if (t == CLUSTER_MSG_RESULT) {
                m->result.encryption = CLUSTER_ENCRYPTION_MAX - 1;
                m->result.disks_copied = UINT32_MAX;
                m->result.disk_bytes = UINT64_MAX;
                m->result.source_storage_removed = true;
        }
}

/* What decoding m's encoding must give: m with the version the encoder picks. */
static ClusterMsg expected(const ClusterMsg *m) {
        ClusterMsg e = *m; /* shallow: never cluster_msg_done() it */

        if (e.version == 0)
                e.version = cluster_msg_version_needed(m);
        return e;
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
        ClusterMsg e = expected(m);
        /* The header's version (bytes 4-5) is the one picked, and decodes as such. */
        assert_int_equal(((const uint8_t *) buf)[4] << 8 | ((const uint8_t *) buf)[5], e.version);
        if (!cluster_msg_equal(&e, &d))
                fail_msg(
                        "%s version %u: decoded message differs", cluster_msg_type_to_string(m->type),
                        e.version);

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

/* The same, and the error message says why: it contains because. */
static void
expect_bad_msg_at(const uint8_t *buf, size_t size, const char *what, const char *because, int line) {
        ClusterMsg m = {};
        const char *err = NULL;

        expect_bad_at(buf, size, what, line);
        assert_int_equal(cluster_msg_decode(buf, size, &m, &err), -EBADMSG);
        if (!strstr(err, because))
                fail_msg("line %d: %s: refused with \"%s\", expected \"%s\"", line, what, err, because);
}
#define expect_bad_msg(buf, size, what, because) expect_bad_msg_at(buf, size, what, because, __LINE__)

/* Inserts n bytes at offset at of the message *buf (growing it) and updates its length field. */
static void insert_bytes(uint8_t **buf, size_t *size, size_t at, const void *p, size_t n) {
        uint8_t *b = realloc(*buf, *size + n);

        assert_non_null(b);
        assert_true(at <= *size);
        memmove(b + at + n, b + at, *size - at);
        memcpy(b + at, p, n);
        *size += n;
        put_be32(b + 8, (uint32_t) *size);
        *buf = b;
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

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
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_STORAGE), "storage");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_STORAGE_MOVE), "storage-move");
        assert_string_equal(cluster_msg_type_to_string(CLUSTER_MSG_STORAGE_DONE), "storage-done");
        assert_null(cluster_msg_type_to_string(0));
        assert_null(cluster_msg_type_to_string(_CLUSTER_MSG_TYPE_MAX));
        assert_null(cluster_msg_type_to_string((ClusterMsgType) -1));
}

static bool type_is_v2(ClusterMsgType t) {
        return t == CLUSTER_MSG_STORAGE || t == CLUSTER_MSG_STORAGE_MOVE || t == CLUSTER_MSG_STORAGE_DONE;
}

static void test_roundtrip_every_type(void **state) {
        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                ClusterMsg m;

                /* The encoder's choice (version 0): the lowest version that holds it. */
                fill(&m, t);
                assert_int_equal(cluster_msg_version_needed(&m), type_is_v2(t) ? 2 : 1);
                roundtrip(&m);
                fill_v2(&m, t);
                assert_int_equal(
                        cluster_msg_version_needed(&m),
                        type_is_v2(t) || t == CLUSTER_MSG_MIGRATE || t == CLUSTER_MSG_RESULT ? 2 : 1);
                roundtrip(&m);

                /* Every version that can hold it, asked for explicitly. */
                for (uint16_t v = CLUSTER_MSG_VERSION_MIN; v <= CLUSTER_MSG_VERSION; v++) {
                        fill(&m, t);
                        m.version = v;
                        if (v >= cluster_msg_version_needed(&m))
                                roundtrip(&m);
                        fill_v2(&m, t);
                        m.version = v;
                        if (v >= cluster_msg_version_needed(&m))
                                roundtrip(&m);
                }
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

        /* Version 2: the optional strings of the new types and of MIGRATE. */
        fill(&m, CLUSTER_MSG_STORAGE_MOVE);
        m.storage_move.disk = NULL;
        m.storage_move.remove_source = false;
        roundtrip(&m);
        fill(&m, CLUSTER_MSG_STORAGE_DONE);
        m.storage_done.moved = NULL;
        m.storage_done.message = NULL;
        m.storage_done.warning = NULL;
        m.storage_done.ok = false;
        roundtrip(&m);
        fill_v2(&m, CLUSTER_MSG_MIGRATE);
        m.migrate.target_uri = NULL;
        m.migrate.remote = false;
        roundtrip(&m);

        /* STORAGE: no pools and no VMs; a later part (no pools); NULL markers decode to an empty
         * strv, never NULL. */
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        m.storage.vms = NULL;
        m.storage.n_vms = 0;
        roundtrip(&m);
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        m.storage.part = 2;
        m.storage.n_parts = 3;
        roundtrip(&m);
        m.storage.part = CLUSTER_STORAGE_MAX_PARTS - 1;
        m.storage.n_parts = CLUSTER_STORAGE_MAX_PARTS;
        roundtrip(&m);

        ClusterPool null_markers = {.name = (char *) "p"};
        _cleanup_free_ uint8_t *sbuf = NULL;
        _cleanup_(cluster_msg_done) ClusterMsg sd = {};
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = &null_markers;
        m.storage.n_pools = 1;
        roundtrip(&m);
        encode_msg(&m, &sbuf, &size);
        assert_int_equal(cluster_msg_decode(sbuf, size, &sd, NULL), 0);
        assert_int_equal(sd.storage.n_pools, 1);
        assert_non_null(sd.storage.pools[0].markers);
        assert_null(sd.storage.pools[0].markers[0]);
        assert_null(sd.storage.pools[0].target);
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
        b[5] = 3;
        expect_bad_msg(b, sync_size, "version 3", "newer");
        RESET();
        b[4] = 1;
        expect_bad_msg(b, sync_size, "version 257", "newer");
        RESET();
        b[4] = 0xff;
        b[5] = 0xff;
        expect_bad_msg(b, sync_size, "version 65535", "newer");
        RESET();
        b[5] = 0;
        expect_bad_msg(b, sync_size, "version 0", "unknown message version");
        /* Version 2 is valid now, for a type of version 1 too. */
        RESET();
        b[5] = 2;
        assert_int_equal(cluster_msg_decode(b, sync_size, &m, NULL), 0);
        assert_int_equal(m.version, 2);
        assert_string_equal(m.sync.host, "h1");
        cluster_msg_done(&m);
        RESET();
        assert_int_equal(cluster_msg_decode(b, sync_size, &m, NULL), 0);
        assert_int_equal(m.version, 1);
        cluster_msg_done(&m);

        RESET();
        b[7] = 0;
        expect_bad(b, sync_size, "type 0");
        b[7] = 9;
        expect_bad(b, sync_size, "type 9");
        b[6] = 1;
        b[7] = 1;
        expect_bad(b, sync_size, "type 257");
        b[6] = 0;
        b[7] = _CLUSTER_MSG_TYPE_MAX;
        expect_bad_msg(b, sync_size, "type 15", "unknown message type");

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

        /* Every type as fill() makes it (in the lowest version), then MIGRATE and RESULT with every
         * version-2 field set, then every type explicitly in version 2. */
        for (size_t i = 0; i < 3 * (_CLUSTER_MSG_TYPE_MAX - 1); i++) {
                ClusterMsgType t = (ClusterMsgType) (i % (_CLUSTER_MSG_TYPE_MAX - 1) + 1);
                _cleanup_free_ uint8_t *buf = NULL;
                size_t size;
                ClusterMsg msg;

                if (i < _CLUSTER_MSG_TYPE_MAX - 1)
                        fill(&msg, t);
                else if (i < 2 * (_CLUSTER_MSG_TYPE_MAX - 1)) {
                        if (t != CLUSTER_MSG_MIGRATE && t != CLUSTER_MSG_RESULT)
                                continue;
                        fill_v2(&msg, t);
                } else {
                        fill(&msg, t);
                        msg.version = 2;
                }
                encode_msg(&msg, &buf, &size);
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

/* The encoder sends every message in the lowest version that holds it, or in the one asked for
 * when that one can hold it. */
static void test_versions(void **state) {
        _cleanup_free_ uint8_t *v1 = NULL, *v2 = NULL;
        size_t v1_size, v2_size;
        void *buf = NULL;
        ClusterMsg m;
        size_t size;

        /* A plain MIGRATE: version 1, the version-1 body. */
        fill(&m, CLUSTER_MSG_MIGRATE);
        encode_msg(&m, &v1, &v1_size);
        assert_int_equal(v1[4], 0);
        assert_int_equal(v1[5], 1);
        assert_int_equal(
                v1_size, CLUSTER_MSG_HEADER_SIZE + 8 + 2 + strlen(m.migrate.vm) + 2 +
                                 strlen(m.migrate.source) + 2 + strlen(m.migrate.target) + 2 +
                                 strlen(m.migrate.target_migration_uri) + 8 + 2 + strlen(m.migrate.reason));

        /* Any version-2 field makes it version 2, with the whole version-2 tail. */
        for (unsigned f = 0; f < 8; f++) {
                _cleanup_free_ uint8_t *b = NULL;
                fill(&m, CLUSTER_MSG_MIGRATE);
                switch (f) {
                case 0:
                        m.migrate.copy_storage = true;
                        break;
                case 1:
                        m.migrate.remove_source_storage = true;
                        break;
                case 2:
                        m.migrate.disk_mib = 1;
                        break;
                case 3:
                        m.migrate.remote = true;
                        break;
                case 4:
                        m.migrate.target_uri = (char *) "qemu+ssh://x/system";
                        break;
                case 5:
                        m.migrate.parallel_connections = 1;
                        break;
                case 6:
                        m.migrate.compression = 1;
                        break;
                case 7:
                        m.migrate.remote_bandwidth_mib_s = 1;
                        break;
                }
                assert_int_equal(cluster_msg_version_needed(&m), 2);
                encode_msg(&m, &b, &size);
                assert_int_equal(b[4], 0);
                assert_int_equal(b[5], 2);
                assert_int_equal(
                        size, v1_size + 1 + 1 + 8 + 1 + 2 + (f == 4 ? strlen(m.migrate.target_uri) : 0) + 4 +
                                      1 + 8);
                assert_memory_equal(b + 6, v1 + 6, 2); /* the type */
                assert_memory_equal(b + 12, v1 + 12, v1_size - 12);
                roundtrip(&m);

                /* Version 1 asked for explicitly cannot hold it. */
                m.version = 1;
                assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
                assert_null(buf);
        }

        /* copy_storage: version 2; asked for version 1: refused. */
        fill(&m, CLUSTER_MSG_MIGRATE);
        m.migrate.copy_storage = true;
        encode_msg(&m, &v2, &v2_size);
        assert_int_equal(v2[5], 2);
        m.version = 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.version = 2;
        roundtrip(&m);

        /* RESULT likewise. */
        for (unsigned f = 0; f < 4; f++) {
                _cleanup_free_ uint8_t *b = NULL, *r1 = NULL;
                size_t r1_size;
                fill(&m, CLUSTER_MSG_RESULT);
                encode_msg(&m, &r1, &r1_size);
                assert_int_equal(r1[5], 1);
                switch (f) {
                case 0:
                        m.result.encryption = 1;
                        break;
                case 1:
                        m.result.disks_copied = 1;
                        break;
                case 2:
                        m.result.disk_bytes = 1;
                        break;
                case 3:
                        m.result.source_storage_removed = true;
                        break;
                }
                assert_int_equal(cluster_msg_version_needed(&m), 2);
                encode_msg(&m, &b, &size);
                assert_int_equal(b[5], 2);
                assert_int_equal(size, r1_size + 1 + 4 + 8 + 1);
                roundtrip(&m);
                m.version = 1;
                assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        }

        /* A version-1 type asked for in version 2: the same body under a version-2 header. */
        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                _cleanup_free_ uint8_t *a = NULL, *b = NULL;
                size_t a_size, b_size;
                fill(&m, t);
                if (type_is_v2(t)) {
                        /* The new types need version 2: version 1 asked for is refused. */
                        m.version = 1;
                        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
                        assert_null(buf);
                        continue;
                }
                encode_msg(&m, &a, &a_size);
                m.version = 2;
                encode_msg(&m, &b, &b_size);
                assert_int_equal(a[5], 1);
                assert_int_equal(b[5], 2);
                /* The type, the sender, the term and the version-1 body are the same; MIGRATE and
                 * RESULT have their version-2 tail too (zeros but target_uri's empty string). */
                assert_memory_equal(a + 6, b + 6, 2);
                assert_memory_equal(a + 12, b + 12, a_size - 12);
                if (t == CLUSTER_MSG_MIGRATE)
                        assert_int_equal(b_size, a_size + 1 + 1 + 8 + 1 + 2 + 4 + 1 + 8);
                else if (t == CLUSTER_MSG_RESULT)
                        assert_int_equal(b_size, a_size + 1 + 4 + 8 + 1);
                else
                        assert_int_equal(b_size, a_size);
                for (size_t i = a_size; i < b_size; i++)
                        assert_int_equal(b[i], 0);
                roundtrip(&m);
        }

        /* Versions this encoder does not speak. */
        for (ClusterMsgType t = CLUSTER_MSG_SYNC; t < _CLUSTER_MSG_TYPE_MAX; t++) {
                fill_v2(&m, t);
                m.version = CLUSTER_MSG_VERSION + 1;
                assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
                m.version = UINT16_MAX;
                assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        }
        assert_null(buf);
}

static void test_v2_encode_refusals(void **state) {
        _cleanup_free_ char *long_text = malloc(CLUSTER_TEXT_MAX + 2);
        char *many_markers[CLUSTER_STORAGE_MAX_MARKERS + 2] = {};
        _cleanup_free_ ClusterDisk *disks = calloc(CLUSTER_STORAGE_MAX_DISKS + 1, sizeof(ClusterDisk));
        void *buf = NULL;
        ClusterMsg m;
        size_t size;

        assert_non_null(long_text);
        assert_non_null(disks);
        memset(long_text, 't', CLUSTER_TEXT_MAX + 1);
        long_text[CLUSTER_TEXT_MAX + 1] = 0;

        /* MIGRATE: compression, parallel connections. */
        fill_v2(&m, CLUSTER_MSG_MIGRATE);
        m.migrate.compression = CLUSTER_COMPRESSION_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.migrate.compression = UINT8_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        fill_v2(&m, CLUSTER_MSG_MIGRATE);
        m.migrate.parallel_connections = 65;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.migrate.parallel_connections = UINT32_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.migrate.parallel_connections = 64;
        roundtrip(&m);
        m.migrate.target_uri = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.migrate.target_uri++;
        roundtrip(&m);

        /* RESULT: encryption. */
        fill_v2(&m, CLUSTER_MSG_RESULT);
        m.result.encryption = CLUSTER_ENCRYPTION_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.result.encryption = UINT8_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* STORAGE: parts. */
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.n_parts = 0;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage.n_parts = CLUSTER_STORAGE_MAX_PARTS + 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage.n_parts = 2;
        m.storage.part = 2;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        /* Pools in a part other than the first. */
        m.storage.part = 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage.n_pools = 0;
        roundtrip(&m);

        /* STORAGE: markers of a pool. */
        for (size_t i = 0; i <= CLUSTER_STORAGE_MAX_MARKERS; i++)
                many_markers[i] = (char *) "m";
        ClusterPool pool = {.name = (char *) "p", .markers = many_markers};
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = &pool;
        m.storage.n_pools = 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        many_markers[CLUSTER_STORAGE_MAX_MARKERS] = NULL;
        roundtrip(&m);
        many_markers[0] = long_text + CLUSTER_TEXT_MAX - CLUSTER_NAME_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        many_markers[0]++;
        roundtrip(&m);
        pool.target = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* STORAGE: disks of a VM. */
        for (size_t i = 0; i <= CLUSTER_STORAGE_MAX_DISKS; i++)
                disks[i] = (ClusterDisk){.path = (char *) "/d", .allocation_bytes = i};
        ClusterVmDisks vm = {.name = (char *) "v", .disks = disks, .n_disks = CLUSTER_STORAGE_MAX_DISKS + 1};
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.vms = &vm;
        m.storage.n_vms = 1;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        vm.n_disks = CLUSTER_STORAGE_MAX_DISKS;
        roundtrip(&m);
        disks[0].path = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        disks[0].path++;
        roundtrip(&m);
        vm.disks = NULL;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* A count without its array. */
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = NULL;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.vms = NULL;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        /* STORAGE_MOVE / STORAGE_DONE: strings over their limits. */
        fill(&m, CLUSTER_MSG_STORAGE_MOVE);
        m.storage_move.pool = long_text + CLUSTER_TEXT_MAX - CLUSTER_NAME_MAX;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage_move.pool++;
        roundtrip(&m);
        m.storage_move.disk = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage_move.disk++;
        roundtrip(&m);
        fill(&m, CLUSTER_MSG_STORAGE_DONE);
        m.storage_done.warning = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);
        m.storage_done.warning++;
        roundtrip(&m);
        m.storage_done.vm = long_text;
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EINVAL);

        assert_null(buf);
}

static void test_v2_decode_refusals(void **state) {
        _cleanup_free_ uint8_t *mig1 = NULL, *mig2 = NULL, *res1 = NULL, *res2 = NULL, *b = NULL;
        size_t mig1_size, mig2_size, res1_size, res2_size, size;
        ClusterMsg m;

        /* The new types under a version-1 header. */
        for (ClusterMsgType t = CLUSTER_MSG_STORAGE; t <= CLUSTER_MSG_STORAGE_DONE; t++) {
                _cleanup_free_ uint8_t *x = NULL;
                encode_type(t, &x, &size);
                assert_int_equal(x[5], 2);
                x[5] = 1;
                expect_bad_msg(x, size, "version-2 type under a version-1 header", "newer version");
                x[5] = 3;
                expect_bad_msg(x, size, "version 3", "newer");
                x[5] = 0;
                expect_bad_msg(x, size, "version 0", "unknown message version");
        }

        /* MIGRATE: a version-1 header followed by the version-2 tail; a version-2 header with only
         * the version-1 body. */
        fill(&m, CLUSTER_MSG_MIGRATE);
        encode_msg(&m, &mig1, &mig1_size);
        fill_v2(&m, CLUSTER_MSG_MIGRATE);
        encode_msg(&m, &mig2, &mig2_size);
        assert_true(mig2_size > mig1_size);
        assert_memory_equal(mig1 + 12, mig2 + 12, mig1_size - 12);
        b = malloc(mig2_size);
        assert_non_null(b);
        memcpy(b, mig2, mig2_size);
        b[5] = 1;
        expect_bad_msg(b, mig2_size, "v1 MIGRATE + v2 tail", "trailing bytes");
        memcpy(b, mig1, mig1_size);
        b[5] = 2;
        expect_bad_msg(b, mig1_size, "v2 MIGRATE without its tail", "truncated");

        /* MIGRATE's version-2 tail: copy_storage, remove_source_storage (u8 each), disk_mib u64,
         * remote u8, target_uri, parallel_connections u32, compression u8, bandwidth u64. */
        const size_t compression_at = mig2_size - 8 - 1, parallel_at = compression_at - 4;
        const size_t remote_at = mig1_size + 1 + 1 + 8;
        memcpy(b, mig2, mig2_size);
        assert_int_equal(b[compression_at], CLUSTER_COMPRESSION_MAX - 1);
        assert_int_equal(get_be32(b + parallel_at), 64);
        assert_int_equal(b[mig1_size], 1);
        assert_int_equal(b[remote_at], 1);
        b[compression_at] = CLUSTER_COMPRESSION_MAX;
        expect_bad_msg(b, mig2_size, "compression out of range", "compression");
        b[compression_at] = 0xff;
        expect_bad_msg(b, mig2_size, "compression 255", "compression");
        memcpy(b, mig2, mig2_size);
        put_be32(b + parallel_at, 65);
        expect_bad_msg(b, mig2_size, "parallel connections 65", "parallel");
        put_be32(b + parallel_at, UINT32_MAX);
        expect_bad_msg(b, mig2_size, "parallel connections 2^32-1", "parallel");
        put_be32(b + parallel_at, 0);
        assert_int_equal(cluster_msg_decode(b, mig2_size, &m, NULL), 0);
        assert_int_equal(m.migrate.parallel_connections, 0);
        assert_int_equal(m.version, 2);
        cluster_msg_done(&m);
        for (size_t at = mig1_size; at < mig1_size + 2; at++) {
                memcpy(b, mig2, mig2_size);
                b[at] = 2;
                expect_bad_msg(b, mig2_size, "copy/remove bool 2", "boolean");
        }
        memcpy(b, mig2, mig2_size);
        b[remote_at] = 2;
        expect_bad_msg(b, mig2_size, "remote bool 2", "boolean");

        /* RESULT's version-2 tail: encryption u8, disks_copied u32, disk_bytes u64, removed u8. */
        fill(&m, CLUSTER_MSG_RESULT);
        encode_msg(&m, &res1, &res1_size);
        fill_v2(&m, CLUSTER_MSG_RESULT);
        encode_msg(&m, &res2, &res2_size);
        assert_int_equal(res2_size, res1_size + 1 + 4 + 8 + 1);
        free(b);
        b = malloc(res2_size);
        assert_non_null(b);
        memcpy(b, res2, res2_size);
        assert_int_equal(b[res1_size], CLUSTER_ENCRYPTION_MAX - 1);
        b[res1_size] = CLUSTER_ENCRYPTION_MAX;
        expect_bad_msg(b, res2_size, "encryption out of range", "encryption");
        b[res1_size] = 0xff;
        expect_bad_msg(b, res2_size, "encryption 255", "encryption");
        memcpy(b, res2, res2_size);
        b[res2_size - 1] = 2;
        expect_bad_msg(b, res2_size, "source_storage_removed 2", "boolean");
        memcpy(b, res2, res2_size);
        b[5] = 1;
        expect_bad_msg(b, res2_size, "v1 RESULT + v2 tail", "trailing bytes");
        memcpy(b, res1, res1_size);
        b[5] = 2;
        expect_bad_msg(b, res1_size, "v2 RESULT without its tail", "truncated");
}

/* STORAGE: header, host "h1" (u16 + 2), generation u32, part u16, n_parts u16, n_pools u32, the
 * pools (name, target, u32 count, markers), n_vms u32, the VMs (name, u32 count, disks (path,
 * allocation u64)). */
#define STORAGE_PART_AT (CLUSTER_MSG_HEADER_SIZE + 2 + 2 + 4)
#define STORAGE_N_PARTS_AT (STORAGE_PART_AT + 2)
#define STORAGE_N_POOLS_AT (STORAGE_N_PARTS_AT + 2)
#define STORAGE_POOLS_AT (STORAGE_N_POOLS_AT + 4)

static void test_storage_decode_refusals(void **state) {
        _cleanup_free_ uint8_t *full = NULL, *b = NULL;
        char *markers[CLUSTER_STORAGE_MAX_MARKERS + 1] = {};
        _cleanup_free_ ClusterDisk *disks = calloc(CLUSTER_STORAGE_MAX_DISKS, sizeof(ClusterDisk));
        size_t full_size, size;
        ClusterMsg m;

        assert_non_null(disks);
        fill(&m, CLUSTER_MSG_STORAGE);
        encode_msg(&m, &full, &full_size);
        b = malloc(full_size);
        assert_non_null(b);
#define RESET() memcpy(b, full, full_size)
        RESET();
        assert_int_equal(b[STORAGE_PART_AT + 1], 0);
        assert_int_equal(b[STORAGE_N_PARTS_AT + 1], 1);
        assert_int_equal(get_be32(b + STORAGE_N_POOLS_AT), 2);

        /* Parts: part < n_parts, 1 ≤ n_parts ≤ CLUSTER_STORAGE_MAX_PARTS; pools in part 0 only. */
        b[STORAGE_PART_AT + 1] = 1;
        expect_bad_msg(b, full_size, "part == n_parts", "part out of range");
        b[STORAGE_PART_AT] = 0xff;
        expect_bad_msg(b, full_size, "part 0xff01", "part out of range");
        RESET();
        b[STORAGE_N_PARTS_AT + 1] = 0;
        expect_bad_msg(b, full_size, "n_parts 0", "part out of range");
        b[STORAGE_N_PARTS_AT + 1] = CLUSTER_STORAGE_MAX_PARTS + 1;
        expect_bad_msg(b, full_size, "n_parts over the maximum", "part out of range");
        b[STORAGE_N_PARTS_AT] = 0xff;
        b[STORAGE_N_PARTS_AT + 1] = 0xff;
        expect_bad_msg(b, full_size, "n_parts 65535", "part out of range");
        b[STORAGE_N_PARTS_AT] = 0;
        b[STORAGE_N_PARTS_AT + 1] = CLUSTER_STORAGE_MAX_PARTS;
        assert_int_equal(cluster_msg_decode(b, full_size, &m, NULL), 0); /* part 0 of the maximum */
        assert_int_equal(m.storage.n_parts, CLUSTER_STORAGE_MAX_PARTS);
        cluster_msg_done(&m);
        b[STORAGE_PART_AT + 1] = 1;
        expect_bad_msg(b, full_size, "pools in part 1", "pools in a storage part other than the first");

        /* Counts the remaining bytes cannot hold. */
        RESET();
        put_be32(b + STORAGE_N_POOLS_AT, UINT32_MAX);
        expect_bad_msg(b, full_size, "pool count 2^32-1", "pool count");
        put_be32(b + STORAGE_N_POOLS_AT, (uint32_t) (full_size - STORAGE_POOLS_AT) / 8 + 1);
        expect_bad_msg(b, full_size, "pool count just over the bytes left", "pool count");
        put_be32(b + STORAGE_N_POOLS_AT, 3);
        expect_bad(b, full_size, "pool count 3 of 2");
        /* No pools, no VMs: n_vms is the last field. */
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        m.storage.vms = NULL;
        m.storage.n_vms = 0;
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size);
        assert_int_equal(size, STORAGE_POOLS_AT + 4);
        put_be32(b + size - 4, UINT32_MAX);
        expect_bad_msg(b, size, "VM count 2^32-1", "VM count");
        put_be32(b + size - 4, 1);
        expect_bad_msg(b, size, "VM count 1 of 0", "VM count");

        /* A pool with the maximum of markers (empty strings, 2 bytes each), then one more. */
        for (size_t i = 0; i < CLUSTER_STORAGE_MAX_MARKERS; i++)
                markers[i] = (char *) "";
        ClusterPool pool = {.name = (char *) "p", .markers = markers};
        m.storage.pools = &pool;
        m.storage.n_pools = 1;
        roundtrip(&m);
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size);
        const size_t markers_at = STORAGE_POOLS_AT + 2 + 1 + 2;
        assert_int_equal(get_be32(b + markers_at), CLUSTER_STORAGE_MAX_MARKERS);
        assert_int_equal(size, markers_at + 4 + 2 * CLUSTER_STORAGE_MAX_MARKERS + 4);
        insert_bytes(&b, &size, size - 4, "\0\0", 2);
        put_be32(b + markers_at, CLUSTER_STORAGE_MAX_MARKERS + 1);
        expect_bad_msg(b, size, "markers over the maximum", "too many markers");
        /* A marker count the bytes left cannot hold (they hold CLUSTER_STORAGE_MAX_MARKERS + 3). */
        markers[2] = NULL;
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size); /* 2 markers, then n_vms: 8 bytes left after the count */
        put_be32(b + markers_at, 5);
        expect_bad_msg(b, size, "marker count over the bytes left", "too many markers");
        put_be32(b + markers_at, UINT32_MAX);
        expect_bad_msg(b, size, "marker count 2^32-1", "too many markers");

        /* A VM with the maximum of disks (empty paths, 10 bytes each), then one more. */
        for (size_t i = 0; i < CLUSTER_STORAGE_MAX_DISKS; i++)
                disks[i] = (ClusterDisk){.path = (char *) ""};
        ClusterVmDisks vm = {.name = (char *) "v", .disks = disks, .n_disks = CLUSTER_STORAGE_MAX_DISKS};
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        m.storage.vms = &vm;
        m.storage.n_vms = 1;
        roundtrip(&m);
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size);
        const size_t disks_at = STORAGE_POOLS_AT + 4 + 2 + 1;
        assert_int_equal(get_be32(b + disks_at), CLUSTER_STORAGE_MAX_DISKS);
        assert_int_equal(size, disks_at + 4 + 10 * CLUSTER_STORAGE_MAX_DISKS);
        insert_bytes(&b, &size, size, "\0\0\0\0\0\0\0\0\0\0", 10);
        put_be32(b + disks_at, CLUSTER_STORAGE_MAX_DISKS + 1);
        expect_bad_msg(b, size, "disks over the maximum", "too many disks");
        /* A disk count the bytes left cannot hold. */
        vm.n_disks = 1;
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size);
        put_be32(b + disks_at, 2);
        expect_bad_msg(b, size, "disk count 2 of 1", "too many disks");
        put_be32(b + disks_at, UINT32_MAX);
        expect_bad_msg(b, size, "disk count 2^32-1", "too many disks");
        /* A NUL in a disk path; a pool target over its limit is the same string code. */
        disks[0].path = (char *) "/x";
        free(b);
        b = NULL;
        encode_msg(&m, &b, &size);
        b[size - 8 - 1] = 0;
        expect_bad_msg(b, size, "NUL in a disk path", "NUL");
#undef RESET
}

/* Fills a STORAGE of n VMs of d disks each with path_len-byte paths (names "vm-0000" …). */
typedef struct BigStorage {
        ClusterVmDisks *vms;
        ClusterDisk *disks;
        char *names;
        char *path;
} BigStorage;

static void big_storage_done(BigStorage *b) {
        free(b->vms);
        free(b->disks);
        free(b->names);
        free(b->path);
}

static void big_storage(BigStorage *b, ClusterMsg *m, size_t n, size_t d, size_t path_len) {
        b->vms = calloc(n, sizeof(ClusterVmDisks));
        b->disks = calloc(n * d, sizeof(ClusterDisk));
        b->names = calloc(n, 16);
        b->path = malloc(path_len + 1);
        assert_non_null(b->vms);
        assert_non_null(b->disks);
        assert_non_null(b->names);
        assert_non_null(b->path);
        memset(b->path, 'p', path_len);
        b->path[0] = '/';
        b->path[path_len] = 0;
        for (size_t i = 0; i < n; i++) {
                snprintf(b->names + 16 * i, 16, "vm-%04zu", i);
                for (size_t j = 0; j < d; j++)
                        b->disks[i * d + j] = (ClusterDisk){.path = b->path, .allocation_bytes = i * d + j};
                b->vms[i] =
                        (ClusterVmDisks){.name = b->names + 16 * i, .disks = b->disks + i * d, .n_disks = d};
        }
        fill(m, CLUSTER_MSG_STORAGE);
        m->storage.vms = b->vms;
        m->storage.n_vms = n;
}

/* The part i of s as split at ends (pools in part 0 only). */
static ClusterMsg storage_part(const ClusterMsg *s, const size_t *ends, size_t n_parts, size_t i) {
        ClusterMsg p = *s;
        size_t start = i == 0 ? 0 : ends[i - 1];

        p.storage.part = (uint16_t) i;
        p.storage.n_parts = (uint16_t) n_parts;
        if (i > 0) {
                p.storage.pools = NULL;
                p.storage.n_pools = 0;
        }
        p.storage.vms = s->storage.vms + start;
        p.storage.n_vms = ends[i] - start;
        return p;
}

static void test_storage_split(void **state) {
        _cleanup_(big_storage_done) BigStorage big = {};
        size_t ends[CLUSTER_STORAGE_MAX_PARTS];
        void *buf = NULL;
        ClusterMsg m;
        size_t size;
        int k;

        /* What fits in one part: 1 part, every VM. */
        fill(&m, CLUSTER_MSG_STORAGE);
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 1);
        assert_int_equal(ends[0], m.storage.n_vms);
        assert_int_equal(cluster_storage_split(&m.storage, ends, 1), 1);
        m.storage.n_vms = 0;
        m.storage.n_pools = 0;
        assert_int_equal(cluster_storage_split(&m.storage, ends, 1), 1);
        assert_int_equal(ends[0], 0);

        /* 1,000 VMs × 4 disks with 200-byte paths: about 830 KiB, in several parts that each encode
         * within CLUSTER_MSG_MAX, and that are full: one more VM would not fit. */
        big_storage(&big, &m, 1000, 4, 200);
        k = cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS);
        assert_true(k > 1);
        assert_true(k >= (int) (1000 * (2 + 7 + 4 + 4 * (2 + 200 + 8)) / CLUSTER_MSG_MAX));
        assert_true(k <= (int) CLUSTER_STORAGE_MAX_PARTS);
        assert_int_equal(ends[k - 1], 1000);
        for (size_t i = 0; i < (size_t) k; i++) {
                ClusterMsg p = storage_part(&m, ends, (size_t) k, i);
                _cleanup_free_ uint8_t *b = NULL;

                assert_true(p.storage.n_vms > 0);
                roundtrip(&p); /* encodes, ≤ CLUSTER_MSG_MAX, decodes to the same */
                encode_msg(&p, &b, &size);
                assert_true(size <= CLUSTER_MSG_MAX);
                if (i + 1 < (size_t) k) {
                        p.storage.n_vms++;
                        assert_int_equal(cluster_msg_encode(&p, &buf, &size), -EMSGSIZE);
                }
        }
        /* Exactly k parts allowed: fine; one fewer: -EMSGSIZE (and ends is not overrun: ASan). */
        _cleanup_free_ size_t *tight = malloc((size_t) k * sizeof(size_t));
        assert_non_null(tight);
        assert_int_equal(cluster_storage_split(&m.storage, tight, (size_t) k), k);
        assert_memory_equal(tight, ends, (size_t) k * sizeof(size_t));
        assert_int_equal(cluster_storage_split(&m.storage, tight, (size_t) k - 1), -EMSGSIZE);
        assert_int_equal(cluster_storage_split(&m.storage, tight, 1), -EMSGSIZE);
        big_storage_done(&big);
        big = (BigStorage){};

        /* One VM whose encoding is exactly CLUSTER_MSG_MAX: header 24, host "h1" 4, generation,
         * part, n_parts, n_pools, n_vms 16, the VM "v" 7 and 19 disks of 2 + 3221 + 8 bytes. */
        big_storage(&big, &m, 1, 19, 3221);
        big.names[0] = 'v';
        big.names[1] = 0;
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 1);
        assert_int_equal(ends[0], 1);
        encode_msg(&m, (uint8_t **) &buf, &size);
        assert_int_equal(size, CLUSTER_MSG_MAX);
        free(buf);
        buf = NULL;
        roundtrip(&m);

        /* With pools as well, the pools go alone in part 0 and the VM in part 1. */
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.vms = big.vms;
        m.storage.n_vms = 1;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 2);
        assert_int_equal(ends[0], 0);
        assert_int_equal(ends[1], 1);
        for (size_t i = 0; i < 2; i++) {
                ClusterMsg p = storage_part(&m, ends, 2, i);
                roundtrip(&p);
        }
        assert_int_equal(cluster_storage_split(&m.storage, ends, 1), -EMSGSIZE);

        /* One byte more: that VM alone does not fit any part. */
        big_storage_done(&big);
        big = (BigStorage){};
        big_storage(&big, &m, 1, 19, 3222);
        big.names[0] = 'v';
        big.names[1] = 0;
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), -EMSGSIZE);
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EMSGSIZE);
        big_storage_done(&big);
        big = (BigStorage){};

        /* Two VMs that fill one part exactly, then that with one byte more: two parts. */
        big_storage(&big, &m, 2, 19, 1600);
        m.storage.pools = NULL;
        m.storage.n_pools = 0;
        /* 44 + 2 × (2 + 7 + 4 + 19 × (2 + 1600 + 8)) = 61250 bytes: the last disk of the last VM
         * gets a path longer by the 190 bytes left. */
        size_t two = 44 + 2 * (2 + 7 + 4 + 19 * (2 + 1600 + 8));
        assert_true(two < CLUSTER_MSG_MAX);
        _cleanup_free_ char *last = malloc(1600 + CLUSTER_MSG_MAX - two + 2);
        assert_non_null(last);
        memset(last, 'q', 1600 + CLUSTER_MSG_MAX - two + 1);
        last[1600 + CLUSTER_MSG_MAX - two] = 0;
        big.disks[2 * 19 - 1].path = last;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 1);
        encode_msg(&m, (uint8_t **) &buf, &size);
        assert_int_equal(size, CLUSTER_MSG_MAX);
        free(buf);
        buf = NULL;
        last[1600 + CLUSTER_MSG_MAX - two] = 'q';
        last[1600 + CLUSTER_MSG_MAX - two + 1] = 0;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 2);
        assert_int_equal(ends[0], 1);
        assert_int_equal(ends[1], 2);
        assert_int_equal(cluster_storage_split(&m.storage, ends, 1), -EMSGSIZE);
        for (size_t i = 0; i < 2; i++) {
                ClusterMsg p = storage_part(&m, ends, 2, i);
                roundtrip(&p);
        }
        big.disks[2 * 19 - 1].path = big.path;

        /* Pools that alone exceed a message: -EMSGSIZE. */
        _cleanup_free_ char *marker = malloc(CLUSTER_NAME_MAX + 1);
        char *markers[CLUSTER_STORAGE_MAX_MARKERS + 1] = {};
        ClusterPool pools[4];
        assert_non_null(marker);
        memset(marker, 'k', CLUSTER_NAME_MAX);
        marker[CLUSTER_NAME_MAX] = 0;
        for (size_t i = 0; i < CLUSTER_STORAGE_MAX_MARKERS; i++)
                markers[i] = marker;
        for (size_t i = 0; i < ELEMENTSOF(pools); i++)
                pools[i] = (ClusterPool){.name = (char *) "p", .markers = markers};
        fill(&m, CLUSTER_MSG_STORAGE);
        m.storage.pools = pools;
        m.storage.n_pools = ELEMENTSOF(pools);
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), -EMSGSIZE);
        assert_int_equal(cluster_msg_encode(&m, &buf, &size), -EMSGSIZE);
        m.storage.n_pools = 3;
        assert_int_equal(cluster_storage_split(&m.storage, ends, CLUSTER_STORAGE_MAX_PARTS), 1);
        roundtrip(&m);

        assert_null(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_to_string),
                cmocka_unit_test(test_roundtrip_every_type),
                cmocka_unit_test(test_roundtrip_null_optional),
                cmocka_unit_test(test_cpu_demand),
                cmocka_unit_test(test_report_limits),
                cmocka_unit_test(test_encode_refusals),
                cmocka_unit_test(test_decode_refusals),
                cmocka_unit_test(test_bit_flips),
                cmocka_unit_test(test_versions),
                cmocka_unit_test(test_v2_encode_refusals),
                cmocka_unit_test(test_v2_decode_refusals),
                cmocka_unit_test(test_storage_decode_refusals),
                cmocka_unit_test(test_storage_split),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
