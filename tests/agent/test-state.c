/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "state.h"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-state-XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void write_state_file(const char *dir, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/" STATE_FILE_NAME, dir);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void test_modes(void **state) {
        for (int i = 0; i < _HOST_MODE_MAX; i++)
                assert_int_equal(host_mode_from_string(host_mode_to_string((HostMode) i)), i);
        assert_string_equal(host_mode_to_string(HOST_MODE_ENTERING_MAINTENANCE), "entering-maintenance");
        assert_int_equal(host_mode_from_string("down"), _HOST_MODE_INVALID);
        assert_null(host_mode_to_string(_HOST_MODE_MAX));
}

static void test_missing_file_is_empty(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        State *s = NULL;
        char *err = NULL;

        assert_int_equal(state_load(dir, &s, &err), 0);
        assert_int_equal(s->n_hosts, 0);
        assert_int_equal(state_get(s, "h1"), HOST_MODE_UP);
        state_free(s);
        rm_rf(dir);
}

static void test_survives_reload(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        State *s = NULL;
        char *err = NULL;

        assert_int_equal(state_load(dir, &s, &err), 0);
        assert_int_equal(
                state_set(s, "h2", HOST_MODE_ENTERING_MAINTENANCE, "drsctl evacuate by uid 0", 1000), 1);
        assert_int_equal(state_set(s, "h1", HOST_MODE_STANDBY, NULL, 2000), 1);
        assert_int_equal(state_set(s, "h3", HOST_MODE_POWER_ON_FAILED, "ipmitool exited 1", 3000), 1);
        assert_int_equal(state_set(s, "h3", HOST_MODE_POWER_ON_FAILED, "again", 4000), 0);
        assert_int_equal(state_set(s, "h2", HOST_MODE_MAINTENANCE, "empty", 5000), 1);
        assert_int_equal(state_set(s, "h1", HOST_MODE_UP, NULL, 6000), 1);
        assert_int_equal(state_set(s, "h1", HOST_MODE_UP, NULL, 6000), 0);
        assert_int_equal(state_set(s, "", HOST_MODE_STANDBY, NULL, 0), -EINVAL);
        state_free(s);

        /* A new load (a restarted drsd) sees exactly what was set. */
        assert_int_equal(state_load(dir, &s, &err), 0);
        assert_int_equal(s->n_hosts, 2);
        assert_int_equal(state_get(s, "h1"), HOST_MODE_UP);
        assert_int_equal(state_get(s, "h2"), HOST_MODE_MAINTENANCE);
        assert_int_equal(state_get(s, "h3"), HOST_MODE_POWER_ON_FAILED);
        const StateHost *h = state_find(s, "h2");
        assert_non_null(h);
        assert_string_equal(h->reason, "empty");
        assert_int_equal(h->since_usec, 5000);
        state_free(s);

        /* No temporary files left behind. */
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
        assert_int_equal(system(cmd), 0);
        rm_rf(dir);
}

static void expect_corrupt(const char *text, const char *msg) {
        _cleanup_free_ char *dir = make_tmpdir();
        State *s = NULL;
        char *err = NULL;

        write_state_file(dir, text);
        assert_int_equal(state_load(dir, &s, &err), -EBADMSG);
        assert_null(s);
        assert_non_null(err);
        if (!strstr(err, msg))
                fail_msg("for '%s': got '%s', expected '%s'", text, err, msg);
        free(err);
        rm_rf(dir);
}

static void test_corrupt_refused(void **state) {
        expect_corrupt("", "truncated or empty");
        expect_corrupt("{\"version\":1,\"hosts\":{\"h1\":{\"state\":\"maint", "truncated");
        expect_corrupt("{\"version\":1,]", "not valid JSON");
        expect_corrupt("[]", "not a JSON object");
        expect_corrupt("{\"hosts\":{}}", "'version'");
        expect_corrupt("{\"version\":2,\"hosts\":{}}", "unsupported version 2");
        expect_corrupt("{\"version\":1}", "'hosts'");
        expect_corrupt("{\"version\":1,\"hosts\":{},\"x\":1}", "unknown key 'x'");
        expect_corrupt(
                "{\"version\":1,\"hosts\":{\"h1\":{\"state\":\"asleep\"}}}", "unknown state 'asleep'");
        expect_corrupt("{\"version\":1,\"hosts\":{\"h1\":{}}}", "'state' missing");
        expect_corrupt("{\"version\":1,\"hosts\":{\"h1\":{\"state\":\"standby\",\"since\":-1}}}", "'since'");
        expect_corrupt(
                "{\"version\":1,\"hosts\":{\"h1\":{\"state\":\"standby\",\"color\":1}}}",
                "unknown key 'color'");
        expect_corrupt("{\"version\":1,\"hosts\":{}} x", "at byte 25");
}

static void test_format_parse_roundtrip(void **state) {
        State *s = NULL, *t = NULL;
        char *a = NULL, *b = NULL, *err = NULL;

        assert_int_equal(state_parse("{\"version\":1,\"hosts\":{}}", 24, &s, &err), 0);
        assert_int_equal(state_set(s, "b", HOST_MODE_STANDBY, "dpm", 7), 1);
        assert_int_equal(state_set(s, "a", HOST_MODE_MAINTENANCE, "quote \" and \\ and\nnewline", 8), 1);
        assert_int_equal(state_format(s, &a), 0);
        assert_int_equal(state_parse(a, strlen(a), &t, &err), 0);
        assert_int_equal(state_format(t, &b), 0);
        assert_string_equal(a, b);
        assert_string_equal(t->hosts[0].name, "a");
        free(a);
        free(b);
        state_free(s);
        state_free(t);
}

static void test_save_failure_rolls_back(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        State *s = NULL;
        char *err = NULL;

        assert_int_equal(state_load(dir, &s, &err), 0);
        assert_int_equal(state_set(s, "h1", HOST_MODE_MAINTENANCE, "kept", 1), 1);
        /* Point the file into a directory that does not exist: saving fails, even for root. */
        free(s->path);
        assert_true(asprintf(&s->path, "%s/gone/" STATE_FILE_NAME, dir) > 0);
        assert_int_equal(state_set(s, "h2", HOST_MODE_STANDBY, NULL, 2), -ENOENT);
        assert_int_equal(state_set(s, "h1", HOST_MODE_UP, NULL, 3), -ENOENT);
        assert_int_equal(state_set(s, "h1", HOST_MODE_STANDBY, "x", 4), -ENOENT);
        assert_int_equal(state_get(s, "h2"), HOST_MODE_UP);
        assert_int_equal(state_get(s, "h1"), HOST_MODE_MAINTENANCE);
        assert_string_equal(state_find(s, "h1")->reason, "kept");
        assert_int_equal(s->n_hosts, 1);
        state_free(s);
        rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_missing_file_is_empty),
                cmocka_unit_test(test_survives_reload),
                cmocka_unit_test(test_corrupt_refused),
                cmocka_unit_test(test_format_parse_roundtrip),
                cmocka_unit_test(test_save_failure_rolls_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
