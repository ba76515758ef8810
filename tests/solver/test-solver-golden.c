/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Golden plans: snapshot in, plan out.
 *
 *   test-solver-golden GOLDEN_DIR
 *
 * GOLDEN_DIR/X.yaml is a snapshot (with its policy). X.expected is the plan as JSON
 * (plan_to_json, solve_ms forced to 0) and X.txt the same plan as the human table
 * (plan_to_text). When X.vm.yaml exists the case is a placement: solver_place() of that VM.
 * Cases run the greedy solver only (goldens must not change when GLPK's neighbourhood search is
 * tuned), except X-glpk.yaml, which runs the full solver. DRS_REGENERATE=1 rewrites the
 * expected files instead of comparing; review every diff by eye before committing: a golden
 * plan must be right, not just stable. */

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy-load.h"
#include "solver-test.h"

static bool regenerate(void) {
        const char *e = getenv("DRS_REGENERATE");
        return e && streq(e, "1");
}

static char *read_file_or_null(const char *path) {
        char *buf = NULL;
        size_t len = 0;
        PolicyError e = {};

        if (policy_read_file(path, &buf, &len, &e) < 0) {
                policy_error_clear(&e);
                return NULL;
        }
        return buf;
}

static void write_file(const char *path, const char *s) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(s, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void compare_or_write(const char *path, const char *actual) {
        if (regenerate()) {
                write_file(path, actual);
                return;
        }
        _cleanup_free_ char *expected = read_file_or_null(path);
        if (!expected) {
                print_error("%s: missing (run with DRS_REGENERATE=1)\n", path);
                fail();
        }
        if (!streq(expected, actual)) {
                print_error("%s differs; got:\n%s\n", path, actual);
                fail();
        }
}

/* The solver parses bytes; the file is read here, as drsctl does. */
static int snapshot_load_file(const char *path, Problem **ret, PolicyError *e) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file_bounded(path, SNAPSHOT_MAX_INPUT, &buf, &len, e);
        if (r < 0)
                return r;
        return snapshot_parse_string(path, buf, len, ret, e);
}

static int snapshot_load_vm_file(const char *path, SolverVm *ret, PolicyError *e) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = policy_read_file(path, &buf, &len, e);
        if (r < 0)
                return r;
        return snapshot_parse_vm_string(path, buf, len, ret, e);
}

static void run_case(void **state) {
        const char *name = *state; /* "X.yaml" */
        _cleanup_(tp_problem_freep) Problem *p = NULL;
        _cleanup_free_ char *base = strndup(name, strlen(name) - strlen(".yaml"));
        _cleanup_free_ char *vm_path = NULL, *json_path = NULL, *text_path = NULL, *json = NULL,
                            *text = NULL;
        PolicyError e = {};
        Plan *plan = NULL;

        assert_non_null(base);
        assert_true(asprintf(&vm_path, "%s.vm.yaml", base) > 0);
        assert_true(asprintf(&json_path, "%s.expected", base) > 0);
        assert_true(asprintf(&text_path, "%s.txt", base) > 0);

        if (snapshot_load_file(name, &p, &e) < 0) {
                print_error("%s:%u:%u: %s\n", name, e.line, e.column, e.message ?: "?");
                policy_error_clear(&e);
                fail();
        }

        SolverOptions opts = {
                .greedy_only = strlen(base) < 5 || !streq(base + strlen(base) - 5, "-glpk"),
        };
        if (access(vm_path, F_OK) == 0) {
                SolverVm vm = {};
                if (snapshot_load_vm_file(vm_path, &vm, &e) < 0) {
                        print_error("%s:%u:%u: %s\n", vm_path, e.line, e.column, e.message ?: "?");
                        policy_error_clear(&e);
                        fail();
                }
                assert_int_equal(solver_place(p, &vm, &opts, &plan), 0);
                free(vm.name);
                strv_free(vm.groups);
        } else
                assert_int_equal(solver_plan(p, &opts, &plan), 0);

        plan->solve_ms = 0;
        assert_int_equal(plan_to_json(p, plan, &json), 0);
        assert_int_equal(plan_to_text(p, plan, &text), 0);
        bool partial = plan->n_unplaceable > 0;
        plan_free(plan);

        compare_or_write(json_path, json);
        compare_or_write(text_path, text);

        /* fix-*.yaml: the plan cannot empty the hosts in maintenance; X.fix holds the smallest
         * fix for each (solver_smallest_fix(), text then JSON). */
        if (strncmp(base, "fix-", 4) == 0) {
                _cleanup_free_ char *fix_path = NULL, *all = NULL;
                size_t all_len = 0;
                FILE *f = open_memstream(&all, &all_len);
                assert_non_null(f);
                assert_true(partial);
                assert_true(asprintf(&fix_path, "%s.fix", base) > 0);
                for (size_t h = 0; h < p->n_hosts; h++) {
                        if (p->hosts[h].state != HOST_MAINTENANCE)
                                continue;
                        SolverFix *fix = NULL;
                        _cleanup_free_ char *ft = NULL, *fj = NULL;
                        assert_int_equal(solver_smallest_fix(p, h, 5000, &fix), 0);
                        assert_true(fix->proven);
                        assert_int_equal(solver_fix_to_text(p, fix, &ft), 0);
                        assert_int_equal(solver_fix_to_json(p, fix, &fj), 0);
                        fprintf(f, "%s%s\n", ft, fj);
                        solver_fix_free(fix);
                }
                assert_int_equal(fclose(f), 0);
                compare_or_write(fix_path, all);
        }
}

static bool is_case(const char *n) {
        size_t l = strlen(n);
        return l > 5 && streq(n + l - 5, ".yaml") && !(l > 8 && streq(n + l - 8, ".vm.yaml"));
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int main(int argc, char *argv[]) {
        _cleanup_strv_free_ char **names = NULL;
        struct CMUnitTest *tests;
        size_t n = 0;
        DIR *d;
        int r;

        if (argc != 2 || chdir(argv[1]) < 0) {
                fprintf(stderr, "usage: test-solver-golden GOLDEN_DIR\n");
                return EXIT_FAILURE;
        }
        d = opendir(".");
        if (!d)
                return EXIT_FAILURE;
        for (struct dirent *de; (de = readdir(d));)
                if (is_case(de->d_name) && strv_extend(&names, de->d_name) < 0)
                        return EXIT_FAILURE;
        closedir(d);
        n = strv_length(names);
        qsort(names, n, sizeof(char *), name_cmp);

        tests = calloc(n ? n : 1, sizeof(struct CMUnitTest));
        if (!tests)
                return EXIT_FAILURE;
        for (size_t i = 0; i < n; i++)
                tests[i] = (struct CMUnitTest){
                        .name = names[i],
                        .test_func = run_case,
                        .initial_state = names[i],
                };
        r = _cmocka_run_group_tests("solver-golden", tests, n, NULL, NULL);
        free(tests);
        return r;
}
