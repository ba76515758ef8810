/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drs-sim: runs a scenario (or a seeded random one) through the simulator and reports. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planetlab.h"
#include "policy-load.h"
#include "sim.h"

static void usage(FILE *f) {
        fputs("Usage: drs-sim [OPTIONS…] SCENARIO.yaml\n"
              "       drs-sim [OPTIONS…] --seed N [--count K]\n"
              "\n"
              "Runs drs's leader, solver and stall handling against a simulated cluster on a virtual\n"
              "clock and reports imbalance, migrations, maintenance, DPM savings, faults and invariant\n"
              "violations. --seed runs the randomized test's scenario N (K of them from N with --count).\n"
              "\n"
              "  --json         the report as JSON\n"
              "  --svg FILE     plot host utilization and migrations over time\n"
              "  --seed N       a random scenario (as the randomized test) instead of a file\n"
              "  --count K      with --seed: K scenarios N, N+1, …; prints failing seeds\n"
              "  --quiet        with --count: only the summary and failing seeds\n"
              "  --time         print the wall time to stderr\n"
              "  --series FILE  a CSV row per host and sample: time_s, host, powered, cpu_demand,\n"
              "                 cpu_capacity, watts\n"
              "  --moves FILE   a CSV row per balance or DPM move measured to 15 minutes: planned_s, vm,\n"
              "                 from, to, reason, solver, plan_moves, swap, predicted, min_gain,\n"
              "                 realized_60s, realized_300s, realized_900s, vm_cpu and vm_cpu_stable\n"
              "                 (what the plan used, cores: measured and held), vm_cpu_now (the\n"
              "                 simulated demand then), from_cpu_util, to_cpu_util (measured), plan_cpu_imbalance\n"
              "\n"
              "       drs-sim --import-planetlab DIR [--order CSV] [--placement CSV] [--policy FILE]\n"
              "               [--hosts N] [--host-memory MIB] --output FILE.yaml\n"
              "writes a scenario (and FILE-trace.csv) from a day of PlanetLab/CoMon VM traces as CloudSim\n"
              "ships them, with CloudSim's data centre (800 hosts, alternating HP G4/G5 with SPECpower\n"
              "curves; --hosts, --host-memory change it) and the policy in FILE\n"
              "\n"
              "Exit status: 0 clean, 1 an invariant was violated or an expectation not met, 2 bad input,\n"
              "3 internal error.\n",
              f);
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* --import-planetlab: writes OUTPUT (the scenario) and OUTPUT-trace.csv beside it. */
static int import_planetlab(PlanetlabOptions *pl, const char *policy_file, const char *output) {
        _cleanup_free_ char *trace_path = NULL, *policy = NULL, *text = NULL, *e = NULL, *name = NULL;
        PolicyError perr = {};
        size_t len;

        if (!output) {
                fprintf(stderr, "drs-sim: --import-planetlab needs --output FILE.yaml\n");
                return 2;
        }
        const char *base = strrchr(output, '/') ? strrchr(output, '/') + 1 : output;
        size_t stem = strlen(base) > 5 && streq(base + strlen(base) - 5, ".yaml") ? strlen(base) - 5
                                                                                  : strlen(base);
        if (asprintf(&name, "%.*s", (int) stem, base) < 0 ||
            asprintf(&trace_path, "%.*s-trace.csv", (int) (base - output + stem), output) < 0)
                return 3;
        if (policy_file) {
                if (policy_read_file(policy_file, &text, &len, &perr) < 0) {
                        fprintf(stderr, "drs-sim: cannot read '%s'\n", policy_file);
                        policy_error_clear(&perr);
                        return 2;
                }
                /* Indented under 'policy:'. */
                size_t cap = 2 * len + 4, o = 0;
                if (!(policy = malloc(cap)))
                        return 3;
                for (const char *p = text; *p; p++) {
                        if (p == text || p[-1] == '\n')
                                policy[o++] = ' ', policy[o++] = ' ';
                        policy[o++] = *p;
                }
                if (o == 0 || policy[o - 1] != '\n')
                        policy[o++] = '\n';
                policy[o] = '\0';
        }
        pl->name = name;
        pl->trace_name = strrchr(trace_path, '/') ? strrchr(trace_path, '/') + 1 : trace_path;
        pl->policy = policy;
        FILE *sf = fopen(output, "we"), *tf = fopen(trace_path, "we");
        if (!sf || !tf) {
                fprintf(stderr, "drs-sim: cannot write '%s': %m\n", !sf ? output : trace_path);
                if (sf)
                        fclose(sf);
                if (tf)
                        fclose(tf);
                return 3;
        }
        int k = planetlab_import(pl, sf, tf, &e);
        if (fclose(sf) != 0 || fclose(tf) != 0)
                k = k < 0 ? k : -EIO;
        if (k < 0) {
                fprintf(stderr, "drs-sim: %s\n", e ?: strerror(-k));
                return k == -EINVAL ? 2 : 3;
        }
        fprintf(stderr, "drs-sim: wrote '%s' and '%s'\n", output, trace_path);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"svg", required_argument, NULL, 's'},
                {"seed", required_argument, NULL, 'S'},
                {"count", required_argument, NULL, 'c'},
                {"quiet", no_argument, NULL, 'q'},
                {"time", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {"import-planetlab", required_argument, NULL, 'P'},
                {"order", required_argument, NULL, 'O'},
                {"placement", required_argument, NULL, 'L'},
                {"policy", required_argument, NULL, 'Y'},
                {"hosts", required_argument, NULL, 'H'},
                {"host-memory", required_argument, NULL, 'M'},
                {"output", required_argument, NULL, 'o'},
                {"series", required_argument, NULL, 'R'},
                {"moves", required_argument, NULL, 'W'},
                {},
        };
        PlanetlabOptions pl = {.n_hosts = 800, .host_memory_mib = 4096, .interval_s = 60};
        const char *pl_policy = NULL, *output = NULL, *series = NULL, *moves = NULL;
        const char *svg = NULL;
        bool json = false, quiet = false, timing = false, have_seed = false;
        uint64_t seed = 0, count = 1;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        svg = optarg;
                        break;
                case 'S':
                case 'c': {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(optarg, &end, 10);
                        if (errno || *end || end == optarg || (c == 'c' && v == 0)) {
                                fprintf(stderr, "drs-sim: bad number '%s'\n", optarg);
                                return 2;
                        }
                        if (c == 'S') {
                                seed = v;
                                have_seed = true;
                        } else
                                count = v;
                        break;
                }
                case 'q':
                        quiet = true;
                        break;
                case 't':
                        timing = true;
                        break;
                case 'P':
                        pl.dir = optarg;
                        break;
                case 'O':
                        pl.order = optarg;
                        break;
                case 'L':
                        pl.placement = optarg;
                        break;
                case 'Y':
                        pl_policy = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case 'R':
                        series = optarg;
                        break;
                case 'W':
                        moves = optarg;
                        break;
                case 'H':
                case 'M': {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(optarg, &end, 10);
                        if (errno || *end || end == optarg || v == 0 || v > 1000000) {
                                fprintf(stderr, "drs-sim: bad number '%s'\n", optarg);
                                return 2;
                        }
                        if (c == 'H')
                                pl.n_hosts = (unsigned) v;
                        else
                                pl.host_memory_mib = v;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (pl.dir)
                return import_planetlab(&pl, pl_policy, output);
        if (have_seed == (optind < argc) || optind + 1 < argc) {
                usage(stderr);
                return 2;
        }

        uint64_t failed = 0, steps = 0, faults = 0, violations = 0, migrations = 0;
        uint64_t t0 = mono_ms();
        for (uint64_t i = 0; i < count; i++) {
                _cleanup_(scenario_freep) Scenario *sc = NULL;
                _cleanup_(sim_result_freep) SimResult *r = NULL;
                PolicyError err = {};
                int k;

                if (have_seed)
                        k = scenario_random(seed + i, &sc);
                else
                        k = scenario_load(argv[optind], &sc, &err);
                if (k < 0) {
                        _cleanup_free_ char *m = NULL;
                        if (err.message && policy_error_to_string(&err, &m) >= 0)
                                fprintf(stderr, "drs-sim: %s\n", m);
                        else
                                fprintf(stderr, "drs-sim: cannot load the scenario: %s\n", strerror(-k));
                        policy_error_clear(&err);
                        return 2;
                }
                FILE *sf = NULL;
                if (series && !(sf = fopen(series, i == 0 ? "we" : "ae"))) {
                        fprintf(stderr, "drs-sim: cannot write '%s': %m\n", series);
                        return 3;
                }
                FILE *mf = NULL;
                if (moves && !(mf = fopen(moves, i == 0 ? "we" : "ae"))) {
                        fprintf(stderr, "drs-sim: cannot write '%s': %m\n", moves);
                        if (sf)
                                fclose(sf);
                        return 3;
                }
                if (mf && i == 0)
                        fputs("planned_s,vm,from,to,reason,solver,plan_moves,swap,predicted,min_gain,"
                              "realized_60s,realized_300s,realized_900s,vm_cpu,vm_cpu_stable,vm_cpu_now,from_cpu_util,"
                              "to_cpu_util,plan_cpu_imbalance\n",
                              mf);
                k = sim_run(sc, &(SimOptions){.keep_series = svg != NULL, .series = sf, .moves = mf}, &r);
                if (sf && fclose(sf) != 0) {
                        fprintf(stderr, "drs-sim: cannot write '%s': %m\n", series);
                        if (mf)
                                fclose(mf);
                        return 3;
                }
                if (mf && fclose(mf) != 0) {
                        fprintf(stderr, "drs-sim: cannot write '%s': %m\n", moves);
                        return 3;
                }
                if (k < 0) {
                        fprintf(stderr, "drs-sim: simulation of '%s' failed: %s\n", sc->name, strerror(-k));
                        return 3;
                }
                steps += r->steps;
                migrations += r->migrations_started;
                faults += r->faults_migration_failed + r->faults_stalled + r->faults_host_killed +
                          r->faults_power_failed + r->faults_leader_changes;
                violations += r->n_violations;
                if (!sim_result_ok(r)) {
                        failed++;
                        if (count > 1)
                                fprintf(stderr,
                                        "drs-sim: seed %" PRIu64 " FAILED (replay: drs-sim --seed %" PRIu64
                                        ")\n",
                                        seed + i, seed + i);
                }
                if (count > 1 && quiet && sim_result_ok(r))
                        continue;
                if (json) {
                        _cleanup_free_ char *s = NULL;
                        if (sim_result_to_json(r, &s) < 0)
                                return 3;
                        puts(s);
                } else
                        (void) sim_result_to_text(r, stdout);
                if (svg) {
                        FILE *f = fopen(svg, "we");
                        if (!f || sim_result_to_svg(r, f) < 0 || fclose(f) != 0) {
                                fprintf(stderr, "drs-sim: cannot write '%s': %m\n", svg);
                                return 3;
                        }
                }
        }
        if (count > 1)
                printf("%" PRIu64 " scenarios (seeds %" PRIu64 "-%" PRIu64 "): %" PRIu64 " steps, %" PRIu64
                       " migrations, %" PRIu64 " faults injected, %" PRIu64 " invariant violations, %" PRIu64
                       " failed\n",
                       count, seed, seed + count - 1, steps, migrations, faults, violations, failed);
        if (timing)
                fprintf(stderr, "drs-sim: %.2f s wall\n", (double) (mono_ms() - t0) / 1000.0);
        return failed > 0 ? 1 : 0;
}
