/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

typedef struct WorkerItem {
        struct WorkerItem *next;
        WorkerFunc fn;
        void *data;
        void (*free_data)(void *);
} WorkerItem;

struct WorkerQueue {
        unsigned n_ref; /* under lock */
        pthread_mutex_t lock;
        int efd;
        sd_event_source *source; /* main thread only */
        void *userdata;
        bool closed;             /* under lock */
        WorkerItem *head, *tail; /* under lock; FIFO */
};

static void item_free(WorkerItem *i) {
        if (!i)
                return;
        if (i->free_data)
                i->free_data(i->data);
        free(i);
}

static void items_free(WorkerItem *i) {
        while (i) {
                WorkerItem *next = i->next;
                item_free(i);
                i = next;
        }
}

static int on_eventfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WorkerQueue *q = userdata;
        uint64_t v;

        (void) !read(fd, &v, sizeof(v));
        (void) worker_queue_dispatch(q);
        return 0;
}

int worker_queue_new(sd_event *e, void *userdata, WorkerQueue **ret) {
        WorkerQueue *q;
        int r;

        if (!e || !ret)
                return -EINVAL;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->n_ref = 1;
        q->userdata = userdata;
        pthread_mutex_init(&q->lock, NULL);
        q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->efd < 0) {
                r = -errno;
                worker_queue_unref(q);
                return r;
        }
        r = sd_event_add_io(e, &q->source, q->efd, EPOLLIN, on_eventfd, q);
        if (r < 0) {
                worker_queue_unref(q);
                return r;
        }
        (void) sd_event_source_set_description(q->source, "worker-queue");
        *ret = q;
        return 0;
}

WorkerQueue *worker_queue_ref(WorkerQueue *q) {
        if (!q)
                return NULL;
        pthread_mutex_lock(&q->lock);
        q->n_ref++;
        pthread_mutex_unlock(&q->lock);
        return q;
}

WorkerQueue *worker_queue_unref(WorkerQueue *q) {
        unsigned n;

        if (!q)
                return NULL;
        pthread_mutex_lock(&q->lock);
        n = --q->n_ref;
        pthread_mutex_unlock(&q->lock);
        if (n > 0)
                return NULL;
        /* The last reference: no thread can post any more. The event source was removed by
         * worker_queue_close() on the main thread (or is removed here, when the main thread
         * drops the last reference without closing). */
        q->source = sd_event_source_disable_unref(q->source);
        items_free(q->head);
        if (q->efd >= 0)
                close(q->efd);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
}

void worker_queue_close(WorkerQueue *q) {
        WorkerItem *pending;

        if (!q)
                return;
        pthread_mutex_lock(&q->lock);
        q->closed = true;
        pending = q->head;
        q->head = q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        q->source = sd_event_source_disable_unref(q->source);
        items_free(pending);
}

int worker_queue_post(WorkerQueue *q, WorkerFunc fn, void *data, void (*free_data)(void *)) {
        WorkerItem *i;
        uint64_t one = 1;

        i = calloc(1, sizeof(*i));
        if (!i) {
                if (free_data)
                        free_data(data);
                return -ENOMEM;
        }
        *i = (WorkerItem){.fn = fn, .data = data, .free_data = free_data};

        pthread_mutex_lock(&q->lock);
        if (q->closed) {
                pthread_mutex_unlock(&q->lock);
                item_free(i);
                return -ESHUTDOWN;
        }
        if (q->tail)
                q->tail->next = i;
        else
                q->head = i;
        q->tail = i;
        /* Under the lock: close() cannot have closed the fd in between. */
        (void) !write(q->efd, &one, sizeof(one));
        pthread_mutex_unlock(&q->lock);
        return 0;
}

unsigned worker_queue_dispatch(WorkerQueue *q) {
        _cleanup_(worker_queue_unrefp) WorkerQueue *ref = worker_queue_ref(q);
        unsigned n = 0;

        /* One item at a time: an item's function may post, or close the queue (and drop its
         * owner's reference: ours keeps q valid until we return). */
        for (;;) {
                WorkerItem *i;

                pthread_mutex_lock(&q->lock);
                if (q->closed || !q->head) {
                        pthread_mutex_unlock(&q->lock);
                        return n;
                }
                i = q->head;
                q->head = i->next;
                if (!q->head)
                        q->tail = NULL;
                pthread_mutex_unlock(&q->lock);

                if (i->fn)
                        i->fn(i->data, q->userdata);
                item_free(i);
                n++;
        }
}
