/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "poller.h"
#include "worker.h"

typedef struct PollerHost {
        Poller *poller;
        char *name; /* owned */
        char *uri;  /* owned */
        pthread_t thread;
        bool started; /* the thread exists and has not been joined */
        bool removed; /* main thread: no more callbacks; joined when its exit item arrives */
        /* Under poller->lock: */
        bool stop;
        bool trigger;
} PollerHost;

struct Poller {
        const HvOps *ops;
        PollerCallback cb;
        void *userdata;
        WorkerQueue *queue; /* owned */

        pthread_mutex_t lock;
        pthread_cond_t cond;    /* CLOCK_MONOTONIC; broadcast on stop, trigger and setting changes */
        uint64_t interval_usec; /* under lock */
        uint64_t backoff_min_usec, backoff_max_usec; /* under lock */

        PollerHost **hosts; /* owned; main thread; removed ones stay until joined */
        size_t n_hosts;
};

typedef struct PollerResult {
        PollerHost *host;
        bool exited; /* the thread's last item */
        bool ok;
        HvHostStats stats; /* owned when ok */
        char *error;       /* owned */
} PollerResult;

static void result_free(void *data) {
        PollerResult *r = data;

        if (!r)
                return;
        hv_host_stats_done(&r->stats);
        free(r->error);
        free(r);
}

static void host_free(PollerHost *h) {
        if (!h)
                return;
        free(h->name);
        free(h->uri);
        free(h);
}

static void host_join(PollerHost *h) {
        if (h->started) {
                pthread_join(h->thread, NULL);
                h->started = false;
        }
}

static void on_result(void *data, void *userdata);

static void post(PollerHost *h, HvHostStats *s, const char *error, bool exited) {
        PollerResult *r = calloc(1, sizeof(*r));

        if (!r) {
                hv_host_stats_done(s);
                return;
        }
        r->host = h;
        r->exited = exited;
        if (s) {
                r->ok = true;
                r->stats = *s;
                *s = (HvHostStats){};
        } else if (error) {
                r->error = strdup(error);
                if (!r->error) {
                        free(r);
                        return;
                }
        }
        (void) worker_queue_post(h->poller->queue, on_result, r, result_free);
}

static void post_error(PollerHost *h, int r, const char *prefix, const char *msg) {
        char *m = NULL;

        if (asprintf(&m, "%s%s", prefix, msg ? msg : strerror(-r)) < 0)
                return;
        post(h, NULL, m, false);
        free(m);
}

static struct timespec abs_time(uint64_t usec) {
        return (struct timespec){
                .tv_sec = (time_t) (usec / 1000000), .tv_nsec = (long) (usec % 1000000) * 1000};
}

static void *host_thread(void *userdata) {
        PollerHost *h = userdata;
        Poller *p = h->poller;
        HvConn *conn = NULL;
        uint64_t backoff = 0, last_start = 0;
        bool first = true;

        for (;;) {
                /* Wait for the next collection (or a trigger, or stop). */
                pthread_mutex_lock(&p->lock);
                for (;;) {
                        uint64_t deadline, now = hv_now_usec();

                        if (h->stop || h->trigger || first)
                                break;
                        deadline = last_start + (backoff > 0 ? backoff : p->interval_usec);
                        if (now >= deadline)
                                break;
                        struct timespec ts = abs_time(deadline);
                        (void) pthread_cond_timedwait(&p->cond, &p->lock, &ts);
                }
                if (h->stop) {
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                h->trigger = false;
                first = false;
                uint64_t bmin = p->backoff_min_usec, bmax = p->backoff_max_usec;
                pthread_mutex_unlock(&p->lock);

                last_start = hv_now_usec();

                if (conn && !p->ops->is_alive(conn)) {
                        p->ops->close(conn);
                        conn = NULL;
                }
                if (!conn) {
                        _cleanup_free_ char *msg = NULL;
                        _cleanup_free_ char *prefix = NULL;
                        int r = p->ops->open(h->uri, &conn, &msg);
                        if (r < 0) {
                                conn = NULL;
                                backoff = backoff > 0 ? backoff * 2 : bmin;
                                if (backoff > bmax)
                                        backoff = bmax;
                                if (asprintf(&prefix, "cannot connect to '%s': ", h->uri) < 0)
                                        prefix = NULL;
                                post_error(h, r, prefix ? prefix : "", msg);
                                continue;
                        }
                }
                backoff = 0;

                HvHostStats s = {};
                _cleanup_free_ char *msg = NULL;
                int r = p->ops->host_stats(conn, &s, &msg);
                if (r < 0) {
                        post_error(h, r, "", msg);
                        if (!p->ops->is_alive(conn)) {
                                /* Reconnect at the next tick (the backoff starts there). */
                                p->ops->close(conn);
                                conn = NULL;
                        }
                        continue;
                }
                post(h, &s, NULL, false);
        }

        if (conn)
                p->ops->close(conn);
        post(h, NULL, NULL, true);
        return NULL;
}

static void on_result(void *data, void *userdata) {
        PollerResult *r = data;
        Poller *p = userdata;
        PollerHost *h = r->host;

        if (r->exited) {
                /* Only removed hosts' threads exit while the poller lives. */
                host_join(h);
                for (size_t i = 0; i < p->n_hosts; i++)
                        if (p->hosts[i] == h) {
                                p->hosts[i] = p->hosts[--p->n_hosts];
                                break;
                        }
                host_free(h);
                return;
        }
        if (h->removed || !p->cb)
                return;
        p->cb(h->name, r->ok ? &r->stats : NULL, r->ok ? NULL : (r->error ? r->error : "unknown error"),
              p->userdata);
}

int poller_new(
        sd_event *e, const HvOps *ops, uint64_t interval_usec, PollerCallback cb, void *userdata,
        Poller **ret) {
        _cleanup_(poller_freep) Poller *p = NULL;
        pthread_condattr_t attr;
        int r;

        if (!e || !ops || interval_usec == 0 || !ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->ops = ops;
        p->cb = cb;
        p->userdata = userdata;
        p->interval_usec = interval_usec;
        p->backoff_min_usec = POLLER_BACKOFF_MIN_USEC;
        p->backoff_max_usec = POLLER_BACKOFF_MAX_USEC;
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &attr);
        pthread_condattr_destroy(&attr);

        r = worker_queue_new(e, p, &p->queue);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

Poller *poller_free(Poller *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_hosts; i++)
                p->hosts[i]->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n_hosts; i++)
                host_join(p->hosts[i]);
        /* The threads are gone: drop what they posted and nobody ran. */
        worker_queue_close(p->queue);
        p->queue = worker_queue_unref(p->queue);
        for (size_t i = 0; i < p->n_hosts; i++)
                host_free(p->hosts[i]);
        free(p->hosts);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

static PollerHost *find_active(const Poller *p, const char *host) {
        for (size_t i = 0; i < p->n_hosts; i++)
                if (!p->hosts[i]->removed && streq(p->hosts[i]->name, host))
                        return p->hosts[i];
        return NULL;
}

bool poller_has_host(const Poller *p, const char *host) {
        return p && host && find_active(p, host);
}

int poller_add_host(Poller *p, const char *host, const char *uri) {
        PollerHost *h, **l;
        int r;

        if (!p || !host || !uri)
                return -EINVAL;
        if (find_active(p, host))
                return -EEXIST;
        l = realloc(p->hosts, sizeof(PollerHost *) * (p->n_hosts + 1));
        if (!l)
                return -ENOMEM;
        p->hosts = l;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->poller = p;
        h->name = strdup(host);
        h->uri = strdup(uri);
        if (!h->name || !h->uri) {
                host_free(h);
                return -ENOMEM;
        }
        r = -pthread_create(&h->thread, NULL, host_thread, h);
        if (r < 0) {
                host_free(h);
                return r;
        }
        h->started = true;
        p->hosts[p->n_hosts++] = h;
        return 0;
}

int poller_remove_host(Poller *p, const char *host) {
        PollerHost *h;

        if (!p || !host)
                return -EINVAL;
        h = find_active(p, host);
        if (!h)
                return -ENOENT;
        h->removed = true;
        pthread_mutex_lock(&p->lock);
        h->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void poller_set_interval(Poller *p, uint64_t interval_usec) {
        if (!p || interval_usec == 0)
                return;
        pthread_mutex_lock(&p->lock);
        p->interval_usec = interval_usec;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

void poller_set_backoff(Poller *p, uint64_t min_usec, uint64_t max_usec) {
        if (!p || min_usec == 0 || max_usec < min_usec)
                return;
        pthread_mutex_lock(&p->lock);
        p->backoff_min_usec = min_usec;
        p->backoff_max_usec = max_usec;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

void poller_trigger(Poller *p, const char *host) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_hosts; i++)
                if (!host || streq(p->hosts[i]->name, host))
                        p->hosts[i]->trigger = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
}
