/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a hypervisor reports, as plain data (pure: no libvirt, no threads): a host's sample
 * (HvHostStats, its domains' stats, disks and storage pools) and a migration job's stats
 * (HvJobInfo). The hypervisor side (agent/hv/hv.h: HvOps) produces them; the collector, the
 * leader's storage topology and the stall ladder here read them, and so does the simulator. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A file-backed disk of a running domain (VIR_DOMAIN_STATS_BLOCK). */
typedef struct HvDiskUse {
        char *path;                /* owned */
        uint64_t allocation_bytes; /* what a copy moves */
} HvDiskUse;

/* An active storage pool of a host. markers: the names of the zero-size ".drs-pool-…"
 * volumes in it — drs creates one in a pool that has none; a pool two hosts share shows both
 * hosts the same markers, which is how drs tells shared storage from look-alike local
 * directories (pools of a kind where volumes cannot be created have none: never shared). */
typedef struct HvPool {
        char *name;     /* owned */
        char *target;   /* owned; target directory, NULL when none */
        char **markers; /* owned strv, never NULL */
} HvPool;

#define HV_POOL_MARKER_PREFIX ".drs-pool-"

void hv_pools_free(HvPool *p, size_t n);
int hv_pools_copy(const HvPool *p, size_t n, HvPool **ret);
void hv_disk_uses_free(HvDiskUse *d, size_t n);
int hv_disk_uses_copy(const HvDiskUse *d, size_t n, HvDiskUse **ret);

/* How much of a VM's disks (in MiB, rounded up) only its own host sees: a disk counts unless
 * its pool on the own host (the pool whose target holds its path) shares a marker with a pool
 * of every other host given. A disk in no pool counts too. others[i] has n_others[i] pools. */
uint64_t hv_local_disk_mib(
        const HvDiskUse *disks, size_t n_disks, const HvPool *own, size_t n_own, const HvPool *const *others,
        const size_t *n_others, size_t n_hosts);

typedef struct HvDomainStats {
        char *name; /* owned */
        char uuid[37];
        bool running;
        unsigned vcpus;       /* current vCPUs */
        uint64_t memory_kib;  /* configured maximum (balloon.maximum / maxMemory) */
        uint64_t cpu_time_ns; /* cpu.time: restarts from 0 after a migration or restart */
        bool have_balloon;    /* the guest's balloon driver reports stats */
        uint64_t balloon_current_kib;
        uint64_t balloon_rss_kib;       /* QEMU process RSS: the demand fallback */
        uint64_t balloon_available_kib; /* guest-visible total */
        uint64_t balloon_unused_kib;    /* guest-free */
        uint64_t balloon_usable_kib;
        bool migrating;   /* an outgoing migration job is active (one job query per domain) */
        HvDiskUse *disks; /* owned array: its file-backed disks */
        size_t n_disks;
} HvDomainStats;

typedef struct HvHostStats {
        uint64_t t_usec;        /* CLOCK_MONOTONIC taken at the start of the call */
        unsigned cpus;          /* online logical CPUs (virNodeGetInfo) */
        uint64_t memory_kib;    /* physical memory */
        uint64_t free_kib;      /* virNodeGetMemoryStats free + buffers + cached where known */
        HvDomainStats *domains; /* owned array */
        size_t n_domains;
        HvPool *pools; /* owned array: active storage pools (their markers refreshed every few calls) */
        size_t n_pools;
} HvHostStats;

void hv_host_stats_done(HvHostStats *s); /* frees the contents; NULL-safe */
/* Deep copy (for handing a sample from a worker thread to the main thread). */
int hv_host_stats_copy(const HvHostStats *s, HvHostStats *ret);

/* The pool that holds a path, from pools' target directories: the index of the pool whose
 * target is the directory of path (exactly: a volume of a dir pool sits directly in it), or
 * -ENOENT. */
int hv_pool_for_path(const char *path, const char *const *pool_targets, size_t n_pools);

typedef enum HvJobType {
        HV_JOB_NONE,
        HV_JOB_RUNNING,
        HV_JOB_COMPLETED,
        HV_JOB_FAILED,
        HV_JOB_CANCELLED,
} HvJobType;

typedef struct HvJobInfo {
        HvJobType type;
        uint64_t time_elapsed_ms;
        uint64_t memory_total_bytes;
        uint64_t memory_processed_bytes;
        uint64_t memory_remaining_bytes;
        uint64_t memory_dirty_rate_pps; /* pages per second */
        uint64_t memory_page_size;
        uint64_t memory_bps; /* transfer rate, bytes per second */
        uint64_t memory_iteration;
        uint64_t downtime_ms; /* completed jobs: the real downtime */
        uint64_t setup_time_ms;
} HvJobInfo;
