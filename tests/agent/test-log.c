/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void test_format_line(void **state) {
        char *s = NULL;

        assert_int_equal(log_format_line(NULL, "plain", &s), 0);
        assert_string_equal(s, "plain");
        free(s);

        LogFields f = {.message_id = DRS_MESSAGE_MIGRATION_STARTED, .vm = "web1", .target = "h2"};
        assert_int_equal(log_format_line(&f, "Migrating", &s), 0);
        assert_string_equal(s, "Migrating (vm=web1 target=h2)");
        free(s);

        f = (LogFields){.vm = "a", .source = "b", .target = "c", .reason = "balance"};
        assert_int_equal(log_format_line(&f, "m", &s), 0);
        assert_string_equal(s, "m (vm=a source=b target=c reason=balance)");
        free(s);
}

static void test_returns_negative_errno(void **state) {
        log_set_target(LOG_TARGET_STDERR);
        log_set_max_level(LOG_ERR); /* keep the test output quiet */
        assert_int_equal(log_error_errno(EINVAL, "positive in: %m"), -EINVAL);
        assert_int_equal(log_error_errno(-ENOENT, "negative in: %m"), -ENOENT);
        assert_int_equal(log_debug_errno(-EIO, "filtered"), -EIO);
        assert_int_equal(log_info("nothing"), 0);
        errno = 42;
        log_error_errno(-EPERM, "errno is preserved");
        assert_int_equal(errno, 42);
}

/* %m names the error passed in, not whatever errno was; the line goes to stderr. */
static void test_stderr_line(void **state) {
        char path[] = "/tmp/test-log-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        int saved = dup(STDERR_FILENO);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);

        log_set_target(LOG_TARGET_STDERR);
        log_set_max_level(LOG_INFO);
        LogFields f = {.message_id = DRS_MESSAGE_HOST_STATE_CHANGED, .source = "h1", .reason = "operator"};
        log_event(LOG_NOTICE, &f, "Host '%s' is now %s", "h1", "maintenance");
        errno = 0;
        log_warning_errno(-ENOENT, "Failed to open 'x': %m");
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);

        char buf[512] = {};
        assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
        close(fd);
        unlink(path);
        assert_string_equal(
                buf, "drsd: Host 'h1' is now maintenance (source=h1 reason=operator)\n"
                     "drsd: warning: Failed to open 'x': No such file or directory\n");
}

static void test_open_picks_target(void **state) {
        unsetenv("JOURNAL_STREAM");
        log_open(false);
        assert_int_equal(log_get_target(), LOG_TARGET_STDERR);
        setenv("JOURNAL_STREAM", "1:2", 1); /* not our stderr */
        log_open(false);
        assert_int_equal(log_get_target(), LOG_TARGET_STDERR);
        unsetenv("JOURNAL_STREAM");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_line),
                cmocka_unit_test(test_returns_negative_errno),
                cmocka_unit_test(test_stderr_line),
                cmocka_unit_test(test_open_picks_target),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
