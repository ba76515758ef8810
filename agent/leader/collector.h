/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The collector: turns periodic HvHostStats samples into per-host reports with smoothed
 * demands. Pure bookkeeping (no threads, no I/O): the manager feeds it samples that workers
 * collected, with the sample's own timestamp.
 *
 * CPU demand of a VM = Δcpu.time / Δt between consecutive samples (timestamped at call start);
 * a counter that went backwards (the VM migrated or restarted) restarts the series. Memory
 * demand = balloon available − unused when the guest reports it, else rss. Both are smoothed
 * with an EWMA and a short max window (the report uses max(ewma, recent peak) so a bursty VM
 * is not packed as if it were idle). A host that misses reports for `stale_after` is stale.
 *
 * A VM's series is kept by VM name across hosts: after a migration the rate restarts on the
 * new host (the counter restarted with the new QEMU), but the smoothed demands carry over, so
 * a VM that just moved is not seen as idle. A VM absent from every sample for 3 × stale_after
 * is forgotten. ewma_alpha in (0, 1] weighs the newest rate; peak_window = how many recent
 * rates the peak covers (0 = EWMA only). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv-types.h"

typedef struct VmReport {
        char *name; /* owned */
        unsigned vcpus;
        uint64_t memory_mib;        /* configured */
        double cpu_demand;          /* cores, smoothed; 0 until two samples exist */
        double cpu_demand_stable;   /* cores: what has held — the lowest of a 15-minute mean and the
                                       recent rates (<= cpu_demand); a move's gain must hold on it too */
        bool has_cpu_demand_stable; /* false: not known (a peer's report in cluster mode) */
        uint64_t memory_demand_mib; /* smoothed */
        bool migrating;
        char *migrating_to; /* owned; cluster mode: the target of the source's migration job, NULL = unknown
                             */
        HvDiskUse *disks;   /* owned array: its file-backed disks, from the last sample */
        size_t n_disks;
} VmReport;

typedef struct HostReport {
        char *name;      /* owned */
        uint64_t t_usec; /* CLOCK_MONOTONIC of the last good sample; 0 = never */
        unsigned cpus;
        uint64_t memory_mib;
        uint64_t free_mib; /* free + buffers + cached, from the last good sample */
        VmReport *vms;     /* owned array, sorted by name */
        size_t n_vms;
        char *last_error; /* owned; the last collection error, NULL after a good sample */
        HvPool *pools;    /* owned array: its active storage pools, from the last good sample */
        size_t n_pools;
} HostReport;

typedef struct Collector Collector;

int collector_new(double ewma_alpha, unsigned peak_window, uint64_t stale_after_usec, Collector **ret);
Collector *collector_free(Collector *c);

/* Feeds one host's sample (ownership of the stats' contents stays with the caller). */
int collector_feed(Collector *c, const char *host, const HvHostStats *s);
/* Records a failed collection of host at now_usec. */
int collector_feed_error(Collector *c, const char *host, const char *msg, uint64_t now_usec);

/* NULL when host was never fed. Valid until the next feed (a new host moves the others) or
 * removal of any host. */
const HostReport *collector_get(const Collector *c, const char *host);
/* Forgets a host (removed from the configuration). -ENOENT when unknown. */
int collector_remove_host(Collector *c, const char *host);
bool collector_host_is_stale(const Collector *c, const char *host, uint64_t now_usec);
