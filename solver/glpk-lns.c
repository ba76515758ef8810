/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* GLPK large-neighbourhood search (see lns.h). The only file that includes glpk.h.
 *
 * What runs: solver_plan() calls lns_improve() once per pass, after greedy. Each round picks a
 * neighbourhood — the K hottest and K coldest hosts by the score's utilization measure plus both
 * endpoints of a few already-planned moves, at most LNS_VMS_PER_HOST movable VMs on each — and
 * solves one small MIP over it:
 *
 *   x[v,h] binary for neighbourhood VM v × neighbourhood host h (VM–host rules, host state,
 *          capacity and keep-apart against VMs outside the neighbourhood pre-filter the columns);
 *   Σ_h x[v,h] = 1;  per host configured memory ≤ mem_limit and vCPUs ≤ vcpu_limit;
 *   hard keep-apart among neighbourhood VMs; members of hard keep-together rules never enter a
 *   neighbourhood (they stay where they are, so the group stays whole);
 *   Σ moved VMs (host ≠ Model.initial, those outside the neighbourhood as a constant) ≤ budget;
 *   minimize  Σ_r W_r Σ_h f(u_r[h] − ū_r) + Σ λ_v [v not on its initial host] + soft penalties,
 *
 * where f is a convex piecewise-linear interpolation of d² (LNS_SEGMENTS segments per side,
 * quadratically spaced so that it is finest near zero, and a steep last segment), ū_r is the
 * current mean utilization over counted hosts (a constant inside the MIP: exact when all hosts
 * have the same capacity; with mixed capacities Σ(u − ū₀)² = n·var + n(ū − ū₀)², which equals
 * the variance to first order around the current point — the true score decides anyway), and
 * W_r = w_r / (2 n sd_r) turns a change of Σ squares into a change of the standard deviation,
 * so that the objective, λ and the soft penalties are all in score units. Neighbourhood hosts
 * are always up, not frozen and not being emptied, so ū does not move because of host states.
 *
 * The MIP is warm-started with the current assignment (presolve off, glp_ios_heur_sol() from
 * the callback: with the presolver GLPK would keep only the objective value of a start), uses
 * depth-first backtracking (it finds improvements where best-bound does not) and is stopped from
 * the callback after a fixed number of nodes and simplex iterations: same input, same output.
 * tm_lim and the caller's clock are only safety nets. A result is kept only when
 * assignment_score() — recomputed with the model, never the MIP objective — improves (or stays
 * equal with fewer moves), and only after every moved VM passed assignment_fits() again.
 *
 * Why in-process rather than a helper process: each sub-MIP is small (≈1,500 binaries, tens of
 * milliseconds) and runs many times per pass, so fork/exec and shipping the model over a pipe
 * would cost as much as the solve; the plan must stay deterministic and pure (no files, no
 * processes, usable from drsctl offline); and GLPK's failure modes are containable here: fatal
 * errors go to glp_error_hook(), which longjmp()s back to the round (the jmp_buf travels in the
 * hook's info pointer, never in a global) where glp_free_env() releases everything GLPK held;
 * terminal output is switched off and hooked; the feasibility pump (which once hung for > 900 s)
 * is never enabled and every solve is node-, iteration- and time-bounded. The GLPK environment
 * is freed when lns_improve() returns, so no GLPK state outlives a call.
 *
 * The lower bound reported in stats (gap; solver_plan() uses bound.h's exact Lagrangian
 * bound of the same relaxation instead, at every size, and sets no_bound) is the LP relaxation of the
 * *whole* problem with the move budget, aggregated so that it stays small: a fraction y_v ∈ [0,1] of each
 * movable VM may leave its host (Σ y ≤ the move budget), the load that leaves may land anywhere up (an
 * inflow per host), CPU and memory are relaxed separately, capacity and rules are dropped, and the mean is a
 * free variable c with tangent-line under-estimators of (u_h − c)². min_c Σ(u_h − c)² = n·var, so sqrt(LP/n)
 * bounds each standard deviation from below. Columns: one per movable VM (only the budget's worth of largest
 * VMs per host) plus ≈ 35 per host. Measured here (GLPK primal simplex, 2 cores): ≈ 150 ms of CPU at 64
 * hosts / 2,000 VMs, more than 2 s at 256 / 10,000 — far beyond a pass's budget — so it is computed only up
 * to LNS_LB_MAX_COLUMNS LP columns (≈ 32 hosts / 1,000 VMs); above that the gap is reported as 1 ("at most
 * 100 %", i.e. unknown). The LP without the move budget would be cheap at any size but says nothing: with
 * free fractional moves its bound is ≈ 0.
 *
 * After the rounds, lns_exchange() (below): a deterministic local search that undoes one planned
 * move and makes the best single move then possible — what a bounded neighbourhood cannot see
 * when the move budget binds. It runs after a GLPK error too (it needs no GLPK); solver_plan()
 * names the plan "greedy+glpk" when a sub-MIP result was kept, "greedy+exchange" otherwise.
 *
 * Effort: opts->rounds sub-MIPs (SolverOptions.effort; default 4 up to 16 hosts, 10 up to 32, else 2), each
 * at most LNS_NODE_LIMIT branch-and-bound nodes and LNS_ITER_LIMIT simplex iterations, stopping early after
 * LNS_MAX_FAILS rounds in a row without improvement. A round costs about the same at any cluster size (the
 * neighbourhood is bounded; the rest is O(VMs)). */

#include <errno.h>
#include <glpk.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glpk-lns-priv.h"
#include "mip.h"
#include "macro.h"

#define LNS_HOT_HOSTS 5             /* hottest hosts per neighbourhood */
#define LNS_COLD_HOSTS 5            /* coldest hosts per neighbourhood */
#define LNS_ENDPOINT_VMS 2          /* already-moved VMs whose two endpoints join the neighbourhood */
#define LNS_VMS_PER_HOST 5          /* movable VMs taken from each neighbourhood host */
#define LNS_MOVED_PER_HOST 2        /* of which already-moved ones first */
#define LNS_SEGMENTS 12             /* PWL segments per side of f */
#define LNS_NODE_LIMIT 150          /* deterministic B&B node budget per sub-MIP (nodes created) */
#define LNS_ITER_LIMIT 30000        /* deterministic simplex iteration budget per sub-MIP */
#define LNS_DEFAULT_ROUNDS 2        /* when opts->rounds (SolverOptions.effort) == 0 … */
#define LNS_DEFAULT_ROUNDS_SMALL 10 /* … and at most LNS_SMALL_HOSTS counted hosts */
#define LNS_SMALL_HOSTS 32
#define LNS_DEFAULT_ROUNDS_TINY 4 /* … at most LNS_TINY_HOSTS: the local search gets the time */
#define LNS_TINY_HOSTS 16
#define LNS_MAX_FAILS 4 /* stop after this many rounds in a row without improvement */
#define LNS_LAMBDA                                                                                          \
        MODEL_MIGRATION_COST      /* score units per migration of a VM of average configured memory         \
                                   */
#define LNS_SUB_TIME_S 0.5        /* when opts->sub_time_limit_s == 0 */
#define LNS_LB_TANGENTS 16        /* tangent points per side in the lower-bound LP */
#define LNS_LB_MAX_COLUMNS 3000   /* skip the lower bound above this many LP columns */
#define LNS_LS_FULL_HOSTS 32      /* exchange search: every host a source and a target up to this … */
#define LNS_LS_CANDIDATE_HOSTS 24 /* … else this many hottest and coldest (bounds the cost) */
#define LNS_LS_SWEEPS 4           /* exchange sweeps per call at most */
#define LNS_LS_EPS 1e-9

enum {
        RES_CPU,
        RES_MEM,
        _RES_MAX,
};

/* Per-call GLPK state, handed to the error hook through its info pointer. */
typedef struct GlpkGuard {
        jmp_buf jb;
} GlpkGuard;

static void glpk_error_hook(void *info) {
        GlpkGuard *g = info;
        longjmp(g->jb, 1);
}

static int glpk_term_hook(void *info, const char *s) {
        return 1; /* swallow everything, error messages included */
}

static void glpk_silence(void) {
        glp_term_out(GLP_OFF);
        glp_term_hook(glpk_term_hook, NULL);
}

static uint64_t lns_rand(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static size_t lns_rand_below(uint64_t *s, size_t n) {
        return n > 0 ? (size_t) (lns_rand(s) % n) : 0;
}

static int cmp_by_key_desc(const void *x, const void *y, void *userdata) {
        const double *key = userdata;
        size_t a = *(const size_t *) x, b = *(const size_t *) y;
        if (key[a] > key[b])
                return -1;
        if (key[a] < key[b])
                return 1;
        return a < b ? -1 : a > b;
}

/* Growable triplet list for glp_load_matrix() (1-based, slot 0 unused). */
typedef struct Triplets {
        int *ia, *ja;
        double *ar;
        size_t n, cap;
} Triplets;

static void triplets_done(Triplets *t) {
        free(t->ia);
        free(t->ja);
        free(t->ar);
        *t = (Triplets){};
}

static int triplets_add(Triplets *t, int row, int col, double val) {
        if (t->n + 2 > t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 4096;
                int *ia = realloc(t->ia, cap * sizeof(int));
                if (!ia)
                        return -ENOMEM;
                t->ia = ia;
                int *ja = realloc(t->ja, cap * sizeof(int));
                if (!ja)
                        return -ENOMEM;
                t->ja = ja;
                double *ar = realloc(t->ar, cap * sizeof(double));
                if (!ar)
                        return -ENOMEM;
                t->ar = ar;
                t->cap = cap;
        }
        t->n++;
        t->ia[t->n] = row;
        t->ja[t->n] = col;
        t->ar[t->n] = val;
        return 0;
}

#define LP_GROW(ptr, n)                                                                                     \
        ({                                                                                                  \
                __typeof__(ptr) _q_ = realloc((ptr), (n) * sizeof(*(ptr)));                                 \
                if (_q_)                                                                                    \
                        (ptr) = _q_;                                                                        \
                _q_ != NULL;                                                                                \
        })

/* A linear program as plain arrays (1-based, slot 0 unused), built without GLPK and handed to
 * glpk_run(), so that the code between setjmp() and a possible longjmp() is a short function
 * that keeps all its state behind one pointer. */
typedef struct LpSpec {
        int nrows, ncols;
        size_t row_cap, col_cap;
        int *row_type; /* GLP_FX, GLP_UP, GLP_FR */
        double *row_lo, *row_hi;
        int *col_type; /* GLP_DB, GLP_LO, GLP_FR, GLP_FX */
        double *col_lo, *col_hi, *obj;
        bool *col_bin;
        Triplets t;
        double *x; /* result: column values, 1-based */
        double obj_val;
        bool solved;  /* x holds an integer-feasible (MIP) or optimal (LP) solution */
        bool optimal; /* and GLPK proved it optimal */
} LpSpec;

static void lp_spec_done(LpSpec *s) {
        free(s->row_type);
        free(s->row_lo);
        free(s->row_hi);
        free(s->col_type);
        free(s->col_lo);
        free(s->col_hi);
        free(s->obj);
        free(s->col_bin);
        free(s->x);
        triplets_done(&s->t);
        *s = (LpSpec){};
}

static void lp_spec_reset(LpSpec *s) {
        s->nrows = s->ncols = 0;
        s->t.n = 0;
        s->solved = false;
        s->obj_val = 0;
}

/* Appends a row; returns its index or -ENOMEM. */
static int lp_new_row(LpSpec *s, int type, double lo, double hi) {
        if ((size_t) s->nrows + 2 > s->row_cap) {
                size_t cap = s->row_cap ? 2 * s->row_cap : 256;
                if (!LP_GROW(s->row_type, cap) || !LP_GROW(s->row_lo, cap) || !LP_GROW(s->row_hi, cap))
                        return -ENOMEM;
                s->row_cap = cap;
        }
        s->nrows++;
        s->row_type[s->nrows] = type;
        s->row_lo[s->nrows] = lo;
        s->row_hi[s->nrows] = hi;
        return s->nrows;
}

/* Appends a column; returns its index or -ENOMEM. */
static int lp_new_col(LpSpec *s, int type, double lo, double hi, double obj, bool bin) {
        if ((size_t) s->ncols + 2 > s->col_cap) {
                size_t cap = s->col_cap ? 2 * s->col_cap : 1024;
                if (!LP_GROW(s->col_type, cap) || !LP_GROW(s->col_lo, cap) || !LP_GROW(s->col_hi, cap) ||
                    !LP_GROW(s->obj, cap) || !LP_GROW(s->col_bin, cap) || !LP_GROW(s->x, cap))
                        return -ENOMEM;
                s->col_cap = cap;
        }
        s->ncols++;
        s->col_type[s->ncols] = type;
        s->col_lo[s->ncols] = lo;
        s->col_hi[s->ncols] = hi;
        s->obj[s->ncols] = obj;
        s->col_bin[s->ncols] = bin;
        s->x[s->ncols] = 0;
        return s->ncols;
}

typedef struct LnsChange {
        size_t vm;
        int from, to;
} LnsChange;

typedef struct LnsCtx {
        const Model *m;
        Assignment *a;
        const LnsOptions *opts;
        const LnsTestHooks *hooks;
        uint64_t rng;
        unsigned budget;      /* effective move budget: max(opts->move_budget, moves at start) */
        uint64_t deadline_us; /* on opts->clock_us; 0 = none */
        double lambda_unit;   /* LNS_LAMBDA / mean configured memory */

        /* Scratch, all owned. */
        bool *together;  /* n_vms: member of a hard keep-together rule */
        double *key;     /* n_hosts: hotness */
        double *in_mem;  /* n_hosts: per neighbourhood host, configured memory of N on it */
        double *in_vcpu; /* n_hosts: same for vCPUs */
        size_t *order;   /* n_hosts */
        int *hpos;       /* n_hosts: index in H, -1 if not in it */
        size_t *H;       /* n_hosts */
        size_t nH;
        size_t *bstart; /* n_hosts + 1: per-host buckets of eligible VMs */
        size_t *bucket; /* n_vms */
        size_t *N;      /* n_vms: neighbourhood VMs */
        size_t nN;
        int *npos;           /* n_vms: index in N, -1 if not in it */
        bool *forced;        /* n_vms: endpoint VMs that must join N */
        size_t *tmp;         /* n_vms */
        unsigned *rule_mark; /* n_vm_rules */
        unsigned mark;
        int *xcol; /* nN * nH */
        size_t xcol_cap;
        double *warm; /* 1-based column values */
        size_t warm_cap;
        LnsChange *changes; /* n_vms */
        LpSpec lp;

        /* Exchange local search (lns_exchange()). */
        bool *ls_src, *ls_dst; /* n_hosts: candidate sources / targets of a move */
        size_t *ls_moved;      /* n_vms: VMs away from their initial host */
} LnsCtx;

static void lns_ctx_done(LnsCtx *c) {
        free(c->together);
        free(c->key);
        free(c->in_mem);
        free(c->in_vcpu);
        free(c->order);
        free(c->hpos);
        free(c->H);
        free(c->bstart);
        free(c->bucket);
        free(c->N);
        free(c->npos);
        free(c->forced);
        free(c->tmp);
        free(c->rule_mark);
        free(c->xcol);
        free(c->warm);
        free(c->changes);
        free(c->ls_src);
        free(c->ls_dst);
        free(c->ls_moved);
        lp_spec_done(&c->lp);
}

/* Does v on h count against the move budget? As lns.h says: every VM away from its initial host
 * (solver_plan() passes the mandatory moves made plus the balance budget left). */
static bool lns_is_move(const Model *m, size_t v, int h) {
        return m->initial[v] >= 0 && h != m->initial[v];
}

static unsigned lns_count_moves(const Model *m, const Assignment *a) {
        unsigned n = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (lns_is_move(m, v, a->host[v]))
                        n++;
        return n;
}

/* May v be part of a neighbourhood at all? */
static bool lns_vm_eligible(const LnsCtx *c, size_t v) {
        const Model *m = c->m;
        int h = c->a->host[v];
        return h >= 0 && !m->fixed[v] && m->may_balance[v] && !c->together[v] && m->source_ok[h];
}

static bool lns_host_eligible(const Model *m, size_t h) {
        return m->target_ok[h] && m->source_ok[h] && m->counted[h] && !m->must_empty[h];
}

static void lns_stats_of(const Model *m, const Assignment *a, double mean[static 2], double sd[static 2]) {
        double n = a->n_counted > 0 ? (double) a->n_counted : 1;
        mean[RES_CPU] = a->sum_ucpu / n;
        mean[RES_MEM] = a->sum_umem / n;
        double vc = a->sum_ucpu2 / n - mean[RES_CPU] * mean[RES_CPU];
        double vm = a->sum_umem2 / n - mean[RES_MEM] * mean[RES_MEM];
        sd[RES_CPU] = vc > 0 ? sqrt(vc) : 0;
        sd[RES_MEM] = vm > 0 ? sqrt(vm) : 0;
}

static double lns_util(const Model *m, const Assignment *a, size_t h, int r) {
        return r == RES_CPU ? a->cpu_load[h] / m->cpu_cap[h] : a->mem_load[h] / m->mem_cap[h];
}

static void lns_add_host(LnsCtx *c, size_t h) {
        if (c->hpos[h] >= 0)
                return;
        c->hpos[h] = (int) c->nH;
        c->H[c->nH++] = h;
}

/* Picks H (hosts) and N (VMs) for one round. */
static void lns_pick(LnsCtx *c, unsigned fails) {
        const Model *m = c->m;
        const Assignment *a = c->a;
        double mean[2], sd[2];
        size_t nE = 0;

        for (size_t i = 0; i < c->nH; i++)
                c->hpos[c->H[i]] = -1;
        c->nH = 0;
        for (size_t i = 0; i < c->nN; i++) {
                c->npos[c->N[i]] = -1;
                c->forced[c->N[i]] = false;
        }
        c->nN = 0;

        lns_stats_of(m, a, mean, sd);
        for (size_t h = 0; h < m->n_hosts; h++) {
                if (!lns_host_eligible(m, h))
                        continue;
                c->key[h] =
                        m->w_cpu * (lns_util(m, a, h, RES_CPU) - mean[RES_CPU]) / fmax(sd[RES_CPU], 1e-6) +
                        m->w_mem * (lns_util(m, a, h, RES_MEM) - mean[RES_MEM]) / fmax(sd[RES_MEM], 1e-6);
                c->order[nE++] = h;
        }
        qsort_r(c->order, nE, sizeof(size_t), cmp_by_key_desc, c->key);

        size_t max_h = LNS_HOT_HOSTS + LNS_COLD_HOSTS + 2 * LNS_ENDPOINT_VMS;
        size_t n_moved = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (lns_is_move(m, v, a->host[v]) && lns_vm_eligible(c, v) &&
                    lns_host_eligible(m, (size_t) a->host[v]))
                        c->tmp[n_moved++] = v;

        if (nE <= max_h) {
                for (size_t i = 0; i < nE; i++)
                        lns_add_host(c, c->order[i]);
                for (size_t i = 0; i < n_moved; i++)
                        c->forced[c->tmp[i]] = true;
        } else {
                /* Endpoints of planned moves first (they hold the budget), then hot, then cold;
                 * after failures, draw from wider windows. */
                for (size_t k = 0; k < LNS_ENDPOINT_VMS && k < n_moved; k++) {
                        size_t j = k + lns_rand_below(&c->rng, n_moved - k);
                        size_t v = c->tmp[j];
                        c->tmp[j] = c->tmp[k];
                        c->tmp[k] = v;
                        c->forced[v] = true;
                        lns_add_host(c, (size_t) a->host[v]);
                        if (lns_host_eligible(m, (size_t) m->initial[v]))
                                lns_add_host(c, (size_t) m->initial[v]);
                }
                size_t w = MIN((size_t) LNS_HOT_HOSTS * (1 + fails), nE / 2);
                for (int side = 0; side < 2; side++) {
                        size_t want = side == 0 ? LNS_HOT_HOSTS : LNS_COLD_HOSTS;
                        size_t *win = side == 0 ? c->order : c->order + (nE - w);
                        for (size_t k = 0; k < want && k < w; k++) {
                                size_t j = k + lns_rand_below(&c->rng, w - k);
                                size_t h = win[j];
                                win[j] = win[k];
                                win[k] = h;
                                lns_add_host(c, h);
                        }
                }
        }

        /* Buckets of eligible VMs per neighbourhood host, largest CPU demand first. */
        for (size_t i = 0; i <= c->nH; i++)
                c->bstart[i] = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (lns_vm_eligible(c, v) && c->hpos[a->host[v]] >= 0)
                        c->bstart[c->hpos[a->host[v]] + 1]++;
        for (size_t i = 0; i < c->nH; i++)
                c->bstart[i + 1] += c->bstart[i];
        for (size_t i = 0; i < c->nH; i++)
                c->tmp[i] = c->bstart[i];
        for (size_t v = 0; v < m->n_vms; v++)
                if (lns_vm_eligible(c, v) && c->hpos[a->host[v]] >= 0)
                        c->bucket[c->tmp[c->hpos[a->host[v]]]++] = v;

        for (size_t i = 0; i < c->nH; i++) {
                size_t *b = c->bucket + c->bstart[i], nb = c->bstart[i + 1] - c->bstart[i];
                size_t taken = 0, moved = 0;

                qsort_r(b, nb, sizeof(size_t), cmp_by_key_desc, m->cpu);
                /* Forced endpoint VMs, then other moved VMs: they are what frees budget. */
                for (size_t k = 0; k < nb && taken < LNS_VMS_PER_HOST; k++)
                        if (c->forced[b[k]]) {
                                c->npos[b[k]] = (int) c->nN;
                                c->N[c->nN++] = b[k];
                                taken++;
                        }
                for (size_t k = 0; k < nb && taken < LNS_VMS_PER_HOST && moved < LNS_MOVED_PER_HOST; k++)
                        if (c->npos[b[k]] < 0 && lns_is_move(m, b[k], a->host[b[k]])) {
                                c->npos[b[k]] = (int) c->nN;
                                c->N[c->nN++] = b[k];
                                taken++;
                                moved++;
                        }
                /* Mix sizes: one draw per stratum of the size-sorted rest. */
                size_t nr = 0;
                for (size_t k = 0; k < nb; k++)
                        if (c->npos[b[k]] < 0)
                                c->tmp[c->nH + nr++] = b[k];
                size_t q = LNS_VMS_PER_HOST - taken;
                size_t *rest = c->tmp + c->nH;
                for (size_t s = 0; s < q && s < nr; s++) {
                        size_t v;
                        if (nr <= q)
                                v = rest[s];
                        else {
                                size_t lo = s * nr / q, hi = (s + 1) * nr / q;
                                v = rest[lo + lns_rand_below(&c->rng, hi - lo)];
                        }
                        c->npos[v] = (int) c->nN;
                        c->N[c->nN++] = v;
                }
        }
}

/* ---- Exchange local search ----
 *
 * With the move budget used up, a better plan needs *exchanges*: take back one planned move
 * (the VM returns to its initial host) and make a better one in its place, or send a moved VM
 * elsewhere. lns_exchange() tries, for every moved VM in index order, "revert it + the best
 * single move then possible" and keeps the pair when the objective (score + migration cost,
 * the same λ as the sub-MIPs) drops; with budget left, it also adds plain improving moves.
 * Sources of new moves are the LNS_LS_CANDIDATE_HOSTS hottest hosts by the weighted heat and
 * targets as many coldest (all hosts up to LNS_LS_FULL_HOSTS), recomputed every sweep; a
 * reverted VM may also go back out to any target. O(moved VMs × VMs on the sources × targets)
 * per sweep, at most LNS_LS_SWEEPS sweeps; deterministic (index order, strict improvement). */

static double lns_move_cost(const LnsCtx *c, size_t v, int h) {
        return lns_is_move(c->m, v, h) ? c->lambda_unit * c->m->move_mib[v] : 0;
}

/* Objective change (score + migration cost) of moving v to h, or INFINITY if it may not. */
/* f: assignment_move_from() of v (the same assignment), or NULL. */
static double lns_ls_delta_from(const LnsCtx *c, size_t v, size_t h, const MoveFrom *f) {
        const Model *m = c->m;
        const Assignment *a = c->a;
        int s = a->host[v];
        if ((int) h == s || !lns_host_eligible(m, h) || !assignment_fits(m, a, v, h, NULL))
                return INFINITY;
        double d = f ? assignment_move_delta_to(m, a, f, h) : assignment_move_delta(m, a, v, h);
        return d + lns_move_cost(c, v, (int) h) - lns_move_cost(c, v, s);
}

static double lns_ls_delta(const LnsCtx *c, size_t v, size_t h) {
        return lns_ls_delta_from(c, v, h, NULL);
}

static void lns_ls_candidates(LnsCtx *c) {
        const Model *m = c->m;
        const Assignment *a = c->a;
        double mean[2], sd[2];
        size_t nE = 0;

        lns_stats_of(m, a, mean, sd);
        for (size_t h = 0; h < m->n_hosts; h++) {
                c->ls_src[h] = c->ls_dst[h] = false;
                if (!lns_host_eligible(m, h))
                        continue;
                c->key[h] =
                        m->w_cpu * (lns_util(m, a, h, RES_CPU) - mean[RES_CPU]) / fmax(sd[RES_CPU], 1e-6) +
                        m->w_mem * (lns_util(m, a, h, RES_MEM) - mean[RES_MEM]) / fmax(sd[RES_MEM], 1e-6);
                c->order[nE++] = h;
        }
        qsort_r(c->order, nE, sizeof(size_t), cmp_by_key_desc, c->key);
        size_t k = nE <= LNS_LS_FULL_HOSTS ? nE : LNS_LS_CANDIDATE_HOSTS;
        for (size_t i = 0; i < k && i < nE; i++) {
                c->ls_src[c->order[i]] = true;
                c->ls_dst[c->order[nE - 1 - i]] = true;
        }
}

/* Best single move (net objective change < 0, budget permitting) with v_skip excluded; returns
 * its delta (INFINITY if none). */
static double lns_ls_best(LnsCtx *c, unsigned moves, size_t v_skip, size_t *ret_v, size_t *ret_h) {
        const Model *m = c->m;
        const Assignment *a = c->a;
        double best = -LNS_LS_EPS;
        bool found = false;

        for (size_t v = 0; v < m->n_vms; v++) {
                int s = a->host[v];
                if (v == v_skip || !lns_vm_eligible(c, v) || !c->ls_src[s] ||
                    !lns_host_eligible(m, (size_t) s))
                        continue;
                bool new_move = !lns_is_move(m, v, s);
                MoveFrom f; /* v's source side, once for all its targets */
                assignment_move_from(m, a, v, &f);
                for (size_t h = 0; h < m->n_hosts; h++) {
                        if (!c->ls_dst[h] && (int) h != m->initial[v])
                                continue;
                        if (new_move && lns_is_move(m, v, (int) h) && moves >= c->budget)
                                continue;
                        double d = lns_ls_delta_from(c, v, h, &f);
                        if (d < best) {
                                best = d;
                                *ret_v = v;
                                *ret_h = h;
                                found = true;
                        }
                }
        }
        return found ? best : INFINITY;
}

/* Returns the number of changes kept. */
static unsigned lns_exchange(LnsCtx *c, double *score, unsigned *moves) {
        const Model *m = c->m;
        Assignment *a = c->a;
        unsigned kept = 0;

        for (unsigned sweep = 0; sweep < LNS_LS_SWEEPS; sweep++) {
                unsigned kept_sweep = 0;
                lns_ls_candidates(c);

                /* Plain improving moves while budget is left. */
                for (unsigned it = 0; it < c->budget && *moves < c->budget; it++) {
                        size_t v, h;
                        if (lns_ls_best(c, *moves, SIZE_MAX, &v, &h) >= -LNS_LS_EPS)
                                break;
                        assignment_move(m, a, v, h);
                        *moves = lns_count_moves(m, a);
                        kept_sweep++;
                }

                /* Exchanges: revert one moved VM, make the best move then possible. */
                size_t n_moved = 0;
                for (size_t v = 0; v < m->n_vms; v++)
                        if (lns_is_move(m, v, a->host[v]) && lns_vm_eligible(c, v) &&
                            lns_host_eligible(m, (size_t) a->host[v]))
                                c->ls_moved[n_moved++] = v;
                for (size_t i = 0; i < n_moved; i++) {
                        size_t v = c->ls_moved[i], w, h;
                        int cur = a->host[v], init = m->initial[v];
                        if (init < 0 || a->host[v] == init || !lns_host_eligible(m, (size_t) init))
                                continue;
                        double d1 = lns_ls_delta(c, v, (size_t) init);
                        if (!isfinite(d1))
                                continue;
                        assignment_move(m, a, v, (size_t) init);
                        unsigned mv = *moves - 1;
                        double d2 = lns_ls_best(c, mv, v, &w, &h);
                        /* Moving v itself elsewhere is a relocation: also a candidate. */
                        for (size_t t = 0; t < m->n_hosts; t++) {
                                if (!c->ls_dst[t] || (int) t == cur || (int) t == init)
                                        continue;
                                double d = lns_ls_delta(c, v, t);
                                if (d < fmin(d2, -LNS_LS_EPS)) {
                                        d2 = d;
                                        w = v;
                                        h = t;
                                }
                        }
                        if (isfinite(d2) && d1 + d2 < -LNS_LS_EPS) {
                                assignment_move(m, a, w, h);
                                *moves = lns_count_moves(m, a);
                                kept_sweep++;
                        } else if (d1 < -LNS_LS_EPS) {
                                *moves = mv;
                                kept_sweep++;
                        } else
                                assignment_move(m, a, v, (size_t) cur);
                }
                kept += kept_sweep;
                if (kept_sweep == 0)
                        break;
        }
        *score = assignment_score(m, a);
        return kept;
}

/* Would a member of a hard keep-apart rule of v, outside the neighbourhood, share host h? */
static bool lns_apart_blocked(const LnsCtx *c, size_t v, size_t h) {
        const Model *m = c->m;
        for (size_t *k = m->rules_of_vm[v]; k && *k != SIZE_MAX; k++) {
                const ModelVmRule *rule = &m->vm_rules[*k];
                if (!rule->hard || rule->type != RULE_KEEP_APART)
                        continue;
                for (size_t i = 0; i < rule->n_vms; i++) {
                        size_t w = rule->vms[i];
                        if (w != v && c->npos[w] < 0 && c->a->host[w] == (int) h)
                                return true;
                }
        }
        return false;
}

/* One GLPK solve of an LpSpec; all state behind this pointer (the callback's info too). */
typedef struct GlpkRun {
        LpSpec *spec;
        bool mip;
        const double *warm; /* MIP: 1-based start handed to glp_ios_heur_sol(), or NULL */
        bool warm_given;
        int node_limit, iter_limit; /* MIP: deterministic budget; LP: iter_limit only */
        int tm_lim_ms;              /* GLPK's own safety net */
        uint64_t deadline_us;       /* on clock_us; 0 = none */
        uint64_t (*clock_us)(void *userdata);
        void *clock_userdata;
        bool inject_error; /* test hook: provoke a GLPK error */
} GlpkRun;

static void glpk_callback(glp_tree *tree, void *info) {
        GlpkRun *run = info;
        int a_cnt, n_cnt, t_cnt;

        switch (glp_ios_reason(tree)) {
        case GLP_IHEUR:
                if (run->warm && !run->warm_given) {
                        run->warm_given = true;
                        (void) glp_ios_heur_sol(tree, run->warm);
                }
                break;
        case GLP_IBRANCH: {
                /* Dive: fix the assignment the LP likes most (largest fractional x) to 1 first.
                 * GLPK's own choice often takes the down branch, which barely changes an
                 * assignment LP, and depth-first then never reaches an integer point. */
                glp_prob *lp = glp_ios_get_prob(tree);
                int best = 0;
                double best_x = -1;
                for (int j = 1; j <= run->spec->ncols; j++)
                        if (glp_ios_can_branch(tree, j)) {
                                double x = glp_get_col_prim(lp, j);
                                if (x > best_x) {
                                        best_x = x;
                                        best = j;
                                }
                        }
                if (best > 0)
                        glp_ios_branch_upon(tree, best, GLP_UP_BRNCH);
                break;
        }
        default:
                break;
        }
        glp_ios_tree_size(tree, &a_cnt, &n_cnt, &t_cnt);
        if (t_cnt > run->node_limit || glp_get_it_cnt(glp_ios_get_prob(tree)) > run->iter_limit ||
            (run->deadline_us > 0 && run->clock_us &&
             run->clock_us(run->clock_userdata) >= run->deadline_us))
                glp_ios_terminate(tree);
}

/* Returns 0 (run->spec->solved says whether x holds a solution), or -EIO after a GLPK error, in
 * which case GLPK's environment — and with it every GLPK object — has been freed. */
static int glpk_run(GlpkRun *run) {
        glp_prob *volatile lp = NULL;
        GlpkGuard guard;

        glpk_silence();
        if (setjmp(guard.jb)) {
                glp_free_env();
                return -EIO;
        }
        glp_error_hook(glpk_error_hook, &guard);

        LpSpec *s = run->spec;
        s->solved = s->optimal = false;
        lp = glp_create_prob();
        glp_set_obj_dir(lp, GLP_MIN);
        if (s->nrows > 0)
                glp_add_rows(lp, s->nrows);
        if (s->ncols > 0)
                glp_add_cols(lp, s->ncols);
        for (int i = 1; i <= s->nrows; i++)
                glp_set_row_bnds(lp, i, s->row_type[i], s->row_lo[i], s->row_hi[i]);
        for (int j = 1; j <= s->ncols; j++) {
                if (s->col_bin[j])
                        glp_set_col_kind(lp, j, GLP_BV);
                else
                        glp_set_col_bnds(lp, j, s->col_type[j], s->col_lo[j], s->col_hi[j]);
                glp_set_obj_coef(lp, j, s->obj[j]);
        }
        if (run->inject_error)
                glp_set_col_bnds(lp, s->ncols + 1, GLP_FX, 0, 0); /* out of range: a GLPK error */
        glp_load_matrix(lp, (int) s->t.n, s->t.ia, s->t.ja, s->t.ar);

        glp_smcp smcp;
        glp_init_smcp(&smcp);
        smcp.msg_lev = GLP_MSG_OFF;
        smcp.presolve = GLP_OFF;
        smcp.it_lim = run->iter_limit;
        smcp.tm_lim = run->tm_lim_ms;
        if (glp_simplex(lp, &smcp) == 0 && glp_get_status(lp) == GLP_OPT) {
                if (!run->mip) {
                        s->obj_val = glp_get_obj_val(lp);
                        for (int j = 1; j <= s->ncols; j++)
                                s->x[j] = glp_get_col_prim(lp, j);
                        s->solved = true;
                } else {
                        glp_iocp iocp;
                        glp_init_iocp(&iocp);
                        iocp.msg_lev = GLP_MSG_OFF;
                        iocp.presolve = GLP_OFF; /* else the warm start would keep only its objective */
                        iocp.bt_tech = GLP_BT_DFS;
                        iocp.br_tech = GLP_BR_DTH;
                        iocp.fp_heur = GLP_OFF; /* hung > 900 s once */
                        iocp.ps_heur = GLP_OFF;
                        iocp.gmi_cuts = iocp.mir_cuts = iocp.cov_cuts = iocp.clq_cuts = GLP_OFF;
                        iocp.tm_lim = run->tm_lim_ms;
                        iocp.cb_func = glpk_callback;
                        iocp.cb_info = run;
                        (void) glp_intopt(lp, &iocp); /* stopped by us or by tm_lim: use the incumbent */
                        int st = glp_mip_status(lp);
                        if (st == GLP_OPT || st == GLP_FEAS) {
                                s->optimal = st == GLP_OPT;
                                s->obj_val = glp_mip_obj_val(lp);
                                for (int j = 1; j <= s->ncols; j++)
                                        s->x[j] = glp_mip_col_val(lp, j);
                                s->solved = true;
                        }
                }
        }
        glp_delete_prob(lp);
        lp = NULL;
        glp_error_hook(NULL, NULL);
        return 0;
}

/* Fills the PWL segments of one side for deviation d ≥ 0 into warm[]. */
static void lns_fill_segments(double *warm, int col0, const double *len, double d) {
        for (int k = 0; k <= LNS_SEGMENTS; k++) {
                double l = k < LNS_SEGMENTS ? len[k] : INFINITY;
                double v = fmin(d, l);
                warm[col0 + k] = v > 0 ? v : 0;
                d -= warm[col0 + k];
        }
}

/* Builds the sub-MIP of the current neighbourhood into c->lp (and the start into c->warm). */
static int lns_build_sub(LnsCtx *c) {
        const Model *m = c->m;
        const Assignment *a = c->a;
        LpSpec *s = &c->lp;
        const size_t nN = c->nN, nH = c->nH;
        double mean[2], sd[2], W[2], D[2], len[2][LNS_SEGMENTS], slope[2][LNS_SEGMENTS + 1];
        double *in_mem = c->in_mem, *in_vcpu = c->in_vcpu;
        int r;

        lp_spec_reset(s);
        if (nN * nH > c->xcol_cap) {
                if (!LP_GROW(c->xcol, nN * nH))
                        return -ENOMEM;
                c->xcol_cap = nN * nH;
        }

        for (size_t j = 0; j < nH; j++)
                in_mem[j] = in_vcpu[j] = 0;
        for (size_t i = 0; i < nN; i++) {
                size_t v = c->N[i];
                int j = c->hpos[a->host[v]];
                in_mem[j] += m->mem_cfg[v];
                in_vcpu[j] += m->vcpus[v];
        }

        /* Objective scaling and the PWL breakpoints: p_k = D (k/S)², chord slopes p_k + p_{k-1},
         * then a steep unbounded segment. */
        lns_stats_of(m, a, mean, sd);
        double n_counted = a->n_counted > 0 ? (double) a->n_counted : 1;
        W[RES_CPU] = m->w_cpu / (2 * n_counted * fmax(sd[RES_CPU], 1e-3));
        W[RES_MEM] = m->w_mem / (2 * n_counted * fmax(sd[RES_MEM], 1e-3));
        for (int res = 0; res < _RES_MAX; res++) {
                double dmax = 0, prev = 0;
                for (size_t j = 0; j < nH; j++)
                        dmax = fmax(dmax, fabs(lns_util(m, a, c->H[j], res) - mean[res]));
                D[res] = fmax(fmax(1.25 * dmax, 3 * sd[res]), 0.01);
                for (int k = 1; k <= LNS_SEGMENTS; k++) {
                        double q = (double) k / LNS_SEGMENTS, p = D[res] * q * q;
                        len[res][k - 1] = p - prev;
                        slope[res][k - 1] = p + prev;
                        prev = p;
                }
                slope[res][LNS_SEGMENTS] = 3 * D[res];
        }

        /* Rows: nN assignment, nH memory, nH vCPU, 2 nH utilization, 1 budget, then keep-apart. */
        unsigned moves_out = 0, moves_in = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                if (lns_is_move(m, v, a->host[v])) {
                        if (c->npos[v] >= 0)
                                moves_in++;
                        else
                                moves_out++;
                }
        for (size_t i = 0; i < nN; i++)
                if ((r = lp_new_row(s, GLP_FX, 1, 1)) < 0)
                        return r;
        int row_mem = s->nrows + 1;
        for (size_t j = 0; j < nH; j++) {
                size_t h = c->H[j];
                /* A host over its limit already (overcommit changed…) receives nothing; its rows
                 * keep what it has so that the start stays feasible. */
                double rhs = m->mem_limit[h] - (a->mem_cfg[h] - in_mem[j]);
                if ((r = lp_new_row(s, GLP_UP, 0, fmax(rhs, in_mem[j]))) < 0)
                        return r;
        }
        int row_vcpu = s->nrows + 1;
        for (size_t j = 0; j < nH; j++) {
                size_t h = c->H[j];
                double rhs = m->vcpu_limit[h] - (a->vcpu_load[h] - in_vcpu[j]);
                if ((r = isfinite(rhs) ? lp_new_row(s, GLP_UP, 0, fmax(rhs, in_vcpu[j]))
                                       : lp_new_row(s, GLP_FR, 0, 0)) < 0)
                        return r;
        }
        int row_util = s->nrows + 1;
        for (int res = 0; res < _RES_MAX; res++)
                for (size_t j = 0; j < nH; j++) {
                        size_t h = c->H[j];
                        double cap = res == RES_CPU ? m->cpu_cap[h] : m->mem_cap[h];
                        double load = res == RES_CPU ? a->cpu_load[h] : a->mem_load[h];
                        for (size_t b = c->bstart[j]; b < c->bstart[j + 1]; b++)
                                if (c->npos[c->bucket[b]] >= 0)
                                        load -= res == RES_CPU ? m->cpu[c->bucket[b]] : m->mem[c->bucket[b]];
                        double rhs = mean[res] - load / cap;
                        if ((r = lp_new_row(s, GLP_FX, rhs, rhs)) < 0)
                                return r;
                }
        double budget_rhs = (double) c->budget - (double) moves_out;
        int row_budget = lp_new_row(s, GLP_UP, 0, fmax(budget_rhs, (double) moves_in));
        if (row_budget < 0)
                return row_budget;

        /* Columns x[v,h]. */
        for (size_t i = 0; i < nN; i++) {
                size_t v = c->N[i];
                double lambda = c->lambda_unit * m->move_mib[v];
                for (size_t j = 0; j < nH; j++) {
                        size_t h = c->H[j];
                        bool here = a->host[v] == (int) h;
                        double mem_room = m->mem_limit[h] - (a->mem_cfg[h] - in_mem[j]);
                        double vcpu_room = m->vcpu_limit[h] - (a->vcpu_load[h] - in_vcpu[j]);
                        bool ok =
                                here || (model_allowed(m, v, h) && a->mem_cfg[h] <= m->mem_limit[h] &&
                                         a->vcpu_load[h] <= m->vcpu_limit[h] && m->mem_cfg[v] <= mem_room &&
                                         m->vcpus[v] <= vcpu_room && !lns_apart_blocked(c, v, h));
                        c->xcol[i * nH + j] = 0;
                        if (!ok)
                                continue;
                        bool move = lns_is_move(m, v, (int) h);
                        double cost = model_soft_penalty(m, v, h) + (move ? lambda : 0);
                        int col = lp_new_col(s, GLP_DB, 0, 1, cost, true);
                        if (col < 0)
                                return col;
                        c->xcol[i * nH + j] = col;
                        if ((r = triplets_add(&s->t, 1 + (int) i, col, 1)) < 0 ||
                            (r = triplets_add(&s->t, row_mem + (int) j, col, m->mem_cfg[v])) < 0 ||
                            (r = triplets_add(&s->t, row_vcpu + (int) j, col, m->vcpus[v])) < 0 ||
                            (r = triplets_add(&s->t, row_util + (int) j, col, m->cpu[v] / m->cpu_cap[h])) <
                                    0 ||
                            (r = triplets_add(
                                     &s->t, row_util + (int) (nH + j), col, m->mem[v] / m->mem_cap[h])) < 0)
                                return r;
                        if (move && (r = triplets_add(&s->t, row_budget, col, 1)) < 0)
                                return r;
                }
        }

        /* Segment columns: u − ū = Σ s⁺ − Σ s⁻ per host and resource. */
        int seg0 = s->ncols + 1;
        for (size_t j = 0; j < nH; j++)
                for (int res = 0; res < _RES_MAX; res++)
                        for (int side = 0; side < 2; side++)
                                for (int k = 0; k <= LNS_SEGMENTS; k++) {
                                        int col = k < LNS_SEGMENTS ? lp_new_col(
                                                                             s, GLP_DB, 0, len[res][k],
                                                                             W[res] * slope[res][k], false)
                                                                   : lp_new_col(
                                                                             s, GLP_LO, 0, 0,
                                                                             W[res] * slope[res][k], false);
                                        if (col < 0)
                                                return col;
                                        if ((r = triplets_add(
                                                     &s->t, row_util + res * (int) nH + (int) j, col,
                                                     side == 0 ? -1.0 : 1.0)) < 0)
                                                return r;
                                }

        /* Hard keep-apart among neighbourhood VMs: per rule and host, at most one (or as many as
         * are there now, if the start already breaks it). */
        c->mark++;
        for (size_t i = 0; i < nN; i++)
                for (size_t *k = m->rules_of_vm[c->N[i]]; k && *k != SIZE_MAX; k++) {
                        const ModelVmRule *rule = &m->vm_rules[*k];
                        if (!rule->hard || rule->type != RULE_KEEP_APART || c->rule_mark[*k] == c->mark)
                                continue;
                        c->rule_mark[*k] = c->mark;
                        for (size_t j = 0; j < nH; j++) {
                                size_t cols = 0, cur = 0;
                                for (size_t q = 0; q < rule->n_vms; q++) {
                                        int p = c->npos[rule->vms[q]];
                                        if (p >= 0 && c->xcol[(size_t) p * nH + j]) {
                                                cols++;
                                                if (a->host[rule->vms[q]] == (int) c->H[j])
                                                        cur++;
                                        }
                                }
                                if (cols < 2)
                                        continue;
                                int row = lp_new_row(s, GLP_UP, 0, (double) MAX(cur, (size_t) 1));
                                if (row < 0)
                                        return row;
                                for (size_t q = 0; q < rule->n_vms; q++) {
                                        int p = c->npos[rule->vms[q]];
                                        if (p >= 0 && c->xcol[(size_t) p * nH + j] &&
                                            (r = triplets_add(&s->t, row, c->xcol[(size_t) p * nH + j], 1)) <
                                                    0)
                                                return r;
                                }
                        }
                }

        /* The start: the current assignment, with its exact PWL decomposition. */
        if ((size_t) s->ncols + 1 > c->warm_cap) {
                if (!LP_GROW(c->warm, (size_t) s->ncols + 1))
                        return -ENOMEM;
                c->warm_cap = (size_t) s->ncols + 1;
        }
        memset(c->warm, 0, ((size_t) s->ncols + 1) * sizeof(double));
        for (size_t i = 0; i < nN; i++)
                c->warm[c->xcol[i * nH + (size_t) c->hpos[a->host[c->N[i]]]]] = 1;
        for (size_t j = 0; j < nH; j++)
                for (int res = 0; res < _RES_MAX; res++) {
                        double d = lns_util(m, a, c->H[j], res) - mean[res];
                        for (int side = 0; side < 2; side++) {
                                int col0 =
                                        seg0 + (((int) j * _RES_MAX + res) * 2 + side) * (LNS_SEGMENTS + 1);
                                lns_fill_segments(c->warm, col0, len[res], side == 0 ? d : -d);
                        }
                }
        return 0;
}

/* Builds and solves the sub-MIP of the current neighbourhood; fills c->changes and *ret_n (0 when
 * the MIP found nothing new). Returns 0, -ENOMEM, or -EIO after a GLPK error. */
static int lns_solve_sub(LnsCtx *c, unsigned round, size_t *ret_n) {
        const LnsOptions *o = c->opts;
        const Assignment *a = c->a;
        size_t n = 0;
        int r;

        *ret_n = 0;
        r = lns_build_sub(c);
        if (r < 0)
                return r;

        double sub_s = o->sub_time_limit_s > 0 ? o->sub_time_limit_s : LNS_SUB_TIME_S;
        GlpkRun run = {
                .spec = &c->lp,
                .mip = true,
                .warm = c->warm,
                .node_limit = LNS_NODE_LIMIT,
                .iter_limit = LNS_ITER_LIMIT,
                .tm_lim_ms = (int) (sub_s * 1000),
                .deadline_us = c->deadline_us,
                .clock_us = o->clock_us,
                .clock_userdata = o->clock_userdata,
                .inject_error = c->hooks && c->hooks->glpk_error_at_round == round,
        };
        if (o->clock_us) {
                uint64_t sub_deadline = o->clock_us(o->clock_userdata) + (uint64_t) (sub_s * 1e6);
                if (run.deadline_us == 0 || sub_deadline < run.deadline_us)
                        run.deadline_us = sub_deadline;
        }
        r = glpk_run(&run);
        if (r < 0)
                return r;
        if (!c->lp.solved)
                return 0;

        for (size_t i = 0; i < c->nN; i++) {
                size_t v = c->N[i];
                int to = -1;
                for (size_t j = 0; j < c->nH && to < 0; j++) {
                        int col = c->xcol[i * c->nH + j];
                        if (col && c->lp.x[col] > 0.5)
                                to = (int) c->H[j];
                }
                if (to >= 0 && to != a->host[v])
                        c->changes[n++] = (LnsChange){v, a->host[v], to};
        }
        *ret_n = n;
        return 0;
}

static void lns_revert(LnsCtx *c, size_t n) {
        for (size_t i = n; i > 0; i--)
                assignment_move(c->m, c->a, c->changes[i - 1].vm, (size_t) c->changes[i - 1].from);
}

/* Applies the sub-MIP's changes, keeps them if valid and better. */
static bool lns_try_apply(LnsCtx *c, size_t n, double *score, unsigned *moves) {
        const Model *m = c->m;
        Assignment *a = c->a;

        for (size_t i = 0; i < n; i++)
                assignment_move(m, a, c->changes[i].vm, (size_t) c->changes[i].to);

        /* Every moved VM must fit where it ended, given everyone else's final place. */
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
                const LnsChange *ch = &c->changes[i];
                assignment_move(m, a, ch->vm, (size_t) ch->from);
                ok = assignment_fits(m, a, ch->vm, (size_t) ch->to, NULL);
                assignment_move(m, a, ch->vm, (size_t) ch->to);
        }
        unsigned new_moves = lns_count_moves(m, a);
        double new_score = assignment_score(m, a);
        if (ok && new_moves <= c->budget &&
            (new_score < *score - 1e-12 || (new_score <= *score + 1e-12 && new_moves < *moves))) {
                *score = new_score;
                *moves = new_moves;
                return true;
        }
        lns_revert(c, n);
        return false;
}

static int
lns_ctx_init(LnsCtx *c, const Model *m, Assignment *a, const LnsOptions *opts, const LnsTestHooks *hooks) {
        size_t H = m->n_hosts, V = m->n_vms;

        *c = (LnsCtx){
                .m = m,
                .a = a,
                .opts = opts,
                .hooks = hooks,
                .rng = UINT64_C(0x6472732d6c6e7321) ^ ((uint64_t) H << 32) ^ (uint64_t) V,
        };
        if (!(c->together = calloc(V + 1, sizeof(bool))) || !(c->key = calloc(H + 1, sizeof(double))) ||
            !(c->in_mem = calloc(H + 1, sizeof(double))) || !(c->in_vcpu = calloc(H + 1, sizeof(double))) ||
            !(c->order = calloc(H + 1, sizeof(size_t))) || !(c->hpos = malloc((H + 1) * sizeof(int))) ||
            !(c->H = calloc(H + 1, sizeof(size_t))) || !(c->bstart = calloc(H + 2, sizeof(size_t))) ||
            !(c->bucket = calloc(V + 1, sizeof(size_t))) || !(c->N = calloc(V + 1, sizeof(size_t))) ||
            !(c->npos = malloc((V + 1) * sizeof(int))) || !(c->forced = calloc(V + 1, sizeof(bool))) ||
            !(c->tmp = calloc(V + H + 1, sizeof(size_t))) ||
            !(c->rule_mark = calloc(m->n_vm_rules + 1, sizeof(unsigned))) ||
            !(c->changes = calloc(V + 1, sizeof(LnsChange))) || !(c->ls_src = calloc(H + 1, sizeof(bool))) ||
            !(c->ls_dst = calloc(H + 1, sizeof(bool))) || !(c->ls_moved = calloc(V + 1, sizeof(size_t))))
                return -ENOMEM;
        for (size_t h = 0; h < H; h++)
                c->hpos[h] = -1;
        for (size_t v = 0; v < V; v++)
                c->npos[v] = -1;
        for (size_t k = 0; k < m->n_vm_rules; k++) {
                const ModelVmRule *rule = &m->vm_rules[k];
                if (rule->hard && rule->type == RULE_KEEP_TOGETHER && rule->n_vms > 1)
                        for (size_t i = 0; i < rule->n_vms; i++)
                                c->together[rule->vms[i]] = true;
        }
        double mem_sum = 0;
        for (size_t v = 0; v < V; v++)
                mem_sum += m->mem_cfg[v];
        double mem_mean = V > 0 && mem_sum > 0 ? mem_sum / (double) V : 1;
        c->lambda_unit = LNS_LAMBDA / mem_mean;
        return 0;
}

/* ---- The lower bound ---- */

/* Did v have to leave its initial host, and is it now on a counted one? */
static bool lns_bound_forced(const Model *m, const Assignment *a, size_t v) {
        int h0 = m->initial[v], h = a->host[v];
        return h0 >= 0 && (m->must_empty[h0] || m->hard_rule[v] >= 0) && h != h0 && h >= 0 && m->counted[h];
}

static bool lns_bound_movable(const Model *m, const Assignment *a, size_t v) {
        int h0 = m->initial[v];
        return h0 >= 0 && m->counted[h0] && m->source_ok[h0] && !m->fixed[v] && m->may_balance[v] &&
               !lns_bound_forced(m, a, v);
}

/* Builds the LP bound of n·var for one resource into *s; see the top of the file. */
static int lns_bound_build(const Model *m, const Assignment *a, int res, unsigned budget_left, LpSpec *s) {
        size_t H = m->n_hosts, V = m->n_vms;
        _cleanup_free_ int *row_of = NULL;
        _cleanup_free_ size_t *byhost = NULL, *hstart = NULL, *fill = NULL;
        _cleanup_free_ double *load = NULL;
        double F = 0, n_counted = 0, mean = 0, dmax = 0;
        int r;

        lp_spec_reset(s);
        if (!(row_of = calloc(H + 1, sizeof(int))) || !(load = calloc(H + 1, sizeof(double))) ||
            !(hstart = calloc(H + 2, sizeof(size_t))) || !(fill = calloc(H + 1, sizeof(size_t))) ||
            !(byhost = calloc(V + 1, sizeof(size_t))))
                return -ENOMEM;

        const double *dem = res == RES_CPU ? m->cpu : m->mem;
        const double *cap = res == RES_CPU ? m->cpu_cap : m->mem_cap;

        /* Initial loads; forced inflow: VMs that had to leave their host and are now on counted
         * hosts (wherever they are: the LP may place that load anywhere). */
        for (size_t v = 0; v < V; v++) {
                int h0 = m->initial[v];
                if (h0 < 0)
                        continue;
                if (lns_bound_forced(m, a, v))
                        F += dem[v];
                else if (m->counted[h0])
                        load[h0] += dem[v];
        }
        for (size_t h = 0; h < H; h++)
                if (m->counted[h]) {
                        n_counted++;
                        mean += load[h] / cap[h];
                }
        if (n_counted == 0)
                return 0;
        mean /= n_counted;
        for (size_t h = 0; h < H; h++)
                if (m->counted[h])
                        dmax = fmax(dmax, fabs(load[h] / cap[h] - mean));

        /* Movable VMs by host, largest first: only the budget's worth per host can matter. */
        for (size_t v = 0; v < V; v++)
                if (lns_bound_movable(m, a, v))
                        hstart[m->initial[v] + 1]++;
        for (size_t h = 0; h < H; h++)
                hstart[h + 1] += hstart[h];
        for (size_t v = 0; v < V; v++)
                if (lns_bound_movable(m, a, v)) {
                        size_t h0 = (size_t) m->initial[v];
                        byhost[hstart[h0] + fill[h0]++] = v;
                }
        size_t n_y = 0;
        for (size_t h = 0; h < H; h++) {
                size_t nb = hstart[h + 1] - hstart[h];
                qsort_r(byhost + hstart[h], nb, sizeof(size_t), cmp_by_key_desc, (void *) dem);
                n_y += MIN(nb, (size_t) budget_left);
        }
        if (1 + n_y + (size_t) n_counted * (1 + 2 * (LNS_LB_TANGENTS + 1)) > LNS_LB_MAX_COLUMNS)
                return -E2BIG;

        /* Tangent points p_k = D (k/K)²; segment k ∈ [q_k, q_{k+1}], q_k = (p_{k-1} + p_k)/2,
         * has slope 2 p_k (segment 0 slope 0): the maximum of the tangents, below d². */
        double Dm = fmax(1.1 * dmax, 0.01), p[LNS_LB_TANGENTS + 1], seglen[LNS_LB_TANGENTS];
        for (int k = 0; k <= LNS_LB_TANGENTS; k++)
                p[k] = Dm * ((double) k / LNS_LB_TANGENTS) * ((double) k / LNS_LB_TANGENTS);
        for (int k = 0; k < LNS_LB_TANGENTS; k++)
                seglen[k] = (p[k] + p[k + 1]) / 2 - (k == 0 ? 0 : (p[k - 1] + p[k]) / 2);

        for (size_t h = 0; h < H; h++)
                if (m->counted[h] &&
                    (row_of[h] = lp_new_row(s, GLP_FX, -load[h] / cap[h], -load[h] / cap[h])) < 0)
                        return row_of[h];
        /* The flow row in units of the mean capacity: in MiB it would be 10⁴ times the other
         * rows and GLPK (unscaled) then returned a "bound" above a solution the exchange
         * search had found. */
        double unit = 0;
        for (size_t h = 0; h < H; h++)
                if (m->counted[h])
                        unit += cap[h];
        unit = unit > 0 ? unit / n_counted : 1;
        int row_flow = lp_new_row(s, GLP_FX, F / unit, F / unit);
        if (row_flow < 0)
                return row_flow;
        int row_budget = lp_new_row(s, GLP_UP, 0, (double) budget_left);
        if (row_budget < 0)
                return row_budget;

        int c_col = lp_new_col(s, GLP_FR, 0, 0, 0, false);
        if (c_col < 0)
                return c_col;
        for (size_t h = 0; h < H; h++) {
                if (!m->counted[h])
                        continue;
                int row = row_of[h], col;
                if ((r = triplets_add(&s->t, row, c_col, -1)) < 0)
                        return r;
                size_t nb = MIN(hstart[h + 1] - hstart[h], (size_t) budget_left);
                for (size_t i = 0; i < nb; i++) {
                        size_t v = byhost[hstart[h] + i];
                        if ((col = lp_new_col(s, GLP_DB, 0, 1, 0, false)) < 0)
                                return col;
                        if ((r = triplets_add(&s->t, row, col, -dem[v] / cap[h])) < 0 ||
                            (r = triplets_add(&s->t, row_flow, col, -dem[v] / unit)) < 0 ||
                            (r = triplets_add(&s->t, row_budget, col, 1)) < 0)
                                return r;
                }
                if ((col = lp_new_col(s, m->target_ok[h] ? GLP_LO : GLP_FX, 0, 0, 0, false)) < 0)
                        return col;
                if ((r = triplets_add(&s->t, row, col, unit / cap[h])) < 0 ||
                    (r = triplets_add(&s->t, row_flow, col, 1)) < 0)
                        return r;
                for (int side = 0; side < 2; side++)
                        for (int k = 0; k <= LNS_LB_TANGENTS; k++) {
                                col = k < LNS_LB_TANGENTS
                                              ? lp_new_col(s, GLP_DB, 0, seglen[k], 2 * p[k], false)
                                              : lp_new_col(s, GLP_LO, 0, 0, 2 * p[k], false);
                                if (col < 0)
                                        return col;
                                if ((r = triplets_add(&s->t, row, col, side == 0 ? -1.0 : 1.0)) < 0)
                                        return r;
                        }
        }
        return (int) n_counted;
}

static int lns_bound(const Model *m, const Assignment *a, unsigned budget, double *ret_bound) {
        _cleanup_(lp_spec_done) LpSpec s = {};
        unsigned forced = 0;
        for (size_t v = 0; v < m->n_vms; v++)
                forced += lns_bound_forced(m, a, v);
        unsigned left = budget > forced ? budget - forced : 0; /* forced moves use budget too */
        double sd[2] = {};
        int r;

        for (int res = 0; res < _RES_MAX; res++) {
                if ((res == RES_CPU ? m->w_cpu : m->w_mem) <= 0)
                        continue;
                r = lns_bound_build(m, a, res, left, &s);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        continue; /* no counted host */
                }
                double n_counted = r;
                GlpkRun run = {
                        .spec = &s,
                        .iter_limit = 1000000,
                        .tm_lim_ms = 5000, /* safety net only: < 50 ms at the sizes it runs */
                };
                r = glpk_run(&run);
                if (r < 0)
                        return r;
                if (!s.solved)
                        return -ETIME;
                sd[res] = sqrt(fmax(s.obj_val, 0) / n_counted);
        }
        *ret_bound = m->w_cpu * sd[RES_CPU] + m->w_mem * sd[RES_MEM];
        return 0;
}

int lns_lower_bound(const Model *m, unsigned move_budget, double *ret_bound) {
        Assignment a;
        double lb;
        int r;

        r = assignment_init(m, &a);
        if (r < 0)
                return r;
        r = lns_bound(m, &a, move_budget, &lb);
        assignment_done(&a);
        glp_free_env();
        if (r < 0)
                return r;
        *ret_bound = lb;
        return 0;
}

int lns_improve_full(
        const Model *m, Assignment *a, const LnsOptions *opts, const LnsTestHooks *hooks,
        LnsStats *ret_stats) {
        _cleanup_(lns_ctx_done) LnsCtx c = {};
        LnsStats stats = {};
        unsigned rounds, fails = 0, moves;
        double score;
        int r;

        r = lns_ctx_init(&c, m, a, opts, hooks);
        if (r < 0)
                return r;
        moves = lns_count_moves(m, a);
        c.budget = MAX(opts->move_budget, moves);
        score = assignment_score(m, a);
        /* A round costs ≈ 90 ms of CPU whatever the cluster size: 2 (plus the exchange search)
         * keep 64 hosts / 2,000 VMs within half a second; small clusters, where the budget does not bind and
         * every round still pays, get more (≈ 1 s, against a pass interval of minutes). */
        if (opts->rounds > 0)
                rounds = opts->rounds;
        else
                rounds = a->n_counted <= LNS_TINY_HOSTS    ? LNS_DEFAULT_ROUNDS_TINY
                         : a->n_counted <= LNS_SMALL_HOSTS ? LNS_DEFAULT_ROUNDS_SMALL
                                                           : LNS_DEFAULT_ROUNDS;
        if (opts->clock_us && opts->time_limit_s > 0)
                c.deadline_us = opts->clock_us(opts->clock_userdata) + (uint64_t) (opts->time_limit_s * 1e6);

        for (unsigned round = 1;
             round <= rounds && fails < LNS_MAX_FAILS && m->n_hosts >= 2 && !opts->no_mip; round++) {
                size_t n = 0;

                if (c.deadline_us > 0 && opts->clock_us(opts->clock_userdata) >= c.deadline_us)
                        break;
                lns_pick(&c, fails);
                stats.rounds_run++;
                if (c.nN == 0 || c.nH < 2) {
                        fails++;
                        continue;
                }
                r = lns_solve_sub(&c, round, &n);
                if (r == -EIO) {
                        stats.glpk_failed = true;
                        break;
                }
                if (r < 0) {
                        glp_free_env();
                        return r;
                }
                if (n > 0 && lns_try_apply(&c, n, &score, &moves)) {
                        stats.improvements++;
                        fails = 0;
                } else
                        fails++;
        }

        /* Then exchanges: what a neighbourhood of ≈ 14 hosts cannot see when the budget binds
         * (a weak move anywhere traded for a better one anywhere). */
        if (!(hooks && hooks->no_exchange))
                stats.exchanges += lns_exchange(&c, &score, &moves);
        if (!(hooks && hooks->no_lower_bound) && !opts->no_bound && !stats.glpk_failed) {
                double lb;
                r = lns_bound(m, a, c.budget, &lb);
                if (r == -ENOMEM) {
                        glp_free_env();
                        return r;
                }
                if (r >= 0) {
                        stats.lower_bound = lb;
                        stats.gap = score > 1e-12 ? fmin(fmax((score - lb) / score, 0), 1) : 0;
                } else if (r == -EIO)
                        stats.glpk_failed = true;
        }
        if (stats.lower_bound <= 0 && score > 1e-12 && stats.gap <= 0)
                stats.gap = 1; /* no bound (too big, failed or skipped): the gap is only known to be ≤ 1 */

        glp_free_env();
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}

int lns_improve(const Model *m, Assignment *a, const LnsOptions *opts, LnsStats *ret_stats) {
        return lns_improve_full(m, a, opts, NULL, ret_stats);
}

/* ---- a small MIP for other solver modules (mip.h) --------------------------------------------- */

struct Mip {
        LpSpec spec;
};

int mip_new(Mip **ret) {
        Mip *m = calloc(1, sizeof(Mip));
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

Mip *mip_free(Mip *m) {
        if (m) {
                lp_spec_done(&m->spec);
                free(m);
        }
        return NULL;
}

int mip_col(Mip *m, double lo, double hi, double obj, bool binary) {
        return lp_new_col(
                &m->spec,
                isinf(hi)  ? GLP_LO
                : lo == hi ? GLP_FX
                           : GLP_DB,
                lo, isinf(hi) ? 0 : hi, obj, binary);
}

int mip_row(Mip *m, double lo, double hi) {
        int type = isinf(lo) && isinf(hi) ? GLP_FR
                   : isinf(lo)            ? GLP_UP
                   : isinf(hi)            ? GLP_LO
                   : lo == hi             ? GLP_FX
                                          : GLP_DB;
        return lp_new_row(&m->spec, type, isinf(lo) ? 0 : lo, isinf(hi) ? 0 : hi);
}

int mip_coef(Mip *m, int row, int col, double v) {
        return triplets_add(&m->spec.t, row, col, v);
}

int mip_solve(Mip *m, int tm_lim_ms, bool *ret_optimal) {
        GlpkRun run = {
                .spec = &m->spec,
                .mip = true,
                .node_limit = 1000000,
                .iter_limit = 100000000,
                .tm_lim_ms = tm_lim_ms,
        };
        int r = glpk_run(&run);
        if (r < 0)
                return r;
        if (!m->spec.solved)
                return -ENOENT;
        if (ret_optimal)
                *ret_optimal = m->spec.optimal;
        return 0;
}

double mip_value(const Mip *m, int col) {
        return col >= 1 && col <= m->spec.ncols ? m->spec.x[col] : 0;
}
