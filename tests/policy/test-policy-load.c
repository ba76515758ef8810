/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loader: main file + drop-in directory, file lists, drsd.yaml from disk.
 *
 *   test-policy-load DROPINS_DIR   (tests/policy/golden/valid/dropins) */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "policy-load.h"
#include "yaml-tree.h"

/* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS under it. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

static const char *dropins_dir;
static char tmpdir[] = "/tmp/test-policy-load.XXXXXX";

static char *tmp_path(const char *name) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static void write_file(const char *name, const char *content) {
        _cleanup_free_ char *p = tmp_path(name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static void test_dropin_dir(void **state) {
        _cleanup_free_ char *main_path = NULL, *dir = NULL;
        Policy *p = NULL;
        PolicyError e = {};

        assert_true(asprintf(&main_path, "%s/policy.yaml", dropins_dir) > 0);
        assert_true(asprintf(&dir, "%s/policy.d", dropins_dir) > 0);
        assert_int_equal(policy_load(main_path, dir, &p, &e), 0);
        /* 20-tuning.yaml comes after 10-db.yaml; *.yaml.bak and .hidden.yaml are ignored */
        assert_int_equal(p->balance.aggressiveness, 4);
        assert_int_equal(p->balance.max_moves_per_pass, 20);
        assert_int_equal(p->n_groups, 3);
        assert_int_equal(p->n_rules, 2);
        assert_string_equal(
                p->rules[1].file + strlen(p->rules[1].file) - strlen("policy.d/10-db.yaml"),
                "policy.d/10-db.yaml");
        assert_int_equal(p->automation.n_overrides, 2);
        assert_int_equal(strv_length(p->dpm.exclude), 2);
        assert_int_equal(p->migration.n_max_downtime_ms, 2);
        policy_free(p);

        /* A missing drop-in directory is fine, a missing main file is not. */
        assert_int_equal(policy_load(main_path, "/nonexistent/policy.d", &p, &e), 0);
        assert_int_equal(p->balance.aggressiveness, 2);
        policy_free(p);
        p = NULL;
        assert_int_equal(policy_load("/nonexistent/policy.yaml", dir, &p, &e), -ENOENT);
        assert_null(p);
        assert_string_equal(e.file, "/nonexistent/policy.yaml");
        assert_int_equal(e.line, 0);
        assert_non_null(strstr(e.message, "No such file"));
        policy_error_clear(&e);
        /* Drop-ins alone. */
        assert_int_equal(policy_load(NULL, "/nonexistent", &p, &e), 0);
        assert_int_equal(p->balance.aggressiveness, 3);
        policy_free(p);
}

static void test_dropin_order_and_errors(void **state) {
        _cleanup_free_ char *d = tmp_path("p.d"), *m = tmp_path("main.yaml");
        Policy *p = NULL;
        PolicyError e = {};

        assert_int_equal(mkdir(d, 0755), 0);
        write_file("main.yaml", "groups: {vms: {web: []}}\n");
        write_file("p.d/b.yaml", "balance: {aggressiveness: 5}\n");
        write_file(
                "p.d/a.yaml",
                "balance: {aggressiveness: 1}\nrules: [{name: r, type: keep-apart, vms: db}]\n");
        write_file("p.d/c.yaml", "groups: {vms: {db: []}}\n");
        /* The rule in a.yaml names a group defined later in c.yaml: fine, validation runs last. */
        assert_int_equal(policy_load(m, d, &p, &e), 0);
        assert_int_equal(p->balance.aggressiveness, 5);
        policy_free(p);

        write_file("p.d/d.yaml", "groups: {vms: {web: [x]}}\n");
        assert_int_equal(policy_load(m, d, &p, &e), -EINVAL);
        assert_non_null(strstr(e.file, "p.d/d.yaml"));
        assert_int_equal(e.line, 1);
        assert_string_equal(e.message, "group 'web' is already defined");
        policy_error_clear(&e);
}

static void test_file_list_and_overlay(void **state) {
        _cleanup_free_ char *a = tmp_path("one.yaml"), *b = tmp_path("two.yaml"),
                            *bad = tmp_path("bad.yaml");
        Policy *p = NULL;
        PolicyError e = {};

        write_file("one.yaml", "balance: {aggressiveness: 2}\n");
        write_file("two.yaml", "balance: {max_moves_per_pass: 7}\n");
        write_file("bad.yaml", "rules: [{name: r, type: keep-apart, vms: nope}]\n");
        assert_int_equal(policy_load_files((char *[]){a, b, NULL}, &p, &e), 0);
        assert_int_equal(p->balance.aggressiveness, 2);
        assert_int_equal(p->balance.max_moves_per_pass, 7);
        /* Overlay that fails validation: p unchanged. */
        assert_int_equal(policy_overlay_files(p, (char *[]){bad, NULL}, &e), -EINVAL);
        assert_string_equal(e.message, "rule 'r' names unknown VM group 'nope'");
        assert_int_equal(p->n_rules, 0);
        policy_error_clear(&e);
        policy_free(p);
}

static void test_read_limits(void **state) {
        _cleanup_free_ char *big = tmp_path("big.yaml");
        char *buf = NULL;
        size_t len = 0;
        PolicyError e = {};
        int fd;

        fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 4 * 1024 * 1024 + 1), 0);
        close(fd);
        assert_int_equal(policy_read_file(big, &buf, &len, &e), -EINVAL);
        assert_non_null(strstr(e.message, "larger than"));
        policy_error_clear(&e);
        assert_int_equal(policy_read_file(tmpdir, &buf, &len, &e), -EISDIR);
        policy_error_clear(&e);
        assert_null(buf);
}

/* The buffer follows the file, up to the bound (which is only a bound, not an allocation). */
static void test_read_grows(void **state) {
        _cleanup_free_ char *f = tmp_path("sized.yaml"), *content = malloc(100 * 1024 + 1);
        char *buf = NULL;
        size_t len = 0;
        PolicyError e = {};

        assert_non_null(content);
        for (size_t i = 0; i < 100 * 1024; i++)
                content[i] = i % 64 == 63 ? '\n' : 'a' + (char) (i % 26);
        content[100 * 1024] = 0;
        write_file("sized.yaml", "");
        assert_int_equal(policy_read_file_bounded(f, 10, &buf, &len, &e), 0);
        assert_int_equal(len, 0);
        assert_string_equal(buf, "");
        free(buf);
        write_file("sized.yaml", content);
        assert_int_equal(policy_read_file_bounded(f, 100 * 1024, &buf, &len, &e), 0);
        assert_int_equal(len, 100 * 1024);
        assert_int_equal(memcmp(buf, content, len), 0);
        assert_int_equal(buf[len], 0);
        free(buf);
        buf = NULL;
        assert_int_equal(policy_read_file_bounded(f, 100 * 1024 - 1, &buf, &len, &e), -EINVAL);
        assert_non_null(strstr(e.message, "file larger than 102399 bytes"));
        assert_string_equal(e.file, f);
        policy_error_clear(&e);
        assert_null(buf);
}

/* A small snapshot reads within a small address space (ulimit -v 100000): the reader once
 * allocated its 128 MiB bound up front. In a child, as the limit cannot be raised again. */
static void test_read_low_rlimit_as(void **state) {
#ifdef HAVE_ASAN
        skip();
#else
        static const char snapshot[] = "hosts:\n  - {name: h1, cpus: 8, memory_mib: 16384}\nvms: []\n";
        _cleanup_free_ char *f = tmp_path("small-snapshot.yaml");
        int status;
        pid_t pid;

        write_file("small-snapshot.yaml", snapshot);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit rl = {.rlim_cur = 100000 * 1024, .rlim_max = 100000 * 1024};
                char *buf = NULL;
                size_t len = 0;
                PolicyError e = {};
                int r;

                if (setrlimit(RLIMIT_AS, &rl) < 0)
                        _exit(2);
                r = policy_read_file_bounded(f, YTREE_SNAPSHOT_MAX_INPUT, &buf, &len, &e);
                _exit(r == 0 && len == strlen(snapshot) && streq(buf, snapshot) ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

static void test_config_file(void **state) {
        _cleanup_free_ char *c = tmp_path("drsd.yaml");
        DrsConfig *cfg = NULL;
        PolicyError e = {};

        write_file(
                "drsd.yaml", "mode: corosync\ninterval: 5s\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n");
        assert_int_equal(drs_config_load_file(c, &cfg, &e), 0);
        assert_true(cfg->interval_s == 5);
        drs_config_free(cfg);
        write_file("drsd.yaml", "mode: corosync\ninterval: 5 s\n");
        assert_int_equal(drs_config_load_file(c, &cfg, &e), -EINVAL);
        assert_string_equal(e.file, c);
        assert_int_equal(e.line, 2);
        policy_error_clear(&e);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dropin_dir),
                cmocka_unit_test(test_dropin_order_and_errors),
                cmocka_unit_test(test_file_list_and_overlay),
                cmocka_unit_test(test_read_limits),
                cmocka_unit_test(test_read_grows),
                cmocka_unit_test(test_read_low_rlimit_as),
                cmocka_unit_test(test_config_file),
        };
        char cmd[64];
        int r;

        if (argc != 2)
                return EXIT_FAILURE;
        dropins_dir = argv[1];
        if (!mkdtemp(tmpdir))
                return EXIT_FAILURE;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                r = EXIT_FAILURE;
        return r;
}
