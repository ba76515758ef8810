/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hypervisor boundary: everything drsd asks of a libvirt host goes through HvOps, so unit
 * tests (and later the simulator) substitute a fake — the real implementation is hv-libvirt.c,
 * the only file besides the libvirt event thread that includes libvirt headers.
 *
 * Every call is blocking and may take seconds: drsd only calls them from worker threads
 * (agent/hv/worker.[ch]), never from the sd-event main thread. An HvConn belongs to one thread at
 * a time. Errors: negative errno, with *reterr_msg (newly allocated, libvirt's message) when not
 * NULL.
 *
 * hv_libvirt_ops needs libvirt's event loop (agent/hv/virt-event.h: virt_event_start()) running
 * before the first open(): keepalive (5 s, 3 missed) and the close callback that makes
 * is_alive() false depend on it; open() fails with -ENOTCONN when it is not running. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hv-types.h"

typedef struct HvConn HvConn; /* opaque, implementation-defined */

/* CLOCK_MONOTONIC in µs: the clock of HvHostStats.t_usec and of the collector. */
uint64_t hv_now_usec(void);

/* What precheck needs from a domain's XML (virDomainGetXMLDesc), parsed with domxml.h's scanner
 * (pure; no libxml2): libvirt writes this XML itself, regular and well-formed. */
/* One <disk type='file'> of <devices> that has a <source file=…>. */
typedef struct HvDisk {
        char *target;   /* owned; <target dev=…> ("vda"); NULL when absent */
        char *path;     /* owned; <source file=…> */
        char *format;   /* owned; <driver type=…> ("qcow2", "raw"); NULL when absent */
        char *device;   /* owned; the device attribute ("disk", "cdrom"); NULL when absent */
        char *cache;    /* owned; <driver cache=…> ("none", "writeback"); NULL when absent */
        bool readonly;  /* <readonly/> */
        bool shareable; /* <shareable/> */
} HvDisk;

typedef struct HvDomainXml {
        char *type;        /* owned; <domain type=…>: "kvm", "qemu" */
        char *cpu_xml;     /* owned; the <cpu>…</cpu> element verbatim; NULL when absent */
        char *cpu_mode;    /* owned; its mode attribute; NULL when absent */
        char **networks;   /* owned strv, never NULL: <interface type='network'><source network=…> */
        char **file_disks; /* owned strv, never NULL: <disk type='file'><source file=…> */
        HvDisk *disks;     /* owned array: the file disks with their details, in document order */
        size_t n_disks;
} HvDomainXml;

/* Writes s (NULL: nothing) to f with the five XML entities escaped (volume XML here, the
 * simulator's SVG). */
void hv_xml_escape(FILE *f, const char *s);

void hv_domain_xml_done(HvDomainXml *x);
/* -EBADMSG when xml is not a <domain> document the scanner understands. */
int hv_domain_xml_parse(const char *xml, HvDomainXml *ret);
/* Whether the disk is one drs copies or moves: a writable, not shareable disk device (a
 * cdrom's or a read-only image's content is not the VM's state). */
bool hv_disk_is_movable(const HvDisk *d);

/* libvirt XML that drs writes (pure; values are escaped):
 *   hv_volume_xml: a storage volume NAME of CAPACITY bytes in FORMAT (NULL: raw) for
 *     virStorageVolCreateXML;
 *   hv_copy_dest_xml: the destination of a block copy, <disk type='file'> with the path and
 *     its format, for virDomainBlockCopy. */
int hv_volume_xml(const char *name, uint64_t capacity_bytes, const char *format, char **ret);
int hv_copy_dest_xml(const char *path, const char *format, char **ret);

typedef struct HvMigrateParams {
        const char *dest_uri; /* migration URI of the destination (dialled by the source libvirtd, p2p) */
        uint64_t bandwidth_mib_s; /* 0 = unlimited */
        uint64_t max_downtime_ms; /* informational: libvirt has no migration parameter for it; the executor's
                                     watcher sets it with set_max_downtime() once the job runs */
        bool tls;
        bool auto_converge; /* start with auto-converge on (normally off; turned on by stall handling via a
                               retry) */
        bool post_copy;
        /* Copy these disks (targets, "vda") over NBD with the memory (VIR_MIGRATE_NON_SHARED_DISK
         * with migrate_disks); NULL or empty: no disk is copied. The volumes must exist on the
         * destination (prepare_storage). */
        char *const *copy_disks;
        /* Every disk not copied was proven shared with the destination (prepare_storage's probe)
         * and is not cached by the host: migrate even when libvirt cannot tell that the
         * filesystem is shared (VIR_MIGRATE_UNSAFE; libvirt's check is its filesystem type). */
        bool shared_disks_proven;
        /* Long distances: more than 1 = VIR_MIGRATE_PARALLEL with that many connections;
         * compression NULL or "none", else VIR_MIGRATE_COMPRESSED with that method. */
        unsigned parallel_connections;
        const char *compression;
} HvMigrateParams;

/* What prepare_storage did on the destination for a migration with disk copy. */
typedef struct HvStoragePrep {
        char **disks;         /* owned strv, never NULL after success: targets to copy */
        char **source_paths;  /* owned strv: their volumes on the source (same index) */
        char **created;       /* owned strv: volumes created on the destination (for a rollback) */
        char **shared;        /* owned strv: disks the destination sees already (shared storage) */
        bool shared_uncached; /* there are shared disks, and every one has cache none or directsync */
        uint64_t bytes;       /* allocation of the source volumes to copy, in bytes */
} HvStoragePrep;

void hv_storage_prep_done(HvStoragePrep *p);

typedef struct HvBlockCopyParams {
        const char *disk; /* the disk's target ("vda") */
        const char *pool; /* the destination pool, on the same host */
        bool force;       /* skip the free-space check (thin pools) */
        bool remove_source;
        uint64_t bandwidth_mib_s; /* 0 = unlimited */
        uint64_t timeout_ms;      /* for the copy to become ready */
} HvBlockCopyParams;

typedef struct HvBlockCopyResult {
        char *old_path; /* owned */
        char *new_path; /* owned */
        uint64_t bytes; /* the copy job's total (its end offset when it was ready) */
        bool source_removed;
        char *warning; /* owned; e.g. the old volume could not be removed; NULL when none */
} HvBlockCopyResult;

void hv_block_copy_result_done(HvBlockCopyResult *r);

/* Migration TLS on a host, as tls_probe sees it. HV_MIGRATION_TLS_DIR: libvirt's default for
 * qemu.conf's default_tls_x509_cert_dir, which migrate_tls_x509_cert_dir defaults to. */
#define HV_MIGRATION_TLS_DIR "/etc/pki/qemu"

typedef struct HvTlsProbe {
        bool configured;
        char *missing; /* owned; when not configured: "no directory /etc/pki/qemu" or
                          "missing ca-cert.pem, server-key.pem in /etc/pki/qemu" */
} HvTlsProbe;

void hv_tls_probe_done(HvTlsProbe *p);

typedef struct HvOps {
        int (*open)(const char *uri, HvConn **ret, char **reterr_msg);
        void (*close)(HvConn *c);
        bool (*is_alive)(HvConn *c);
        /* One virConnectGetAllDomainStats(STATE|CPU_TOTAL|BALLOON|VCPU, RUNNING|NOWAIT) plus
         * node info and memory stats, and a job query per domain for `migrating`. t_usec is
         * taken at the start. On error *ret is untouched. */
        int (*host_stats)(HvConn *c, HvHostStats *ret, char **reterr_msg);
        /* Pre-checks on the destination: the domain's CPU is compatible
         * (virConnectCompareHypervisorCPU with the <cpu> of the domain's XML; no <cpu>, as TCG
         * guests, or host-passthrough: compatible — libvirt checks again when migrating), its
         * networks exist and are active there, its file disks are known volumes there
         * (virStorageVolLookupByPath), enough free memory (free ≥ the VM's maximum memory).
         * -EHOSTUNREACH/-ENOENT/-ENOSPC/-EXDEV with the reason in *reterr_msg when it fails. */
        int (*precheck)(HvConn *src, HvConn *dst, const char *vm, char **reterr_msg);
        /* Migration TLS (NULL in implementations without it: the executor treats the host as
         * unknown). Lists dir (NULL: HV_MIGRATION_TLS_DIR; drsd.yaml's migration_tls_dir, an
         * absolute path of letters, digits and /._-+) as the host's libvirtd sees it, through a
         * transient dir storage pool that it destroys again (an active pool already at that
         * directory is used instead), and calls the host configured when ca-cert.pem,
         * server-cert.pem, server-key.pem, client-cert.pem and client-key.pem are all there (a
         * host is a migration's source and destination in turn). It does not read qemu.conf (a
         * host whose migration cert dir is not dir reads as not configured), nor check that the
         * certificates are valid, unexpired, from the peer's CA, or name the host's migration
         * address: libvirt (QEMU) fails such a TLS migration, and the VM stays on the source. */
        int (*tls_probe)(HvConn *c, const char *dir, HvTlsProbe *ret, char **reterr_msg);
        /* virDomainMigrateToURI3 LIVE|PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE|ABORT_ON_ERROR
         * (+TLS, +AUTO_CONVERGE, +POSTCOPY per params); blocks until the migration ends. */
        int (*migrate)(HvConn *src, const char *vm, const HvMigrateParams *p, char **reterr_msg);
        /* Job stats of the domain's current job (or the completed one with completed=true; after
         * a p2p migration with UNDEFINE_SOURCE ask the destination). */
        int (*job_info)(HvConn *c, const char *vm, bool completed, HvJobInfo *ret, char **reterr_msg);
        int (*set_max_downtime)(HvConn *c, const char *vm, uint64_t ms, char **reterr_msg);
        int (*abort_job)(HvConn *c, const char *vm, char **reterr_msg);
        /* Whether the domain is defined / running on this host. */
        int (*domain_state)(
                HvConn *c, const char *vm, bool *ret_exists, bool *ret_running, char **reterr_msg);

        /* Storage (NULL in implementations without it: -EOPNOTSUPP). */

        /* For a migration without shared storage: for each movable file disk of the VM (live
         * XML), finds out whether dst sees the same file (a probe volume created in the disk's
         * pool on src, looked up through dst's pool at that directory after a refresh); when
         * not, creates the volume on dst in the pool at the same directory (the disk keeps its
         * path), with the source volume's capacity and the disk's format. -ENOENT when dst has
         * no pool at that directory, -EEXIST when dst has an unrelated volume at the path. On
         * failure it deletes what it created. */
        int (*prepare_storage)(
                HvConn *src, HvConn *dst, const char *vm, HvStoragePrep *ret, char **reterr_msg);
        int (*delete_volume)(HvConn *c, const char *path, char **reterr_msg);
        /* The targets of the VM's movable file disks (live XML), in document order. */
        int (*domain_disks)(HvConn *c, const char *vm, char ***ret_targets, char **reterr_msg);
        /* Live storage move of one disk on the host: creates the volume (same name, capacity,
         * format) in p->pool, checks its free space against the source's allocation (unless
         * force), virDomainBlockCopy (REUSE_EXT, TRANSIENT_JOB) to it, waits until the mirror is
         * ready, pivots, verifies that the live and (for a persistent VM) the persistent
         * definition use the new volume, then removes the old volume if asked. On failure it
         * aborts the copy, deletes the new volume, and the VM keeps its original disk. */
        int (*block_copy)(
                HvConn *c, const char *vm, const HvBlockCopyParams *p, HvBlockCopyResult *ret,
                char **reterr_msg);
} HvOps;

/* The real libvirt implementation. */
extern const HvOps hv_libvirt_ops;
