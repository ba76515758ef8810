/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "dpm.h"
#include "macro.h"

void dpm_result_done(DpmResult *r) {
        free(r->standby);
        free(r->power_on);
        *r = (DpmResult){};
}

typedef struct Load {
        double cpu, mem;
} Load;

static Load total_demand(const Model *m, const Assignment *a) {
        Load d = {};
        for (size_t v = 0; v < m->n_vms; v++)
                if (a->host[v] >= 0) {
                        d.cpu += m->cpu[v];
                        d.mem += m->mem[v];
                }
        return d;
}

/* Capacity DPM can count on: powered hosts that report. A frozen host (stale reports, its
 * power-on failed) may be dead: its VMs' demand still counts, its capacity does not, so DPM
 * neither puts another host in standby on the strength of it nor holds back a power-on. */
static bool capacity_counts(const Model *m, size_t h) {
        return m->counted[h] && m->source_ok[h];
}

static Load counted_capacity(const Model *m, size_t *ret_n) {
        Load c = {};
        size_t n = 0;
        for (size_t h = 0; h < m->n_hosts; h++)
                if (capacity_counts(m, h)) {
                        c.cpu += m->cpu_cap[h];
                        c.mem += m->mem_cap[h];
                        n++;
                }
        if (ret_n)
                *ret_n = n;
        return c;
}

static double utilization(Load demand, Load cap) {
        if (cap.cpu <= 0 || cap.mem <= 0)
                return INFINITY;
        return fmax(demand.cpu / cap.cpu, demand.mem / cap.mem);
}

static void host_power(Model *m, size_t h, bool on) {
        m->must_empty[h] = !on;
        m->target_ok[h] = on && m->source_ok[h];
        m->counted[h] = on;
}

static int double_desc(const void *x, const void *y) {
        double a = *(const double *) x, b = *(const double *) y;
        return a > b ? -1 : a < b;
}

/* Local overload (balance.overload): a powered host's CPU demand is above that share of its
 * capacity and no other powered host has room (up to the band's top) for even the smallest of
 * its VMs: a reason to power a host on although the cluster as a whole may be inside the band. */
static bool overload_needs_room(const Model *m, const Assignment *a) {
        const Policy *pol = m->problem->policy;
        double best_room = 0;
        bool over = false;

        for (size_t h = 0; h < m->n_hosts; h++) {
                if (!m->counted[h])
                        continue;
                if (a->cpu_load[h] > pol->balance.overload * m->cpu_cap[h] + 1e-9)
                        over = true;
                else if (m->target_ok[h])
                        best_room = fmax(best_room, pol->dpm.target_high * m->cpu_cap[h] - a->cpu_load[h]);
        }
        if (!over)
                return false;
        for (size_t v = 0; v < m->n_vms; v++) {
                int h = a->host[v];
                if (h < 0 || !m->counted[h] || m->fixed[v] || m->cpu[v] <= 0 ||
                    a->cpu_load[h] <= pol->balance.overload * m->cpu_cap[h] + 1e-9)
                        continue;
                if (m->cpu[v] <= best_room)
                        return false; /* a VM of an overloaded host fits elsewhere: balance's job */
        }
        return true;
}

/* Sum of the k largest values of caps[0..n). Sorts caps. */
static double top_k_sum(double *caps, size_t n, unsigned k) {
        double s = 0;
        qsort(caps, n, sizeof(double), double_desc);
        for (size_t i = 0; i < n && i < k; i++)
                s += caps[i];
        return s;
}

/* Could the counted hosts other than c carry demand at <= high, with headroom? */
static bool rest_carries(const Model *m, size_t c, Load demand, double *scratch_cpu, double *scratch_mem) {
        const DpmPolicy *d = &m->problem->policy->dpm;
        Load rest = {};
        size_t n = 0;

        for (size_t h = 0; h < m->n_hosts; h++) {
                if (!capacity_counts(m, h) || h == c)
                        continue;
                rest.cpu += m->cpu_cap[h];
                rest.mem += m->mem_cap[h];
                scratch_cpu[n] = m->cpu_cap[h];
                scratch_mem[n] = m->mem_cap[h];
                n++;
        }
        rest.cpu -= top_k_sum(scratch_cpu, n, d->headroom_hosts);
        rest.mem -= top_k_sum(scratch_mem, n, d->headroom_hosts);
        return rest.cpu > 0 && rest.mem > 0 && demand.cpu <= d->target_high * rest.cpu &&
               demand.mem <= d->target_high * rest.mem;
}

/* Problem.quorum: the votes of the hosts that stay powered when the hosts in standby (or going
 * there: standby[]) and host c (SIZE_MAX: none) are off, less `tolerate` failing ones.
 * scratch: 2 × n_hosts unsigned, scratch_off: n_hosts. */
static unsigned votes_left(
        const Model *m, const bool *standby, size_t c, unsigned tolerate, unsigned *scratch,
        bool *scratch_off) {
        const Problem *p = m->problem;
        for (size_t h = 0; h < m->n_hosts; h++) {
                scratch[m->n_hosts + h] = p->hosts[h].votes;
                scratch_off[h] = p->hosts[h].state == HOST_STANDBY || standby[h] || h == c;
        }
        return quorum_votes_left(
                p->quorum.total_votes, scratch + m->n_hosts, scratch_off, m->n_hosts, tolerate, scratch);
}

/* May DPM choose host h for standby now? */
static bool standby_eligible(const Model *m, const Assignment *a, size_t h) {
        const Problem *p = m->problem;
        uint64_t cooldown = p->policy->balance.cooldown_s;

        if (!m->counted[h] || !m->dpm_may_standby[h] || m->must_empty[h] || !m->target_ok[h])
                return false;
        for (size_t v = 0; v < m->n_vms; v++) {
                if (a->host[v] != (int) h)
                        continue;
                /* Not a VM that just arrived in this pass, nor one in its cooldown. */
                if (m->initial[v] != (int) h || m->fixed[v])
                        return false;
                if (p->vms[v].last_moved_s >= 0 && (uint64_t) p->vms[v].last_moved_s < cooldown)
                        return false;
        }
        return true;
}

/* Watts per core at full load: the lower, the more efficient the host. 0 without a model. */
static double watts_per_core(const Model *m, size_t h) {
        const PowerModel *pm = &m->problem->hosts[h].power;
        return pm->known && m->cpu_cap[h] > 0 ? pm->watts[POWER_MODEL_POINTS - 1] / m->cpu_cap[h] : 0;
}

/* Whether a and b differ in efficiency by more than 2 % (power models known): then efficiency
 * decides which host DPM keeps or wakes, else memory does. */
static int efficiency_cmp(const Model *m, size_t a, size_t b) {
        double ea = watts_per_core(m, a), eb = watts_per_core(m, b);
        if (ea <= 0 || eb <= 0 || fabs(ea - eb) <= 0.02 * fmax(ea, eb))
                return 0;
        return ea < eb ? -1 : 1;
}

/* Standby hosts DPM may power on: the most efficient first (watts per core, with power
 * models), then the largest (memory, then CPU, then index). */
static int next_power_on(const Model *m, const bool *power_on) {
        const Problem *p = m->problem;
        int best = -1;
        for (size_t h = 0; h < m->n_hosts; h++) {
                if (p->hosts[h].state != HOST_STANDBY || p->hosts[h].frozen || power_on[h])
                        continue;
                if (best < 0) {
                        best = (int) h;
                        continue;
                }
                int e = efficiency_cmp(m, h, (size_t) best);
                if (e < 0 ||
                    (e == 0 && (m->mem_cap[h] > m->mem_cap[best] ||
                                (m->mem_cap[h] == m->mem_cap[best] && m->cpu_cap[h] > m->cpu_cap[best]))))
                        best = (int) h;
        }
        return best;
}

static int power_on_for_unplaceable(Model *m, Greedy *g, const MoveReason *host_reason, DpmResult *res) {
        int r;

        while (g->unplaceable.n > 0) {
                int h = next_power_on(m, res->power_on);
                if (h < 0)
                        return 0;

                Assignment saved;
                r = assignment_copy(m, g->a, &saved);
                if (r < 0)
                        return r;
                _cleanup_free_ MoveTag *saved_tags = malloc(sizeof(MoveTag) * (m->n_vms ? m->n_vms : 1));
                if (!saved_tags) {
                        assignment_done(&saved);
                        return -ENOMEM;
                }
                memcpy(saved_tags, g->tags, sizeof(MoveTag) * m->n_vms);
                UnplaceableList saved_unplaceable = g->unplaceable;
                g->unplaceable = (UnplaceableList){};

                host_power(m, (size_t) h, true);
                r = assignment_rebase(m, g->a);
                if (r >= 0)
                        r = greedy_mandatory(g, host_reason);
                if (r >= 0 && g->unplaceable.n < saved_unplaceable.n) {
                        res->power_on[h] = true;
                        res->n_power_on++;
                        unplaceable_list_done(&saved_unplaceable);
                        assignment_done(&saved);
                        continue;
                }
                /* No better (or failed): back to where we were. */
                host_power(m, (size_t) h, false);
                assignment_done(g->a);
                *g->a = saved;
                memcpy(g->tags, saved_tags, sizeof(MoveTag) * m->n_vms);
                unplaceable_list_done(&g->unplaceable);
                g->unplaceable = saved_unplaceable;
                return r < 0 ? r : 0;
        }
        return 0;
}

typedef struct Candidate {
        size_t host;
        long efficiency; /* watts per core in 2 % classes (higher: less efficient); 0 without a model */
        double mem_cfg;  /* configured memory to move */
} Candidate;

static int candidate_cmp(const void *x, const void *y) {
        const Candidate *a = x, *b = y;
        if (a->efficiency != b->efficiency)
                return a->efficiency > b->efficiency ? -1 : 1;
        if (a->mem_cfg != b->mem_cfg)
                return a->mem_cfg < b->mem_cfg ? -1 : 1;
        return a->host < b->host ? -1 : a->host > b->host;
}

/* Down: picks the hosts to empty in one go — the least efficient first (power models), then the
 * least memory to move — while the powered hosts stay below the band's bottom on the standby
 * statistic (sdemand), the others carry the VMs' demands (their recent peaks: demand) inside
 * the band with headroom (rest_carries), quorum holds and the pass's move budget lasts; so the
 * next pass has no reason to power a host on again. Marks them all off,
 * then evacuates each onto the hosts that stay on, so no VM moves twice. A host that cannot be
 * emptied is powered on again (a target for the rest). */
static int consolidate(
        Model *m, Greedy *g, Load sdemand, Load demand, DpmResult *res, double *scratch_cpu,
        double *scratch_mem, unsigned *scratch_votes, bool *scratch_off) {
        const Problem *p = m->problem;
        const DpmPolicy *d = &p->policy->dpm;
        unsigned min_on = d->min_hosts_on > 1 ? d->min_hosts_on : 1;
        unsigned budget = p->policy->balance.max_moves_per_pass;
        size_t H = m->n_hosts, n_cand = 0, n_on, moves = 0, n_sel = 0;
        int r;

        _cleanup_free_ Candidate *cand = calloc(H ? H : 1, sizeof(Candidate));
        _cleanup_free_ bool *sel = calloc(H ? H : 1, sizeof(bool));
        if (!cand || !sel)
                return -ENOMEM;
        for (size_t h = 0; h < H; h++) {
                if (!standby_eligible(m, g->a, h))
                        continue;
                double wpc = watts_per_core(m, h);
                cand[n_cand++] = (Candidate){
                        .host = h,
                        .efficiency = wpc > 0 ? lround(log(wpc) / log(1.02)) : 0,
                        .mem_cfg = g->a->mem_cfg[h],
                };
        }
        qsort(cand, n_cand, sizeof(Candidate), candidate_cmp);

        for (size_t i = 0; i < n_cand; i++) {
                size_t c = cand[i].host;
                Load cap = counted_capacity(m, &n_on);
                if (utilization(sdemand, cap) >= d->target_low || n_on <= min_on)
                        break;
                if (n_sel > 0 && moves + g->a->count[c] > budget)
                        break;
                if (!rest_carries(m, c, demand, scratch_cpu, scratch_mem))
                        continue;
                if (p->quorum.enabled &&
                    votes_left(m, sel, c, d->tolerate_failures, scratch_votes, scratch_off) <
                            p->quorum.quorum) {
                        res->quorum_limited = true;
                        continue;
                }
                host_power(m, c, false);
                sel[c] = true;
                n_sel++;
                moves += g->a->count[c];
        }
        if (n_sel == 0)
                return 0;

        r = assignment_rebase(m, g->a);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_cand; i++) {
                size_t c = cand[i].host;
                if (!sel[c])
                        continue;
                r = greedy_evacuate_host(g, c, REASON_DPM);
                if (r == -ENOSPC) {
                        sel[c] = false;
                        host_power(m, c, true);
                        r = assignment_rebase(m, g->a);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;
                res->standby[c] = true;
                res->n_standby++;
        }
        return 0;
}

int dpm_run(Model *m, Greedy *g, const MoveReason *host_reason, DpmResult *ret) {
        const DpmPolicy *d = &m->problem->policy->dpm;
        _cleanup_(dpm_result_done) DpmResult res = {};
        size_t H = m->n_hosts, n_on;
        int r;

        res.standby = calloc(H ? H : 1, sizeof(bool));
        res.power_on = calloc(H ? H : 1, sizeof(bool));
        _cleanup_free_ double *scratch_cpu = calloc(H ? H : 1, sizeof(double));
        _cleanup_free_ double *scratch_mem = calloc(H ? H : 1, sizeof(double));
        _cleanup_free_ unsigned *scratch_votes = calloc(2 * H + 1, sizeof(unsigned));
        _cleanup_free_ bool *scratch_off = calloc(H + 1, sizeof(bool));
        if (!res.standby || !res.power_on || !scratch_cpu || !scratch_mem || !scratch_votes || !scratch_off)
                return -ENOMEM;

        if (!d->enabled || H == 0)
                goto done;

        Load demand = total_demand(m, g->a);

        /* Up. */
        if (utilization(demand, counted_capacity(m, NULL)) > d->target_high ||
            overload_needs_room(m, g->a)) {
                res.wants_power_on = true;
                res.power_on_held = m->problem->dpm_hold_power_on;
        }
        if (res.wants_power_on && !res.power_on_held) {
                bool changed = false;
                while (utilization(demand, counted_capacity(m, NULL)) > d->target_high ||
                       overload_needs_room(m, g->a)) {
                        int h = next_power_on(m, res.power_on);
                        if (h < 0)
                                break;
                        host_power(m, (size_t) h, true);
                        res.power_on[h] = true;
                        res.n_power_on++;
                        changed = true;
                }
                if (changed) {
                        r = assignment_rebase(m, g->a);
                        if (r < 0)
                                return r;
                        if (g->unplaceable.n > 0) {
                                /* Room appeared: place what could not be placed before. */
                                unplaceable_list_done(&g->unplaceable);
                                r = greedy_mandatory(g, host_reason);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        r = power_on_for_unplaceable(m, g, host_reason, &res);
        if (r < 0)
                return r;
        if (res.n_power_on > 0 || g->unplaceable.n > 0)
                goto done;

        /* Down: judged on the standby statistic where the caller keeps one. */
        Load sdemand = demand;
        if (m->problem->dpm_standby_demand.set)
                sdemand = (Load){
                        .cpu = m->problem->dpm_standby_demand.cpu,
                        .mem = m->problem->dpm_standby_demand.memory_mib,
                };
        Load cap0 = counted_capacity(m, &n_on);
        if (utilization(sdemand, cap0) < d->target_low &&
            n_on > (d->min_hosts_on > 1 ? d->min_hosts_on : 1)) {
                res.wants_standby = true;
                res.standby_held = m->problem->dpm_hold_standby;
        }
        if (res.wants_standby && !res.standby_held) {
                r = consolidate(
                        m, g, sdemand, demand, &res, scratch_cpu, scratch_mem, scratch_votes, scratch_off);
                if (r < 0)
                        return r;
        }

done:
        if (m->problem->quorum.enabled)
                res.votes_after = votes_left(m, res.standby, SIZE_MAX, 0, scratch_votes, scratch_off);
        *ret = res;
        res = (DpmResult){};
        return 0;
}
