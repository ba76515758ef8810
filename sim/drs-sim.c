/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drs-sim: runs a scenario (or a seeded random one) through the simulator and reports. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},       {"svg", required_argument, NULL, 's'},
                {"seed", required_argument, NULL, 'S'}, {"count", required_argument, NULL, 'c'},
                {"quiet", no_argument, NULL, 'q'},      {"time", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},       {},
        };
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
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
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
                k = sim_run(sc, &(SimOptions){.keep_series = svg != NULL}, &r);
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
