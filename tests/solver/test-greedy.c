/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of solver/greedy.c: evacuation spread, unplaceable reasons, keep-together units,
 * rule violations, balance budget and cost-benefit. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "greedy.h"
#include "solver-test.h"

typedef struct Fixture {
        Problem *p;
        Model *m;
        Assignment a;
        Greedy *g;
        MoveReason *host_reason;
} Fixture;

static void fixture_init(Fixture *f, const char *yaml) {
        *f = (Fixture){.p = tp_parse(yaml)};
        assert_int_equal(model_build(f->p, &f->m), 0);
        assert_int_equal(assignment_init(f->m, &f->a), 0);
        assert_int_equal(greedy_new(f->m, &f->a, &f->g), 0);
        f->host_reason = calloc(f->p->n_hosts, sizeof(MoveReason));
        assert_non_null(f->host_reason);
        for (size_t h = 0; h < f->p->n_hosts; h++)
                f->host_reason[h] = REASON_MAINTENANCE;
}

static void fixture_done(Fixture *f) {
        greedy_free(f->g);
        assignment_done(&f->a);
        model_free(f->m);
        problem_free(f->p);
        free(f->host_reason);
}

static int host_of(const Fixture *f, const char *vm) {
        return f->a.host[tp_vm(f->p, vm)];
}

static void test_evacuation_spreads(void **state) {
        Fixture f;
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536, state: maintenance}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h3, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 2048}\n"
                "  - {name: b, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 2048}\n"
                "  - {name: c, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 2048}\n"
                "  - {name: d, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 1, memory_demand_mib: 2048}\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(f.g->unplaceable.n, 0);
        assert_int_equal(f.a.count[0], 0);
        assert_int_equal(f.a.count[1], 2);
        assert_int_equal(f.a.count[2], 2);
        for (size_t v = 0; v < 4; v++) {
                assert_true(f.g->tags[v].mandatory);
                assert_int_equal(f.g->tags[v].reason, REASON_MAINTENANCE);
        }
        assert_int_equal(f.g->balance_moved, 0);
        fixture_done(&f);
}

static void test_unplaceable_memory(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536, state: maintenance}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 9216}\n"
                    "  - {name: h3, cpus: 8, memory_mib: 65536, state: standby}\n"
                    "vms:\n"
                    "  - {name: big, host: h1, vcpus: 2, memory_mib: 8192}\n"
                    "  - {name: small, host: h1, vcpus: 2, memory_mib: 2048}\n"
                    "  - {name: resident, host: h2, vcpus: 2, memory_mib: 4096}\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        /* big is placed first but cannot go anywhere; small still moves. */
        assert_int_equal(host_of(&f, "small"), (int) tp_host(f.p, "h2"));
        assert_int_equal(host_of(&f, "big"), (int) tp_host(f.p, "h1"));
        assert_int_equal(f.g->unplaceable.n, 1);
        assert_int_equal(f.g->unplaceable.items[0].vm, tp_vm(f.p, "big"));
        assert_string_equal(
                f.g->unplaceable.items[0].why,
                "memory: needs 8192 MiB, largest free on an eligible host is 4096 MiB on 'h2'");
        fixture_done(&f);
}

static void test_unplaceable_disabled(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536, state: maintenance}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: pinned, host: h1, vcpus: 2, memory_mib: 2048}\n"
                    "policy:\n"
                    "  automation: {overrides: [{vm: pinned, level: disabled}]}\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(f.g->unplaceable.n, 1);
        assert_string_equal(
                f.g->unplaceable.items[0].why,
                "cannot leave 'h1': automation is disabled for it: drs never moves it");
        fixture_done(&f);
}

static void test_keep_apart_explained(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: db1, host: h1, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "  - {name: db2, host: h1, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "  - {name: db3, host: h2, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "policy:\n"
                    "  groups: {vms: {db: }}\n"
                    "  rules: [{name: db-apart, type: keep-apart, vms: db}]\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        /* db2 must leave h1, but h2 has db3. */
        assert_int_equal(f.g->unplaceable.n, 1);
        assert_int_equal(f.g->unplaceable.items[0].vm, tp_vm(f.p, "db2"));
        assert_string_equal(
                f.g->unplaceable.items[0].why,
                "rule 'db-apart': every allowed host already runs a member of its keep-apart group");
        fixture_done(&f);
}

static void test_keep_apart_moves_one(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h3, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: db1, host: h1, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "  - {name: db2, host: h1, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "  - {name: db3, host: h2, vcpus: 2, memory_mib: 2048, groups: [db]}\n"
                    "policy:\n"
                    "  groups: {vms: {db: }}\n"
                    "  rules: [{name: db-apart, type: keep-apart, vms: db}]\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(f.g->unplaceable.n, 0);
        assert_int_equal(host_of(&f, "db1"), 0);
        assert_int_equal(host_of(&f, "db2"), 2);
        assert_int_equal(f.g->tags[1].reason, REASON_RULE);
        assert_int_equal(f.g->tags[1].rule, 0);
        fixture_done(&f);
}

static void test_keep_together_unit(void **state) {
        Fixture f;
        /* h2 could take one of them (4 GiB free), h3 both: they go to h3 together. */
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536, state: maintenance}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 9216}\n"
                    "  - {name: h3, cpus: 8, memory_mib: 17408}\n"
                    "vms:\n"
                    "  - {name: t1, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 2, groups: [t]}\n"
                    "  - {name: t2, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand: 2, groups: [t]}\n"
                    "  - {name: r, host: h2, vcpus: 2, memory_mib: 4096, cpu_demand: 0.1}\n"
                    "  - {name: s, host: h3, vcpus: 2, memory_mib: 4096, cpu_demand: 4}\n"
                    "policy:\n"
                    "  groups: {vms: {t: }}\n"
                    "  rules: [{name: t-together, type: keep-together, vms: t}]\n");
        assert_true(greedy_in_unit(f.g, 0));
        assert_true(greedy_in_unit(f.g, 1));
        assert_false(greedy_in_unit(f.g, 2));
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(f.g->unplaceable.n, 0);
        assert_int_equal(host_of(&f, "t1"), (int) tp_host(f.p, "h3"));
        assert_int_equal(host_of(&f, "t2"), (int) tp_host(f.p, "h3"));
        fixture_done(&f);
}

static void test_keep_together_split_joins(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: t1, host: h1, vcpus: 2, memory_mib: 4096, groups: [t]}\n"
                    "  - {name: t2, host: h2, vcpus: 2, memory_mib: 4096, groups: [t]}\n"
                    "  - {name: t3, host: h2, vcpus: 2, memory_mib: 4096, groups: [t]}\n"
                    "policy:\n"
                    "  groups: {vms: {t: }}\n"
                    "  rules: [{name: t-together, type: keep-together, vms: t}]\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(f.g->unplaceable.n, 0);
        /* The cheapest way: t1 joins t2 and t3. */
        assert_int_equal(host_of(&f, "t1"), 1);
        assert_int_equal(host_of(&f, "t2"), 1);
        assert_int_equal(host_of(&f, "t3"), 1);
        assert_int_equal(f.g->tags[0].reason, REASON_RULE);
        fixture_done(&f);
}

static void test_must_run_on(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536, groups: [licensed]}\n"
                    "vms:\n"
                    "  - {name: ora, host: h1, vcpus: 2, memory_mib: 4096, groups: [oracle]}\n"
                    "policy:\n"
                    "  groups: {hosts: {licensed: }, vms: {oracle: }}\n"
                    "  rules: [{name: ora-licensed, type: must-run-on, vms: oracle, hosts: licensed}]\n");
        assert_int_equal(greedy_mandatory(f.g, f.host_reason), 0);
        assert_int_equal(host_of(&f, "ora"), 1);
        assert_int_equal(f.g->tags[0].reason, REASON_RULE);
        assert_int_equal(f.g->tags[0].rule, 0);
        fixture_done(&f);
}

static void test_balance_budget(void **state) {
        Fixture f;
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: b, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: c, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: d, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: e, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: f, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n");
        assert_int_equal(greedy_balance(f.g, 2, 0.005, NULL, false), 2);
        assert_int_equal(f.g->balance_moved, 2);
        assert_int_equal(f.a.count[1], 2);
        fixture_done(&f);

        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: b, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: c, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n"
                "  - {name: d, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 1, memory_demand_mib: 1024}\n");
        /* Plenty of budget: stops when balanced (2 and 2). */
        assert_int_equal(greedy_balance(f.g, 50, 0.005, NULL, false), 2);
        assert_int_equal(f.a.count[0], 2);
        assert_int_equal(f.a.count[1], 2);
        assert_true(assignment_imbalance(f.m, &f.a) < 1e-9);
        fixture_done(&f);
}

static void test_balance_prefers_small(void **state) {
        Fixture f;
        /* Same demand, different configured memory: the smaller VM is the cheaper move. */
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: big, host: h1, vcpus: 2, memory_mib: 16384, cpu_demand: 4, memory_demand_mib: 2048}\n"
                "  - {name: small, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 4, memory_demand_mib: 2048}\n");
        assert_int_equal(greedy_balance(f.g, 5, 0.005, NULL, false), 1);
        assert_int_equal(host_of(&f, "small"), 1);
        assert_int_equal(host_of(&f, "big"), 0);
        fixture_done(&f);
}

static void test_balance_min_gain(void **state) {
        Fixture f;
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 64, memory_mib: 655360}\n"
                "  - {name: h2, cpus: 64, memory_mib: 655360}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 0.2, memory_demand_mib: 100}\n");
        /* Moving a would gain well under 0.005. */
        assert_int_equal(greedy_balance(f.g, 5, 0.005, NULL, false), 0);
        fixture_done(&f);
}

static void test_cooldown_and_disabled(void **state) {
        Fixture f;
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: hot, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 4, last_moved_s: 60}\n"
                "  - {name: off, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 4}\n"
                "policy:\n"
                "  automation: {overrides: [{vm: off, level: disabled}]}\n");
        assert_int_equal(greedy_balance(f.g, 5, 0.005, NULL, false), 0);
        fixture_done(&f);
}

static void test_rebase(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h3, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: a, host: h1, vcpus: 2, memory_mib: 2048, cpu_demand: 3}\n"
                    "  - {name: b, host: h2, vcpus: 2, memory_mib: 2048, cpu_demand: 1}\n");
        assignment_move(f.m, &f.a, 0, 2);
        f.m->counted[0] = false;
        assert_int_equal(assignment_rebase(f.m, &f.a), 0);
        assert_int_equal(f.a.n_counted, 2);
        assert_int_equal(f.a.host[0], 2);
        /* h2: 1/8, h3: 3/8 → sd 1/8; memory demand equal. */
        assert_true(fabs(assignment_imbalance(f.m, &f.a) - 0.5 * 0.125) < 1e-9);
        fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_evacuation_spreads),
                cmocka_unit_test(test_unplaceable_memory),
                cmocka_unit_test(test_unplaceable_disabled),
                cmocka_unit_test(test_keep_apart_explained),
                cmocka_unit_test(test_keep_apart_moves_one),
                cmocka_unit_test(test_keep_together_unit),
                cmocka_unit_test(test_keep_together_split_joins),
                cmocka_unit_test(test_must_run_on),
                cmocka_unit_test(test_balance_budget),
                cmocka_unit_test(test_balance_prefers_small),
                cmocka_unit_test(test_balance_min_gain),
                cmocka_unit_test(test_cooldown_and_disabled),
                cmocka_unit_test(test_rebase),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
