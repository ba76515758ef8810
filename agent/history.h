/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The history file: an append-only JSON-lines record of what drs decided and did, in the state
 * directory, read by `drsctl history`.
 *
 * One event per line, written with a single write() to an O_APPEND file, so a crash leaves at
 * most one torn last line (the reader skips lines it cannot parse). When the file would grow
 * past max_bytes it is renamed to HISTORY_FILE_NAME.1 (replacing the previous one) and a new
 * file is started: at most two files, about 2 × max_bytes on disk. Library code: never logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

#define HISTORY_FILE_NAME "history.jsonl"
#define HISTORY_DEFAULT_MAX_BYTES (16U * 1024U * 1024U)
#define HISTORY_MAX_LINE (64U * 1024U)

typedef struct HistoryEvent {
        uint64_t time_usec; /* CLOCK_REALTIME */
        char *type;   /* owned; required: "migration", "power", "maintenance", "policy", "daemon", … */
        char *vm;     /* owned; may be NULL */
        char *source; /* owned; may be NULL */
        char *target; /* owned; may be NULL */
        char *reason; /* owned; may be NULL: "balance", "maintenance", "rule 'db-apart'", … */
        char *result; /* owned; may be NULL: "started", "completed", "failed", "skipped", … */
        uint64_t duration_ms; /* 0 = not applicable */
        uint64_t downtime_ms; /* 0 = not applicable */
        uint64_t watts;       /* power events: a standby's draw before it (what it saves), a
                                 power-on's idle draw by its model; 0 = unknown */
        /* benefit events: the gain the plan predicted for the move and what it realized
         * after_s seconds after it completed (has_gain false: not a benefit event) */
        bool has_gain;
        double predicted_gain, realized_gain;
        uint64_t after_s;
        char *encryption; /* owned; may be NULL: migration results: "tls", "plain", "plain-fallback",
                             "unknown" (migration_encryption_to_string()) */
        char *message;    /* owned; may be NULL */
} HistoryEvent;

void history_event_done(HistoryEvent *e);
void history_events_free(HistoryEvent *events, size_t n);

/* Pure: one event as a JSON object (absent fields omitted) and back. from_json refuses
 * objects without "time" and "type" (-EBADMSG) and ignores unknown keys (newer writers). */
int history_event_to_json(const HistoryEvent *e, json_object **ret);
int history_event_from_json(json_object *o, HistoryEvent *ret);

typedef struct History {
        char *dir;  /* owned */
        char *path; /* owned; DIR/history.jsonl */
        int fd;     /* O_APPEND|O_CLOEXEC; -EBADF when closed */
        uint64_t size;
        uint64_t max_bytes;
} History;

/* Opens (creating, mode 0640) DIR/history.jsonl for appending. max_bytes 0 = default. */
int history_open(const char *dir, uint64_t max_bytes, History **ret);
History *history_free(History *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(History *, history_free);

/* Appends one line (rotating first when needed). -EINVAL without type, -E2BIG when the line is
 * longer than HISTORY_MAX_LINE. */
int history_append(History *h, const HistoryEvent *e);

/* Reads DIR/history.jsonl.1 then DIR/history.jsonl, keeping events with time >= since_usec (0 =
 * all), oldest first, at most max_events of the newest (0 = no limit). Unparseable lines are
 * skipped and counted in *ret_n_bad (may be NULL). Missing files are empty. */
int history_read(
        const char *dir, uint64_t since_usec, size_t max_events, HistoryEvent **ret, size_t *ret_n,
        size_t *ret_n_bad);
