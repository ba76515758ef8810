/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Manual moves asked for with drsctl: drs.Migrate (a live migration through the executor, with
 * the disks copied when the target cannot see them) and drs.MoveStorage (a live storage move
 * on the VM's host). Both reply as soon as the work is started; the outcome goes to the journal
 * and the history like every migration (drsctl waits for it there). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "manager-pass.h"
#include "metrics.h"
#include "protocol.h"
#include "storage-move.h"

#define USEC_PER_SEC 1000000ULL

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* A string parameter: 1 with *ret, 0 when absent (and not required). */
static int get_string(
        json_object *params, const char *key, bool required, const char **ret, json_object **reply,
        char **reterr_error) {
        json_object *v;

        if (!json_object_object_get_ex(params, key, &v)) {
                if (required)
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "parameter '%s' (a string) is required", key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter '%s' must be a non-empty string", key);
        *ret = json_object_get_string(v);
        return 1;
}

static int
get_bool(json_object *params, const char *key, bool *ret, json_object **reply, char **reterr_error) {
        json_object *v;

        if (!json_object_object_get_ex(params, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter '%s' must be a boolean", key);
        *ret = json_object_get_boolean(v);
        return 1;
}

/* The host whose latest report lists the VM running. */
static const DrsHostConfig *vm_host(Manager *m, const char *vm, const VmReport **ret_vm) {
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const HostReport *r = manager_host_report(m, m->config->hosts[i].name);
                for (size_t k = 0; r && k < r->n_vms; k++)
                        if (streq(r->vms[k].name, vm)) {
                                if (ret_vm)
                                        *ret_vm = &r->vms[k];
                                return &m->config->hosts[i];
                        }
        }
        return NULL;
}

static int
locate(Manager *m, const char *vm, const DrsHostConfig **ret_host, const VmReport **ret_vm,
       json_object **reply, char **reterr_error) {
        const DrsHostConfig *h;

        if (!manager_acting_leader(m))
                return control_fail(reply, reterr_error, "drs.NoLeader", "this drsd is not the leader");
        if (!m->collector || !m->executor)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INTERNAL, "the leader is not running");
        h = vm_host(m, vm, ret_vm);
        if (!h)
                return control_fail(
                        reply, reterr_error, "drs.NoSuchVm",
                        "no running VM '%s' in the reports of the hosts", vm);
        if (!manager_host_fresh(m, h->name))
                return control_fail(
                        reply, reterr_error, "drs.InvalidState", "host '%s' of '%s' is not reporting",
                        h->name, vm);
        if (manager_vm_busy(m, vm) || storage_mover_vm_busy(m->storage_mover, vm))
                return control_fail(
                        reply, reterr_error, "drs.Busy", "'%s' is being migrated or its storage moved", vm);
        *ret_host = h;
        return 0;
}

/* ---- drs.Migrate -------------------------------------------------------------------------- */

/* What a disk copy may have to move, for the migration's timeout: the VM's file disks. */
static uint64_t disk_mib(const VmReport *vr) {
        uint64_t bytes = 0;
        for (size_t i = 0; vr && i < vr->n_disks; i++)
                bytes += vr->disks[i].allocation_bytes;
        return (bytes + (UINT64_C(1) << 20) - 1) >> 20;
}

/* A manual migration's result is recorded like a plan's (history, journal, metrics, the VM's last
 * move); a failed one does not cool the VM down: the operator may retry at once. */
static void
on_manual_migration_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        manager_record_migration(userdata, req, o, false);
}

int manager_start_manual_migration_here(Manager *m, const MigrationRequest *req) {
        return m->executor ? executor_submit(m->executor, req, on_manual_migration_done, m) : -ENXIO;
}

/* Why a manual move is refused, as the control reply says it: the source's errors. */
static int
manual_start_failed(int k, const char *vm, const char *what, json_object **reply, char **reterr_error) {
        if (k == -EBUSY)
                return control_fail(reply, reterr_error, "drs.Busy", "'%s' is being %s", vm, what);
        if (k == -EPROTONOSUPPORT)
                return control_fail(
                        reply, reterr_error, "drs.NotSupported",
                        "the drsd of the VM's host runs an older version (cluster protocol 1): it cannot take disk copies, migrations out of the cluster or storage moves; upgrade it");
        if (k == -EHOSTDOWN)
                return control_fail(
                        reply, reterr_error, "drs.InvalidState",
                        "the drsd of the host of '%s' is not in the cluster", vm);
        if (k == -EOPNOTSUPP)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INTERNAL,
                        "storage moves are not supported here");
        return k;
}

/* drs.Migrate with "to_uri": to a libvirt host outside the cluster, with the policy's
 * migration.remote tunables. The target is named by its URI in the journal and history. */
static int migrate_remote(
        Manager *m, const char *vm, const DrsHostConfig *src, const VmReport *vr, const char *uri,
        const char *muri, bool copy, bool remove_source, bool dry_run, uint64_t since, json_object **reply,
        char **reterr_error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const RemoteMigrationPolicy *rp = &m->policy->migration.remote;
        int k;

        if (!dry_run) {
                MigrationRequest req = {
                        .vm = vm,
                        .source = src->name,
                        .target = uri,
                        .source_uri = src->uri,
                        .target_uri = muri,
                        .target_migration_uri = uri,
                        .memory_mib = vr ? vr->memory_mib : 0,
                        .reason = "manual",
                        .copy_storage = copy,
                        .remove_source_storage = remove_source,
                        .disk_mib = copy ? disk_mib(vr) : 0,
                        .remote = true,
                        .parallel_connections = rp->parallel_connections,
                        .compression = rp->compression,
                        .remote_bandwidth_mib_s = rp->bandwidth_mib_s,
                };
                k = m->source->start_manual_migration(m, &req);
                if (k < 0)
                        return manual_start_failed(k, vm, "migrated", reply, reterr_error);
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg,
                            "Migrating '%s' from '%s' out of the cluster to '%s' (manual, %u connection(s), compression %s%s)",
                            vm, src->name, uri, rp->parallel_connections,
                            migration_compression_to_string(rp->compression),
                            copy ? ", copying the disks the target cannot see" : "") < 0)
                        msg = NULL;
                HistoryEvent e = {
                        .type = (char *) "migration",
                        .vm = (char *) vm,
                        .source = (char *) src->name,
                        .target = (char *) uri,
                        .reason = (char *) "manual",
                        .result = (char *) "started",
                        .message = msg,
                };
                manager_record(m, LOG_INFO, DRS_MESSAGE_MIGRATION_STARTED, &e);
        }
        o = json_object_new_object();
        if (!o || control_add(o, "vm", json_object_new_string(vm)) < 0 ||
            control_add(o, "source", json_object_new_string(src->name)) < 0 ||
            control_add(o, "target", json_object_new_string(uri)) < 0 ||
            control_add(o, "remote", json_object_new_boolean(true)) < 0 ||
            control_add(o, "parallel_connections", json_object_new_uint64(rp->parallel_connections)) < 0 ||
            control_add(
                    o, "compression",
                    json_object_new_string(migration_compression_to_string(rp->compression))) < 0 ||
            control_add(o, "copy_storage", json_object_new_boolean(copy)) < 0 ||
            control_add(o, "remove_source", json_object_new_boolean(remove_source)) < 0 ||
            control_add(o, "memory_mib", json_object_new_uint64(vr ? vr->memory_mib : 0)) < 0 ||
            control_add(o, "dry_run", json_object_new_boolean(dry_run)) < 0 ||
            control_add(o, "since", json_object_new_uint64(since)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* drs.Migrate {"vm", "to" | "to_uri" [+ "to_management_uri"], "copy_storage", "remove_source",
 * "dry_run"}: migrates a running VM
 * to another host now, through the executor (its pre-checks, limits, stall handling). Replies
 * {"vm", "source", "target", "copy_storage", "memory_mib", "dry_run", "since"} once it is queued;
 * the outcome is a "migration" history event of the VM after "since". */
int manager_method_migrate(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {
                "vm", "to", "to_uri", "to_management_uri", "copy_storage", "remove_source", "dry_run", NULL,
        };
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *vm = NULL, *to = NULL, *to_uri = NULL, *to_muri = NULL;
        const DrsHostConfig *src, *dst = NULL;
        const VmReport *vr = NULL;
        bool copy = false, remove_source = false, dry_run = false;
        uint64_t since = manager_realtime_usec();
        int k;

        if ((k = control_refuse_parameters(params, allowed, reply, reterr_error)) < 0 ||
            (k = get_string(params, "vm", true, &vm, reply, reterr_error)) < 0 ||
            (k = get_string(params, "to", false, &to, reply, reterr_error)) < 0 ||
            (k = get_string(params, "to_uri", false, &to_uri, reply, reterr_error)) < 0 ||
            (k = get_string(params, "to_management_uri", false, &to_muri, reply, reterr_error)) < 0 ||
            (k = get_bool(params, "copy_storage", &copy, reply, reterr_error)) < 0 ||
            (k = get_bool(params, "remove_source", &remove_source, reply, reterr_error)) < 0 ||
            (k = get_bool(params, "dry_run", &dry_run, reply, reterr_error)) < 0)
                return k;
        if (!to == !to_uri)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "exactly one of 'to' (a host of the cluster) and 'to_uri' (a libvirt host outside it) is required");
        if (to_muri && !to_uri)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "'to_management_uri' needs 'to_uri'");
        if (remove_source && !copy)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "'remove_source' needs 'copy_storage' (shared volumes are never removed)");
        if (to) {
                dst = drs_config_find_host(m->config, to);
                if (!dst)
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_NO_SUCH_HOST, "no host '%s' in '%s'", to,
                                m->config_path);
        }
        k = locate(m, vm, &src, &vr, reply, reterr_error);
        if (k < 0)
                return k;
        if (!dst)
                return migrate_remote(
                        m, vm, src, vr, to_uri, to_muri ?: to_uri, copy, remove_source, dry_run, since,
                        reply, reterr_error);
        if (streq(src->name, dst->name))
                return control_fail(
                        reply, reterr_error, "drs.InvalidState", "'%s' already runs on '%s'", vm, dst->name);
        HostMode mode = manager_host_mode(m, dst->name);
        if (mode != HOST_MODE_UP)
                return control_fail(
                        reply, reterr_error, "drs.InvalidState", "host '%s' is %s: it takes no VM",
                        dst->name, host_mode_to_string(mode));
        if (!manager_host_fresh(m, dst->name))
                return control_fail(
                        reply, reterr_error, "drs.InvalidState", "host '%s' is not reporting", dst->name);
        const HostReport *dr = manager_host_report(m, dst->name);
        if (dr && vr && dr->free_mib < vr->memory_mib)
                return control_fail(
                        reply, reterr_error, "drs.InvalidState",
                        "host '%s' has %" PRIu64 " MiB free, '%s' needs %" PRIu64 " MiB", dst->name,
                        dr->free_mib, vm, vr->memory_mib);

        if (!dry_run) {
                MigrationRequest req = {
                        .vm = vm,
                        .source = src->name,
                        .target = dst->name,
                        .source_uri = src->uri,
                        .target_uri = dst->uri,
                        .target_migration_uri = dst->migration_uri ?: dst->uri,
                        .memory_mib = vr ? vr->memory_mib : 0,
                        .reason = "manual",
                        .copy_storage = copy,
                        .remove_source_storage = remove_source,
                        .disk_mib = copy ? disk_mib(vr) : 0,
                };
                k = m->source->start_manual_migration(m, &req);
                if (k < 0)
                        return manual_start_failed(k, vm, "migrated", reply, reterr_error);
                _cleanup_free_ char *msg = NULL;
                if (asprintf(
                            &msg, "Migrating '%s' from '%s' to '%s' (manual%s)", vm, src->name, dst->name,
                            copy ? ", copying the disks the target cannot see" : "") < 0)
                        msg = NULL;
                HistoryEvent e = {
                        .type = (char *) "migration",
                        .vm = (char *) vm,
                        .source = (char *) src->name,
                        .target = (char *) dst->name,
                        .reason = (char *) "manual",
                        .result = (char *) "started",
                        .message = msg,
                };
                manager_record(m, LOG_INFO, DRS_MESSAGE_MIGRATION_STARTED, &e);
        }
        o = json_object_new_object();
        if (!o || control_add(o, "vm", json_object_new_string(vm)) < 0 ||
            control_add(o, "source", json_object_new_string(src->name)) < 0 ||
            control_add(o, "target", json_object_new_string(dst->name)) < 0 ||
            control_add(o, "copy_storage", json_object_new_boolean(copy)) < 0 ||
            control_add(o, "remove_source", json_object_new_boolean(remove_source)) < 0 ||
            control_add(o, "memory_mib", json_object_new_uint64(vr ? vr->memory_mib : 0)) < 0 ||
            control_add(o, "dry_run", json_object_new_boolean(dry_run)) < 0 ||
            control_add(o, "since", json_object_new_uint64(since)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}

/* ---- drs.MoveStorage ---------------------------------------------------------------------- */

void manager_record_storage_move(Manager *m, const StorageMoveRequest *req, const StorageMoveOutcome *o) {
        bool ok = o->error == 0;
        _cleanup_free_ char *msg = NULL, *moved = NULL;
        size_t n_moved = strv_length(o->moved);

        for (char **l = o->moved; l && *l; l++) {
                char *n = NULL;
                if (asprintf(&n, "%s%s%s", moved ?: "", moved ? "; " : "", *l) < 0)
                        break;
                free(moved);
                moved = n;
        }
        if (ok) {
                if (asprintf(
                            &msg,
                            "Moved the storage of '%s' on '%s' to pool '%s' in %" PRIu64
                            " ms: %s (%.1f MiB copied), old volume%s %s%s%s",
                            req->vm, req->host, req->pool, o->duration_ms, moved ?: "",
                            (double) o->bytes / 1048576.0, n_moved == 1 ? "" : "s",
                            o->source_removed ? "removed" : "kept", o->warning ? "; " : "",
                            o->warning ?: "") < 0)
                        msg = NULL;
        } else {
                if (asprintf(
                            &msg,
                            "Storage move of '%s' on '%s' to pool '%s' failed after %" PRIu64 " ms: %s%s%s",
                            req->vm, req->host, req->pool, o->duration_ms, o->message ?: "unknown error",
                            n_moved > 0 ? "; moved before the failure: "
                                        : "; the VM keeps its original disks",
                            n_moved > 0 ? moved : "") < 0)
                        msg = NULL;
        }
        HistoryEvent e = {
                .type = (char *) "storage",
                .vm = (char *) req->vm,
                .source = (char *) req->host,
                .target = (char *) req->pool,
                .reason = (char *) "manual",
                .result = (char *) (ok ? "completed" : "failed"),
                .duration_ms = o->duration_ms,
                .message = msg,
        };
        manager_record(m, ok ? LOG_INFO : LOG_WARNING, DRS_MESSAGE_STORAGE_MOVE, &e);
}

static void
on_storage_move_done(const StorageMoveRequest *req, const StorageMoveOutcome *o, void *userdata) {
        manager_record_storage_move(userdata, req, o);
}

int manager_start_storage_move_here(
        Manager *m, const StorageMoveRequest *req, StorageMoveDone done, void *userdata) {
        int k;

        if (!m->storage_mover) {
                k = storage_mover_new(m->event, m->hv_ops, &m->storage_mover);
                if (k < 0)
                        return k;
        }
        return storage_mover_submit(
                m->storage_mover, req, done ?: on_storage_move_done, done ? userdata : m);
}

/* drs.MoveStorage {"vm", "pool", "disk", "remove_source", "force"}: moves the VM's disks (or
 * one) to another pool of its host, live. Replies {"vm", "host", "pool", "disk", "since"} once
 * started; the outcome is a "storage" history event of the VM after "since". */
int manager_method_move_storage(Manager *m, json_object *params, json_object **reply, char **reterr_error) {
        static const char *const allowed[] = {"vm", "pool", "disk", "remove_source", "force", NULL};
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *vm = NULL, *pool = NULL, *disk = NULL;
        const DrsHostConfig *h;
        bool remove_source = false, force = false;
        uint64_t since = manager_realtime_usec();
        int k;

        if ((k = control_refuse_parameters(params, allowed, reply, reterr_error)) < 0 ||
            (k = get_string(params, "vm", true, &vm, reply, reterr_error)) < 0 ||
            (k = get_string(params, "pool", true, &pool, reply, reterr_error)) < 0 ||
            (k = get_string(params, "disk", false, &disk, reply, reterr_error)) < 0 ||
            (k = get_bool(params, "remove_source", &remove_source, reply, reterr_error)) < 0 ||
            (k = get_bool(params, "force", &force, reply, reterr_error)) < 0)
                return k;
        k = locate(m, vm, &h, NULL, reply, reterr_error);
        if (k < 0)
                return k;
        StorageMoveRequest req = {
                .vm = vm,
                .host = h->name,
                .uri = h->uri,
                .pool = pool,
                .disk = disk,
                .remove_source = remove_source,
                .force = force,
                .bandwidth_mib_s = m->policy->migration.bandwidth_mib_s,
        };
        k = m->source->start_storage_move(m, &req);
        if (k < 0)
                return manual_start_failed(k, vm, "moved (its storage)", reply, reterr_error);
        _cleanup_free_ char *msg = NULL;
        if (asprintf(
                    &msg, "Moving the storage of '%s' on '%s' to pool '%s' (%s%s)", vm, h->name, pool,
                    disk ? "disk " : "every disk", disk ?: "") < 0)
                msg = NULL;
        HistoryEvent e = {
                .type = (char *) "storage",
                .vm = (char *) vm,
                .source = (char *) h->name,
                .target = (char *) pool,
                .reason = (char *) "manual",
                .result = (char *) "started",
                .message = msg,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_STORAGE_MOVE, &e);

        o = json_object_new_object();
        if (!o || control_add(o, "vm", json_object_new_string(vm)) < 0 ||
            control_add(o, "host", json_object_new_string(h->name)) < 0 ||
            control_add(o, "pool", json_object_new_string(pool)) < 0 ||
            (disk && control_add(o, "disk", json_object_new_string(disk)) < 0) ||
            control_add(o, "since", json_object_new_uint64(since)) < 0)
                return -ENOMEM;
        *reply = TAKE_PTR(o);
        return 0;
}
