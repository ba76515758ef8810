/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Cluster mode (mode: corosync): the Manager's side of it.
 *
 *   - Every drsd polls only its own host's libvirt and multicasts its report (REPORT) after
 *     every sample and after every change of its host's mode; every drsd keeps every host's
 *     last report (Peer), so any of them can lead at once.
 *   - The mode of a host (maintenance, standby, …) is owned by its own drsd: persisted in its
 *     state directory, re-announced in every report. The leader changes it by an order
 *     (SET_MODE); until the host's report confirms it, the ordered mode is what the leader
 *     plans with (for CLUSTER_MODE_PENDING_INTERVALS intervals at most).
 *   - Only the leader plans. A move becomes a MIGRATE order to the source host's drsd, which
 *     checks the order (quorate, current term, sent by the leader), runs it with its own
 *     executor and local libvirt (PEER2PEER to the target's migration URI), and multicasts the
 *     RESULT; every drsd records the VM's last move from it (cooldowns survive a leader
 *     change), the leader advances its plan.
 *   - A new leader learns the migrations in flight from the reports (a VM the source's
 *     executor has a job for is `busy`, one libvirt is migrating is `migrating`): the Problem
 *     marks them migrating, so nothing orders them a second time; an evacuation resumes from
 *     the host's mode in its report.
 *   - Losing the lead or quorum: the plan and the orders are dropped; queued (not started)
 *     migrations are cancelled; running ones finish in libvirt and their results are still
 *     reported.
 *   - drsctl on any host: the methods that need the leader (plan, apply, evacuate,
 *     exit-maintenance, power-clear, place) are forwarded to it (REQUEST) and its answer
 *     relayed (REPLY). */

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager-pass.h"
#include "protocol.h"

#define USEC_PER_SEC 1000000ULL

/* What travels as a number on the wire must match the enums it stands for. */
_Static_assert(CLUSTER_RESULT_MAX == _MIGRATION_RESULT_MAX, "RESULT codes");
_Static_assert(CLUSTER_ENCRYPTION_MAX == _MIGRATION_ENCRYPTION_MAX, "encryption codes");
_Static_assert(CLUSTER_COMPRESSION_MAX == _COMPRESSION_MAX, "compression codes");
/* DPM: how many intervals a standby announcement may take to come back through CPG. */
#define STANDBY_WAIT_INTERVALS 3ULL
#define CLUSTER_STALE_INTERVALS 3
#define CLUSTER_MODE_PENDING_INTERVALS 3
#define FORWARD_TIMEOUT_USEC (60ULL * USEC_PER_SEC)

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Multicasts this host's report (its VMs, their demands, its mode) now. */
static void report_now(Manager *m);
static void storage_now(Manager *m, const HostReport *r);

static bool cluster_acting_leader(const Manager *m) {
        return m->cluster && cluster_is_leader(m->cluster);
}

static bool cluster_polls(const Manager *m, const char *host) {
        return streq_ptr(host, m->local_host);
}

/* Cluster mode: the one host polled is this one; every drsd (this one too) learns of it from
 * the report multicast. */
static void cluster_sampled(Manager *m, const char *host, bool good, bool have_stats) {
        report_now(m);
}

/* ---- peers ------------------------------------------------------------------------------------ */

static void vm_disks_free(PeerVmDisks *d, size_t n) {
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].name);
                hv_disk_uses_free(d[i].disks, d[i].n_disks);
        }
        free(d);
}

static int vm_disks_cmp(const void *a, const void *b) {
        return strcmp(((const PeerVmDisks *) a)->name, ((const PeerVmDisks *) b)->name);
}

/* The disks the host's last STORAGE gave vm, NULL when none. */
static const PeerVmDisks *peer_vm_disks(const Peer *p, const char *vm) {
        PeerVmDisks key = {.name = (char *) vm};
        return p->n_disks > 0 ? bsearch(&key, p->disks, p->n_disks, sizeof(PeerVmDisks), vm_disks_cmp)
                              : NULL;
}

/* Puts the storage facts onto the report's VMs (after a REPORT or a complete STORAGE). */
static int peer_apply_disks(Peer *p) {
        for (size_t i = 0; i < p->report.n_vms; i++) {
                VmReport *v = &p->report.vms[i];
                const PeerVmDisks *d = peer_vm_disks(p, v->name);
                HvDiskUse *c = NULL;
                if (d && d->n_disks > 0 && hv_disk_uses_copy(d->disks, d->n_disks, &c) < 0)
                        return -ENOMEM;
                hv_disk_uses_free(v->disks, v->n_disks);
                v->disks = c;
                v->n_disks = c ? d->n_disks : 0;
        }
        return 0;
}

/* A drsd left or (re)joined: what it said about its version and storage is not known any more. */
static void peer_forget_storage(Peer *p) {
        p->protocol = 1;
        hv_pools_free(p->report.pools, p->report.n_pools);
        p->report.pools = NULL;
        p->report.n_pools = 0;
        vm_disks_free(p->disks, p->n_disks);
        p->disks = NULL;
        p->n_disks = 0;
        cluster_storage_assembly_done(&p->storage_parts);
        (void) peer_apply_disks(p);
}

static void peer_done(Peer *p) {
        free(p->host);
        free(p->pending_reason);
        free(p->migration_uri);
        free(p->state.name);
        free(p->state.reason);
        free(p->report.name);
        for (size_t i = 0; i < p->report.n_vms; i++) {
                free(p->report.vms[i].name);
                free(p->report.vms[i].migrating_to);
                hv_disk_uses_free(p->report.vms[i].disks, p->report.vms[i].n_disks);
        }
        free(p->report.vms);
        free(p->report.last_error);
        hv_pools_free(p->report.pools, p->report.n_pools);
        vm_disks_free(p->disks, p->n_disks);
        cluster_storage_assembly_done(&p->storage_parts);
}

static Peer *peer_find(Manager *m, const char *host) {
        for (size_t i = 0; i < m->n_peers; i++)
                if (streq(m->peers[i].host, host))
                        return &m->peers[i];
        return NULL;
}

static Peer *peer_get(Manager *m, const char *host) {
        Peer *p = peer_find(m, host);
        if (p)
                return p;
        Peer *n = reallocarray(m->peers, m->n_peers + 1, sizeof(Peer));
        if (!n)
                return NULL;
        m->peers = n;
        p = &m->peers[m->n_peers];
        *p =
                (Peer){.host = strdup(host),
                       .state.name = strdup(host),
                       .report.name = strdup(host),
                       .protocol = 1};
        if (!p->host || !p->state.name || !p->report.name) {
                peer_done(p);
                return NULL;
        }
        m->n_peers++;
        return p;
}

/* The leader ordered p's host into mode: shown so (manager_host_mode()) until the host's report
 * confirms it, for CLUSTER_MODE_PENDING_INTERVALS intervals at most. */
static void peer_expect_mode(Manager *m, Peer *p, HostMode mode) {
        p->pending = true;
        p->pending_mode = mode;
        p->pending_until_usec =
                hv_now_usec() + CLUSTER_MODE_PENDING_INTERVALS * m->config->interval_s * USEC_PER_SEC;
}

static bool pending_mode_active(const Manager *m, const Peer *p) {
        return p->pending && hv_now_usec() < p->pending_until_usec;
}

/* A report still shows the old mode while an order is pending: the host's drsd may have refused
 * it (it had just rejoined and its election was not settled: "not the current leader and term"),
 * so the order goes out again, a few times at most; each sending waits anew. */
#define CLUSTER_MODE_RESENDS 3
static void resend_mode_order(Manager *m, Peer *p) {
        if (p->pending_resends >= CLUSTER_MODE_RESENDS)
                return;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_SET_MODE,
                .set_mode =
                        {.order_id = ++m->next_order_id,
                         .host = p->host,
                         .mode = p->pending_mode,
                         .reason = p->pending_reason},
        };
        if (cluster_send(m->cluster, &msg) < 0)
                return;
        p->pending_resends++;
        peer_expect_mode(m, p, p->pending_mode);
        log_info(
                "Host '%s' still reports %s: ordered %s again", p->host, host_mode_to_string(p->state.mode),
                host_mode_to_string(p->pending_mode));
}

static const HostReport *cluster_report(Manager *m, const char *host) {
        Peer *p = peer_find(m, host);
        return p && p->report.t_usec > 0 ? &p->report : NULL;
}

static bool cluster_stale(Manager *m, const char *host, uint64_t now_mono) {
        Peer *p = peer_find(m, host);
        uint64_t limit = CLUSTER_STALE_INTERVALS * m->config->interval_s * USEC_PER_SEC;
        if (!p || p->report.t_usec == 0 || !m->cluster || !cluster_quorate(m->cluster))
                return true;
        /* Reports of a host whose drsd left the group are not trusted to be current. */
        if (!cluster_host_nodeid(m->cluster, host))
                return true;
        return now_mono > p->report.t_usec + limit;
}

static HostMode cluster_mode(Manager *m, const char *host) {
        if (m->local_host && streq(host, m->local_host))
                return state_get(m->state, host);
        Peer *p = peer_find(m, host);
        if (!p)
                return HOST_MODE_UP;
        if (pending_mode_active(m, p))
                return p->pending_mode;
        return p->state.mode;
}

static const StateHost *cluster_state(Manager *m, const char *host) {
        if (m->local_host && streq(host, m->local_host))
                return state_find(m->state, host);
        Peer *p = peer_find(m, host);
        HostMode mode = manager_host_mode(m, host);
        if (!p || mode == HOST_MODE_UP)
                return NULL;
        /* What the host announced, with an ordered mode not confirmed yet: a view, so that the
         * announced mode itself stays as reported. */
        p->shown = p->state;
        p->shown.mode = mode;
        return &p->shown;
}

/* ---- the local report ------------------------------------------------------------------------- */

static void report_now(Manager *m) {
        _cleanup_free_ ClusterVm *vms = NULL;
        const HostReport *r;
        const StateHost *sh;
        const DrsHostConfig *hc;
        int k;

        if (!m->cluster || !cluster_connected(m->cluster) || !m->local_host)
                return;
        hc = drs_config_find_host(m->config, m->local_host);
        r = m->collector ? collector_get(m->collector, m->local_host) : NULL;
        sh = state_find(m->state, m->local_host);
        size_t n = r ? r->n_vms : 0;
        if (n > CLUSTER_REPORT_MAX_VMS) {
                log_warning(
                        "Host '%s' runs %zu VMs: reporting the first %u only", m->local_host, n,
                        CLUSTER_REPORT_MAX_VMS);
                n = CLUSTER_REPORT_MAX_VMS;
        }
        vms = calloc(n ?: 1, sizeof(ClusterVm));
        if (!vms) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n; i++)
                vms[i] = (ClusterVm){
                        .name = r->vms[i].name,
                        .vcpus = r->vms[i].vcpus,
                        .memory_mib = r->vms[i].memory_mib,
                        .cpu_demand = r->vms[i].cpu_demand,
                        .memory_demand_mib = r->vms[i].memory_demand_mib,
                        .migrating = r->vms[i].migrating,
                        .busy = (m->executor && executor_vm_busy(m->executor, r->vms[i].name)) ||
                                storage_mover_vm_busy(m->storage_mover, r->vms[i].name),
                        .target =
                                (char *) (m->executor ? executor_vm_target(m->executor, r->vms[i].name) : NULL),
                };
        uint64_t now = hv_now_usec();
        bool have = r && r->t_usec > 0;
        uint64_t age_ms = have && now > r->t_usec ? (now - r->t_usec) / 1000 : 0;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_REPORT,
                .report =
                        {
                                .host = (char *) m->local_host,
                                .migration_uri = hc ? hc->migration_uri : NULL,
                                .mode = state_get(m->state, m->local_host),
                                .mode_reason = sh ? sh->reason : NULL,
                                .mode_since_usec = sh ? sh->since_usec : 0,
                                .have_sample = have,
                                .sample_age_ms = (uint32_t) (age_ms > UINT32_MAX ? UINT32_MAX : age_ms),
                                .cpus = have ? r->cpus : 0,
                                .memory_mib = have ? r->memory_mib : 0,
                                .free_mib = have ? r->free_mib : 0,
                                .last_error = r ? r->last_error : NULL,
                                .vms = vms,
                                .n_vms = have ? n : 0,
                        },
        };
        k = cluster_send(m->cluster, &msg);
        if (k < 0 && k != -ENOTCONN)
                log_warning_errno(k, "Failed to multicast the report of host '%s': %m", m->local_host);
        if (k >= 0)
                storage_now(m, have ? r : NULL);
}

static int peer_take_report(Manager *m, const ClusterMsg *msg) {
        const ClusterReport *cr = &msg->report;
        Peer *p = peer_get(m, cr->host);
        if (!p)
                return -ENOMEM;
        VmReport *vms = calloc(cr->n_vms ?: 1, sizeof(VmReport));
        if (!vms)
                return -ENOMEM;
        for (size_t i = 0; i < cr->n_vms; i++) {
                vms[i] = (VmReport){
                        .name = strdup(cr->vms[i].name),
                        .vcpus = cr->vms[i].vcpus,
                        .memory_mib = cr->vms[i].memory_mib,
                        .cpu_demand = cr->vms[i].cpu_demand,
                        .memory_demand_mib = cr->vms[i].memory_demand_mib,
                        /* A VM with a job at its source is migrating for the leader: never ordered twice. */
                        .migrating = cr->vms[i].migrating || cr->vms[i].busy,
                        .migrating_to = cr->vms[i].target ? strdup(cr->vms[i].target) : NULL,
                };
                if (!vms[i].name || (cr->vms[i].target && !vms[i].migrating_to)) {
                        for (size_t j = 0; j <= i; j++) {
                                free(vms[j].name);
                                free(vms[j].migrating_to);
                        }
                        free(vms);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < p->report.n_vms; i++) {
                free(p->report.vms[i].name);
                free(p->report.vms[i].migrating_to);
                hv_disk_uses_free(p->report.vms[i].disks, p->report.vms[i].n_disks);
        }
        free(p->report.vms);
        p->report.vms = vms;
        p->report.n_vms = cr->n_vms;
        if (peer_apply_disks(p) < 0)
                return -ENOMEM;
        uint64_t now = hv_now_usec(), age = (uint64_t) cr->sample_age_ms * 1000;
        p->report.t_usec = cr->have_sample ? (now > age ? now - age : 1) : 0;
        p->report.cpus = cr->cpus;
        p->report.memory_mib = cr->memory_mib;
        p->report.free_mib = cr->free_mib;
        free(p->report.last_error);
        p->report.last_error = cr->last_error ? strdup(cr->last_error) : NULL;
        p->nodeid = msg->sender;
        p->received_usec = now;
        if (cr->migration_uri && !streq_ptr(p->migration_uri, cr->migration_uri)) {
                free(p->migration_uri);
                p->migration_uri = strdup(cr->migration_uri);
        }
        if (cr->mode != HOST_MODE_UP && p->state.mode != cr->mode)
                manager_cancel_queued_to(m, cr->host, host_mode_to_string(cr->mode));
        /* Remembered on disk too: a powered-off host cannot announce its standby to a drsd
         * that restarts meanwhile (peers_load()). */
        if (!streq_ptr(cr->host, m->local_host) && state_get(m->state, cr->host) != cr->mode) {
                int k = state_set(m->state, cr->host, cr->mode, cr->mode_reason, cr->mode_since_usec);
                if (k < 0)
                        log_warning_errno(k, "Failed to save the announced mode of host '%s': %m", cr->host);
        }
        p->state.mode = cr->mode;
        p->state.since_usec = cr->mode_since_usec;
        free(p->state.reason);
        p->state.reason = cr->mode_reason ? strdup(cr->mode_reason) : NULL;
        if (p->pending && cr->mode == p->pending_mode)
                p->pending = false;
        else if (pending_mode_active(m, p) && m->cluster && cluster_is_leader(m->cluster))
                resend_mode_order(m, p);
        return 0;
}

/* ---- storage facts (protocol version 2) ------------------------------------------------------- */

/* Multicasts this host's pools and its VMs' file disks (STORAGE, in parts when they do not fit one
 * message), right after its report: the leader computes which disks only their own host sees
 * from them, exactly as standalone mode does from its own samples. */
static void storage_now(Manager *m, const HostReport *r) {
        _cleanup_free_ ClusterPool *pools = NULL;
        _cleanup_free_ ClusterVmDisks *vms = NULL;
        _cleanup_free_ ClusterDisk *disks = NULL;
        size_t n_vms = 0, n_disks = 0, d = 0;
        size_t ends[CLUSTER_STORAGE_MAX_PARTS];
        int k;

        if (!r || r->t_usec == 0 || cluster_max_version(m->cluster) < 2)
                return;
        for (size_t i = 0; i < r->n_vms; i++)
                if (r->vms[i].n_disks > 0) {
                        n_vms++;
                        n_disks += MIN(r->vms[i].n_disks, (size_t) CLUSTER_STORAGE_MAX_DISKS);
                }
        pools = calloc(r->n_pools ?: 1, sizeof(ClusterPool));
        vms = calloc(n_vms ?: 1, sizeof(ClusterVmDisks));
        disks = calloc(n_disks ?: 1, sizeof(ClusterDisk));
        if (!pools || !vms || !disks) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < r->n_pools; i++)
                pools[i] = (ClusterPool){
                        .name = r->pools[i].name,
                        .target = r->pools[i].target,
                        .markers = r->pools[i].markers};
        n_vms = 0;
        for (size_t i = 0; i < r->n_vms; i++) {
                const VmReport *v = &r->vms[i];
                if (v->n_disks == 0)
                        continue;
                size_t n = MIN(v->n_disks, (size_t) CLUSTER_STORAGE_MAX_DISKS);
                vms[n_vms++] = (ClusterVmDisks){.name = v->name, .disks = &disks[d], .n_disks = n};
                for (size_t j = 0; j < n; j++)
                        disks[d++] = (ClusterDisk){
                                .path = v->disks[j].path, .allocation_bytes = v->disks[j].allocation_bytes};
        }
        ClusterStorage whole = {
                .host = (char *) m->local_host,
                .n_parts = 1,
                .pools = pools,
                .n_pools = r->n_pools,
                .vms = vms,
                .n_vms = n_vms,
        };
        k = cluster_storage_split(&whole, ends, ELEMENTSOF(ends));
        if (k < 0) {
                log_warning(
                        "The storage facts of host '%s' (%zu pools, %zu VMs with %zu disks) do not fit %u messages: not sent; the leader counts every disk of its VMs as local",
                        m->local_host, r->n_pools, n_vms, n_disks, CLUSTER_STORAGE_MAX_PARTS);
                return;
        }
        m->storage_generation++;
        for (int part = 0; part < k; part++) {
                size_t from = part == 0 ? 0 : ends[part - 1];
                ClusterMsg msg = {
                        .type = CLUSTER_MSG_STORAGE,
                        .storage =
                                {
                                        .host = (char *) m->local_host,
                                        .generation = m->storage_generation,
                                        .part = (uint16_t) part,
                                        .n_parts = (uint16_t) k,
                                        .pools = part == 0 ? pools : NULL,
                                        .n_pools = part == 0 ? r->n_pools : 0,
                                        .vms = vms + from,
                                        .n_vms = ends[part] - from,
                                },
                };
                int e = cluster_send(m->cluster, &msg);
                if (e < 0 && e != -ENOTCONN) {
                        log_warning_errno(
                                e, "Failed to multicast the storage facts of host '%s': %m", m->local_host);
                        return;
                }
        }
}

/* A host's complete storage facts into its peer entry (pools in HvPool form, disks sorted by VM). */
static int peer_set_storage(Peer *p, const ClusterStorage *s) {
        HvPool *pools = NULL;
        PeerVmDisks *disks = NULL;
        size_t n = 0;

        if (s->n_pools > 0) {
                pools = calloc(s->n_pools, sizeof(HvPool));
                if (!pools)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_pools; i++) {
                        pools[i].name = strdup(s->pools[i].name);
                        pools[i].target = s->pools[i].target ? strdup(s->pools[i].target) : NULL;
                        if (!pools[i].name || (s->pools[i].target && !pools[i].target) ||
                            strv_copy(s->pools[i].markers, &pools[i].markers) < 0)
                                goto oom;
                }
        }
        if (s->n_vms > 0) {
                disks = calloc(s->n_vms, sizeof(PeerVmDisks));
                if (!disks)
                        goto oom;
        }
        for (; n < s->n_vms; n++) {
                const ClusterVmDisks *v = &s->vms[n];
                disks[n].name = strdup(v->name);
                if (!disks[n].name)
                        goto oom;
                if (v->n_disks == 0)
                        continue;
                disks[n].disks = calloc(v->n_disks, sizeof(HvDiskUse));
                if (!disks[n].disks)
                        goto oom;
                disks[n].n_disks = v->n_disks;
                for (size_t j = 0; j < v->n_disks; j++) {
                        disks[n].disks[j].path = strdup(v->disks[j].path);
                        disks[n].disks[j].allocation_bytes = v->disks[j].allocation_bytes;
                        if (!disks[n].disks[j].path)
                                goto oom;
                }
        }
        if (n > 1)
                qsort(disks, n, sizeof(PeerVmDisks), vm_disks_cmp);
        hv_pools_free(p->report.pools, p->report.n_pools);
        p->report.pools = pools;
        p->report.n_pools = s->n_pools;
        vm_disks_free(p->disks, p->n_disks);
        p->disks = disks;
        p->n_disks = n;
        return peer_apply_disks(p);
oom:
        hv_pools_free(pools, s->n_pools);
        vm_disks_free(disks, s->n_vms);
        return -ENOMEM;
}

static int take_storage(Manager *m, const ClusterMsg *msg) {
        _cleanup_(cluster_storage_done) ClusterStorage whole = {};
        Peer *p = peer_get(m, msg->storage.host);
        int k;

        if (!p)
                return -ENOMEM;
        p->protocol = MAX(p->protocol, msg->version);
        k = cluster_storage_assembly_add(&p->storage_parts, &msg->storage, &whole);
        if (k <= 0)
                return k;
        return peer_set_storage(p, &whole);
}

/* ---- orders ------------------------------------------------------------------------------------- */

static void orders_clear(Manager *m) {
        for (size_t i = 0; i < m->n_orders; i++) {
                free(m->orders[i].vm);
                free(m->orders[i].source);
                free(m->orders[i].target);
        }
        free(m->orders);
        m->orders = NULL;
        m->n_orders = 0;
}

static ssize_t order_find(Manager *m, uint64_t id) {
        for (size_t i = 0; i < m->n_orders; i++)
                if (m->orders[i].id == id)
                        return (ssize_t) i;
        return -1;
}

static void order_remove(Manager *m, size_t i) {
        free(m->orders[i].vm);
        free(m->orders[i].source);
        free(m->orders[i].target);
        memmove(&m->orders[i], &m->orders[i + 1], (m->n_orders - i - 1) * sizeof(Order));
        m->n_orders--;
}

static unsigned cluster_in_flight(Manager *m) {
        return (unsigned) m->n_orders;
}

static const char *cluster_vm_target(Manager *m, const char *vm) {
        const char *t = m->executor ? executor_vm_target(m->executor, vm) : NULL;
        for (size_t i = 0; !t && i < m->n_orders; i++)
                if (streq(m->orders[i].vm, vm))
                        t = m->orders[i].target;
        return t;
}

static bool cluster_vm_busy(Manager *m, const char *vm) {
        if (m->executor && executor_vm_busy(m->executor, vm))
                return true;
        for (size_t i = 0; i < m->n_orders; i++)
                if (streq(m->orders[i].vm, vm))
                        return true;
        return false;
}

/* Adds an order in flight; returns it (NULL: out of memory). */
static Order *
order_add(Manager *m, const char *vm, const char *source, const char *target, bool manual, bool storage) {
        Order *n = reallocarray(m->orders, m->n_orders + 1, sizeof(Order));
        if (!n)
                return NULL;
        m->orders = n;
        Order *o = &m->orders[m->n_orders];
        *o = (Order){
                .id = ++m->next_order_id,
                .vm = strdup(vm),
                .source = strdup(source),
                .target = strdup(target),
                .manual = manual,
                .storage = storage,
        };
        if (!o->vm || !o->source || !o->target) {
                free(o->vm);
                free(o->source);
                free(o->target);
                return NULL;
        }
        m->n_orders++;
        return o;
}

/* The cluster protocol the drsd of host speaks (1 when it has not said). */
static uint16_t host_protocol(Manager *m, const char *host) {
        const Peer *p = peer_find(m, host);
        return p ? p->protocol : 1;
}

/* Orders req to its source's drsd. The order goes in version 2 to a drsd that speaks it (its
 * RESULT then says how the migration was encrypted and what it copied); a drsd of version 1 gets
 * plain migrations only (-EPROTONOSUPPORT for disk copies and targets outside the cluster). */
static int order_migration(Manager *m, const MigrationRequest *req, bool manual) {
        const Peer *tp = req->remote ? NULL : peer_find(m, req->target);
        const DrsHostConfig *tc = req->remote ? NULL : drs_config_find_host(m->config, req->target);
        const char *uri = req->remote               ? req->target_migration_uri
                          : tp && tp->migration_uri ? tp->migration_uri
                          : tc                      ? tc->migration_uri
                                                    : NULL;
        uint16_t version = MIN(host_protocol(m, req->source), cluster_max_version(m->cluster));
        int k;

        if (!m->cluster || !cluster_is_leader(m->cluster))
                return -EREMOTE;
        if (!uri)
                return -ENXIO;
        if (!cluster_host_nodeid(m->cluster, req->source)) {
                log_info(
                        "Not ordering the move of '%s': the drsd of '%s' is not in the cluster", req->vm,
                        req->source);
                return -EHOSTDOWN;
        }
        if (version < 2 && (req->copy_storage || req->remote)) {
                log_warning(
                        "Not ordering the move of '%s'%s: the drsd of '%s' runs an older version (cluster protocol %u)",
                        req->vm, req->copy_storage ? " with a disk copy" : " out of the cluster",
                        req->source, version);
                return -EPROTONOSUPPORT;
        }
        Order *o = order_add(m, req->vm, req->source, req->target, manual, false);
        if (!o)
                return -ENOMEM;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_MIGRATE,
                .version = version,
                .migrate =
                        {
                                .order_id = o->id,
                                .vm = (char *) req->vm,
                                .source = (char *) req->source,
                                .target = (char *) req->target,
                                .target_migration_uri = (char *) uri,
                                .memory_mib = req->memory_mib,
                                .reason = (char *) req->reason,
                                .copy_storage = req->copy_storage,
                                .remove_source_storage = req->remove_source_storage,
                                .disk_mib = req->disk_mib,
                                .remote = req->remote,
                                .target_uri = req->remote ? (char *) req->target_uri : NULL,
                                .parallel_connections = req->remote ? req->parallel_connections : 0,
                                .compression = req->remote ? (uint8_t) req->compression : 0,
                                .remote_bandwidth_mib_s = req->remote ? req->remote_bandwidth_mib_s : 0,
                        },
        };
        k = cluster_send(m->cluster, &msg);
        if (k < 0) {
                order_remove(m, m->n_orders - 1);
                return k;
        }
        if (!manual)
                manager_record_move_started(m, req, "Ordered the migration of", "ordered");
        return 0;
}

static int cluster_order_migration(Manager *m, const MigrationRequest *req) {
        return order_migration(m, req, false);
}

/* drsctl migrate on the leader: ordered to the VM's host's drsd like a planned move; every drsd
 * records the outcome (the drsctl waiting for it may talk to any of them). */
static int cluster_manual_migration(Manager *m, const MigrationRequest *req) {
        return order_migration(m, req, true);
}

/* drsctl move-storage on the leader: a STORAGE_MOVE order to the VM's host's drsd. */
static int cluster_storage_move(Manager *m, const StorageMoveRequest *req) {
        int k;

        if (!m->cluster || !cluster_is_leader(m->cluster))
                return -EREMOTE;
        if (!cluster_host_nodeid(m->cluster, req->host))
                return -EHOSTDOWN;
        if (MIN(host_protocol(m, req->host), cluster_max_version(m->cluster)) < 2)
                return -EPROTONOSUPPORT;
        for (size_t i = 0; i < m->n_orders; i++)
                if (streq(m->orders[i].vm, req->vm))
                        return -EBUSY;
        Order *o = order_add(m, req->vm, req->host, req->pool, true, true);
        if (!o)
                return -ENOMEM;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_STORAGE_MOVE,
                .storage_move =
                        {
                                .order_id = o->id,
                                .vm = (char *) req->vm,
                                .host = (char *) req->host,
                                .pool = (char *) req->pool,
                                .disk = (char *) req->disk,
                                .remove_source = req->remove_source,
                                .force = req->force,
                                .bandwidth_mib_s = req->bandwidth_mib_s,
                        },
        };
        k = cluster_send(m->cluster, &msg);
        if (k < 0)
                order_remove(m, m->n_orders - 1);
        return k;
}

/* The source side: a MIGRATE order for this host. */
typedef struct OrderContext {
        Manager *manager;
        uint64_t order_id;
        uint64_t term;
        uint16_t version; /* of the order: the RESULT goes in the same version */
        bool manual;
} OrderContext;

/* o: the outcome's version-2 fields (NULL: none, e.g. a refusal). */
static void send_result(
        Manager *m, uint64_t order_id, uint64_t term, uint16_t version, const char *vm, const char *source,
        const char *target, MigrationResult r, uint64_t duration_ms, uint64_t downtime_ms,
        const char *message, const MigrationOutcome *o) {
        ClusterMsg msg = {
                .type = CLUSTER_MSG_RESULT,
                .version = version ?: 1,
                .result =
                        {
                                .order_id = order_id,
                                .order_term = term,
                                .vm = (char *) vm,
                                .source = (char *) source,
                                .target = (char *) target,
                                .result = (uint8_t) r,
                                .duration_ms = duration_ms,
                                .downtime_ms = downtime_ms,
                                .message = (char *) message,
                        },
        };
        if (o && msg.version >= 2) {
                msg.result.disks_copied = o->disks_copied;
                msg.result.disk_bytes = o->disk_bytes;
                msg.result.source_storage_removed = o->source_storage_removed;
                msg.result.encryption = (uint8_t) o->encryption;
                /* A success has no message: it carries why the migration went plain. */
                if (!msg.result.message && o->encryption == MIGRATION_ENCRYPTION_PLAIN_FALLBACK)
                        msg.result.message = o->encryption_note;
        }
        int k = m->cluster ? cluster_send(m->cluster, &msg) : -ENOTCONN;
        if (k < 0)
                log_warning_errno(k, "Failed to report the result of the migration of '%s': %m", vm);
}

static void on_local_migration_done(const MigrationRequest *req, const MigrationOutcome *o, void *userdata) {
        OrderContext *ctx = userdata;
        Manager *m = ctx->manager;

        if (ctx->manual)
                manager_record_migration(m, req, o, false);
        else
                manager_migration_finished(m, req, o);
        send_result(
                m, ctx->order_id, ctx->term, ctx->version, req->vm, req->source, req->target, o->result,
                o->duration_ms, o->downtime_ms, o->message, o);
        free(ctx);
        report_now(m);
}

static void take_migrate_order(Manager *m, const ClusterMsg *msg) {
        const ClusterMigrate *o = &msg->migrate;
        const DrsHostConfig *hc;
        int k;

        if (!m->local_host || !streq(o->source, m->local_host))
                return;
        if (!cluster_order_ok(m->cluster, msg->sender, msg->term)) {
                log_warning(
                        "Refusing the order to migrate '%s' from node %" PRIu32 " in term %" PRIu64
                        ": not the current leader and term (leader %" PRIu32 ", term %" PRIu64 ", %s)",
                        o->vm, msg->sender, msg->term, cluster_leader(m->cluster), cluster_term(m->cluster),
                        cluster_quorate(m->cluster) ? "quorate" : "not quorate");
                HistoryEvent e = {
                        .type = (char *) "migration",
                        .vm = o->vm,
                        .source = o->source,
                        .target = o->target,
                        .reason = o->reason,
                        .result = (char *) "refused",
                        .message = (char *) "order refused: stale term, not from the leader, or not quorate",
                };
                manager_record(m, LOG_WARNING, DRS_MESSAGE_MIGRATION_FAILED, &e);
                send_result(
                        m, o->order_id, msg->term, msg->version, o->vm, o->source, o->target,
                        MIGRATION_SKIPPED, 0, 0,
                        "refused by the source: stale term, not from the leader, or not quorate", NULL);
                return;
        }
        hc = drs_config_find_host(m->config, m->local_host);
        OrderContext *ctx = calloc(1, sizeof(OrderContext));
        if (!ctx) {
                log_oom();
                return;
        }
        *ctx = (OrderContext){
                .manager = m,
                .order_id = o->order_id,
                .term = msg->term,
                .version = msg->version,
                .manual = streq(o->reason, "manual"),
        };
        MigrationRequest req = {
                .vm = o->vm,
                .source = o->source,
                .target = o->target,
                .source_uri = hc && hc->uri ? hc->uri : MANAGER_LOCAL_URI,
                .target_uri = o->target_uri ?: o->target_migration_uri,
                .target_migration_uri = o->target_migration_uri,
                .memory_mib = o->memory_mib,
                .reason = o->reason,
                .copy_storage = o->copy_storage,
                .remove_source_storage = o->remove_source_storage,
                .disk_mib = o->disk_mib,
                .remote = o->remote,
                .parallel_connections = o->parallel_connections,
                .compression = (MigrationCompression) o->compression,
                .remote_bandwidth_mib_s = o->remote_bandwidth_mib_s,
        };
        k = m->executor ? executor_submit(m->executor, &req, on_local_migration_done, ctx) : -ENXIO;
        if (k < 0) {
                free(ctx);
                _cleanup_free_ char *why = NULL;
                if (asprintf(
                            &why, "not started by the source: %s",
                            k == -EBUSY ? "the VM already has a migration" : strerror(-k)) < 0)
                        why = NULL;
                send_result(
                        m, o->order_id, msg->term, msg->version, o->vm, o->source, o->target,
                        MIGRATION_SKIPPED, 0, 0, why, NULL);
                return;
        }
        _cleanup_free_ char *text = NULL;
        if (asprintf(
                    &text,
                    "Migrating '%s' from '%s' to '%s' (%s%s; order %" PRIu64 " of node %" PRIu32
                    ", term %" PRIu64 ")",
                    o->vm, o->source, o->target, o->reason,
                    o->copy_storage ? ", copying the disks the target cannot see" : "", o->order_id,
                    msg->sender, msg->term) < 0)
                text = NULL;
        HistoryEvent e = {
                .type = (char *) "migration",
                .vm = o->vm,
                .source = o->source,
                .target = o->target,
                .reason = o->reason,
                .result = (char *) "started",
                .message = text,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_MIGRATION_STARTED, &e);
        report_now(m); /* the VM is busy now: every drsd should know */
}

/* Manual orders seen go by (term, order id): every drsd records their outcome, since the drsctl
 * that waits for it may talk to any of them. */
static void manual_seen_add(
        Manager *m, uint64_t term, uint64_t order_id, const char *vm, const char *source, bool storage) {
        ManualSeen *x = &m->manual_seen[m->manual_seen_next];
        *x = (ManualSeen){.term = term, .order_id = order_id, .storage = storage};
        (void) snprintf(x->vm, sizeof(x->vm), "%s", vm);
        (void) snprintf(x->source, sizeof(x->source), "%s", source);
        m->manual_seen_next = (m->manual_seen_next + 1) % ELEMENTSOF(m->manual_seen);
}

/* The drsd of host left: a manual migration or storage move it was running ends without a
 * RESULT (STORAGE_DONE). Every drsd says so in its history (a drsctl waiting for the outcome
 * stops waiting, and says where to look). */
static void manual_seen_source_left(Manager *m, const char *host) {
        for (size_t i = 0; i < ELEMENTSOF(m->manual_seen); i++) {
                ManualSeen *x = &m->manual_seen[i];
                if (x->order_id == 0 || !streq(x->source, host))
                        continue;
                _cleanup_free_ char *text = NULL;
                if (asprintf(
                            &text,
                            x->storage
                                    ? "The drsd of '%s' left the cluster during the storage move of '%s': its outcome is not known; 'virsh domblklist %s' on '%s' shows its disks now"
                                    : "The drsd of '%s' left the cluster during the manual migration of '%s': its outcome is not known; 'drsctl vms' shows where '%s' runs now",
                            host, x->vm, x->vm, host) < 0)
                        text = NULL;
                HistoryEvent e = {
                        .type = (char *) (x->storage ? "storage" : "migration"),
                        .vm = x->vm,
                        .source = x->source,
                        .reason = (char *) "manual",
                        .result = (char *) "unknown",
                        .message = text,
                };
                manager_record(
                        m, LOG_WARNING, x->storage ? DRS_MESSAGE_STORAGE_MOVE : DRS_MESSAGE_MIGRATION_FAILED,
                        &e);
                *x = (ManualSeen){};
        }
}

static bool manual_seen_take(Manager *m, uint64_t term, uint64_t order_id) {
        for (size_t i = 0; i < ELEMENTSOF(m->manual_seen); i++)
                if (m->manual_seen[i].order_id == order_id && m->manual_seen[i].term == term &&
                    order_id != 0) {
                        m->manual_seen[i] = (ManualSeen){};
                        return true;
                }
        return false;
}

/* The outcome of a migration another drsd ran, in this drsd's journal and history. */
static void record_remote_result(Manager *m, const ClusterMsg *msg, const char *reason) {
        const ClusterResult *r = &msg->result;
        bool ok = r->result == MIGRATION_OK;
        _cleanup_free_ char *text = NULL;
        char disks[160] = "";

        if (r->disks_copied > 0)
                (void) snprintf(
                        disks, sizeof(disks), ", %" PRIu32 " disk(s) copied (%.1f MiB), source volumes %s",
                        r->disks_copied, (double) r->disk_bytes / 1048576.0,
                        r->source_storage_removed ? "removed" : "kept");
        bool note_in_message = ok && r->encryption == MIGRATION_ENCRYPTION_PLAIN_FALLBACK;
        MigrationOutcome o = {
                .result = (MigrationResult) r->result,
                .encryption = (MigrationEncryption) r->encryption,
                .encryption_note = note_in_message ? r->message : NULL,
        };
        if (asprintf(
                    &text, "Migration of '%s' from '%s' to '%s' (%s) %s (reported by '%s')%s%s%s%s", r->vm,
                    r->source, r->target, reason,
                    ok ? "completed" : migration_result_to_string((MigrationResult) r->result), r->source,
                    disks, manager_encryption_note(&o), r->message && !note_in_message ? ": " : "",
                    r->message && !note_in_message ? r->message : "") < 0)
                text = NULL;
        HistoryEvent e = {
                .type = (char *) "migration",
                .vm = r->vm,
                .source = r->source,
                .target = r->target,
                .reason = (char *) reason,
                .result =
                        (char *) (ok ? "completed" : migration_result_to_string((MigrationResult) r->result)),
                .duration_ms = r->duration_ms,
                .downtime_ms = r->downtime_ms,
                .message = text,
                /* A RESULT of version 1 does not say. */
                .encryption =
                        msg->version >= 2 ? (char *) migration_encryption_to_string(o.encryption) : NULL,
        };
        manager_record(
                m, ok ? LOG_INFO : LOG_WARNING,
                ok ? DRS_MESSAGE_MIGRATION_COMPLETED : DRS_MESSAGE_MIGRATION_FAILED, &e);
}

/* Every drsd: a migration ended somewhere. */
static void take_result(Manager *m, const ClusterMsg *msg) {
        const ClusterResult *r = &msg->result;
        bool ok = r->result == MIGRATION_OK;
        bool source = streq_ptr(m->local_host, r->source);
        bool manual = manual_seen_take(m, r->order_term, r->order_id);

        if (r->result != MIGRATION_SKIPPED && m->pass && !(manual && !ok) &&
            move_log_set(&m->pass->moves, r->vm, manager_realtime_usec()) < 0)
                log_oom();
        if (ok)
                manager_note_moved(m, r->vm, r->source, r->target);
        /* The source recorded it in its own history; a manual one every other drsd records too. */
        if (manual && !source)
                record_remote_result(m, msg, "manual");
        if (!cluster_is_leader(m->cluster))
                return;
        ssize_t i = order_find(m, r->order_id);
        if (i < 0)
                return; /* another leader's order (an earlier term) */
        bool was_manual = m->orders[i].manual;
        order_remove(m, (size_t) i);
        if (was_manual)
                return;
        /* The leader records a planned move when it is not the source. */
        if (!source)
                record_remote_result(m, msg, "order");
        manager_run_move_done(m, r->vm, ok);
}

/* ---- storage moves (protocol version 2) --------------------------------------------------------- */

typedef struct StorageOrderContext {
        Manager *manager;
        uint64_t order_id;
        uint64_t term;
} StorageOrderContext;

static void send_storage_done(
        Manager *m, uint64_t order_id, uint64_t term, const StorageMoveRequest *req,
        const StorageMoveOutcome *o, const char *refusal) {
        _cleanup_free_ char *moved = NULL;
        for (char **l = o ? o->moved : NULL; l && *l; l++) {
                char *n = NULL;
                if (asprintf(&n, "%s%s%s", moved ?: "", moved ? "; " : "", *l) < 0)
                        break;
                free(moved);
                moved = n;
        }
        ClusterMsg msg = {
                .type = CLUSTER_MSG_STORAGE_DONE,
                .storage_done =
                        {
                                .order_id = order_id,
                                .order_term = term,
                                .vm = (char *) req->vm,
                                .host = (char *) req->host,
                                .pool = (char *) req->pool,
                                .ok = o && o->error == 0,
                                .duration_ms = o ? o->duration_ms : 0,
                                .bytes = o ? o->bytes : 0,
                                .source_removed = o && o->source_removed,
                                .moved = moved && strlen(moved) <= CLUSTER_JSON_MAX ? moved : NULL,
                                .message = (char *) (refusal ?: o ? o->message : NULL),
                                .warning = o ? o->warning : NULL,
                        },
        };
        int k = m->cluster ? cluster_send(m->cluster, &msg) : -ENOTCONN;
        if (k < 0)
                log_warning_errno(k, "Failed to report the end of the storage move of '%s': %m", req->vm);
}

static void
on_ordered_storage_move_done(const StorageMoveRequest *req, const StorageMoveOutcome *o, void *userdata) {
        StorageOrderContext *ctx = userdata;
        Manager *m = ctx->manager;

        manager_record_storage_move(m, req, o);
        send_storage_done(m, ctx->order_id, ctx->term, req, o, NULL);
        free(ctx);
        report_now(m);
}

/* The VM's host: a STORAGE_MOVE order. */
static void take_storage_move_order(Manager *m, const ClusterMsg *msg) {
        const ClusterStorageMove *o = &msg->storage_move;
        const DrsHostConfig *hc;
        int k;

        if (!m->local_host || !streq(o->host, m->local_host))
                return;
        hc = drs_config_find_host(m->config, m->local_host);
        StorageMoveRequest req = {
                .vm = o->vm,
                .host = o->host,
                .uri = hc && hc->uri ? hc->uri : MANAGER_LOCAL_URI,
                .pool = o->pool,
                .disk = o->disk,
                .remove_source = o->remove_source,
                .force = o->force,
                .bandwidth_mib_s = o->bandwidth_mib_s,
        };
        if (!cluster_order_ok(m->cluster, msg->sender, msg->term)) {
                log_warning(
                        "Refusing the order to move the storage of '%s' from node %" PRIu32
                        " in term %" PRIu64 ": not the current leader and term",
                        o->vm, msg->sender, msg->term);
                send_storage_done(
                        m, o->order_id, msg->term, &req, NULL,
                        "refused by the VM's host: stale term, not from the leader, or not quorate");
                return;
        }
        StorageOrderContext *ctx = calloc(1, sizeof(StorageOrderContext));
        if (!ctx) {
                log_oom();
                return;
        }
        *ctx = (StorageOrderContext){.manager = m, .order_id = o->order_id, .term = msg->term};
        k = manager_start_storage_move_here(m, &req, on_ordered_storage_move_done, ctx);
        if (k < 0) {
                free(ctx);
                _cleanup_free_ char *why = NULL;
                if (asprintf(
                            &why, "not started by the VM's host: %s",
                            k == -EBUSY        ? "its storage is being moved already"
                            : k == -EOPNOTSUPP ? "storage moves are not supported there"
                                               : strerror(-k)) < 0)
                        why = NULL;
                send_storage_done(
                        m, o->order_id, msg->term, &req, NULL, why ?: "not started by the VM's host");
                return;
        }
        _cleanup_free_ char *text = NULL;
        if (asprintf(
                    &text,
                    "Moving the storage of '%s' on '%s' to pool '%s' (%s%s; order %" PRIu64
                    " of node %" PRIu32 ")",
                    o->vm, o->host, o->pool, o->disk ? "disk " : "every disk", o->disk ?: "", o->order_id,
                    msg->sender) < 0)
                text = NULL;
        HistoryEvent e = {
                .type = (char *) "storage",
                .vm = o->vm,
                .source = o->host,
                .target = o->pool,
                .reason = (char *) "manual",
                .result = (char *) "started",
                .message = text,
        };
        manager_record(m, LOG_INFO, DRS_MESSAGE_STORAGE_MOVE, &e);
}

/* Every drsd: a storage move ended (the VM's host recorded it already). */
static void take_storage_done(Manager *m, const ClusterMsg *msg) {
        const ClusterStorageDone *d = &msg->storage_done;

        if (cluster_is_leader(m->cluster)) {
                ssize_t i = order_find(m, d->order_id);
                if (i >= 0)
                        order_remove(m, (size_t) i);
        }
        if (streq_ptr(m->local_host, d->host))
                return;
        _cleanup_strv_free_ char **moved = NULL;
        if (d->moved) {
                /* Back into the list the recorder expects ("; "-separated on the wire). */
                const char *p = d->moved;
                while (p && *p) {
                        const char *e = strstr(p, "; ");
                        _cleanup_free_ char *one = e ? strndup(p, (size_t) (e - p)) : strdup(p);
                        if (!one || strv_extend(&moved, one) < 0)
                                break;
                        p = e ? e + 2 : NULL;
                }
        }
        StorageMoveRequest req = {.vm = d->vm, .host = d->host, .pool = d->pool};
        StorageMoveOutcome o = {
                .error = d->ok ? 0 : -EIO,
                .message = d->message,
                .warning = d->warning,
                .moved = moved,
                .bytes = d->bytes,
                .duration_ms = d->duration_ms,
                .source_removed = d->source_removed,
        };
        manager_record_storage_move(m, &req, &o);
}

/* ---- host modes ----------------------------------------------------------------------------------- */

static int cluster_set_mode(Manager *m, const char *host, HostMode mode, const char *reason) {
        int k;

        if (m->local_host && streq(host, m->local_host)) {
                k = manager_set_local_host_mode(m, host, mode, reason);
                if (k > 0)
                        report_now(m);
                return k;
        }

        /* Another host's mode: its own drsd sets it, on the leader's order. */
        HostMode old = manager_host_mode(m, host);
        if (old == mode)
                return 0;
        if (!m->cluster || !cluster_is_leader(m->cluster))
                return -EREMOTE;
        if (!cluster_host_nodeid(m->cluster, host))
                return -EHOSTDOWN;
        Peer *p = peer_get(m, host);
        if (!p)
                return -ENOMEM;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_SET_MODE,
                .set_mode =
                        {.order_id = ++m->next_order_id,
                         .host = (char *) host,
                         .mode = mode,
                         .reason = (char *) reason},
        };
        k = cluster_send(m->cluster, &msg);
        if (k < 0)
                return log_warning_errno(
                        k, "Failed to order host '%s' to %s: %m", host, host_mode_to_string(mode));
        peer_expect_mode(m, p, mode);
        free(p->pending_reason);
        p->pending_reason = reason ? strdup(reason) : NULL;
        p->pending_resends = 0;
        manager_record_mode_change(m, host, old, mode, reason, " — ordered");
        return 1;
}

static void take_set_mode_order(Manager *m, const ClusterMsg *msg) {
        const ClusterSetMode *o = &msg->set_mode;

        if (!m->local_host || !streq(o->host, m->local_host))
                return;
        if (!cluster_order_ok(m->cluster, msg->sender, msg->term)) {
                log_warning(
                        "Refusing the order to set host '%s' %s from node %" PRIu32 " in term %" PRIu64
                        ": not the current leader and term",
                        o->host, host_mode_to_string(o->mode), msg->sender, msg->term);
                return;
        }
        int k = manager_set_host_mode(m, o->host, o->mode, o->reason);
        if (k == 0)
                report_now(m); /* confirm it anyway */
}

/* ---- forwarded requests ------------------------------------------------------------------------------ */

static const char *const forwarded_methods[] = {
        "drs.Plan",
        "drs.Apply",
        "drs.Evacuate",
        "drs.ExitMaintenance",
        "drs.PowerClear",
        "drs.Place",
        "drs.RolloutStart",
        "drs.RolloutStatus",
        "drs.RolloutPause",
        "drs.RolloutResume",
        "drs.RolloutAbort",
        "drs.ResetFeedback",
        "drs.Migrate",
        "drs.MoveStorage",
        NULL,
};

static void forward_remove(Manager *m, size_t i) {
        sd_event_source_disable_unref(m->forwards[i].timer);
        free(m->forwards[i].reply);
        memmove(&m->forwards[i], &m->forwards[i + 1], (m->n_forwards - i - 1) * sizeof(Forward));
        m->n_forwards--;
}

static void forward_fail(Manager *m, uint64_t id, const char *error, const char *message) {
        _cleanup_(json_object_putp) json_object *e = NULL;
        if (protocol_error_new(error, message, NULL, &e) >= 0 && m->control)
                (void) control_server_complete(m->control, id, e);
}

static int on_forward_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        for (size_t i = 0; i < m->n_forwards; i++)
                if (m->forwards[i].timer == s) {
                        uint64_t id = m->forwards[i].id;
                        forward_remove(m, i);
                        forward_fail(m, id, "drs.Timeout", "the leader did not answer in time");
                        break;
                }
        return 0;
}

static int no_leader_reply(Manager *m, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        if (asprintf(
                    &text, "no leader: %s",
                    m->cluster ? cluster_waiting_for(m->cluster) ?: "election in progress"
                               : "not connected to corosync") < 0)
                return -ENOMEM;
        return protocol_error_new("drs.NoLeader", text, NULL, ret);
}

static int forward_to_leader(
        Manager *m, const char *method, json_object *request, uint64_t id, json_object **ret_reply) {
        int k;

        /* Installed by cluster_start() only. */
        if (!strv_contains((char **) forwarded_methods, method))
                return 0;
        if (cluster_is_leader(m->cluster))
                return 0;
        uint32_t leader = m->cluster ? cluster_leader(m->cluster) : 0;
        if (leader == 0) {
                k = no_leader_reply(m, ret_reply);
                return k < 0 ? k : 0;
        }
        const char *text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        if (strlen(text) > CLUSTER_JSON_MAX) {
                k = protocol_error_new(
                        PROTOCOL_ERROR_INVALID_REQUEST, "request too large to forward to the leader", NULL,
                        ret_reply);
                return k < 0 ? k : 0;
        }
        Forward *n = reallocarray(m->forwards, m->n_forwards + 1, sizeof(Forward));
        if (!n)
                return -ENOMEM;
        m->forwards = n;
        Forward *f = &m->forwards[m->n_forwards];
        *f = (Forward){.id = id, .leader = leader};
        k = sd_event_add_time_relative(
                m->event, &f->timer, CLOCK_MONOTONIC, FORWARD_TIMEOUT_USEC, USEC_PER_SEC, on_forward_timeout,
                m);
        if (k < 0)
                return k;
        m->n_forwards++;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_REQUEST,
                .request = {.request_id = id, .to = leader, .json = (char *) text},
        };
        k = cluster_send(m->cluster, &msg);
        if (k < 0) {
                forward_remove(m, m->n_forwards - 1);
                return k;
        }
        log_debug("Forwarded %s to the leader (node %" PRIu32 ")", method, leader);
        return 1;
}

/* How much JSON one REPLY piece carries: CLUSTER_JSON_MAX; DRS_CLUSTER_REPLY_PIECE (bytes,
 * ≥ 16) makes it smaller so that the e2e tests see replies in many pieces. */
static size_t reply_piece_size(void) {
        const char *e = getenv("DRS_CLUSTER_REPLY_PIECE");
        unsigned long v;
        char *end;
        if (!e || !*e)
                return CLUSTER_JSON_MAX;
        errno = 0;
        v = strtoul(e, &end, 10);
        if (errno != 0 || *end || v < 16 || v > CLUSTER_JSON_MAX)
                return CLUSTER_JSON_MAX;
        return v;
}

static void send_reply(Manager *m, uint32_t to, uint64_t id, json_object *reply) {
        const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
        _cleanup_(json_object_putp) json_object *e = NULL;
        size_t piece = reply_piece_size(), len = text ? strlen(text) : 0;
        size_t n = len == 0 ? 1 : (len + piece - 1) / piece;
        if (text && n > CLUSTER_REPLY_MAX_PARTS) {
                _cleanup_free_ char *why = NULL;
                if (asprintf(
                            &why,
                            "the leader's reply (%zu bytes) is too large to relay over corosync (at most %u "
                            "KiB): run the command on the leader's host",
                            len, (unsigned) (CLUSTER_REPLY_MAX_PARTS * CLUSTER_JSON_MAX / 1024)) < 0 ||
                    protocol_error_new(PROTOCOL_ERROR_INTERNAL, why, NULL, &e) < 0)
                        return;
                text = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
                len = text ? strlen(text) : 0;
                n = 1;
        }
        if (!text)
                return;
        /* Pieces from one sender are delivered in order (CPG agreed order): the forwarding
         * agent concatenates them (take_reply). */
        for (size_t i = 0; i < n; i++) {
                size_t off = i * piece, l = len - off < piece ? len - off : piece;
                _cleanup_free_ char *part = strndup(text + off, l);
                if (!part) {
                        log_oom();
                        return;
                }
                ClusterMsg msg = {
                        .type = CLUSTER_MSG_REPLY,
                        .reply =
                                {.request_id = id,
                                 .to = to,
                                 .part = (uint16_t) i,
                                 .n_parts = (uint16_t) n,
                                 .json = part},
                };
                int k = cluster_send(m->cluster, &msg);
                if (k < 0) {
                        log_warning_errno(k, "Failed to send a reply to node %" PRIu32 ": %m", to);
                        return;
                }
        }
}

static void take_request(Manager *m, const ClusterMsg *msg) {
        _cleanup_(json_object_putp) json_object *req = NULL, *reply = NULL;
        const char *err = NULL;

        if (msg->request.to != cluster_nodeid(m->cluster))
                return;
        if (!cluster_is_leader(m->cluster)) {
                if (no_leader_reply(m, &reply) >= 0)
                        send_reply(m, msg->sender, msg->request.request_id, reply);
                return;
        }
        int k = protocol_parse_message(msg->request.json, strlen(msg->request.json), &req, &err);
        if (k < 0) {
                if (protocol_error_new(
                            PROTOCOL_ERROR_INVALID_REQUEST, err ?: "malformed forwarded request", NULL,
                            &reply) >= 0)
                        send_reply(m, msg->sender, msg->request.request_id, reply);
                return;
        }
        k = control_server_call(m->control, req, &reply);
        if (k < 0) {
                log_warning_errno(k, "Failed to run a forwarded request: %m");
                return;
        }
        log_info(
                "Ran a request forwarded by node %" PRIu32 " (%s)", msg->sender,
                cluster_node_host(m->cluster, msg->sender) ?: "?");
        send_reply(m, msg->sender, msg->request.request_id, reply);
}

static void take_reply(Manager *m, const ClusterMsg *msg) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        const char *err = NULL;

        if (msg->reply.to != cluster_nodeid(m->cluster))
                return;
        for (size_t i = 0; i < m->n_forwards; i++) {
                Forward *f = &m->forwards[i];
                if (f->id != msg->reply.request_id)
                        continue;
                if (msg->reply.part != f->next_part) {
                        forward_remove(m, i);
                        forward_fail(
                                m, msg->reply.request_id, PROTOCOL_ERROR_INTERNAL,
                                "the leader's reply arrived out of order");
                        return;
                }
                size_t l = strlen(msg->reply.json);
                char *b = realloc(f->reply, f->reply_len + l + 1);
                if (!b) {
                        log_oom();
                        forward_remove(m, i);
                        forward_fail(m, msg->reply.request_id, PROTOCOL_ERROR_INTERNAL, "out of memory");
                        return;
                }
                memcpy(b + f->reply_len, msg->reply.json, l + 1);
                f->reply = b;
                f->reply_len += l;
                if (++f->next_part < msg->reply.n_parts)
                        return; /* more pieces to come */
                _cleanup_free_ char *text = TAKE_PTR(f->reply);
                size_t text_len = f->reply_len;
                forward_remove(m, i);
                if (protocol_parse_message(text, text_len, &reply, &err) < 0) {
                        forward_fail(
                                m, msg->reply.request_id, PROTOCOL_ERROR_INTERNAL,
                                "malformed reply from the leader");
                        return;
                }
                if (m->control)
                        (void) control_server_complete(m->control, msg->reply.request_id, reply);
                return;
        }
}

/* ---- power-off orders (DPM standby) ---------------------------------------------------------------- */

static void set_host_mode_logged(Manager *m, const char *host, HostMode mode, const char *reason) {
        int k = manager_set_host_mode(m, host, mode, reason);
        if (k < 0 && k != -ENOMEM)
                log_warning_errno(k, "Cannot set host '%s' %s: %m", host, host_mode_to_string(mode));
}

static int on_standby_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->standby_wait = sd_event_source_disable_unref(m->standby_wait);
        log_warning(
                "The standby announcement of '%s' did not come back through the cluster: not powering off",
                m->local_host);
        set_host_mode_logged(
                m, m->local_host, HOST_MODE_UP, "DPM: the standby announcement was not delivered");
        return 0;
}

/* Cluster mode, on the standby host's own drsd (the leader's POWER_OFF order): only when its
 * libvirt reports no running VM; the host announces standby, runs the command once that
 * announcement came back through CPG (local_power_off_go(); it cannot announce after),
 * and comes back up if it does not come back in time or the command fails. */
static void local_power_off(Manager *m) {
        const char *h = m->local_host;
        const HostReport *r = h && m->collector ? collector_get(m->collector, h) : NULL;
        int k;

        if (!h)
                return;
        if (!m->pass || leader_pass_power_find(m->pass, h) ||
            m->standby_wait) /* a repeated order: already under way */
                return;
        if (!r || r->t_usec == 0 || collector_host_is_stale(m->collector, h, hv_now_usec()) ||
            r->n_vms > 0 ||
            (m->executor && executor_n_running(m->executor) + executor_n_queued(m->executor) > 0)) {
                log_warning(
                        "Not powering off '%s': its libvirt %s", h,
                        r && r->n_vms > 0 ? "still reports running VMs" : "has no fresh report");
                return;
        }
        k = sd_event_add_time_relative(
                m->event, &m->standby_wait, CLOCK_MONOTONIC,
                STANDBY_WAIT_INTERVALS * m->config->interval_s * USEC_PER_SEC, USEC_PER_SEC,
                on_standby_wait_timeout, m);
        if (k < 0) {
                log_error_errno(k, "Failed to arm the standby timer: %m");
                return;
        }
        /* Announces it (manager_set_host_mode multicasts the report); the command starts
         * when the report is delivered back: local_power_off_go(). */
        if (state_get(m->state, h) == HOST_MODE_STANDBY)
                report_now(m);
        else
                set_host_mode_logged(m, h, HOST_MODE_STANDBY, "DPM: low demand");
}

static void local_power_off_go(Manager *m) {
        const char *h = m->local_host;

        if (!m->standby_wait || !h)
                return;
        m->standby_wait = sd_event_source_disable_unref(m->standby_wait);
        if (state_get(m->state, h) != HOST_MODE_STANDBY)
                return; /* changed its mind meanwhile (an operator, a new order) */
        if (!m->pass || leader_pass_power_start(m->pass, h, POWER_STANDBY, manager_now()) < 0)
                set_host_mode_logged(m, h, HOST_MODE_UP, "DPM: the power-off command could not run");
}

static void take_power_off_order(Manager *m, const ClusterMsg *msg) {
        if (!m->local_host || !streq(msg->power_off.host, m->local_host))
                return;
        if (!cluster_order_ok(m->cluster, msg->sender, msg->term)) {
                log_warning(
                        "Refusing a power-off order from node %" PRIu32 " in term %" PRIu64
                        ": not the current leader and term",
                        msg->sender, msg->term);
                return;
        }
        local_power_off(m);
}

static int cluster_order_power_off(Manager *m, const char *host) {
        if (!m->cluster || !cluster_is_leader(m->cluster))
                return -EREMOTE;
        if (!cluster_host_nodeid(m->cluster, host))
                return -EHOSTDOWN;
        Peer *p = peer_get(m, host);
        if (!p)
                return -ENOMEM;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_POWER_OFF,
                .power_off = {.order_id = ++m->next_order_id, .host = (char *) host},
        };
        int k = cluster_send(m->cluster, &msg);
        if (k < 0)
                return k;
        /* The host is off the leader's draining list from now on: until its drsd announces
         * standby (or the wait ends and it still says up, having refused), it is shown as
         * standby, so that no pass plans a move onto the host about to power off. */
        peer_expect_mode(m, p, HOST_MODE_STANDBY);
        return 0;
}

/* ---- rolling maintenance: the leader's state on every drsd -------------------------------------------- */

/* The leader saved its rollout: every member keeps a copy (agreed order: all have the same). A
 * rollout too large for one message (thousands of hosts) stays on the leader only. */
static void cluster_rollout_saved(Manager *m, const char *json) {
        if (!m->cluster || !cluster_is_leader(m->cluster))
                return;
        ClusterMsg msg = {.type = CLUSTER_MSG_ROLLOUT, .rollout = {.json = (char *) json}};
        int k = cluster_send(m->cluster, &msg);
        if (k < 0)
                log_warning_errno(k, "Failed to send the rollout state to the other drsds: %m");
}

static void take_rollout(Manager *m, const ClusterMsg *msg) {
        /* Our own, or an old leader's: only the current leader's copy counts. */
        if (msg->sender == cluster_nodeid(m->cluster))
                return;
        if (msg->sender != cluster_leader(m->cluster) || msg->term != cluster_term(m->cluster)) {
                log_info(
                        "Ignoring a rollout state from node %" PRIu32 " (term %" PRIu64
                        "): not the current leader",
                        msg->sender, msg->term);
                return;
        }
        (void) manager_rollout_store(m, msg->rollout.json);
}

/* The command of the leader's own host: its reboot ends this leadership, so another member runs
 * it (the first configured host that is a member now and not in a step of the rollout) and
 * multicasts the outcome; the next leader, which finds the host in "command" with a live runner,
 * waits for it. */
static uint32_t cluster_rollout_runner(Manager *m, const char *host, const Rollout *r) {
        if (!m->cluster || !m->local_host || !streq(host, m->local_host))
                return 0;
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                uint32_t node = cluster_host_nodeid(m->cluster, h);
                if (streq(h, m->local_host) || node == 0)
                        continue;
                const RolloutHost *rh = rollout_find((Rollout *) r, h);
                if (rh && rh->state != ROLLOUT_HOST_DONE && rh->state != ROLLOUT_HOST_SKIPPED &&
                    !(rh->state == ROLLOUT_HOST_PENDING && rh->wave > r->wave))
                        continue;
                return node;
        }
        log_warning(
                "Rollout: no other drsd can run the command of this leader's host '%s': running it here",
                host);
        return 0;
}

static bool cluster_rollout_runner_alive(Manager *m, uint32_t runner) {
        const char *h = m->cluster ? cluster_node_host(m->cluster, runner) : NULL;
        return h && cluster_host_nodeid(m->cluster, h) == runner;
}

static int cluster_order_rollout_command(
        Manager *m, uint32_t runner, const char *host, const char *command, uint64_t timeout_s,
        bool health) {
        if (!m->cluster || !cluster_is_leader(m->cluster))
                return -EREMOTE;
        ClusterMsg msg = {
                .type = CLUSTER_MSG_ROLLOUT_RUN,
                .rollout_run =
                        {.to = runner,
                         .host = (char *) host,
                         .command = (char *) command,
                         .timeout_s = timeout_s,
                         .health = health},
        };
        log_info(
                "Rollout: node %" PRIu32 " (%s) runs the %s of this leader's host '%s'", runner,
                cluster_node_host(m->cluster, runner) ?: "?", health ? "health check" : "command", host);
        return cluster_send(m->cluster, &msg);
}

static void take_rollout_run(Manager *m, const ClusterMsg *msg) {
        const ClusterRolloutRun *o = &msg->rollout_run;
        if (o->to != cluster_nodeid(m->cluster))
                return;
        if (!cluster_order_ok(m->cluster, msg->sender, msg->term)) {
                log_warning(
                        "Refusing a rollout command from node %" PRIu32 " (term %" PRIu64
                        "): not the current leader and term",
                        msg->sender, msg->term);
                return;
        }
        int k = manager_rollout_run(m, o->host, o->command, o->timeout_s, true);
        if (k < 0) {
                _cleanup_free_ char *why = NULL;
                if (asprintf(
                            &why, "node %" PRIu32 " cannot run it: %s", cluster_nodeid(m->cluster),
                            strerror(-k)) < 0)
                        why = NULL;
                m->source->rollout_command_done(m, o->host, false, why, 0);
        }
}

static void
cluster_rollout_command_done(Manager *m, const char *host, bool ok, const char *message, uint64_t ms) {
        ClusterMsg msg = {
                .type = CLUSTER_MSG_ROLLOUT_DONE,
                .rollout_done =
                        {.host = (char *) host, .ok = ok, .duration_ms = ms, .message = (char *) message},
        };
        int k = cluster_send(m->cluster, &msg);
        if (k < 0)
                log_warning_errno(k, "Failed to send the outcome of the rollout command of '%s': %m", host);
}

static void take_rollout_done(Manager *m, const ClusterMsg *msg) {
        if (!cluster_is_leader(m->cluster) || !m->pass)
                return;
        const ClusterRolloutDone *d = &msg->rollout_done;
        (void) leader_pass_rollout_command_done(
                m->pass, d->host, d->ok, d->message, d->duration_ms, manager_now());
}

/* ---- callbacks from the Cluster ---------------------------------------------------------------------- */

static void on_message(Cluster *c, const ClusterMsg *msg, void *userdata) {
        Manager *m = userdata;
        int k;

        switch (msg->type) {
        case CLUSTER_MSG_REPORT:
                k = peer_take_report(m, msg);
                if (k < 0)
                        log_warning_errno(k, "Failed to take the report of host '%s': %m", msg->report.host);
                if (cluster_is_leader(m->cluster))
                        manager_host_reported(m, msg->report.host);
                /* Our own standby announcement is back: every member has it, power off now. */
                if (msg->sender == cluster_nodeid(c) && m->local_host &&
                    streq(msg->report.host, m->local_host) && msg->report.mode == HOST_MODE_STANDBY)
                        local_power_off_go(m);
                break;
        case CLUSTER_MSG_MIGRATE:
                if (streq_ptr(msg->migrate.reason, "manual"))
                        manual_seen_add(
                                m, msg->term, msg->migrate.order_id, msg->migrate.vm, msg->migrate.source,
                                false);
                take_migrate_order(m, msg);
                break;
        case CLUSTER_MSG_STORAGE:
                k = take_storage(m, msg);
                if (k < 0)
                        log_warning_errno(
                                k, "Failed to take the storage facts of host '%s': %m", msg->storage.host);
                break;
        case CLUSTER_MSG_STORAGE_MOVE:
                manual_seen_add(
                        m, msg->term, msg->storage_move.order_id, msg->storage_move.vm,
                        msg->storage_move.host, true);
                take_storage_move_order(m, msg);
                break;
        case CLUSTER_MSG_STORAGE_DONE:
                (void) manual_seen_take(m, msg->storage_done.order_term, msg->storage_done.order_id);
                take_storage_done(m, msg);
                break;
        case CLUSTER_MSG_SET_MODE:
                take_set_mode_order(m, msg);
                break;
        case CLUSTER_MSG_RESULT:
                take_result(m, msg);
                break;
        case CLUSTER_MSG_REQUEST:
                take_request(m, msg);
                break;
        case CLUSTER_MSG_REPLY:
                take_reply(m, msg);
                break;
        case CLUSTER_MSG_POWER_OFF:
                take_power_off_order(m, msg);
                break;
        case CLUSTER_MSG_ROLLOUT:
                take_rollout(m, msg);
                break;
        case CLUSTER_MSG_ROLLOUT_RUN:
                take_rollout_run(m, msg);
                break;
        case CLUSTER_MSG_ROLLOUT_DONE:
                take_rollout_done(m, msg);
                break;
        default:
                break;
        }
}

/* Leadership changes go to the journal and the history: an operator (and the tests) can see
 * when a drsd was in a minority and therefore started nothing. */
_printf_(4, 5) static void record_leadership(
        Manager *m, int level, const char *result, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        HistoryEvent e = {
                .type = (char *) "cluster",
                .source = m->local_host,
                .result = (char *) result,
                .message = text,
        };
        manager_record(m, level, DRS_MESSAGE_LEADER_CHANGED, &e);
}

/* Queued migrations (orders not started yet) are not started without the leader that gave them. */
static void cancel_queued(Manager *m, const char *why) {
        unsigned n = m->executor ? executor_cancel_queued(m->executor, NULL) : 0;
        if (n > 0)
                log_notice("Cancelled %u queued migration(s): %s", n, why);
}

static void stop_leading(Manager *m) {
        log_notice("No longer the leader: dropping the plan in progress (running migrations finish)");
        manager_drop_plan(m);
        orders_clear(m);
}

static void on_leadership(Cluster *c, void *userdata) {
        Manager *m = userdata;
        uint32_t leader = cluster_leader(c);
        uint64_t term = cluster_term(c);
        bool me = cluster_is_leader(c), quorate = cluster_quorate(c) && cluster_connected(c);

        if (leader == 0) {
                /* A round without a decision yet (a drsd joined or left): keep the plan, order
                 * nothing until it decides. Without quorum (a minority, or corosync gone): stop. */
                if (quorate || m->last_leader == 0)
                        return;
                record_leadership(
                        m, LOG_WARNING, "no-leader", "No leader: %s; starting nothing new",
                        cluster_waiting_for(c) ?: "not quorate");
                cancel_queued(m, "quorum was lost");
                if (m->was_leader)
                        stop_leading(m);
                m->last_leader = 0;
                m->was_leader = false;
                return;
        }
        if (leader == m->last_leader && term == m->last_term)
                return;
        if (leader != m->last_leader)
                record_leadership(
                        m, LOG_NOTICE, me ? "leader" : "follower",
                        "Leader: node %" PRIu32 " (%s), term %" PRIu64 "%s", leader,
                        cluster_node_host(c, leader) ?: "host not known yet", term,
                        me ? " — this drsd" : "");
        else
                log_info(
                        "Leader: node %" PRIu32 " (%s) again, term %" PRIu64, leader,
                        cluster_node_host(c, leader) ?: "?", term);
        /* Orders queued here came from the previous leader: not started under the new one. */
        if (leader != m->last_leader)
                cancel_queued(m, "the leader changed");
        if (m->was_leader && !me)
                stop_leading(m);
        /* A new leader continues the rollout its predecessor saved (and every member kept). */
        if (me && !m->was_leader)
                (void) manager_rollout_load(m);
        m->last_leader = leader;
        m->last_term = term;
        m->was_leader = me;
        if (me)
                manager_request_pass(m, "leading");
}

static void on_left(Cluster *c, const uint32_t *nodeids, size_t n, void *userdata) {
        Manager *m = userdata;
        /* A member that ran a rollout command for the leader is gone: its outcome is unknown. */
        if (cluster_is_leader(c) && m->pass)
                for (size_t i = 0; i < n; i++)
                        leader_pass_rollout_runner_left(m->pass, nodeids[i], manager_now());
        for (size_t i = 0; i < n; i++) {
                const char *host = cluster_node_host(c, nodeids[i]);
                if (!host)
                        continue;
                /* Its next drsd may run another version: it says so with its STORAGE (or not). */
                Peer *p = peer_find(m, host);
                if (p)
                        peer_forget_storage(p);
                if (!streq_ptr(host, m->local_host))
                        manual_seen_source_left(m, host);
                /* Orders to a drsd that left have no result to wait for: its VMs show in the
                 * reports again when (if) it is back. */
                for (size_t j = 0; j < m->n_orders; j++) {
                        if (!streq(m->orders[j].source, host))
                                continue;
                        _cleanup_free_ char *vm = strdup(m->orders[j].vm);
                        bool manual = m->orders[j].manual;
                        order_remove(m, j);
                        j--;
                        if (manual)
                                log_warning(
                                        "The drsd of '%s' left the cluster: the outcome of the manual move of '%s' is not known",
                                        host, vm ?: "?");
                        else if (vm) {
                                log_warning(
                                        "The drsd of '%s' left the cluster: the move of '%s' counts as failed",
                                        host, vm);
                                manager_run_move_done(m, vm, false);
                        }
                }
        }
}

static void on_round(Cluster *c, void *userdata) {
        report_now(userdata);
}

/* ---- quorum ---------------------------------------------------------------------------------------- */

static void cluster_quorum(Manager *m, LeaderHost *hosts, size_t n_hosts, ProblemQuorum *ret) {
        ClusterVotes v = {};
        int k = m->cluster ? cluster_votes(m->cluster, &v) : -ENOTCONN;

        for (size_t i = 0; k >= 0 && i < n_hosts; i++) {
                uint32_t id = cluster_host_nodeid(m->cluster, hosts[i].config->name);
                hosts[i].votes = 0;
                if (id)
                        k = cluster_node_votes(m->cluster, id, &hosts[i].votes);
        }
        if (k < 0) {
                log_warning_errno(k, "Failed to read votequorum's votes, DPM powers nothing off: %m");
                *ret = (ProblemQuorum){.enabled = true, .quorum = 1, .total_votes = 0};
                return;
        }
        *ret = (ProblemQuorum){.enabled = true, .quorum = v.quorum, .total_votes = v.total_votes};
}

static int votequorum_json(Manager *m, json_object **ret) {
        static const struct {
                unsigned flag;
                const char *name;
        } flags[] = {
                {CLUSTER_VQ_TWO_NODE, "two_node"},
                {CLUSTER_VQ_WAIT_FOR_ALL, "wait_for_all"},
                {CLUSTER_VQ_LAST_MAN_STANDING, "last_man_standing"},
                {CLUSTER_VQ_AUTO_TIE_BREAKER, "auto_tie_breaker"},
                {CLUSTER_VQ_QDEVICE, "qdevice"},
        };
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *fl = json_object_new_array();
        ClusterVotes v = {};

        if (!o || !fl)
                return -ENOMEM;
        if (!m->cluster || cluster_votes(m->cluster, &v) < 0) {
                *ret = NULL;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if ((v.flags & flags[i].flag) &&
                    json_object_array_add(fl, json_object_new_string(flags[i].name)) < 0)
                        return -ENOMEM;
        if (json_object_object_add(o, "quorum", json_object_new_uint64(v.quorum)) < 0 ||
            json_object_object_add(o, "total_votes", json_object_new_uint64(v.total_votes)) < 0 ||
            json_object_object_add(o, "expected_votes", json_object_new_uint64(v.expected_votes)) < 0 ||
            json_object_object_add(o, "flags", TAKE_PTR(fl)) < 0 ||
            json_object_object_add(
                    o, "tolerate_failures", json_object_new_uint64(m->policy->dpm.tolerate_failures)) < 0)
                return -ENOMEM;
        if (manager_acting_leader(m) && m->pass &&
            (json_object_object_add(o, "dpm_limited", json_object_new_boolean(m->pass->dpm_quorum_limited)) <
                     0 ||
             json_object_object_add(
                     o, "votes_after_plan", json_object_new_uint64(m->pass->dpm_votes_after)) < 0))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- status ---------------------------------------------------------------------------------------- */

static int cluster_status_json(Manager *m, json_object *o) {
        _cleanup_(json_object_putp) json_object *cl = json_object_new_object(),
                                                *members = json_object_new_array();
        const Election *e = m->cluster ? cluster_election(m->cluster) : NULL;
        uint32_t leader = m->cluster ? cluster_leader(m->cluster) : 0;

        _cleanup_(json_object_putp) json_object *vq = NULL;

        if (!cl || !members || votequorum_json(m, &vq) < 0)
                return -ENOMEM;
        size_t n = 0;
        const uint32_t *ids = e ? election_members(e, &n) : NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *x = json_object_new_object();
                if (!x || json_object_array_add(members, x) < 0) {
                        json_object_put(x);
                        return -ENOMEM;
                }
                const char *h = cluster_node_host(m->cluster, ids[i]);
                const Peer *p = h ? peer_find(m, h) : NULL;
                if (json_object_object_add(x, "nodeid", json_object_new_int64(ids[i])) < 0 ||
                    (h && json_object_object_add(x, "host", json_object_new_string(h)) < 0) ||
                    (p && json_object_object_add(x, "protocol", json_object_new_int(p->protocol)) < 0))
                        return -ENOMEM;
                if (p && p->protocol < CLUSTER_MSG_VERSION) {
                        char text[256];
                        (void) snprintf(
                                text, sizeof(text),
                                "an older drsd (cluster protocol %u): no disk copies, migrations out of the cluster or storage moves are ordered to it",
                                p->protocol);
                        if (json_object_object_add(x, "older", json_object_new_string(text)) < 0)
                                return -ENOMEM;
                }
        }
        const char *lh = leader ? cluster_node_host(m->cluster, leader) : NULL;
        const char *why = m->cluster && !leader ? cluster_waiting_for(m->cluster) : NULL;
        if (json_object_object_add(cl, "host", json_object_new_string(m->local_host ?: "")) < 0 ||
            json_object_object_add(
                    cl, "connected", json_object_new_boolean(m->cluster && cluster_connected(m->cluster))) <
                    0 ||
            json_object_object_add(
                    cl, "nodeid", json_object_new_int64(m->cluster ? cluster_nodeid(m->cluster) : 0)) < 0 ||
            json_object_object_add(
                    cl, "quorate", json_object_new_boolean(m->cluster && cluster_quorate(m->cluster))) < 0 ||
            json_object_object_add(cl, "leader", json_object_new_int64(leader)) < 0 ||
            (lh && json_object_object_add(cl, "leader_host", json_object_new_string(lh)) < 0) ||
            json_object_object_add(
                    cl, "term", json_object_new_uint64(m->cluster ? cluster_term(m->cluster) : 0)) < 0 ||
            json_object_object_add(cl, "is_leader", json_object_new_boolean(manager_acting_leader(m))) < 0 ||
            (why && json_object_object_add(cl, "waiting_for", json_object_new_string(why)) < 0) ||
            json_object_object_add(cl, "orders_in_flight", json_object_new_uint64(m->n_orders)) < 0 ||
            json_object_object_add(
                    cl, "protocol",
                    json_object_new_int(
                            m->cluster ? cluster_max_version(m->cluster) : CLUSTER_MSG_VERSION)) < 0 ||
            json_object_object_add(cl, "members", TAKE_PTR(members)) < 0 ||
            (vq && json_object_object_add(cl, "votequorum", TAKE_PTR(vq)) < 0) ||
            json_object_object_add(o, "corosync", TAKE_PTR(cl)) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- start, stop ---------------------------------------------------------------------------------- */

/* The modes other hosts announced last (saved by peer_take_report()): a host in standby is
 * powered off and silent, and a leader that restarted must still know it can power it on. */
static int peers_load(Manager *m) {
        for (size_t i = 0; i < m->config->n_hosts; i++) {
                const char *h = m->config->hosts[i].name;
                const StateHost *sh = streq(h, m->local_host) ? NULL : state_find(m->state, h);
                if (!sh)
                        continue;
                Peer *p = peer_get(m, h);
                if (!p)
                        return log_oom();
                p->state.mode = sh->mode;
                p->state.since_usec = sh->since_usec;
                free(p->state.reason);
                p->state.reason = sh->reason ? strdup(sh->reason) : NULL;
                log_info(
                        "Host '%s' was %s when this drsd last heard from it", h,
                        host_mode_to_string(sh->mode));
        }
        return 0;
}

static int cluster_start(Manager *m) {
        static const ClusterCallbacks cb = {
                .message = on_message,
                .leadership = on_leadership,
                .left = on_left,
                .round = on_round,
        };
        char hostname[256] = {};
        int k;

        if (m->config->host)
                m->local_host = strdup(m->config->host);
        else {
                if (gethostname(hostname, sizeof(hostname) - 1) < 0)
                        return log_error_errno(-errno, "Failed to get the hostname: %m");
                hostname[strcspn(hostname, ".")] = 0;
                m->local_host = strdup(hostname);
        }
        if (!m->local_host)
                return log_oom();
        manager_power_meter_restart(m);
        if (!drs_config_find_host(m->config, m->local_host)) {
                log_error(
                        "This host '%s' is not in the 'hosts' list of '%s' (set 'host:' there)",
                        m->local_host, m->config_path);
                return -EINVAL;
        }
        k = peers_load(m);
        if (k < 0)
                return k;
        k = cluster_new(m->event, m->local_host, &cb, m, &m->cluster);
        if (k < 0)
                return log_error_errno(k, "Failed to set up corosync: %m");
        control_server_set_forward(m->control, forward_to_leader);
        /* Tests of mixed-version clusters: speak the previous protocol only (drsd(8)). */
        const char *pv = getenv("DRS_CLUSTER_PROTOCOL");
        if (pv && *pv) {
                char *end;
                unsigned long v = strtoul(pv, &end, 10);
                if (*end || v < CLUSTER_MSG_VERSION_MIN || v > CLUSTER_MSG_VERSION)
                        return log_error_errno(
                                -EINVAL,
                                "DRS_CLUSTER_PROTOCOL=%s: not a cluster protocol version from %u to %u", pv,
                                CLUSTER_MSG_VERSION_MIN, CLUSTER_MSG_VERSION);
                cluster_set_max_version(m->cluster, (uint16_t) v);
                log_warning("Speaking cluster protocol %lu only (DRS_CLUSTER_PROTOCOL)", v);
        }
        log_info(
                "Cluster mode: this is host '%s' (cluster protocol %u)", m->local_host,
                cluster_max_version(m->cluster));
        return 0;
}

static void cluster_stop(Manager *m) {
        m->cluster = cluster_free(m->cluster);
        for (size_t i = 0; i < m->n_forwards; i++)
                sd_event_source_disable_unref(m->forwards[i].timer);
        free(m->forwards);
        m->forwards = NULL;
        m->n_forwards = 0;
        orders_clear(m);
        for (size_t i = 0; i < m->n_peers; i++)
                peer_done(&m->peers[i]);
        free(m->peers);
        m->peers = NULL;
        m->n_peers = 0;
        free(m->local_host);
        m->local_host = NULL;
}

static void cluster_notify_role(Manager *m, char *buf, size_t size) {
        if (m->cluster && cluster_is_leader(m->cluster))
                (void) snprintf(buf, size, "Leader (corosync, term %" PRIu64 ")", cluster_term(m->cluster));
        else
                (void) snprintf(buf, size, "Agent of '%s' (corosync)", m->local_host ?: "?");
}

const HostSource host_source_cluster = {
        .name = "corosync",
        .acting_leader = cluster_acting_leader,
        .polls = cluster_polls,
        .sampled = cluster_sampled,
        .report = cluster_report,
        .stale = cluster_stale,
        .mode = cluster_mode,
        .state = cluster_state,
        .set_mode = cluster_set_mode,
        .in_flight = cluster_in_flight,
        .vm_busy = cluster_vm_busy,
        .vm_target = cluster_vm_target,
        .start_migration = cluster_order_migration,
        .order_power_off = cluster_order_power_off,
        .rollout_saved = cluster_rollout_saved,
        .rollout_runner = cluster_rollout_runner,
        .rollout_runner_alive = cluster_rollout_runner_alive,
        .order_rollout_command = cluster_order_rollout_command,
        .rollout_command_done = cluster_rollout_command_done,
        .quorum = cluster_quorum,
        .start = cluster_start,
        .stop = cluster_stop,
        .status_json = cluster_status_json,
        .notify_role = cluster_notify_role,
        .start_manual_migration = cluster_manual_migration,
        .start_storage_move = cluster_storage_move,
};
