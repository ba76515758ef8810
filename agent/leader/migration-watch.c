/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stall ladder of a migration attempt: pure decisions per job-stats poll. */

#include "migration-watch.h"

void migration_watch_init(
        MigrationWatch *w, const uint64_t *downtimes_ms, size_t n_downtimes, size_t step, bool allow_retry,
        uint64_t start_usec, uint64_t timeout_usec) {
        *w = (MigrationWatch){
                .downtimes_ms = downtimes_ms,
                .n_downtimes = n_downtimes,
                .step = step,
                .allow_retry = allow_retry,
                .deadline_usec = start_usec + timeout_usec,
                .min_remaining = UINT64_MAX,
        };
}

uint64_t migration_watch_poll_interval(const MigrationWatch *w, uint64_t poll_usec) {
        if (w->seen_running || poll_usec < MIGRATION_WATCH_FAST_POLL_USEC)
                return poll_usec;
        return MIGRATION_WATCH_FAST_POLL_USEC;
}

bool migration_watch_expired(const MigrationWatch *w, uint64_t now_usec) {
        return now_usec >= w->deadline_usec;
}

MigrationWatchAction migration_watch_poll(
        MigrationWatch *w, const HvJobInfo *ji, uint64_t *ret_set_downtime_ms, uint64_t *ret_value_ms) {
        bool stalled;

        *ret_set_downtime_ms = 0;
        *ret_value_ms = 0;
        if (!ji || ji->type != HV_JOB_RUNNING)
                return MIGRATION_WATCH_CONTINUE; /* not started yet, or just ended: migrate will say */

        w->seen_running = true;
        if (ji->memory_total_bytes == 0)
                return MIGRATION_WATCH_CONTINUE; /* setting up: no RAM numbers yet */
        if (!w->downtime_set && w->n_downtimes > 0) {
                *ret_set_downtime_ms = w->downtimes_ms[w->step];
                w->last_downtime_ms = w->downtimes_ms[w->step];
                w->downtime_set = true;
        }

        if (ji->memory_remaining_bytes < w->min_remaining) {
                w->min_remaining = ji->memory_remaining_bytes;
                w->not_shrinking = 0;
        } else
                w->not_shrinking++;
        stalled = w->not_shrinking >= MIGRATION_WATCH_STALL_POLLS;
        if (w->grace > 0)
                w->grace--;
        else if (
                ji->memory_iteration >= 2 && ji->memory_bps > 0 && ji->memory_page_size > 0 &&
                ji->memory_dirty_rate_pps > 0 &&
                ji->memory_dirty_rate_pps >= ji->memory_bps / ji->memory_page_size)
                stalled = true;
        if (!stalled)
                return MIGRATION_WATCH_CONTINUE;

        if (w->step + 1 < w->n_downtimes) {
                w->step++;
                w->last_downtime_ms = w->downtimes_ms[w->step];
                w->stall_steps++;
                w->not_shrinking = 0;
                w->grace = MIGRATION_WATCH_STALL_POLLS;
                *ret_value_ms = w->downtimes_ms[w->step];
                return MIGRATION_WATCH_RAISE_DOWNTIME;
        }
        if (w->allow_retry) {
                w->stall_steps++;
                return MIGRATION_WATCH_RETRY;
        }
        *ret_value_ms = w->last_downtime_ms;
        return MIGRATION_WATCH_ABORT_STALL;
}
