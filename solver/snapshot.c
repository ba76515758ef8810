/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster snapshots → Problem. Pure: bytes in (the callers read the files). */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "policy-internal.h"
#include "snapshot.h"

#define SNAPSHOT_MAX_NAME 255
#define SNAPSHOT_MAX_LABELS 1000

_Static_assert(SNAPSHOT_MAX_INPUT == YTREE_SNAPSHOT_MAX_INPUT, "snapshot.h and yaml-tree.h disagree");

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);

static void vm_done(SolverVm *vm) {
        free(vm->name);
        strv_free(vm->groups);
        *vm = (SolverVm){};
}

/* Names are sorted through an index to find duplicates and look hosts up in O(n log n). */
typedef struct NameRef {
        const char *name;
        size_t index;
        unsigned line, column; /* where the name is, for messages */
} NameRef;

static int nameref_cmp(const void *a, const void *b) {
        const NameRef *x = a, *y = b;
        int r = strcmp(x->name, y->name);
        if (r != 0)
                return r;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts refs and reports the duplicate whose second occurrence comes first in the file. */
static int check_unique(YContext *c, NameRef *refs, size_t n, const char *kind) {
        const NameRef *dup = NULL, *first = NULL;

        if (n < 2)
                return 0; /* refs may be NULL (no hosts, no VMs): qsort() must not see it */
        qsort(refs, n, sizeof(NameRef), nameref_cmp);
        for (size_t i = 1; i < n; i++)
                if (streq(refs[i].name, refs[i - 1].name) && (!dup || refs[i].index < dup->index)) {
                        dup = &refs[i];
                        first = &refs[i - 1];
                        while (first > refs && streq((first - 1)->name, dup->name))
                                first--;
                }
        if (dup)
                return ytree_error(
                        c->error, c->file, dup->line, dup->column,
                        "duplicate %s name '%s' (first at line %u column %u)", kind, dup->name, first->line,
                        first->column);
        return 0;
}

static int get_labels(YContext *c, const YNode *map, const char *what, char ***ret) {
        const YNode *v = ymap_get(map, "groups");
        if (v)
                return yget_strv(c, v, what, SNAPSHOT_MAX_LABELS, SNAPSHOT_MAX_NAME, ret);
        *ret = calloc(1, sizeof(char *));
        return *ret ? 0 : -ENOMEM;
}

static int parse_host(YContext *c, const YNode *n, SolverHost *h, const YNode **ret_name) {
        static const char *const keys[] = {"name",   "cpus",         "memory_mib", "state", "groups",
                                           "frozen", "incoming_mib", "power",      NULL};
        const YNode *name, *cpus, *mem, *v;
        int r = ymap_check(c, n, "hosts", keys);
        if (r < 0)
                return r;
        if (!(name = ymap_get(n, "name")) || !(cpus = ymap_get(n, "cpus")) ||
            !(mem = ymap_get(n, "memory_mib")))
                return yerr(
                        c, n, "missing key '%s' in 'hosts' (name, cpus and memory_mib are required)",
                        !ymap_get(n, "name")   ? "name"
                        : !ymap_get(n, "cpus") ? "cpus"
                                               : "memory_mib");
        r = yget_string(c, name, "hosts.name", SNAPSHOT_MAX_NAME, &h->name);
        if (r < 0)
                return r;
        r = yget_double(c, cpus, "hosts.cpus", 0.01, 1e5, &h->cpus);
        if (r < 0)
                return r;
        r = yget_size_mib(c, mem, "hosts.memory_mib", 1, UINT64_C(1) << 30, &h->memory_mib);
        if (r < 0)
                return r;
        h->state = HOST_UP;
        v = ymap_get(n, "state");
        if (v) {
                r = yexpect(c, v, YNODE_SCALAR, "hosts.state");
                if (r < 0)
                        return r;
                h->state = host_state_from_string(v->value);
                if (h->state < 0) {
                        char b[48];
                        return yerr(
                                c, v,
                                "invalid value '%s' for 'hosts.state' (expected up, maintenance or standby)",
                                ynode_shown(v, b));
                }
        }
        v = ymap_get(n, "frozen");
        if (v) {
                r = yget_bool(c, v, "hosts.frozen", &h->frozen);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "power");
        if (v) {
                r = yget_power_model(c, v, "hosts.power", &h->power);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "incoming_mib");
        if (v) {
                r = yget_size_mib(c, v, "hosts.incoming_mib", 0, UINT64_C(1) << 30, &h->incoming_mib);
                if (r < 0)
                        return r;
        }
        r = get_labels(c, n, "hosts.groups", &h->groups);
        if (r < 0)
                return r;
        *ret_name = name;
        return 0;
}

/* The fields a snapshot VM and a placement request share. */
static int
parse_vm_common(YContext *c, const YNode *n, const char *what, SolverVm *vm, const YNode **ret_name) {
        const YNode *name, *vcpus, *mem, *v;
        char w[64];
        int r;

        if (!(name = ymap_get(n, "name")) || !(vcpus = ymap_get(n, "vcpus")) ||
            !(mem = ymap_get(n, "memory_mib")))
                return yerr(
                        c, n, "missing key '%s' in '%s' (name, vcpus and memory_mib are required)",
                        !ymap_get(n, "name")    ? "name"
                        : !ymap_get(n, "vcpus") ? "vcpus"
                                                : "memory_mib",
                        what);
        snprintf(w, sizeof(w), "%s.name", what);
        r = yget_string(c, name, w, SNAPSHOT_MAX_NAME, &vm->name);
        if (r < 0)
                return r;
        snprintf(w, sizeof(w), "%s.vcpus", what);
        r = yget_unsigned(c, vcpus, w, 1, 4096, &vm->vcpus);
        if (r < 0)
                return r;
        snprintf(w, sizeof(w), "%s.memory_mib", what);
        r = yget_size_mib(c, mem, w, 1, UINT64_C(1) << 24, &vm->memory_mib);
        if (r < 0)
                return r;
        vm->cpu_demand = vm->vcpus;
        v = ymap_get(n, "cpu_demand");
        if (v) {
                snprintf(w, sizeof(w), "%s.cpu_demand", what);
                r = yget_double(c, v, w, 0, 4096, &vm->cpu_demand);
                if (r < 0)
                        return r;
        }
        vm->memory_demand_mib = vm->memory_mib;
        v = ymap_get(n, "memory_demand_mib");
        if (v) {
                snprintf(w, sizeof(w), "%s.memory_demand_mib", what);
                r = yget_size_mib(c, v, w, 0, UINT64_C(1) << 24, &vm->memory_demand_mib);
                if (r < 0)
                        return r;
        }
        snprintf(w, sizeof(w), "%s.groups", what);
        r = get_labels(c, n, w, &vm->groups);
        if (r < 0)
                return r;
        *ret_name = name;
        return 0;
}

static int
parse_vm(YContext *c, const YNode *n, SolverVm *vm, const YNode **ret_name, const YNode **ret_host) {
        static const char *const keys[] = {
                "name",   "host",         "vcpus",     "memory_mib",     "cpu_demand", "memory_demand_mib",
                "groups", "last_moved_s", "migrating", "local_disk_mib", NULL,
        };
        const YNode *host, *v;
        int r = ymap_check(c, n, "vms", keys);
        if (r < 0)
                return r;
        r = parse_vm_common(c, n, "vms", vm, ret_name);
        if (r < 0)
                return r;
        host = ymap_get(n, "host");
        if (!host)
                return yerr(c, n, "missing key 'host' for VM '%s'", vm->name);
        r = yexpect(c, host, YNODE_SCALAR, "vms.host");
        if (r < 0)
                return r;
        vm->last_moved_s = -1;
        v = ymap_get(n, "last_moved_s");
        if (v) {
                r = yget_int(c, v, "vms.last_moved_s", -1, INT64_MAX, &vm->last_moved_s);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "migrating");
        if (v) {
                r = yget_bool(c, v, "vms.migrating", &vm->migrating);
                if (r < 0)
                        return r;
        }
        v = ymap_get(n, "local_disk_mib");
        if (v) {
                r = yget_size_mib(c, v, "vms.local_disk_mib", 0, UINT64_C(1) << 30, &vm->local_disk_mib);
                if (r < 0)
                        return r;
        }
        *ret_host = host;
        return 0;
}

/* A VM's host, by name until every host is known (hosts may come after the VMs in the file). */
typedef struct HostRef {
        char *name; /* owned */
        unsigned line, column;
} HostRef;

/* The snapshot as it streams in: hosts and VMs are parsed into the Problem item by item (their
 * YAML subtrees freed at once), the rest of the document stays a small tree. The first error of
 * each list is kept and reported where the whole-tree parser reported it: after the policy's. */
typedef struct SnapshotBuild {
        Problem *p; /* not owned */
        const char *file;
        NameRef *hrefs, *vrefs; /* owned; names point into p */
        HostRef *vm_hosts;      /* owned, parallel to p->vms */
        size_t hosts_allocated, vms_allocated;
        PolicyError host_error, vm_error; /* the first error in each list */
        int host_r, vm_r;                 /* its code, 0 while none */
} SnapshotBuild;

static void snapshot_build_done(SnapshotBuild *b) {
        free(b->hrefs);
        free(b->vrefs);
        if (b->vm_hosts && b->p)
                for (size_t i = 0; i < b->p->n_vms; i++)
                        free(b->vm_hosts[i].name);
        free(b->vm_hosts);
        policy_error_clear(&b->host_error);
        policy_error_clear(&b->vm_error);
}

/* Grows an array to hold n + 1 elements (doubling). */
static bool grow(void **arr, size_t *allocated, size_t n, size_t size) {
        if (n < *allocated)
                return true;
        size_t k = *allocated ? *allocated * 2 : 64;
        void *q = reallocarray(*arr, k, size);
        if (!q)
                return false;
        *arr = q;
        *allocated = k;
        return true;
}

static int snapshot_take_host(SnapshotBuild *b, YNode *item) {
        _cleanup_(ynode_freep) YNode *n = item;
        Problem *p = b->p;
        YContext c = {.file = b->file, .error = &b->host_error};
        const YNode *name = NULL;
        size_t allocated = b->hosts_allocated;

        if (b->host_r < 0)
                return 0; /* the first error is what gets reported */
        if (!grow((void **) &p->hosts, &allocated, p->n_hosts, sizeof(SolverHost)) ||
            !grow((void **) &b->hrefs, &b->hosts_allocated, p->n_hosts, sizeof(NameRef)))
                return -ENOMEM;
        size_t i = p->n_hosts++;
        p->hosts[i] = (SolverHost){};
        int r = parse_host(&c, n, &p->hosts[i], &name);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                b->host_r = r;
                return 0;
        }
        b->hrefs[i] = (NameRef){p->hosts[i].name, i, name->line, name->column};
        return 0;
}

static int snapshot_take_vm(SnapshotBuild *b, YNode *item) {
        _cleanup_(ynode_freep) YNode *n = item;
        Problem *p = b->p;
        YContext c = {.file = b->file, .error = &b->vm_error};
        const YNode *name = NULL, *host = NULL;
        size_t allocated = b->vms_allocated, allocated2 = b->vms_allocated;

        if (b->vm_r < 0)
                return 0;
        if (!grow((void **) &p->vms, &allocated, p->n_vms, sizeof(SolverVm)) ||
            !grow((void **) &b->vm_hosts, &allocated2, p->n_vms, sizeof(HostRef)) ||
            !grow((void **) &b->vrefs, &b->vms_allocated, p->n_vms, sizeof(NameRef)))
                return -ENOMEM;
        size_t i = p->n_vms++;
        p->vms[i] = (SolverVm){};
        b->vm_hosts[i] = (HostRef){};
        int r = parse_vm(&c, n, &p->vms[i], &name, &host);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                b->vm_r = r;
                return 0;
        }
        b->vrefs[i] = (NameRef){p->vms[i].name, i, name->line, name->column};
        b->vm_hosts[i] = (HostRef){strdup(host->value), host->line, host->column};
        return b->vm_hosts[i].name ? 0 : -ENOMEM;
}

static int snapshot_sink(void *userdata, const char *key, size_t index, YNode *item) {
        SnapshotBuild *b = userdata;
        if (streq(key, "hosts"))
                return snapshot_take_host(b, item);
        return snapshot_take_vm(b, item);
}

/* Hands a kept list error to the caller's PolicyError. */
static int report(YContext *c, PolicyError *e, int r) {
        if (c->error) {
                policy_error_clear(c->error);
                *c->error = *e;
                *e = (PolicyError){};
        }
        return r;
}

static int parse_snapshot(YContext *c, const YNode *root, SnapshotBuild *b) {
        static const char *const keys[] = {"hosts", "vms", "policy", NULL};
        Problem *p = b->p;
        const YNode *hosts, *vms, *pol;
        int r;

        if (!root)
                return ytree_error(c->error, c->file, 1, 1, "empty snapshot (expected 'hosts' and 'vms')");
        r = ymap_check(c, root, "snapshot", keys);
        if (r < 0)
                return r;
        hosts = ymap_get(root, "hosts");
        if (!hosts)
                return yerr(c, root, "missing key 'hosts' in 'snapshot'");
        vms = ymap_get(root, "vms");

        /* The policy first: its errors are independent of the cluster. */
        pol = ymap_get(root, "policy");
        if (pol) {
                if (!ynode_is_null(pol)) {
                        r = yexpect(c, pol, YNODE_MAPPING, "policy");
                        if (r < 0)
                                return r;
                        r = policy_parse_node(p->policy, c->file, pol, c->error);
                        if (r < 0)
                                return r;
                }
                r = policy_validate(p->policy, c->error);
                if (r < 0)
                        return r;
        }
        p->automation = p->policy->automation.level;

        r = yexpect(c, hosts, YNODE_SEQUENCE, "hosts");
        if (r < 0)
                return r;
        if (b->host_r < 0)
                return report(c, &b->host_error, b->host_r);
        r = check_unique(c, b->hrefs, p->n_hosts, "host");
        if (r < 0)
                return r;

        if (!vms)
                return 0;
        r = yexpect(c, vms, YNODE_SEQUENCE, "vms");
        if (r < 0)
                return r;
        if (b->vm_r < 0)
                return report(c, &b->vm_error, b->vm_r);
        /* Host references, in file order. hrefs is sorted by name now. */
        for (size_t i = 0; i < p->n_vms; i++) {
                const HostRef *ref = &b->vm_hosts[i];
                const NameRef *h = NULL;
                size_t lo = 0, hi = p->n_hosts;

                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        int cmp = strcmp(b->hrefs[mid].name, ref->name);
                        if (cmp == 0) {
                                h = &b->hrefs[mid];
                                break;
                        }
                        if (cmp < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                if (!h)
                        return ytree_error(
                                c->error, c->file, ref->line, ref->column,
                                "VM '%s' runs on unknown host '%s'", p->vms[i].name, ref->name);
                if (p->hosts[h->index].state == HOST_STANDBY)
                        return ytree_error(
                                c->error, c->file, ref->line, ref->column,
                                "VM '%s' runs on host '%s', which is in standby", p->vms[i].name, ref->name);
                p->vms[i].host = (int) h->index;
        }
        return check_unique(c, b->vrefs, p->n_vms, "VM");
}

int snapshot_parse_string(
        const char *filename, const char *buf, size_t len, Problem **ret, PolicyError *reterr) {
        static const char *const streamed[] = {"hosts", "vms", NULL};
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_(ynode_freep) YNode *root = NULL;
        _cleanup_(snapshot_build_done) SnapshotBuild b = {};
        YContext c = {.file = filename ?: "<input>", .error = reterr};
        int r;

        r = problem_new(&p);
        if (r < 0)
                return r;
        b = (SnapshotBuild){.p = p, .file = c.file};
        YStream stream = {.keys = streamed, .sink = snapshot_sink, .userdata = &b};
        r = ytree_parse_streamed(
                c.file, buf, len, YTREE_SNAPSHOT_MAX_NODES, YTREE_SNAPSHOT_MAX_INPUT, &stream, &root,
                reterr);
        if (r < 0)
                return r;
        r = parse_snapshot(&c, root, &b);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int snapshot_parse_vm_string(
        const char *filename, const char *buf, size_t len, SolverVm *ret, PolicyError *reterr) {
        static const char *const keys[] = {
                "name", "vcpus", "memory_mib", "cpu_demand", "memory_demand_mib", "groups", NULL,
        };
        _cleanup_(ynode_freep) YNode *root = NULL;
        _cleanup_(vm_done) SolverVm vm = {};
        YContext c = {.file = filename ?: "<input>", .error = reterr};
        const YNode *name;
        int r;

        r = ytree_parse(c.file, buf, len, &root, reterr);
        if (r < 0)
                return r;
        if (!root)
                return ytree_error(
                        reterr, c.file, 1, 1, "empty VM file (expected name, vcpus and memory_mib)");
        r = ymap_check(&c, root, "vm", keys);
        if (r < 0)
                return r;
        r = parse_vm_common(&c, root, "vm", &vm, &name);
        if (r < 0)
                return r;
        vm.host = -1;
        vm.last_moved_s = -1;
        *ret = vm;
        vm = (SolverVm){};
        return 0;
}
