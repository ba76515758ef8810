/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot and placement-VM parsing into solver types, and the Problem container. The file
 * formats' error messages are covered by the golden tests (golden/snapshot/). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "macro.h"
#include "snapshot.h"

static void test_problem_new(void **state) {
        Problem *p = NULL;

        assert_int_equal(problem_new(&p), 0);
        assert_non_null(p->policy);
        assert_int_equal(p->n_hosts, 0);
        assert_int_equal(p->n_vms, 0);
        assert_int_equal(p->automation, AUTOMATION_FULL);
        assert_null(problem_free(p));
        assert_null(problem_free(NULL));
        for (int i = 0; i < _HOST_STATE_MAX; i++)
                assert_int_equal(host_state_from_string(host_state_to_string(i)), i);
        assert_int_equal(host_state_from_string("down"), _HOST_STATE_INVALID);
        assert_null(host_state_to_string(_HOST_STATE_MAX));
}

static void test_parse(void **state) {
        static const char s[] =
                "hosts:\n"
                "  - {name: b, cpus: 8, memory_mib: 16GiB}\n"
                "  - {name: a, cpus: 4, memory_mib: 8192, state: maintenance, groups: [r1, r2]}\n"
                "vms:\n"
                "  - {name: v2, host: a, vcpus: 2, memory_mib: 1024}\n"
                "  - {name: v1, host: b, vcpus: 1, memory_mib: 512, cpu_demand: 0.25,\n"
                "     memory_demand_mib: 100, last_moved_s: 30, migrating: yes}\n"
                "policy: {automation: {level: manual}, balance: {max_moves_per_pass: 3}}\n";
        Problem *p = NULL;
        PolicyError e = {};

        assert_int_equal(snapshot_parse_string("s.yaml", s, strlen(s), &p, &e), 0);
        assert_null(e.message);
        assert_int_equal(p->n_hosts, 2);
        assert_int_equal(p->n_vms, 2);
        /* File order is kept; host references are indexes into it. */
        assert_string_equal(p->hosts[0].name, "b");
        assert_true(p->hosts[0].memory_mib == 16384);
        assert_int_equal(p->hosts[1].state, HOST_MAINTENANCE);
        assert_int_equal(strv_length(p->hosts[1].groups), 2);
        assert_int_equal(p->vms[0].host, 1);
        assert_int_equal(p->vms[1].host, 0);
        /* Defaults: demand = configured size, never moved. */
        assert_true(p->vms[0].cpu_demand == 2.0);
        assert_true(p->vms[0].memory_demand_mib == 1024);
        assert_true(p->vms[0].last_moved_s < 0);
        assert_false(p->vms[0].migrating);
        assert_true(p->vms[1].cpu_demand == 0.25);
        assert_true(p->vms[1].last_moved_s == 30);
        assert_true(p->vms[1].migrating);
        assert_int_equal(p->automation, AUTOMATION_MANUAL);
        assert_int_equal(p->policy->balance.max_moves_per_pass, 3);
        problem_free(p);
}

static void test_error_leaves_ret(void **state) {
        static const char s[] = "hosts:\n  - {name: a, cpus: 4, memory_mib: 8192}\nvms:\n"
                                "  - {name: v, host: zz, vcpus: 1, memory_mib: 1}\n";
        Problem *sentinel = (Problem *) 0x1, *p = sentinel;
        PolicyError e = {};

        assert_int_equal(snapshot_parse_string("s.yaml", s, strlen(s), &p, &e), -EINVAL);
        assert_ptr_equal(p, sentinel);
        assert_string_equal(e.file, "s.yaml");
        assert_int_equal(e.line, 4);
        assert_int_equal(e.column, 21);
        assert_string_equal(e.message, "VM 'v' runs on unknown host 'zz'");
        policy_error_clear(&e);
        /* A NULL error pointer is fine. */
        assert_int_equal(snapshot_parse_string("s.yaml", s, strlen(s), &p, NULL), -EINVAL);
}

static void test_many_hosts(void **state) {
        /* Sorted lookups: every VM finds its own host among many. */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        Problem *p = NULL;
        PolicyError e = {};

        fputs("hosts:\n", f);
        for (int i = 999; i >= 0; i--)
                fprintf(f, "  - {name: h%d, cpus: 4, memory_mib: 8192}\n", i);
        fputs("vms:\n", f);
        for (int i = 0; i < 1000; i++)
                fprintf(f, "  - {name: v%d, host: h%d, vcpus: 1, memory_mib: 512}\n", i, (i * 7) % 1000);
        fclose(f);
        assert_int_equal(snapshot_parse_string("s.yaml", buf, len, &p, &e), 0);
        for (int i = 0; i < 1000; i++) {
                char want[16];
                snprintf(want, sizeof(want), "h%d", (i * 7) % 1000);
                assert_string_equal(p->hosts[p->vms[i].host].name, want);
        }
        problem_free(p);
        free(buf);
}

static void test_vm_file(void **state) {
        static const char ok[] = "{name: new01, vcpus: 4, memory_mib: 4GiB, groups: [web]}\n";
        static const char bad[] = "name: new01\nvcpus: 4\nmemory_mib: 4GiB\nhost: h01\n";
        SolverVm vm = {};
        PolicyError e = {};

        assert_int_equal(snapshot_parse_vm_string("vm.yaml", ok, strlen(ok), &vm, &e), 0);
        assert_string_equal(vm.name, "new01");
        assert_int_equal(vm.host, -1);
        assert_true(vm.last_moved_s < 0);
        assert_true(vm.memory_mib == 4096);
        assert_true(vm.memory_demand_mib == 4096);
        assert_true(vm.cpu_demand == 4.0);
        assert_string_equal(vm.groups[0], "web");
        free(vm.name);
        strv_free(vm.groups);

        vm = (SolverVm){};
        assert_int_equal(snapshot_parse_vm_string("vm.yaml", bad, strlen(bad), &vm, &e), -EINVAL);
        assert_null(vm.name);
        assert_int_equal(e.line, 4);
        assert_int_equal(e.column, 1);
        assert_non_null(strstr(e.message, "unknown key 'host' in 'vm'"));
        policy_error_clear(&e);
        assert_int_equal(snapshot_parse_vm_string("vm.yaml", "", 0, &vm, &e), -EINVAL);
        policy_error_clear(&e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_problem_new),      cmocka_unit_test(test_parse),
                cmocka_unit_test(test_error_leaves_ret), cmocka_unit_test(test_many_hosts),
                cmocka_unit_test(test_vm_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
