/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Golden tests for the policy language and the snapshot format.
 *
 *   test-golden GOLDEN_DIR
 *
 * GOLDEN_DIR/valid/X.yaml            → X.expected is the effective policy (policy_to_yaml)
 * GOLDEN_DIR/valid/X/                → policy.yaml + policy.d/ loaded by policy_load()
 * GOLDEN_DIR/invalid/X.yaml or X/    → X.expected is the one error line FILE:LINE:COLUMN: message
 * GOLDEN_DIR/snapshot/valid/X.yaml   → X.expected is a dump of the parsed Problem
 * GOLDEN_DIR/snapshot/invalid/X.yaml → X.expected is the error line
 *
 * File names in messages are relative to GOLDEN_DIR (the runner chdir()s there), so the
 * expected files do not depend on where the tree is. DRS_REGENERATE=1 rewrites the .expected
 * files from the current output instead of comparing (like libvirt's VIR_TEST_REGENERATE_OUTPUT);
 * review the diff before committing. Every valid policy must also survive a round trip through
 * policy_to_yaml() unchanged. */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "policy-internal.h"
#include "policy-load.h"
#include "snapshot.h"

typedef enum Kind {
        KIND_VALID,
        KIND_INVALID,
        KIND_SNAPSHOT_VALID,
        KIND_SNAPSHOT_INVALID,
} Kind;

typedef struct Case {
        Kind kind;
        char *input;    /* relative to the golden dir: "valid/x.yaml" or "invalid/dir" */
        char *expected; /* "valid/x.expected" */
        bool is_dir;
} Case;

static bool regenerate(void) {
        const char *e = getenv("DRS_REGENERATE");
        return e && streq(e, "1");
}

static char *read_all(const char *path) {
        char *buf = NULL;
        size_t len = 0;
        PolicyError e = {};

        if (policy_read_file(path, &buf, &len, &e) < 0) {
                policy_error_clear(&e);
                return NULL;
        }
        return buf;
}

static void write_all(const char *path, const char *s) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(s, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void compare(const Case *c, const char *got) {
        _cleanup_free_ char *want = NULL;

        if (regenerate()) {
                write_all(c->expected, got);
                return;
        }
        want = read_all(c->expected);
        if (!want)
                fail_msg("%s: missing %s (run with DRS_REGENERATE=1 to create it)", c->input, c->expected);
        if (!streq(want, got)) {
                print_error("--- %s\n%s--- got\n%s", c->expected, want, got);
                fail_msg("%s: output differs from %s", c->input, c->expected);
        }
}

static int load_policy(const Case *c, Policy **ret, PolicyError *e) {
        _cleanup_free_ char *main_path = NULL, *dir = NULL;

        if (!c->is_dir) {
                char *paths[] = {c->input, NULL};
                return policy_load_files(paths, ret, e);
        }
        assert_true(asprintf(&main_path, "%s/policy.yaml", c->input) > 0);
        assert_true(asprintf(&dir, "%s/policy.d", c->input) > 0);
        return policy_load(access(main_path, F_OK) == 0 ? main_path : NULL, dir, ret, e);
}

static char *error_line(const PolicyError *e) {
        char *s = NULL, *line = NULL;

        assert_int_equal(policy_error_to_string(e, &s), 0);
        assert_true(asprintf(&line, "%s\n", s) > 0);
        free(s);
        return line;
}

static void run_policy(const Case *c) {
        Policy *p = NULL, *again = NULL;
        PolicyError e = {};
        _cleanup_free_ char *out = NULL, *out2 = NULL, *json = NULL;
        int r;

        r = load_policy(c, &p, &e);
        if (c->kind == KIND_INVALID) {
                _cleanup_free_ char *line = NULL;
                if (r >= 0)
                        fail_msg("%s: parsed, but it should fail", c->input);
                assert_int_equal(r, -EINVAL);
                assert_non_null(e.message);
                line = error_line(&e);
                policy_error_clear(&e);
                compare(c, line);
                return;
        }
        if (r < 0) {
                _cleanup_free_ char *line = error_line(&e);
                fail_msg("%s: unexpected error: %s", c->input, line);
        }
        assert_int_equal(policy_to_yaml(p, &out), 0);
        compare(c, out);

        /* Round trip: the printed policy parses back to the same policy. */
        assert_int_equal(policy_new(&again), 0);
        r = policy_parse_string(again, "roundtrip.yaml", out, strlen(out), &e);
        if (r < 0) {
                _cleanup_free_ char *line = error_line(&e);
                fail_msg("%s: printed policy does not parse: %s", c->input, line);
        }
        assert_int_equal(policy_validate(again, &e), 0);
        assert_int_equal(policy_to_yaml(again, &out2), 0);
        assert_string_equal(out, out2);

        /* And JSON works on it. */
        assert_int_equal(policy_to_json(p, &json), 0);
        assert_true(strlen(json) > 2);

        policy_free(again);
        policy_free(p);
}

static char *dump_problem(const Problem *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        fprintf(f, "automation: %s\n", automation_level_to_string(p->automation));
        fprintf(f, "rules: %zu\ngroups: %zu\n", p->policy->n_rules, p->policy->n_groups);
        for (size_t i = 0; i < p->n_hosts; i++) {
                const SolverHost *h = &p->hosts[i];
                fprintf(f, "host %s cpus=%g memory_mib=%" PRIu64 " state=%s frozen=%s groups=", h->name,
                        h->cpus, h->memory_mib, host_state_to_string(h->state), h->frozen ? "yes" : "no");
                for (char **g = h->groups; g && *g; g++)
                        fprintf(f, "%s%s", g == h->groups ? "" : ",", *g);
                fputc('\n', f);
        }
        for (size_t i = 0; i < p->n_vms; i++) {
                const SolverVm *v = &p->vms[i];
                fprintf(f,
                        "vm %s host=%s vcpus=%u memory_mib=%" PRIu64
                        " cpu_demand=%g memory_demand_mib=%" PRIu64 " last_moved_s=%" PRId64
                        " migrating=%s groups=",
                        v->name, p->hosts[v->host].name, v->vcpus, v->memory_mib, v->cpu_demand,
                        v->memory_demand_mib, v->last_moved_s, v->migrating ? "yes" : "no");
                for (char **g = v->groups; g && *g; g++)
                        fprintf(f, "%s%s", g == v->groups ? "" : ",", *g);
                fputc('\n', f);
        }
        assert_int_equal(fclose(f), 0);
        return buf;
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

static void run_snapshot(const Case *c) {
        Problem *p = NULL;
        PolicyError e = {};
        _cleanup_free_ char *out = NULL;
        int r;

        r = snapshot_load_file(c->input, &p, &e);
        if (c->kind == KIND_SNAPSHOT_INVALID) {
                _cleanup_free_ char *line = NULL;
                if (r >= 0)
                        fail_msg("%s: parsed, but it should fail", c->input);
                assert_int_equal(r, -EINVAL);
                line = error_line(&e);
                policy_error_clear(&e);
                compare(c, line);
                return;
        }
        if (r < 0) {
                _cleanup_free_ char *line = error_line(&e);
                fail_msg("%s: unexpected error: %s", c->input, line);
        }
        out = dump_problem(p);
        compare(c, out);
        problem_free(p);
}

static void run_case(void **state) {
        const Case *c = *state;

        if (c->kind == KIND_VALID || c->kind == KIND_INVALID)
                run_policy(c);
        else
                run_snapshot(c);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static size_t collect(const char *dir, Kind kind, Case **cases, size_t n) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                fprintf(stderr, "cannot open %s: %m\n", dir);
                exit(EXIT_FAILURE);
        }
        names = calloc(1, sizeof(char *));
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                struct stat st;
                _cleanup_free_ char *path = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0 || stat(path, &st) < 0)
                        exit(EXIT_FAILURE);
                if (S_ISDIR(st.st_mode) || (l > 5 && streq(de->d_name + l - 5, ".yaml")))
                        if (strv_extend(&names, de->d_name) < 0)
                                exit(EXIT_FAILURE);
        }
        closedir(d);
        qsort(names, strv_length(names), sizeof(char *), cmp_str);

        for (char **nm = names; *nm; nm++) {
                Case *c;
                size_t l = strlen(*nm);
                bool is_dir = !(l > 5 && streq(*nm + l - 5, ".yaml"));

                *cases = reallocarray(*cases, n + 1, sizeof(Case));
                if (!*cases)
                        exit(EXIT_FAILURE);
                c = &(*cases)[n++];
                *c = (Case){.kind = kind, .is_dir = is_dir};
                if (asprintf(&c->input, "%s/%s", dir, *nm) < 0 ||
                    asprintf(&c->expected, "%s/%.*s.expected", dir, (int) (is_dir ? l : l - 5), *nm) < 0)
                        exit(EXIT_FAILURE);
        }
        return n;
}

int main(int argc, char *argv[]) {
        Case *cases = NULL;
        struct CMUnitTest *tests;
        size_t n = 0;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (chdir(argv[1]) < 0) {
                fprintf(stderr, "cannot chdir to %s: %m\n", argv[1]);
                return EXIT_FAILURE;
        }
        n = collect("valid", KIND_VALID, &cases, n);
        n = collect("invalid", KIND_INVALID, &cases, n);
        n = collect("snapshot/valid", KIND_SNAPSHOT_VALID, &cases, n);
        n = collect("snapshot/invalid", KIND_SNAPSHOT_INVALID, &cases, n);

        tests = calloc(n, sizeof(struct CMUnitTest));
        if (!tests)
                return EXIT_FAILURE;
        for (size_t i = 0; i < n; i++)
                tests[i] = (struct CMUnitTest){
                        .name = cases[i].input,
                        .test_func = run_case,
                        .initial_state = &cases[i],
                };
        r = _cmocka_run_group_tests("golden", tests, n, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
                free(cases[i].input);
                free(cases[i].expected);
        }
        free(cases);
        free(tests);
        return r;
}
