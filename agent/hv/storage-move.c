/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Storage moves: one thread per request (see storage-move.h). A Move is refcounted: the main
 * thread's running list and the thread each hold a reference, because a thread may outlive the
 * mover (shutdown while a copy runs). */

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "storage-move.h"
#include "worker.h"

typedef struct Move {
        atomic_uint n_ref;
        const HvOps *ops;
        WorkerQueue *queue;                  /* ref */
        char *vm, *host, *uri, *pool, *disk; /* owned; req points into them */
        StorageMoveRequest req;
        StorageMoveDone done;
        void *userdata;
        pthread_t thread;
        bool started;
        atomic_bool shutdown;
        StorageMoveOutcome outcome; /* written by the thread before it posts */
} Move;

struct StorageMover {
        sd_event *event;
        const HvOps *ops;
        WorkerQueue *queue; /* owned ref */
        Move **running;     /* owned refs */
        size_t n_running;
};

static Move *move_ref(Move *mv) {
        atomic_fetch_add(&mv->n_ref, 1);
        return mv;
}

static void move_unref(Move *mv) {
        if (!mv || atomic_fetch_sub(&mv->n_ref, 1) != 1)
                return;
        free(mv->vm);
        free(mv->host);
        free(mv->uri);
        free(mv->pool);
        free(mv->disk);
        free(mv->outcome.message);
        free(mv->outcome.warning);
        strv_free(mv->outcome.moved);
        worker_queue_unref(mv->queue);
        free(mv);
}

static void move_unref_void(void *p) {
        move_unref(p);
}

_printf_(3, 4) static void fail(Move *mv, int r, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(mv->outcome.message);
        mv->outcome.message = m;
        mv->outcome.error = r < 0 ? r : -EIO;
}

static void run_move(Move *mv) {
        const HvOps *ops = mv->ops;
        _cleanup_strv_free_ char **disks = NULL;
        _cleanup_free_ char *msg = NULL;
        HvConn *c = NULL;
        uint64_t t0 = hv_now_usec();
        bool all_removed = true;
        int r;

        r = ops->open(mv->uri, &c, &msg);
        if (r < 0) {
                fail(mv, r, "cannot connect to '%s': %s", mv->host, msg ? msg : strerror(-r));
                goto out;
        }
        if (mv->disk) {
                if (strv_extend(&disks, mv->disk) < 0) {
                        fail(mv, -ENOMEM, "out of memory");
                        goto out;
                }
        } else {
                r = ops->domain_disks(c, mv->vm, &disks, &msg);
                if (r < 0) {
                        fail(mv, r, "cannot list the disks of '%s': %s", mv->vm, msg ? msg : strerror(-r));
                        goto out;
                }
                if (strv_length(disks) == 0) {
                        fail(mv, -ENOENT, "'%s' has no movable file disk", mv->vm);
                        goto out;
                }
        }
        for (char **d = disks; d && *d; d++) {
                _cleanup_(hv_block_copy_result_done) HvBlockCopyResult res = {};
                _cleanup_free_ char *line = NULL;
                HvBlockCopyParams p = {
                        .disk = *d,
                        .pool = mv->pool,
                        .force = mv->req.force,
                        .remove_source = mv->req.remove_source,
                        .bandwidth_mib_s = mv->req.bandwidth_mib_s,
                        .timeout_ms = mv->req.timeout_ms,
                };

                if (atomic_load(&mv->shutdown))
                        break;
                free(msg);
                msg = NULL;
                r = ops->block_copy(c, mv->vm, &p, &res, &msg);
                if (r < 0) {
                        fail(mv, r, "disk '%s': %s", *d, msg ? msg : strerror(-r));
                        break;
                }
                mv->outcome.bytes += res.bytes;
                if (!res.source_removed)
                        all_removed = false;
                if (asprintf(&line, "%s %s -> %s", *d, res.old_path, res.new_path) < 0 ||
                    strv_extend(&mv->outcome.moved, line) < 0) {
                        fail(mv, -ENOMEM, "out of memory");
                        break;
                }
                if (res.warning && !mv->outcome.warning)
                        mv->outcome.warning = TAKE_PTR(res.warning);
        }
        mv->outcome.source_removed = all_removed && strv_length(mv->outcome.moved) > 0;
out:
        mv->outcome.duration_ms = (hv_now_usec() - t0) / 1000;
        if (c)
                ops->close(c);
}

static void on_done(void *data, void *userdata) {
        Move *mv = data;
        StorageMover *m = userdata;

        for (size_t i = 0; i < m->n_running; i++)
                if (m->running[i] == mv) {
                        memmove(&m->running[i], &m->running[i + 1], sizeof(Move *) * (m->n_running - i - 1));
                        m->n_running--;
                        break;
                }
        if (mv->started) {
                pthread_join(mv->thread, NULL);
                mv->started = false;
        }
        if (mv->done)
                mv->done(&mv->req, &mv->outcome, mv->userdata);
        move_unref(mv); /* the running list's reference */
}

static void *move_thread(void *userdata) {
        Move *mv = userdata;

        run_move(mv);
        if (!atomic_load(&mv->shutdown))
                (void) worker_queue_post(mv->queue, on_done, move_ref(mv), move_unref_void);
        move_unref(mv); /* the thread's reference */
        return NULL;
}

int storage_mover_new(sd_event *e, const HvOps *ops, StorageMover **ret) {
        StorageMover *m;
        int r;

        if (!e || !ops || !ret)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->ops = ops;
        r = worker_queue_new(e, m, &m->queue);
        if (r < 0) {
                sd_event_unref(m->event);
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

StorageMover *storage_mover_free(StorageMover *m) {
        if (!m)
                return NULL;
        worker_queue_close(m->queue);
        for (size_t i = 0; i < m->n_running; i++) {
                Move *mv = m->running[i];
                atomic_store(&mv->shutdown, true);
                if (mv->started)
                        pthread_detach(mv->thread);
                move_unref(mv);
        }
        free(m->running);
        worker_queue_unref(m->queue);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int storage_mover_submit(
        StorageMover *m, const StorageMoveRequest *req, StorageMoveDone done, void *userdata) {
        Move *mv, **l;
        int r;

        if (!m || !req || !req->vm || !req->host || !req->uri || !req->pool)
                return -EINVAL;
        if (!m->ops->block_copy || !m->ops->domain_disks)
                return -EOPNOTSUPP;
        if (storage_mover_vm_busy(m, req->vm))
                return -EBUSY;
        l = realloc(m->running, sizeof(Move *) * (m->n_running + 1));
        if (!l)
                return -ENOMEM;
        m->running = l;
        mv = calloc(1, sizeof(*mv));
        if (!mv)
                return -ENOMEM;
        atomic_init(&mv->n_ref, 1);
        mv->ops = m->ops;
        mv->queue = worker_queue_ref(m->queue);
        mv->done = done;
        mv->userdata = userdata;
        if (dup_opt(req->vm, &mv->vm) < 0 || dup_opt(req->host, &mv->host) < 0 ||
            dup_opt(req->uri, &mv->uri) < 0 || dup_opt(req->pool, &mv->pool) < 0 ||
            dup_opt(req->disk, &mv->disk) < 0) {
                move_unref(mv);
                return -ENOMEM;
        }
        mv->req = *req;
        mv->req.vm = mv->vm;
        mv->req.host = mv->host;
        mv->req.uri = mv->uri;
        mv->req.pool = mv->pool;
        mv->req.disk = mv->disk;

        move_ref(mv); /* the thread's */
        r = -pthread_create(&mv->thread, NULL, move_thread, mv);
        if (r < 0) {
                move_unref(mv);
                move_unref(mv);
                return r;
        }
        mv->started = true;
        m->running[m->n_running++] = mv;
        return 0;
}

bool storage_mover_vm_busy(const StorageMover *m, const char *vm) {
        if (!m || !vm)
                return false;
        for (size_t i = 0; i < m->n_running; i++)
                if (streq(m->running[i]->vm, vm))
                        return true;
        return false;
}

unsigned storage_mover_n_running(const StorageMover *m) {
        return m ? (unsigned) m->n_running : 0;
}
