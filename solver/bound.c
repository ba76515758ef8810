/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The Lagrangian lower bound of bound.h. Loads are in units of the mean capacity of the counted
 * hosts (so that the prices are of order one for CPU and memory alike): host h has capacity
 * k_h, load L_h, utilization u = load / k_h. */

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "bound.h"
#include "macro.h"

#define BOUND_C_ITER 30  /* regula falsi steps on the mean at most */
#define BOUND_NU_ITER 12 /* bisection steps on the flow price */
#define BOUND_MU_ITER 12 /* … on the budget price */

typedef struct BoundHost {
        double k;            /* capacity */
        double u0;           /* utilization before moves */
        bool inflow;         /* may receive load */
        const double *d;     /* sizes of the VMs that may leave, largest first (scaled) */
        const double *D;     /* prefix sums: D[i] = d[0] + … + d[i − 1] */
        const double *inv_d; /* 1 / d[i] */
        size_t n_d;
} BoundHost;

typedef struct BoundProblem {
        BoundHost *hosts;
        size_t n;
        bool any_inflow;       /* some host may receive: then the dual is −∞ for ν < 0 */
        double c_last, c_step; /* where the last mean was found, and a bracket half-width */
        double B;              /* moves left */
        double F;              /* forced load, placed freely */
} BoundProblem;

/* What the hosts do at given prices and mean: Σ g_h, and the sums the subgradients need. */
typedef struct BoundEval {
        double g;   /* Σ_h min (u_h − c)² + ν·in_h − ν·out_h + μ·Σ y */
        double dc;  /* dG/dc = −2 Σ (u_h − c) */
        double y;   /* Σ y */
        double net; /* Σ in − Σ out */
} BoundEval;

static void host_eval(const BoundHost *h, double mu, double nu, double c, BoundEval *e) {
        double best, best_u, best_y = 0, best_net = 0;

        /* Nothing moves. */
        best = (h->u0 - c) * (h->u0 - c);
        best_u = h->u0;

        /* Inflow: stationary at u = c − ν k / 2. */
        if (h->inflow) {
                double u = c - nu * h->k / 2;
                if (u > h->u0) {
                        double x = (u - h->u0) * h->k;
                        double val = (u - c) * (u - c) + nu * x;
                        if (val < best) {
                                best = val;
                                best_u = u;
                                best_y = 0;
                                best_net = x;
                        }
                }
        }

        /* Outflow: the largest VMs first; piece i (0-based) costs s_i = μ / d_i − ν per unit of load,
         * increasing in i: the optimum is in the first piece whose stationary point
         * zs_i = (u0 − c − s_i k / 2) k lies below its end D[i + 1] (binary search), at zs_i or
         * at the kink D[i] before it. The pieces before cost Σ s_j d_j = μ i − ν D[i]. */
        double z = 0, cost = 0, y = 0;
        size_t lo = 0, hi = h->n_d; /* the first piece with zs_i < D[i + 1], or n_d */
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                double zs = (h->u0 - c - (mu * h->inv_d[mid] - nu) * h->k / 2) * h->k;
                if (zs < h->D[mid + 1])
                        hi = mid;
                else
                        lo = mid + 1;
        }
        if (lo == h->n_d) {
                z = h->D[lo];
                y = (double) lo;
                cost = mu * y - nu * z;
        } else {
                double s = mu / h->d[lo] - nu;
                double zs = (h->u0 - c - s * h->k / 2) * h->k;
                y = (double) lo;
                z = h->D[lo];
                cost = mu * y - nu * z;
                if (zs > z) {
                        cost += s * (zs - z);
                        y += (zs - z) / h->d[lo];
                        z = zs;
                }
        }
        if (z > 0) {
                double u = h->u0 - z / h->k;
                double val = (u - c) * (u - c) + cost;
                if (val < best) {
                        best = val;
                        best_u = u;
                        best_y = y;
                        best_net = -z;
                }
        }

        e->g += best;
        e->dc += -2 * (best_u - c);
        e->y += best_y;
        e->net += best_net;
}

static BoundEval bound_eval(const BoundProblem *bp, double mu, double nu, double c) {
        BoundEval e = {};
        for (size_t i = 0; i < bp->n; i++)
                host_eval(&bp->hosts[i], mu, nu, c, &e);
        return e;
}

/* The dual value at (μ, ν): a certified lower bound of min_c G(c) − μB − νF, and the
 * subgradient sums at the mean found. G is convex in c, G' = −2 Σ (u_h − c) increasing and
 * piecewise linear: a bracket around the last mean found, then regula falsi (Illinois). */
static double dual_value(BoundProblem *bp, double mu, double nu, BoundEval *ret) {
        double w = bp->c_step, lo = bp->c_last - w, hi = bp->c_last + w;
        BoundEval elo = bound_eval(bp, mu, nu, lo), ehi = bound_eval(bp, mu, nu, hi), e;

        for (unsigned k = 0; k < 60 && elo.dc > 0; k++, w *= 2) {
                hi = lo, ehi = elo;
                lo -= w;
                elo = bound_eval(bp, mu, nu, lo);
        }
        for (unsigned k = 0; k < 60 && ehi.dc < 0; k++, w *= 2) {
                lo = hi, elo = ehi;
                hi += w;
                ehi = bound_eval(bp, mu, nu, hi);
        }
        double flo = elo.dc, fhi = ehi.dc, c = lo;
        int side = 0;
        e = elo;
        for (unsigned k = 0; k < BOUND_C_ITER && hi - lo > 1e-12; k++) {
                c = fhi - flo > 0 ? (lo * fhi - hi * flo) / (fhi - flo) : (lo + hi) / 2;
                if (!(c > lo && c < hi))
                        c = (lo + hi) / 2;
                e = bound_eval(bp, mu, nu, c);
                if (e.dc == 0) {
                        lo = hi = c;
                        break;
                }
                if (e.dc < 0) {
                        lo = c, flo = e.dc;
                        if (side == -1)
                                fhi /= 2;
                        side = -1;
                } else {
                        hi = c, fhi = e.dc;
                        if (side == 1)
                                flo /= 2;
                        side = 1;
                }
                if (fabs(e.dc) * (hi - lo) < 1e-12 * fmax(e.g, 1e-12))
                        break;
        }
        bp->c_last = c;
        bp->c_step = fmax(fmin(hi - lo, 0.1), 1e-6);
        /* Convexity: G(c*) ≥ G(c) + G'(c)(c* − c) ≥ G(c) − |G'(c)| (hi − lo) for c, c* in [lo, hi]. */
        double g_min = e.g - fabs(e.dc) * (hi - lo);
        *ret = e;
        return g_min - mu * bp->B - nu * bp->F;
}

/* max over ν of the dual at μ (concave in ν; subgradient Σ in − Σ out − F). */
static double best_over_nu(BoundProblem *bp, double mu, double *best, BoundEval *ret) {
        double lo = -1, hi = 1, top = -INFINITY;
        BoundEval e;

        /* Free inflow at a negative price makes the dual unbounded below: ν ≥ 0. */
        if (bp->any_inflow)
                lo = 0;
        else
                for (unsigned k = 0; k < 60; k++, lo *= 2) {
                        double q = dual_value(bp, mu, lo, &e);
                        *best = fmax(*best, q);
                        if (e.net - bp->F >= 0)
                                break;
                }
        for (unsigned k = 0; k < 60; k++, hi *= 2) {
                double q = dual_value(bp, mu, hi, &e);
                *best = fmax(*best, q);
                if (e.net - bp->F <= 0)
                        break;
        }
        for (unsigned k = 0; k < BOUND_NU_ITER; k++) {
                double mid = (lo + hi) / 2;
                double q = dual_value(bp, mu, mid, &e);
                *best = fmax(*best, q);
                top = fmax(top, q);
                /* Raising ν makes inflow dearer and outflow more attractive: net falls. */
                if (e.net - bp->F > 0)
                        lo = mid;
                else
                        hi = mid;
        }
        (void) dual_value(bp, mu, (lo + hi) / 2, ret);
        return top;
}

/* The bound of Σ_h (u_h − c)² for one resource (≥ 0). */
static double bound_resource(BoundProblem *bp) {
        double best = -INFINITY, lo = 0, hi = 1e-3;
        BoundEval e;

        if (bp->n == 0)
                return 0;
        /* μ: the smallest price at which no more than the budget moves (Σ y falls as μ rises;
         * at μ = 0 moves are free and Σ y is not unique, so μ is always searched). */
        for (unsigned k = 0; k < 60; k++, hi *= 2) {
                (void) best_over_nu(bp, hi, &best, &e);
                if (e.y <= bp->B)
                        break;
                lo = hi;
        }
        for (unsigned k = 0; k < BOUND_MU_ITER; k++) {
                double mid = (lo + hi) / 2;
                (void) best_over_nu(bp, mid, &best, &e);
                if (e.y > bp->B)
                        lo = mid;
                else
                        hi = mid;
        }
        (void) best_over_nu(bp, 0, &best, &e);
        return fmax(best, 0);
}

/* Did v have to leave its initial host, and is it now on a counted one? */
static bool bound_forced(const Model *m, const Assignment *a, size_t v) {
        int h0 = m->initial[v], h = a->host[v];
        return h0 >= 0 && (m->must_empty[h0] || m->hard_rule[v] >= 0) && h != h0 && h >= 0 && m->counted[h];
}

static int cmp_desc(const void *x, const void *y) {
        double a = *(const double *) x, b = *(const double *) y;
        return a > b ? -1 : a < b;
}

int bound_imbalance(const Model *m, const Assignment *a, unsigned move_budget, double *ret_bound) {
        size_t H = m->n_hosts, V = m->n_vms;
        _cleanup_free_ BoundHost *hosts = calloc(H + 1, sizeof(BoundHost));
        _cleanup_free_ size_t *start = calloc(H + 2, sizeof(size_t)), *fill = calloc(H + 1, sizeof(size_t));
        _cleanup_free_ double *sizes = calloc(V + 1, sizeof(double)),
                              *prefix = calloc(V + H + 1, sizeof(double)),
                              *inv = calloc(V + 1, sizeof(double));
        _cleanup_free_ int *slot = calloc(H + 1, sizeof(int));
        unsigned forced = 0;
        double sd[2] = {};

        if (!hosts || !start || !fill || !sizes || !prefix || !inv || !slot)
                return -ENOMEM;
        for (size_t v = 0; v < V; v++)
                forced += bound_forced(m, a, v);
        double B = move_budget > forced ? move_budget - forced : 0;

        for (int res = 0; res < 2; res++) {
                const double *dem = res == 0 ? m->cpu : m->mem, *cap = res == 0 ? m->cpu_cap : m->mem_cap;
                double w = res == 0 ? m->w_cpu : m->w_mem, kref = 0, F = 0;
                size_t n = 0;

                if (w <= 0)
                        continue;
                for (size_t h = 0; h < H; h++) {
                        slot[h] = -1;
                        if (m->counted[h]) {
                                kref += cap[h];
                                slot[h] = (int) n++;
                        }
                }
                if (n == 0)
                        continue;
                kref /= (double) n;
                for (size_t h = 0; h < H; h++)
                        if (slot[h] >= 0)
                                hosts[slot[h]] = (BoundHost){
                                        .k = cap[h] / kref,
                                        .inflow = m->target_ok[h],
                                };

                /* Loads, and the VMs that may leave each host, in per-host runs of sizes. */
                for (size_t i = 0; i <= n; i++)
                        start[i] = fill[i] = 0;
                for (size_t v = 0; v < V; v++) {
                        int h0 = m->initial[v];
                        if (h0 < 0)
                                continue;
                        if (bound_forced(m, a, v)) {
                                F += dem[v] / kref;
                                continue;
                        }
                        if (slot[h0] < 0)
                                continue;
                        hosts[slot[h0]].u0 += dem[v] / kref;
                        if (m->source_ok[h0] && !m->fixed[v] && m->may_balance[v])
                                start[slot[h0] + 1]++;
                }
                for (size_t i = 0; i < n; i++)
                        start[i + 1] += start[i];
                for (size_t v = 0; v < V; v++) {
                        int h0 = m->initial[v];
                        if (h0 < 0 || slot[h0] < 0 || bound_forced(m, a, v) || !m->source_ok[h0] ||
                            m->fixed[v] || !m->may_balance[v])
                                continue;
                        size_t i = (size_t) slot[h0];
                        sizes[start[i] + fill[i]++] = dem[v] / kref;
                }
                for (size_t i = 0; i < n; i++) {
                        BoundHost *bh = &hosts[i];
                        size_t nd = start[i + 1] - start[i];
                        qsort(sizes + start[i], nd, sizeof(double), cmp_desc);
                        bh->u0 /= bh->k;
                        bh->d = sizes + start[i];
                        bh->n_d = nd < (size_t) B ? nd : (size_t) B; /* more than B never leave */
                        /* Sizes of 0 (idle VMs) end the useful pieces. */
                        while (bh->n_d > 0 && bh->d[bh->n_d - 1] <= 0)
                                bh->n_d--;
                        double *D = prefix + start[i] + i; /* n_d + 1 slots: runs of nd + 1 */
                        D[0] = 0;
                        for (size_t k = 0; k < bh->n_d; k++) {
                                D[k + 1] = D[k] + bh->d[k];
                                inv[start[i] + k] = 1 / bh->d[k];
                        }
                        bh->D = D;
                        bh->inv_d = inv + start[i];
                }

                BoundProblem bp = {.hosts = hosts, .n = n, .B = B, .F = F, .c_step = 0.1};
                for (size_t i = 0; i < n; i++)
                        bp.c_last += hosts[i].u0 / (double) n;
                for (size_t i = 0; i < n; i++)
                        bp.any_inflow = bp.any_inflow || hosts[i].inflow;
                sd[res] = sqrt(bound_resource(&bp) / (double) n);
        }
        *ret_bound = m->w_cpu * sd[0] + m->w_mem * sd[1];
        return 0;
}
