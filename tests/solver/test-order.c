/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of solver/order.c: waves, capacity in any interleaving, concurrency limits,
 * swaps broken through a host with room, keep-apart mid-plan, power-on hosts. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "order.h"
#include "solver-test.h"

typedef struct Fixture {
        Problem *p;
        Model *m;
        int *final;
        bool *mandatory;
        OrderResult res;
} Fixture;

static void fixture_done(Fixture *f) {
        order_result_done(&f->res);
        free(f->final);
        free(f->mandatory);
        model_free(f->m);
        problem_free(f->p);
}

static void fixture_init(Fixture *f, const char *yaml) {
        *f = (Fixture){.p = tp_parse(yaml)};
        assert_int_equal(model_build(f->p, &f->m), 0);
        f->final = calloc(f->p->n_vms, sizeof(int));
        f->mandatory = calloc(f->p->n_vms, sizeof(bool));
        assert_non_null(f->final);
        assert_non_null(f->mandatory);
        for (size_t v = 0; v < f->p->n_vms; v++)
                f->final[v] = f->m->initial[v];
}

static void set_final(Fixture *f, const char *vm, const char *host) {
        f->final[tp_vm(f->p, vm)] = (int) tp_host(f->p, host);
}

static void run(Fixture *f, const bool *late, unsigned hop_budget) {
        OrderInput in = {
                .initial = f->m->initial,
                .final = f->final,
                .mandatory = f->mandatory,
                .late_host = late,
                .hop_budget = hop_budget,
        };
        assert_int_equal(order_plan(f->m, &in, &f->res), 0);
}

/* Checks every wave: all incoming before any outgoing fits, concurrency limits hold. */
static void check_waves(const Fixture *f) {
        const Model *m = f->m;
        const LimitsPolicy *lim = &f->p->policy->limits;
        double *load = calloc(m->n_hosts, sizeof(double));
        int *cur = calloc(m->n_vms, sizeof(int));
        unsigned *out = calloc(m->n_hosts, sizeof(unsigned)), *inc = calloc(m->n_hosts, sizeof(unsigned));
        assert_true(load && cur && out && inc);

        for (size_t v = 0; v < m->n_vms; v++) {
                cur[v] = m->initial[v];
                if (cur[v] >= 0)
                        load[cur[v]] += m->mem_cfg[v];
        }
        for (size_t i = 0; i < f->res.n_steps;) {
                unsigned wave = f->res.steps[i].wave, n = 0;
                size_t j;
                memset(out, 0, sizeof(unsigned) * m->n_hosts);
                memset(inc, 0, sizeof(unsigned) * m->n_hosts);
                for (j = i; j < f->res.n_steps && f->res.steps[j].wave == wave; j++) {
                        const OrderStep *s = &f->res.steps[j];
                        assert_int_equal(cur[s->vm], (int) s->from);
                        load[s->to] += m->mem_cfg[s->vm]; /* incoming first */
                        out[s->from]++;
                        inc[s->to]++;
                        n++;
                }
                for (size_t h = 0; h < m->n_hosts; h++) {
                        assert_true(load[h] <= m->mem_limit[h] + 1e-6);
                        assert_true(out[h] <= lim->migrations_out_per_host);
                        assert_true(inc[h] <= lim->migrations_in_per_host);
                }
                assert_true(n <= lim->migrations_per_cluster);
                for (j = i; j < f->res.n_steps && f->res.steps[j].wave == wave; j++) {
                        const OrderStep *s = &f->res.steps[j];
                        load[s->from] -= m->mem_cfg[s->vm];
                        cur[s->vm] = (int) s->to;
                }
                i = j;
        }
        for (size_t v = 0; v < m->n_vms; v++)
                assert_int_equal(cur[v], f->res.final[v]);
        free(load);
        free(cur);
        free(out);
        free(inc);
}

#define THREE_HOSTS                                                                                         \
        "hosts:\n"                                                                                          \
        "  - {name: h1, cpus: 8, memory_mib: 9216}\n"                                                       \
        "  - {name: h2, cpus: 8, memory_mib: 9216}\n"                                                       \
        "  - {name: h3, cpus: 8, memory_mib: 9216}\n"

static void test_swap_needs_hop(void **state) {
        Fixture f;
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 8192}\n"
                                "  - {name: b, host: h2, vcpus: 1, memory_mib: 8192}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h1");
        run(&f, NULL, 10);
        check_waves(&f);

        /* a goes through h3 first, b takes its place, a completes. */
        assert_int_equal(f.res.n_steps, 3);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[0].to, tp_host(f.p, "h3"));
        assert_true(f.res.steps[0].hop);
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[1].to, tp_host(f.p, "h1"));
        assert_int_equal(f.res.steps[1].wave, 2);
        assert_int_equal(f.res.steps[2].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[2].from, tp_host(f.p, "h3"));
        assert_int_equal(f.res.steps[2].to, tp_host(f.p, "h2"));
        assert_int_equal(f.res.steps[2].wave, 3);
        assert_false(f.res.steps[2].hop);
        assert_int_equal(f.res.n_dropped, 0);
        assert_int_equal(f.res.hops_used, 1);
        fixture_done(&f);
}

static void test_swap_hop_budget(void **state) {
        Fixture f;
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 8192}\n"
                                "  - {name: b, host: h2, vcpus: 1, memory_mib: 8192}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h1");
        run(&f, NULL, 0); /* voluntary moves, no hop allowed: both dropped */
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 0);
        assert_int_equal(f.res.n_dropped, 2);
        fixture_done(&f);

        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 8192}\n"
                                "  - {name: b, host: h2, vcpus: 1, memory_mib: 8192}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h1");
        f.mandatory[tp_vm(f.p, "b")] = true; /* mandatory moves hop regardless of the budget */
        run(&f, NULL, 0);
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 3);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "b"));
        assert_true(f.res.steps[0].hop);
        assert_int_equal(f.res.n_dropped, 0);
        fixture_done(&f);
}

static void test_swap_impossible(void **state) {
        Fixture f;
        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 9216}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 9216}\n"
                    "vms:\n"
                    "  - {name: a, host: h1, vcpus: 1, memory_mib: 8192}\n"
                    "  - {name: b, host: h2, vcpus: 1, memory_mib: 8192}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h1");
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 0);
        assert_int_equal(f.res.n_dropped, 2);
        assert_int_equal(f.res.final[0], 0);
        assert_int_equal(f.res.final[1], 1);
        fixture_done(&f);
}

static void test_cycle_of_three(void **state) {
        Fixture f;
        fixture_init(
                &f, THREE_HOSTS "  - {name: h4, cpus: 8, memory_mib: 5120}\n"
                                "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: a2, host: h1, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: b, host: h2, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: b2, host: h2, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: c, host: h3, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: c2, host: h3, vcpus: 1, memory_mib: 4096}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h3");
        set_final(&f, "c", "h1");
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_dropped, 0);
        assert_int_equal(f.res.n_steps, 4); /* one hop through h4 (4 GiB free) */
        for (size_t v = 0; v < f.p->n_vms; v++)
                assert_int_equal(f.res.final[v], f.final[v]);
        fixture_done(&f);
}

static void test_concurrency_limits(void **state) {
        Fixture f;
        fixture_init(
                &f,
                "hosts:\n"
                "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                "  - {name: h3, cpus: 8, memory_mib: 65536}\n"
                "vms:\n"
                "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024}\n"
                "  - {name: b, host: h1, vcpus: 1, memory_mib: 1024}\n"
                "  - {name: c, host: h1, vcpus: 1, memory_mib: 1024}\n"
                "  - {name: d, host: h1, vcpus: 1, memory_mib: 1024}\n"
                "policy:\n"
                "  limits: {migrations_per_host: {outgoing: 2, incoming: 1}, migrations_per_cluster: 8}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h2");
        set_final(&f, "c", "h3");
        set_final(&f, "d", "h3");
        run(&f, NULL, 10);
        check_waves(&f);
        /* Two out of h1 per wave, one into each of h2 and h3: a+c, then b+d. */
        assert_int_equal(f.res.n_steps, 4);
        assert_int_equal(f.res.n_waves, 2);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "c"));
        assert_int_equal(f.res.steps[1].wave, 1);
        assert_int_equal(f.res.steps[2].wave, 2);
        fixture_done(&f);

        fixture_init(
                &f, "hosts:\n"
                    "  - {name: h1, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h2, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h3, cpus: 8, memory_mib: 65536}\n"
                    "  - {name: h4, cpus: 8, memory_mib: 65536}\n"
                    "vms:\n"
                    "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024}\n"
                    "  - {name: b, host: h2, vcpus: 1, memory_mib: 1024}\n"
                    "  - {name: c, host: h3, vcpus: 1, memory_mib: 1024}\n"
                    "policy:\n"
                    "  limits: {migrations_per_host: 4, migrations_per_cluster: 2}\n");
        set_final(&f, "a", "h4");
        set_final(&f, "b", "h4");
        set_final(&f, "c", "h4");
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_waves, 2); /* cluster limit 2 */
        fixture_done(&f);
}

static void test_capacity_any_interleaving(void **state) {
        Fixture f;
        /* h2 holds c (4 GiB) of its 8 GiB; c leaves while a and b (4 GiB each) arrive. Only one
         * of them may arrive in the wave c leaves in: c may still be there. */
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: b, host: h1, vcpus: 1, memory_mib: 4096}\n"
                                "  - {name: c, host: h2, vcpus: 1, memory_mib: 4096}\n"
                                "policy:\n"
                                "  limits: {migrations_per_host: 4, migrations_per_cluster: 8}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h2");
        set_final(&f, "c", "h3");
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 3);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "c"));
        assert_int_equal(f.res.steps[1].wave, 1);
        assert_int_equal(f.res.steps[2].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[2].wave, 2);
        fixture_done(&f);
}

static void test_mandatory_first(void **state) {
        Fixture f;
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024}\n"
                                "  - {name: b, host: h1, vcpus: 1, memory_mib: 1024}\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h3");
        f.mandatory[tp_vm(f.p, "b")] = true;
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[1].wave, 2);
        fixture_done(&f);
}

static void test_keep_apart_mid_plan(void **state) {
        Fixture f;
        /* a moves onto h2 which b is leaving: not in the same wave. */
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024, groups: [db]}\n"
                                "  - {name: b, host: h2, vcpus: 1, memory_mib: 1024, groups: [db]}\n"
                                "policy:\n"
                                "  limits: {migrations_per_host: 4, migrations_per_cluster: 8}\n"
                                "  groups: {vms: {db: }}\n"
                                "  rules: [{name: db-apart, type: keep-apart, vms: db}]\n");
        set_final(&f, "a", "h2");
        set_final(&f, "b", "h3");
        run(&f, NULL, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 2);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[1].wave, 2);
        fixture_done(&f);
}

static void test_late_host(void **state) {
        Fixture f;
        bool late[3] = {false, false, true};
        fixture_init(
                &f, THREE_HOSTS "vms:\n"
                                "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024}\n"
                                "policy:\n"
                                "  limits: {migrations_per_host: 4, migrations_per_cluster: 8}\n");
        set_final(&f, "a", "h3");
        run(&f, late, 10);
        check_waves(&f);
        assert_int_equal(f.res.n_steps, 1);
        assert_int_equal(f.res.steps[0].wave, 2);
        fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_swap_needs_hop),     cmocka_unit_test(test_swap_hop_budget),
                cmocka_unit_test(test_swap_impossible),    cmocka_unit_test(test_cycle_of_three),
                cmocka_unit_test(test_concurrency_limits), cmocka_unit_test(test_capacity_any_interleaving),
                cmocka_unit_test(test_mandatory_first),    cmocka_unit_test(test_keep_apart_mid_plan),
                cmocka_unit_test(test_late_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
