/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Seeded synthetic clusters for the benchmark and the solver tests.
 *
 * Hosts of mixed sizes (32/48/64 cores with 8 GiB per core), VMs of skewed sizes (1–16 vCPUs,
 * 1–64 GiB, log-normal-ish), placed so that configured memory is spread fairly evenly while
 * CPU is not: a quarter of the hosts run hot (their VMs busy), a quarter cold (idle VMs, but
 * memory as full as anywhere else — the case where single moves stall and swaps pay). The
 * same spec and seed always give the same Problem. */

#include <stdint.h>

#include "solver.h"

typedef struct ClusterSpec {
        unsigned n_hosts, n_vms;
        uint64_t seed;
        double cpu_target;   /* mean CPU utilization over hosts; 0 = 0.5 */
        double mem_fill;     /* configured memory / limit the placement aims at; 0 = 0.8 */
        double hot_fraction; /* share of hot hosts (the same share is cold); 0 = 0.25 */
} ClusterSpec;

/* A Problem (problem_new()'s default policy) holding the generated cluster. */
int cluster_generate(const ClusterSpec *spec, Problem **ret);

/* The same splitmix64 generator the cluster generator uses, for callers' own draws. */
uint64_t cluster_rand(uint64_t *state);
double cluster_rand_double(uint64_t *state); /* [0, 1) */
