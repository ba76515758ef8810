/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* HvOps over libvirt: the only file besides virt-event.c that includes libvirt headers. Every
 * function blocks (a libvirt RPC or several) and runs on a worker thread. Errors carry
 * libvirt's own message (virGetLastErrorMessage(), thread-local); libvirt's printing error
 * handler is replaced by a silent one when the event loop is registered (virt-event.c). */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "hv.h"
#include "macro.h"
#include "virt-event.h"

struct HvConn {
        virConnectPtr conn;
        atomic_bool dead; /* set by the close callback, on libvirt's event thread */
        bool close_cb;    /* registered */
        unsigned n_stats; /* host_stats calls: pools are rescanned every POOL_REFRESH_EVERY */
        HvPool *pools;    /* owned; the last scan, handed out (copied) in between */
        size_t n_pools;
};

#define POOL_REFRESH_EVERY 6
/* The TLS probe's transient pools (hv_tls_probe): never scanned, never given a marker. */
#define TLS_PROBE_POOL_PREFIX "drs-tls-probe-"

static int scan_pools(HvConn *c, bool refresh, HvPool **ret, size_t *ret_n);

static inline void virDomainFreep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}
static inline void virNetworkFreep(virNetworkPtr *n) {
        if (*n)
                virNetworkFree(*n);
}
static inline void virStorageVolFreep(virStorageVolPtr *v) {
        if (*v)
                virStorageVolFree(*v);
}

/* libvirt's error code as a negative errno. */
static int last_error_errno(void) {
        virErrorPtr e = virGetLastError();

        if (!e)
                return -EIO;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_NETWORK:
        case VIR_ERR_NO_STORAGE_VOL:
                return -ENOENT;
        case VIR_ERR_OPERATION_ABORTED:
                return -ECANCELED;
        case VIR_ERR_OPERATION_TIMEOUT:
                return -ETIMEDOUT;
        case VIR_ERR_NO_MEMORY:
                return -ENOMEM;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_OPERATION_DENIED:
                return -EACCES;
        case VIR_ERR_OPERATION_INVALID:
                return -EINVAL;
        case VIR_ERR_SYSTEM_ERROR:
        case VIR_ERR_RPC:
                return -ECOMM;
        default:
                return -EIO;
        }
}

/* Returns libvirt's error as -errno and its message in *reterr_msg. */
static int fail_libvirt(char **reterr_msg) {
        int r = last_error_errno();

        if (reterr_msg)
                *reterr_msg = strdup(virGetLastErrorMessage());
        return r;
}

_printf_(3, 4) static int fail_msg(int r, char **reterr_msg, const char *fmt, ...) {
        va_list ap;

        if (reterr_msg) {
                char *m = NULL;
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
                *reterr_msg = m;
        }
        return r;
}

static void close_cb(virConnectPtr conn, int reason, void *opaque) {
        HvConn *c = opaque;

        atomic_store(&c->dead, true);
}

static void hv_close(HvConn *c) {
        if (!c)
                return;
        if (c->conn) {
                if (c->close_cb)
                        (void) virConnectUnregisterCloseCallback(c->conn, close_cb);
                (void) virConnectClose(c->conn);
        }
        hv_pools_free(c->pools, c->n_pools);
        free(c);
}

static int hv_open(const char *uri, HvConn **ret, char **reterr_msg) {
        HvConn *c;
        int r;

        if (!virt_event_is_running())
                return fail_msg(-ENOTCONN, reterr_msg, "libvirt's event loop is not running");
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->conn = virConnectOpen(uri);
        if (!c->conn) {
                r = fail_libvirt(reterr_msg);
                free(c);
                return r;
        }
        /* 5 s interval, 3 unanswered: a dead peer closes the connection after ~15 s. 1 = the
         * driver has no keepalive (local drivers): fine. */
        if (virConnectSetKeepAlive(c->conn, 5, 3) < 0 ||
            virConnectRegisterCloseCallback(c->conn, close_cb, c, NULL) < 0) {
                r = fail_libvirt(reterr_msg);
                hv_close(c);
                return r;
        }
        c->close_cb = true;
        *ret = c;
        return 0;
}

static bool hv_is_alive(HvConn *c) {
        return c && c->conn && !atomic_load(&c->dead) && virConnectIsAlive(c->conn) == 1;
}

/* Free memory (free + buffers + cached) from the node's memory stats, and their total
 * (/proc/meminfo's MemTotal on Linux; 0 when not reported). */
static uint64_t node_free_kib(virConnectPtr conn, uint64_t *ret_total_kib, bool *ret_ok) {
        _cleanup_free_ virNodeMemoryStatsPtr params = NULL;
        int n = 0;
        uint64_t free_kib = 0, total_kib = 0;
        bool found = false;

        if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 && n > 0 &&
            n < 64) {
                params = calloc((size_t) n, sizeof(virNodeMemoryStats));
                if (params &&
                    virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, params, &n, 0) == 0) {
                        for (int i = 0; i < n; i++) {
                                if (streq(params[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
                                    streq(params[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
                                    streq(params[i].field, VIR_NODE_MEMORY_STATS_CACHED)) {
                                        free_kib += params[i].value;
                                        found = true;
                                } else if (streq(params[i].field, VIR_NODE_MEMORY_STATS_TOTAL))
                                        total_kib = params[i].value;
                        }
                }
        }
        if (!found) {
                unsigned long long b = virNodeGetFreeMemory(conn);
                if (b > 0) {
                        free_kib = b / 1024;
                        found = true;
                }
        }
        if (ret_total_kib)
                *ret_total_kib = total_kib;
        *ret_ok = found;
        return free_kib;
}

static uint64_t get_ull(virTypedParameterPtr p, int n, const char *name, bool *ret_found) {
        unsigned long long v = 0;
        int r = virTypedParamsGetULLong(p, n, name, &v);

        if (ret_found)
                *ret_found = r == 1;
        return r == 1 ? v : 0;
}

/* Whether dom has an outgoing migration job now. */
static bool domain_migrating_out(virDomainPtr dom) {
        virTypedParameterPtr p = NULL;
        int n = 0, type = VIR_DOMAIN_JOB_NONE, op = 0;
        bool out = false;

        if (virDomainGetJobStats(dom, &type, &p, &n, 0) < 0)
                return false;
        if (type == VIR_DOMAIN_JOB_BOUNDED || type == VIR_DOMAIN_JOB_UNBOUNDED)
                out = virTypedParamsGetInt(p, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
                      op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
        virTypedParamsFree(p, n);
        return out;
}

/* The file-backed disks of a stats record (block.N.path, block.N.allocation). */
static int block_uses(virDomainStatsRecordPtr rec, HvDiskUse **ret, size_t *ret_n) {
        unsigned count = 0;
        HvDiskUse *d = NULL;
        size_t n = 0;

        if (virTypedParamsGetUInt(rec->params, rec->nparams, "block.count", &count) != 1 || count == 0 ||
            count > 256)
                return 0;
        d = calloc(count, sizeof(HvDiskUse));
        if (!d)
                return -ENOMEM;
        for (unsigned i = 0; i < count; i++) {
                char key[64];
                const char *path = NULL;

                (void) snprintf(key, sizeof(key), "block.%u.path", i);
                if (virTypedParamsGetString(rec->params, rec->nparams, key, &path) != 1 || !path ||
                    path[0] != '/')
                        continue;
                d[n].path = strdup(path);
                if (!d[n].path) {
                        hv_disk_uses_free(d, n);
                        return -ENOMEM;
                }
                (void) snprintf(key, sizeof(key), "block.%u.allocation", i);
                d[n].allocation_bytes = get_ull(rec->params, rec->nparams, key, NULL);
                n++;
        }
        if (n == 0) {
                free(d);
                return 0;
        }
        *ret = d;
        *ret_n = n;
        return 0;
}

static int hv_host_stats(HvConn *c, HvHostStats *ret, char **reterr_msg) {
        _cleanup_(hv_host_stats_done) HvHostStats s = {};
        virDomainStatsRecordPtr *records = NULL;
        virNodeInfo info;
        uint64_t total_kib = 0;
        bool ok;
        int n, r = 0;

        s.t_usec = hv_now_usec();
        if (virNodeGetInfo(c->conn, &info) < 0)
                return fail_libvirt(reterr_msg);
        s.cpus = info.cpus;
        s.memory_kib = info.memory;
        s.free_kib = node_free_kib(c->conn, &total_kib, &ok);
        /* virNodeGetInfo sums the NUMA nodes' memory; where memory was hot-added outside any
         * node (seen on cloud VMs: node0 8 GiB, MemTotal 24 GiB) the stats' total is the real
         * one. */
        if (total_kib > s.memory_kib)
                s.memory_kib = total_kib;
        if (s.free_kib > s.memory_kib)
                s.free_kib = s.memory_kib;

        n = virConnectGetAllDomainStats(
                c->conn,
                VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                        VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK,
                &records,
                VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING | VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (n < 0)
                return fail_libvirt(reterr_msg);
        if (n > 0) {
                s.domains = calloc((size_t) n, sizeof(HvDomainStats));
                if (!s.domains) {
                        virDomainStatsRecordListFree(records);
                        return -ENOMEM;
                }
        }
        for (int i = 0; i < n; i++) {
                virDomainStatsRecordPtr rec = records[i];
                HvDomainStats *d = &s.domains[s.n_domains];
                const char *name = virDomainGetName(rec->dom);
                bool have_max, have_avail, have_unused;
                int state = 0;
                unsigned vcpus = 0;

                if (!name)
                        continue;
                d->name = strdup(name);
                if (!d->name) {
                        r = -ENOMEM;
                        break;
                }
                s.n_domains++;
                if (virDomainGetUUIDString(rec->dom, d->uuid) < 0)
                        d->uuid[0] = 0;
                if (virTypedParamsGetInt(rec->params, rec->nparams, "state.state", &state) == 1)
                        d->running = state == VIR_DOMAIN_RUNNING;
                else
                        d->running = true; /* asked for running domains only */
                if (virTypedParamsGetUInt(rec->params, rec->nparams, "vcpu.current", &vcpus) == 1)
                        d->vcpus = vcpus;
                d->cpu_time_ns = get_ull(rec->params, rec->nparams, "cpu.time", NULL);
                d->memory_kib = get_ull(rec->params, rec->nparams, "balloon.maximum", &have_max);
                if (!have_max) {
                        unsigned long m = virDomainGetMaxMemory(rec->dom);
                        d->memory_kib = m;
                }
                d->balloon_current_kib = get_ull(rec->params, rec->nparams, "balloon.current", NULL);
                d->balloon_rss_kib = get_ull(rec->params, rec->nparams, "balloon.rss", NULL);
                d->balloon_available_kib =
                        get_ull(rec->params, rec->nparams, "balloon.available", &have_avail);
                d->balloon_unused_kib = get_ull(rec->params, rec->nparams, "balloon.unused", &have_unused);
                d->balloon_usable_kib = get_ull(rec->params, rec->nparams, "balloon.usable", NULL);
                d->have_balloon = have_avail && have_unused && d->balloon_available_kib > 0;
                d->migrating = domain_migrating_out(rec->dom);
                r = block_uses(rec, &d->disks, &d->n_disks);
                if (r < 0)
                        break;
        }
        virDomainStatsRecordListFree(records);
        if (r < 0)
                return r;
        /* Storage topology is best effort (a host without pools still reports), and slow to
         * change: pools are listed, refreshed and their markers read every few samples. */
        if (c->n_stats % POOL_REFRESH_EVERY == 0) {
                HvPool *pools = NULL;
                size_t n_pools = 0;
                if (scan_pools(c, true, &pools, &n_pools) >= 0) {
                        hv_pools_free(c->pools, c->n_pools);
                        c->pools = pools;
                        c->n_pools = n_pools;
                }
        }
        c->n_stats++;
        if (c->n_pools > 0 && hv_pools_copy(c->pools, c->n_pools, &s.pools) >= 0)
                s.n_pools = c->n_pools;
        *ret = s;
        s = (HvHostStats){};
        return 0;
}

static int lookup(HvConn *c, const char *vm, virDomainPtr *ret, char **reterr_msg) {
        virDomainPtr d = virDomainLookupByName(c->conn, vm);

        if (!d)
                return fail_libvirt(reterr_msg);
        *ret = d;
        return 0;
}

static int hv_precheck(HvConn *src, HvConn *dst, const char *vm, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_free_ char *xml = NULL;
        unsigned long max_kib;
        uint64_t free_kib;
        bool ok;
        int r;

        r = lookup(src, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE);
        if (!xml)
                return fail_libvirt(reterr_msg);
        r = hv_domain_xml_parse(xml, &x);
        if (r < 0)
                return fail_msg(r, reterr_msg, "cannot read the XML of '%s'", vm);

        /* CPU: host-passthrough and maximum copy the host CPU and cannot be compared as a model;
         * libvirt checks them again when the migration starts. No <cpu> (TCG guests):
         * compatible. */
        if (x.cpu_xml && !streq_ptr(x.cpu_mode, "host-passthrough") && !streq_ptr(x.cpu_mode, "maximum")) {
                r = virConnectCompareHypervisorCPU(dst->conn, NULL, NULL, NULL, x.type, x.cpu_xml, 0);
                if (r < 0) {
                        _cleanup_free_ char *m = NULL;
                        r = fail_libvirt(&m);
                        return fail_msg(
                                r, reterr_msg, "cannot compare the CPU of '%s' on the destination: %s", vm,
                                m ? m : "unknown error");
                }
                if (r == VIR_CPU_COMPARE_INCOMPATIBLE)
                        return fail_msg(
                                -EXDEV, reterr_msg, "the CPU of '%s' is not compatible with the destination",
                                vm);
        }

        for (char **n = x.networks; n && *n; n++) {
                _cleanup_(virNetworkFreep) virNetworkPtr net = virNetworkLookupByName(dst->conn, *n);
                if (!net)
                        return fail_msg(
                                -ENOENT, reterr_msg, "network '%s' does not exist on the destination", *n);
                if (virNetworkIsActive(net) != 1)
                        return fail_msg(
                                -ENOENT, reterr_msg, "network '%s' is not active on the destination", *n);
        }

        for (char **p = x.file_disks; p && *p; p++) {
                _cleanup_(virStorageVolFreep) virStorageVolPtr vol =
                        virStorageVolLookupByPath(dst->conn, *p);
                if (!vol)
                        return fail_msg(
                                -ENOENT, reterr_msg, "disk '%s' is not a storage volume on the destination",
                                *p);
        }

        max_kib = virDomainGetMaxMemory(dom);
        if (max_kib == 0)
                return fail_libvirt(reterr_msg);
        free_kib = node_free_kib(dst->conn, NULL, &ok);
        if (!ok)
                return fail_libvirt(reterr_msg);
        if (free_kib < max_kib)
                return fail_msg(
                        -ENOSPC, reterr_msg, "the destination has %" PRIu64 " MiB free, '%s' needs %lu MiB",
                        free_kib / 1024, vm, max_kib / 1024);
        return 0;
}

/* ---- storage ------------------------------------------------------------------------------ */

static inline void virStoragePoolFreep(virStoragePoolPtr *p) {
        if (*p)
                virStoragePoolFree(*p);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};
        (void) nanosleep(&ts, NULL);
}

/* The pool's target directory (from its XML). */
static int pool_target(virStoragePoolPtr pool, char **ret) {
        _cleanup_free_ char *xml = virStoragePoolGetXMLDesc(pool, 0);
        int r;

        if (!xml)
                return last_error_errno();
        r = domxml_text(xml, "pool/target/path", ret);
        if (r == 0)
                return -ENOENT;
        return r < 0 ? r : 0;
}

/* The active pool of c whose target directory holds path, or -ENOENT. */
static int pool_at_dir(HvConn *c, const char *path, virStoragePoolPtr *ret) {
        virStoragePoolPtr *pools = NULL;
        int n, found = -ENOENT;

        n = virConnectListAllStoragePools(c->conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
        if (n < 0)
                return last_error_errno();
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *t = NULL;
                const char *tv[1];

                if (found >= 0 || pool_target(pools[i], &t) < 0) {
                        virStoragePoolFree(pools[i]);
                        continue;
                }
                tv[0] = t;
                if (hv_pool_for_path(path, tv, 1) == 0) {
                        *ret = pools[i];
                        found = 0;
                } else
                        virStoragePoolFree(pools[i]);
        }
        free(pools);
        return found;
}

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

/* Whether dst sees the file of src_vol (in src_pool): a probe volume created next to it on src
 * is looked up on dst after refreshing dst_pool. */
static int same_storage(
        virStoragePoolPtr src_pool, HvConn *dst, virStoragePoolPtr dst_pool, const char *dir,
        bool *ret_shared) {
        _cleanup_(virStorageVolFreep) virStorageVolPtr probe = NULL;
        _cleanup_free_ char *name = NULL, *xml = NULL, *path = NULL;
        uint64_t rnd = hv_now_usec() ^ ((uint64_t) (uintptr_t) &probe << 16);
        int r;

        if (asprintf(&name, ".drs-probe-%016" PRIx64, rnd) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = hv_volume_xml(name, 0, "raw", &xml);
        if (r < 0)
                return r;
        probe = virStorageVolCreateXML(src_pool, xml, 0);
        if (!probe)
                return last_error_errno();
        if (virStoragePoolRefresh(dst_pool, 0) < 0) {
                r = last_error_errno();
                (void) virStorageVolDelete(probe, 0);
                return r;
        }
        {
                _cleanup_(virStorageVolFreep) virStorageVolPtr seen =
                        virStorageVolLookupByPath(dst->conn, path);
                *ret_shared = seen != NULL;
        }
        (void) virStorageVolDelete(probe, 0);
        (void) virStoragePoolRefresh(dst_pool, 0);
        return 0;
}

/* Active pools with their markers; creates a marker in a pool that has none. */
static int scan_pools(HvConn *c, bool refresh, HvPool **ret, size_t *ret_n) {
        virStoragePoolPtr *pools = NULL;
        HvPool *out = NULL;
        size_t n_out = 0;
        int n, r = 0;

        n = virConnectListAllStoragePools(c->conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
        if (n < 0)
                return last_error_errno();
        if (n > 0) {
                out = calloc((size_t) n, sizeof(HvPool));
                if (!out)
                        r = -ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                virStorageVolPtr *vols = NULL;
                HvPool *p = &out[n_out];
                int nv;

                const char *pn = virStoragePoolGetName(pools[i]);
                /* A TLS probe's pool (lives for a few RPCs): not storage, and no marker file may
                 * be written into a certificate directory. */
                if (r < 0 ||
                    (pn && strncmp(pn, TLS_PROBE_POOL_PREFIX, strlen(TLS_PROBE_POOL_PREFIX)) == 0)) {
                        virStoragePoolFree(pools[i]);
                        continue;
                }
                p->name = strdup(pn ?: "");
                p->markers = calloc(1, sizeof(char *));
                if (!p->name || !p->markers) {
                        r = -ENOMEM;
                        virStoragePoolFree(pools[i]);
                        continue;
                }
                n_out++;
                (void) pool_target(pools[i], &p->target);
                if (refresh)
                        (void) virStoragePoolRefresh(pools[i], 0);
                nv = virStoragePoolListAllVolumes(pools[i], &vols, 0);
                for (int k = 0; k < nv; k++) {
                        const char *vn = virStorageVolGetName(vols[k]);
                        if (r >= 0 && vn &&
                            strncmp(vn, HV_POOL_MARKER_PREFIX, strlen(HV_POOL_MARKER_PREFIX)) == 0 &&
                            strv_extend(&p->markers, vn) < 0)
                                r = -ENOMEM;
                        virStorageVolFree(vols[k]);
                }
                free(vols);
                if (r >= 0 && nv >= 0 && strv_length(p->markers) == 0) {
                        _cleanup_free_ char *name = NULL, *xml = NULL;
                        uint64_t rnd = hv_now_usec() ^ ((uint64_t) (uintptr_t) p << 20) ^ (uint64_t) i;
                        _cleanup_(virStorageVolFreep) virStorageVolPtr v = NULL;

                        if (asprintf(&name, "%s%016" PRIx64, HV_POOL_MARKER_PREFIX, rnd) < 0)
                                name = NULL;
                        if (name && hv_volume_xml(name, 0, "raw", &xml) == 0) {
                                v = virStorageVolCreateXML(pools[i], xml, 0);
                                if (v && strv_extend(&p->markers, name) < 0)
                                        r = -ENOMEM;
                        }
                }
                virStoragePoolFree(pools[i]);
        }
        free(pools);
        if (r < 0) {
                hv_pools_free(out, n_out);
                return r;
        }
        *ret = out;
        *ret_n = n_out;
        return 0;
}

static int delete_path(HvConn *c, const char *path) {
        _cleanup_(virStorageVolFreep) virStorageVolPtr v = virStorageVolLookupByPath(c->conn, path);

        if (!v || virStorageVolDelete(v, 0) < 0)
                return last_error_errno();
        return 0;
}

static int hv_delete_volume(HvConn *c, const char *path, char **reterr_msg) {
        if (delete_path(c, path) < 0)
                return fail_libvirt(reterr_msg);
        return 0;
}

/* The live XML of vm, parsed. */
static int live_disks(HvConn *c, virDomainPtr dom, unsigned flags, HvDomainXml *ret, char **reterr_msg) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, flags);
        int r;

        if (!xml)
                return fail_libvirt(reterr_msg);
        r = hv_domain_xml_parse(xml, ret);
        if (r < 0)
                return fail_msg(r, reterr_msg, "cannot read the XML of '%s'", virDomainGetName(dom));
        return 0;
}

static int hv_domain_disks(HvConn *c, const char *vm, char ***ret_targets, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        r = lookup(c, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        r = live_disks(c, dom, 0, &x, reterr_msg);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x.n_disks; i++)
                if (hv_disk_is_movable(&x.disks[i]) && x.disks[i].target &&
                    strv_extend(&l, x.disks[i].target) < 0)
                        return -ENOMEM;
        *ret_targets = TAKE_PTR(l);
        return 0;
}

static int new_volume(
        virStoragePoolPtr pool, const char *name, uint64_t capacity, const char *format, char **reterr_msg) {
        _cleanup_free_ char *xml = NULL;
        _cleanup_(virStorageVolFreep) virStorageVolPtr v = NULL;
        int r = hv_volume_xml(name, capacity, format, &xml);

        if (r < 0)
                return fail_msg(r, reterr_msg, "cannot describe volume '%s'", name);
        v = virStorageVolCreateXML(pool, xml, 0);
        if (!v) {
                _cleanup_free_ char *m = NULL;
                r = fail_libvirt(&m);
                return fail_msg(
                        r, reterr_msg, "cannot create volume '%s' in pool '%s': %s", name,
                        virStoragePoolGetName(pool), m ? m : "unknown error");
        }
        return 0;
}

static int
hv_prepare_storage(HvConn *src, HvConn *dst, const char *vm, HvStoragePrep *ret, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_(hv_storage_prep_done) HvStoragePrep prep = {};
        bool uncached = true;
        int r;

        r = lookup(src, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        r = live_disks(src, dom, 0, &x, reterr_msg);
        if (r < 0)
                return r;
        prep.disks = calloc(1, sizeof(char *));
        prep.source_paths = calloc(1, sizeof(char *));
        prep.created = calloc(1, sizeof(char *));
        prep.shared = calloc(1, sizeof(char *));
        if (!prep.disks || !prep.source_paths || !prep.created || !prep.shared)
                return -ENOMEM;

        for (size_t i = 0; i < x.n_disks; i++) {
                const HvDisk *d = &x.disks[i];
                _cleanup_(virStorageVolFreep) virStorageVolPtr sv = NULL, existing = NULL;
                _cleanup_(virStoragePoolFreep) virStoragePoolPtr sp = NULL, dp = NULL;
                _cleanup_free_ char *dir = NULL;
                virStorageVolInfo info;
                bool shared = false;

                if (!hv_disk_is_movable(d) || !d->target)
                        continue;
                sv = virStorageVolLookupByPath(src->conn, d->path);
                if (!sv || virStorageVolGetInfo(sv, &info) < 0) {
                        r = fail_msg(
                                -ENOENT, reterr_msg,
                                "disk '%s' of '%s' (%s) is not a storage volume on the source", d->target,
                                vm, d->path);
                        goto fail;
                }
                sp = virStoragePoolLookupByVolume(sv);
                if (!sp) {
                        r = fail_libvirt(reterr_msg);
                        goto fail;
                }
                dir = strndup(d->path, (size_t) (base_name(d->path) - d->path - 1));
                if (!dir) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = pool_at_dir(dst, d->path, &dp);
                if (r < 0) {
                        r = fail_msg(
                                -ENOENT, reterr_msg,
                                "the destination has no active storage pool at '%s' for disk '%s'", dir,
                                d->target);
                        goto fail;
                }
                r = same_storage(sp, dst, dp, dir, &shared);
                if (r < 0) {
                        r = fail_msg(
                                r, reterr_msg, "cannot tell whether the destination shares '%s': %s", dir,
                                strerror(-r));
                        goto fail;
                }
                if (shared) {
                        if (strv_extend(&prep.shared, d->target) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        uncached = uncached &&
                                   (streq_ptr(d->cache, "none") || streq_ptr(d->cache, "directsync"));
                        continue;
                }
                existing = virStorageVolLookupByPath(dst->conn, d->path);
                if (existing) {
                        r = fail_msg(
                                -EEXIST, reterr_msg,
                                "the destination has another volume at '%s' (not shared storage): remove it first",
                                d->path);
                        goto fail;
                }
                r = new_volume(dp, base_name(d->path), info.capacity, d->format, reterr_msg);
                if (r < 0)
                        goto fail;
                if (strv_extend(&prep.created, d->path) < 0 || strv_extend(&prep.disks, d->target) < 0 ||
                    strv_extend(&prep.source_paths, d->path) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                prep.bytes += info.allocation;
        }
        prep.shared_uncached = uncached && strv_length(prep.shared) > 0;
        *ret = prep;
        prep = (HvStoragePrep){};
        return 0;

fail:
        for (char **c = prep.created; c && *c; c++)
                (void) delete_path(dst, *c);
        return r;
}

/* Whether the disk with target uses path in the domain's XML (flags: 0 live, INACTIVE). */
static int
disk_uses(HvConn *c, virDomainPtr dom, unsigned flags, const char *target, const char *path, bool *ret) {
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        int r = live_disks(c, dom, flags, &x, NULL);

        if (r < 0)
                return r;
        *ret = false;
        for (size_t i = 0; i < x.n_disks; i++)
                if (streq_ptr(x.disks[i].target, target))
                        *ret = streq(x.disks[i].path, path);
        return 0;
}

static int hv_block_copy(
        HvConn *c, const char *vm, const HvBlockCopyParams *p, HvBlockCopyResult *ret, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_domain_xml_done) HvDomainXml x = {};
        _cleanup_(virStoragePoolFreep) virStoragePoolPtr dp = NULL, sp = NULL;
        _cleanup_(virStorageVolFreep) virStorageVolPtr sv = NULL;
        _cleanup_(hv_block_copy_result_done) HvBlockCopyResult res = {};
        _cleanup_free_ char *dir = NULL, *dest_xml = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0, maxparams = 0;
        const HvDisk *d = NULL;
        virStorageVolInfo info;
        virStoragePoolInfo pinfo;
        bool created = false, ready = false, uses = false;
        uint64_t t_end;
        int r;

        r = lookup(c, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        r = live_disks(c, dom, 0, &x, reterr_msg);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x.n_disks; i++)
                if (streq_ptr(x.disks[i].target, p->disk))
                        d = &x.disks[i];
        if (!d)
                return fail_msg(-ENOENT, reterr_msg, "'%s' has no file disk '%s'", vm, p->disk);
        if (!hv_disk_is_movable(d))
                return fail_msg(
                        -EINVAL, reterr_msg, "disk '%s' of '%s' is read-only, shareable or not a disk",
                        p->disk, vm);
        dp = virStoragePoolLookupByName(c->conn, p->pool);
        if (!dp)
                return fail_msg(-ENOENT, reterr_msg, "no storage pool '%s' on the host", p->pool);
        if (virStoragePoolIsActive(dp) != 1)
                return fail_msg(-ENOENT, reterr_msg, "storage pool '%s' is not active", p->pool);
        sv = virStorageVolLookupByPath(c->conn, d->path);
        if (!sv || virStorageVolGetInfo(sv, &info) < 0)
                return fail_msg(
                        -ENOENT, reterr_msg, "disk '%s' (%s) is not a storage volume", p->disk, d->path);
        sp = virStoragePoolLookupByVolume(sv);
        if (sp && streq_ptr(virStoragePoolGetName(sp), p->pool))
                return fail_msg(
                        -EALREADY, reterr_msg, "disk '%s' of '%s' is already in pool '%s'", p->disk, vm,
                        p->pool);
        r = pool_target(dp, &dir);
        if (r < 0)
                return fail_msg(r, reterr_msg, "cannot read the target of pool '%s'", p->pool);
        if (virStoragePoolRefresh(dp, 0) < 0 || virStoragePoolGetInfo(dp, &pinfo) < 0)
                return fail_libvirt(reterr_msg);
        if (!p->force && pinfo.available < info.allocation)
                return fail_msg(
                        -ENOSPC, reterr_msg,
                        "pool '%s' has %llu MiB available, disk '%s' holds %llu MiB (--force skips this check)",
                        p->pool, pinfo.available >> 20, p->disk, info.allocation >> 20);
        res.old_path = strdup(d->path);
        if (!res.old_path || asprintf(&res.new_path, "%s/%s", dir, base_name(d->path)) < 0) {
                res.new_path = NULL;
                return -ENOMEM;
        }
        {
                _cleanup_(virStorageVolFreep) virStorageVolPtr e =
                        virStorageVolLookupByPath(c->conn, res.new_path);
                if (e)
                        return fail_msg(
                                -EEXIST, reterr_msg, "pool '%s' already has a volume '%s'", p->pool,
                                base_name(d->path));
        }
        r = new_volume(dp, base_name(d->path), info.capacity, d->format, reterr_msg);
        if (r < 0)
                return r;
        created = true;
        r = hv_copy_dest_xml(res.new_path, d->format, &dest_xml);
        if (r < 0) {
                r = fail_msg(r, reterr_msg, "cannot describe the copy's destination");
                goto fail;
        }
        if (p->bandwidth_mib_s > 0 && virTypedParamsAddULLong(
                                              &params, &nparams, &maxparams, VIR_DOMAIN_BLOCK_COPY_BANDWIDTH,
                                              p->bandwidth_mib_s << 20) < 0) {
                r = fail_libvirt(reterr_msg);
                goto fail;
        }
        r = virDomainBlockCopy(
                dom, p->disk, dest_xml, params, nparams,
                VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB);
        if (r < 0)
                r = fail_libvirt(reterr_msg);
        virTypedParamsFree(params, nparams);
        params = NULL;
        nparams = 0;
        if (r < 0)
                goto fail;

        /* Wait for the mirror to be ready (libvirt reports cur == end only then), and pivot;
         * a pivot refused because the job fell back out of sync is retried. */
        t_end = hv_now_usec() + (p->timeout_ms ? p->timeout_ms : 600000) * 1000;
        for (;;) {
                virDomainBlockJobInfo bi;
                int k = virDomainGetBlockJobInfo(dom, p->disk, &bi, 0);

                if (k < 0) {
                        r = fail_libvirt(reterr_msg);
                        goto abort;
                }
                if (k == 0) {
                        /* The job is gone before the pivot: it failed (QEMU ends a mirror on a
                         * write error of its target). */
                        virStoragePoolInfo now;
                        bool full = virStoragePoolRefresh(dp, 0) == 0 &&
                                    virStoragePoolGetInfo(dp, &now) == 0 && now.available < (1ULL << 20);
                        r = fail_msg(
                                full ? -ENOSPC : -EIO, reterr_msg,
                                "the copy of disk '%s' to pool '%s' failed%s", p->disk, p->pool,
                                full ? ": the pool is full" : " before it was ready");
                        goto fail;
                }
                if (bi.end > res.bytes)
                        res.bytes = bi.end;
                if (bi.end > 0 && bi.cur == bi.end) {
                        ready = true;
                        if (virDomainBlockJobAbort(dom, p->disk, VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0)
                                break;
                        ready = false;
                }
                if (hv_now_usec() >= t_end) {
                        r = fail_msg(
                                -ETIMEDOUT, reterr_msg,
                                "the copy of disk '%s' was not %s within %" PRIu64 " s", p->disk,
                                ready ? "pivoted" : "ready",
                                (p->timeout_ms ? p->timeout_ms : 600000) / 1000);
                        goto abort;
                }
                sleep_ms(200);
        }

        /* The pivot is asynchronous in QEMU: wait until the live XML names the new volume. */
        for (unsigned k = 0; k < 100; k++) {
                if (disk_uses(c, dom, 0, p->disk, res.new_path, &uses) == 0 && uses)
                        break;
                sleep_ms(100);
        }
        if (!uses)
                return fail_msg(
                        -EIO, reterr_msg,
                        "after the pivot '%s' does not use '%s' for disk '%s': both volumes kept", vm,
                        res.new_path, p->disk);
        if (virDomainIsPersistent(dom) == 1) {
                bool persistent_uses = false;
                if (disk_uses(c, dom, VIR_DOMAIN_XML_INACTIVE, p->disk, res.new_path, &persistent_uses) <
                            0 ||
                    !persistent_uses) {
                        /* The next start would use the old volume: keep it, and say so. */
                        if (asprintf(
                                    &res.warning,
                                    "the persistent definition of '%s' still names '%s': old volume kept",
                                    vm, res.old_path) < 0)
                                res.warning = NULL;
                        *ret = res;
                        res = (HvBlockCopyResult){};
                        return 0;
                }
        }
        if (p->remove_source) {
                _cleanup_free_ char *m = NULL;
                if (virStorageVolDelete(sv, 0) == 0)
                        res.source_removed = true;
                else if (
                        fail_libvirt(&m) < 0 &&
                        asprintf(
                                &res.warning, "cannot remove the old volume '%s': %s", res.old_path,
                                m ? m : "unknown error") < 0)
                        res.warning = NULL;
                if (sp)
                        (void) virStoragePoolRefresh(sp, 0);
        }
        (void) virStoragePoolRefresh(dp, 0);
        virTypedParamsFree(params, nparams);
        *ret = res;
        res = (HvBlockCopyResult){};
        return 0;

abort:
        (void) virDomainBlockJobAbort(dom, p->disk, 0);
        for (unsigned k = 0; k < 50; k++) {
                virDomainBlockJobInfo bi;
                if (virDomainGetBlockJobInfo(dom, p->disk, &bi, 0) == 0)
                        break;
                sleep_ms(100);
        }
fail:
        virTypedParamsFree(params, nparams);
        if (created) {
                _cleanup_(virStorageVolFreep) virStorageVolPtr nv =
                        virStorageVolLookupByPath(c->conn, res.new_path);
                if (nv)
                        (void) virStorageVolDelete(nv, 0);
                (void) virStoragePoolRefresh(dp, 0);
        }
        return r;
}

/* ---- migration TLS ----------------------------------------------------------------------- */

/* See HvOps.tls_probe. */
static int hv_tls_probe(HvConn *c, const char *dir, HvTlsProbe *ret, char **reterr_msg) {
        static const char *const files[] = {
                "ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem", "client-key.pem",
        };
        _cleanup_(virStoragePoolFreep) virStoragePoolPtr pool = NULL;
        _cleanup_free_ char *name = NULL, *xml = NULL, *inside = NULL;
        char missing[128] = "";
        HvTlsProbe p = {};
        bool ours = false;
        size_t len = 0;
        int r;

        if (!dir)
                dir = HV_MIGRATION_TLS_DIR;
        /* Pasted into the pool's XML: drsd.yaml allows nothing that needs escaping; check anyway. */
        if (dir[0] != '/' || strpbrk(dir, "<>&'\""))
                return fail_msg(-EINVAL, reterr_msg, "invalid migration TLS directory '%s'", dir);
        if (asprintf(&inside, "%s/x", dir) < 0)
                return -ENOMEM;
        r = pool_at_dir(c, inside, &pool);
        if (r < 0 && r != -ENOENT)
                return fail_libvirt(reterr_msg);
        if (pool) {
                /* Ours, left by a drsd that died while probing: used and removed. */
                const char *n = virStoragePoolGetName(pool);
                ours = n && strncmp(n, TLS_PROBE_POOL_PREFIX, strlen(TLS_PROBE_POOL_PREFIX)) == 0;
                if (virStoragePoolRefresh(pool, 0) < 0)
                        return fail_libvirt(reterr_msg);
        } else {
                uint64_t rnd = hv_now_usec() ^ ((uint64_t) (uintptr_t) &pool << 16);
                if (asprintf(&name, TLS_PROBE_POOL_PREFIX "%016" PRIx64, rnd) < 0 ||
                    asprintf(
                            &xml, "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>",
                            name, dir) < 0)
                        return -ENOMEM;
                pool = virStoragePoolCreateXML(c->conn, xml, 0);
                if (!pool) {
                        virErrorPtr e = virGetLastError();
                        /* libvirt's system errors carry errno in int1 (kept over RPC). */
                        if (e && e->code == VIR_ERR_SYSTEM_ERROR && e->int1 == ENOENT) {
                                if (asprintf(&p.missing, "no directory %s", dir) < 0)
                                        return -ENOMEM;
                                *ret = p;
                                return 0;
                        }
                        return fail_libvirt(reterr_msg);
                }
                ours = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(virStorageVolFreep) virStorageVolPtr v = virStorageVolLookupByName(pool, files[i]);
                if (!v)
                        len += (size_t) snprintf(
                                missing + len, sizeof(missing) - len, "%s%s", len > 0 ? ", " : "", files[i]);
        }
        p.configured = len == 0;
        if (len > 0 && asprintf(&p.missing, "missing %s in %s", missing, dir) < 0) {
                p.missing = NULL;
                r = -ENOMEM;
                goto out;
        }
        r = 0;
out:
        if (ours)
                (void) virStoragePoolDestroy(pool);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

static int hv_migrate(HvConn *src, const char *vm, const HvMigrateParams *p, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        virTypedParameterPtr params = NULL;
        int n = 0, max = 0, r;
        unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                         VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;

        r = lookup(src, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        if (p->tls)
                flags |= VIR_MIGRATE_TLS;
        if (p->auto_converge)
                flags |= VIR_MIGRATE_AUTO_CONVERGE;
        if (p->post_copy)
                flags |= VIR_MIGRATE_POSTCOPY;
        if (p->shared_disks_proven)
                flags |= VIR_MIGRATE_UNSAFE;
        if (p->bandwidth_mib_s > 0 &&
            virTypedParamsAddULLong(&params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH, p->bandwidth_mib_s) <
                    0) {
                r = fail_libvirt(reterr_msg);
                virTypedParamsFree(params, n);
                return r;
        }
        if (p->parallel_connections > 1) {
                flags |= VIR_MIGRATE_PARALLEL;
                if (virTypedParamsAddInt(
                            &params, &n, &max, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                            (int) p->parallel_connections) < 0) {
                        r = fail_libvirt(reterr_msg);
                        virTypedParamsFree(params, n);
                        return r;
                }
        }
        if (p->compression && !streq(p->compression, "none")) {
                flags |= VIR_MIGRATE_COMPRESSED;
                if (virTypedParamsAddString(
                            &params, &n, &max, VIR_MIGRATE_PARAM_COMPRESSION, p->compression) < 0) {
                        r = fail_libvirt(reterr_msg);
                        virTypedParamsFree(params, n);
                        return r;
                }
        }
        for (char *const *d = p->copy_disks; d && *d; d++) {
                flags |= VIR_MIGRATE_NON_SHARED_DISK;
                if (virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_MIGRATE_DISKS, *d) < 0) {
                        r = fail_libvirt(reterr_msg);
                        virTypedParamsFree(params, n);
                        return r;
                }
        }
        r = virDomainMigrateToURI3(dom, p->dest_uri, params, (unsigned) n, flags);
        if (r < 0)
                r = fail_libvirt(reterr_msg);
        virTypedParamsFree(params, n);
        return r < 0 ? r : 0;
}

static int hv_job_info(HvConn *c, const char *vm, bool completed, HvJobInfo *ret, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        virTypedParameterPtr p = NULL;
        int n = 0, type = VIR_DOMAIN_JOB_NONE, r;
        HvJobInfo j = {};

        r = lookup(c, vm, &dom, reterr_msg);
        if (r < 0)
                return r;
        if (virDomainGetJobStats(dom, &type, &p, &n, completed ? VIR_DOMAIN_JOB_STATS_COMPLETED : 0) < 0)
                return fail_libvirt(reterr_msg);
        switch (type) {
        case VIR_DOMAIN_JOB_BOUNDED:
        case VIR_DOMAIN_JOB_UNBOUNDED:
                j.type = HV_JOB_RUNNING;
                break;
        case VIR_DOMAIN_JOB_COMPLETED:
                j.type = HV_JOB_COMPLETED;
                break;
        case VIR_DOMAIN_JOB_FAILED:
                j.type = HV_JOB_FAILED;
                break;
        case VIR_DOMAIN_JOB_CANCELLED:
                j.type = HV_JOB_CANCELLED;
                break;
        default:
                j.type = HV_JOB_NONE;
        }
        j.time_elapsed_ms = get_ull(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED, NULL);
        j.memory_total_bytes = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL, NULL);
        j.memory_processed_bytes = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED, NULL);
        j.memory_remaining_bytes = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING, NULL);
        j.memory_dirty_rate_pps = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, NULL);
        j.memory_page_size = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE, NULL);
        j.memory_bps = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_BPS, NULL);
        j.memory_iteration = get_ull(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, NULL);
        j.downtime_ms = get_ull(p, n, VIR_DOMAIN_JOB_DOWNTIME, NULL);
        j.setup_time_ms = get_ull(p, n, VIR_DOMAIN_JOB_SETUP_TIME, NULL);
        virTypedParamsFree(p, n);
        *ret = j;
        return 0;
}

static int hv_set_max_downtime(HvConn *c, const char *vm, uint64_t ms, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r = lookup(c, vm, &dom, reterr_msg);

        if (r < 0)
                return r;
        if (virDomainMigrateSetMaxDowntime(dom, ms, 0) < 0)
                return fail_libvirt(reterr_msg);
        return 0;
}

static int hv_abort_job(HvConn *c, const char *vm, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r = lookup(c, vm, &dom, reterr_msg);

        if (r < 0)
                return r;
        if (virDomainAbortJob(dom) < 0)
                return fail_libvirt(reterr_msg);
        return 0;
}

static int
hv_domain_state(HvConn *c, const char *vm, bool *ret_exists, bool *ret_running, char **reterr_msg) {
        _cleanup_(virDomainFreep) virDomainPtr dom = virDomainLookupByName(c->conn, vm);
        int state = 0, reason = 0;

        if (!dom) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN) {
                        *ret_exists = false;
                        *ret_running = false;
                        return 0;
                }
                return fail_libvirt(reterr_msg);
        }
        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return fail_libvirt(reterr_msg);
        *ret_exists = true;
        *ret_running = state == VIR_DOMAIN_RUNNING;
        return 0;
}

const HvOps hv_libvirt_ops = {
        .open = hv_open,
        .close = hv_close,
        .is_alive = hv_is_alive,
        .host_stats = hv_host_stats,
        .precheck = hv_precheck,
        .migrate = hv_migrate,
        .job_info = hv_job_info,
        .set_max_downtime = hv_set_max_downtime,
        .abort_job = hv_abort_job,
        .domain_state = hv_domain_state,
        .tls_probe = hv_tls_probe,
        .prepare_storage = hv_prepare_storage,
        .delete_volume = hv_delete_volume,
        .domain_disks = hv_domain_disks,
        .block_copy = hv_block_copy,
};
