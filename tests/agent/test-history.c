/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
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
#include "history.h"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-history-XXXXXX");
        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_append_and_read(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        History *h = NULL;
        HistoryEvent *ev = NULL;
        size_t n, n_bad;

        assert_int_equal(history_open(dir, 0, &h), 0);
        for (uint64_t t = 1; t <= 5; t++) {
                char vm[16];
                snprintf(vm, sizeof(vm), "vm%" PRIu64, t);
                HistoryEvent e = {
                        .time_usec = t * 1000000,
                        .type = (char *) "migration",
                        .vm = vm,
                        .source = (char *) "h1",
                        .target = (char *) "h2",
                        .reason = (char *) "balance",
                        .result = (char *) "completed",
                        .duration_ms = 1234,
                        .downtime_ms = t == 3 ? 0 : 42,
                        .watts = t == 2 ? 187 : 0,
                        .encryption = t == 4 ? NULL : (char *) "plain-fallback",
                        .message = (char *) "line with \"quotes\"\nand a newline",
                };
                assert_int_equal(history_append(h, &e), 0);
        }
        HistoryEvent untyped = {.time_usec = 1};
        assert_int_equal(history_append(h, &untyped), -EINVAL);
        history_free(h);

        assert_int_equal(history_read(dir, 0, 0, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 5);
        assert_int_equal(n_bad, 0);
        assert_string_equal(ev[0].vm, "vm1");
        assert_string_equal(ev[0].message, "line with \"quotes\"\nand a newline");
        assert_int_equal(ev[0].duration_ms, 1234);
        assert_int_equal(ev[2].downtime_ms, 0);
        assert_int_equal(ev[4].downtime_ms, 42);
        assert_int_equal(ev[1].watts, 187);
        assert_int_equal(ev[0].watts, 0);
        assert_string_equal(ev[0].encryption, "plain-fallback");
        assert_null(ev[3].encryption); /* absent: older writers, events without one */
        history_events_free(ev, n);

        /* --since: inclusive lower bound. */
        assert_int_equal(history_read(dir, 3000000, 0, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 3);
        assert_string_equal(ev[0].vm, "vm3");
        history_events_free(ev, n);

        /* Newest N. */
        assert_int_equal(history_read(dir, 0, 2, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 2);
        assert_string_equal(ev[0].vm, "vm4");
        assert_string_equal(ev[1].vm, "vm5");
        history_events_free(ev, n);
        rm_rf(dir);
}

static void test_torn_and_garbage_lines(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        char path[512];
        History *h = NULL;
        HistoryEvent *ev = NULL;
        size_t n, n_bad;

        snprintf(path, sizeof(path), "%s/" HISTORY_FILE_NAME, dir);
        const char text[] = "{\"time\":1,\"type\":\"daemon\"}\n"
                            "not json\n"
                            "{\"time\":2}\n"
                            "{\"time\":-3,\"type\":\"x\"}\n"
                            "{\"time\":4,\"type\":\"x\",\"future\":true}\n"
                            "{\"time\":5,\"type\":\"migr"; /* torn by a crash */
        assert_int_equal(write_file_atomic(path, text, sizeof(text) - 1, 0640), 0);

        /* Reopening terminates the torn line, so the next event is intact. */
        assert_int_equal(history_open(dir, 0, &h), 0);
        HistoryEvent e = {.time_usec = 6, .type = (char *) "daemon", .result = (char *) "started"};
        assert_int_equal(history_append(h, &e), 0);
        history_free(h);

        assert_int_equal(history_read(dir, 0, 0, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 3);
        assert_int_equal(n_bad, 4);
        assert_int_equal(ev[0].time_usec, 1);
        assert_int_equal(ev[1].time_usec, 4);
        assert_int_equal(ev[2].time_usec, 6);
        assert_string_equal(ev[2].result, "started");
        history_events_free(ev, n);
        rm_rf(dir);
}

static void test_rotation_bounds_size(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        History *h = NULL;
        HistoryEvent *ev = NULL;
        size_t n, n_bad;
        struct stat st;
        char path[512];

        assert_int_equal(history_open(dir, 4096, &h), 0);
        for (uint64_t t = 1; t <= 500; t++) {
                HistoryEvent e = {.time_usec = t, .type = (char *) "policy", .message = (char *) "reloaded"};
                assert_int_equal(history_append(h, &e), 0);
                assert_true(h->size <= 4096);
        }
        history_free(h);

        snprintf(path, sizeof(path), "%s/" HISTORY_FILE_NAME ".1", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size <= 4096);
        snprintf(path, sizeof(path), "%s/" HISTORY_FILE_NAME ".2", dir);
        assert_int_equal(stat(path, &st), -1);

        /* The newest events survive, in order, without gaps across the two files. */
        assert_int_equal(history_read(dir, 0, 0, &ev, &n, &n_bad), 0);
        assert_true(n > 50 && n < 500);
        assert_int_equal(n_bad, 0);
        assert_int_equal(ev[n - 1].time_usec, 500);
        for (size_t i = 1; i < n; i++)
                assert_int_equal(ev[i].time_usec, ev[i - 1].time_usec + 1);
        history_events_free(ev, n);
        rm_rf(dir);
}

static void test_too_long(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        History *h = NULL;
        char *big = malloc(HISTORY_MAX_LINE);
        memset(big, 'x', HISTORY_MAX_LINE - 1);
        big[HISTORY_MAX_LINE - 1] = 0;

        assert_int_equal(history_open(dir, 0, &h), 0);
        HistoryEvent e = {.time_usec = 1, .type = (char *) "x", .message = big};
        assert_int_equal(history_append(h, &e), -E2BIG);
        history_free(h);
        free(big);
        rm_rf(dir);
}

static void test_missing_dir_files(void **state) {
        _cleanup_free_ char *dir = make_tmpdir();
        HistoryEvent *ev = NULL;
        size_t n = 99, n_bad = 99;

        assert_int_equal(history_read(dir, 0, 0, &ev, &n, &n_bad), 0);
        assert_int_equal(n, 0);
        assert_int_equal(n_bad, 0);
        history_events_free(ev, n);
        rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_and_read),      cmocka_unit_test(test_torn_and_garbage_lines),
                cmocka_unit_test(test_rotation_bounds_size), cmocka_unit_test(test_too_long),
                cmocka_unit_test(test_missing_dir_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
