/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster-gen.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);

uint64_t cluster_rand(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

double cluster_rand_double(uint64_t *s) {
        return (double) (cluster_rand(s) >> 11) * 0x1.0p-53;
}

static double rand_normal(uint64_t *s) {
        double u1 = cluster_rand_double(s), u2 = cluster_rand_double(s);
        return sqrt(-2 * log(u1 > 0 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
}

int cluster_generate(const ClusterSpec *spec, Problem **ret) {
        _cleanup_(problem_freep) Problem *p = NULL;
        _cleanup_free_ double *temp = NULL, *mem_used = NULL, *frac = NULL;
        uint64_t rng = spec->seed * UINT64_C(0x2545f4914f6cdd1d) + 1;
        double cpu_target = spec->cpu_target > 0 ? spec->cpu_target : 0.5;
        double mem_fill = spec->mem_fill > 0 ? spec->mem_fill : 0.8;
        double hot = spec->hot_fraction > 0 ? spec->hot_fraction : 0.25;
        size_t H = spec->n_hosts, V = spec->n_vms;
        int r;

        r = problem_new(&p);
        if (r < 0)
                return r;
        if (H == 0)
                return -EINVAL;
        if (!(p->hosts = calloc(H, sizeof(SolverHost))) || !(p->vms = calloc(V + 1, sizeof(SolverVm))) ||
            !(temp = calloc(H, sizeof(double))) || !(mem_used = calloc(H, sizeof(double))) ||
            !(frac = calloc(V + 1, sizeof(double))))
                return -ENOMEM;

        static const unsigned cores[] = {32, 48, 64};
        for (size_t h = 0; h < H; h++) {
                SolverHost *sh = &p->hosts[p->n_hosts];
                unsigned c = cores[cluster_rand(&rng) % 3];
                if (asprintf(&sh->name, "h%04zu", h) < 0)
                        return -ENOMEM;
                p->n_hosts++;
                sh->cpus = c;
                sh->memory_mib = (uint64_t) c * 8 * 1024;
                sh->state = HOST_UP;
                /* Hot hosts first in a shuffled order: a quarter hot, a quarter cold. */
                double x = cluster_rand_double(&rng);
                temp[h] = x < hot ? 2.2 : x < 2 * hot ? 0.35 : 1.0;
        }

        double reserve = (double) p->policy->limits.memory_reserve_mib;
        static const unsigned vcpu_sizes[] = {1, 2, 4, 8, 16};
        for (size_t v = 0; v < V; v++) {
                SolverVm *sv = &p->vms[p->n_vms];
                /* log-normal-ish sizes: vCPUs 1..16, memory 1..64 GiB (1–4 GiB per vCPU). */
                double z = rand_normal(&rng);
                int k = (int) floor(1.0 + 0.9 * z);
                k = k < 0 ? 0 : k > 4 ? 4 : k;
                unsigned vcpus = vcpu_sizes[k];
                double gib = vcpus * (double) (1u << (cluster_rand(&rng) % 3));
                gib = gib < 1 ? 1 : gib > 64 ? 64 : gib;

                /* Place by configured memory, up to mem_fill of each host's limit. */
                size_t h = SIZE_MAX;
                for (unsigned tries = 0; tries < 64 && h == SIZE_MAX; tries++) {
                        size_t c = cluster_rand(&rng) % H;
                        double limit = (double) p->hosts[c].memory_mib - reserve;
                        if (mem_used[c] + gib * 1024 <= limit * mem_fill)
                                h = c;
                }
                if (h == SIZE_MAX)
                        for (size_t c = 0; c < H && h == SIZE_MAX; c++)
                                if (mem_used[c] + gib * 1024 <= (double) p->hosts[c].memory_mib - reserve)
                                        h = c;
                if (h == SIZE_MAX)
                        break; /* the cluster is full: fewer VMs */
                mem_used[h] += gib * 1024;

                if (asprintf(&sv->name, "vm%05zu", v) < 0)
                        return -ENOMEM;
                p->n_vms++;
                sv->host = (int) h;
                sv->vcpus = vcpus;
                sv->memory_mib = (uint64_t) (gib * 1024);
                sv->memory_demand_mib =
                        (uint64_t) (sv->memory_mib * (0.35 + 0.55 * cluster_rand_double(&rng)));
                sv->last_moved_s = -1;
                /* Busy fraction of its vCPUs, skewed low, scaled by the host's temperature. */
                double u = cluster_rand_double(&rng);
                frac[v] = (0.05 + 0.6 * u * u) * temp[h];
        }

        /* Scale CPU demand to the target mean utilization. */
        double demand = 0, capacity = 0;
        for (size_t v = 0; v < p->n_vms; v++)
                demand += frac[v] * p->vms[v].vcpus;
        for (size_t h = 0; h < H; h++)
                capacity += p->hosts[h].cpus;
        double scale = demand > 0 ? cpu_target * capacity / demand : 0;
        for (size_t v = 0; v < p->n_vms; v++) {
                double d = frac[v] * p->vms[v].vcpus * scale;
                p->vms[v].cpu_demand = d < p->vms[v].vcpus ? d : p->vms[v].vcpus;
        }

        *ret = TAKE_PTR(p);
        return 0;
}
