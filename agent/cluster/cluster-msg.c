/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-msg.h"

/* CLUSTER_RESULT_MAX mirrors _MIGRATION_RESULT_MAX (agent/leader/admission.h). The cluster room
 * does not include the leader room (nor policy/, which admission.h pulls in), so the two cannot
 * be compared by a static assert here: keep them equal by hand. */
_Static_assert(CLUSTER_RESULT_MAX == 5, "CLUSTER_RESULT_MAX must equal _MIGRATION_RESULT_MAX");
_Static_assert(CLUSTER_ENCRYPTION_MAX == 4, "CLUSTER_ENCRYPTION_MAX must equal _MIGRATION_ENCRYPTION_MAX");
_Static_assert(CLUSTER_COMPRESSION_MAX == 4, "CLUSTER_COMPRESSION_MAX must equal _COMPRESSION_MAX");
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
        [CLUSTER_MSG_STORAGE] = "storage",
        [CLUSTER_MSG_STORAGE_MOVE] = "storage-move",
        [CLUSTER_MSG_STORAGE_DONE] = "storage-done",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(cluster_msg_type, ClusterMsgType, _CLUSTER_MSG_TYPE_MAX);

static void cluster_vm_done(ClusterVm *vm) {
        free(vm->name);
        free(vm->target);
        *vm = (ClusterVm){};
}

void cluster_storage_done(ClusterStorage *s) {
        if (!s)
                return;
        free(s->host);
        for (size_t i = 0; s->pools && i < s->n_pools; i++) {
                free(s->pools[i].name);
                free(s->pools[i].target);
                for (char **k = s->pools[i].markers; k && *k; k++)
                        free(*k);
                free(s->pools[i].markers);
        }
        free(s->pools);
        for (size_t i = 0; s->vms && i < s->n_vms; i++) {
                free(s->vms[i].name);
                for (size_t j = 0; s->vms[i].disks && j < s->vms[i].n_disks; j++)
                        free(s->vms[i].disks[j].path);
                free(s->vms[i].disks);
        }
        free(s->vms);
        *s = (ClusterStorage){};
}

void cluster_storage_assembly_done(ClusterStorageAssembly *a) {
        if (!a)
                return;
        cluster_storage_done(&a->whole);
        *a = (ClusterStorageAssembly){};
}

static char *strdup_or_null(const char *s, bool *failed) {
        char *c = s ? strdup(s) : NULL;
        if (s && !c)
                *failed = true;
        return c;
}

/* Appends deep copies of part's pools and VMs to w. */
static int storage_append(ClusterStorage *w, const ClusterStorage *part) {
        bool failed = false;

        if (part->n_pools > 0) {
                ClusterPool *p = reallocarray(w->pools, w->n_pools + part->n_pools, sizeof(ClusterPool));
                if (!p)
                        return -ENOMEM;
                w->pools = p;
                for (size_t i = 0; i < part->n_pools; i++) {
                        ClusterPool *d = &w->pools[w->n_pools++];
                        const ClusterPool *s = &part->pools[i];
                        size_t n = 0;
                        while (s->markers && s->markers[n])
                                n++;
                        *d = (ClusterPool){
                                .name = strdup_or_null(s->name, &failed),
                                .target = strdup_or_null(s->target, &failed),
                                .markers = calloc(n + 1, sizeof(char *)),
                        };
                        if (!d->markers)
                                return -ENOMEM;
                        for (size_t j = 0; j < n; j++)
                                d->markers[j] = strdup_or_null(s->markers[j], &failed);
                        if (failed)
                                return -ENOMEM;
                }
        }
        if (part->n_vms > 0) {
                ClusterVmDisks *v = reallocarray(w->vms, w->n_vms + part->n_vms, sizeof(ClusterVmDisks));
                if (!v)
                        return -ENOMEM;
                w->vms = v;
                for (size_t i = 0; i < part->n_vms; i++) {
                        ClusterVmDisks *d = &w->vms[w->n_vms++];
                        const ClusterVmDisks *s = &part->vms[i];
                        *d = (ClusterVmDisks){.name = strdup_or_null(s->name, &failed)};
                        if (failed)
                                return -ENOMEM;
                        if (s->n_disks == 0)
                                continue;
                        d->disks = calloc(s->n_disks, sizeof(ClusterDisk));
                        if (!d->disks)
                                return -ENOMEM;
                        d->n_disks = s->n_disks;
                        for (size_t j = 0; j < s->n_disks; j++)
                                d->disks[j] = (ClusterDisk){
                                        .path = strdup_or_null(s->disks[j].path, &failed),
                                        .allocation_bytes = s->disks[j].allocation_bytes,
                                };
                        if (failed)
                                return -ENOMEM;
                }
        }
        return 0;
}

int cluster_storage_assembly_add(
        ClusterStorageAssembly *a, const ClusterStorage *part, ClusterStorage *ret) {
        int k;

        if (!a || !part || !ret || part->n_parts < 1 || part->n_parts > CLUSTER_STORAGE_MAX_PARTS ||
            part->part >= part->n_parts)
                return -EINVAL;
        if (part->part == 0 || part->generation != a->generation || part->n_parts != a->n_parts ||
            (a->seen & (UINT64_C(1) << part->part)) || (part->part > 0 && a->seen == 0)) {
                cluster_storage_assembly_done(a);
                a->generation = part->generation;
                a->n_parts = part->n_parts;
        }
        if (part->part > 0 && !(a->seen & (UINT64_C(1) << (part->part - 1)))) {
                /* Its predecessor is missing (lost): this generation cannot complete. */
                cluster_storage_assembly_done(a);
                return 0;
        }
        if (!a->whole.host) {
                a->whole.host = strdup(part->host ? part->host : "");
                if (!a->whole.host)
                        return -ENOMEM;
        }
        k = storage_append(&a->whole, part);
        if (k < 0) {
                cluster_storage_assembly_done(a);
                return k;
        }
        a->seen |= UINT64_C(1) << part->part;
        if (part->part + 1 < part->n_parts)
                return 0;
        *ret = a->whole;
        ret->generation = a->generation;
        ret->part = 0;
        ret->n_parts = 1;
        a->whole = (ClusterStorage){};
        cluster_storage_assembly_done(a);
        return 1;
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
                free(m->migrate.target_uri);
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
        case CLUSTER_MSG_STORAGE:
                cluster_storage_done(&m->storage);
                break;
        case CLUSTER_MSG_STORAGE_MOVE:
                free(m->storage_move.vm);
                free(m->storage_move.host);
                free(m->storage_move.pool);
                free(m->storage_move.disk);
                break;
        case CLUSTER_MSG_STORAGE_DONE:
                free(m->storage_done.vm);
                free(m->storage_done.host);
                free(m->storage_done.pool);
                free(m->storage_done.moved);
                free(m->storage_done.message);
                free(m->storage_done.warning);
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

static int encode_migrate(Writer *w, const ClusterMigrate *m, uint16_t version) {
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
        k = writer_string(w, m->reason, CLUSTER_TEXT_MAX);
        if (k < 0 || version < 2)
                return k;
        if (m->compression >= CLUSTER_COMPRESSION_MAX || m->parallel_connections > 64)
                return -EINVAL;
        writer_bool(w, m->copy_storage);
        writer_bool(w, m->remove_source_storage);
        writer_u64(w, m->disk_mib);
        writer_bool(w, m->remote);
        k = writer_string(w, m->target_uri, CLUSTER_TEXT_MAX);
        writer_u32(w, m->parallel_connections);
        writer_u8(w, m->compression);
        writer_u64(w, m->remote_bandwidth_mib_s);
        return k;
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

static int encode_result(Writer *w, const ClusterResult *r, uint16_t version) {
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
        k = writer_string(w, r->message, CLUSTER_TEXT_MAX);
        if (k < 0 || version < 2)
                return k;
        if (r->encryption >= CLUSTER_ENCRYPTION_MAX)
                return -EINVAL;
        writer_u8(w, r->encryption);
        writer_u32(w, r->disks_copied);
        writer_u64(w, r->disk_bytes);
        writer_bool(w, r->source_storage_removed);
        return 0;
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

static size_t markers_count(char *const *markers) {
        size_t n = 0;
        while (markers && markers[n])
                n++;
        return n;
}

/* The storage body's pieces, as encode_storage() writes them (for cluster_storage_split()). */
static size_t storage_pool_size(const ClusterPool *p) {
        size_t n = 2 + (p->name ? strlen(p->name) : 0) + 2 + (p->target ? strlen(p->target) : 0) + 4;
        for (char *const *k = p->markers; k && *k; k++)
                n += 2 + strlen(*k);
        return n;
}

static size_t storage_vm_size(const ClusterVmDisks *v) {
        size_t n = 2 + (v->name ? strlen(v->name) : 0) + 4;
        for (size_t i = 0; i < v->n_disks; i++)
                n += 2 + (v->disks[i].path ? strlen(v->disks[i].path) : 0) + 8;
        return n;
}

static int encode_storage(Writer *w, const ClusterStorage *s) {
        int k;

        if (s->n_parts < 1 || s->n_parts > CLUSTER_STORAGE_MAX_PARTS || s->part >= s->n_parts ||
            (s->n_pools > 0 && (!s->pools || s->part != 0)) || (s->n_vms > 0 && !s->vms) ||
            s->n_pools > UINT32_MAX || s->n_vms > UINT32_MAX)
                return -EINVAL;
        k = writer_string(w, s->host, CLUSTER_NAME_MAX);
        if (k < 0)
                return k;
        writer_u32(w, s->generation);
        writer_u16(w, s->part);
        writer_u16(w, s->n_parts);
        writer_u32(w, (uint32_t) s->n_pools);
        for (size_t i = 0; i < s->n_pools; i++) {
                const ClusterPool *p = &s->pools[i];
                size_t n = markers_count(p->markers);
                if (n > CLUSTER_STORAGE_MAX_MARKERS)
                        return -EINVAL;
                k = writer_string(w, p->name, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(w, p->target, CLUSTER_TEXT_MAX);
                if (k < 0)
                        return k;
                writer_u32(w, (uint32_t) n);
                for (size_t j = 0; j < n; j++) {
                        k = writer_string(w, p->markers[j], CLUSTER_NAME_MAX);
                        if (k < 0)
                                return k;
                }
        }
        writer_u32(w, (uint32_t) s->n_vms);
        for (size_t i = 0; i < s->n_vms; i++) {
                const ClusterVmDisks *v = &s->vms[i];
                if (v->n_disks > CLUSTER_STORAGE_MAX_DISKS || (v->n_disks > 0 && !v->disks))
                        return -EINVAL;
                k = writer_string(w, v->name, CLUSTER_NAME_MAX);
                if (k < 0)
                        return k;
                writer_u32(w, (uint32_t) v->n_disks);
                for (size_t j = 0; j < v->n_disks; j++) {
                        k = writer_string(w, v->disks[j].path, CLUSTER_TEXT_MAX);
                        if (k < 0)
                                return k;
                        writer_u64(w, v->disks[j].allocation_bytes);
                }
        }
        return 0;
}

int cluster_storage_split(const ClusterStorage *s, size_t *ret_ends, size_t max_parts) {
        size_t base = CLUSTER_MSG_HEADER_SIZE + 2 + (s->host ? strlen(s->host) : 0) + 4 + 2 + 2 + 4 + 4;
        size_t used = base, parts = 0;

        if (max_parts < 1)
                return -EINVAL;
        for (size_t i = 0; i < s->n_pools; i++)
                used += storage_pool_size(&s->pools[i]);
        if (used > CLUSTER_MSG_MAX)
                return -EMSGSIZE;
        for (size_t i = 0; i < s->n_vms; i++) {
                size_t v = storage_vm_size(&s->vms[i]);
                if (base + v > CLUSTER_MSG_MAX)
                        return -EMSGSIZE;
                if (used + v > CLUSTER_MSG_MAX) {
                        if (parts + 1 >= max_parts)
                                return -EMSGSIZE;
                        ret_ends[parts++] = i;
                        used = base;
                }
                used += v;
        }
        ret_ends[parts++] = s->n_vms;
        return (int) parts;
}

uint16_t cluster_msg_version_needed(const ClusterMsg *m) {
        switch (m->type) {
        case CLUSTER_MSG_STORAGE:
        case CLUSTER_MSG_STORAGE_MOVE:
        case CLUSTER_MSG_STORAGE_DONE:
                return 2;
        case CLUSTER_MSG_MIGRATE:
                return m->migrate.copy_storage || m->migrate.remove_source_storage ||
                                       m->migrate.disk_mib > 0 || m->migrate.remote ||
                                       m->migrate.target_uri || m->migrate.parallel_connections > 0 ||
                                       m->migrate.compression > 0 || m->migrate.remote_bandwidth_mib_s > 0
                               ? 2
                               : 1;
        case CLUSTER_MSG_RESULT:
                return m->result.encryption > 0 || m->result.disks_copied > 0 || m->result.disk_bytes > 0 ||
                                       m->result.source_storage_removed
                               ? 2
                               : 1;
        default:
                return 1;
        }
}

int cluster_msg_encode(const ClusterMsg *m, void **ret, size_t *ret_size) {
        Writer w = {};
        uint16_t version;
        int k;

        if (!m || !ret || !ret_size)
                return -EINVAL;
        if (m->sender == 0)
                return -EINVAL;
        version = m->version ?: cluster_msg_version_needed(m);
        if (version < CLUSTER_MSG_VERSION_MIN || version > CLUSTER_MSG_VERSION ||
            version < cluster_msg_version_needed(m))
                return -EINVAL;

        writer_u32(&w, CLUSTER_MSG_MAGIC);
        writer_u16(&w, version);
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
                k = encode_migrate(&w, &m->migrate, version);
                break;
        case CLUSTER_MSG_SET_MODE:
                k = encode_set_mode(&w, &m->set_mode);
                break;
        case CLUSTER_MSG_RESULT:
                k = encode_result(&w, &m->result, version);
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
        case CLUSTER_MSG_STORAGE:
                k = encode_storage(&w, &m->storage);
                break;
        case CLUSTER_MSG_STORAGE_MOVE: {
                const ClusterStorageMove *o = &m->storage_move;
                writer_u64(&w, o->order_id);
                k = writer_string(&w, o->vm, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, o->host, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, o->pool, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, o->disk, CLUSTER_TEXT_MAX);
                writer_bool(&w, o->remove_source);
                writer_bool(&w, o->force);
                writer_u64(&w, o->bandwidth_mib_s);
                break;
        }
        case CLUSTER_MSG_STORAGE_DONE: {
                const ClusterStorageDone *d = &m->storage_done;
                writer_u64(&w, d->order_id);
                writer_u64(&w, d->order_term);
                k = writer_string(&w, d->vm, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, d->host, CLUSTER_NAME_MAX);
                if (k == 0)
                        k = writer_string(&w, d->pool, CLUSTER_NAME_MAX);
                writer_bool(&w, d->ok);
                writer_u64(&w, d->duration_ms);
                writer_u64(&w, d->bytes);
                writer_bool(&w, d->source_removed);
                if (k == 0)
                        k = writer_string(&w, d->moved, CLUSTER_JSON_MAX);
                if (k == 0)
                        k = writer_string(&w, d->message, CLUSTER_TEXT_MAX);
                if (k == 0)
                        k = writer_string(&w, d->warning, CLUSTER_TEXT_MAX);
                break;
        }
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

static void decode_migrate(Reader *r, ClusterMigrate *m, uint16_t version) {
        m->order_id = reader_u64(r);
        m->vm = reader_string(r, CLUSTER_NAME_MAX, false);
        m->source = reader_string(r, CLUSTER_NAME_MAX, false);
        m->target = reader_string(r, CLUSTER_NAME_MAX, false);
        m->target_migration_uri = reader_string(r, CLUSTER_TEXT_MAX, false);
        m->memory_mib = reader_u64(r);
        m->reason = reader_string(r, CLUSTER_TEXT_MAX, false);
        if (version < 2)
                return;
        m->copy_storage = reader_bool(r);
        m->remove_source_storage = reader_bool(r);
        m->disk_mib = reader_u64(r);
        m->remote = reader_bool(r);
        m->target_uri = reader_string(r, CLUSTER_TEXT_MAX, true);
        m->parallel_connections = reader_u32(r);
        if (m->parallel_connections > 64)
                reader_fail(r, "parallel connections out of range");
        m->compression = reader_u8(r);
        if (m->compression >= CLUSTER_COMPRESSION_MAX)
                reader_fail(r, "compression out of range");
        m->remote_bandwidth_mib_s = reader_u64(r);
}

static void decode_set_mode(Reader *r, ClusterSetMode *s) {
        s->order_id = reader_u64(r);
        s->host = reader_string(r, CLUSTER_NAME_MAX, false);
        s->mode = reader_mode(r);
        s->reason = reader_string(r, CLUSTER_TEXT_MAX, true);
}

static void decode_result(Reader *r, ClusterResult *res, uint16_t version) {
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
        if (version < 2)
                return;
        res->encryption = reader_u8(r);
        if (res->encryption >= CLUSTER_ENCRYPTION_MAX)
                reader_fail(r, "migration encryption out of range");
        res->disks_copied = reader_u32(r);
        res->disk_bytes = reader_u64(r);
        res->source_storage_removed = reader_bool(r);
}

/* A count read before its elements: refused when the bytes left could not hold that many of
 * at least min_size bytes each, or when it is above limit. */
static bool reader_count_ok(Reader *r, uint32_t n, size_t min_size, size_t limit, const char *what) {
        if (r->error < 0)
                return false;
        if (n > limit || n > r->left / min_size) {
                reader_fail(r, what);
                return false;
        }
        return true;
}

static void decode_storage(Reader *r, ClusterStorage *s) {
        s->host = reader_string(r, CLUSTER_NAME_MAX, false);
        s->generation = reader_u32(r);
        s->part = reader_u16(r);
        s->n_parts = reader_u16(r);
        if (r->error == 0 &&
            (s->n_parts < 1 || s->n_parts > CLUSTER_STORAGE_MAX_PARTS || s->part >= s->n_parts))
                reader_fail(r, "storage part out of range");

        uint32_t n = reader_u32(r); /* a pool: two strings and a count */
        if (!reader_count_ok(r, n, 2 + 2 + 4, SIZE_MAX, "pool count larger than the message can hold"))
                return;
        if (n > 0 && s->part != 0) {
                reader_fail(r, "pools in a storage part other than the first");
                return;
        }
        if (n > 0) {
                s->pools = calloc(n, sizeof(ClusterPool));
                if (!s->pools) {
                        r->error = -ENOMEM;
                        return;
                }
                s->n_pools = n;
        }
        for (size_t i = 0; i < n && r->error == 0; i++) {
                ClusterPool *p = &s->pools[i];
                p->name = reader_string(r, CLUSTER_NAME_MAX, false);
                p->target = reader_string(r, CLUSTER_TEXT_MAX, true);
                uint32_t m = reader_u32(r);
                if (!reader_count_ok(r, m, 2, CLUSTER_STORAGE_MAX_MARKERS, "too many markers in a pool"))
                        return;
                p->markers = calloc((size_t) m + 1, sizeof(char *));
                if (!p->markers) {
                        r->error = -ENOMEM;
                        return;
                }
                for (size_t j = 0; j < m && r->error == 0; j++)
                        p->markers[j] = reader_string(r, CLUSTER_NAME_MAX, false);
        }

        n = reader_u32(r); /* a VM: a string and a count */
        if (!reader_count_ok(r, n, 2 + 4, SIZE_MAX, "VM count larger than the message can hold"))
                return;
        if (n > 0) {
                s->vms = calloc(n, sizeof(ClusterVmDisks));
                if (!s->vms) {
                        r->error = -ENOMEM;
                        return;
                }
                s->n_vms = n;
        }
        for (size_t i = 0; i < n && r->error == 0; i++) {
                ClusterVmDisks *v = &s->vms[i];
                v->name = reader_string(r, CLUSTER_NAME_MAX, false);
                uint32_t d = reader_u32(r); /* a disk: a string and a u64 */
                if (!reader_count_ok(r, d, 2 + 8, CLUSTER_STORAGE_MAX_DISKS, "too many disks of a VM"))
                        return;
                if (d == 0)
                        continue;
                v->disks = calloc(d, sizeof(ClusterDisk));
                if (!v->disks) {
                        r->error = -ENOMEM;
                        return;
                }
                v->n_disks = d;
                for (size_t j = 0; j < d && r->error == 0; j++) {
                        v->disks[j].path = reader_string(r, CLUSTER_TEXT_MAX, false);
                        v->disks[j].allocation_bytes = reader_u64(r);
                }
        }
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
        uint16_t version = reader_u16(r);
        if (version < CLUSTER_MSG_VERSION_MIN || version > CLUSTER_MSG_VERSION) {
                reader_fail(
                        r, version > CLUSTER_MSG_VERSION
                                   ? "message version newer than this drsd's (upgrade it)"
                                   : "unknown message version");
                return r->error;
        }
        uint16_t type = reader_u16(r);
        if (type == 0 || type >= _CLUSTER_MSG_TYPE_MAX) {
                reader_fail(r, "unknown message type");
                return r->error;
        }
        m->type = (ClusterMsgType) type;
        if (version < cluster_msg_version_needed(m)) {
                reader_fail(r, "message type of a newer version in an older version's message");
                return r->error;
        }
        m->version = version;
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
                        decode_migrate(&r, &m.migrate, m.version);
                        break;
                case CLUSTER_MSG_SET_MODE:
                        decode_set_mode(&r, &m.set_mode);
                        break;
                case CLUSTER_MSG_RESULT:
                        decode_result(&r, &m.result, m.version);
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
                case CLUSTER_MSG_STORAGE:
                        decode_storage(&r, &m.storage);
                        break;
                case CLUSTER_MSG_STORAGE_MOVE:
                        m.storage_move.order_id = reader_u64(&r);
                        m.storage_move.vm = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_move.host = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_move.pool = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_move.disk = reader_string(&r, CLUSTER_TEXT_MAX, true);
                        m.storage_move.remove_source = reader_bool(&r);
                        m.storage_move.force = reader_bool(&r);
                        m.storage_move.bandwidth_mib_s = reader_u64(&r);
                        break;
                case CLUSTER_MSG_STORAGE_DONE:
                        m.storage_done.order_id = reader_u64(&r);
                        m.storage_done.order_term = reader_u64(&r);
                        m.storage_done.vm = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_done.host = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_done.pool = reader_string(&r, CLUSTER_NAME_MAX, false);
                        m.storage_done.ok = reader_bool(&r);
                        m.storage_done.duration_ms = reader_u64(&r);
                        m.storage_done.bytes = reader_u64(&r);
                        m.storage_done.source_removed = reader_bool(&r);
                        m.storage_done.moved = reader_string(&r, CLUSTER_JSON_MAX, true);
                        m.storage_done.message = reader_string(&r, CLUSTER_TEXT_MAX, true);
                        m.storage_done.warning = reader_string(&r, CLUSTER_TEXT_MAX, true);
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
