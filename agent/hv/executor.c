/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The executor. The main thread owns the queue and the running set; each migration runs in a
 * worker thread (job_thread) that owns its libvirt connections, and during each migrate call a
 * watcher thread (watch_thread) polls job stats on a connection of its own. Results and
 * progress come back through a WorkerQueue. A Job is refcounted: the main thread, its worker
 * and each queued item hold references, because a worker may outlive the executor (shutdown
 * while a migration is blocked in libvirt). */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "executor.h"
#include "migration-tls.h"
#include "migration-watch.h"
#include "worker.h"

#define DEFAULT_POLL_USEC (UINT64_C(1) * 1000000)
#define DEFAULT_MIN_TIMEOUT_USEC (UINT64_C(60) * 1000000)

static const char *const event_names[_MIGRATION_EVENT_MAX] = {
        [MIGRATION_EVENT_STARTED] = "started",
        [MIGRATION_EVENT_DOWNTIME_RAISED] = "downtime-raised",
        [MIGRATION_EVENT_AUTO_CONVERGE] = "auto-converge",
        [MIGRATION_EVENT_ABORTING] = "aborting",
};

const char *migration_event_to_string(MigrationEvent e) {
        if ((unsigned) e >= _MIGRATION_EVENT_MAX)
                return NULL;
        return event_names[e];
}

static const char *const encryption_names[_MIGRATION_ENCRYPTION_MAX] = {
        [MIGRATION_ENCRYPTION_UNKNOWN] = "unknown",
        [MIGRATION_ENCRYPTION_PLAIN] = "plain",
        [MIGRATION_ENCRYPTION_TLS] = "tls",
        [MIGRATION_ENCRYPTION_PLAIN_FALLBACK] = "plain-fallback",
};

const char *migration_encryption_to_string(MigrationEncryption e) {
        if ((unsigned) e >= _MIGRATION_ENCRYPTION_MAX)
                return NULL;
        return encryption_names[e];
}

void migration_tls_hosts_free(MigrationTlsHost *h, size_t n) {
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].host);
                free(h[i].why);
        }
        free(h);
}

/* The hosts' migration TLS as last probed, shared by the executor and its jobs (a worker may
 * outlive the executor); everything under lock. A YES or NO is fresh for
 * EXECUTOR_TLS_PROBE_TTL_USEC; an UNKNOWN (the probe failed) is probed again next time. */
typedef struct TlsCache {
        atomic_uint n_ref;
        pthread_mutex_t lock;
        MigrationTlsHost *hosts; /* owned */
        size_t n_hosts;
} TlsCache;

static TlsCache *tls_cache_new(void) {
        TlsCache *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        atomic_init(&c->n_ref, 1);
        pthread_mutex_init(&c->lock, NULL);
        return c;
}

static TlsCache *tls_cache_ref(TlsCache *c) {
        if (c)
                atomic_fetch_add(&c->n_ref, 1);
        return c;
}

static void tls_cache_unref(TlsCache *c) {
        if (!c || atomic_fetch_sub(&c->n_ref, 1) != 1)
                return;
        migration_tls_hosts_free(c->hosts, c->n_hosts);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* Whether host has a fresh entry; then its state and a copy of its why. */
static bool
tls_cache_lookup(TlsCache *c, const char *host, uint64_t now, MigrationTlsState *ret, char **ret_why) {
        bool found = false;

        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n_hosts; i++) {
                MigrationTlsHost *h = &c->hosts[i];
                if (!streq(h->host, host))
                        continue;
                if (h->state != MIGRATION_TLS_STATE_UNKNOWN &&
                    now - h->checked_usec < EXECUTOR_TLS_PROBE_TTL_USEC) {
                        *ret = h->state;
                        *ret_why = h->why ? strdup(h->why) : NULL;
                        found = true;
                }
                break;
        }
        pthread_mutex_unlock(&c->lock);
        return found;
}

static void
tls_cache_store(TlsCache *c, const char *host, MigrationTlsState st, const char *why, uint64_t now) {
        MigrationTlsHost *h = NULL;
        char *w = why ? strdup(why) : NULL;

        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n_hosts && !h; i++)
                if (streq(c->hosts[i].host, host))
                        h = &c->hosts[i];
        if (!h) {
                MigrationTlsHost *a = realloc(c->hosts, sizeof(*a) * (c->n_hosts + 1));
                char *name = strdup(host);
                if (a)
                        c->hosts = a;
                if (a && name) {
                        h = &c->hosts[c->n_hosts++];
                        *h = (MigrationTlsHost){.host = name};
                } else
                        free(name);
        }
        if (h) {
                free(h->why);
                h->why = TAKE_PTR(w);
                h->state = st;
                h->checked_usec = now;
        }
        pthread_mutex_unlock(&c->lock);
        free(w);
}

/* What a job runs with, fixed when it starts. */
typedef struct Tunables {
        uint64_t bandwidth_mib_s;
        uint64_t *downtimes_ms; /* owned */
        size_t n_downtimes;
        bool auto_converge, post_copy;
        MigrationTls tls;
        char *tls_dir; /* owned; NULL = HV_MIGRATION_TLS_DIR */
        uint64_t timeout_usec;
        uint64_t poll_usec;
} Tunables;

typedef struct Job {
        atomic_uint n_ref;
        const HvOps *ops;
        WorkerQueue *queue;  /* ref */
        TlsCache *tls_cache; /* ref */

        /* The request, owned copies; req points into them. Immutable after submit. */
        char *vm, *source, *target, *source_uri, *target_uri, *target_migration_uri, *reason;
        MigrationRequest req;
        MigrationDone done; /* main thread */
        void *userdata;

        Tunables t; /* set before the thread starts */
        pthread_t thread;
        bool started;           /* main thread: the thread exists and is not joined or detached */
        atomic_bool shutdown;   /* the executor is gone: change nothing, report nothing */
        atomic_bool in_migrate; /* the worker is blocked in ops->migrate() */

        MigrationOutcome outcome; /* written by the worker before it posts "done" */
} Job;

struct Executor {
        sd_event *event;
        const HvOps *ops;
        WorkerQueue *queue;  /* owned ref */
        TlsCache *tls_cache; /* owned ref */
        Admission admission; /* the queue and the limits; each request's data is its Job (a ref) */
        Tunables tunables;   /* template; downtimes owned */
        uint64_t timeout_s_per_gib;
        uint64_t poll_usec, min_timeout_usec, grace_usec;
        MigrationProgress progress;
        void *progress_userdata;
};

static void tunables_done(Tunables *t) {
        free(t->downtimes_ms);
        free(t->tls_dir);
        *t = (Tunables){};
}

static int tunables_copy(const Tunables *t, Tunables *ret) {
        Tunables c = *t;

        c.downtimes_ms = NULL;
        c.tls_dir = NULL;
        if (t->tls_dir) {
                c.tls_dir = strdup(t->tls_dir);
                if (!c.tls_dir)
                        return -ENOMEM;
        }
        if (t->n_downtimes > 0) {
                c.downtimes_ms = malloc(sizeof(uint64_t) * t->n_downtimes);
                if (!c.downtimes_ms) {
                        free(c.tls_dir);
                        return -ENOMEM;
                }
                memcpy(c.downtimes_ms, t->downtimes_ms, sizeof(uint64_t) * t->n_downtimes);
        }
        *ret = c;
        return 0;
}

static Job *job_ref(Job *j) {
        atomic_fetch_add(&j->n_ref, 1);
        return j;
}

static void job_unref(Job *j) {
        if (!j || atomic_fetch_sub(&j->n_ref, 1) != 1)
                return;
        free(j->vm);
        free(j->source);
        free(j->target);
        free(j->source_uri);
        free(j->target_uri);
        free(j->target_migration_uri);
        free(j->reason);
        free(j->outcome.message);
        free(j->outcome.encryption_note);
        tunables_done(&j->t);
        worker_queue_unref(j->queue);
        tls_cache_unref(j->tls_cache);
        free(j);
}

static void job_unref_void(void *p) {
        job_unref(p);
}

/* Main thread items. */

typedef struct ProgressItem {
        Job *job; /* ref */
        MigrationEvent ev;
        uint64_t value;
        char *detail;
} ProgressItem;

static void progress_item_free(void *p) {
        ProgressItem *i = p;
        if (!i)
                return;
        job_unref(i->job);
        free(i->detail);
        free(i);
}

static void on_progress(void *data, void *userdata) {
        ProgressItem *i = data;
        Executor *x = userdata;

        if (x->progress)
                x->progress(&i->job->req, i->ev, i->value, i->detail, x->progress_userdata);
}

/* Worker side: post a progress event (dropped after shutdown). */
static void job_progress(Job *j, MigrationEvent ev, uint64_t value, const char *detail) {
        ProgressItem *i;

        if (atomic_load(&j->shutdown))
                return;
        i = calloc(1, sizeof(*i));
        if (!i)
                return;
        i->job = job_ref(j);
        i->ev = ev;
        i->value = value;
        if (detail)
                i->detail = strdup(detail);
        (void) worker_queue_post(j->queue, on_progress, i, progress_item_free);
}

static void dispatch(Executor *x);

static void on_done(void *data, void *userdata) {
        Job *j = data;
        Executor *x = userdata;

        (void) admission_finish(&x->admission, j);
        if (j->started) {
                /* Its last act was posting this item. */
                pthread_join(j->thread, NULL);
                j->started = false;
        }
        if (j->done)
                j->done(&j->req, &j->outcome, j->userdata);
        job_unref(j); /* the running set's reference */
        dispatch(x);
}

/* The watcher. */

typedef enum WatchVerdict {
        WATCH_NONE,
        WATCH_STALL, /* aborted for good */
        WATCH_RETRY, /* aborted to retry with auto-converge */
        WATCH_TIMEOUT,
} WatchVerdict;

typedef struct Watch {
        Job *job;
        HvConn *conn; /* the watcher's own connection to the source */
        bool allow_retry;
        size_t step; /* index into the downtime schedule to start at */
        uint64_t start_usec;

        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC */
        bool finished;       /* under lock: migrate returned */

        /* Written by the watcher, read after join. */
        WatchVerdict verdict;
        unsigned stall_steps;
        uint64_t last_downtime_ms;
        char *detail; /* owned */
} Watch;

static void watch_abort(Watch *w, WatchVerdict v, const char *detail) {
        Job *j = w->job;

        w->verdict = v;
        free(w->detail);
        w->detail = strdup(detail);
        job_progress(j, MIGRATION_EVENT_ABORTING, 0, detail);
        (void) j->ops->abort_job(w->conn, j->vm, NULL);
}

static void *watch_thread(void *userdata) {
        Watch *w = userdata;
        Job *j = w->job;
        const Tunables *t = &j->t;
        MigrationWatch mw;

        migration_watch_init(
                &mw, t->downtimes_ms, t->n_downtimes, w->step, w->allow_retry, w->start_usec,
                t->timeout_usec);
        for (;;) {
                uint64_t next = hv_now_usec() + migration_watch_poll_interval(&mw, t->poll_usec);
                uint64_t set_ms, value_ms;
                HvJobInfo ji;
                bool have_ji;
                char buf[160];

                pthread_mutex_lock(&w->lock);
                while (!w->finished && !atomic_load(&j->shutdown) && hv_now_usec() < next) {
                        struct timespec ts = {
                                .tv_sec = (time_t) (next / 1000000),
                                .tv_nsec = (long) (next % 1000000) * 1000};
                        (void) pthread_cond_timedwait(&w->cond, &w->lock, &ts);
                }
                bool stop = w->finished || atomic_load(&j->shutdown);
                pthread_mutex_unlock(&w->lock);
                if (stop)
                        break;

                if (migration_watch_expired(&mw, hv_now_usec())) {
                        (void) snprintf(
                                buf, sizeof(buf), "timed out after %.1f s", (double) t->timeout_usec / 1e6);
                        watch_abort(w, WATCH_TIMEOUT, buf);
                        break;
                }
                have_ji = j->ops->job_info(w->conn, j->vm, false, &ji, NULL) >= 0;
                MigrationWatchAction a = migration_watch_poll(&mw, have_ji ? &ji : NULL, &set_ms, &value_ms);
                w->stall_steps = mw.stall_steps;
                w->last_downtime_ms = mw.last_downtime_ms;
                if (set_ms > 0)
                        (void) j->ops->set_max_downtime(w->conn, j->vm, set_ms, NULL);
                if (a == MIGRATION_WATCH_CONTINUE)
                        continue;
                if (a == MIGRATION_WATCH_RAISE_DOWNTIME) {
                        (void) j->ops->set_max_downtime(w->conn, j->vm, value_ms, NULL);
                        job_progress(j, MIGRATION_EVENT_DOWNTIME_RAISED, value_ms, NULL);
                        continue;
                }
                if (a == MIGRATION_WATCH_RETRY) {
                        job_progress(j, MIGRATION_EVENT_AUTO_CONVERGE, 0, NULL);
                        watch_abort(w, WATCH_RETRY, "stalled: retrying with auto-converge");
                        break;
                }
                (void) snprintf(
                        buf, sizeof(buf),
                        "stalled: remaining memory not shrinking at max downtime %" PRIu64 " ms", value_ms);
                watch_abort(w, WATCH_STALL, buf);
                break;
        }
        return NULL;
}

/* The worker. */

static void set_outcome(Job *j, MigrationResult r, char *message /* takes */) {
        free(j->outcome.message);
        j->outcome.result = r;
        j->outcome.message = message;
}

_printf_(3, 4) static void set_outcomef(Job *j, MigrationResult r, const char *fmt, ...) {
        char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        set_outcome(j, r, m);
}

/* An end's migration TLS: from the cache when fresh, else probed and cached. */
static MigrationTlsState job_tls_state(Job *j, HvConn *c, const char *host, char **ret_why) {
        MigrationTlsState st = MIGRATION_TLS_STATE_UNKNOWN;
        _cleanup_(hv_tls_probe_done) HvTlsProbe p = {};
        _cleanup_free_ char *msg = NULL, *why = NULL;
        int r;

        if (tls_cache_lookup(j->tls_cache, host, hv_now_usec(), &st, ret_why))
                return st;
        if (!j->ops->tls_probe)
                why = strdup("this hypervisor interface has no TLS probe");
        else {
                r = j->ops->tls_probe(c, j->t.tls_dir, &p, &msg);
                if (r < 0) {
                        if (asprintf(&why, "the probe failed: %s", msg ?: strerror(-r)) < 0)
                                why = NULL;
                } else if (p.configured)
                        st = MIGRATION_TLS_STATE_YES;
                else {
                        st = MIGRATION_TLS_STATE_NO;
                        why = TAKE_PTR(p.missing);
                }
        }
        tls_cache_store(j->tls_cache, host, st, why, hv_now_usec());
        *ret_why = TAKE_PTR(why);
        return st;
}

/* policy migration.tls and both ends' TLS: the decision (probes only when the mode needs them). */
static int job_tls_decide(Job *j, HvConn *src, HvConn *dst, MigrationTlsDecision *ret) {
        _cleanup_free_ char *swhy = NULL, *dwhy = NULL;
        MigrationTlsEnd s = {.host = j->source}, d = {.host = j->target};

        if (j->t.tls != MIGRATION_TLS_FALSE) {
                s.state = job_tls_state(j, src, j->source, &swhy);
                d.state = job_tls_state(j, dst, j->target, &dwhy);
                s.why = swhy;
                d.why = dwhy;
        }
        return migration_tls_decide(j->t.tls, &s, &d, ret);
}

/* After a failed migrate: where is the VM? Returns the result to report. */
static MigrationResult check_after_failure(Job *j, HvConn *src, HvConn *dst, char **ret_detail) {
        bool s_exists = false, s_running = false, d_exists = false, d_running = false;
        int r1 = j->ops->domain_state(src, j->vm, &s_exists, &s_running, NULL);
        int r2 = j->ops->domain_state(dst, j->vm, &d_exists, &d_running, NULL);

        if (r1 < 0 || r2 < 0) {
                /* Cannot tell; libvirt's own promise (ABORT_ON_ERROR, source kept) stands. */
                *ret_detail = NULL;
                return MIGRATION_FAILED;
        }
        if (s_running && !d_running)
                return MIGRATION_FAILED;
        if (d_running && !s_exists)
                return MIGRATION_OK;
        if (asprintf(
                    ret_detail, "running on the source: %s, on the target: %s", s_running ? "yes" : "no",
                    d_running ? "yes" : "no") < 0)
                *ret_detail = NULL;
        return MIGRATION_LOST;
}

static void run_job(Job *j) {
        const HvOps *ops = j->ops;
        HvConn *src = NULL, *dst = NULL, *wconn = NULL;
        _cleanup_(hv_storage_prep_done) HvStoragePrep prep = {};
        _cleanup_(migration_tls_decision_done) MigrationTlsDecision tls = {};
        _cleanup_free_ char *msg = NULL;
        uint64_t t0 = 0, wall_ms = 0;
        unsigned stall_steps = 0;
        size_t step = 0;
        int r;

        r = ops->open(j->source_uri, &src, &msg);
        if (r < 0) {
                src = NULL;
                set_outcomef(
                        j, MIGRATION_SKIPPED, "cannot connect to source '%s': %s", j->source,
                        msg ? msg : strerror(-r));
                goto out;
        }
        r = ops->open(j->target_uri, &dst, &msg);
        if (r < 0) {
                dst = NULL;
                set_outcomef(
                        j, MIGRATION_SKIPPED, "cannot connect to target '%s': %s", j->target,
                        msg ? msg : strerror(-r));
                goto out;
        }
        /* Encryption first: a refusal must not leave volumes behind. */
        r = job_tls_decide(j, src, dst, &tls);
        if (r < 0) {
                set_outcomef(j, MIGRATION_SKIPPED, "precheck failed: %s", strerror(-r));
                goto out;
        }
        if (tls.refuse) {
                set_outcomef(j, MIGRATION_SKIPPED, "precheck failed: %s", tls.message);
                goto out;
        }
        j->outcome.encryption = tls.encryption;
        if (tls.encryption == MIGRATION_ENCRYPTION_PLAIN_FALLBACK)
                j->outcome.encryption_note = TAKE_PTR(tls.message);
        if (j->req.copy_storage) {
                if (!ops->prepare_storage) {
                        set_outcomef(j, MIGRATION_SKIPPED, "disk copy is not supported here");
                        goto out;
                }
                r = ops->prepare_storage(src, dst, j->vm, &prep, &msg);
                if (r < 0) {
                        set_outcomef(
                                j, MIGRATION_SKIPPED, "preparing the disks on '%s' failed: %s", j->target,
                                msg ? msg : strerror(-r));
                        goto out;
                }
                free(msg);
                msg = NULL;
        }
        r = ops->precheck(src, dst, j->vm, &msg);
        if (r < 0) {
                set_outcomef(
                        j, MIGRATION_SKIPPED, "precheck on '%s' failed: %s", j->target,
                        msg ? msg : strerror(-r));
                goto out;
        }
        r = ops->open(j->source_uri, &wconn, &msg);
        if (r < 0) {
                wconn = NULL;
                set_outcomef(
                        j, MIGRATION_SKIPPED, "cannot connect to source '%s' for watching: %s", j->source,
                        msg ? msg : strerror(-r));
                goto out;
        }

        t0 = hv_now_usec();
        for (unsigned attempt = 0; attempt < 2; attempt++) {
                bool retry_ac = attempt == 1;
                HvMigrateParams mp = {
                        .dest_uri = j->target_migration_uri,
                        .bandwidth_mib_s = j->req.remote && j->req.remote_bandwidth_mib_s > 0
                                                   ? j->req.remote_bandwidth_mib_s
                                                   : j->t.bandwidth_mib_s,
                        .max_downtime_ms = j->t.n_downtimes > 0 ? j->t.downtimes_ms[step] : 0,
                        .tls = tls.use_tls,
                        .auto_converge = retry_ac,
                        .post_copy = j->t.post_copy,
                        .copy_disks = prep.disks,
                        .shared_disks_proven = prep.shared_uncached,
                        .parallel_connections = j->req.remote ? j->req.parallel_connections : 0,
                        .compression =
                                j->req.remote ? migration_compression_to_string(j->req.compression) : NULL,
                };
                Watch w = {
                        .job = j,
                        .conn = wconn,
                        .allow_retry = j->t.auto_converge && !retry_ac,
                        .step = step,
                        .start_usec = hv_now_usec(),
                };
                pthread_condattr_t attr;
                pthread_t wt;
                bool have_watcher;

                pthread_mutex_init(&w.lock, NULL);
                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&w.cond, &attr);
                pthread_condattr_destroy(&attr);

                job_progress(j, MIGRATION_EVENT_STARTED, attempt + 1, retry_ac ? "auto-converge" : NULL);
                have_watcher = pthread_create(&wt, NULL, watch_thread, &w) == 0;

                free(msg);
                msg = NULL;
                atomic_store(&j->in_migrate, true);
                r = ops->migrate(src, j->vm, &mp, &msg);
                atomic_store(&j->in_migrate, false);

                pthread_mutex_lock(&w.lock);
                w.finished = true;
                pthread_cond_broadcast(&w.cond);
                pthread_mutex_unlock(&w.lock);
                if (have_watcher)
                        pthread_join(wt, NULL);
                pthread_cond_destroy(&w.cond);
                pthread_mutex_destroy(&w.lock);
                stall_steps += w.stall_steps;
                _cleanup_free_ char *detail = TAKE_PTR(w.detail);

                if (r >= 0)
                        break;
                if (w.verdict == WATCH_RETRY && !atomic_load(&j->shutdown)) {
                        /* Start the retry at the highest downtime: the lower ones did not do. */
                        step = j->t.n_downtimes > 0 ? j->t.n_downtimes - 1 : 0;
                        continue;
                }

                _cleanup_free_ char *where = NULL;
                MigrationResult res = check_after_failure(j, src, dst, &where);
                if (res == MIGRATION_OK) {
                        r = 0;
                        break;
                }
                if (res == MIGRATION_LOST)
                        set_outcomef(
                                j, MIGRATION_LOST,
                                "migration failed (%s) and the VM is not where expected: %s",
                                msg ? msg : strerror(-r), where ? where : "unknown");
                else if (w.verdict == WATCH_STALL || w.verdict == WATCH_TIMEOUT)
                        set_outcomef(j, MIGRATION_ABORTED, "%s", detail ? detail : "aborted");
                else
                        set_outcomef(j, MIGRATION_FAILED, "%s", msg ? msg : strerror(-r));
                break;
        }
        wall_ms = (hv_now_usec() - t0) / 1000;
        j->outcome.duration_ms = wall_ms;
        j->outcome.stall_steps = stall_steps;
        if (r < 0)
                goto out;

        /* Success: the completed job's numbers (on the target: the source's domain is gone),
         * then the VM must run exactly once, on the target. */
        HvJobInfo ji;
        if (ops->job_info(dst, j->vm, true, &ji, NULL) >= 0 && ji.type == HV_JOB_COMPLETED) {
                j->outcome.downtime_ms = ji.downtime_ms;
                if (ji.time_elapsed_ms > 0)
                        j->outcome.duration_ms = ji.time_elapsed_ms;
        }
        bool s_exists = false, s_running = false, d_exists = false, d_running = false;
        int r1 = ops->domain_state(dst, j->vm, &d_exists, &d_running, NULL);
        int r2 = ops->domain_state(src, j->vm, &s_exists, &s_running, NULL);
        if (r1 < 0 || r2 < 0 || !d_running || s_exists)
                set_outcomef(
                        j, MIGRATION_LOST,
                        "after the migration: running on the target: %s, defined on the source: %s%s",
                        r1 < 0      ? "unknown"
                        : d_running ? "yes"
                                    : "no",
                        r2 < 0     ? "unknown"
                        : s_exists ? (s_running ? "yes (running)" : "yes")
                                   : "no",
                        "");
        else
                set_outcome(j, MIGRATION_OK, NULL);
        if (j->outcome.result == MIGRATION_OK) {
                j->outcome.disks_copied = (unsigned) strv_length(prep.disks);
                j->outcome.disk_bytes = prep.bytes;
                /* The VM runs on the target from its copies: the source's are left-overs. */
                if (j->req.remove_source_storage && ops->delete_volume) {
                        bool all = true;
                        for (char **p = prep.source_paths; p && *p; p++)
                                if (ops->delete_volume(src, *p, NULL) < 0)
                                        all = false;
                        j->outcome.source_storage_removed = all && strv_length(prep.source_paths) > 0;
                }
                strv_free(prep.created); /* in use now: no rollback */
                prep.created = NULL;
        }

out:
        /* Not migrated (skipped, failed, aborted): the volumes created on the target are
         * removed — unless the VM might be running there (LOST: an operator decides). */
        if (dst && ops->delete_volume && j->outcome.result != MIGRATION_OK &&
            j->outcome.result != MIGRATION_LOST)
                for (char **p = prep.created; p && *p; p++)
                        (void) ops->delete_volume(dst, *p, NULL);
        if (wconn)
                ops->close(wconn);
        if (dst)
                ops->close(dst);
        if (src)
                ops->close(src);
}

static void *job_thread(void *userdata) {
        Job *j = userdata;

        run_job(j);
        if (!atomic_load(&j->shutdown))
                (void) worker_queue_post(j->queue, on_done, job_ref(j), job_unref_void);
        job_unref(j); /* the thread's reference */
        return NULL;
}

/* Dispatch: agent/leader/admission.c decides which queued job may start. */

static int job_start(Executor *x, Job *j) {
        uint64_t gib_usec;
        int r;

        r = tunables_copy(&x->tunables, &j->t);
        if (r < 0)
                return r;
        gib_usec = (uint64_t) ceil(
                (double) (j->req.memory_mib + j->req.disk_mib) / 1024.0 * (double) x->timeout_s_per_gib *
                1e6);
        j->t.timeout_usec = gib_usec > x->min_timeout_usec ? gib_usec : x->min_timeout_usec;
        j->t.poll_usec = x->poll_usec;

        job_ref(j); /* the thread's */
        r = -pthread_create(&j->thread, NULL, job_thread, j);
        if (r < 0) {
                job_unref(j);
                tunables_done(&j->t);
                return r;
        }
        j->started = true;
        return 0;
}

static void complete_now(Executor *x, Job *j, MigrationResult res, const char *message) {
        set_outcome(j, res, strdup(message));
        if (j->done)
                j->done(&j->req, &j->outcome, j->userdata);
}

static void dispatch(Executor *x) {
        void *data;

        while (admission_next(&x->admission, &data)) {
                Job *j = data;
                int r = job_start(x, j);
                if (r < 0) {
                        (void) admission_finish(&x->admission, j);
                        complete_now(x, j, MIGRATION_SKIPPED, "cannot start a worker thread");
                        job_unref(j);
                }
        }
}

/* API. */

int executor_new(sd_event *e, const HvOps *ops, const Policy *policy, Executor **ret) {
        _cleanup_(executor_freep) Executor *x = NULL;
        int r;

        if (!e || !ops || !policy || !ret)
                return -EINVAL;
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(e);
        x->ops = ops;
        x->tls_cache = tls_cache_new();
        if (!x->tls_cache)
                return -ENOMEM;
        x->poll_usec = DEFAULT_POLL_USEC;
        x->min_timeout_usec = DEFAULT_MIN_TIMEOUT_USEC;
        x->grace_usec = EXECUTOR_SHUTDOWN_GRACE_USEC;
        r = worker_queue_new(e, x, &x->queue);
        if (r < 0)
                return r;
        r = executor_set_policy(x, policy);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}

Executor *executor_free(Executor *x) {
        struct timespec deadline;

        if (!x)
                return NULL;
        /* No callback from here on; workers' posts are dropped. */
        worker_queue_close(x->queue);

        for (size_t i = 0; i < x->admission.n_queued; i++)
                job_unref(x->admission.queued[i].data);

        (void) clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (x->grace_usec / 1000000);
        deadline.tv_nsec += (long) (x->grace_usec % 1000000) * 1000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        for (size_t i = 0; i < x->admission.n_running; i++)
                atomic_store(&((Job *) x->admission.running[i].data)->shutdown, true);
        for (size_t i = 0; i < x->admission.n_running; i++) {
                Job *j = x->admission.running[i].data;
                if (j->started) {
                        /* Blocked in migrate (it returns when the migration ends), or still in
                         * libvirt after the grace: let it finish on its own. The migration
                         * itself goes on in libvirtd either way. */
                        if (atomic_load(&j->in_migrate) ||
                            pthread_timedjoin_np(j->thread, NULL, &deadline) != 0)
                                pthread_detach(j->thread);
                        j->started = false;
                }
                job_unref(j);
        }
        admission_done(&x->admission);

        x->queue = worker_queue_unref(x->queue);
        tls_cache_unref(x->tls_cache);
        tunables_done(&x->tunables);
        sd_event_unref(x->event);
        free(x);
        return NULL;
}

int executor_set_policy(Executor *x, const Policy *policy) {
        Tunables t = {};

        if (!x || !policy)
                return -EINVAL;
        if (policy->migration.n_max_downtime_ms > 0) {
                t.downtimes_ms = malloc(sizeof(uint64_t) * policy->migration.n_max_downtime_ms);
                if (!t.downtimes_ms)
                        return -ENOMEM;
                memcpy(t.downtimes_ms, policy->migration.max_downtime_ms,
                       sizeof(uint64_t) * policy->migration.n_max_downtime_ms);
                t.n_downtimes = policy->migration.n_max_downtime_ms;
        }
        t.bandwidth_mib_s = policy->migration.bandwidth_mib_s;
        t.auto_converge = policy->migration.auto_converge;
        t.post_copy = policy->migration.post_copy;
        t.tls = policy->migration.tls;
        t.tls_dir = TAKE_PTR(x->tunables.tls_dir); /* not the policy's: executor_set_tls_dir() */
        tunables_done(&x->tunables);
        x->tunables = t;
        x->timeout_s_per_gib = policy->migration.timeout_s_per_gib;
        admission_set_limits(&x->admission, &policy->limits);
        dispatch(x);
        return 0;
}

int executor_set_tls_dir(Executor *x, const char *dir) {
        char *d = NULL;

        if (!x)
                return -EINVAL;
        if (streq_ptr(dir, x->tunables.tls_dir))
                return 0;
        if (dir) {
                d = strdup(dir);
                if (!d)
                        return -ENOMEM;
        }
        free(x->tunables.tls_dir);
        x->tunables.tls_dir = d;
        /* What was found was found in another directory. */
        pthread_mutex_lock(&x->tls_cache->lock);
        migration_tls_hosts_free(x->tls_cache->hosts, x->tls_cache->n_hosts);
        x->tls_cache->hosts = NULL;
        x->tls_cache->n_hosts = 0;
        pthread_mutex_unlock(&x->tls_cache->lock);
        return 0;
}

void executor_set_timing(Executor *x, uint64_t poll_usec, uint64_t min_timeout_usec, uint64_t grace_usec) {
        if (!x)
                return;
        if (poll_usec > 0)
                x->poll_usec = poll_usec;
        if (min_timeout_usec > 0)
                x->min_timeout_usec = min_timeout_usec;
        if (grace_usec > 0)
                x->grace_usec = grace_usec;
}

void executor_set_progress(Executor *x, MigrationProgress cb, void *userdata) {
        if (!x)
                return;
        x->progress = cb;
        x->progress_userdata = userdata;
}

static int dup_str(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int executor_submit(Executor *x, const MigrationRequest *req, MigrationDone done, void *userdata) {
        Job *j;
        int r;

        if (!x || !req || !req->vm || !req->source || !req->target || !req->source_uri || !req->target_uri)
                return -EINVAL;
        if (streq(req->source, req->target))
                return -EINVAL;
        if (executor_vm_busy(x, req->vm))
                return -EBUSY;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        atomic_init(&j->n_ref, 1);
        j->ops = x->ops;
        j->queue = worker_queue_ref(x->queue);
        j->tls_cache = tls_cache_ref(x->tls_cache);
        j->done = done;
        j->userdata = userdata;
        if (dup_str(req->vm, &j->vm) < 0 || dup_str(req->source, &j->source) < 0 ||
            dup_str(req->target, &j->target) < 0 || dup_str(req->source_uri, &j->source_uri) < 0 ||
            dup_str(req->target_uri, &j->target_uri) < 0 ||
            dup_str(req->target_migration_uri ? req->target_migration_uri : req->target_uri,
                    &j->target_migration_uri) < 0 ||
            dup_str(req->reason ? req->reason : "manual", &j->reason) < 0) {
                job_unref(j);
                return -ENOMEM;
        }
        j->req = (MigrationRequest){
                .vm = j->vm,
                .source = j->source,
                .target = j->target,
                .source_uri = j->source_uri,
                .target_uri = j->target_uri,
                .target_migration_uri = j->target_migration_uri,
                .memory_mib = req->memory_mib,
                .reason = j->reason,
                .copy_storage = req->copy_storage,
                .remove_source_storage = req->remove_source_storage,
                .disk_mib = req->disk_mib,
                .remote = req->remote,
                .parallel_connections = req->parallel_connections,
                .compression = req->compression,
                .remote_bandwidth_mib_s = req->remote_bandwidth_mib_s,
        };
        r = admission_submit(&x->admission, j->vm, j->source, j->target, j);
        if (r < 0) {
                job_unref(j);
                return r;
        }
        dispatch(x);
        return 0;
}

static unsigned cancel_queued(Executor *x, const char *vm, const char *target) {
        unsigned n = 0;
        void *data;

        if (!x)
                return 0;
        while (admission_take_queued(&x->admission, vm, target, &data)) {
                Job *j = data;
                complete_now(
                        x, j, MIGRATION_SKIPPED,
                        target ? "cancelled before it started: the target is no longer up"
                               : "cancelled before it started");
                job_unref(j);
                n++;
        }
        return n;
}

unsigned executor_cancel_queued(Executor *x, const char *vm) {
        return cancel_queued(x, vm, NULL);
}

int executor_set_foreign(Executor *x, char *const *sources) {
        int r;

        if (!x)
                return 0;
        r = admission_set_foreign(&x->admission, sources);
        if (r < 0)
                return r;
        dispatch(x); /* one may have ended: room for a queued request */
        return 0;
}

unsigned executor_cancel_queued_to(Executor *x, const char *target) {
        return target ? cancel_queued(x, NULL, target) : 0;
}

int executor_tls_hosts(Executor *x, MigrationTlsHost **ret, size_t *ret_n) {
        MigrationTlsHost *a = NULL;
        size_t n = 0;
        int r = 0;

        if (!x || !ret || !ret_n)
                return -EINVAL;
        pthread_mutex_lock(&x->tls_cache->lock);
        if (x->tls_cache->n_hosts > 0) {
                a = calloc(x->tls_cache->n_hosts, sizeof(*a));
                if (!a)
                        r = -ENOMEM;
        }
        for (size_t i = 0; a && i < x->tls_cache->n_hosts; i++, n++) {
                const MigrationTlsHost *h = &x->tls_cache->hosts[i];
                a[i] = (MigrationTlsHost){
                        .host = strdup(h->host),
                        .state = h->state,
                        .why = h->why ? strdup(h->why) : NULL,
                        .checked_usec = h->checked_usec,
                };
                if (!a[i].host || (h->why && !a[i].why)) {
                        n++;
                        r = -ENOMEM;
                        break;
                }
        }
        pthread_mutex_unlock(&x->tls_cache->lock);
        if (r < 0) {
                migration_tls_hosts_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

unsigned executor_n_running(const Executor *x) {
        return x ? admission_n_running(&x->admission, NULL, NULL) : 0;
}

unsigned executor_n_queued(const Executor *x) {
        return x ? admission_n_queued(&x->admission) : 0;
}

const char *executor_vm_target(const Executor *x, const char *vm) {
        return x ? admission_vm_target(&x->admission, vm) : NULL;
}

bool executor_vm_busy(const Executor *x, const char *vm) {
        return x && admission_vm_busy(&x->admission, vm);
}
