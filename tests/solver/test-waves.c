/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rolling maintenance waves (solver/waves.c): --parallel auto on snapshots picks waves that keep
 * every VM placeable and the hard rules intact (checked here independently on the evacuation
 * plan of each wave: capacity, keep-apart, must-run-on), and is the largest such size; the
 * headroom; group selection; the example snapshot's answer (golden). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "solver-test.h"
#include "waves.h"

/* 5 hosts of 16 GiB (15 GiB usable: 1 GiB reserve), 40 GiB of VMs; 3 web VMs kept apart (hard);
 * db must run on rack1 (h1, h2); 6 GiB of filler per host. Any one host can be emptied; h1 and
 * h2 together cannot (db would have nowhere to go). */
static const char *yaml = "hosts:\n"
                          "  - {name: h1, cpus: 8, memory_mib: 16GiB, groups: [rack1]}\n"
                          "  - {name: h2, cpus: 8, memory_mib: 16GiB, groups: [rack1]}\n"
                          "  - {name: h3, cpus: 8, memory_mib: 16GiB}\n"
                          "  - {name: h4, cpus: 8, memory_mib: 16GiB}\n"
                          "  - {name: h5, cpus: 8, memory_mib: 16GiB}\n"
                          "vms:\n"
                          "  - {name: web1, host: h1, vcpus: 1, memory_mib: 2GiB, groups: [web]}\n"
                          "  - {name: web2, host: h2, vcpus: 1, memory_mib: 2GiB, groups: [web]}\n"
                          "  - {name: web3, host: h3, vcpus: 1, memory_mib: 2GiB, groups: [web]}\n"
                          "  - {name: db, host: h1, vcpus: 2, memory_mib: 4GiB, groups: [db]}\n"
                          "  - {name: f1, host: h1, vcpus: 1, memory_mib: 6GiB}\n"
                          "  - {name: f2, host: h2, vcpus: 1, memory_mib: 6GiB}\n"
                          "  - {name: f3, host: h3, vcpus: 1, memory_mib: 6GiB}\n"
                          "  - {name: f4, host: h4, vcpus: 1, memory_mib: 6GiB}\n"
                          "  - {name: f5, host: h5, vcpus: 1, memory_mib: 6GiB}\n"
                          "policy:\n"
                          "  groups: {hosts: {rack1: []}, vms: {web: [], db: []}}\n"
                          "  rules:\n"
                          "    - {name: web-apart, type: keep-apart, vms: web}\n"
                          "    - {name: db-rack1, type: must-run-on, vms: db, hosts: rack1}\n";

static bool in(const char *const *labels, const char *l) {
        return strv_contains((char **) labels, l);
}

/* The evacuation plan of hosts[0..n) applied: no VM left on them, capacity and hard rules hold. */
static void check_wave(const Problem *p, const size_t *hosts, size_t n) {
        _cleanup_(tp_problem_freep) Problem *q = NULL;
        Plan *plan = NULL;
        int where[32];
        double mem[8] = {};

        assert_true(p->n_vms <= 32 && p->n_hosts <= 8);
        /* The same problem, the wave's hosts in maintenance. */
        q = tp_parse(yaml);
        q->policy->balance.enabled = false;
        for (size_t i = 0; i < n; i++)
                q->hosts[hosts[i]].state = HOST_MAINTENANCE;
        SolverOptions o = {.greedy_only = true};
        assert_int_equal(solver_plan(q, &o, &plan), 0);
        assert_int_equal(plan->n_unplaceable, 0);
        for (size_t v = 0; v < q->n_vms; v++)
                where[v] = q->vms[v].host;
        for (size_t i = 0; i < plan->n_moves; i++)
                where[plan->moves[i].vm] = (int) plan->moves[i].to;
        for (size_t v = 0; v < q->n_vms; v++) {
                mem[where[v]] += (double) q->vms[v].memory_mib;
                assert_int_equal(q->hosts[where[v]].state, HOST_UP);
                if (in((const char *const *) q->vms[v].groups, "db"))
                        assert_true(
                                streq(q->hosts[where[v]].name, "h1") ||
                                streq(q->hosts[where[v]].name, "h2"));
                for (size_t u = v + 1; u < q->n_vms; u++)
                        if (in((const char *const *) q->vms[v].groups, "web") &&
                            in((const char *const *) q->vms[u].groups, "web"))
                                assert_int_not_equal(where[u], where[v]);
        }
        for (size_t h = 0; h < q->n_hosts; h++)
                assert_true(mem[h] <= 15.0 * 1024 + 1e-6);
        plan_free(plan);
}

static void test_auto_keeps_vms_placeable(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        size_t order[] = {0, 1, 2, 3, 4};
        unsigned k = 99;
        _cleanup_free_ char *why = NULL;

        assert_int_equal(rollout_auto_parallel(p, order, 5, 0, 0, NULL, &k, &why), 0);
        assert_int_equal(k, 1);
        for (size_t i = 0; i < 5; i++)
                check_wave(p, order + i, 1);
        /* Two at once fails, and says why. */
        char *w = NULL;
        assert_int_equal(rollout_wave_check(p, order, 2, 0, NULL, &w), 0);
        assert_non_null(w);
        assert_non_null(strstr(w, "fits nowhere"));
        free(w);
}

static void test_auto_larger_cluster(void **state) {
        /* Twice the hosts' memory: two at a time fit, three do not (web-apart needs 3 hosts,
         * db needs rack1: h1 and h2 together cannot both go). */
        _cleanup_(tp_problem_freep) Problem *p = NULL;
        _cleanup_free_ char *y = strdup(yaml);
        for (char *s = y; (s = strstr(s, "16GiB")); s++)
                memcpy(s, "40GiB", 5);
        p = tp_parse(y);
        size_t order[] = {0, 2, 1, 3, 4};
        unsigned k = 0;
        assert_int_equal(rollout_auto_parallel(p, order, 5, 0, 0, NULL, &k, NULL), 0);
        assert_int_equal(k, 2);
        /* The waves {h1,h3}, {h2,h4}, {h5}, each checked on its own evacuation plan. */
        char *w = NULL;
        for (size_t i = 0; i < 5; i += 2)
                assert_int_equal(rollout_wave_check(p, order + i, i + 2 <= 5 ? 2 : 1, 0, NULL, &w), 1);
        /* Three at once (h1, h3, h2 out): db has nowhere to go. */
        assert_int_equal(rollout_wave_check(p, order, 3, 0, NULL, &w), 0);
        assert_non_null(strstr(w, "db"));
        free(w);
        /* A bound on the size. */
        assert_int_equal(rollout_auto_parallel(p, order, 5, 0, 1, NULL, &k, NULL), 0);
        assert_int_equal(k, 1);
}

static void test_headroom(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        size_t order[] = {0, 1, 2, 3, 4};
        unsigned k = 99;
        _cleanup_free_ char *why = NULL;

        /* One host out leaves 4 × 15 = 60 GiB for 40: one host kept spare leaves 45 (fine), two
         * leave 30: refused. */
        assert_int_equal(rollout_auto_parallel(p, order, 5, 1, 0, NULL, &k, NULL), 0);
        assert_int_equal(k, 1);
        assert_int_equal(rollout_auto_parallel(p, order, 5, 2, 0, NULL, &k, &why), 0);
        assert_int_equal(k, 0);
        assert_non_null(strstr(why, "headroom"));
}

static void test_group(void **state) {
        _cleanup_(tp_problem_freep) Problem *p = tp_parse(yaml);
        _cleanup_free_ size_t *l = NULL;
        size_t n = 0;

        assert_int_equal(rollout_group_hosts(p, "rack1", &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(p->hosts[l[0]].name, "h1");
        assert_string_equal(p->hosts[l[1]].name, "h2");
        size_t *x = NULL;
        assert_int_equal(rollout_group_hosts(p, "web", &x, &n), -ENOENT); /* a VM group */
        assert_int_equal(rollout_group_hosts(p, "nope", &x, &n), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_auto_keeps_vms_placeable),
                cmocka_unit_test(test_auto_larger_cluster),
                cmocka_unit_test(test_headroom),
                cmocka_unit_test(test_group),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
