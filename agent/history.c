/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "history.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

void history_event_done(HistoryEvent *e) {
        if (!e)
                return;
        free(e->type);
        free(e->vm);
        free(e->source);
        free(e->target);
        free(e->reason);
        free(e->result);
        free(e->encryption);
        free(e->message);
        *e = (HistoryEvent){};
}

void history_events_free(HistoryEvent *events, size_t n) {
        for (size_t i = 0; i < n; i++)
                history_event_done(&events[i]);
        free(events);
}

static int add_string(json_object *o, const char *key, const char *s) {
        if (!s)
                return 0;
        json_object *v = json_object_new_string(s);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t u) {
        json_object *v = json_object_new_uint64(u);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* 6 decimals: gains are small differences of imbalances. */
static int add_double(json_object *o, const char *key, double d) {
        json_object *v = json_object_new_double(isfinite(d) ? round(d * 1e6) / 1e6 : 0);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int history_event_to_json(const HistoryEvent *e, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (!e->type || !*e->type)
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (add_u64(o, "time", e->time_usec) < 0 || add_string(o, "type", e->type) < 0 ||
            add_string(o, "vm", e->vm) < 0 || add_string(o, "source", e->source) < 0 ||
            add_string(o, "target", e->target) < 0 || add_string(o, "reason", e->reason) < 0 ||
            add_string(o, "result", e->result) < 0 ||
            (e->duration_ms > 0 && add_u64(o, "duration_ms", e->duration_ms) < 0) ||
            (e->downtime_ms > 0 && add_u64(o, "downtime_ms", e->downtime_ms) < 0) ||
            (e->watts > 0 && add_u64(o, "watts", e->watts) < 0) ||
            (e->has_gain && (add_double(o, "predicted_gain", e->predicted_gain) < 0 ||
                             add_double(o, "realized_gain", e->realized_gain) < 0 ||
                             add_u64(o, "after_s", e->after_s) < 0)) ||
            add_string(o, "encryption", e->encryption) < 0 || add_string(o, "message", e->message) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_string(json_object *o, const char *key, char **ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int get_u64(json_object *o, const char *key, bool required, uint64_t *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return required ? -EBADMSG : 0;
        if (!json_object_is_type(v, json_type_int))
                return -EBADMSG;
        errno = 0;
        uint64_t u = json_object_get_uint64(v);
        if (errno != 0 || json_object_get_int64(v) < 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

/* A number (int or double); *ret_have set when present. */
static int get_double(json_object *o, const char *key, bool *ret_have, double *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        *ret = json_object_get_double(v);
        *ret_have = true;
        return 0;
}

int history_event_from_json(json_object *o, HistoryEvent *ret) {
        _cleanup_(history_event_done) HistoryEvent e = {};
        int k;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((k = get_u64(o, "time", true, &e.time_usec)) < 0 || (k = get_string(o, "type", &e.type)) < 0 ||
            (k = get_string(o, "vm", &e.vm)) < 0 || (k = get_string(o, "source", &e.source)) < 0 ||
            (k = get_string(o, "target", &e.target)) < 0 || (k = get_string(o, "reason", &e.reason)) < 0 ||
            (k = get_string(o, "result", &e.result)) < 0 ||
            (k = get_u64(o, "duration_ms", false, &e.duration_ms)) < 0 ||
            (k = get_u64(o, "downtime_ms", false, &e.downtime_ms)) < 0 ||
            (k = get_u64(o, "watts", false, &e.watts)) < 0 ||
            (k = get_double(o, "predicted_gain", &e.has_gain, &e.predicted_gain)) < 0 ||
            (k = get_double(o, "realized_gain", &e.has_gain, &e.realized_gain)) < 0 ||
            (k = get_u64(o, "after_s", false, &e.after_s)) < 0 ||
            (k = get_string(o, "encryption", &e.encryption)) < 0 ||
            (k = get_string(o, "message", &e.message)) < 0)
                return k;
        if (!e.type || !*e.type)
                return -EBADMSG;
        *ret = e;
        e = (HistoryEvent){};
        return 0;
}

static int open_append(const char *path, uint64_t *ret_size) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int k = -errno;
                close(fd);
                return k;
        }
        *ret_size = (uint64_t) st.st_size;
        return fd;
}

int history_open(const char *dir, uint64_t max_bytes, History **ret) {
        _cleanup_(history_freep) History *h = NULL;

        h = calloc(1, sizeof(History));
        if (!h)
                return -ENOMEM;
        h->fd = -EBADF;
        h->max_bytes = max_bytes > 0 ? max_bytes : HISTORY_DEFAULT_MAX_BYTES;
        h->dir = strdup(dir);
        if (!h->dir || asprintf(&h->path, "%s/" HISTORY_FILE_NAME, dir) < 0)
                return -ENOMEM;
        h->fd = open_append(h->path, &h->size);
        if (h->fd < 0)
                return h->fd;

        /* A crash may have left a torn last line: terminate it, so the next event starts on a
         * line of its own (the reader skips the torn one). */
        if (h->size > 0) {
                char last;
                int rfd = open(h->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (rfd < 0)
                        return -errno;
                ssize_t l = pread(rfd, &last, 1, (off_t) h->size - 1);
                close(rfd);
                if (l == 1 && last != '\n') {
                        if (write(h->fd, "\n", 1) != 1)
                                return -errno;
                        h->size++;
                }
        }
        *ret = TAKE_PTR(h);
        return 0;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        if (h->fd >= 0)
                close(h->fd);
        free(h->dir);
        free(h->path);
        free(h);
        return NULL;
}

static int history_rotate(History *h) {
        _cleanup_free_ char *old = NULL;
        uint64_t size;

        if (asprintf(&old, "%s.1", h->path) < 0)
                return -ENOMEM;
        if (rename(h->path, old) < 0 && errno != ENOENT)
                return -errno;
        int fd = open_append(h->path, &size);
        if (fd < 0)
                return fd;
        close(h->fd);
        h->fd = fd;
        h->size = size;
        return 0;
}

int history_append(History *h, const HistoryEvent *e) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *line = NULL;
        size_t len;
        int k;

        k = history_event_to_json(e, &o);
        if (k < 0)
                return k;
        const char *s = json_object_to_json_string_length(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        if (len + 1 > HISTORY_MAX_LINE)
                return -E2BIG;
        line = malloc(len + 1);
        if (!line)
                return -ENOMEM;
        memcpy(line, s, len);
        line[len] = '\n';

        if (h->size > 0 && h->size + len + 1 > h->max_bytes) {
                k = history_rotate(h);
                if (k < 0)
                        return k;
        }

        ssize_t l = write(h->fd, line, len + 1);
        if (l < 0)
                return -errno;
        h->size += (uint64_t) l;
        if ((size_t) l != len + 1)
                return -EIO; /* torn line: the reader skips it */
        return 0;
}

typedef struct EventList {
        HistoryEvent *events;
        size_t n, allocated;
        size_t n_bad;
} EventList;

static int read_one_file(const char *path, uint64_t since_usec, EventList *l) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int k;

        /* Bounded by the rotation size; refuse absurd files rather than exhausting memory. */
        k = read_file_bounded(path, 1024U * 1024U * 1024U, &buf, &len);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;

        for (char *p = buf, *end = buf + len; p < end;) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t ll = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char *next = nl ? nl + 1 : end;

                if (ll == 0) {
                        p = next;
                        continue;
                }

                json_tokener *tok = json_tokener_new_ex(8);
                if (!tok)
                        return -ENOMEM;
                json_object *o = json_tokener_parse_ex(tok, p, (int) ll);
                bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
                          json_tokener_get_parse_end(tok) == ll;
                json_tokener_free(tok);

                HistoryEvent e = {};
                if (!ok || history_event_from_json(o, &e) < 0) {
                        json_object_put(o);
                        l->n_bad++;
                        p = next;
                        continue;
                }
                json_object_put(o);

                if (e.time_usec < since_usec) {
                        history_event_done(&e);
                        p = next;
                        continue;
                }
                if (l->n == l->allocated) {
                        size_t na = l->allocated ? l->allocated * 2 : 64;
                        HistoryEvent *ne = realloc(l->events, na * sizeof(HistoryEvent));
                        if (!ne) {
                                history_event_done(&e);
                                return -ENOMEM;
                        }
                        l->events = ne;
                        l->allocated = na;
                }
                l->events[l->n++] = e;
                p = next;
        }
        return 0;
}

int history_read(
        const char *dir, uint64_t since_usec, size_t max_events, HistoryEvent **ret, size_t *ret_n,
        size_t *ret_n_bad) {
        _cleanup_free_ char *path = NULL, *old = NULL;
        EventList l = {};
        int k;

        if (asprintf(&path, "%s/" HISTORY_FILE_NAME, dir) < 0 || asprintf(&old, "%s.1", path) < 0)
                return -ENOMEM;

        k = read_one_file(old, since_usec, &l);
        if (k >= 0)
                k = read_one_file(path, since_usec, &l);
        if (k < 0) {
                history_events_free(l.events, l.n);
                return k;
        }

        if (max_events > 0 && l.n > max_events) {
                size_t drop = l.n - max_events;
                for (size_t i = 0; i < drop; i++)
                        history_event_done(&l.events[i]);
                memmove(l.events, l.events + drop, max_events * sizeof(HistoryEvent));
                l.n = max_events;
        }

        *ret = l.events;
        *ret_n = l.n;
        if (ret_n_bad)
                *ret_n_bad = l.n_bad;
        return 0;
}
