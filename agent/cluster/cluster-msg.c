/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-msg.h"

/* CLUSTER_RESULT_MAX mirrors _MIGRATION_RESULT_MAX (agent/leader/admission.h). The cluster room
 * does not include the leader room (nor policy/, which admission.h pulls in), so the two cannot
 * be compared by a static assert here: keep them equal by hand. */
_Static_assert(CLUSTER_RESULT_MAX == 5, "CLUSTER_RESULT_MAX must equal _MIGRATION_RESULT_MAX");
_Static_assert(_HOST_MODE_MAX <= UINT8_MAX, "HostMode travels as a u8");
_Static_assert(CLUSTER_JSON_MAX <= UINT16_MAX, "string lengths travel as a u16");
_Static_assert(CLUSTER_MSG_MAX <= UINT32_MAX, "the length field is a u32");

/* cpu_demand on the wire: milli-cores in [0, CPU_MILLI_LIMIT). */
#define CPU_MILLI_LIMIT UINT32_C(4000000000)

/* The smallest encoding of one VM: empty name (u16), vcpus (u32), memory_mib (u64), cpu_demand
 * (u32), memory_demand_mib (u64), migrating and busy (u8 each). */
#define VM_MIN_SIZE (2U + 4U + 8U + 4U + 8U + 1U + 1U + 2U) /* + an empty target */

static const char *const cluster_msg_type_table[_CLUSTER_MSG_TYPE_MAX] = {
        [CLUSTER_MSG_SYNC] = "sync",
        [CLUSTER_MSG_REPORT] = "report",
        [CLUSTER_MSG_MIGRATE] = "migrate",
        [CLUSTER_MSG_SET_MODE] = "set-mode",
        [CLUSTER_MSG_RESULT] = "result",
        [CLUSTER_MSG_REQUEST] = "request",
        [CLUSTER_MSG_REPLY] = "reply",
        [CLUSTER_MSG_POWER_OFF] = "power-off",
        [CLUSTER_MSG_ROLLOUT] = "rollout",
        [CLUSTER_MSG_ROLLOUT_RUN] = "rollout-run",
        [CLUSTER_MSG_ROLLOUT_DONE] = "rollout-done",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cluster_msg_type, ClusterMsgType, _CLUSTER_MSG_TYPE_MAX);

static void cluster_vm_done(ClusterVm *vm) {
        free(vm->name);
        free(vm->target);
        *vm = (ClusterVm){};
}

void cluster_msg_done(ClusterMsg *m) {
        if (!m)
                return;

        switch (m->type) {
        case CLUSTER_MSG_SYNC:
                free(m->sync.host);
                break;
        case CLUSTER_MSG_REPORT:
                free(m->report.host);
                free(m->report.migration_uri);
                free(m->report.mode_reason);
                free(m->report.last_error);
                for (size_t i = 0; m->report.vms && i < m->report.n_vms; i++)
                        cluster_vm_done(&m->report.vms[i]);
                free(m->report.vms);
                break;
        case CLUSTER_MSG_MIGRATE:
                free(m->migrate.vm);
                free(m->migrate.source);
                free(m->migrate.target);
                free(m->migrate.target_migration_uri);
                free(m->migrate.reason);
                break;
        case CLUSTER_MSG_SET_MODE:
                free(m->set_mode.host);
                free(m->set_mode.reason);
                break;
        case CLUSTER_MSG_RESULT:
                free(m->result.vm);
                free(m->result.source);
                free(m->result.target);
                free(m->result.message);
                break;
        case CLUSTER_MSG_REQUEST:
                free(m->request.json);
                break;
        case CLUSTER_MSG_REPLY:
                free(m->reply.json);
                break;
        case CLUSTER_MSG_POWER_OFF:
                free(m->power_off.host);
                break;
        case CLUSTER_MSG_ROLLOUT:
                free(m->rollout.json);
                break;
        case CLUSTER_MSG_ROLLOUT_RUN:
                free(m->rollout_run.host);
                free(m->rollout_run.command);
                break;
        case CLUSTER_MSG_ROLLOUT_DONE:
                free(m->rollout_done.host);
                free(m->rollout_done.message);
                break;
        default:
                break;
        }
        *m = (ClusterMsg){};
}

/* ---- encoding ---- */

/* Appends to a buffer that never grows past CLUSTER_MSG_MAX: beyond it only the size is
 * counted, so that the caller learns the message is too large after every field was checked
 * (-EINVAL wins over -EMSGSIZE). */
typedef struct Writer {
        uint8_t *buf; /* owned */
        size_t allocated;
        size_t size; /* what the message needs so far; may exceed what buf holds */
        int error;   /* -ENOMEM once an allocation failed */
} Writer;

static void writer_put(Writer *w, const void *p, size_t n) {
        size_t end = w->size + n;

        if (n > 0 && w->error == 0 && end <= CLUSTER_MSG_MAX) {
                if (end > w->allocated) {
                        size_t a = w->allocated ? w->allocated : 256;
                        while (a < end)
                                a *= 2;
                        if (a > CLUSTER_MSG_MAX)
                                a = CLUSTER_MSG_MAX;
                        uint8_t *b = realloc(w->buf, a);
                        if (!b)
                                w->error = -ENOMEM;
                        else {
                                w->buf = b;
                                w->allocated = a;
                        }
                }
                if (w->error == 0)
                        memcpy(w->buf + w->size, p, n);
        }
        w->size = end;
}

static void writer_u8(Writer *w, uint8_t v) {
        writer_put(w, &v, 1);
}

static void writer_u16(Writer *w, uint16_t v) {
        uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
        writer_put(w, b, sizeof(b));
}

static void writer_u32(Writer *w, uint32_t v) {
        uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};
        writer_put(w, b, sizeof(b));
}

static void writer_u64(Writer *w, uint64_t v) {
        writer_u32(w, (uint32_t) (v >> 32));
        writer_u32(w, (uint32_t) v);
}

static void writer_bool(Writer *w, bool b) {
        writer_u8(w, b ? 1 : 0);
}

/* NULL travels as the empty string (and comes back as NULL only for "NULL = none" fields). */
static int writer_string(Writer *w, const char *s, size_t limit) {
        size_t n = s ? strnlen(s, limit + 1) : 0;

        if (n > limit)
                return -EINVAL;
        writer_u16(w, (uint16_t) n);
        writer_put(w, s, n);
        return 0;
}

static uint32_t cpu_to_milli(double cpu) {
        if (!(cpu > 0)) /* negative, zero, NaN */
                return 0;
        if (cpu * 1000.0 >= (double) (CPU_MILLI_LIMIT - 1))
                return CPU_MILLI_LIMIT - 1;
        /* Round half up; without libm's round(). */
        return (uint32_t) (cpu * 1000.0 + 0.5);
}

static int writer_mode(Writer *w, HostMode mode) {
        if ((int) mode < 0 || (int) mode >= _HOST_MODE_MAX)
                return -EINVAL;
        writer_u8(w, (uint8_t) mode);
        return 0;
}

static int encode_sync(Writer *w, const ClusterSync *s) {
        writer_u32(w, s->leader);
        writer_u64(w, s->leader_term);
        writer_u64(w, s->max_term);
        return writer_string(w, s->host, CLUSTER_NAME_MAX);
}

static int encode_report(Writer *w, const ClusterReport *r) {
        int k;

        if (r->n_vms > CLUSTER_REPORT_MAX_VMS || (r->n_vms > 0 && !r->vms))
                return -EINVAL;

        k = writer_string(w, r->host, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, r->migration_uri, CLUSTER_TEXT_MAX);
        if (k < 0)
                return k;
        k = writer_mode(w, r->mode);
        if (k < 0)
                return k;
        k = writer_string(w, r->mode_reason, CLUSTER_TEXT_MAX);
        if (k < 0)
                return k;
        writer_u64(w, r->mode_since_usec);
        writer_bool(w, r->have_sample);
        writer_u32(w, r->sample_age_ms);
        writer_u32(w, r->cpus);
        writer_u64(w, r->memory_mib);
        writer_u64(w, r->free_mib);
        k = writer_string(w, r->last_error, CLUSTER_TEXT_MAX);
        if (k < 0)
                return k;

        writer_u32(w, (uint32_t) r->n_vms);
        for (size_t i = 0; i < r->n_vms; i++) {
                const ClusterVm *vm = &r->vms[i];

                k = writer_string(w, vm->name, CLUSTER_NAME_MAX);
                if (k < 0)
                        return k;
                writer_u32(w, vm->vcpus);
                writer_u64(w, vm->memory_mib);
                writer_u32(w, cpu_to_milli(vm->cpu_demand));
                writer_u64(w, vm->memory_demand_mib);
                writer_bool(w, vm->migrating);
                writer_bool(w, vm->busy);
                k = writer_string(w, vm->target, CLUSTER_NAME_MAX);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int encode_migrate(Writer *w, const ClusterMigrate *m) {
        int k;

        writer_u64(w, m->order_id);
        k = writer_string(w, m->vm, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, m->source, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, m->target, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, m->target_migration_uri, CLUSTER_TEXT_MAX);
        if (k < 0)
                return k;
        writer_u64(w, m->memory_mib);
        return writer_string(w, m->reason, CLUSTER_TEXT_MAX);
}

static int encode_set_mode(Writer *w, const ClusterSetMode *s) {
        int k;

        writer_u64(w, s->order_id);
        k = writer_string(w, s->host, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_mode(w, s->mode);
        if (k < 0)
                return k;
        return writer_string(w, s->reason, CLUSTER_TEXT_MAX);
}

static int encode_result(Writer *w, const ClusterResult *r) {
        int k;

        if (r->result >= CLUSTER_RESULT_MAX)
                return -EINVAL;

        writer_u64(w, r->order_id);
        writer_u64(w, r->order_term);
        k = writer_string(w, r->vm, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, r->source, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        k = writer_string(w, r->target, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        writer_u8(w, r->result);
        writer_u64(w, r->duration_ms);
        writer_u64(w, r->downtime_ms);
        return writer_string(w, r->message, CLUSTER_TEXT_MAX);
}

static int encode_forward(Writer *w, uint64_t request_id, uint32_t to, const char *json) {
        writer_u64(w, request_id);
        writer_u32(w, to);
        return writer_string(w, json, CLUSTER_JSON_MAX);
}

static int encode_power_off(Writer *w, const ClusterPowerOff *p) {
        writer_u64(w, p->order_id);
        return writer_string(w, p->host, CLUSTER_NAME_MAX);
}

int cluster_msg_encode(const ClusterMsg *m, void **ret, size_t *ret_size) {
        Writer w = {};
        int k;

        if (!m || !ret || !ret_size)
                return -EINVAL;
        if (m->sender == 0)
                return -EINVAL;

        writer_u32(&w, CLUSTER_MSG_MAGIC);
        writer_u16(&w, CLUSTER_MSG_VERSION);
        writer_u16(&w, (uint16_t) m->type);
        writer_u32(&w, 0); /* length, filled in below */
        writer_u32(&w, m->sender);
        writer_u64(&w, m->term);

        switch (m->type) {
        case CLUSTER_MSG_SYNC:
                k = encode_sync(&w, &m->sync);
                break;
        case CLUSTER_MSG_REPORT:
                k = encode_report(&w, &m->report);
                break;
        case CLUSTER_MSG_MIGRATE:
                k = encode_migrate(&w, &m->migrate);
                break;
        case CLUSTER_MSG_SET_MODE:
                k = encode_set_mode(&w, &m->set_mode);
                break;
        case CLUSTER_MSG_RESULT:
                k = encode_result(&w, &m->result);
                break;
        case CLUSTER_MSG_REQUEST:
                k = encode_forward(&w, m->request.request_id, m->request.to, m->request.json);
                break;
        case CLUSTER_MSG_REPLY:
                if (m->reply.n_parts < 1 || m->reply.n_parts > CLUSTER_REPLY_MAX_PARTS ||
                    m->reply.part >= m->reply.n_parts) {
                        k = -EINVAL;
                        break;
                }
                writer_u64(&w, m->reply.request_id);
                writer_u32(&w, m->reply.to);
                writer_u16(&w, m->reply.part);
                writer_u16(&w, m->reply.n_parts);
                k = writer_string(&w, m->reply.json, CLUSTER_JSON_MAX);
                break;
        case CLUSTER_MSG_POWER_OFF:
                k = encode_power_off(&w, &m->power_off);
                break;
        case CLUSTER_MSG_ROLLOUT:
                k = writer_string(&w, m->rollout.json, CLUSTER_JSON_MAX);
                break;
        case CLUSTER_MSG_ROLLOUT_RUN:
                writer_u32(&w, m->rollout_run.to);
                k = writer_string(&w, m->rollout_run.host, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, m->rollout_run.command, CLUSTER_JSON_MAX);
                writer_u64(&w, m->rollout_run.timeout_s);
                writer_u8(&w, m->rollout_run.health);
                break;
        case CLUSTER_MSG_ROLLOUT_DONE:
                k = writer_string(&w, m->rollout_done.host, CLUSTER_NAME_MAX);
                writer_u8(&w, m->rollout_done.ok);
                writer_u64(&w, m->rollout_done.duration_ms);
                if (k == 0)
                        k = writer_string(&w, m->rollout_done.message, CLUSTER_TEXT_MAX);
                break;
        default:
                k = -EINVAL;
                break;
        }
        if (k == 0 && w.error < 0)
                k = w.error;
        if (k == 0 && w.size > CLUSTER_MSG_MAX)
                k = -EMSGSIZE;
        if (k < 0) {
                free(w.buf);
                return k;
        }

        uint32_t len = (uint32_t) w.size;
        w.buf[8] = (uint8_t) (len >> 24);
        w.buf[9] = (uint8_t) (len >> 16);
        w.buf[10] = (uint8_t) (len >> 8);
        w.buf[11] = (uint8_t) len;

        *ret = w.buf;
        *ret_size = w.size;
        return 0;
}

/* ---- decoding ---- */

/* A bounds-checked cursor with a sticky error: after the first failure every read returns
 * zero/NULL without touching the buffer, and the first error is what is reported. */
typedef struct Reader {
        const uint8_t *p;
        size_t left;
        int error;       /* -EBADMSG or -ENOMEM */
        const char *msg; /* static; for -EBADMSG */
} Reader;

static void reader_fail(Reader *r, const char *msg) {
        if (r->error < 0)
                return;
        r->error = -EBADMSG;
        r->msg = msg;
}

static const uint8_t *reader_take(Reader *r, size_t n) {
        if (r->error < 0)
                return NULL;
        if (n > r->left) {
                reader_fail(r, "message truncated");
                return NULL;
        }
        const uint8_t *p = r->p;
        r->p += n;
        r->left -= n;
        return p;
}

static uint8_t reader_u8(Reader *r) {
        const uint8_t *p = reader_take(r, 1);
        return p ? p[0] : 0;
}

static uint16_t reader_u16(Reader *r) {
        const uint8_t *p = reader_take(r, 2);
        return p ? (uint16_t) ((uint16_t) p[0] << 8 | p[1]) : 0;
}

static uint32_t reader_u32(Reader *r) {
        const uint8_t *p = reader_take(r, 4);
        return p ? (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3] : 0;
}

static uint64_t reader_u64(Reader *r) {
        uint64_t hi = reader_u32(r);
        return hi << 32 | reader_u32(r);
}

static bool reader_bool(Reader *r) {
        uint8_t v = reader_u8(r);
        if (v > 1)
                reader_fail(r, "boolean is neither 0 nor 1");
        return v == 1;
}

static HostMode reader_mode(Reader *r) {
        uint8_t v = reader_u8(r);
        if (v >= _HOST_MODE_MAX) {
                reader_fail(r, "host mode out of range");
                return HOST_MODE_UP;
        }
        return (HostMode) v;
}

/* optional: the field says "NULL = none", so the empty string decodes to NULL. */
static char *reader_string(Reader *r, size_t limit, bool optional) {
        uint16_t n = reader_u16(r);
        if (r->error < 0)
                return NULL;
        if (n > limit) {
                reader_fail(r, "string longer than its limit");
                return NULL;
        }
        const uint8_t *p = reader_take(r, n);
        if (!p)
                return NULL;
        if (memchr(p, 0, n)) {
                reader_fail(r, "string holds a NUL byte");
                return NULL;
        }
        if (n == 0 && optional)
                return NULL;

        char *s = malloc((size_t) n + 1);
        if (!s) {
                r->error = -ENOMEM;
                return NULL;
        }
        memcpy(s, p, n);
        s[n] = 0;
        return s;
}

static void decode_sync(Reader *r, ClusterSync *s) {
        s->leader = reader_u32(r);
        s->leader_term = reader_u64(r);
        s->max_term = reader_u64(r);
        s->host = reader_string(r, CLUSTER_NAME_MAX, false);
}

static void decode_vm(Reader *r, ClusterVm *vm) {
        vm->name = reader_string(r, CLUSTER_NAME_MAX, false);
        vm->vcpus = reader_u32(r);
        vm->memory_mib = reader_u64(r);
        uint32_t milli = reader_u32(r);
        if (milli >= CPU_MILLI_LIMIT)
                reader_fail(r, "CPU demand out of range");
        vm->cpu_demand = milli / 1000.0;
        vm->memory_demand_mib = reader_u64(r);
        vm->migrating = reader_bool(r);
        vm->busy = reader_bool(r);
        vm->target = reader_string(r, CLUSTER_NAME_MAX, true);
}

static void decode_report(Reader *r, ClusterReport *rep) {
        rep->host = reader_string(r, CLUSTER_NAME_MAX, false);
        rep->migration_uri = reader_string(r, CLUSTER_TEXT_MAX, false);
        rep->mode = reader_mode(r);
        rep->mode_reason = reader_string(r, CLUSTER_TEXT_MAX, true);
        rep->mode_since_usec = reader_u64(r);
        rep->have_sample = reader_bool(r);
        rep->sample_age_ms = reader_u32(r);
        rep->cpus = reader_u32(r);
        rep->memory_mib = reader_u64(r);
        rep->free_mib = reader_u64(r);
        rep->last_error = reader_string(r, CLUSTER_TEXT_MAX, true);

        uint32_t n = reader_u32(r);
        if (r->error < 0 || n == 0)
                return;
        if (n > r->left / VM_MIN_SIZE) {
                reader_fail(r, "VM count larger than the message can hold");
                return;
        }
        if (n > CLUSTER_REPORT_MAX_VMS) {
                reader_fail(r, "more VMs than a report may carry");
                return;
        }
        rep->vms = calloc(n, sizeof(ClusterVm));
        if (!rep->vms) {
                r->error = -ENOMEM;
                return;
        }
        rep->n_vms = n;
        for (size_t i = 0; i < n && r->error == 0; i++)
                decode_vm(r, &rep->vms[i]);
}

static void decode_migrate(Reader *r, ClusterMigrate *m) {
        m->order_id = reader_u64(r);
        m->vm = reader_string(r, CLUSTER_NAME_MAX, false);
        m->source = reader_string(r, CLUSTER_NAME_MAX, false);
        m->target = reader_string(r, CLUSTER_NAME_MAX, false);
        m->target_migration_uri = reader_string(r, CLUSTER_TEXT_MAX, false);
        m->memory_mib = reader_u64(r);
        m->reason = reader_string(r, CLUSTER_TEXT_MAX, false);
}

static void decode_set_mode(Reader *r, ClusterSetMode *s) {
        s->order_id = reader_u64(r);
        s->host = reader_string(r, CLUSTER_NAME_MAX, false);
        s->mode = reader_mode(r);
        s->reason = reader_string(r, CLUSTER_TEXT_MAX, true);
}

static void decode_result(Reader *r, ClusterResult *res) {
        res->order_id = reader_u64(r);
        res->order_term = reader_u64(r);
        res->vm = reader_string(r, CLUSTER_NAME_MAX, false);
        res->source = reader_string(r, CLUSTER_NAME_MAX, false);
        res->target = reader_string(r, CLUSTER_NAME_MAX, false);
        res->result = reader_u8(r);
        if (res->result >= CLUSTER_RESULT_MAX)
                reader_fail(r, "migration result out of range");
        res->duration_ms = reader_u64(r);
        res->downtime_ms = reader_u64(r);
        res->message = reader_string(r, CLUSTER_TEXT_MAX, true);
}

static void decode_power_off(Reader *r, ClusterPowerOff *p) {
        p->order_id = reader_u64(r);
        p->host = reader_string(r, CLUSTER_NAME_MAX, false);
}

static int decode_header(Reader *r, size_t size, ClusterMsg *m) {
        if (size < CLUSTER_MSG_HEADER_SIZE) {
                reader_fail(r, "message shorter than its header");
                return r->error;
        }
        if (size > CLUSTER_MSG_MAX) {
                reader_fail(r, "message larger than the maximum of 60 KiB");
                return r->error;
        }
        if (reader_u32(r) != CLUSTER_MSG_MAGIC) {
                reader_fail(r, "wrong magic: not a drs cluster message");
                return r->error;
        }
        if (reader_u16(r) != CLUSTER_MSG_VERSION) {
                reader_fail(r, "unknown message version");
                return r->error;
        }
        uint16_t type = reader_u16(r);
        if (type == 0 || type >= _CLUSTER_MSG_TYPE_MAX) {
                reader_fail(r, "unknown message type");
                return r->error;
        }
        if (reader_u32(r) != size) {
                reader_fail(r, "length field differs from the message size");
                return r->error;
        }
        m->sender = reader_u32(r);
        if (m->sender == 0) {
                reader_fail(r, "sender node id is 0");
                return r->error;
        }
        m->term = reader_u64(r);
        m->type = (ClusterMsgType) type;
        return 0;
}

int cluster_msg_decode(const void *buf, size_t size, ClusterMsg *ret, const char **reterr_msg) {
        _cleanup_(cluster_msg_done) ClusterMsg m = {};
        Reader r = {.p = buf, .left = size};

        if (!ret)
                return -EINVAL;
        *ret = (ClusterMsg){};
        if (!buf && size > 0)
                return -EINVAL;

        if (decode_header(&r, size, &m) == 0) {
                switch (m.type) {
                case CLUSTER_MSG_SYNC:
                        decode_sync(&r, &m.sync);
                        break;
                case CLUSTER_MSG_REPORT:
                        decode_report(&r, &m.report);
                        break;
                case CLUSTER_MSG_MIGRATE:
                        decode_migrate(&r, &m.migrate);
                        break;
                case CLUSTER_MSG_SET_MODE:
                        decode_set_mode(&r, &m.set_mode);
                        break;
                case CLUSTER_MSG_RESULT:
                        decode_result(&r, &m.result);
                        break;
                case CLUSTER_MSG_REQUEST:
                        m.request.request_id = reader_u64(&r);
                        m.request.to = reader_u32(&r);
                        m.request.json = reader_string(&r, CLUSTER_JSON_MAX, false);
                        break;
                case CLUSTER_MSG_REPLY:
                        m.reply.request_id = reader_u64(&r);
                        m.reply.to = reader_u32(&r);
                        m.reply.part = reader_u16(&r);
                        m.reply.n_parts = reader_u16(&r);
                        if (r.error == 0 &&
                            (m.reply.n_parts < 1 || m.reply.n_parts > CLUSTER_REPLY_MAX_PARTS ||
                             m.reply.part >= m.reply.n_parts))
                                reader_fail(&r, "reply part out of range");
                        m.reply.json = reader_string(&r, CLUSTER_JSON_MAX, false);
                        break;
                case CLUSTER_MSG_POWER_OFF:
                        decode_power_off(&r, &m.power_off);
                        break;
                case CLUSTER_MSG_ROLLOUT:
                        m.rollout.json = reader_string(&r, CLUSTER_JSON_MAX, true);
                        break;
                case CLUSTER_MSG_ROLLOUT_RUN:
                        m.rollout_run.to = reader_u32(&r);
                        m.rollout_run.host = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.rollout_run.command = reader_string(&r, CLUSTER_JSON_MAX, false);
                        m.rollout_run.timeout_s = reader_u64(&r);
                        m.rollout_run.health = reader_bool(&r);
                        break;
                case CLUSTER_MSG_ROLLOUT_DONE:
                        m.rollout_done.host = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.rollout_done.ok = reader_bool(&r);
                        m.rollout_done.duration_ms = reader_u64(&r);
                        m.rollout_done.message = reader_string(&r, CLUSTER_TEXT_MAX, true);
                        break;
                default: /* refused by decode_header() */
                        break;
                }
        }
        if (r.error == 0 && r.left > 0)
                reader_fail(&r, "trailing bytes after the message");
        if (r.error < 0) {
                if (r.error == -EBADMSG && reterr_msg)
                        *reterr_msg = r.msg;
                return r.error;
        }

        *ret = m;
        m = (ClusterMsg){};
        return 0;
}
