/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* drs-bench: solver_plan() with its defaults (greedy + GLPK neighbourhood search) against the
 * greedy baseline (greedy_only) on seeded synthetic clusters (cluster-gen.h), plus an
 * evacuation case and a DPM case. Prints Markdown tables (the README's benchmark block).
 *
 *   drs-bench [--large] [--seeds N] [--budget N] [--effort N] [--size HOSTSxVMS]... [--no-cases]
 *             [--min-gain X] [--memory-weight X] [--mem-fill X] [--dump DIR]
 *
 * Without --size and with the cases: the default sizes with the policy's weights, the three
 * smallest with a CPU-only objective, three memory-tight clusters, then the two cases. Columns:
 * CPU and memory imbalance (population standard deviation of utilization), the objective
 * (their weighted mean, what both solvers minimize), moves, in how many seeds the plan came
 * from a GLPK sub-MIP ("greedy+glpk") or only the exchange search ("greedy+exchange"), and the gap against
 * the LP lower bound (1.00 = no bound: above ≈ 32 hosts it is too costly to compute).
 *
 * Every number is a median over the seeds; times are whole solver_plan() calls (model, greedy,
 * LNS, ordering), on CLOCK_MONOTONIC. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster-gen.h"
#include "macro.h"
#include "solver.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Problem *, problem_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plan *, plan_free);

#define MAX_SEEDS 64
#define MAX_SIZES 16

typedef struct BenchSize {
        unsigned hosts, vms;
} BenchSize;

typedef struct Run {
        double ms, cpu_ms, before, after, gap, max_util, mem_before, mem_after, score;
        size_t moves, unplaceable, standby;
        const char *solver;
} Run;

static uint64_t now_us(void *userdata) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static double cpu_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *x, const void *y) {
        double a = *(const double *) x, b = *(const double *) y;
        return a < b ? -1 : a > b;
}

static double median(double *v, size_t n) {
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run_plan(const Problem *p, bool greedy_only, unsigned effort, Run *ret) {
        _cleanup_(plan_freep) Plan *plan = NULL;
        SolverOptions opts = {
                .clock_us = now_us,
                .greedy_only = greedy_only,
                .effort = effort,
        };
        double c0 = cpu_now_ms();
        uint64_t t0 = now_us(NULL);
        int r = solver_plan(p, &opts, &plan);
        uint64_t t1 = now_us(NULL);
        double c1 = cpu_now_ms();
        if (r < 0)
                return r;
        *ret = (Run){
                .ms = (double) (t1 - t0) / 1000.0,
                .cpu_ms = c1 - c0,
                .before = plan->before.cpu_imbalance,
                .after = plan->after.cpu_imbalance,
                .max_util = plan->after.max_cpu_utilization,
                .mem_before = plan->before.memory_imbalance,
                .mem_after = plan->after.memory_imbalance,
                /* The objective (model.h) without soft rules, which the bench has none of. */
                .score = (p->policy->balance.weight_cpu * plan->after.cpu_imbalance +
                          p->policy->balance.weight_memory * plan->after.memory_imbalance) /
                         (p->policy->balance.weight_cpu + p->policy->balance.weight_memory),
                .gap = plan->gap,
                .moves = plan->n_moves,
                .unplaceable = plan->n_unplaceable,
                .solver = plan->solver,
        };
        for (size_t i = 0; i < plan->n_power; i++)
                ret->standby += plan->power[i].action == POWER_STANDBY;
        return 0;
}

static const char *bench_dump_dir = NULL;

/* --dump DIR: the cluster as a JSON snapshot (the format drsctl reads), with the policy the run
 * used, for tests/bench/reference.py. Doubles with 17 digits: the same Problem back. */
static int dump_snapshot(const Problem *p, const char *name) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        if (asprintf(&path, "%s/%s.json", bench_dump_dir, name) < 0)
                return -ENOMEM;
        f = fopen(path, "we");
        if (!f)
                return -errno;
        const BalancePolicy *b = &p->policy->balance;
        fprintf(f,
                "{\"policy\": {\"balance\": {\"weights\": {\"cpu\": %.17g, \"memory\": %.17g}, "
                "\"min_gain\": %.17g, \"max_moves_per_pass\": %u}},\n \"hosts\": [\n",
                b->weight_cpu, b->weight_memory, b->min_gain, b->max_moves_per_pass);
        for (size_t h = 0; h < p->n_hosts; h++)
                fprintf(f, "  {\"name\": \"%s\", \"cpus\": %.17g, \"memory_mib\": %" PRIu64 "}%s\n",
                        p->hosts[h].name, p->hosts[h].cpus, p->hosts[h].memory_mib,
                        h + 1 < p->n_hosts ? "," : "");
        fprintf(f, " ],\n \"vms\": [\n");
        for (size_t v = 0; v < p->n_vms; v++) {
                const SolverVm *vm = &p->vms[v];
                fprintf(f,
                        "  {\"name\": \"%s\", \"host\": \"%s\", \"vcpus\": %u, \"memory_mib\": %" PRIu64
                        ", \"cpu_demand\": %.17g, \"memory_demand_mib\": %" PRIu64
                        ", \"last_moved_s\": %" PRId64 "}%s\n",
                        vm->name, p->hosts[vm->host].name, vm->vcpus, vm->memory_mib, vm->cpu_demand,
                        vm->memory_demand_mib, vm->last_moved_s, v + 1 < p->n_vms ? "," : "");
        }
        fprintf(f, " ]}\n");
        return fclose(f) == 0 ? 0 : -errno;
}

static double bench_min_gain = -1;
static double bench_memory_weight = -1;
static double bench_mem_fill = 0;

static int
bench_balance(const BenchSize *sizes, size_t n_sizes, unsigned seeds, unsigned budget, unsigned effort) {
        printf("| hosts | VMs | solve ms, wall (ours / greedy) | CPU ms (ours / greedy) | CPU imbalance before | "
               "after (ours / greedy) | memory imbalance before | after (ours / greedy) | objective (ours / "
               "greedy) | moves (ours / greedy) | plan by GLPK / exchange | gap |\n");
        printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        fflush(stdout);
        for (size_t s = 0; s < n_sizes; s++) {
                double ms[2][MAX_SEEDS], cpu[2][MAX_SEEDS], before[MAX_SEEDS], after[2][MAX_SEEDS],
                        mbefore[MAX_SEEDS], mafter[2][MAX_SEEDS], score[2][MAX_SEEDS], moves[2][MAX_SEEDS],
                        gap[MAX_SEEDS];
                unsigned glpk_kept = 0, exch_kept = 0;
                for (unsigned k = 0; k < seeds; k++) {
                        _cleanup_(problem_freep) Problem *p = NULL;
                        ClusterSpec spec = {
                                .n_hosts = sizes[s].hosts,
                                .n_vms = sizes[s].vms,
                                .seed = k + 1,
                                .mem_fill = bench_mem_fill};
                        Run run[2];
                        int r = cluster_generate(&spec, &p);
                        if (r < 0)
                                return r;
                        p->policy->balance.max_moves_per_pass = budget;
                        if (bench_min_gain >= 0)
                                p->policy->balance.min_gain = bench_min_gain;
                        if (bench_memory_weight >= 0)
                                p->policy->balance.weight_memory = bench_memory_weight;
                        if (bench_dump_dir) {
                                char name[96];
                                snprintf(
                                        name, sizeof(name), "h%u-v%u-s%u%s%s", sizes[s].hosts, sizes[s].vms,
                                        k + 1, bench_memory_weight >= 0 ? "-cpu" : "",
                                        bench_mem_fill > 0 ? "-tight" : "");
                                r = dump_snapshot(p, name);
                                if (r < 0)
                                        return r;
                        }
                        for (int g = 0; g < 2; g++) {
                                r = run_plan(p, g == 1, effort, &run[g]);
                                if (r < 0)
                                        return r;
                                ms[g][k] = run[g].ms;
                                cpu[g][k] = run[g].cpu_ms;
                                after[g][k] = run[g].after;
                                mafter[g][k] = run[g].mem_after;
                                score[g][k] = run[g].score;
                                moves[g][k] = (double) run[g].moves;
                        }
                        before[k] = run[0].before;
                        mbefore[k] = run[0].mem_before;
                        gap[k] = run[0].gap;
                        glpk_kept += run[0].solver && strcmp(run[0].solver, "greedy+glpk") == 0;
                        exch_kept += run[0].solver && strcmp(run[0].solver, "greedy+exchange") == 0;
                }
                printf("| %u | %u | %.0f / %.0f | %.0f / %.0f | %.4f | %.4f / %.4f | %.4f | %.4f / %.4f | %.4f / "
                       "%.4f | %.0f / %.0f | %u / %u of %u | %.2f |\n",
                       sizes[s].hosts, sizes[s].vms, median(ms[0], seeds), median(ms[1], seeds),
                       median(cpu[0], seeds), median(cpu[1], seeds), median(before, seeds),
                       median(after[0], seeds), median(after[1], seeds), median(mbefore, seeds),
                       median(mafter[0], seeds), median(mafter[1], seeds), median(score[0], seeds),
                       median(score[1], seeds), median(moves[0], seeds), median(moves[1], seeds), glpk_kept,
                       exch_kept, seeds, median(gap, seeds));
                fflush(stdout);
        }
        return 0;
}

/* 64 hosts / 2,000 VMs; the busiest host gets small VMs from others until it holds 64, then
 * enters maintenance. */
static int bench_evacuation(unsigned seeds, unsigned effort) {
        printf("\n| evacuation (64 hosts / 2,000 VMs, one host with 64 VMs into maintenance) | solve ms | moves | "
               "unplaceable | CPU imbalance after |\n");
        printf("|---|---:|---:|---:|---:|\n");
        for (int g = 0; g < 2; g++) {
                double ms[MAX_SEEDS], moves[MAX_SEEDS], unpl[MAX_SEEDS], after[MAX_SEEDS];
                for (unsigned k = 0; k < seeds; k++) {
                        _cleanup_(problem_freep) Problem *p = NULL;
                        ClusterSpec spec = {.n_hosts = 64, .n_vms = 2000, .seed = k + 1};
                        int r = cluster_generate(&spec, &p);
                        if (r < 0)
                                return r;
                        size_t best = 0;
                        for (size_t h = 1; h < p->n_hosts; h++)
                                if (p->hosts[h].cpus > p->hosts[best].cpus)
                                        best = h;
                        size_t count = 0;
                        for (size_t v = 0; v < p->n_vms; v++)
                                count += p->vms[v].host == (int) best;
                        for (size_t v = 0; v < p->n_vms && count < 64; v++)
                                if (p->vms[v].host != (int) best && p->vms[v].memory_mib <= 2048) {
                                        p->vms[v].host = (int) best;
                                        count++;
                                }
                        p->hosts[best].state = HOST_MAINTENANCE;
                        Run run;
                        r = run_plan(p, g == 1, effort, &run);
                        if (r < 0)
                                return r;
                        ms[k] = run.ms;
                        moves[k] = (double) run.moves;
                        unpl[k] = (double) run.unplaceable;
                        after[k] = run.after;
                }
                printf("| %s | %.0f | %.0f | %.0f | %.4f |\n", g == 0 ? "ours" : "greedy", median(ms, seeds),
                       median(moves, seeds), median(unpl, seeds), median(after, seeds));
        }
        return 0;
}

/* 32 hosts / 600 VMs at 15 % CPU and 30 % memory, DPM on. */
static int bench_dpm(unsigned seeds, unsigned effort) {
        printf("\n| DPM (32 hosts / 600 VMs, 15 %% CPU, DPM on) | solve ms | hosts to standby | moves | CPU imbalance "
               "after | max CPU utilization after |\n");
        printf("|---|---:|---:|---:|---:|---:|\n");
        for (int g = 0; g < 2; g++) {
                double ms[MAX_SEEDS], standby[MAX_SEEDS], moves[MAX_SEEDS], after[MAX_SEEDS],
                        maxu[MAX_SEEDS];
                for (unsigned k = 0; k < seeds; k++) {
                        _cleanup_(problem_freep) Problem *p = NULL;
                        ClusterSpec spec = {
                                .n_hosts = 32,
                                .n_vms = 600,
                                .seed = k + 1,
                                .cpu_target = 0.15,
                                .mem_fill = 0.35};
                        int r = cluster_generate(&spec, &p);
                        if (r < 0)
                                return r;
                        p->policy->dpm.enabled = true;
                        Run run;
                        r = run_plan(p, g == 1, effort, &run);
                        if (r < 0)
                                return r;
                        ms[k] = run.ms;
                        standby[k] = (double) run.standby;
                        moves[k] = (double) run.moves;
                        after[k] = run.after;
                        maxu[k] = run.max_util;
                }
                printf("| %s | %.0f | %.0f | %.0f | %.4f | %.3f |\n", g == 0 ? "ours" : "greedy",
                       median(ms, seeds), median(standby, seeds), median(moves, seeds), median(after, seeds),
                       median(maxu, seeds));
        }
        return 0;
}

static const char *optarg_or(double x) {
        static char buf[32];
        snprintf(buf, sizeof(buf), "%g", x);
        return buf;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                {"large", no_argument, NULL, 'l'},          {"seeds", required_argument, NULL, 's'},
                {"budget", required_argument, NULL, 'b'},   {"effort", required_argument, NULL, 'e'},
                {"size", required_argument, NULL, 'z'},     {"no-cases", no_argument, NULL, 'n'},
                {"min-gain", required_argument, NULL, 'g'}, {"memory-weight", required_argument, NULL, 'w'},
                {"mem-fill", required_argument, NULL, 'f'}, {"dump", required_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'h'},           {},
        };
        BenchSize sizes[MAX_SIZES] = {
                {16, 300}, {32, 1000}, {64, 2000}, {128, 5000}, {256, 10000},
        };
        size_t n_sizes = 5;
        bool custom = false, large = false, cases = true;
        unsigned seeds = 5, budget = 50, effort = 0;
        double min_gain = -1; /* < 0: the policy default */
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        large = true;
                        break;
                case 's':
                        seeds = (unsigned) strtoul(optarg, NULL, 10);
                        if (seeds < 1 || seeds > MAX_SEEDS) {
                                fprintf(stderr, "--seeds: 1..%d\n", MAX_SEEDS);
                                return 2;
                        }
                        break;
                case 'b':
                        budget = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'e':
                        effort = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'n':
                        cases = false;
                        break;
                case 'g':
                        min_gain = strtod(optarg, NULL);
                        break;
                case 'w':
                        bench_memory_weight = strtod(optarg, NULL);
                        break;
                case 'f':
                        bench_mem_fill = strtod(optarg, NULL);
                        break;
                case 'd':
                        bench_dump_dir = optarg;
                        break;
                case 'z': {
                        unsigned h, v;
                        if (sscanf(optarg, "%ux%u", &h, &v) != 2 || h == 0) {
                                fprintf(stderr, "--size: HOSTSxVMS, e.g. 64x2000\n");
                                return 2;
                        }
                        if (!custom)
                                n_sizes = 0;
                        custom = true;
                        if (n_sizes < MAX_SIZES)
                                sizes[n_sizes++] = (BenchSize){h, v};
                        break;
                }
                case 'h':
                        printf("%s [--large] [--seeds N] [--budget N] [--effort N] [--size HOSTSxVMS]... "
                               "[--no-cases] [--min-gain X] [--memory-weight X] [--mem-fill X] [--dump DIR]\n",
                               argv[0]);
                        return 0;
                default:
                        return 2;
                }
        if (large && !custom)
                sizes[n_sizes++] = (BenchSize){1000, 30000};

        bench_min_gain = min_gain;
        printf("drs-bench: %u seeds, move budget %u, effort %u (0 = default), min_gain %s, memory weight %s\n\n",
               seeds, budget, effort, min_gain >= 0 ? optarg_or(min_gain) : "policy default",
               bench_memory_weight >= 0 ? "set" : "policy default");
        int r = bench_balance(sizes, n_sizes, seeds, budget, effort);
        if (r >= 0 && cases && !custom && bench_memory_weight < 0 && bench_mem_fill <= 0) {
                /* The acceptance targets speak of CPU imbalance: the same sizes with a CPU-only
                 * objective; then memory-tight clusters (more VMs, 97 % of the memory limit), where
                 * cold hosts are memory-full and single moves stall. */
                printf("\nCPU-only objective (weights: cpu 1, memory 0):\n\n");
                bench_memory_weight = 0;
                r = bench_balance(sizes, n_sizes < 3 ? n_sizes : 3, seeds, budget, effort);
                bench_memory_weight = -1;
                if (r >= 0) {
                        static const BenchSize tight[] = {{16, 400}, {32, 1250}, {64, 2500}};
                        printf("\nMemory-tight (--mem-fill 0.97, 25 %% more VMs):\n\n");
                        bench_mem_fill = 0.97;
                        r = bench_balance(tight, 3, seeds, budget, effort);
                        bench_mem_fill = 0;
                }
        }
        if (r >= 0 && cases)
                r = bench_evacuation(seeds, effort);
        if (r >= 0 && cases)
                r = bench_dpm(seeds, effort);
        if (r < 0) {
                fprintf(stderr, "drs-bench: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
