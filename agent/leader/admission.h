/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Admission: which queued migration may start now. The one rule both drsd's executor
 * (agent/hv/executor.c, which runs the admitted ones on threads) and the simulator (sim/, which
 * progresses them on its virtual clock) use:
 *
 *   - one migration per VM at a time (queued or running): a second one is refused (-EBUSY);
 *   - the queue is FIFO, but a request whose hosts are at their limits does not hold up a later
 *     one that fits: admission_next() hands out the first queued request that fits;
 *   - limits: migrations running in the cluster (limits.migrations_per_cluster), out of each
 *     source (migrations_out_per_host) and into each target (migrations_in_per_host); a limit of
 *     0 counts as 1. Foreign migrations (running in libvirt without a request here: adopted
 *     after a restart, or an operator's) count against the cluster limit and their source's
 *     outgoing limit (their targets are not known);
 *   - queued requests can be taken back (cancelled) by VM or by target.
 *
 * Pure bookkeeping: no threads, no I/O, no clock. Each request carries the caller's data
 * (borrowed): the executor's job, the simulator's job index. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
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

typedef struct AdmissionEntry {
        char *vm;     /* owned */
        char *source; /* owned; host names */
        char *target; /* owned */
        void *data;   /* borrowed: the caller's */
} AdmissionEntry;

typedef struct Admission {
        unsigned max_cluster, max_out, max_in; /* from LimitsPolicy, at least 1 each */
        AdmissionEntry *queued;                /* owned array, FIFO */
        size_t n_queued;
        AdmissionEntry *running; /* owned array, in the order they started */
        size_t n_running;
        char **foreign; /* owned strv: the source of each foreign migration */
} Admission;

/* A zeroed Admission is valid (limits of 1). */
void admission_done(Admission *a);
void admission_set_limits(Admission *a, const LimitsPolicy *limits);
/* Replaces the list of foreign migrations (one source host per migration). -ENOMEM keeps the old one. */
int admission_set_foreign(Admission *a, char *const *sources);

/* Queues a request. -EINVAL when source and target are the same host, -EBUSY when vm already
 * has a request queued or running, -ENOMEM. */
int admission_submit(Admission *a, const char *vm, const char *source, const char *target, void *data);
/* The first queued request that fits the limits now, moved to the running ones: true and its
 * data in *ret_data; false when none fits (or on -ENOMEM: retried at the next call). */
bool admission_next(Admission *a, void **ret_data);
/* A running request ended (its data). false when it is not running. */
bool admission_finish(Admission *a, void *data);
/* Takes back the first queued request of vm (NULL: any) to target (NULL: any), in FIFO order:
 * true and its data in *ret_data; false when there is none. */
bool admission_take_queued(Admission *a, const char *vm, const char *target, void **ret_data);

bool admission_vm_busy(const Admission *a, const char *vm);
/* The target of vm's queued or running request; NULL when none. Valid until the next change. */
const char *admission_vm_target(const Admission *a, const char *vm);
/* Running requests (not counting foreign ones) from source (NULL: any) or into target (NULL: any);
 * both NULL: all. */
unsigned admission_n_running(const Admission *a, const char *source, const char *target);
unsigned admission_n_queued(const Admission *a);
