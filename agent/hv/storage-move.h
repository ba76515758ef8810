/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Live storage moves on one host (drsctl move-storage): each request runs on a worker thread
 * of its own with its own libvirt connection, moves the VM's disks one after another with
 * HvOps.block_copy (copy → mirror ready → pivot → verify → optionally remove the old volume)
 * and reports back on the sd-event thread. A failed disk stops the move: the disks moved
 * before it stay moved, that disk and the ones after it keep their volumes. At most one move
 * per VM at a time; the caller keeps migrations of a moving VM out (storage_mover_vm_busy).
 * storage_mover_free() never aborts a copy: it detaches the threads, and no callback runs
 * after it. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv.h"
#include "macro.h"

typedef struct StorageMoveRequest {
        const char *vm;
        const char *host; /* host name (for messages) */
        const char *uri;  /* its management URI */
        const char *pool; /* destination pool on that host */
        const char *disk; /* one disk target; NULL: every movable file disk */
        bool remove_source;
        bool force; /* skip the free-space check */
        uint64_t bandwidth_mib_s;
        uint64_t timeout_ms; /* per disk; 0 = 10 min */
} StorageMoveRequest;

typedef struct StorageMoveOutcome {
        int error;      /* 0 or negative errno of the failure */
        char *message;  /* owned; why it failed, NULL on success */
        char *warning;  /* owned; a problem after success (old volume kept), NULL when none */
        char **moved;   /* owned strv: "vda /old/path -> /new/path" per disk moved */
        uint64_t bytes; /* copied, over the moved disks */
        uint64_t duration_ms;
        bool source_removed; /* every moved disk's old volume was removed */
} StorageMoveOutcome;

typedef void (*StorageMoveDone)(const StorageMoveRequest *req, const StorageMoveOutcome *o, void *userdata);

typedef struct StorageMover StorageMover;

int storage_mover_new(sd_event *e, const HvOps *ops, StorageMover **ret);
StorageMover *storage_mover_free(StorageMover *m); /* NULL-safe */
DEFINE_TRIVIAL_CLEANUP_FUNC(StorageMover *, storage_mover_free);

/* Copies req and starts it now. -EBUSY when that VM has a move running, -EOPNOTSUPP when ops
 * has no block_copy. */
int storage_mover_submit(
        StorageMover *m, const StorageMoveRequest *req, StorageMoveDone done, void *userdata);
bool storage_mover_vm_busy(const StorageMover *m, const char *vm);
unsigned storage_mover_n_running(const StorageMover *m);
