/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <time.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        uint64_t dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%" SCNu64 ":%" SCNu64, &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (uint64_t) st.st_dev == dev && (uint64_t) st.st_ino == ino;
}

void log_open(bool foreground) {
        log_target = !foreground && stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
}

void log_set_target(LogTarget t) {
        log_target = t;
}

LogTarget log_get_target(void) {
        return log_target;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_format_line(const LogFields *fields, const char *message, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputs(message, f);
        if (fields) {
                const struct {
                        const char *key, *value;
                } kv[] = {
                        {"vm", fields->vm},
                        {"source", fields->source},
                        {"target", fields->target},
                        {"reason", fields->reason},
                };
                bool first = true;
                for (size_t i = 0; i < ELEMENTSOF(kv); i++) {
                        if (!kv[i].value)
                                continue;
                        fprintf(f, "%s%s=%s", first ? " (" : " ", kv[i].key, kv[i].value);
                        first = false;
                }
                if (!first)
                        fputc(')', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static const char *level_prefix(int level) {
        switch (level) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "error: ";
        case LOG_WARNING:
                return "warning: ";
        case LOG_DEBUG:
                return "debug: ";
        default:
                return "";
        }
}

static void log_dispatch(
        int level, int error, const LogFields *fields, const char *file, int line, const char *func,
        const char *message) {
        if (log_target == LOG_TARGET_JOURNAL) {
                char *fieldv[16];
                struct iovec iov[16];
                size_t n = 0;

#define ADD(...)                                                                                            \
        do {                                                                                                \
                if (asprintf(&fieldv[n], __VA_ARGS__) >= 0)                                                 \
                        n++;                                                                                \
        } while (0)

                ADD("MESSAGE=%s", message);
                ADD("PRIORITY=%i", level);
                ADD("SYSLOG_IDENTIFIER=drsd");
                ADD("CODE_FILE=%s", file);
                ADD("CODE_LINE=%i", line);
                ADD("CODE_FUNC=%s", func);
                if (error != 0)
                        ADD("ERRNO=%i", error < 0 ? -error : error);
                if (fields) {
                        if (fields->message_id)
                                ADD("MESSAGE_ID=%s", fields->message_id);
                        if (fields->vm)
                                ADD("DRS_VM=%s", fields->vm);
                        if (fields->source)
                                ADD("DRS_SOURCE=%s", fields->source);
                        if (fields->target)
                                ADD("DRS_TARGET=%s", fields->target);
                        if (fields->reason)
                                ADD("DRS_REASON=%s", fields->reason);
                }
#undef ADD
                for (size_t i = 0; i < n; i++)
                        iov[i] = (struct iovec){.iov_base = fieldv[i], .iov_len = strlen(fieldv[i])};
                int k = sd_journal_sendv(iov, (int) n);
                for (size_t i = 0; i < n; i++)
                        free(fieldv[i]);
                if (k >= 0)
                        return;
                /* The journal is gone: fall through to stderr for this message. */
        }

        _cleanup_free_ char *text = NULL;
        if (log_format_line(fields, message, &text) < 0)
                return;
        /* DRS_LOG_TIME=1: a wall-clock time on each line (logs kept in files, as the tests do). */
        static int with_time = -1;
        if (with_time < 0) {
                const char *e = getenv("DRS_LOG_TIME");
                with_time = e && streq(e, "1");
        }
        if (with_time) {
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                localtime_r(&ts.tv_sec, &tm);
                fprintf(stderr, "%02d:%02d:%02d.%03ld drsd: %s%s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                        ts.tv_nsec / 1000000L, level_prefix(level), text);
                return;
        }
        fprintf(stderr, "drsd: %s%s\n", level_prefix(level), text);
}

static int
log_v(int level, int error, const LogFields *fields, const char *file, int line, const char *func,
      const char *fmt, va_list ap) {
        int ret = error < 0 ? error : -error;

        if (level > log_max_level)
                return ret;

        int saved = errno;
        _cleanup_free_ char *message = NULL;
        errno = error < 0 ? -error : error; /* for %m */
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        errno = saved;
        if (!message)
                return ret;

        log_dispatch(level, error, fields, file, line, func, message);
        errno = saved;
        return ret;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = log_v(level, error, NULL, file, line, func, fmt, ap);
        va_end(ap);
        return r;
}

int log_event_internal(
        int level, int error, const LogFields *fields, const char *file, int line, const char *func,
        const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = log_v(level, error, fields, file, line, func, fmt, ap);
        va_end(ap);
        return r;
}
