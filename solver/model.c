/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>

#include "macro.h"
#include "model.h"

/* Is the object (name + labels) a member of group g? By label (the group's name), or by a
 * member pattern matching the name. */
bool group_matches(const Group *g, const char *name, char *const *labels) {
        if (strv_contains(labels, g->name))
                return true;
        for (char **i = g->members; i && *i; i++)
                if (fnmatch(*i, name, 0) == 0)
                        return true;
        return false;
}

const Group *policy_find_group(const Policy *p, const char *name, GroupKind kind) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < p->n_groups; i++)
                if (p->groups[i].kind == kind && streq(p->groups[i].name, name))
                        return &p->groups[i];
        return NULL;
}

Model *model_free(Model *m) {
        if (!m)
                return NULL;
        free(m->cpu_cap);
        free(m->mem_cap);
        free(m->mem_limit);
        free(m->vcpu_limit);
        free(m->target_ok);
        free(m->source_ok);
        free(m->must_empty);
        free(m->counted);
        free(m->dpm_may_standby);
        free(m->cpu);
        free(m->mem);
        free(m->mem_cfg);
        free(m->move_mib);
        free(m->vcpus);
        free(m->initial);
        free(m->automation);
        free(m->fixed);
        free(m->may_balance);
        free(m->recommend_only);
        if (m->allowed_row)
                for (size_t v = 0; v < m->n_vms; v++)
                        free(m->allowed_row[v]);
        free(m->allowed_row);
        if (m->penalty_row)
                for (size_t v = 0; v < m->n_vms; v++)
                        free(m->penalty_row[v]);
        free(m->penalty_row);
        free(m->hard_rule);
        for (size_t r = 0; r < m->n_vm_rules; r++)
                free(m->vm_rules[r].vms);
        free(m->vm_rules);
        if (m->rules_of_vm)
                for (size_t v = 0; v < m->n_vms; v++)
                        free(m->rules_of_vm[v]);
        free(m->rules_of_vm);
        free(m);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Model *, model_free);

#define NEW0(n, type) ((type *) calloc((n) ? (n) : 1, sizeof(type)))

static bool host_is_dpm_excluded(const Policy *p, const SolverHost *h) {
        for (char **i = p->dpm.exclude; i && *i; i++)
                if (fnmatch(*i, h->name, 0) == 0)
                        return true;
        return false;
}

/* Applies one VM–host rule to the VMs of its group. */
static int model_apply_host_rule(Model *m, size_t r, const Group *vg, const Group *hg) {
        const Problem *p = m->problem;
        const Rule *rule = &p->policy->rules[r];
        bool positive = (rule->type == RULE_MUST_RUN_ON || rule->type == RULE_SHOULD_RUN_ON);
        bool hard = (rule->type == RULE_MUST_RUN_ON || rule->type == RULE_MUST_NOT_RUN_ON);
        _cleanup_free_ bool *in_group = NEW0(m->n_hosts, bool);
        if (!in_group)
                return -ENOMEM;
        for (size_t h = 0; h < m->n_hosts; h++)
                in_group[h] = group_matches(hg, p->hosts[h].name, p->hosts[h].groups);

        for (size_t v = 0; v < m->n_vms; v++) {
                if (!group_matches(vg, p->vms[v].name, p->vms[v].groups))
                        continue;
                if (hard) {
                        if (!m->allowed_row[v]) {
                                m->allowed_row[v] = malloc(m->n_hosts);
                                if (!m->allowed_row[v])
                                        return -ENOMEM;
                                memset(m->allowed_row[v], 1, m->n_hosts);
                        }
                        for (size_t h = 0; h < m->n_hosts; h++)
                                if (in_group[h] != positive)
                                        m->allowed_row[v][h] = 0;
                        int init = m->initial[v];
                        if (init >= 0 && m->hard_rule[v] < 0 && in_group[init] != positive)
                                m->hard_rule[v] = (int) r;
                } else {
                        if (!m->penalty_row[v]) {
                                m->penalty_row[v] = NEW0(m->n_hosts, float);
                                if (!m->penalty_row[v])
                                        return -ENOMEM;
                        }
                        for (size_t h = 0; h < m->n_hosts; h++)
                                if (in_group[h] != positive)
                                        m->penalty_row[v][h] += (float) MODEL_SOFT_PENALTY;
                }
        }
        return 0;
}

static int model_add_vm_rule(Model *m, size_t r, const Group *vg) {
        const Problem *p = m->problem;
        const Rule *rule = &p->policy->rules[r];
        _cleanup_free_ size_t *vms = NEW0(m->n_vms, size_t);
        size_t n = 0;
        if (!vms)
                return -ENOMEM;
        for (size_t v = 0; v < m->n_vms; v++)
                if (group_matches(vg, p->vms[v].name, p->vms[v].groups))
                        vms[n++] = v;
        if (n < 2)
                return 0; /* a rule over fewer than two VMs constrains nothing */

        size_t k = m->n_vm_rules++;
        m->vm_rules[k] = (ModelVmRule){
                .rule = r,
                .type = rule->type,
                .hard = rule->hard,
                .vms = TAKE_PTR(vms),
                .n_vms = n,
        };
        /* Register the rule with each member: lists end with SIZE_MAX. */
        for (size_t i = 0; i < n; i++) {
                size_t v = m->vm_rules[k].vms[i], len = 0;
                while (m->rules_of_vm[v] && m->rules_of_vm[v][len] != SIZE_MAX)
                        len++;
                size_t *l = realloc(m->rules_of_vm[v], sizeof(size_t) * (len + 2));
                if (!l)
                        return -ENOMEM;
                l[len] = k;
                l[len + 1] = SIZE_MAX;
                m->rules_of_vm[v] = l;
        }
        return 0;
}

int model_build(const Problem *p, Model **ret) {
        _cleanup_(model_freep) Model *m = NULL;
        const Policy *pol = p->policy;
        size_t H = p->n_hosts, V = p->n_vms;
        int r;

        m = NEW0(1, Model);
        if (!m)
                return -ENOMEM;
        m->problem = p;
        m->n_hosts = H;
        m->n_vms = V;

        double wc = pol->balance.weight_cpu, wm = pol->balance.weight_memory;
        if (!(wc + wm > 0))
                wc = wm = 1.0;
        m->w_cpu = wc / (wc + wm);
        m->w_mem = wm / (wc + wm);

        if (!(m->cpu_cap = NEW0(H, double)) || !(m->mem_cap = NEW0(H, double)) ||
            !(m->mem_limit = NEW0(H, double)) || !(m->vcpu_limit = NEW0(H, double)) ||
            !(m->target_ok = NEW0(H, bool)) || !(m->source_ok = NEW0(H, bool)) ||
            !(m->must_empty = NEW0(H, bool)) || !(m->counted = NEW0(H, bool)) ||
            !(m->dpm_may_standby = NEW0(H, bool)) || !(m->cpu = NEW0(V, double)) ||
            !(m->mem = NEW0(V, double)) || !(m->mem_cfg = NEW0(V, double)) ||
            !(m->move_mib = NEW0(V, double)) || !(m->vcpus = NEW0(V, double)) ||
            !(m->initial = NEW0(V, int)) || !(m->automation = NEW0(V, AutomationLevel)) ||
            !(m->fixed = NEW0(V, bool)) || !(m->may_balance = NEW0(V, bool)) ||
            !(m->recommend_only = NEW0(V, bool)) || !(m->allowed_row = NEW0(V, uint8_t *)) ||
            !(m->penalty_row = NEW0(V, float *)) || !(m->hard_rule = NEW0(V, int)) ||
            !(m->rules_of_vm = NEW0(V, size_t *)) || !(m->vm_rules = NEW0(pol->n_rules, ModelVmRule)))
                return -ENOMEM;

        for (size_t h = 0; h < H; h++) {
                const SolverHost *sh = &p->hosts[h];
                m->cpu_cap[h] = sh->cpus > 0 ? sh->cpus : 1e-9;
                m->mem_cap[h] = sh->memory_mib > 0 ? (double) sh->memory_mib : 1e-9;
                m->mem_limit[h] = (double) sh->memory_mib * pol->limits.memory_overcommit -
                                  (double) pol->limits.memory_reserve_mib - (double) sh->incoming_mib;
                m->vcpu_limit[h] =
                        pol->limits.vcpu_per_core > 0 ? sh->cpus * pol->limits.vcpu_per_core : INFINITY;
                m->target_ok[h] = sh->state == HOST_UP && !sh->frozen;
                m->source_ok[h] = !sh->frozen;
                m->must_empty[h] = sh->state != HOST_UP;
                m->counted[h] = sh->state == HOST_UP;
                m->dpm_may_standby[h] =
                        sh->state == HOST_UP && !sh->frozen && !host_is_dpm_excluded(pol, sh);
        }

        bool balance_on = pol->balance.enabled;
        for (size_t v = 0; v < V; v++) {
                const SolverVm *sv = &p->vms[v];
                m->cpu[v] = sv->cpu_demand;
                m->mem[v] = (double) sv->memory_demand_mib;
                m->mem_cfg[v] = (double) sv->memory_mib;
                /* A migration moves memory at the migration bandwidth (unlimited: as fast as a
                 * disk copy) and local disks at the copy bandwidth: the cost is the time, in
                 * MiB of memory. */
                m->move_mib[v] =
                        m->mem_cfg[v] + (double) sv->local_disk_mib *
                                                (pol->migration.bandwidth_mib_s > 0
                                                         ? (double) pol->migration.bandwidth_mib_s
                                                         : (double) pol->storage.copy_bandwidth_mib_s) /
                                                (double) (pol->storage.copy_bandwidth_mib_s ?: 1);
                m->vcpus[v] = sv->vcpus;
                m->initial[v] = sv->host >= 0 && (size_t) sv->host < H ? sv->host : -1;
                m->hard_rule[v] = -1;

                AutomationLevel l = policy_vm_automation(pol, sv->name, p->automation);
                m->automation[v] = l;
                m->fixed[v] = l == AUTOMATION_DISABLED || sv->migrating || m->initial[v] < 0 ||
                              !m->source_ok[m->initial[v]];
                bool cooling =
                        sv->last_moved_s >= 0 && (uint64_t) sv->last_moved_s < pol->balance.cooldown_s;
                bool excluded = sv->local_disk_mib > 0 && pol->storage.local_disks == LOCAL_DISKS_EXCLUDE;
                m->may_balance[v] = !m->fixed[v] && balance_on && !cooling && !excluded &&
                                    (l == AUTOMATION_MANUAL || l == AUTOMATION_FULL);
                m->recommend_only[v] = l == AUTOMATION_MANUAL;
        }

        for (size_t i = 0; i < pol->n_rules; i++) {
                const Rule *rule = &pol->rules[i];
                if (!rule->enabled)
                        continue;
                const Group *vg = policy_find_group(pol, rule->vm_group, GROUP_VM);
                if (!vg)
                        continue; /* policy_validate() refuses this; be robust anyway */
                if ((rule->type == RULE_KEEP_TOGETHER || rule->type == RULE_KEEP_APART)) {
                        r = model_add_vm_rule(m, i, vg);
                } else {
                        const Group *hg = policy_find_group(pol, rule->host_group, GROUP_HOST);
                        if (!hg)
                                continue;
                        r = model_apply_host_rule(m, i, vg, hg);
                }
                if (r < 0)
                        return r;
        }

        /* A VM migrating now has a destination the Problem does not name: a hard keep-apart
         * partner moved this pass might land on it. Its partners stay for balance this pass. */
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                bool in_flight = false;
                if (!rule->hard || rule->type != RULE_KEEP_APART)
                        continue;
                for (size_t i = 0; i < rule->n_vms; i++)
                        in_flight = in_flight || p->vms[rule->vms[i]].migrating;
                if (in_flight)
                        for (size_t i = 0; i < rule->n_vms; i++)
                                m->may_balance[rule->vms[i]] = false;
        }

        *ret = TAKE_PTR(m);
        return 0;
}

double model_min_gain(const Model *m) {
        size_t n = 0;
        for (size_t h = 0; h < m->n_hosts; h++)
                n += m->counted[h];
        return m->problem->policy->balance.min_gain / (double) (n > 0 ? n : 1);
}

/* ---- assignments ---- */

static void sums_add_host(const Model *m, Assignment *a, size_t h, double sign) {
        if (!m->counted[h])
                return;
        double uc = a->cpu_load[h] / m->cpu_cap[h], um = a->mem_load[h] / m->mem_cap[h];
        a->sum_ucpu += sign * uc;
        a->sum_ucpu2 += sign * uc * uc;
        a->sum_umem += sign * um;
        a->sum_umem2 += sign * um * um;
}

static void assignment_recompute_sums(const Model *m, Assignment *a) {
        a->sum_ucpu = a->sum_ucpu2 = a->sum_umem = a->sum_umem2 = 0;
        a->n_counted = 0;
        for (size_t h = 0; h < m->n_hosts; h++) {
                sums_add_host(m, a, h, +1);
                if (m->counted[h])
                        a->n_counted++;
        }
}

void assignment_done(Assignment *a) {
        free(a->host);
        free(a->cpu_load);
        free(a->mem_load);
        free(a->mem_cfg);
        free(a->vcpu_load);
        free(a->count);
        *a = (Assignment){};
}

static int assignment_alloc(const Model *m, Assignment *a) {
        *a = (Assignment){};
        if (!(a->host = NEW0(m->n_vms, int)) || !(a->cpu_load = NEW0(m->n_hosts, double)) ||
            !(a->mem_load = NEW0(m->n_hosts, double)) || !(a->mem_cfg = NEW0(m->n_hosts, double)) ||
            !(a->vcpu_load = NEW0(m->n_hosts, double)) || !(a->count = NEW0(m->n_hosts, unsigned))) {
                assignment_done(a);
                return -ENOMEM;
        }
        return 0;
}

int assignment_init(const Model *m, Assignment *a) {
        int r = assignment_alloc(m, a);
        if (r < 0)
                return r;
        for (size_t v = 0; v < m->n_vms; v++) {
                int h = m->initial[v];
                a->host[v] = h;
                if (h < 0)
                        continue;
                a->cpu_load[h] += m->cpu[v];
                a->mem_load[h] += m->mem[v];
                a->mem_cfg[h] += m->mem_cfg[v];
                a->vcpu_load[h] += m->vcpus[v];
                a->count[h]++;
        }
        assignment_recompute_sums(m, a);
        return 0;
}

int assignment_copy(const Model *m, const Assignment *a, Assignment *ret) {
        Assignment c;
        int r = assignment_alloc(m, &c);
        if (r < 0)
                return r;
        memcpy(c.host, a->host, sizeof(int) * m->n_vms);
        memcpy(c.cpu_load, a->cpu_load, sizeof(double) * m->n_hosts);
        memcpy(c.mem_load, a->mem_load, sizeof(double) * m->n_hosts);
        memcpy(c.mem_cfg, a->mem_cfg, sizeof(double) * m->n_hosts);
        memcpy(c.vcpu_load, a->vcpu_load, sizeof(double) * m->n_hosts);
        memcpy(c.count, a->count, sizeof(unsigned) * m->n_hosts);
        c.sum_ucpu = a->sum_ucpu;
        c.sum_ucpu2 = a->sum_ucpu2;
        c.sum_umem = a->sum_umem;
        c.sum_umem2 = a->sum_umem2;
        c.n_counted = a->n_counted;
        *ret = c;
        return 0;
}

static double sd_from_sums(double sum, double sum2, size_t n) {
        if (n == 0)
                return 0;
        double mean = sum / (double) n, var = sum2 / (double) n - mean * mean;
        return var > 0 ? sqrt(var) : 0;
}

static double imbalance_from_sums(const Model *m, double sc, double sc2, double sm, double sm2, size_t n) {
        return m->w_cpu * sd_from_sums(sc, sc2, n) + m->w_mem * sd_from_sums(sm, sm2, n);
}

double assignment_imbalance(const Model *m, const Assignment *a) {
        return imbalance_from_sums(m, a->sum_ucpu, a->sum_ucpu2, a->sum_umem, a->sum_umem2, a->n_counted);
}

/* Number of members of rule k other than vm on host h. */
static size_t
rule_members_on(const Model *m, const Assignment *a, const ModelVmRule *k, size_t vm, size_t h) {
        size_t n = 0;
        for (size_t i = 0; i < k->n_vms; i++)
                if (k->vms[i] != vm && a->host[k->vms[i]] == (int) h)
                        n++;
        return n;
}

/* Soft VM–VM penalty is counted per pair: keep-apart costs MODEL_SOFT_PENALTY for each pair of
 * members sharing a host; keep-together costs MODEL_SOFT_PENALTY / (n - 1) for each pair on
 * different hosts (a fully split group of n costs about n/2 penalties). */
static double vm_rule_pair_cost(const ModelVmRule *k) {
        if (k->type == RULE_KEEP_APART)
                return MODEL_SOFT_PENALTY;
        return MODEL_SOFT_PENALTY / (double) (k->n_vms - 1);
}

double assignment_vm_penalty(const Model *m, const Assignment *a, size_t vm, size_t host) {
        double pen = model_soft_penalty(m, vm, host);
        for (size_t *k = m->rules_of_vm[vm]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (rule->hard)
                        continue;
                size_t same = rule_members_on(m, a, rule, vm, host);
                if (rule->type == RULE_KEEP_APART)
                        pen += vm_rule_pair_cost(rule) * (double) same;
                else
                        pen += vm_rule_pair_cost(rule) * (double) (rule->n_vms - 1 - same);
        }
        return pen;
}

double assignment_score(const Model *m, const Assignment *a) {
        double pen = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (a->host[v] >= 0)
                        pen += model_soft_penalty(m, v, (size_t) a->host[v]);
        for (size_t r = 0; r < m->n_vm_rules; r++) {
                const ModelVmRule *k = &m->vm_rules[r];
                if (k->hard)
                        continue;
                /* Each pair once: half the sum of per-member pair counts. */
                double pairs = 0;
                for (size_t i = 0; i < k->n_vms; i++) {
                        size_t v = k->vms[i];
                        if (a->host[v] < 0)
                                continue;
                        size_t same = rule_members_on(m, a, k, v, (size_t) a->host[v]);
                        pairs += k->type == RULE_KEEP_APART ? (double) same : (double) (k->n_vms - 1 - same);
                }
                pen += vm_rule_pair_cost(k) * pairs / 2;
        }
        return assignment_imbalance(m, a) + pen;
}

void assignment_metrics(const Model *m, const Assignment *a, PlanMetrics *ret) {
        PlanMetrics x = {
                .cpu_imbalance = sd_from_sums(a->sum_ucpu, a->sum_ucpu2, a->n_counted),
                .memory_imbalance = sd_from_sums(a->sum_umem, a->sum_umem2, a->n_counted),
        };
        for (size_t h = 0; h < m->n_hosts; h++) {
                if (!m->counted[h])
                        continue;
                x.max_cpu_utilization = fmax(x.max_cpu_utilization, a->cpu_load[h] / m->cpu_cap[h]);
                x.max_memory_utilization = fmax(x.max_memory_utilization, a->mem_load[h] / m->mem_cap[h]);
        }
        *ret = x;
}

bool assignment_fits(const Model *m, const Assignment *a, size_t vm, size_t host, const char **reterr_why) {
        const char *why = NULL;
        bool here = a->host[vm] == (int) host;

        if (!m->target_ok[host] && !here)
                why = "host state";
        else if (!model_allowed(m, vm, host))
                why = "rule";
        else if (!here && a->mem_cfg[host] + m->mem_cfg[vm] > m->mem_limit[host])
                why = "memory";
        else if (!here && a->vcpu_load[host] + m->vcpus[vm] > m->vcpu_limit[host])
                why = "vcpus";
        else
                for (size_t *k = m->rules_of_vm[vm]; k && *k != SIZE_MAX; k++) {
                        const ModelVmRule *rule = &m->vm_rules[*k];
                        if (rule->hard && rule->type == RULE_KEEP_APART &&
                            rule_members_on(m, a, rule, vm, host) > 0) {
                                why = "rule";
                                break;
                        }
                }
        if (why) {
                if (reterr_why)
                        *reterr_why = why;
                return false;
        }
        return true;
}

/* Utilization terms a host contributes to the sums, with extra load added. */
static void
host_terms(const Model *m, const Assignment *a, size_t h, double dcpu, double dmem, double *uc, double *um) {
        *uc = (a->cpu_load[h] + dcpu) / m->cpu_cap[h];
        *um = (a->mem_load[h] + dmem) / m->mem_cap[h];
}

void assignment_move_from(const Model *m, const Assignment *a, size_t vm, MoveFrom *ret) {
        int from = a->host[vm];
        double sc = a->sum_ucpu, sc2 = a->sum_ucpu2, sm = a->sum_umem, sm2 = a->sum_umem2;
        double uc, um;
        if (from >= 0 && m->counted[from]) {
                host_terms(m, a, from, 0, 0, &uc, &um);
                sc -= uc, sc2 -= uc * uc, sm -= um, sm2 -= um * um;
                host_terms(m, a, from, -m->cpu[vm], -m->mem[vm], &uc, &um);
                sc += uc, sc2 += uc * uc, sm += um, sm2 += um * um;
        }
        *ret = (MoveFrom){
                .vm = vm,
                .from = from,
                .sc = sc,
                .sc2 = sc2,
                .sm = sm,
                .sm2 = sm2,
                .imbalance = assignment_imbalance(m, a),
                .own_from = from >= 0 ? model_soft_penalty(m, vm, (size_t) from) : 0,
        };
}

double assignment_move_delta(const Model *m, const Assignment *a, size_t vm, size_t host) {
        MoveFrom f;
        if (a->host[vm] == (int) host)
                return 0;
        assignment_move_from(m, a, vm, &f);
        return assignment_move_delta_to(m, a, &f, host);
}

double assignment_move_delta_to(const Model *m, const Assignment *a, const MoveFrom *f, size_t host) {
        return assignment_move_delta_split(m, a, f, host, NULL);
}

double assignment_move_delta_split(
        const Model *m, const Assignment *a, const MoveFrom *f, size_t host, double *ret_imbalance) {
        size_t vm = f->vm;
        int from = f->from;
        if (ret_imbalance)
                *ret_imbalance = 0;
        if (from == (int) host)
                return 0;

        double sc = f->sc, sc2 = f->sc2, sm = f->sm, sm2 = f->sm2;
        double uc, um;
        if (m->counted[host]) {
                host_terms(m, a, host, 0, 0, &uc, &um);
                sc -= uc, sc2 -= uc * uc, sm -= um, sm2 -= um * um;
                host_terms(m, a, host, m->cpu[vm], m->mem[vm], &uc, &um);
                sc += uc, sc2 += uc * uc, sm += um, sm2 += um * um;
        }
        double delta = imbalance_from_sums(m, sc, sc2, sm, sm2, a->n_counted) - f->imbalance;
        if (ret_imbalance)
                *ret_imbalance = delta;

        /* Penalties: the VM's VM–host penalty, and the pairs it is part of (each pair is one
         * term of assignment_score(), so only the pairs involving vm change). */
        delta += model_soft_penalty(m, vm, host) - f->own_from;
        for (size_t *k = m->rules_of_vm[vm]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (rule->hard)
                        continue;
                double before = 0, after;
                if (from >= 0)
                        before = (double) rule_members_on(m, a, rule, vm, (size_t) from);
                after = (double) rule_members_on(m, a, rule, vm, host);
                if (rule->type == RULE_KEEP_TOGETHER) {
                        before = (double) (rule->n_vms - 1) - before;
                        after = (double) (rule->n_vms - 1) - after;
                }
                delta += vm_rule_pair_cost(rule) * (after - before);
        }
        return delta;
}

void assignment_move(const Model *m, Assignment *a, size_t vm, size_t host) {
        int from = a->host[vm];
        if (from == (int) host)
                return;
        if (from >= 0) {
                sums_add_host(m, a, (size_t) from, -1);
                a->cpu_load[from] -= m->cpu[vm];
                a->mem_load[from] -= m->mem[vm];
                a->mem_cfg[from] -= m->mem_cfg[vm];
                a->vcpu_load[from] -= m->vcpus[vm];
                a->count[from]--;
                sums_add_host(m, a, (size_t) from, +1);
        }
        sums_add_host(m, a, host, -1);
        a->cpu_load[host] += m->cpu[vm];
        a->mem_load[host] += m->mem[vm];
        a->mem_cfg[host] += m->mem_cfg[vm];
        a->vcpu_load[host] += m->vcpus[vm];
        a->count[host]++;
        sums_add_host(m, a, host, +1);
        a->host[vm] = (int) host;
}

/* ---- the held-demand view ---- */

int model_stable_new(const Model *m, Model **ret) {
        const Problem *p = m->problem;
        bool differs = false;
        for (size_t v = 0; v < m->n_vms && !differs; v++)
                differs = p->vms[v].has_cpu_demand_stable && p->vms[v].cpu_demand_stable < m->cpu[v];
        *ret = NULL;
        if (!differs)
                return 0;
        Model *s = malloc(sizeof(Model));
        if (!s)
                return -ENOMEM;
        *s = *m;
        s->cpu = NEW0(m->n_vms, double);
        if (!s->cpu) {
                free(s);
                return -ENOMEM;
        }
        for (size_t v = 0; v < m->n_vms; v++)
                s->cpu[v] = p->vms[v].has_cpu_demand_stable ? fmin(p->vms[v].cpu_demand_stable, m->cpu[v])
                                                            : m->cpu[v];
        *ret = s;
        return 0;
}

Model *model_stable_free(Model *s) {
        if (s) {
                free(s->cpu);
                free(s);
        }
        return NULL;
}

int stable_check_init(const Model *m, double target, StableCheck *ret) {
        StableCheck c = {.target = target};
        int r = model_stable_new(m, &c.view);
        if (r >= 0 && c.view)
                r = assignment_init(c.view, &c.a);
        if (r >= 0 && !(c.exempt = NEW0(m->n_hosts, bool)))
                r = -ENOMEM;
        if (r < 0) {
                stable_check_done(&c);
                return r;
        }
        double overload = m->problem->policy->balance.overload;
        _cleanup_free_ double *load = NEW0(m->n_hosts, double);
        if (!load) {
                stable_check_done(&c);
                return -ENOMEM;
        }
        for (size_t v = 0; v < m->n_vms; v++)
                if (m->initial[v] >= 0)
                        load[m->initial[v]] += m->cpu[v];
        for (size_t h = 0; h < m->n_hosts; h++)
                c.exempt[h] = m->counted[h] && load[h] > overload * m->cpu_cap[h] + 1e-9;
        *ret = c;
        return 0;
}

void stable_check_done(StableCheck *c) {
        if (c->view)
                assignment_done(&c->a);
        c->view = model_stable_free(c->view);
        free(c->exempt);
        c->exempt = NULL;
}

void stable_check_sync(const Model *m, const Assignment *a, StableCheck *c) {
        if (!c || !c->view)
                return;
        for (size_t v = 0; v < m->n_vms; v++)
                if (c->a.host[v] != a->host[v] && a->host[v] >= 0)
                        assignment_move(c->view, &c->a, v, (size_t) a->host[v]);
}

double stable_check_gain(
        const Model *m, const Assignment *a, const StableCheck *c, size_t vm, size_t host, double *ret_raw) {
        double raw, gain;
        if (!c || a->host[vm] == (int) host) {
                gain = raw = assignment_move_delta(m, a, vm, host);
                if (ret_raw)
                        *ret_raw = raw;
                return gain;
        }
        /* Relief of an overloaded host counts whole, not only above the target. */
        int init = m->initial[vm];
        bool relief = c->exempt && init >= 0 && c->exempt[init];
        MoveFrom f;
        double dimb;
        assignment_move_from(m, a, vm, &f);
        raw = assignment_move_delta_split(m, a, &f, host, &dimb);
        double pen = raw - dimb, t = c->target;
        gain = relief ? raw : pen + fmax(f.imbalance + dimb - t, 0) - fmax(f.imbalance - t, 0);
        if (c->view) {
                /* The same on the held demands (the penalties do not depend on demand). */
                double dimb2;
                assignment_move_from(c->view, &c->a, vm, &f);
                (void) assignment_move_delta_split(c->view, &c->a, &f, host, &dimb2);
                gain = fmin(
                        gain, relief ? pen + dimb2
                                     : pen + fmax(f.imbalance + dimb2 - t, 0) - fmax(f.imbalance - t, 0));
                raw = fmin(raw, pen + dimb2);
        }
        if (ret_raw)
                *ret_raw = raw;
        return gain;
}
