/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Exact-objective local search (see local-search.h). What runs: solver_plan() calls
 * ls_improve() once per pass, after lns_improve(). Each step scans every single move and every
 * swap of the candidate hosts, evaluated in O(1) from the assignment's running sums (plus the
 * VM's rules for single moves of VMs that have some), and applies the best one; at a local
 * optimum the best plan found so far is kicked (LS_KICK random feasible moves or swaps) and
 * descended again. Candidate hosts: all up to LS_ALL_HOSTS; else the LS_CANDIDATE_HOSTS
 * hottest and as many coldest by the weighted utilization deviation, recomputed every step (a
 * VM may always go back to its initial host, and a VM already moved may go to any host). The
 * work budget counts candidate evaluations:
 * same input, same plan. */

#include <errno.h>
#include <math.h>
#include <string.h>

#include "local-search.h"
#include "macro.h"
#include "order.h"

#define LS_ALL_HOSTS 16      /* every host a candidate up to this many eligible hosts … */
#define LS_CANDIDATE_HOSTS 8 /* … else this many hottest and as many coldest */
/* Default work (candidate evaluations, ≈ 15 ns each here): up to LS_TINY_HOSTS counted hosts,
 * where the move budget rarely binds and search pays most (≈ 0.75 s; GLPK runs fewer rounds
 * there, see glpk-lns.c: per second the search gains more than further sub-MIPs) … */
#define LS_WORK_TINY 40000000
#define LS_TINY_HOSTS 16
#define LS_WORK_SMALL 6000000 /* … up to LS_SMALL_HOSTS (≈ 0.1 s) … */
#define LS_SMALL_HOSTS 32
#define LS_WORK_LARGE 600000      /* … and above (≈ 10 ms: the budget binds, time targets are tight) */
#define LS_KICK 5                 /* random steps per perturbation */
#define LS_MAX_STALE 40           /* stop after this many perturbations in a row without a better plan */
#define LS_MAX_STALE_AT_TARGET 10 /* … once the best plan is at its target (LsOptions.stable) */
#define LS_KICK_TRIES 64          /* draws per random step */
#define LS_EPS 1e-12
#define LS_TOP 8 /* best steps kept per scan: tried in order until one can be sequenced */

enum {
        STEP_NONE,
        STEP_MOVE,
        STEP_SWAP,
};

typedef struct LsStep {
        int kind;
        size_t v, w; /* swap: v and w trade hosts; move: v goes to h */
        size_t h;
        int added; /* moves the step adds to the count (may be negative) */
        double d;  /* objective change (score + migration cost) */
} LsStep;

typedef struct LsTop {
        LsStep step[LS_TOP]; /* by d, best first */
        size_t n;
} LsTop;

/* The bound a candidate must beat to enter top. */
static double top_bound(const LsTop *t) {
        return t->n < LS_TOP ? -LS_EPS : t->step[t->n - 1].d;
}

static void top_add(LsTop *t, const LsStep *st) {
        size_t i = t->n < LS_TOP ? t->n++ : LS_TOP - 1;
        while (i > 0 && t->step[i - 1].d > st->d) {
                t->step[i] = t->step[i - 1];
                i--;
        }
        t->step[i] = *st;
}

typedef struct Ls {
        const Model *m;
        Assignment *a;
        const LsOptions *o;
        unsigned moves;     /* VMs away from their initial host */
        double lambda_unit; /* score units per MiB moved */
        double target;      /* the imbalance counts only above this (LsOptions.stable) */
        uint64_t work, work_limit, deadline_us, rng;
        OrderInput order_in; /* the plan as the orderer sees it: final is the assignment */
        size_t base_dropped; /* moves the orderer dropped from the input plan */

        bool *vm_ok;      /* n_vms: may move */
        bool *swap_ok;    /* n_vms: may be half of a swap (no VM–VM rules) */
        bool *skip;       /* n_vms: ls_prune() scratch */
        bool *host_ok;    /* n_hosts: may send and receive */
        bool *cand;       /* n_hosts: candidate this step */
        double *key;      /* n_hosts */
        size_t *order;    /* n_hosts */
        size_t *hstart;   /* n_hosts + 1: per-host lists of movable VMs */
        size_t *hvms;     /* n_vms */
        size_t *fill;     /* n_hosts */
        double *uc, *um;  /* n_hosts: utilizations now (ls_prepare()) */
        double imbalance; /* assignment_imbalance() now (ls_prepare()) */
        size_t *chosts;   /* n_hosts: the candidates, in index order */
        size_t n_chosts;
        size_t n_host_ok;
} Ls;

static void ls_done(Ls *s) {
        free(s->vm_ok);
        free(s->swap_ok);
        free(s->skip);
        free(s->host_ok);
        free(s->cand);
        free(s->key);
        free(s->order);
        free(s->hstart);
        free(s->hvms);
        free(s->fill);
        free(s->chosts);
        free(s->uc);
        free(s->um);
}

static uint64_t ls_rand(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static size_t ls_below(Ls *s, size_t n) {
        return n > 0 ? (size_t) (ls_rand(&s->rng) % n) : 0;
}

static bool is_move(const Model *m, size_t v, size_t h) {
        return m->initial[v] >= 0 && (int) h != m->initial[v];
}

static double move_cost(const Ls *s, size_t v, size_t h) {
        return is_move(s->m, v, h) ? s->lambda_unit * s->m->move_mib[v] : 0;
}

/* The change of max(imbalance - target, 0) when the imbalance changes by dimb from imb. */
static double ls_hinge(const Ls *s, double imb, double dimb) {
        return fmax(imb + dimb - s->target, 0) - fmax(imb - s->target, 0);
}

static double sd_of(double sum, double sum2, size_t n) {
        if (n == 0)
                return 0;
        double mean = sum / (double) n, var = sum2 / (double) n - mean * mean;
        return var > 0 ? sqrt(var) : 0;
}

static bool out_of_work(Ls *s) {
        if (s->work >= s->work_limit)
                return true;
        if (s->deadline_us > 0 && s->o->clock_us(s->o->clock_userdata) >= s->deadline_us) {
                s->work_limit = s->work; /* stays out of work */
                return true;
        }
        return false;
}

static int heat_cmp(const void *x, const void *y, void *userdata) {
        const double *key = userdata;
        size_t a = *(const size_t *) x, b = *(const size_t *) y;
        if (key[a] != key[b])
                return key[a] > key[b] ? -1 : 1;
        return a < b ? -1 : a > b;
}

/* Candidate hosts and the per-host lists of movable VMs on them. */
static void ls_prepare(Ls *s) {
        const Model *m = s->m;
        const Assignment *a = s->a;
        size_t n = 0;
        double nc = a->n_counted > 0 ? (double) a->n_counted : 1;
        double mc = a->sum_ucpu / nc, mm = a->sum_umem / nc;
        double sdc = sd_of(a->sum_ucpu, a->sum_ucpu2, a->n_counted),
               sdm = sd_of(a->sum_umem, a->sum_umem2, a->n_counted);

        s->imbalance = assignment_imbalance(m, a);
        for (size_t h = 0; h < m->n_hosts; h++) {
                s->uc[h] = a->cpu_load[h] / m->cpu_cap[h];
                s->um[h] = a->mem_load[h] / m->mem_cap[h];
                s->cand[h] = false;
                if (!s->host_ok[h])
                        continue;
                s->key[h] = m->w_cpu * (a->cpu_load[h] / m->cpu_cap[h] - mc) / fmax(sdc, 1e-9) +
                            m->w_mem * (a->mem_load[h] / m->mem_cap[h] - mm) / fmax(sdm, 1e-9);
                s->order[n++] = h;
        }
        if (n <= LS_ALL_HOSTS)
                for (size_t i = 0; i < n; i++)
                        s->cand[s->order[i]] = true;
        else {
                qsort_r(s->order, n, sizeof(size_t), heat_cmp, s->key);
                for (size_t i = 0; i < LS_CANDIDATE_HOSTS; i++) {
                        s->cand[s->order[i]] = true;
                        s->cand[s->order[n - 1 - i]] = true;
                }
        }
        s->n_chosts = 0;
        for (size_t h = 0; h < m->n_hosts; h++)
                if (s->cand[h])
                        s->chosts[s->n_chosts++] = h;

        memset(s->hstart, 0, sizeof(size_t) * (m->n_hosts + 1));
        for (size_t v = 0; v < m->n_vms; v++)
                if (s->vm_ok[v] && a->host[v] >= 0 && s->cand[a->host[v]])
                        s->hstart[a->host[v] + 1]++;
        for (size_t h = 0; h < m->n_hosts; h++) {
                s->hstart[h + 1] += s->hstart[h];
                s->fill[h] = s->hstart[h];
        }
        for (size_t v = 0; v < m->n_vms; v++)
                if (s->vm_ok[v] && a->host[v] >= 0 && s->cand[a->host[v]])
                        s->hvms[s->fill[a->host[v]]++] = v;
}

/* The single move of v to h: fills *ret and returns true when it is allowed (budget, min_gain,
 * hard constraints); need_gain: the step must also improve the objective. */
static bool
ls_eval_move(Ls *s, size_t v, size_t h, const MoveFrom *f, bool need_gain, double bound, LsStep *ret) {
        const Model *m = s->m;
        const Assignment *a = s->a;
        size_t from = (size_t) a->host[v];

        s->work++;
        if (h == from || !s->host_ok[h])
                return false;
        int added = (int) is_move(m, v, h) - (int) is_move(m, v, from);
        if (added > 0 && s->moves + (unsigned) added > s->o->move_budget)
                return false;
        double dimb, ds = assignment_move_delta_split(m, a, f, h, &dimb);
        ds += ls_hinge(s, f->imbalance, dimb) - dimb;
        if (need_gain && added > 0 && -ds < added * s->o->min_gain - LS_EPS)
                return false;
        double d = ds + move_cost(s, v, h) - move_cost(s, v, from);
        if (need_gain && d >= bound)
                return false;
        if (!assignment_fits(m, a, v, h, NULL))
                return false;
        *ret = (LsStep){.kind = STEP_MOVE, .v = v, .h = h, .added = added, .d = d};
        return true;
}

/* The swap of v and w (on different candidate hosts), as ls_eval_move(). */
static bool ls_eval_swap(Ls *s, size_t v, size_t w, bool need_gain, double bound, LsStep *ret) {
        const Model *m = s->m;
        const Assignment *a = s->a;
        size_t A = (size_t) a->host[v], B = (size_t) a->host[w];

        s->work++;
        if (A == B)
                return false;
        int added = (int) is_move(m, v, B) + (int) is_move(m, w, A) - (int) is_move(m, v, A) -
                    (int) is_move(m, w, B);
        if (added > 0 && s->moves + (unsigned) added > s->o->move_budget)
                return false;

        /* Capacity first (cheap, and in memory-full clusters most swaps fail it): both ends fit
         * after the swap; one half fits before the other leaves. */
        double memA = a->mem_cfg[A] - m->mem_cfg[v] + m->mem_cfg[w],
               memB = a->mem_cfg[B] - m->mem_cfg[w] + m->mem_cfg[v];
        double vcA = a->vcpu_load[A] - m->vcpus[v] + m->vcpus[w],
               vcB = a->vcpu_load[B] - m->vcpus[w] + m->vcpus[v];
        if (memA > m->mem_limit[A] || memB > m->mem_limit[B] || vcA > m->vcpu_limit[A] ||
            vcB > m->vcpu_limit[B] || !model_allowed(m, v, B) || !model_allowed(m, w, A))
                return false;
        bool v_first = a->mem_cfg[B] + m->mem_cfg[v] <= m->mem_limit[B] &&
                       a->vcpu_load[B] + m->vcpus[v] <= m->vcpu_limit[B];
        bool w_first = a->mem_cfg[A] + m->mem_cfg[w] <= m->mem_limit[A] &&
                       a->vcpu_load[A] + m->vcpus[w] <= m->vcpu_limit[A];
        if (!v_first && !w_first)
                return false;

        double dc = m->cpu[v] - m->cpu[w], dm = m->mem[v] - m->mem[w];
        double ucA = s->uc[A], ucB = s->uc[B], umA = s->um[A], umB = s->um[B];
        double ucA2 = (a->cpu_load[A] - dc) / m->cpu_cap[A], ucB2 = (a->cpu_load[B] + dc) / m->cpu_cap[B];
        double umA2 = (a->mem_load[A] - dm) / m->mem_cap[A], umB2 = (a->mem_load[B] + dm) / m->mem_cap[B];
        double sc = a->sum_ucpu - ucA - ucB + ucA2 + ucB2;
        double sc2 = a->sum_ucpu2 - ucA * ucA - ucB * ucB + ucA2 * ucA2 + ucB2 * ucB2;
        double sm = a->sum_umem - umA - umB + umA2 + umB2;
        double sm2 = a->sum_umem2 - umA * umA - umB * umB + umA2 * umA2 + umB2 * umB2;
        double ds = ls_hinge(
                s, s->imbalance,
                m->w_cpu * sd_of(sc, sc2, a->n_counted) + m->w_mem * sd_of(sm, sm2, a->n_counted) -
                        s->imbalance);
        ds += model_soft_penalty(m, v, B) - model_soft_penalty(m, v, A) + model_soft_penalty(m, w, A) -
              model_soft_penalty(m, w, B);
        if (need_gain && added > 0 && -ds < added * s->o->min_gain - LS_EPS)
                return false;
        double d = ds + move_cost(s, v, B) - move_cost(s, v, A) + move_cost(s, w, A) - move_cost(s, w, B);
        if (need_gain && d >= bound)
                return false;
        *ret = (LsStep){.kind = STEP_SWAP, .v = v, .w = w, .h = B, .added = added, .d = d};
        return true;
}

/* Applies st; returns its inverse. */
static LsStep ls_apply(Ls *s, const LsStep *st) {
        const Model *m = s->m;
        Assignment *a = s->a;
        LsStep inv = *st;

        inv.added = -st->added;
        inv.d = -st->d;
        if (st->kind == STEP_MOVE) {
                inv.h = (size_t) a->host[st->v];
                assignment_move(m, a, st->v, st->h);
        } else {
                size_t A = (size_t) a->host[st->v], B = (size_t) a->host[st->w];
                assignment_move(m, a, st->v, B);
                assignment_move(m, a, st->w, A);
        }
        s->moves = (unsigned) ((int) s->moves + st->added);
        return inv;
}

/* How many moves the orderer drops from the current plan (it never overfills a host: a plan it
 * cannot sequence is one whose moves would be lost), or -ENOMEM. */
static int ls_dropped_hops(Ls *s, size_t *ret, unsigned *ret_hops) {
        _cleanup_(order_result_done) OrderResult res = {};
        s->order_in.final = s->a->host;
        s->order_in.hop_budget = s->o->move_budget > s->moves ? s->o->move_budget - s->moves : 0;
        int r = order_plan(s->m, &s->order_in, &res);
        if (r < 0)
                return r;
        *ret = res.n_dropped;
        if (ret_hops)
                *ret_hops = res.hops_used;
        return 0;
}

static int ls_dropped(Ls *s, size_t *ret) {
        return ls_dropped_hops(s, ret, NULL);
}

/* Applies st if the orderer can still sequence the plan (drops no more than it did from the
 * input); returns 1 when applied, 0 when not, or -ENOMEM. */
static int ls_try(Ls *s, const LsStep *st) {
        size_t dropped;
        LsStep inv = ls_apply(s, st);
        int r = ls_dropped(s, &dropped);
        if (r < 0)
                return r;
        if (dropped <= s->base_dropped)
                return 1;
        (void) ls_apply(s, &inv);
        return 0;
}

/* The LS_TOP best improving steps. */
static void ls_best(Ls *s, LsTop *top) {
        const Model *m = s->m;
        const Assignment *a = s->a;
        LsStep st;

        top->n = 0;
        ls_prepare(s);
        for (size_t i = 0; i < s->n_chosts; i++) {
                size_t A = s->chosts[i];
                for (size_t k = s->hstart[A]; k < s->hstart[A + 1]; k++) {
                        size_t v = s->hvms[k];
                        MoveFrom f;
                        assignment_move_from(m, a, v, &f);
                        for (size_t j = 0; j < s->n_chosts; j++)
                                if (ls_eval_move(s, v, s->chosts[j], &f, true, top_bound(top), &st))
                                        top_add(top, &st);
                        int init = m->initial[v];
                        if (init >= 0 && !s->cand[init] &&
                            ls_eval_move(s, v, (size_t) init, &f, true, top_bound(top), &st))
                                top_add(top, &st);
                }
        }
        /* Planned moves anywhere (they hold the budget when it binds): each moved VM to every
         * host, wherever it is now — O(budget × hosts). */
        if (s->n_chosts < s->n_host_ok)
                for (size_t v = 0; v < m->n_vms; v++) {
                        int cur = a->host[v];
                        if (!s->vm_ok[v] || cur < 0 || cur == m->initial[v])
                                continue;
                        MoveFrom f;
                        assignment_move_from(m, a, v, &f);
                        for (size_t h = 0; h < m->n_hosts; h++)
                                if ((!s->cand[cur] || !s->cand[h]) && (int) h != m->initial[v] &&
                                    ls_eval_move(s, v, h, &f, true, top_bound(top), &st))
                                        top_add(top, &st);
                }
        for (size_t i = 0; i < s->n_chosts; i++) {
                size_t A = s->chosts[i];
                for (size_t j = i + 1; j < s->n_chosts; j++) {
                        size_t B = s->chosts[j];
                        for (size_t k = s->hstart[A]; k < s->hstart[A + 1]; k++) {
                                size_t v = s->hvms[k];
                                if (!s->swap_ok[v])
                                        continue;
                                for (size_t l = s->hstart[B]; l < s->hstart[B + 1]; l++) {
                                        size_t w = s->hvms[l];
                                        if (s->swap_ok[w] &&
                                            ls_eval_swap(s, v, w, true, top_bound(top), &st))
                                                top_add(top, &st);
                                }
                        }
                }
        }
}

/* What solver_plan()'s prune_small_moves() will do to the plan, here already: while a balance
 * move contributes less than min_gain (the score would rise by less with its VM back home),
 * the smallest such is reverted (if it fits and the plan stays sequenceable). Without it the
 * search would keep plans whose gains the pruning then takes back. */
static int ls_prune(Ls *s) {
        const Model *m = s->m;
        unsigned hops_now = 0;
        bool have_hops = false;
        memset(s->skip, 0, sizeof(bool) * m->n_vms);
        for (;;) {
                size_t worst = SIZE_MAX;
                double worst_gain = s->o->min_gain, worst_raw = INFINITY;
                stable_check_sync(m, s->a, s->o->stable);
                for (size_t v = 0; v < m->n_vms; v++) {
                        int init = m->initial[v];
                        if (!s->vm_ok[v] || s->skip[v] || init < 0 || s->a->host[v] == init ||
                            !s->host_ok[init])
                                continue;
                        double raw, gain = stable_check_gain(m, s->a, s->o->stable, v, (size_t) init, &raw);
                        if (gain >= s->o->min_gain || gain > worst_gain ||
                            (gain == worst_gain && raw >= worst_raw) ||
                            !assignment_fits(m, s->a, v, (size_t) init, NULL))
                                continue;
                        worst_gain = gain;
                        worst_raw = raw;
                        worst = v;
                }
                if (worst == SIZE_MAX)
                        return 0;
                LsStep st = {
                        .kind = STEP_MOVE,
                        .v = worst,
                        .h = (size_t) m->initial[worst],
                        .added = -1,
                };
                /* Applied if the orderer sequences the rest as well, with no more hops. */
                size_t dropped;
                unsigned hops;
                int r;
                if (!have_hops) {
                        r = ls_dropped_hops(s, &dropped, &hops_now);
                        if (r < 0)
                                return r;
                        have_hops = true;
                }
                LsStep inv = ls_apply(s, &st);
                r = ls_dropped_hops(s, &dropped, &hops);
                if (r < 0)
                        return r;
                if (dropped > s->base_dropped || hops > hops_now) {
                        (void) ls_apply(s, &inv);
                        s->skip[worst] = true; /* cannot be sequenced back: leave it */
                } else
                        hops_now = hops;
        }
}

/* Descends to a local optimum (or until the work is spent), then prunes. */
static int ls_descend(Ls *s, LsStats *stats) {
        LsTop top;

        while (!out_of_work(s)) {
                int r = 0;
                ls_best(s, &top);
                for (size_t i = 0; i < top.n && r == 0; i++) {
                        r = ls_try(s, &top.step[i]);
                        if (r > 0) {
                                stats->steps++;
                                stats->swaps += top.step[i].kind == STEP_SWAP;
                        }
                }
                if (r < 0)
                        return r;
                if (r == 0)
                        break; /* a local optimum (among what can be sequenced) */
        }
        return ls_prune(s);
}

/* A random allowed step among the candidates (improving or not) that keeps the plan sequenceable:
 * 1 when made, 0 after LS_KICK_TRIES draws found none, or -ENOMEM. */
static int ls_random_step(Ls *s) {
        const Model *m = s->m;
        const Assignment *a = s->a;
        LsStep st;

        ls_prepare(s);
        size_t n = s->hstart[m->n_hosts];
        if (n == 0 || s->n_chosts < 2)
                return 0;
        for (unsigned t = 0; t < LS_KICK_TRIES; t++) {
                size_t v = s->hvms[ls_below(s, n)];
                size_t h = s->chosts[ls_below(s, s->n_chosts)];
                if (h == (size_t) a->host[v])
                        continue;
                bool ok;
                if (ls_below(s, 2) == 0 && s->swap_ok[v]) {
                        size_t nb = s->hstart[h + 1] - s->hstart[h];
                        if (nb == 0)
                                continue;
                        size_t w = s->hvms[s->hstart[h] + ls_below(s, nb)];
                        ok = s->swap_ok[w] && ls_eval_swap(s, v, w, false, 0, &st);
                } else {
                        MoveFrom f;
                        assignment_move_from(m, a, v, &f);
                        ok = ls_eval_move(s, v, h, &f, false, 0, &st);
                }
                if (ok) {
                        int r = ls_try(s, &st);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

/* dst := src (both allocated for m). */
static void ls_assign(const Model *m, Assignment *dst, const Assignment *src) {
        memcpy(dst->host, src->host, sizeof(int) * m->n_vms);
        memcpy(dst->cpu_load, src->cpu_load, sizeof(double) * m->n_hosts);
        memcpy(dst->mem_load, src->mem_load, sizeof(double) * m->n_hosts);
        memcpy(dst->mem_cfg, src->mem_cfg, sizeof(double) * m->n_hosts);
        memcpy(dst->vcpu_load, src->vcpu_load, sizeof(double) * m->n_hosts);
        memcpy(dst->count, src->count, sizeof(unsigned) * m->n_hosts);
        dst->sum_ucpu = src->sum_ucpu;
        dst->sum_ucpu2 = src->sum_ucpu2;
        dst->sum_umem = src->sum_umem;
        dst->sum_umem2 = src->sum_umem2;
        dst->n_counted = src->n_counted;
}

static double ls_objective(const Ls *s) {
        double cost = 0;
        for (size_t v = 0; v < s->m->n_vms; v++)
                if (s->a->host[v] >= 0)
                        cost += move_cost(s, v, (size_t) s->a->host[v]);
        double imb = assignment_imbalance(s->m, s->a);
        return assignment_score(s->m, s->a) - imb + fmax(imb - s->target, 0) + cost;
}

/* With a target: the plan's imbalance is at or under it and no soft rule is broken. */
static bool ls_at_target(const Ls *s) {
        if (!(s->target > 0))
                return false;
        double imb = assignment_imbalance(s->m, s->a);
        return imb <= s->target && assignment_score(s->m, s->a) - imb <= LS_EPS;
}

static int ls_init(Ls *s, const Model *m, Assignment *a, const LsOptions *o) {
        size_t H = m->n_hosts, V = m->n_vms;
        double mem_sum = 0;

        *s = (Ls){
                .m = m,
                .a = a,
                .o = o,
                .rng = UINT64_C(0x6472732d6c732d31) ^ ((uint64_t) H << 32) ^ (uint64_t) V,
        };
        if (!(s->vm_ok = calloc(V + 1, sizeof(bool))) || !(s->swap_ok = calloc(V + 1, sizeof(bool))) ||
            !(s->skip = calloc(V + 1, sizeof(bool))) || !(s->host_ok = calloc(H + 1, sizeof(bool))) ||
            !(s->cand = calloc(H + 1, sizeof(bool))) || !(s->key = calloc(H + 1, sizeof(double))) ||
            !(s->order = calloc(H + 1, sizeof(size_t))) || !(s->hstart = calloc(H + 2, sizeof(size_t))) ||
            !(s->hvms = calloc(V + 1, sizeof(size_t))) || !(s->fill = calloc(H + 1, sizeof(size_t))) ||
            !(s->chosts = calloc(H + 1, sizeof(size_t))) || !(s->uc = calloc(H + 1, sizeof(double))) ||
            !(s->um = calloc(H + 1, sizeof(double))))
                return -ENOMEM;

        for (size_t h = 0; h < H; h++) {
                s->host_ok[h] = m->target_ok[h] && m->source_ok[h] && m->counted[h] && !m->must_empty[h];
                s->n_host_ok += s->host_ok[h];
        }
        for (size_t v = 0; v < V; v++)
                s->vm_ok[v] = a->host[v] >= 0 && !m->fixed[v] && m->may_balance[v] && s->host_ok[a->host[v]];
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                if (rule->hard && rule->type == RULE_KEEP_TOGETHER)
                        for (size_t i = 0; i < rule->n_vms; i++)
                                s->vm_ok[rule->vms[i]] = false;
        }
        for (size_t v = 0; v < V; v++) {
                s->swap_ok[v] = s->vm_ok[v] && !m->rules_of_vm[v];
                mem_sum += m->mem_cfg[v];
                s->moves += a->host[v] >= 0 && is_move(m, v, (size_t) a->host[v]);
        }
        s->target = o->stable ? o->stable->target : 0;
        s->lambda_unit = MODEL_MIGRATION_COST / (V > 0 && mem_sum > 0 ? mem_sum / (double) V : 1);
        size_t n_counted = 0;
        for (size_t h = 0; h < H; h++)
                n_counted += m->counted[h];
        s->work_limit = o->work > 0                   ? o->work
                        : n_counted <= LS_TINY_HOSTS  ? LS_WORK_TINY
                        : n_counted <= LS_SMALL_HOSTS ? LS_WORK_SMALL
                                                      : LS_WORK_LARGE;
        if (o->clock_us && o->time_limit_s > 0)
                s->deadline_us = o->clock_us(o->clock_userdata) + (uint64_t) (o->time_limit_s * 1e6);
        return 0;
}

int ls_improve(const Model *m, Assignment *a, const LsOptions *opts, LsStats *ret_stats) {
        _cleanup_(ls_done) Ls s = {};
        _cleanup_(assignment_done) Assignment best = {};
        LsStats stats = {};
        int r;

        r = ls_init(&s, m, a, opts);
        if (r < 0)
                return r;
        if (s.moves > opts->move_budget || a->n_counted < 2) {
                if (ret_stats)
                        *ret_stats = stats;
                return 0; /* over the budget already (mandatory work): nothing to trade */
        }
        s.order_in = (OrderInput){
                .initial = m->initial,
                .mandatory = opts->mandatory,
                .late_host = opts->late_host,
        };
        r = ls_dropped(&s, &s.base_dropped);
        if (r < 0)
                return r;
        double start = ls_objective(&s);
        r = ls_descend(&s, &stats);
        if (r < 0)
                return r;
        double best_obj = ls_objective(&s);
        unsigned best_moves = s.moves;
        r = assignment_copy(m, a, &best);
        if (r < 0)
                return r;

        /* Iterated local search: kick the best plan, descend, keep the result if better. Once
         * the best plan has nothing left above the target, only the migration cost is left to
         * cut: fewer perturbations then (each costs the pruning's orderings, not counted as
         * work). */
        for (unsigned stale = 0;
             stale < (ls_at_target(&s) ? LS_MAX_STALE_AT_TARGET : LS_MAX_STALE) && !out_of_work(&s);
             stale++) {
                bool kicked = false;
                for (unsigned k = 0; k < LS_KICK; k++) {
                        r = ls_random_step(&s);
                        if (r < 0)
                                return r;
                        kicked = kicked || r > 0;
                }
                if (!kicked)
                        break;
                stats.restarts++;
                r = ls_descend(&s, &stats);
                if (r < 0)
                        return r;
                double obj = ls_objective(&s);
                if (obj < best_obj - LS_EPS) {
                        stale = 0;
                        best_obj = obj;
                        best_moves = s.moves;
                        ls_assign(m, &best, a);
                } else {
                        ls_assign(m, a, &best);
                        s.moves = best_moves;
                }
        }
        ls_assign(m, a, &best);
        stats.work = s.work;
        stats.improved = best_obj < start - LS_EPS;
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}
