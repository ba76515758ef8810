/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An in-memory HvOps for tests: scripted hosts and domains, one process-wide instance
 * (hv_fake_reset() clears it). Thread-safe. Host NAME answers at "fake://NAME" (management)
 * and "fake-mig://NAME" (migration). A migration progresses by the watcher's job_info polls:
 * it completes after `polls` polls unless scripted to stall (remaining memory constant, dirty
 * rate above the transfer rate), fail, lose the VM, or hang (until aborted or released). The
 * fake counts what it was asked and the concurrency it saw. */

#include <stdbool.h>
#include <stdint.h>

#include "hv.h"

extern const HvOps hv_fake_ops;

void hv_fake_reset(void);
int hv_fake_add_host(const char *host, unsigned cpus, uint64_t memory_kib);
/* A running domain on host with cpu.time 0 and balloon stats (available = memory, unused = half). */
int hv_fake_add_domain(const char *host, const char *vm, uint64_t memory_kib);
/* cpu.time grows by cores × elapsed wall time from now on (0 = frozen). */
void hv_fake_set_cpu_rate(const char *vm, double cores);
void hv_fake_set_cpu_time(const char *vm, uint64_t ns);
/* A down host refuses connections; its existing connections are dead (is_alive false). */
void hv_fake_set_host_down(const char *host, bool down);

typedef struct HvFakeMigration {
        unsigned polls;                  /* job_info polls to complete; default 3 */
        bool stall;                      /* never converges */
        bool stall_unless_auto_converge; /* converges only with auto-converge on */
        const char *fail_message;        /* fails after fail_after_polls polls with this message */
        unsigned fail_after_polls;
        bool lose;                  /* "completes" but the VM vanishes from both hosts */
        bool hang;                  /* never completes by itself (abort or hv_fake_release_all) */
        const char *precheck_error; /* precheck fails with this */
        uint64_t downtime_ms;       /* reported by the completed job stats; default 42 */
        /* Storage: prepare_storage reports this many disks to copy (vda, vdb, …, 1 MiB each,
         * "created" on the target) or fails with prepare_error. */
        unsigned local_disks;
        const char *prepare_error;
} HvFakeMigration;

int hv_fake_script_migration(const char *vm, const HvFakeMigration *m);
/* Completes every hanging migration. */
void hv_fake_release_all(void);

#define HV_FAKE_MAX_DOWNTIMES 32

typedef struct HvFakeCounters {
        unsigned open_calls, open_conns, host_stats_calls, precheck_calls, migrate_calls, abort_calls;
        unsigned auto_converge_migrations; /* migrate calls with auto_converge */
        unsigned active_migrations;        /* migrate calls in progress */
        unsigned max_total;                /* most migrations at once */
        unsigned max_out_per_host, max_in_per_host;
        unsigned n_downtimes; /* set_max_downtime calls, values in order */
        uint64_t downtimes_ms[HV_FAKE_MAX_DOWNTIMES];
        unsigned prepare_calls;
        unsigned volumes_created;
        unsigned volumes_deleted[8];   /* by host, in the order hosts were added */
        unsigned copy_disk_migrations; /* migrate calls with copy_disks */
        unsigned last_copy_disks;      /* how many disks the last such call copied */
        unsigned tls_probe_calls;
        unsigned tls_migrations; /* migrate calls with tls */
} HvFakeCounters;

/* A host's migration TLS for tls_probe: 1 configured, 0 not (the default: "missing
 * ca-cert.pem, … in /etc/pki/qemu"), -1 the probe fails. */
void hv_fake_set_tls(const char *host, int tls);

void hv_fake_counters(HvFakeCounters *ret);
/* How many hosts run vm, and the (last) host it runs on (static string, or NULL). */
unsigned hv_fake_n_running(const char *vm, const char **ret_host);
/* open() calls for host so far. */
unsigned hv_fake_open_calls(const char *host);
