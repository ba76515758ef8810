/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The stall ladder of one migration attempt, as a pure state machine: what the executor's
 * watcher thread decides after each job-stats poll, without threads, clock or I/O, so that the
 * simulator (sim/) runs the very same decisions on its virtual clock.
 *
 *   - Before each poll the caller asks migration_watch_expired(): at the deadline (start of the
 *     attempt + timeout) the attempt is aborted (MIGRATION_WATCH_ABORT_TIMEOUT).
 *   - Each poll's job stats go to migration_watch_poll() (NULL when the query failed). A job not
 *     running yet (or just ended), or still setting up (no RAM numbers), changes nothing. The
 *     first running poll with RAM numbers sets the first max downtime of the schedule (from the
 *     attempt's start step): *ret_set_downtime_ms.
 *   - A poll is "not shrinking" when remaining memory is no new low; STALL_POLLS such polls in a
 *     row, or dirty rate (pps × page size) ≥ transfer rate from the second iteration on (except
 *     during the STALL_POLLS polls after a raise), is a stall. A stall raises max downtime to the
 *     next step (MIGRATION_WATCH_RAISE_DOWNTIME, the new value in *ret_value_ms); with the
 *     schedule exhausted it aborts to retry with auto-converge when allowed
 *     (MIGRATION_WATCH_RETRY), else for good (MIGRATION_WATCH_ABORT_STALL, the downtime in
 *     force in *ret_value_ms).
 *
 * The caller polls faster until the job is seen running: migration_watch_poll_interval(). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv-types.h"

#define MIGRATION_WATCH_STALL_POLLS 3
/* Poll interval until the job is seen running: the first max downtime is set right after the start. */
#define MIGRATION_WATCH_FAST_POLL_USEC (UINT64_C(200) * 1000)

typedef enum MigrationWatchAction {
        MIGRATION_WATCH_CONTINUE,
        MIGRATION_WATCH_RAISE_DOWNTIME, /* set max downtime to *ret_value_ms and keep going */
        MIGRATION_WATCH_RETRY,          /* abort, then retry once with auto-converge */
        MIGRATION_WATCH_ABORT_STALL,    /* abort for good */
        MIGRATION_WATCH_ABORT_TIMEOUT,  /* abort: the attempt's timeout passed */
} MigrationWatchAction;

typedef struct MigrationWatch {
        const uint64_t *downtimes_ms; /* borrowed: the policy's schedule */
        size_t n_downtimes;
        size_t step; /* index of the max downtime in force */
        bool allow_retry;
        uint64_t deadline_usec;
        uint64_t min_remaining;
        unsigned not_shrinking, grace;
        bool downtime_set, seen_running;
        uint64_t last_downtime_ms; /* the max downtime set last; 0 = none yet */
        unsigned stall_steps;      /* downtime raises and the auto-converge retry */
} MigrationWatch;

/* One attempt starting at start_usec on the caller's clock, at the schedule's step `step`. */
void migration_watch_init(
        MigrationWatch *w, const uint64_t *downtimes_ms, size_t n_downtimes, size_t step, bool allow_retry,
        uint64_t start_usec, uint64_t timeout_usec);

/* Until the next poll: the normal interval once the job was seen running, else at most
 * MIGRATION_WATCH_FAST_POLL_USEC. */
uint64_t migration_watch_poll_interval(const MigrationWatch *w, uint64_t poll_usec);

bool migration_watch_expired(const MigrationWatch *w, uint64_t now_usec);

/* One poll. *ret_set_downtime_ms: > 0 when the first max downtime must be set now (before the
 * action). *ret_value_ms: the action's downtime (see above). */
MigrationWatchAction migration_watch_poll(
        MigrationWatch *w, const HvJobInfo *ji, uint64_t *ret_set_downtime_ms, uint64_t *ret_value_ms);
