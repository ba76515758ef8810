/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The poller: one worker thread per configured host. Every interval (counted from the start of
 * the previous collection) the thread makes sure it has a live connection — reconnecting with
 * exponential backoff, 1 s doubling up to 60 s, while the host does not answer — and calls
 * ops->host_stats() (timestamped at call start). The sample, or the error, is handed to the
 * sd-event main thread through a WorkerQueue, where the callback runs:
 *
 *     cb(host, stats, NULL, userdata)   a good sample (valid during the call only)
 *     cb(host, NULL, error, userdata)   a failed connection or collection
 *
 * The manager feeds those to the collector (collector_feed / collector_feed_error).
 * Everything here is called on the main thread. poller_free() stops and joins every thread:
 * it waits for libvirt calls in progress (bounded by the keepalive, ~15 s, for a dead host). */

#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv.h"
#include "macro.h"

typedef struct Poller Poller;

typedef void (*PollerCallback)(const char *host, const HvHostStats *s, const char *error, void *userdata);

#define POLLER_BACKOFF_MIN_USEC (UINT64_C(1) * 1000000)
#define POLLER_BACKOFF_MAX_USEC (UINT64_C(60) * 1000000)

int poller_new(
        sd_event *e, const HvOps *ops, uint64_t interval_usec, PollerCallback cb, void *userdata,
        Poller **ret);
Poller *poller_free(Poller *p); /* NULL-safe; stops and joins the threads */
DEFINE_TRIVIAL_CLEANUP_FUNC(Poller *, poller_free);

/* Starts collecting host (at once, then every interval). -EEXIST when it is already there. */
int poller_add_host(Poller *p, const char *host, const char *uri);
/* Stops collecting host: its thread is told to stop and is joined once it has (it may be in
 * a libvirt call); no callback for host runs after this returns. -ENOENT when unknown. */
int poller_remove_host(Poller *p, const char *host);
bool poller_has_host(const Poller *p, const char *host);

/* A reload: the new interval applies from each thread's next wait. */
void poller_set_interval(Poller *p, uint64_t interval_usec);
/* Tests: the reconnect backoff bounds (defaults POLLER_BACKOFF_*). */
void poller_set_backoff(Poller *p, uint64_t min_usec, uint64_t max_usec);
/* Collects host (NULL: every host) now instead of at the next tick. */
void poller_trigger(Poller *p, const char *host);
