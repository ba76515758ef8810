/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every shipped configuration file parses, and config/policy.yaml really is the defaults.
 *
 *   test-examples CONFIG_DIR */

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "macro.h"
#include "policy-load.h"
#include "snapshot.h"

static const char *config_dir;

static char *path(const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", config_dir, name) > 0);
        return p;
}

static void fail_with(const char *what, const PolicyError *e) {
        char *s = NULL;
        if (e->message && policy_error_to_string(e, &s) >= 0)
                fail_msg("%s: %s", what, s);
        fail_msg("%s: failed", what);
}

static void test_default_policy(void **state) {
        _cleanup_free_ char *f = path("policy.yaml"), *a = NULL, *b = NULL;
        Policy *p = NULL, *d = NULL;
        PolicyError e = {};

        if (policy_load_files((char *[]){f, NULL}, &p, &e) < 0)
                fail_with(f, &e);
        assert_int_equal(policy_new(&d), 0);
        assert_int_equal(policy_to_yaml(p, &a), 0);
        assert_int_equal(policy_to_yaml(d, &b), 0);
        /* The shipped file documents the defaults: it must not change them. */
        assert_string_equal(a, b);
        policy_free(p);
        policy_free(d);
}

static void load_example(const char *name, Policy **ret) {
        _cleanup_free_ char *f = path(name);
        PolicyError e = {};

        if (policy_load_files((char *[]){f, NULL}, ret, &e) < 0)
                fail_with(f, &e);
}

static void test_rules_example(void **state) {
        Policy *p = NULL;

        load_example("examples/rules.yaml", &p);
        assert_true(p->n_rules >= 6);
        /* Every rule type is shown. */
        for (int t = 0; t < _RULE_TYPE_MAX; t++) {
                bool found = false;
                for (size_t i = 0; i < p->n_rules; i++)
                        found = found || (int) p->rules[i].type == t;
                if (t != RULE_MUST_NOT_RUN_ON && t != RULE_SHOULD_RUN_ON)
                        assert_true(found);
        }
        policy_free(p);
}

static void test_windows_example(void **state) {
        Policy *p = NULL;

        load_example("examples/maintenance-windows.yaml", &p);
        assert_int_equal(p->automation.level, AUTOMATION_MANUAL);
        assert_string_equal(p->automation.timezone, "Europe/Berlin");
        /* Tuesday 23:00 and Wednesday 05:59 are in the night window, Wednesday 09:00 is not. */
        assert_int_equal(policy_automation_at(p, 1, 23 * 60), AUTOMATION_FULL);
        assert_int_equal(policy_automation_at(p, 2, 5 * 60 + 59), AUTOMATION_FULL);
        assert_int_equal(policy_automation_at(p, 2, 9 * 60), AUTOMATION_MANUAL);
        assert_int_equal(policy_automation_at(p, 6, 9 * 60), AUTOMATION_FULL);
        assert_int_equal(policy_vm_automation(p, "licence01", AUTOMATION_FULL), AUTOMATION_DISABLED);
        policy_free(p);
}

static void test_dpm_example(void **state) {
        Policy *p = NULL;
        _cleanup_free_ char *cmd = NULL;

        load_example("examples/dpm.yaml", &p);
        assert_true(p->dpm.enabled);
        assert_int_equal(p->dpm.n_hosts, 1);
        assert_int_equal(
                policy_expand_command(
                        p->dpm.hosts[0].commands.power_on, "h07", NULL, "52:54:00:12:34:07", NULL, &cmd),
                0);
        assert_string_equal(cmd, "wakeonlan 52:54:00:12:34:07");
        policy_free(p);
}

static void test_all_examples_together(void **state) {
        /* As drop-ins on top of the default file, the examples combine without conflicts. */
        _cleanup_free_ char *main_path = path("policy.yaml");
        _cleanup_free_ char *r = path("examples/rules.yaml"), *w = path("examples/maintenance-windows.yaml"),
                            *d = path("examples/dpm.yaml");
        Policy *p = NULL;
        PolicyError e = {};

        if (policy_load_files((char *[]){main_path, r, w, d, NULL}, &p, &e) < 0)
                fail_with("examples", &e);
        policy_free(p);
}

static void test_drsd_yaml(void **state) {
        _cleanup_free_ char *f = path("drsd.yaml");
        DrsConfig *c = NULL;
        PolicyError e = {};

        if (drs_config_load_file(f, &c, &e) < 0)
                fail_with(f, &e);
        assert_int_equal(c->mode, DRS_MODE_STANDALONE);
        assert_int_equal(c->n_hosts, 3);
        assert_null(c->metrics_listen);
        drs_config_free(c);
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

static void test_example_snapshots(void **state) {
        _cleanup_free_ char *dir = path("examples");
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *f = NULL;
                Problem *p = NULL;
                PolicyError e = {};

                if (strncmp(de->d_name, "cluster", 7) != 0 || !strstr(de->d_name, ".yaml"))
                        continue;
                assert_true(asprintf(&f, "%s/%s", dir, de->d_name) > 0);
                if (snapshot_load_file(f, &p, &e) < 0)
                        fail_with(f, &e);
                assert_true(p->n_hosts > 0);
                problem_free(p);
                n++;
        }
        closedir(d);
        print_message("%u example snapshots parsed\n", n);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_policy),        cmocka_unit_test(test_rules_example),
                cmocka_unit_test(test_windows_example),       cmocka_unit_test(test_dpm_example),
                cmocka_unit_test(test_all_examples_together), cmocka_unit_test(test_drsd_yaml),
                cmocka_unit_test(test_example_snapshots),
        };

        if (argc != 2)
                return EXIT_FAILURE;
        config_dir = argv[1];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
