/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Random scenarios for the randomized test: small clusters (so that 200 of them run in seconds),
 * random loads, policy knobs, hard rules and faults. The same seed, the same scenario. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "sim.h"

static uint64_t next(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static unsigned pick(uint64_t *x, unsigned lo, unsigned hi) {
        return lo + (unsigned) (next(x) % (hi - lo + 1));
}

static double unit(uint64_t *x) {
        return (double) (next(x) >> 11) / 9007199254740992.0;
}

static int policy_text(uint64_t *x, unsigned n_hosts, char **ret) {
        _cleanup_free_ char *dpm = NULL;
        if (pick(x, 0, 1)) {
                /* Hysteresis from none (act in the first pass) to the defaults. */
                unsigned on_delay = pick(x, 0, 2) * 150, standby_delay = pick(x, 0, 2) * 900;
                if (asprintf(
                            &dpm,
                            "dpm: {enabled: true, min_hosts_on: 2, power_on_delay: %us, standby_delay: %us, "
                            "power_on: 'on {host}', power_off: 'off {host}'}\n",
                            on_delay, standby_delay) < 0)
                        return -ENOMEM;
        }
        unsigned apart = pick(x, 0, 1), must = pick(x, 0, 1) && n_hosts >= 4;
        char *s = NULL;
        int n = asprintf(
                &s,
                "balance: {aggressiveness: %u, cooldown: %um, interval: %us, max_moves_per_pass: %u}\n"
                "limits: {migrations_per_host: %u, migrations_per_cluster: %u}\n"
                "migration: {max_downtime: [300ms, 1s, 3s], auto_converge: %s, timeout_per_gib: %us}\n"
                "%s"
                "groups:\n"
                "  vms: {db: [db*], pinned: [pin*]}\n"
                "  hosts: {rack1: [h01, h02]}\n"
                "rules:\n"
                "%s%s%s",
                pick(x, 2, 5), pick(x, 5, 60), pick(x, 60, 300), pick(x, 5, 30), pick(x, 1, 2),
                pick(x, 1, 8), pick(x, 0, 1) ? "true" : "false", pick(x, 30, 180), dpm ?: "",
                apart ? "  - {name: db-apart, type: keep-apart, vms: db}\n" : "",
                must ? "  - {name: pin-rack1, type: must-run-on, vms: pinned, hosts: rack1}\n" : "",
                !apart && !must ? "  []\n" : "");
        if (n < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int scenario_random(uint64_t seed, Scenario **ret) {
        _cleanup_(scenario_freep) Scenario *s = NULL;
        _cleanup_free_ char *yaml = NULL, *pol = NULL, *events = NULL;
        uint64_t x = seed * 2 + 1;
        unsigned n_hosts = pick(&x, 3, 6), n_vms = n_hosts * pick(&x, 4, 8), hours = pick(&x, 2, 5);
        int r;

        r = policy_text(&x, n_hosts, &pol);
        if (r < 0)
                return r;
        /* Indent the policy under "policy:". */
        size_t n_lines = 1;
        for (const char *c = pol; *c; c++)
                n_lines += *c == '\n';
        _cleanup_free_ char *ind = malloc(strlen(pol) + 2 * n_lines + 1);
        if (!ind)
                return -ENOMEM;
        char *o = ind;
        for (const char *c = pol, *line = pol; *c; c++)
                if (*c == '\n') {
                        o += sprintf(o, "  %.*s\n", (int) (c - line), line);
                        line = c + 1;
                }
        *o = '\0';

        /* Events: 2–7 random ones, hosts named h01…. */
        size_t len = 0;
        FILE *f = open_memstream(&events, &len);
        if (!f)
                return -ENOMEM;
        unsigned n_events = pick(&x, 2, 7);
        for (unsigned i = 0; i < n_events; i++) {
                unsigned h = pick(&x, 1, n_hosts), t = pick(&x, 10, hours * 60 - 20), w = pick(&x, 5, 60);
                unsigned t2 = t + w < hours * 60 ? t + w : hours * 60 - 1;
#define T(m) (m) / 60, (m) % 60
                switch (pick(&x, 0, 7)) {
                case 0:
                        fprintf(f, "  - evacuate h%02u at %02u:%02u\n", h, T(t));
                        fprintf(f, "  - exit-maintenance h%02u at %02u:%02u\n", h, T(t2));
                        break;
                case 1:
                        fprintf(f, "  - kill host h%02u at %02u:%02u\n", h, T(t));
                        if (pick(&x, 0, 1))
                                fprintf(f, "  - revive host h%02u at %02u:%02u\n", h, T(t2));
                        break;
                case 2:
                        fprintf(f, "  - fail migrations to h%02u from %02u:%02u to %02u:%02u\n", h, T(t),
                                T(t2));
                        break;
                case 3:
                        fprintf(f, "  - fail migrations from %02u:%02u to %02u:%02u\n", T(t), T(t2));
                        break;
                case 4:
                        fprintf(f, "  - stall migrations from %02u:%02u to %02u:%02u\n", T(t), T(t2));
                        break;
                case 5:
                        fprintf(f, "  - fail power from %02u:%02u to %02u:%02u\n", T(t), T(t2));
                        break;
                default:
                        fprintf(f, "  - leader change at %02u:%02u\n", T(t));
                        break;
                }
#undef T
        }
        if (fclose(f) != 0)
                return -ENOMEM;

        static const char *const patterns[] = {"steady", "diurnal", "bursty", "growing"};
        r = asprintf(
                &yaml,
                "name: random-%" PRIu64 "\n"
                "duration: %uh\n"
                "interval: 30s\n"
                "solver: {effort: 1}\n"
                "migration: {bandwidth: %uMiB, failure_rate: %.2f}\n"
                "power: {boot: %us, failure_rate: %.2f}\n"
                "hosts:\n"
                "  - {name: h, count: %u, cpus: %u, memory_mib: %uGiB}\n"
                "vms:\n"
                "  - {name: db, count: 3, vcpus: 4, memory_mib: 8GiB, cpu: {pattern: %s, base: 0.2, peak: 0.9}, "
                "dirty_mib_s: %u}\n"
                "  - {name: pin, count: 2, vcpus: 2, memory_mib: 4GiB, cpu: 0.3}\n"
                "  - {name: vm, count: %u, vcpus: %u, memory_mib: %uGiB, cpu: {pattern: %s, base: %.2f, peak: %.2f}, "
                "memory: {pattern: %s, base: 0.3, peak: 0.8}, dirty_mib_s: %u}\n"
                "policy:\n%s"
                "events:\n%s",
                seed, hours, pick(&x, 200, 2000), unit(&x) * 0.15, pick(&x, 30, 200), unit(&x) * 0.3,
                n_hosts, pick(&x, 8, 32), pick(&x, 32, 128), patterns[pick(&x, 0, 3)], pick(&x, 10, 400),
                n_vms, pick(&x, 1, 8), pick(&x, 1, 8), patterns[pick(&x, 0, 3)], unit(&x) * 0.3,
                0.3 + unit(&x) * 0.7, patterns[pick(&x, 0, 3)], pick(&x, 5, 400), ind,
                events && *events ? events : "  []\n");
        if (r < 0)
                return -ENOMEM;
        PolicyError err = {};
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "random-%" PRIu64 ".yaml", seed) < 0)
                return -ENOMEM;
        r = scenario_parse(name, yaml, strlen(yaml), &s, &err);
        if (r < 0) {
                _cleanup_free_ char *m = NULL;
                if (policy_error_to_string(&err, &m) >= 0)
                        fprintf(stderr, "%s\n--- generated scenario:\n%s", m, yaml);
                policy_error_clear(&err);
                return r;
        }
        s->seed = seed;
        /* Cluster mode's quorum in a third of the scenarios (a draw of its own, so that the
         * scenario above is the same as without it): kills can leave a minority that must not
         * act, and DPM must keep quorum (tolerate_failures 0 or 1). */
        uint64_t q = seed ^ UINT64_C(0x51ed2701a3c4e95b);
        s->quorum = next(&q) % 3 == 0;
        if (s->quorum)
                s->policy->dpm.tolerate_failures = (unsigned) (next(&q) % 2);
        *ret = TAKE_PTR(s);
        return 0;
}

/* The generated document, for replaying a failing seed by hand (drs-sim --seed N --print). */
