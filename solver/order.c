/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>

#include "macro.h"
#include "order.h"

#define CAP_EPS 1e-6
#define MAX_U(x) ((x) > 0 ? (x) : 1u)

void order_result_done(OrderResult *r) {
        free(r->steps);
        free(r->final);
        free(r->dropped);
        free(r->dropped_rule);
        *r = (OrderResult){};
}

typedef struct Orderer {
        const Model *m;
        const OrderInput *in;
        size_t V, H;
        unsigned out_lim, in_lim, cluster_lim;

        int *cur;          /* n_vms */
        int *via;          /* n_vms: intermediate host of a hop not yet taken, or -1 */
        bool *hopped;      /* n_vms */
        double *mem_load;  /* n_hosts: configured memory */
        double *vcpu_load; /* n_hosts */
        size_t *pending;   /* VMs still to move, mandatory first, then by index */
        size_t n_pending;

        /* Per wave. */
        double *in_mem, *in_vcpu; /* n_hosts */
        unsigned *n_out, *n_in;   /* n_hosts */
        int *wave_to;             /* n_vms: destination in the wave being built, or -1 */
        size_t *selected;         /* n_vms */
        size_t n_selected;
        bool blocked_by_wave;
} Orderer;

static void orderer_done(Orderer *o) {
        free(o->cur);
        free(o->via);
        free(o->hopped);
        free(o->mem_load);
        free(o->vcpu_load);
        free(o->pending);
        free(o->in_mem);
        free(o->in_vcpu);
        free(o->n_out);
        free(o->n_in);
        free(o->wave_to);
        free(o->selected);
}

static int next_dest(const Orderer *o, size_t v) {
        return o->via[v] >= 0 ? o->via[v] : o->in->final[v];
}

static bool room_for(const Orderer *o, size_t v, size_t h) {
        const Model *m = o->m;
        return o->mem_load[h] + o->in_mem[h] + m->mem_cfg[v] <= m->mem_limit[h] + CAP_EPS &&
               o->vcpu_load[h] + o->in_vcpu[h] + m->vcpus[v] <= m->vcpu_limit[h] + CAP_EPS;
}

/* Would a hard keep-apart member be on h (now, or arriving in this wave)? A member leaving h
 * in this wave counts as on h: its migration may not have completed (or may fail) when v
 * arrives. Never relaxed: a wave's moves complete in any order and any of them may fail, so
 * every subset of a wave must keep the rule (a swap of two members is a hop or nothing).
 * Returns the index into vm_rules of the first such rule, or -1. */
static int apart_rule(const Orderer *o, size_t v, size_t h) {
        const Model *m = o->m;
        for (size_t *k = m->rules_of_vm[v]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (!rule->hard || rule->type != RULE_KEEP_APART)
                        continue;
                for (size_t i = 0; i < rule->n_vms; i++) {
                        size_t u = rule->vms[i];
                        if (u != v && (o->cur[u] == (int) h || o->wave_to[u] == (int) h))
                                return (int) *k;
                }
        }
        return -1;
}

static bool apart_clash(const Orderer *o, size_t v, size_t h) {
        return apart_rule(o, v, h) >= 0;
}

static bool late(const Orderer *o, size_t h, unsigned wave) {
        return wave == 1 && o->in->late_host && o->in->late_host[h];
}

/* Builds the wave greedily over the pending moves. */
static void select_wave(Orderer *o, unsigned wave) {
        unsigned n_cluster = 0;

        for (size_t i = 0; i < o->n_selected; i++)
                o->wave_to[o->selected[i]] = -1;
        o->n_selected = 0;
        o->blocked_by_wave = false;
        memset(o->in_mem, 0, sizeof(double) * o->H);
        memset(o->in_vcpu, 0, sizeof(double) * o->H);
        memset(o->n_out, 0, sizeof(unsigned) * o->H);
        memset(o->n_in, 0, sizeof(unsigned) * o->H);

        for (size_t i = 0; i < o->n_pending && n_cluster < o->cluster_lim; i++) {
                size_t v = o->pending[i];
                int s = o->cur[v], d = next_dest(o, v);

                if (late(o, (size_t) d, wave)) {
                        o->blocked_by_wave = true;
                        continue;
                }
                if (o->n_out[s] >= o->out_lim || o->n_in[d] >= o->in_lim)
                        continue;
                if (!room_for(o, v, (size_t) d))
                        continue;
                if (apart_clash(o, v, (size_t) d))
                        continue;

                o->wave_to[v] = d;
                o->selected[o->n_selected++] = v;
                o->in_mem[d] += o->m->mem_cfg[v];
                o->in_vcpu[d] += o->m->vcpus[v];
                o->n_out[s]++;
                o->n_in[d]++;
                n_cluster++;
        }
}

/* A deadlock: route one VM, whose host another blocked move needs, through a host with room. */
static bool try_hop(Orderer *o, unsigned wave, OrderResult *res) {
        const Model *m = o->m;

        for (size_t i = 0; i < o->n_pending; i++) {
                size_t v = o->pending[i];
                int s = o->cur[v], goal = o->in->final[v], best = -1;
                bool useful = false;

                if (o->hopped[v] || o->via[v] >= 0)
                        continue;
                if (!o->in->mandatory[v] && res->hops_used >= o->in->hop_budget)
                        continue;
                for (size_t j = 0; j < o->n_pending && !useful; j++)
                        useful = o->pending[j] != v && next_dest(o, o->pending[j]) == s;
                if (!useful)
                        continue;

                for (size_t h = 0; h < o->H; h++) {
                        if ((int) h == s || (int) h == goal || !m->target_ok[h] || m->must_empty[h] ||
                            !model_allowed(m, v, h) || late(o, h, wave))
                                continue;
                        if (!room_for(o, v, h) || apart_clash(o, v, h))
                                continue;
                        if (best < 0 ||
                            m->mem_limit[h] - o->mem_load[h] > m->mem_limit[best] - o->mem_load[best])
                                best = (int) h;
                }
                if (best < 0)
                        continue;
                o->via[v] = best;
                o->hopped[v] = true;
                if (!o->in->mandatory[v])
                        res->hops_used++;
                return true;
        }
        return false;
}

static int push_step(OrderResult *res, size_t *allocated, OrderStep step) {
        if (res->n_steps == *allocated) {
                size_t k = *allocated ? *allocated * 2 : 16;
                OrderStep *n = reallocarray(res->steps, k, sizeof(OrderStep));
                if (!n)
                        return -ENOMEM;
                res->steps = n;
                *allocated = k;
        }
        res->steps[res->n_steps++] = step;
        return 0;
}

int order_plan(const Model *m, const OrderInput *in, OrderResult *ret) {
        const LimitsPolicy *lim = &m->problem->policy->limits;
        _cleanup_(order_result_done) OrderResult res = {};
        Orderer o = {
                .m = m,
                .in = in,
                .V = m->n_vms,
                .H = m->n_hosts,
                .out_lim = MAX_U(lim->migrations_out_per_host),
                .in_lim = MAX_U(lim->migrations_in_per_host),
                .cluster_lim = MAX_U(lim->migrations_per_cluster),
        };
        size_t V1 = o.V ? o.V : 1, H1 = o.H ? o.H : 1, allocated = 0;
        unsigned wave = 1;
        int r = 0;

        o.cur = calloc(V1, sizeof(int));
        o.via = calloc(V1, sizeof(int));
        o.hopped = calloc(V1, sizeof(bool));
        o.mem_load = calloc(H1, sizeof(double));
        o.vcpu_load = calloc(H1, sizeof(double));
        o.pending = calloc(V1, sizeof(size_t));
        o.in_mem = calloc(H1, sizeof(double));
        o.in_vcpu = calloc(H1, sizeof(double));
        o.n_out = calloc(H1, sizeof(unsigned));
        o.n_in = calloc(H1, sizeof(unsigned));
        o.wave_to = calloc(V1, sizeof(int));
        o.selected = calloc(V1, sizeof(size_t));
        res.dropped = calloc(V1, sizeof(size_t));
        res.dropped_rule = calloc(V1, sizeof(int));
        if (!res.dropped_rule || !o.cur || !o.via || !o.hopped || !o.mem_load || !o.vcpu_load ||
            !o.pending || !o.in_mem || !o.in_vcpu || !o.n_out || !o.n_in || !o.wave_to || !o.selected ||
            !res.dropped) {
                r = -ENOMEM;
                goto finish;
        }

        for (size_t v = 0; v < o.V; v++) {
                o.cur[v] = in->initial[v];
                o.via[v] = -1;
                o.wave_to[v] = -1;
                if (o.cur[v] >= 0) {
                        o.mem_load[o.cur[v]] += m->mem_cfg[v];
                        o.vcpu_load[o.cur[v]] += m->vcpus[v];
                }
        }
        for (int pass = 0; pass < 2; pass++)
                for (size_t v = 0; v < o.V; v++)
                        if (in->initial[v] >= 0 && in->final[v] >= 0 && in->initial[v] != in->final[v] &&
                            in->mandatory[v] == (pass == 0))
                                o.pending[o.n_pending++] = v;

        while (o.n_pending > 0) {
                select_wave(&o, wave);
                if (o.n_selected == 0 && o.blocked_by_wave) {
                        /* Only moves onto hosts powered on in this wave remain: next wave. */
                        wave++;
                        continue;
                }
                if (o.n_selected == 0 && try_hop(&o, wave, &res))
                        select_wave(&o, wave);
                if (o.n_selected == 0) {
                        /* Nothing can move without overfilling a host or breaking a hard
                         * keep-apart rule at some point of the wave, and no hop helps: drop the
                         * rest (their VMs stay where they are, which is safe). */
                        for (size_t i = 0; i < o.n_pending; i++) {
                                size_t v = o.pending[i];
                                int k = apart_rule(&o, v, (size_t) next_dest(&o, v));
                                res.dropped_rule[res.n_dropped] = k >= 0 ? (int) m->vm_rules[k].rule : -1;
                                res.dropped[res.n_dropped++] = v;
                        }
                        o.n_pending = 0;
                        break;
                }

                for (size_t i = 0; i < o.n_selected; i++) {
                        size_t v = o.selected[i];
                        int s = o.cur[v], d = o.wave_to[v];
                        r = push_step(
                                &res, &allocated,
                                (OrderStep){
                                        .vm = v,
                                        .from = (size_t) s,
                                        .to = (size_t) d,
                                        .wave = wave,
                                        .hop = o.via[v] >= 0,
                                });
                        if (r < 0)
                                goto finish;
                        o.mem_load[s] -= m->mem_cfg[v];
                        o.vcpu_load[s] -= m->vcpus[v];
                        o.mem_load[d] += m->mem_cfg[v];
                        o.vcpu_load[d] += m->vcpus[v];
                        o.cur[v] = d;
                        o.via[v] = -1;
                }
                for (size_t i = 0; i < o.n_selected; i++)
                        o.wave_to[o.selected[i]] = -1;
                o.n_selected = 0;

                size_t k = 0;
                for (size_t i = 0; i < o.n_pending; i++)
                        if (o.cur[o.pending[i]] != in->final[o.pending[i]])
                                o.pending[k++] = o.pending[i];
                o.n_pending = k;
                res.n_waves = wave;
                wave++;
        }

        res.final = TAKE_PTR(o.cur);
        *ret = res;
        res = (OrderResult){};
finish:
        orderer_done(&o);
        return r;
}
