/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* drsd's logging: daemon code only (library modules return errors and never log).
 *
 * Two targets, chosen once by log_open(): the journal (sd_journal_sendv with structured fields:
 * MESSAGE_ID=, DRS_VM=, DRS_SOURCE=, DRS_TARGET=, DRS_REASON=, PRIORITY=, CODE_*) when stderr is
 * connected to it (JOURNAL_STREAM names stderr's device:inode) and --foreground was not given;
 * otherwise one plain readable line per message on stderr. Decisions and actions are logged with
 * log_event(); the caller also appends the same event to the history file. */

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Message IDs, 128-bit, as used by journalctl MESSAGE_ID= and a future catalog. Never reuse
 * or change one: tools match on them. */
#define DRS_MESSAGE_DAEMON_STARTED "6cba5147eed34aaaa86b061549f3ed00"
#define DRS_MESSAGE_DAEMON_STOPPING "e22b999f33ad49ba82bf6c620918d465"
#define DRS_MESSAGE_CONFIG_RELOADED "9d8a400f035e42c4bed9bd8765b53028"
#define DRS_MESSAGE_CONFIG_RELOAD_FAILED "e14b202085524f64bfe663d1d7b92e24"
#define DRS_MESSAGE_HOST_STATE_CHANGED "e3fd5070fb2644f59f89959989276a34"
#define DRS_MESSAGE_CONTROL_DENIED "e906f24e71d640c1bac43252b213ac0e"
/* Reserved for the executor and DPM (next session), declared here so all IDs live in one place. */
#define DRS_MESSAGE_MIGRATION_STARTED "eb1bbff1da7d411f9e2f61ea5b5c445a"
#define DRS_MESSAGE_MIGRATION_COMPLETED "64da2a50b2a84193b58253fcfbf61c0f"
#define DRS_MESSAGE_MIGRATION_FAILED "1e731839b9b341c8b72c992751b517c9"
#define DRS_MESSAGE_PLAN_DECIDED "1b9324f910f744a0b7a69c1f8d1602a8"
#define DRS_MESSAGE_POWER_ACTION "5d1637d44b764d1199d7ad5b22083289"
#define DRS_MESSAGE_MOVE_BENEFIT "d68817a00c4d4033b0dfd1d43beaa423"
#define DRS_MESSAGE_LEADER_CHANGED "8cc3033d7041490c9efe22fe140af4f9"
#define DRS_MESSAGE_STORAGE_MOVE "156aa6f399b24bee9d8163f6a4b073a8"
#define DRS_MESSAGE_ROLLOUT "957ee3c965fb438e84076e714558255a"

typedef enum LogTarget {
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

/* The structured part of an event; every field may be NULL. */
typedef struct LogFields {
        const char *message_id; /* one of DRS_MESSAGE_* */
        const char *vm;
        const char *source;
        const char *target;
        const char *reason;
} LogFields;

/* Picks the target: the journal when stderr is the journal stream and !foreground. */
void log_open(bool foreground);
void log_set_target(LogTarget t);
LogTarget log_get_target(void);
void log_set_max_level(int level); /* LOG_DEBUG … LOG_ERR; default LOG_INFO */
int log_get_max_level(void);

/* Logs and returns -abs(error) (or 0 when error is 0); %m expands to strerror(abs(error)). */
_printf_(6, 7) int log_internal(
        int level, int error, const char *file, int line, const char *func, const char *fmt, ...);
/* Same, with structured fields. */
_printf_(7, 8) int log_event_internal(
        int level, int error, const LogFields *fields, const char *file, int line, const char *func,
        const char *fmt, ...);

/* The stderr line for a message: "message (vm=web1 source=h1 target=h2 reason=balance)", the
 * parenthesis only when a field is set. Pure; newly allocated. */
int log_format_line(const LogFields *fields, const char *message, char **ret);

#define log_full_errno(level, error, ...)                                                                   \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)
#define log_oom() log_error_errno(-ENOMEM, "Out of memory")

#define log_event(level, fields, ...)                                                                       \
        log_event_internal(level, 0, fields, __FILE__, __LINE__, __func__, __VA_ARGS__)
