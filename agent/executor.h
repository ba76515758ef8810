/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The executor: runs live migrations on worker threads and reports back on the main loop.
 *
 * executor_submit() queues a migration; it starts when the per-host (out/in) and per-cluster
 * concurrency limits allow. Its worker: precheck on the destination (skip with a reason if it
 * fails) → migrate (blocking) while a watcher thread polls job stats every second — remaining
 * memory not shrinking for N polls or dirty rate ≥ transfer rate is a stall: raise max downtime
 * through the policy's schedule, then (if allowed) restart with auto-converge, then abort; abort
 * at the timeout (timeout_per_gib × memory, at least 60 s). After success it checks the VM runs
 * on the destination and is gone from the source. On failure the VM keeps running on the
 * source. The result (with libvirt's message, duration and downtime from the completed job
 * stats) comes back through the done callback on the sd-event thread. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv.h"
#include "policy.h"

typedef enum MigrationResult {
        MIGRATION_OK,
        MIGRATION_SKIPPED, /* precheck failed: nothing started */
        MIGRATION_FAILED,  /* libvirt failed it; VM on the source */
        MIGRATION_ABORTED, /* stall or timeout; VM on the source */
        MIGRATION_LOST,    /* after "success" the VM is not found running exactly once: needs an operator */
        _MIGRATION_RESULT_MAX,
} MigrationResult;

const char *migration_result_to_string(MigrationResult r);

typedef struct MigrationRequest {
        const char *vm;
        const char *source; /* host names */
        const char *target;
        const char *source_uri; /* management URIs (connections opened by the worker) */
        const char *target_uri;
        const char *target_migration_uri;
        uint64_t memory_mib;
        const char *reason; /* "balance", "maintenance", "rule:NAME", "dpm", "manual" */
} MigrationRequest;

typedef struct MigrationOutcome {
        MigrationResult result;
        char *message;        /* owned; libvirt's message or why it was skipped/aborted; NULL on success */
        uint64_t duration_ms; /* wall time of the migration */
        uint64_t downtime_ms; /* from the completed job stats; 0 if unknown */
        unsigned stall_steps; /* downtime raises / auto-converge applied */
} MigrationOutcome;

typedef void (*MigrationDone)(const MigrationRequest *req, const MigrationOutcome *o, void *userdata);

typedef struct Executor Executor;

/* ops: the hypervisor boundary (hv_libvirt_ops, or a fake in tests). */
int executor_new(sd_event *e, const HvOps *ops, const Policy *policy, Executor **ret);
Executor *
executor_free(Executor *x); /* waits for running workers; libvirt migrations themselves continue (p2p) */
void executor_set_policy(Executor *x, const Policy *policy); /* limits and migration tunables */

/* Copies req; returns 0 when queued, -EBUSY when that VM already has a migration queued or running. */
int executor_submit(Executor *x, const MigrationRequest *req, MigrationDone done, void *userdata);
unsigned executor_n_running(const Executor *x);
unsigned executor_n_queued(const Executor *x);
bool executor_vm_busy(const Executor *x, const char *vm);
