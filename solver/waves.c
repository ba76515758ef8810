/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Rolling maintenance waves (see waves.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "model.h"
#include "waves.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

static double host_limit_mib(const Policy *pol, const SolverHost *h) {
        double l = (double) h->memory_mib * pol->limits.memory_overcommit -
                   (double) pol->limits.memory_reserve_mib;
        return l > 0 ? l : 0;
}

static int cmp_double_desc(const void *x, const void *y) {
        double a = *(const double *) x, b = *(const double *) y;
        return a < b ? 1 : a > b ? -1 : 0;
}

/* The up hosts outside the wave must hold every VM's memory with the headroom_hosts largest of
 * them left out. */
static int check_headroom(const Problem *p, const bool *out, unsigned headroom, char **ret_why) {
        _cleanup_free_ double *limits = calloc(p->n_hosts ?: 1, sizeof(double));
        double need = 0, have = 0, kept = 0;
        size_t n = 0;

        if (!limits)
                return -ENOMEM;
        for (size_t v = 0; v < p->n_vms; v++)
                need += (double) p->vms[v].memory_mib;
        for (size_t h = 0; h < p->n_hosts; h++)
                if (!out[h] && p->hosts[h].state == HOST_UP && !p->hosts[h].frozen)
                        limits[n++] = host_limit_mib(p->policy, &p->hosts[h]);
        qsort(limits, n, sizeof(double), cmp_double_desc);
        for (size_t i = 0; i < n; i++) {
                if (i < headroom)
                        kept += limits[i];
                else
                        have += limits[i];
        }
        if (n > headroom && have >= need)
                return 1;
        if (asprintf(
                    ret_why,
                    "headroom: %zu up host(s) left, %u of them kept spare (dpm.headroom_hosts), %.0f MiB "
                    "for %.0f MiB of VMs",
                    n, headroom, have, need) < 0)
                return -ENOMEM;
        return 0;
}

int rollout_wave_check(
        const Problem *p, const size_t *hosts, size_t n, unsigned headroom_hosts, const SolverOptions *opts,
        char **ret_why) {
        _cleanup_free_ SolverHost *copy = NULL;
        _cleanup_free_ bool *out = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        Policy pol;
        Problem q;
        SolverOptions o = opts ? *opts : (SolverOptions){};
        int k;

        copy = calloc(p->n_hosts ?: 1, sizeof(SolverHost));
        out = calloc(p->n_hosts ?: 1, sizeof(bool));
        if (!copy || !out)
                return -ENOMEM;
        memcpy(copy, p->hosts, p->n_hosts * sizeof(SolverHost));
        for (size_t i = 0; i < n; i++) {
                if (hosts[i] >= p->n_hosts)
                        return -EINVAL;
                out[hosts[i]] = true;
                if (copy[hosts[i]].state == HOST_UP)
                        copy[hosts[i]].state = HOST_MAINTENANCE;
        }
        /* Only the evacuation matters: no balance, no DPM, greedy (fast, deterministic). The
         * copies share the Problem's strings and arrays and are never freed. */
        pol = *p->policy;
        pol.balance.enabled = false;
        pol.dpm.enabled = false;
        q = *p;
        q.hosts = copy;
        q.policy = &pol;
        o.greedy_only = true;
        k = solver_plan(&q, &o, &plan);
        if (k < 0)
                return k;
        if (plan->n_unplaceable > 0) {
                _cleanup_free_ char *why = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&why, &len);
                if (!f)
                        return -ENOMEM;
                for (size_t i = 0; i < plan->n_unplaceable && i < 5; i++) {
                        const PlanUnplaceable *u = &plan->unplaceable[i];
                        const SolverVm *vm = u->vm < p->n_vms ? &p->vms[u->vm] : NULL;
                        fprintf(f, "%sVM '%s' on '%s' fits nowhere: %s", i > 0 ? "; " : "",
                                vm ? vm->name : "?", vm && vm->host >= 0 ? p->hosts[vm->host].name : "?",
                                u->why ?: "no host fits");
                }
                if (plan->n_unplaceable > 5)
                        fprintf(f, "; and %zu more", plan->n_unplaceable - 5);
                if (fclose(f) != 0)
                        return -ENOMEM;
                *ret_why = TAKE_PTR(why);
                return 0;
        }
        if (headroom_hosts > 0)
                return check_headroom(&q, out, headroom_hosts, ret_why);
        return 1;
}

int rollout_auto_parallel(
        const Problem *p, const size_t *order, size_t n, unsigned headroom_hosts, unsigned max_parallel,
        const SolverOptions *opts, unsigned *ret, char **ret_why) {
        size_t top = max_parallel > 0 && max_parallel < n ? max_parallel : n;
        _cleanup_free_ char *why = NULL;

        for (size_t k = top; k >= 1; k--) {
                bool all = true;
                for (size_t i = 0; i < n && all; i += k) {
                        size_t len = n - i < k ? n - i : k;
                        char *w = NULL;
                        int r = rollout_wave_check(p, order + i, len, headroom_hosts, opts, &w);
                        if (r < 0)
                                return r;
                        if (r == 0) {
                                all = false;
                                free(why);
                                why = w;
                        }
                }
                if (all) {
                        *ret = (unsigned) k;
                        return 0;
                }
        }
        *ret = 0;
        if (ret_why)
                *ret_why = TAKE_PTR(why);
        return 0;
}

int rollout_group_hosts(const Problem *p, const char *group, size_t **ret, size_t *ret_n) {
        const Group *g = NULL;
        size_t n = 0;

        for (size_t i = 0; i < p->policy->n_groups && !g; i++)
                if (p->policy->groups[i].kind == GROUP_HOST && streq(p->policy->groups[i].name, group))
                        g = &p->policy->groups[i];
        if (!g)
                return -ENOENT;
        size_t *l = calloc(p->n_hosts ?: 1, sizeof(size_t));
        if (!l)
                return -ENOMEM;
        for (size_t h = 0; h < p->n_hosts; h++)
                if (group_matches(g, p->hosts[h].name, p->hosts[h].groups))
                        l[n++] = h;
        *ret = l;
        *ret_n = n;
        return 0;
}
