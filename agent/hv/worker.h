/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Worker threads talk back to the sd-event main thread through a WorkerQueue: any thread posts
 * an item (a function, its data and the data's destructor); the main thread, woken by an
 * eventfd, runs the items in posting order. The main thread owns all state: an item's function
 * is where results are applied.
 *
 * The queue is refcounted, because a worker thread may outlive its owner (the executor detaches
 * migrations still blocked in libvirt at shutdown): worker_queue_close() on the main thread
 * removes the event source and frees the items still pending without running them; a post
 * after that frees its data at once and returns -ESHUTDOWN. The last unref (any thread) frees
 * the queue. */

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct WorkerQueue WorkerQueue;

/* Runs on the main thread. data is freed by the item's destructor afterwards. */
typedef void (*WorkerFunc)(void *data, void *userdata);

/* userdata is passed to every item's function. */
int worker_queue_new(sd_event *e, void *userdata, WorkerQueue **ret);
WorkerQueue *worker_queue_ref(WorkerQueue *q);
WorkerQueue *worker_queue_unref(WorkerQueue *q); /* NULL-safe; returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(WorkerQueue *, worker_queue_unref);

/* Main thread: stops dispatching; pending items are freed without running. Idempotent. */
void worker_queue_close(WorkerQueue *q);

/* Any thread. Takes ownership of data (freed with free_data, which may be NULL, in every case).
 * Returns 0, -ESHUTDOWN after close, -ENOMEM. */
int worker_queue_post(WorkerQueue *q, WorkerFunc fn, void *data, void (*free_data)(void *));

/* Main thread: runs every pending item now (also what the eventfd handler does). Returns the
 * number run. */
unsigned worker_queue_dispatch(WorkerQueue *q);
