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
 * stats) comes back through the done callback on the sd-event thread.
 *
 * Details of the contract:
 *   - Queue order is FIFO, but a request whose hosts are at their limits does not hold up a
 *     later one that fits (no ordering across requests): submit a plan wave by wave, the next
 *     wave when the previous one's results are in.
 *   - Each migration's worker opens its own connections from the request's URIs (source and
 *     target management URIs; the watcher a second one to the source); failing to connect is
 *     SKIPPED, like a failed precheck.
 *   - The watcher polls job stats every second; it sets the first max downtime of the policy's
 *     schedule as soon as the job runs. A poll is "not shrinking" when remaining memory is no
 *     new low; 3 such polls in a row, or dirty rate (pps × page size) ≥ transfer rate from the
 *     second iteration on, is a stall. A stall raises max downtime to the next step (then
 *     waits 3 polls); with the schedule exhausted it aborts and, when auto_converge is
 *     allowed, retries once with auto-converge (starting at the last step); a stall then
 *     aborts for good. The timeout (max(60 s, timeout_per_gib × memory GiB)) applies to each
 *     attempt.
 *   - Encryption (policy migration.tls, decided by agent/hv/migration-tls.c) comes first, before
 *     the disks are prepared and the pre-check runs: unless the mode is false, each end's
 *     migration TLS is probed (HvOps.tls_probe, cached per host for EXECUTOR_TLS_PROBE_TTL_USEC;
 *     a failed probe is not cached); true and an end without it is SKIPPED with the reason
 *     ("precheck failed: migration.tls is true but 'h3' has no migration TLS: …"); the outcome's
 *     encryption says what the migration used (UNKNOWN when it did not get that far).
 *   - A failure is checked against libvirt: when the VM in fact runs on the target and is gone
 *     from the source the result is OK; when it runs nowhere or twice it is LOST.
 *   - duration_ms is the completed job's elapsed time (the wall time of the migrate call when
 *     libvirt has none), downtime_ms its downtime.
 *   - executor_free() (SIGTERM) never aborts a migration: it stops the watchers, detaches the
 *     workers blocked in migrate at once (a PEER2PEER migration goes on inside libvirtd
 *     without its client: seen on the testbed) and waits up to EXECUTOR_SHUTDOWN_GRACE_USEC for
 *     the others (precheck, verification) before detaching them too; no callback runs after
 *     it. A restarted drsd learns of such migrations from the collector: the VM's report has
 *     `migrating` set (an outgoing migration job on the source, HvDomainStats.migrating) —
 *     the leader must not plan that VM (executor_vm_busy() is false after a restart) until
 *     the flag clears, and then finds it on whichever host reports it. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "admission.h"
#include "hv.h"
#include "macro.h"
#include "policy.h"

typedef struct MigrationRequest {
        const char *vm;
        const char *source; /* host names */
        const char *target;
        const char *source_uri; /* management URIs (connections opened by the worker) */
        const char *target_uri;
        const char *target_migration_uri;
        uint64_t memory_mib;
        const char *reason; /* "balance", "maintenance", "rule:NAME", "dpm", "manual" */
        /* Storage: copy the disks the target cannot see (HvOps.prepare_storage creates their
         * volumes there first; they are deleted again when the migration fails), and after
         * success remove the source's copies of them. disk_mib adds to the timeout's size. */
        bool copy_storage;
        bool remove_source_storage;
        uint64_t disk_mib;
        /* A target outside the cluster (drsctl migrate --to-uri): the tunables of the policy's
         * migration.remote, fixed when the request is made. */
        bool remote;
        unsigned parallel_connections;
        MigrationCompression compression;
        uint64_t remote_bandwidth_mib_s; /* 0 = the policy's migration.bandwidth */
        /* A planned move: its wave and gain, for the journal (not kept by the executor). */
        unsigned wave;
        double gain;
} MigrationRequest;

/* What protected a migration's traffic (policy migration.tls; agent/hv/migration-tls.h decides). */
typedef enum MigrationEncryption {
        MIGRATION_ENCRYPTION_UNKNOWN = 0,    /* not decided (it did not get that far; older peers) */
        MIGRATION_ENCRYPTION_PLAIN,          /* migration.tls: false */
        MIGRATION_ENCRYPTION_TLS,            /* QEMU's migration stream over TLS (VIR_MIGRATE_TLS) */
        MIGRATION_ENCRYPTION_PLAIN_FALLBACK, /* migration.tls: auto, and an end has no migration TLS */
        _MIGRATION_ENCRYPTION_MAX,
} MigrationEncryption;

/* "unknown", "plain", "tls", "plain-fallback"; NULL when out of range. */
const char *migration_encryption_to_string(MigrationEncryption e);

typedef struct MigrationOutcome {
        MigrationResult result;
        char *message;         /* owned; libvirt's message or why it was skipped/aborted; NULL on success */
        uint64_t duration_ms;  /* wall time of the migration */
        uint64_t downtime_ms;  /* from the completed job stats; 0 if unknown */
        unsigned stall_steps;  /* downtime raises / auto-converge applied */
        unsigned disks_copied; /* copy_storage: disks copied with the memory */
        uint64_t disk_bytes;   /* their allocation on the source (what the copy moved) */
        bool source_storage_removed;
        MigrationEncryption encryption;
        /* owned; why plain-fallback ("'h3' has no migration TLS: …"); NULL otherwise */
        char *encryption_note;
} MigrationOutcome;

typedef void (*MigrationDone)(const MigrationRequest *req, const MigrationOutcome *o, void *userdata);

/* Progress of a running migration, for the journal and history (main thread). */
typedef enum MigrationEvent {
        MIGRATION_EVENT_STARTED,         /* precheck passed, migrate called; value = attempt (1, 2) */
        MIGRATION_EVENT_DOWNTIME_RAISED, /* stall: value = the new max downtime in ms */
        MIGRATION_EVENT_AUTO_CONVERGE,   /* stall with the schedule exhausted: retrying with auto-converge */
        MIGRATION_EVENT_ABORTING,        /* stall or timeout: aborting; detail says which */
        _MIGRATION_EVENT_MAX,
} MigrationEvent;

const char *migration_event_to_string(MigrationEvent e);

typedef void (*MigrationProgress)(
        const MigrationRequest *req, MigrationEvent ev, uint64_t value, const char *detail, void *userdata);

#define EXECUTOR_SHUTDOWN_GRACE_USEC (UINT64_C(5) * 1000000)
#define EXECUTOR_TLS_PROBE_TTL_USEC (UINT64_C(60) * 1000000)

typedef struct Executor Executor;

/* ops: the hypervisor boundary (hv_libvirt_ops, or a fake in tests). */
int executor_new(sd_event *e, const HvOps *ops, const Policy *policy, Executor **ret);
Executor *executor_free(Executor *x); /* NULL-safe; see above: never aborts a migration */
DEFINE_TRIVIAL_CLEANUP_FUNC(Executor *, executor_free);
/* Copies the limits and migration tunables: limits apply from the next dispatch (now), tunables
 * to migrations that start afterwards. -ENOMEM keeps the old ones. */
int executor_set_policy(Executor *x, const Policy *policy);
/* The directory the TLS probe lists on every host (drsd.yaml's migration_tls_dir; NULL =
 * HV_MIGRATION_TLS_DIR), for migrations that start afterwards; a change forgets what was
 * found. -ENOMEM keeps the old one. */
int executor_set_tls_dir(Executor *x, const char *dir);

/* Copies req; returns 0 when queued, -EBUSY when that VM already has a migration queued or running. */
int executor_submit(Executor *x, const MigrationRequest *req, MigrationDone done, void *userdata);
/* Drops queued (not yet started) requests for vm (NULL: all); their done callbacks run now with
 * MIGRATION_SKIPPED "cancelled before it started". Returns how many. Running ones continue. */
unsigned executor_cancel_queued(Executor *x, const char *vm);
/* Migrations running in libvirt without a job of this executor (adopted after a drsd restart,
 * or an operator's), by source host, one entry each: they count against the cluster limit and
 * their source's outgoing limit (their targets are not known). Replaces the previous list and
 * dispatches. -ENOMEM keeps the old one. */
int executor_set_foreign(Executor *x, char *const *sources);
/* The same for queued requests whose target is the host named target: a host that stops being
 * a valid target (maintenance, standby, draining) gets nothing queued before that. */
unsigned executor_cancel_queued_to(Executor *x, const char *target);
void executor_set_progress(Executor *x, MigrationProgress cb, void *userdata);
/* Tests: watcher poll interval (default 1 s), the timeout's floor (default 60 s), the shutdown
 * grace (default EXECUTOR_SHUTDOWN_GRACE_USEC). 0 leaves a value unchanged. */
void executor_set_timing(Executor *x, uint64_t poll_usec, uint64_t min_timeout_usec, uint64_t grace_usec);

/* A host's migration TLS as the executor's probe found it (HvOps.tls_probe: see hv.h for what it
 * looks at and what it cannot see). */
typedef enum MigrationTlsState {
        MIGRATION_TLS_STATE_UNKNOWN = 0, /* not probed, or the probe failed (why says so) */
        MIGRATION_TLS_STATE_YES,
        MIGRATION_TLS_STATE_NO, /* why says what is missing */
} MigrationTlsState;

typedef struct MigrationTlsHost {
        char *host; /* owned */
        MigrationTlsState state;
        char *why;             /* owned; NO: what is missing; UNKNOWN: why it could not be checked */
        uint64_t checked_usec; /* CLOCK_MONOTONIC of the probe; 0 = never */
} MigrationTlsHost;

void migration_tls_hosts_free(MigrationTlsHost *h, size_t n);

/* What the executor last found about each host's migration TLS (agent/hv/migration-tls.h; the
 * probe runs in a migration's pre-check, at most every EXECUTOR_TLS_PROBE_TTL_USEC per host),
 * in the order hosts were first probed. A copy: free with migration_tls_hosts_free(). */
int executor_tls_hosts(Executor *x, MigrationTlsHost **ret, size_t *ret_n);

unsigned executor_n_running(const Executor *x);
unsigned executor_n_queued(const Executor *x);
bool executor_vm_busy(const Executor *x, const char *vm);
/* The target host of vm's queued or running migration; NULL when none. Valid until the next
 * dispatch on the main thread. */
const char *executor_vm_target(const Executor *x, const char *vm);
