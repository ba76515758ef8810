/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Field-by-field equality of CPG messages, for the codec's unit test and its fuzz target. */

#include "cluster-msg-equal.h"

/* A decoded pool's markers are never NULL: NULL and the empty strv are equal. */
static bool markers_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq_ptr(a[i], b[i]))
                        return false;
        return true;
}

bool cluster_storage_equal(const ClusterStorage *x, const ClusterStorage *y) {
        if (!streq_ptr(x->host, y->host) || x->generation != y->generation || x->part != y->part ||
            x->n_parts != y->n_parts || x->n_pools != y->n_pools || x->n_vms != y->n_vms)
                return false;
        for (size_t i = 0; i < x->n_pools; i++) {
                const ClusterPool *p = &x->pools[i], *q = &y->pools[i];
                if (!streq_ptr(p->name, q->name) || !streq_ptr(p->target, q->target) ||
                    !markers_equal(p->markers, q->markers))
                        return false;
        }
        for (size_t i = 0; i < x->n_vms; i++) {
                const ClusterVmDisks *v = &x->vms[i], *w = &y->vms[i];
                if (!streq_ptr(v->name, w->name) || v->n_disks != w->n_disks)
                        return false;
                for (size_t j = 0; j < v->n_disks; j++)
                        if (!streq_ptr(v->disks[j].path, w->disks[j].path) ||
                            v->disks[j].allocation_bytes != w->disks[j].allocation_bytes)
                                return false;
        }
        return true;
}

bool cluster_msg_equal(const ClusterMsg *a, const ClusterMsg *b) {
        if (a->type != b->type || a->version != b->version || a->sender != b->sender || a->term != b->term)
                return false;

        switch (a->type) {
        case CLUSTER_MSG_SYNC:
                return a->sync.leader == b->sync.leader && a->sync.leader_term == b->sync.leader_term &&
                       a->sync.max_term == b->sync.max_term && streq_ptr(a->sync.host, b->sync.host);
        case CLUSTER_MSG_REPORT: {
                const ClusterReport *x = &a->report, *y = &b->report;
                if (!streq_ptr(x->host, y->host) || !streq_ptr(x->migration_uri, y->migration_uri) ||
                    x->mode != y->mode || !streq_ptr(x->mode_reason, y->mode_reason) ||
                    x->mode_since_usec != y->mode_since_usec || x->have_sample != y->have_sample ||
                    x->sample_age_ms != y->sample_age_ms || x->cpus != y->cpus ||
                    x->memory_mib != y->memory_mib || x->free_mib != y->free_mib ||
                    !streq_ptr(x->last_error, y->last_error) || x->n_vms != y->n_vms)
                        return false;
                for (size_t i = 0; i < x->n_vms; i++) {
                        const ClusterVm *v = &x->vms[i], *w = &y->vms[i];
                        if (!streq_ptr(v->name, w->name) || v->vcpus != w->vcpus ||
                            v->memory_mib != w->memory_mib || v->cpu_demand != w->cpu_demand ||
                            v->memory_demand_mib != w->memory_demand_mib || v->migrating != w->migrating ||
                            v->busy != w->busy || !streq_ptr(v->target, w->target))
                                return false;
                }
                return true;
        }
        case CLUSTER_MSG_MIGRATE:
                return a->migrate.order_id == b->migrate.order_id &&
                       streq_ptr(a->migrate.vm, b->migrate.vm) &&
                       streq_ptr(a->migrate.source, b->migrate.source) &&
                       streq_ptr(a->migrate.target, b->migrate.target) &&
                       streq_ptr(a->migrate.target_migration_uri, b->migrate.target_migration_uri) &&
                       a->migrate.memory_mib == b->migrate.memory_mib &&
                       streq_ptr(a->migrate.reason, b->migrate.reason) &&
                       a->migrate.copy_storage == b->migrate.copy_storage &&
                       a->migrate.remove_source_storage == b->migrate.remove_source_storage &&
                       a->migrate.disk_mib == b->migrate.disk_mib &&
                       a->migrate.remote == b->migrate.remote &&
                       streq_ptr(a->migrate.target_uri, b->migrate.target_uri) &&
                       a->migrate.parallel_connections == b->migrate.parallel_connections &&
                       a->migrate.compression == b->migrate.compression &&
                       a->migrate.remote_bandwidth_mib_s == b->migrate.remote_bandwidth_mib_s;
        case CLUSTER_MSG_SET_MODE:
                return a->set_mode.order_id == b->set_mode.order_id &&
                       streq_ptr(a->set_mode.host, b->set_mode.host) &&
                       a->set_mode.mode == b->set_mode.mode &&
                       streq_ptr(a->set_mode.reason, b->set_mode.reason);
        case CLUSTER_MSG_RESULT:
                return a->result.order_id == b->result.order_id &&
                       a->result.order_term == b->result.order_term &&
                       streq_ptr(a->result.vm, b->result.vm) &&
                       streq_ptr(a->result.source, b->result.source) &&
                       streq_ptr(a->result.target, b->result.target) &&
                       a->result.result == b->result.result &&
                       a->result.duration_ms == b->result.duration_ms &&
                       a->result.downtime_ms == b->result.downtime_ms &&
                       streq_ptr(a->result.message, b->result.message) &&
                       a->result.encryption == b->result.encryption &&
                       a->result.disks_copied == b->result.disks_copied &&
                       a->result.disk_bytes == b->result.disk_bytes &&
                       a->result.source_storage_removed == b->result.source_storage_removed;
        case CLUSTER_MSG_REQUEST:
                return a->request.request_id == b->request.request_id && a->request.to == b->request.to &&
                       streq_ptr(a->request.json, b->request.json);
        case CLUSTER_MSG_REPLY:
                return a->reply.request_id == b->reply.request_id && a->reply.to == b->reply.to &&
                       a->reply.part == b->reply.part && a->reply.n_parts == b->reply.n_parts &&
                       streq_ptr(a->reply.json, b->reply.json);
        case CLUSTER_MSG_POWER_OFF:
                return a->power_off.order_id == b->power_off.order_id &&
                       streq_ptr(a->power_off.host, b->power_off.host);
        case CLUSTER_MSG_ROLLOUT:
                return streq_ptr(a->rollout.json, b->rollout.json);
        case CLUSTER_MSG_ROLLOUT_RUN:
                return a->rollout_run.to == b->rollout_run.to &&
                       streq_ptr(a->rollout_run.host, b->rollout_run.host) &&
                       streq_ptr(a->rollout_run.command, b->rollout_run.command) &&
                       a->rollout_run.timeout_s == b->rollout_run.timeout_s &&
                       a->rollout_run.health == b->rollout_run.health;
        case CLUSTER_MSG_ROLLOUT_DONE:
                return streq_ptr(a->rollout_done.host, b->rollout_done.host) &&
                       a->rollout_done.ok == b->rollout_done.ok &&
                       a->rollout_done.duration_ms == b->rollout_done.duration_ms &&
                       streq_ptr(a->rollout_done.message, b->rollout_done.message);
        case CLUSTER_MSG_STORAGE:
                return cluster_storage_equal(&a->storage, &b->storage);
        case CLUSTER_MSG_STORAGE_MOVE: {
                const ClusterStorageMove *x = &a->storage_move, *y = &b->storage_move;
                return x->order_id == y->order_id && streq_ptr(x->vm, y->vm) &&
                       streq_ptr(x->host, y->host) && streq_ptr(x->pool, y->pool) &&
                       streq_ptr(x->disk, y->disk) && x->remove_source == y->remove_source &&
                       x->force == y->force && x->bandwidth_mib_s == y->bandwidth_mib_s;
        }
        case CLUSTER_MSG_STORAGE_DONE: {
                const ClusterStorageDone *x = &a->storage_done, *y = &b->storage_done;
                return x->order_id == y->order_id && x->order_term == y->order_term &&
                       streq_ptr(x->vm, y->vm) && streq_ptr(x->host, y->host) &&
                       streq_ptr(x->pool, y->pool) && x->ok == y->ok && x->duration_ms == y->duration_ms &&
                       x->bytes == y->bytes && x->source_removed == y->source_removed &&
                       streq_ptr(x->moved, y->moved) && streq_ptr(x->message, y->message) &&
                       streq_ptr(x->warning, y->warning);
        }
        default:
                return false;
        }
}
