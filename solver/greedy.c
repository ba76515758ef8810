/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "greedy.h"
#include "macro.h"

#define GAIN_EPS 1e-12

void unplaceable_list_done(UnplaceableList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].why);
        free(l->items);
        *l = (UnplaceableList){};
}

int unplaceable_list_add(UnplaceableList *l, size_t vm, char *why) {
        PlanUnplaceable *n;

        if (!why)
                return -ENOMEM;
        n = reallocarray(l->items, l->n + 1, sizeof(PlanUnplaceable));
        if (!n) {
                free(why);
                return -ENOMEM;
        }
        l->items = n;
        l->items[l->n++] = (PlanUnplaceable){.vm = vm, .why = why};
        return 0;
}

/* asprintf() that returns NULL on failure. */
char *solver_strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

int assignment_rebase(const Model *m, Assignment *a) {
        Assignment b;
        int r;

        r = assignment_init(m, &b);
        if (r < 0)
                return r;
        for (size_t v = 0; v < m->n_vms; v++)
                if (a->host[v] >= 0 && a->host[v] != b.host[v])
                        assignment_move(m, &b, v, (size_t) a->host[v]);
        assignment_done(a);
        *a = b;
        return 0;
}

Greedy *greedy_free(Greedy *g) {
        if (!g)
                return NULL;
        free(g->tags);
        free(g->unit_head);
        free(g->unit_next);
        free(g->unit_rule);
        unplaceable_list_done(&g->unplaceable);
        free(g);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Greedy *, greedy_free);

static size_t uf_find(size_t *parent, size_t x) {
        while (parent[x] != x) {
                parent[x] = parent[parent[x]];
                x = parent[x];
        }
        return x;
}

int greedy_new(const Model *m, Assignment *a, Greedy **ret) {
        _cleanup_(greedy_freep) Greedy *g = NULL;
        size_t V = m->n_vms, n_placed = 0;
        double sum = 0;

        g = calloc(1, sizeof(Greedy));
        if (!g)
                return -ENOMEM;
        g->m = m;
        g->a = a;
        g->tags = calloc(V ? V : 1, sizeof(MoveTag));
        g->unit_head = calloc(V ? V : 1, sizeof(size_t));
        g->unit_next = calloc(V ? V : 1, sizeof(size_t));
        g->unit_rule = calloc(V ? V : 1, sizeof(int));
        if (!g->tags || !g->unit_head || !g->unit_next || !g->unit_rule)
                return -ENOMEM;

        for (size_t v = 0; v < V; v++) {
                g->tags[v] = (MoveTag){.reason = REASON_BALANCE, .rule = -1};
                g->unit_head[v] = v;
                g->unit_next[v] = SIZE_MAX;
                g->unit_rule[v] = -1;
                if (m->initial[v] >= 0) {
                        sum += m->mem_cfg[v];
                        n_placed++;
                }
        }
        g->mean_mem = n_placed > 0 && sum > 0 ? sum / (double) n_placed : 1.0;
        g->lambda = GREEDY_COST_FACTOR * model_min_gain(m);

        /* Units: union-find with the lowest index as root. */
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                if (!rule->hard || rule->type != RULE_KEEP_TOGETHER)
                        continue;
                for (size_t i = 1; i < rule->n_vms; i++) {
                        size_t x = uf_find(g->unit_head, rule->vms[0]),
                               y = uf_find(g->unit_head, rule->vms[i]);
                        if (x < y)
                                g->unit_head[y] = x;
                        else if (y < x)
                                g->unit_head[x] = y;
                }
        }
        _cleanup_free_ size_t *last = calloc(V ? V : 1, sizeof(size_t));
        if (!last)
                return -ENOMEM;
        for (size_t v = 0; v < V; v++) {
                size_t h = uf_find(g->unit_head, v);
                g->unit_head[v] = h;
                if (h != v)
                        g->unit_next[last[h]] = v;
                last[h] = v;
        }
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                if (!rule->hard || rule->type != RULE_KEEP_TOGETHER)
                        continue;
                size_t h = g->unit_head[rule->vms[0]];
                if (g->unit_rule[h] < 0 || (size_t) g->unit_rule[h] > rule->rule)
                        g->unit_rule[h] = (int) rule->rule;
        }

        *ret = TAKE_PTR(g);
        return 0;
}

static unsigned reason_rank(MoveReason r) {
        switch (r) {
        case REASON_MAINTENANCE:
                return 0;
        case REASON_RULE:
                return 1;
        case REASON_DPM:
                return 2;
        default:
                return 3;
        }
}

/* Moves vm to host and keeps its tag and the balance move count right. */
static void greedy_move(Greedy *g, size_t vm, size_t host, MoveReason reason, int rule, bool mandatory) {
        const Model *m = g->m;
        MoveTag *t = &g->tags[vm];
        bool was_away = g->a->host[vm] != m->initial[vm];

        assignment_move(m, g->a, vm, host);
        if (g->a->host[vm] == m->initial[vm]) {
                /* Back home: no move at all. */
                if (was_away && !t->mandatory)
                        g->balance_moved--;
                *t = (MoveTag){.reason = REASON_BALANCE, .rule = -1};
                return;
        }
        if (!was_away) {
                *t = (MoveTag){.mandatory = mandatory, .reason = reason, .rule = rule};
                if (!mandatory)
                        g->balance_moved++;
                return;
        }
        /* Moved again: a mandatory reason wins over a voluntary one, and the strongest of two
         * mandatory reasons stays. */
        if (mandatory && !t->mandatory) {
                g->balance_moved--;
                *t = (MoveTag){.mandatory = true, .reason = reason, .rule = rule};
        } else if (mandatory && reason_rank(reason) < reason_rank(t->reason))
                *t = (MoveTag){.mandatory = true, .reason = reason, .rule = rule};
        else if (!mandatory && !t->mandatory)
                *t = (MoveTag){.reason = reason, .rule = -1};
}

/* A log of moves, to undo tentative or all-or-nothing work. */
typedef struct MoveLog {
        size_t *vm;
        int *from;
        MoveTag *tag;
        size_t n, allocated;
} MoveLog;

static void move_log_done(MoveLog *l) {
        free(l->vm);
        free(l->from);
        free(l->tag);
        *l = (MoveLog){};
}

static int move_log_push(MoveLog *l, size_t vm, int from, MoveTag tag) {
        if (l->n == l->allocated) {
                size_t k = l->allocated ? l->allocated * 2 : 16;
                size_t *nv = reallocarray(l->vm, k, sizeof(size_t));
                if (!nv)
                        return -ENOMEM;
                l->vm = nv;
                int *nf = reallocarray(l->from, k, sizeof(int));
                if (!nf)
                        return -ENOMEM;
                l->from = nf;
                MoveTag *nt = reallocarray(l->tag, k, sizeof(MoveTag));
                if (!nt)
                        return -ENOMEM;
                l->tag = nt;
                l->allocated = k;
        }
        l->vm[l->n] = vm;
        l->from[l->n] = from;
        l->tag[l->n] = tag;
        l->n++;
        return 0;
}

/* Undoes the logged moves, newest first (tags restored too). */
static void move_log_undo(Greedy *g, MoveLog *l) {
        while (l->n > 0) {
                l->n--;
                assignment_move(g->m, g->a, l->vm[l->n], (size_t) l->from[l->n]);
                g->tags[l->vm[l->n]] = l->tag[l->n];
        }
}

static char *fixed_why(const Model *m, size_t vm) {
        const Problem *p = m->problem;
        int init = m->initial[vm];

        if (p->vms[vm].migrating)
                return strdup("a migration of it is in progress: it stays this pass");
        if (init >= 0 && !m->source_ok[init])
                return solver_strdup_printf("its host '%s' is frozen (stale reports)", p->hosts[init].name);
        return strdup("automation is disabled for it: drs never moves it");
}

static const char *rule_name(const Model *m, int rule) {
        if (rule < 0 || (size_t) rule >= m->problem->policy->n_rules)
                return "?";
        return m->problem->policy->rules[rule].name;
}

/* Index into vm_rules of a hard keep-apart rule that forbids vm on host, or -1. */
static int apart_conflict(const Model *m, const Assignment *a, size_t vm, size_t host) {
        for (size_t *k = m->rules_of_vm[vm]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (!rule->hard || rule->type != RULE_KEEP_APART)
                        continue;
                for (size_t i = 0; i < rule->n_vms; i++)
                        if (rule->vms[i] != vm && a->host[rule->vms[i]] == (int) host)
                                return (int) *k;
        }
        return -1;
}

int greedy_explain(const Model *m, const Assignment *a, size_t vm, char **ret) {
        const Problem *p = m->problem;
        size_t n_state = 0, n_allowed = 0, n_eligible = 0;
        int apart = -1, cur = a->host[vm], best_mem_h = -1, best_vcpu_h = -1;
        double best_mem = -INFINITY, best_vcpu = -INFINITY;
        char *s;

        for (size_t h = 0; h < m->n_hosts; h++) {
                if ((int) h == cur || !m->target_ok[h])
                        continue;
                n_state++;
                if (!model_allowed(m, vm, h))
                        continue;
                n_allowed++;
                int k = apart_conflict(m, a, vm, h);
                if (k >= 0) {
                        if (apart < 0)
                                apart = (int) m->vm_rules[k].rule;
                        continue;
                }
                n_eligible++;
                double fm = fmax(0, m->mem_limit[h] - a->mem_cfg[h]);
                double fv = fmax(0, m->vcpu_limit[h] - a->vcpu_load[h]);
                if (fm > best_mem) {
                        best_mem = fm;
                        best_mem_h = (int) h;
                }
                if (fv > best_vcpu) {
                        best_vcpu = fv;
                        best_vcpu_h = (int) h;
                }
        }

        if (n_state == 0)
                s = strdup(
                        "host state: no other host accepts VMs (all are in maintenance, in standby or frozen)");
        else if (n_allowed == 0) {
                if (m->hard_rule[vm] >= 0)
                        s = solver_strdup_printf(
                                "rule '%s': no host that accepts VMs is allowed for it",
                                rule_name(m, m->hard_rule[vm]));
                else
                        s = strdup(
                                "rule: no host that accepts VMs is allowed by its must-run-on / must-not-run-on rules");
        } else if (n_eligible == 0)
                s = solver_strdup_printf(
                        "rule '%s': every allowed host already runs a member of its keep-apart group",
                        rule_name(m, apart));
        else if (m->mem_cfg[vm] > best_mem)
                s = solver_strdup_printf(
                        "memory: needs %" PRIu64 " MiB, largest free on an eligible host is %" PRIu64
                        " MiB on '%s'",
                        (uint64_t) m->mem_cfg[vm], (uint64_t) best_mem, p->hosts[best_mem_h].name);
        else if (m->vcpus[vm] > best_vcpu)
                s = solver_strdup_printf(
                        "vcpus: needs %" PRIu64 ", largest free on an eligible host is %" PRIu64 " on '%s'",
                        (uint64_t) m->vcpus[vm], (uint64_t) best_vcpu, p->hosts[best_vcpu_h].name);
        else
                s = solver_strdup_printf(
                        "capacity: no eligible host has both %" PRIu64 " MiB and %" PRIu64
                        " vCPUs free (most memory free: %" PRIu64 " MiB on '%s', most vCPUs free: %" PRIu64
                        " on '%s')",
                        (uint64_t) m->mem_cfg[vm], (uint64_t) m->vcpus[vm], (uint64_t) best_mem,
                        p->hosts[best_mem_h].name, (uint64_t) best_vcpu, p->hosts[best_vcpu_h].name);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Best destination for a single VM under hard constraints: lowest score delta, ties by index. */
static int best_host_for(const Greedy *g, size_t vm) {
        const Model *m = g->m;
        int best = -1, cur = g->a->host[vm];
        double best_d = INFINITY;

        for (size_t h = 0; h < m->n_hosts; h++) {
                if ((int) h == cur || !m->target_ok[h])
                        continue;
                if (!assignment_fits(m, g->a, vm, h, NULL))
                        continue;
                double d = assignment_move_delta(m, g->a, vm, h);
                if (d < best_d) {
                        best_d = d;
                        best = (int) h;
                }
        }
        return best;
}

/* Tentatively moves every member of the unit of head to host; returns whether all fit, and
 * the score delta and memory moved. Leaves the assignment as it was. */
static int unit_try(
        Greedy *g, size_t head, size_t host, MoveLog *log, bool *ret_ok, double *ret_delta,
        double *ret_mem) {
        const Model *m = g->m;
        double d = 0, mem = 0;
        bool ok = true;
        int r = 0;

        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u]) {
                if (g->a->host[u] == (int) host) {
                        if (!model_allowed(m, u, host) || apart_conflict(m, g->a, u, host) >= 0)
                                ok = false;
                        if (!ok)
                                break;
                        continue;
                }
                if (m->fixed[u] || !assignment_fits(m, g->a, u, host, NULL)) {
                        ok = false;
                        break;
                }
                d += assignment_move_delta(m, g->a, u, host);
                mem += m->move_mib[u];
                r = move_log_push(log, u, g->a->host[u], g->tags[u]);
                if (r < 0)
                        break;
                assignment_move(m, g->a, u, host);
        }
        move_log_undo(g, log);
        *ret_ok = ok && r >= 0;
        *ret_delta = d;
        *ret_mem = mem;
        return r;
}

/* Best host for a whole unit (mandatory): every member fits, lowest delta + migration cost. */
static int unit_best_host(Greedy *g, size_t head, int *ret_host) {
        const Model *m = g->m;
        _cleanup_(move_log_done) MoveLog log = {};
        int best = -1, pinned = -1;
        double best_cost = INFINITY;
        int r;

        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u])
                if (m->fixed[u] && g->a->host[u] >= 0) {
                        if (pinned >= 0 && pinned != g->a->host[u]) {
                                *ret_host = -1;
                                return 0;
                        }
                        pinned = g->a->host[u];
                }

        for (size_t h = 0; h < m->n_hosts; h++) {
                bool ok;
                double d, mem;
                if (!m->target_ok[h] || (pinned >= 0 && (int) h != pinned))
                        continue;
                r = unit_try(g, head, h, &log, &ok, &d, &mem);
                if (r < 0)
                        return r;
                if (!ok)
                        continue;
                double cost = d + g->lambda * mem / g->mean_mem;
                if (cost < best_cost) {
                        best_cost = cost;
                        best = (int) h;
                }
        }
        *ret_host = best;
        return 0;
}

static int unit_explain(const Greedy *g, size_t head, char **ret) {
        const Model *m = g->m;
        const Problem *p = m->problem;
        const char *name = rule_name(m, g->unit_rule[head]);
        int pinned = -1, best_h = -1;
        size_t n = 0;
        double need = 0, best_free = -INFINITY;
        char *s;

        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u]) {
                n++;
                need += m->mem_cfg[u];
                if (m->fixed[u] && g->a->host[u] >= 0) {
                        if (pinned >= 0 && pinned != g->a->host[u]) {
                                s = solver_strdup_printf(
                                        "rule '%s': members that cannot move run on different hosts ('%s', '%s')",
                                        name, p->hosts[pinned].name, p->hosts[g->a->host[u]].name);
                                goto finish;
                        }
                        pinned = g->a->host[u];
                }
        }
        for (size_t h = 0; h < m->n_hosts; h++) {
                bool allowed = m->target_ok[h];
                double here = 0;
                for (size_t u = head; allowed && u != SIZE_MAX; u = g->unit_next[u]) {
                        allowed = model_allowed(m, u, h);
                        if (g->a->host[u] == (int) h)
                                here += m->mem_cfg[u];
                }
                if (!allowed || (pinned >= 0 && (int) h != pinned))
                        continue;
                double f = fmax(0, m->mem_limit[h] - g->a->mem_cfg[h] + here);
                if (f > best_free) {
                        best_free = f;
                        best_h = (int) h;
                }
        }
        if (best_h < 0)
                s = solver_strdup_printf(
                        "rule '%s': no host that accepts VMs is allowed for all %zu VMs of the group", name,
                        n);
        else if (need > best_free)
                s = solver_strdup_printf(
                        "rule '%s': the group of %zu VMs needs %" PRIu64
                        " MiB on one host, largest free on an eligible host is %" PRIu64 " MiB on '%s'",
                        name, n, (uint64_t) need, (uint64_t) best_free, p->hosts[best_h].name);
        else
                s = solver_strdup_printf(
                        "rule '%s': no host can take all %zu VMs of the group (vCPUs or keep-apart rules)",
                        name, n);
finish:
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* A unit of mandatory work: one VM, or the head of a hard keep-together unit. */
typedef struct Item {
        size_t vm;
        double mem;
} Item;

static int item_cmp(const void *x, const void *y) {
        const Item *a = x, *b = y;
        if (a->mem != b->mem)
                return a->mem > b->mem ? -1 : 1;
        return a->vm < b->vm ? -1 : a->vm > b->vm;
}

static double unit_mem(const Greedy *g, size_t head) {
        double mem = 0;
        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u])
                mem += g->m->mem_cfg[u];
        return mem;
}

/* Why a VM that has to move cannot: a sentence for the unplaceable list. */
static char *
need_but_fixed_why(const Model *m, const Assignment *a, size_t vm, MoveReason reason, int rule) {
        _cleanup_free_ char *why = fixed_why(m, vm);
        const char *host = a->host[vm] >= 0 ? m->problem->hosts[a->host[vm]].name : "?";

        if (!why)
                return NULL;
        if (reason == REASON_RULE)
                return solver_strdup_printf(
                        "breaks rule '%s' on '%s' but cannot move: %s", rule_name(m, rule), host, why);
        return solver_strdup_printf("cannot leave '%s': %s", host, why);
}

/* Moves the unit of head to host; members carry their own reason when they had one. */
static int unit_apply(
        Greedy *g, size_t head, size_t host, const uint8_t *need, const MoveReason *reason, const int *rule,
        MoveLog *log) {
        for (size_t u = head; u != SIZE_MAX; u = g->unit_next[u]) {
                if (g->a->host[u] == (int) host)
                        continue;
                if (log) {
                        int r = move_log_push(log, u, g->a->host[u], g->tags[u]);
                        if (r < 0)
                                return r;
                }
                if (need && need[u])
                        greedy_move(g, u, host, reason[u], rule[u], true);
                else
                        greedy_move(g, u, host, REASON_RULE, g->unit_rule[head], true);
        }
        return 0;
}

int greedy_mandatory(Greedy *g, const MoveReason *host_reason) {
        const Model *m = g->m;
        Assignment *a = g->a;
        size_t V = m->n_vms, H = m->n_hosts, n_items = 0;
        int r;

        _cleanup_free_ uint8_t *need = calloc(V ? V : 1, 1);
        _cleanup_free_ MoveReason *reason = calloc(V ? V : 1, sizeof(MoveReason));
        _cleanup_free_ int *rule = calloc(V ? V : 1, sizeof(int));
        _cleanup_free_ size_t *claim = malloc(sizeof(size_t) * (H ? H : 1));
        _cleanup_free_ Item *items = calloc(V ? V : 1, sizeof(Item));
        if (!need || !reason || !rule || !claim || !items)
                return -ENOMEM;
        g->n_need_in_flight = 0;
        for (size_t h = 0; h < H; h++)
                claim[h] = SIZE_MAX;

        for (size_t v = 0; v < V; v++) {
                int h = a->host[v];
                rule[v] = -1;
                if (h < 0)
                        continue;
                if (m->must_empty[h]) {
                        need[v] = 1;
                        reason[v] = host_reason[h];
                } else if (!model_allowed(m, v, (size_t) h)) {
                        need[v] = 1;
                        reason[v] = REASON_RULE;
                        rule[v] = m->hard_rule[v];
                }
        }

        /* Hard keep-apart: per host, one member stays (one that cannot move first, else the
         * lowest index); the others must go. */
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *kr = &m->vm_rules[k];
                if (!kr->hard || kr->type != RULE_KEEP_APART)
                        continue;
                for (int pass = 0; pass < 2; pass++)
                        for (size_t i = 0; i < kr->n_vms; i++) {
                                size_t v = kr->vms[i];
                                int h = a->host[v];
                                if (h < 0 || need[v] || m->fixed[v] != (pass == 0))
                                        continue;
                                if (claim[h] == SIZE_MAX)
                                        claim[h] = v;
                                else {
                                        need[v] = 1;
                                        reason[v] = REASON_RULE;
                                        rule[v] = (int) kr->rule;
                                }
                        }
                for (size_t i = 0; i < kr->n_vms; i++)
                        if (a->host[kr->vms[i]] >= 0)
                                claim[a->host[kr->vms[i]]] = SIZE_MAX;
        }

        for (size_t v = 0; v < V; v++) {
                if (greedy_in_unit(g, v)) {
                        if (g->unit_head[v] != v)
                                continue;
                        bool any = false, split = false;
                        int h0 = -1;
                        for (size_t u = v; u != SIZE_MAX; u = g->unit_next[u]) {
                                if (a->host[u] < 0)
                                        continue;
                                any = any || need[u];
                                if (h0 < 0)
                                        h0 = a->host[u];
                                else if (a->host[u] != h0)
                                        split = true;
                        }
                        if (any || split)
                                items[n_items++] = (Item){.vm = v, .mem = unit_mem(g, v)};
                        continue;
                }
                if (!need[v])
                        continue;
                if (m->fixed[v] && m->problem->vms[v].migrating) {
                        /* Being moved already (an earlier plan's move, or an operator's): not
                         * unplaceable; the next pass sees where it landed. */
                        g->n_need_in_flight++;
                        continue;
                }
                if (m->fixed[v]) {
                        r = unplaceable_list_add(
                                &g->unplaceable, v, need_but_fixed_why(m, a, v, reason[v], rule[v]));
                        if (r < 0)
                                return r;
                        continue;
                }
                items[n_items++] = (Item){.vm = v, .mem = m->mem_cfg[v]};
        }

        qsort(items, n_items, sizeof(Item), item_cmp);

        for (size_t i = 0; i < n_items; i++) {
                size_t v = items[i].vm;
                char *why;

                if (!greedy_in_unit(g, v)) {
                        int best = best_host_for(g, v);
                        if (best >= 0) {
                                greedy_move(g, v, (size_t) best, reason[v], rule[v], true);
                                continue;
                        }
                        r = greedy_explain(g->m, g->a, v, &why);
                        if (r < 0)
                                return r;
                        r = unplaceable_list_add(&g->unplaceable, v, why);
                        if (r < 0)
                                return r;
                        continue;
                }

                int best;
                r = unit_best_host(g, v, &best);
                if (r < 0)
                        return r;
                if (best >= 0) {
                        r = unit_apply(g, v, (size_t) best, need, reason, rule, NULL);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (size_t u = v; u != SIZE_MAX; u = g->unit_next[u]) {
                        r = unit_explain(g, v, &why);
                        if (r < 0)
                                return r;
                        r = unplaceable_list_add(&g->unplaceable, u, why);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int greedy_evacuate_host(Greedy *g, size_t host, MoveReason reason) {
        const Model *m = g->m;
        Assignment *a = g->a;
        _cleanup_(move_log_done) MoveLog log = {};
        _cleanup_free_ Item *items = NULL;
        size_t n_items = 0;
        unsigned saved_balance_moved = g->balance_moved;
        int r;

        items = calloc(m->n_vms ? m->n_vms : 1, sizeof(Item));
        if (!items)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++) {
                if (a->host[v] != (int) host)
                        continue;
                if (m->fixed[v])
                        return -ENOSPC;
                size_t head = g->unit_head[v];
                bool seen = false;
                for (size_t i = 0; i < n_items; i++)
                        seen = seen || items[i].vm == head;
                if (!seen)
                        items[n_items++] = (Item){.vm = head, .mem = unit_mem(g, head)};
        }
        qsort(items, n_items, sizeof(Item), item_cmp);

        for (size_t i = 0; i < n_items; i++) {
                size_t v = items[i].vm;
                int best;

                if (!greedy_in_unit(g, v)) {
                        best = best_host_for(g, v);
                        if (best >= 0) {
                                r = move_log_push(&log, v, a->host[v], g->tags[v]);
                                if (r < 0)
                                        goto fail;
                                greedy_move(g, v, (size_t) best, reason, -1, true);
                        }
                } else {
                        r = unit_best_host(g, v, &best);
                        if (r < 0)
                                goto fail;
                        if (best >= 0) {
                                /* Members on the host leave for reason, the others follow the rule. */
                                for (size_t u = v; u != SIZE_MAX; u = g->unit_next[u]) {
                                        if (a->host[u] == best)
                                                continue;
                                        r = move_log_push(&log, u, a->host[u], g->tags[u]);
                                        if (r < 0)
                                                goto fail;
                                        if (a->host[u] == (int) host)
                                                greedy_move(g, u, (size_t) best, reason, -1, true);
                                        else
                                                greedy_move(
                                                        g, u, (size_t) best, REASON_RULE, g->unit_rule[v],
                                                        true);
                                }
                        }
                }
                if (best < 0) {
                        r = -ENOSPC;
                        goto fail;
                }
        }
        return 0;

fail:
        move_log_undo(g, &log);
        g->balance_moved = saved_balance_moved;
        return r;
}

/* Population standard deviation from a sum and a sum of squares (as model.c computes it). */
static double sd_of(double sum, double sum2, size_t n) {
        if (n == 0)
                return 0;
        double mean = sum / (double) n, var = sum2 / (double) n - mean * mean;
        return var > 0 ? sqrt(var) : 0;
}

typedef struct HostHeat {
        size_t host;
        double heat;
} HostHeat;

static int host_heat_cmp(const void *x, const void *y) {
        const HostHeat *a = x, *b = y;
        if (a->heat != b->heat)
                return a->heat > b->heat ? -1 : 1;
        return a->host < b->host ? -1 : a->host > b->host;
}

/* On big clusters the best single move is, in practice, off one of the hottest hosts onto one
 * of the coldest: only those are scanned (hot[] sources, cold[] destinations), which takes an
 * iteration from O(VMs × hosts) to O(VMs on K hosts × K). "Heat" is the weighted deviation of a
 * host's utilization from the mean, in standard deviations. */
static void greedy_pick_candidates(const Greedy *g, HostHeat *heat, bool *hot, bool *cold) {
        const Model *m = g->m;
        const Assignment *a = g->a;
        size_t n = 0, k = m->n_hosts / 8;
        double n_c = a->n_counted > 0 ? (double) a->n_counted : 1;
        double mc = a->sum_ucpu / n_c, mm = a->sum_umem / n_c;
        double sdc = sqrt(fmax(a->sum_ucpu2 / n_c - mc * mc, 0)),
               sdm = sqrt(fmax(a->sum_umem2 / n_c - mm * mm, 0));

        if (k < GREEDY_CANDIDATE_HOSTS)
                k = GREEDY_CANDIDATE_HOSTS;
        for (size_t h = 0; h < m->n_hosts; h++) {
                hot[h] = cold[h] = false;
                if (!m->counted[h])
                        continue;
                double uc = a->cpu_load[h] / m->cpu_cap[h], um = a->mem_load[h] / m->mem_cap[h];
                heat[n++] = (HostHeat){
                        .host = h,
                        .heat = m->w_cpu * (sdc > 0 ? (uc - mc) / sdc : 0) +
                                m->w_mem * (sdm > 0 ? (um - mm) / sdm : 0),
                };
        }
        qsort(heat, n, sizeof(HostHeat), host_heat_cmp);
        for (size_t i = 0; i < n && i < k; i++)
                hot[heat[i].host] = true;
        for (size_t i = 0, taken = 0; i < n && taken < k; i++) {
                size_t h = heat[n - 1 - i].host;
                if (!m->target_ok[h])
                        continue;
                cold[h] = true;
                taken++;
        }
}

static bool host_over(const Model *m, const Assignment *a, size_t h, double overload) {
        return m->counted[h] && a->cpu_load[h] > overload * m->cpu_cap[h] + 1e-9;
}

int greedy_relieve(Greedy *g, unsigned budget, double overload, const bool *dpm_target) {
        const Model *m = g->m;
        Assignment *a = g->a;
        unsigned n = 0;

        for (unsigned it = 0; it < 2 * budget + 8; it++) {
                size_t best_v = SIZE_MAX, best_h = 0;
                double best_delta = INFINITY, best_mib = INFINITY;

                for (size_t v = 0; v < m->n_vms; v++) {
                        int s = a->host[v];
                        if (s < 0 || !m->may_balance[v] || greedy_in_unit(g, v) ||
                            !host_over(m, a, (size_t) s, overload))
                                continue;
                        if (s == m->initial[v] && g->balance_moved >= budget)
                                continue;
                        for (size_t h = 0; h < m->n_hosts; h++) {
                                if ((int) h == s || !m->target_ok[h] ||
                                    a->cpu_load[h] + m->cpu[v] > overload * m->cpu_cap[h] + 1e-9 ||
                                    !assignment_fits(m, a, v, h, NULL))
                                        continue;
                                double d = assignment_move_delta(m, a, v, h);
                                if (d < best_delta - 1e-12 ||
                                    (d < best_delta + 1e-12 && m->move_mib[v] < best_mib)) {
                                        best_delta = d;
                                        best_mib = m->move_mib[v];
                                        best_v = v;
                                        best_h = h;
                                }
                        }
                }
                if (best_v == SIZE_MAX)
                        break;
                greedy_move(
                        g, best_v, best_h, dpm_target && dpm_target[best_h] ? REASON_DPM : REASON_BALANCE,
                        -1, false);
                n++;
        }
        return (int) n;
}

int greedy_balance(Greedy *g, unsigned budget, double min_gain, const bool *dpm_target, bool only_soft) {
        const Model *m = g->m;
        Assignment *a = g->a;
        _cleanup_(move_log_done) MoveLog log = {};
        _cleanup_free_ HostHeat *heat = NULL;
        _cleanup_free_ bool *hot = NULL, *cold = NULL;
        unsigned n = 0, max_iterations = 2 * budget + 8;
        /* Soft-rule repairs may concern VMs anywhere: scan everything then. */
        bool restricted = !only_soft && m->n_hosts > GREEDY_FULL_SCAN_HOSTS;
        int r;

        if (restricted) {
                heat = calloc(m->n_hosts, sizeof(HostHeat));
                hot = calloc(m->n_hosts, sizeof(bool));
                cold = calloc(m->n_hosts, sizeof(bool));
                if (!heat || !hot || !cold)
                        return -ENOMEM;
        }

        for (unsigned it = 0; it < max_iterations; it++) {
                size_t best_v = SIZE_MAX, best_h = 0;
                double best_net = 0, imbalance0 = assignment_imbalance(m, a);

                if (restricted)
                        greedy_pick_candidates(g, heat, hot, cold);

                for (size_t v = 0; v < m->n_vms; v++) {
                        int s = a->host[v];
                        if (!m->may_balance[v] || s < 0 || greedy_in_unit(g, v))
                                continue;
                        if (restricted && !hot[s])
                                continue;
                        if (s == m->initial[v] && g->balance_moved >= budget)
                                continue;
                        if (only_soft && assignment_vm_penalty(m, a, v, (size_t) s) <= 0)
                                continue;
                        double cost = g->lambda * m->move_mib[v] / g->mean_mem;
                        /* Without soft rules the delta is the imbalance change alone: the sums
                         * without v on its host are the same for every destination. */
                        bool plain = !m->penalty_row[v] && !m->rules_of_vm[v];
                        double sc = a->sum_ucpu, sc2 = a->sum_ucpu2, sm = a->sum_umem, sm2 = a->sum_umem2;
                        if (plain && m->counted[s]) {
                                double uc = a->cpu_load[s] / m->cpu_cap[s],
                                       um = a->mem_load[s] / m->mem_cap[s];
                                double nc = (a->cpu_load[s] - m->cpu[v]) / m->cpu_cap[s];
                                double nm = (a->mem_load[s] - m->mem[v]) / m->mem_cap[s];
                                sc += nc - uc, sc2 += nc * nc - uc * uc;
                                sm += nm - um, sm2 += nm * nm - um * um;
                        }
                        for (size_t h = 0; h < m->n_hosts; h++) {
                                if ((int) h == s || !m->target_ok[h] || (restricted && !cold[h]))
                                        continue;
                                double gain;
                                if (plain) {
                                        double c = sc, c2 = sc2, mm = sm, mm2 = sm2;
                                        if (m->counted[h]) {
                                                double uc = a->cpu_load[h] / m->cpu_cap[h];
                                                double um = a->mem_load[h] / m->mem_cap[h];
                                                double nc = (a->cpu_load[h] + m->cpu[v]) / m->cpu_cap[h];
                                                double nm = (a->mem_load[h] + m->mem[v]) / m->mem_cap[h];
                                                c += nc - uc, c2 += nc * nc - uc * uc;
                                                mm += nm - um, mm2 += nm * nm - um * um;
                                        }
                                        gain = imbalance0 - (m->w_cpu * sd_of(c, c2, a->n_counted) +
                                                             m->w_mem * sd_of(mm, mm2, a->n_counted));
                                } else
                                        gain = -assignment_move_delta(m, a, v, h);
                                if (gain < min_gain - GAIN_EPS || gain - cost <= best_net)
                                        continue;
                                if (!assignment_fits(m, a, v, h, NULL))
                                        continue;
                                best_net = gain - cost;
                                best_v = v;
                                best_h = h;
                        }
                }

                /* Hard keep-together units move whole, only when every member may. */
                bool best_is_unit = false;
                for (size_t v = 0; v < m->n_vms; v++) {
                        if (!greedy_in_unit(g, v) || g->unit_head[v] != v)
                                continue;
                        bool movable = true, split = false;
                        unsigned adds = 0;
                        for (size_t u = v; u != SIZE_MAX; u = g->unit_next[u]) {
                                movable = movable && m->may_balance[u] && a->host[u] >= 0;
                                split = split || a->host[u] != a->host[v];
                                adds += a->host[u] == m->initial[u];
                        }
                        if (!movable || split || (adds > 0 && g->balance_moved + adds > budget))
                                continue;
                        if (only_soft) {
                                double pen = 0;
                                for (size_t u = v; u != SIZE_MAX; u = g->unit_next[u])
                                        pen += assignment_vm_penalty(m, a, u, (size_t) a->host[u]);
                                if (pen <= 0)
                                        continue;
                        }
                        for (size_t h = 0; h < m->n_hosts; h++) {
                                bool ok;
                                double d, mem;
                                if ((int) h == a->host[v] || !m->target_ok[h])
                                        continue;
                                r = unit_try(g, v, h, &log, &ok, &d, &mem);
                                if (r < 0)
                                        return r;
                                double net = -d - g->lambda * mem / g->mean_mem;
                                if (!ok || -d < min_gain - GAIN_EPS || net <= best_net)
                                        continue;
                                best_net = net;
                                best_v = v;
                                best_h = h;
                                best_is_unit = true;
                        }
                }

                if (best_v == SIZE_MAX)
                        break;

                MoveReason reason = dpm_target && dpm_target[best_h] ? REASON_DPM : REASON_BALANCE;
                if (best_is_unit) {
                        for (size_t u = best_v; u != SIZE_MAX; u = g->unit_next[u])
                                greedy_move(g, u, best_h, reason, -1, false);
                } else
                        greedy_move(g, best_v, best_h, reason, -1, false);
                n++;
        }
        return (int) n;
}
