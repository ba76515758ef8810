/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of solver/order.c: waves, capacity in any interleaving, concurrency limits,
 * swaps broken through a host with room, keep-apart mid-plan and keep-apart swaps (after any
 * subset of a wave's moves), power-on hosts, and random problems checked subset by subset. */

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

/* A wave's moves may complete in any order and any may fail: after every subset of each wave
 * (on top of the previous waves, the full wave included) no host is over its memory or vCPU
 * limit, and no two members of a hard keep-apart rule share a host unless they did at the start
 * and neither has moved. Every step lands on a host the VM's hard VM–host rules allow. */
static void check_wave_subsets(const Fixture *f) {
        const Model *m = f->m;
        size_t V = m->n_vms, H = m->n_hosts;
        int *cur = calloc(V + 1, sizeof(int)), *cur2 = calloc(V + 1, sizeof(int));
        bool *moved = calloc(V + 1, sizeof(bool)), *moved2 = calloc(V + 1, sizeof(bool));
        double *mem = calloc(H + 1, sizeof(double)), *vcpu = calloc(H + 1, sizeof(double));
        double *mem2 = calloc(H + 1, sizeof(double)), *vcpu2 = calloc(H + 1, sizeof(double));
        assert_true(cur && cur2 && moved && moved2 && mem && vcpu && mem2 && vcpu2);

        for (size_t v = 0; v < V; v++) {
                cur[v] = m->initial[v];
                if (cur[v] >= 0) {
                        mem[cur[v]] += m->mem_cfg[v];
                        vcpu[cur[v]] += m->vcpus[v];
                }
        }
        for (size_t i = 0; i < f->res.n_steps;) {
                unsigned wave = f->res.steps[i].wave;
                size_t j = i;
                while (j < f->res.n_steps && f->res.steps[j].wave == wave)
                        j++;
                assert_true(j - i <= 16);
                for (size_t k = i; k < j; k++) {
                        assert_int_equal(cur[f->res.steps[k].vm], (int) f->res.steps[k].from);
                        assert_true(model_allowed(m, f->res.steps[k].vm, f->res.steps[k].to));
                }

                for (uint32_t mask = 1; mask < (UINT32_C(1) << (j - i)); mask++) {
                        memcpy(cur2, cur, sizeof(int) * V);
                        memcpy(moved2, moved, sizeof(bool) * V);
                        memcpy(mem2, mem, sizeof(double) * H);
                        memcpy(vcpu2, vcpu, sizeof(double) * H);
                        for (size_t k = i; k < j; k++) {
                                const OrderStep *s = &f->res.steps[k];
                                if (!(mask & (UINT32_C(1) << (k - i))))
                                        continue;
                                mem2[s->from] -= m->mem_cfg[s->vm];
                                vcpu2[s->from] -= m->vcpus[s->vm];
                                mem2[s->to] += m->mem_cfg[s->vm];
                                vcpu2[s->to] += m->vcpus[s->vm];
                                cur2[s->vm] = (int) s->to;
                                moved2[s->vm] = true;
                        }
                        for (size_t h = 0; h < H; h++) {
                                assert_true(mem2[h] <= m->mem_limit[h] + 1e-6);
                                assert_true(vcpu2[h] <= m->vcpu_limit[h] + 1e-6);
                        }
                        for (size_t r = 0; r < m->n_vm_rules; r++) {
                                const ModelVmRule *rule = &m->vm_rules[r];
                                if (!rule->hard || rule->type != RULE_KEEP_APART)
                                        continue;
                                for (size_t x = 0; x < rule->n_vms; x++)
                                        for (size_t y = x + 1; y < rule->n_vms; y++) {
                                                size_t u = rule->vms[x], v = rule->vms[y];
                                                if (cur2[u] < 0 || cur2[u] != cur2[v] ||
                                                    (!moved2[u] && !moved2[v]))
                                                        continue;
                                                fail_msg(
                                                        "wave %u, subset 0x%x of its moves done: '%s' and '%s' share host %d",
                                                        wave, mask, f->p->vms[u].name, f->p->vms[v].name,
                                                        cur2[u]);
                                        }
                        }
                }

                for (size_t k = i; k < j; k++) {
                        const OrderStep *s = &f->res.steps[k];
                        mem[s->from] -= m->mem_cfg[s->vm];
                        vcpu[s->from] -= m->vcpus[s->vm];
                        mem[s->to] += m->mem_cfg[s->vm];
                        vcpu[s->to] += m->vcpus[s->vm];
                        cur[s->vm] = (int) s->to;
                        moved[s->vm] = true;
                }
                i = j;
        }
        free(cur);
        free(cur2);
        free(moved);
        free(moved2);
        free(mem);
        free(vcpu);
        free(mem2);
        free(vcpu2);
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
        check_wave_subsets(&f);

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
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 0);
        assert_int_equal(f.res.n_dropped, 2);
        assert_int_equal(f.res.dropped_rule[0], -1); /* full hosts, no rule */
        assert_int_equal(f.res.dropped_rule[1], -1);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
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
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 2);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[1].wave, 2);
        fixture_done(&f);
}

/* a (h2→h3) and b (h3→h2) swap hosts under a hard keep-apart rule with c (on h1): in one wave,
 * a done and b not (or failed) puts a and b together on h3. With no host free of the rule's
 * members to pass through, the swap cannot be ordered safely: both are dropped. */
#define APART_SWAP                                                                                          \
        "  - {name: a, host: h2, vcpus: 1, memory_mib: 1024, groups: [db]}\n"                               \
        "  - {name: b, host: h3, vcpus: 1, memory_mib: 1024, groups: [db]}\n"                               \
        "  - {name: c, host: h1, vcpus: 1, memory_mib: 1024, groups: [db]}\n"                               \
        "policy:\n"                                                                                         \
        "  limits: {migrations_per_host: 4, migrations_per_cluster: 8}\n"                                   \
        "  groups: {vms: {db: }}\n"                                                                         \
        "  rules: [{name: db-apart, type: keep-apart, vms: db}]\n"

static void test_keep_apart_swap_no_hop(void **state) {
        Fixture f;
        fixture_init(&f, THREE_HOSTS "vms:\n" APART_SWAP);
        set_final(&f, "a", "h3");
        set_final(&f, "b", "h2");
        f.mandatory[tp_vm(f.p, "a")] = true; /* a hop would be allowed: there is no host for it */
        f.mandatory[tp_vm(f.p, "b")] = true;
        run(&f, NULL, 10);
        check_waves(&f);
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 0);
        assert_int_equal(f.res.n_dropped, 2);
        /* Dropped because of the keep-apart rule (the destinations have room). */
        assert_int_equal(f.res.dropped_rule[0], 0);
        assert_int_equal(f.res.dropped_rule[1], 0);
        assert_int_equal(f.res.final[tp_vm(f.p, "a")], (int) tp_host(f.p, "h2"));
        assert_int_equal(f.res.final[tp_vm(f.p, "b")], (int) tp_host(f.p, "h3"));
        assert_int_equal(f.res.final[tp_vm(f.p, "c")], (int) tp_host(f.p, "h1"));
        fixture_done(&f);
}

/* The same swap with h4 free of the rule's members: a passes through it, one step per wave. */
static void test_keep_apart_swap_hop(void **state) {
        Fixture f;
        fixture_init(
                &f, THREE_HOSTS "  - {name: h4, cpus: 8, memory_mib: 9216}\n"
                                "vms:\n" APART_SWAP);
        set_final(&f, "a", "h3");
        set_final(&f, "b", "h2");
        run(&f, NULL, 10);
        check_waves(&f);
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 3);
        assert_int_equal(f.res.n_waves, 3);
        assert_int_equal(f.res.steps[0].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[0].to, tp_host(f.p, "h4"));
        assert_true(f.res.steps[0].hop);
        assert_int_equal(f.res.steps[0].wave, 1);
        assert_int_equal(f.res.steps[1].vm, tp_vm(f.p, "b"));
        assert_int_equal(f.res.steps[1].to, tp_host(f.p, "h2"));
        assert_int_equal(f.res.steps[1].wave, 2);
        assert_int_equal(f.res.steps[2].vm, tp_vm(f.p, "a"));
        assert_int_equal(f.res.steps[2].to, tp_host(f.p, "h3"));
        assert_int_equal(f.res.steps[2].wave, 3);
        assert_int_equal(f.res.n_dropped, 0);
        assert_int_equal(f.res.hops_used, 1);
        fixture_done(&f);

        /* Voluntary moves without hop budget: dropped, not relaxed into one wave. */
        fixture_init(
                &f, THREE_HOSTS "  - {name: h4, cpus: 8, memory_mib: 9216}\n"
                                "vms:\n" APART_SWAP);
        set_final(&f, "a", "h3");
        set_final(&f, "b", "h2");
        run(&f, NULL, 0);
        check_waves(&f);
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 0);
        assert_int_equal(f.res.n_dropped, 2);
        fixture_done(&f);
}

/* A rotation a h1→h2, b h2→h3, c h3→h1 of three keep-apart members over three hosts: every
 * move lands where another member still is. No fourth host: nothing moves. With one: a hop
 * and sequencing, one member at a time. */
static void test_keep_apart_rotation(void **state) {
        static const char *const vms = "vms:\n"
                                       "  - {name: a, host: h1, vcpus: 1, memory_mib: 1024, groups: [db]}\n"
                                       "  - {name: b, host: h2, vcpus: 1, memory_mib: 1024, groups: [db]}\n"
                                       "  - {name: c, host: h3, vcpus: 1, memory_mib: 1024, groups: [db]}\n"
                                       "policy:\n"
                                       "  limits: {migrations_per_host: 4, migrations_per_cluster: 8}\n"
                                       "  groups: {vms: {db: }}\n"
                                       "  rules: [{name: db-apart, type: keep-apart, vms: db}]\n";
        char *yaml;
        Fixture f;

        for (int extra = 0; extra < 2; extra++) {
                assert_true(
                        asprintf(
                                &yaml, "%s%s%s", THREE_HOSTS,
                                extra ? "  - {name: h4, cpus: 8, memory_mib: 9216}\n" : "", vms) >= 0);
                fixture_init(&f, yaml);
                set_final(&f, "a", "h2");
                set_final(&f, "b", "h3");
                set_final(&f, "c", "h1");
                for (size_t v = 0; v < 3; v++)
                        f.mandatory[v] = true;
                run(&f, NULL, 10);
                check_waves(&f);
                check_wave_subsets(&f);
                if (extra) {
                        assert_int_equal(f.res.n_dropped, 0);
                        assert_int_equal(f.res.n_steps, 4);
                        for (size_t v = 0; v < 3; v++)
                                assert_int_equal(f.res.final[v], f.final[v]);
                } else {
                        assert_int_equal(f.res.n_steps, 0);
                        assert_int_equal(f.res.n_dropped, 3);
                }
                fixture_done(&f);
                free(yaml);
        }
}

/* Random orderings (seeded splitmix64): 3–5 hosts, up to 10 VMs, hard keep-apart groups, random
 * valid start and end placements (many swaps and cycles), random mandatory flags and hop
 * budgets, tight limits. Every wave subset is checked, every VM ends at its goal or (dropped)
 * where its executed steps left it, and ordering twice gives the same steps. */
static uint64_t splitmix(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* A placement of V VMs on H hosts: memory fits, members of one group on distinct hosts. */
static bool random_placement(
        uint64_t *s, unsigned H, unsigned V, const unsigned *mem, const unsigned *cap, const int *group,
        int *ret) {
        for (unsigned tries = 0; tries < 50; tries++) {
                unsigned load[5] = {};
                bool ok = true;
                for (unsigned v = 0; v < V && ok; v++) {
                        unsigned h = (unsigned) (splitmix(s) % H);
                        ok = load[h] + mem[v] <= cap[h];
                        for (unsigned u = 0; u < v && ok; u++)
                                ok = !(group[u] >= 0 && group[u] == group[v] && ret[u] == (int) h);
                        load[h] += mem[v];
                        ret[v] = (int) h;
                }
                if (ok)
                        return true;
        }
        return false;
}

static void test_random_orderings(void **state) {
        unsigned n_steps = 0, n_hops = 0, n_dropped = 0, n_planned = 0;

        for (unsigned seed = 1; seed <= 3000; seed++) {
                uint64_t s = seed * UINT64_C(104729);
                unsigned H = 3 + (unsigned) (splitmix(&s) % 3), V = 2 + (unsigned) (splitmix(&s) % 9);
                unsigned mem[10], cap[5];
                int group[10], initial[10], final[10];
                char yaml[4096];
                size_t n = 0;

                for (unsigned h = 0; h < H; h++)
                        cap[h] = 1024 * (2 + (unsigned) (splitmix(&s) % 4));
                for (unsigned v = 0; v < V; v++) {
                        mem[v] = 512 * (1 + (unsigned) (splitmix(&s) % 3));
                        group[v] = splitmix(&s) % 3 == 0 ? -1 : (int) (splitmix(&s) % 2);
                }
                if (!random_placement(&s, H, V, mem, cap, group, initial) ||
                    !random_placement(&s, H, V, mem, cap, group, final))
                        continue;

                n += (size_t) snprintf(yaml + n, sizeof(yaml) - n, "hosts:\n");
                for (unsigned h = 0; h < H; h++)
                        n += (size_t) snprintf(
                                yaml + n, sizeof(yaml) - n, "  - {name: h%u, cpus: 8, memory_mib: %u}\n", h,
                                cap[h]);
                n += (size_t) snprintf(yaml + n, sizeof(yaml) - n, "vms:\n");
                for (unsigned v = 0; v < V; v++)
                        n += (size_t) snprintf(
                                yaml + n, sizeof(yaml) - n,
                                "  - {name: v%u, host: h%d, vcpus: 1, memory_mib: %u, groups: [%s]}\n", v,
                                initial[v], mem[v],
                                group[v] < 0 ? ""
                                : group[v]   ? "g1"
                                             : "g0");
                n += (size_t) snprintf(
                        yaml + n, sizeof(yaml) - n,
                        "policy:\n"
                        "  limits: {migrations_per_host: {outgoing: %u, incoming: %u}, migrations_per_cluster: %u, memory_reserve: 0MiB, memory_overcommit: 1.0}\n"
                        "  groups: {vms: {g0: , g1: }}\n"
                        "  rules:\n"
                        "    - {name: r0, type: keep-apart, vms: g0}\n"
                        "    - {name: r1, type: keep-apart, vms: g1}\n",
                        1 + (unsigned) (splitmix(&s) % 3), 1 + (unsigned) (splitmix(&s) % 3),
                        1 + (unsigned) (splitmix(&s) % 6));
                assert_true(n < sizeof(yaml));

                Fixture f, g;
                unsigned budget = (unsigned) (splitmix(&s) % 3);
                fixture_init(&f, yaml);
                for (unsigned v = 0; v < V; v++) {
                        f.final[v] = final[v];
                        f.mandatory[v] = splitmix(&s) % 2;
                }
                run(&f, NULL, budget);
                check_waves(&f);
                check_wave_subsets(&f);

                /* Where each VM ends: its goal, or (dropped) not there. */
                for (unsigned v = 0; v < V; v++) {
                        bool dropped = false;
                        for (size_t k = 0; k < f.res.n_dropped; k++)
                                dropped = dropped || f.res.dropped[k] == v;
                        if (!dropped)
                                assert_int_equal(f.res.final[v], final[v]);
                        n_planned += !dropped && initial[v] != final[v];
                }

                /* Deterministic. */
                fixture_init(&g, yaml);
                memcpy(g.final, f.final, sizeof(int) * V);
                memcpy(g.mandatory, f.mandatory, sizeof(bool) * V);
                run(&g, NULL, budget);
                assert_int_equal(g.res.n_steps, f.res.n_steps);
                assert_int_equal(g.res.n_dropped, f.res.n_dropped);
                for (size_t k = 0; k < f.res.n_steps; k++) {
                        const OrderStep *x = &f.res.steps[k], *y = &g.res.steps[k];
                        assert_true(
                                x->vm == y->vm && x->from == y->from && x->to == y->to &&
                                x->wave == y->wave && x->hop == y->hop);
                }
                assert_memory_equal(g.res.final, f.res.final, sizeof(int) * V);

                n_steps += f.res.n_steps;
                n_dropped += f.res.n_dropped;
                for (size_t k = 0; k < f.res.n_steps; k++)
                        n_hops += f.res.steps[k].hop;
                fixture_done(&g);
                fixture_done(&f);
        }
        print_message(
                "random orderings: %u steps, %u hops, %u VMs dropped, %u moves completed\n", n_steps, n_hops,
                n_dropped, n_planned);
        assert_true(n_hops > 100);
        assert_true(n_dropped > 0);
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
        check_wave_subsets(&f);
        assert_int_equal(f.res.n_steps, 1);
        assert_int_equal(f.res.steps[0].wave, 2);
        fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_swap_needs_hop),      cmocka_unit_test(test_swap_hop_budget),
                cmocka_unit_test(test_swap_impossible),     cmocka_unit_test(test_cycle_of_three),
                cmocka_unit_test(test_concurrency_limits),  cmocka_unit_test(test_capacity_any_interleaving),
                cmocka_unit_test(test_mandatory_first),     cmocka_unit_test(test_keep_apart_mid_plan),
                cmocka_unit_test(test_late_host),           cmocka_unit_test(test_keep_apart_swap_no_hop),
                cmocka_unit_test(test_keep_apart_swap_hop), cmocka_unit_test(test_keep_apart_rotation),
                cmocka_unit_test(test_random_orderings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
