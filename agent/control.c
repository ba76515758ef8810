/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fileio.h"
#include "log.h"
#include "protocol.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

typedef struct ControlConnection ControlConnection;

struct ControlConnection {
        ControlServer *server;   /* not owned */
        ControlConnection *next; /* list links, owned by the server */
        ControlConnection *prev;
        int fd;                  /* owned */
        sd_event_source *source; /* owned */
        ProtocolReader reader;
        ProtocolWriter writer;
        uid_t uid;
        pid_t pid;
        bool authorized;
        bool read_closed;    /* EOF seen or no more requests accepted: close once output is flushed */
        uint64_t pending_id; /* a forwarded request awaits its reply (control_server_complete); 0 = none */
};

struct ControlServer {
        sd_event *event;                   /* reference held */
        Manager *manager;                  /* not owned */
        const ControlMethodEntry *methods; /* not owned */
        size_t n_methods;
        gid_t admin_gid;
        bool have_admin_gid;
        int listen_fd;                  /* owned; -EBADF when none */
        sd_event_source *listen_source; /* owned */
        char *path;                     /* owned; the socket file we created, removed on free */
        ControlConnection *connections; /* owned list */
        size_t n_connections;
        ControlForward forward; /* may be NULL */
        uint64_t next_pending_id;
};

int control_fail(json_object **reply, char **reterr_error, const char *error, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        _cleanup_free_ char *name = NULL;
        va_list ap;

        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        name = strdup(error);
        json_object *o = json_object_new_object();
        json_object *m = json_object_new_string(msg);
        if (!name || !o || !m || json_object_object_add(o, "message", m) < 0) {
                json_object_put(m);
                json_object_put(o);
                return -ENOMEM;
        }
        json_object_put(*reply);
        *reply = o;
        free(*reterr_error);
        *reterr_error = TAKE_PTR(name);
        return -EINVAL;
}

bool control_peer_is_authorized(
        uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, gid_t admin_gid, bool have_admin_gid) {
        if (uid == 0)
                return true;
        if (!have_admin_gid)
                return false;
        if (gid == admin_gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == admin_gid)
                        return true;
        return false;
}

static ControlConnection *connection_free(ControlConnection *c) {
        if (!c)
                return NULL;
        if (c->server) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->server->connections = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                c->server->n_connections--;
        }
        sd_event_source_disable_unref(c->source);
        if (c->fd >= 0)
                close(c->fd);
        protocol_reader_done(&c->reader);
        protocol_writer_done(&c->writer);
        free(c);
        return NULL;
}

static int peer_groups(int fd, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 64 * sizeof(gid_t);

        for (;;) {
                free(groups);
                groups = malloc(len);
                if (!groups)
                        return -ENOMEM;
                socklen_t l = len;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l) >= 0) {
                        *ret_n = l / sizeof(gid_t);
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (errno != ERANGE || l <= len)
                        return -errno;
                len = l;
        }
}

static int connection_queue(ControlConnection *c, json_object *msg) {
        int k = protocol_writer_append(&c->writer, msg);
        if (k == -EMSGSIZE) {
                _cleanup_(json_object_putp) json_object *e = NULL;
                k = protocol_error_new(
                        PROTOCOL_ERROR_INTERNAL, "reply exceeds the maximum message size of 1 MiB", NULL,
                        &e);
                if (k < 0)
                        return k;
                return protocol_writer_append(&c->writer, e);
        }
        return k;
}

static int connection_queue_error(ControlConnection *c, const char *error, const char *message) {
        _cleanup_(json_object_putp) json_object *e = NULL;
        int k = protocol_error_new(error, message, NULL, &e);
        if (k < 0)
                return k;
        return connection_queue(c, e);
}

static int connection_dispatch(ControlConnection *c, json_object *msg) {
        ControlServer *s = c->server;
        _cleanup_(json_object_putp) json_object *out = NULL;
        json_object *params;
        const char *method, *err = NULL;
        int k;

        if (!c->authorized) {
                _cleanup_free_ char *msg_text = NULL;
                if (asprintf(
                            &msg_text,
                            "uid %u is not allowed to use drsd: only root and members of the admin group are",
                            (unsigned) c->uid) < 0)
                        return -ENOMEM;
                c->read_closed = true;
                return connection_queue_error(c, PROTOCOL_ERROR_PERMISSION_DENIED, msg_text);
        }

        k = protocol_request_parse(msg, &method, &params, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return connection_queue_error(c, PROTOCOL_ERROR_INVALID_REQUEST, err);

        if (s->forward && control_server_find_method(s, method)) {
                uint64_t id = ++s->next_pending_id;
                k = s->forward(s->manager, method, msg, id, &out);
                if (k < 0)
                        return k;
                if (k > 0) {
                        log_debug(
                                "Control: uid %u calls %s, forwarded (%" PRIu64 ")", (unsigned) c->uid,
                                method, id);
                        c->pending_id = id;
                        return 0;
                }
                if (out) /* refused by the forwarder with an error reply */
                        return connection_queue(c, out);
        }
        log_debug("Control: uid %u calls %s", (unsigned) c->uid, method);
        k = control_server_call(s, msg, &out);
        if (k < 0)
                return k;
        return connection_queue(c, out);
}

const ControlMethodEntry *control_server_find_method(const ControlServer *s, const char *method) {
        for (size_t i = 0; i < s->n_methods; i++)
                if (streq(s->methods[i].name, method))
                        return &s->methods[i];
        return NULL;
}

int control_server_call(ControlServer *s, json_object *msg, json_object **ret) {
        _cleanup_(json_object_putp) json_object *reply = NULL, *out = NULL;
        _cleanup_free_ char *error = NULL;
        json_object *params;
        const char *method, *err = NULL;
        int k;

        k = protocol_request_parse(msg, &method, &params, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return protocol_error_new(PROTOCOL_ERROR_INVALID_REQUEST, err, NULL, ret);

        const ControlMethodEntry *entry = control_server_find_method(s, method);
        if (!entry) {
                json_object *extra = json_object_new_object();
                if (!extra)
                        return -ENOMEM;
                json_object_object_add(extra, "method", json_object_new_string(method));
                _cleanup_free_ char *text = NULL;
                if (asprintf(&text, "no method '%s'", method) < 0) {
                        json_object_put(extra);
                        return -ENOMEM;
                }
                k = protocol_error_new(PROTOCOL_ERROR_METHOD_NOT_FOUND, text, extra, ret);
                json_object_put(extra);
                return k;
        }

        k = entry->handler(s->manager, params, &reply, &error);
        if (k >= 0)
                k = protocol_reply_new(reply, &out);
        else if (error && protocol_name_is_valid(error)) {
                json_object *m = NULL;
                const char *message = reply && json_object_object_get_ex(reply, "message", &m)
                                              ? json_object_get_string(m)
                                              : NULL;
                /* message is already in reply; pass reply as extra and no separate message. */
                k = protocol_error_new(error, message ? NULL : "request failed", reply, &out);
        } else {
                char text[256];
                snprintf(text, sizeof(text), "%s failed: %s", method, strerror(k < 0 ? -k : k));
                k = protocol_error_new(PROTOCOL_ERROR_INTERNAL, text, NULL, &out);
        }
        if (k < 0)
                return k;
        *ret = TAKE_PTR(out);
        return 0;
}

static int connection_update_events(ControlConnection *c) {
        uint32_t events = 0;
        size_t pending = protocol_writer_pending(&c->writer, NULL);

        if (!c->read_closed && pending < CONTROL_MAX_PENDING_OUTPUT && c->pending_id == 0)
                events |= EPOLLIN;
        if (pending > 0)
                events |= EPOLLOUT;
        return sd_event_source_set_io_events(c->source, events);
}

/* Returns 0, or < 0 when the connection must be dropped now. */
static int connection_flush(ControlConnection *c) {
        for (;;) {
                const char *data;
                size_t n = protocol_writer_pending(&c->writer, &data);
                if (n == 0)
                        return 0;
                ssize_t l = send(c->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                protocol_writer_consume(&c->writer, (size_t) l);
        }
}

static int connection_process(ControlConnection *c);

static int connection_read(ControlConnection *c) {
        char buf[65536];
        int k;

        ssize_t l = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (l < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                return -errno;
        }
        if (l == 0) {
                c->read_closed = true;
                return 0;
        }

        k = protocol_reader_feed(&c->reader, buf, (size_t) l);
        int r = connection_process(c);
        if (r < 0)
                return r;
        if (k == -EMSGSIZE && !c->read_closed && c->pending_id == 0) {
                c->read_closed = true;
                return connection_queue_error(
                        c, PROTOCOL_ERROR_INVALID_REQUEST, "message exceeds the maximum size of 1 MiB");
        }
        return k == -EMSGSIZE ? 0 : k;
}

/* Dispatches the complete requests buffered, in order, until one is forwarded (its reply comes
 * later: control_server_complete() continues from there). */
static int connection_process(ControlConnection *c) {
        int k;

        while (c->pending_id == 0) {
                json_object *msg = NULL;
                const char *err = NULL;
                int n = protocol_reader_next(&c->reader, &msg, &err);
                if (n == 0)
                        break;
                if (n == -EBADMSG) {
                        k = connection_queue_error(c, PROTOCOL_ERROR_INVALID_REQUEST, err);
                        if (k < 0)
                                return k;
                        continue;
                }
                if (n < 0) {
                        /* Oversized: the stream cannot be resynchronized. Say why, then close. */
                        c->read_closed = true;
                        return connection_queue_error(
                                c, PROTOCOL_ERROR_INVALID_REQUEST,
                                err ?: "message exceeds the maximum size of 1 MiB");
                }
                int r = connection_dispatch(c, msg);
                json_object_put(msg);
                if (r < 0)
                        return r;
                if (c->read_closed)
                        break;
        }
        return 0;
}

static int connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlConnection *c = userdata;
        int k = 0;

        if (revents & EPOLLIN)
                k = connection_read(c);
        if (k >= 0)
                k = connection_flush(c);
        if (k >= 0 && (revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN))
                k = -ECONNRESET;
        if (k < 0 && k != -ECONNRESET && k != -EPIPE)
                log_debug_errno(k, "Control: dropping connection of uid %u: %m", (unsigned) c->uid);
        if (k < 0 ||
            (c->read_closed && c->pending_id == 0 && protocol_writer_pending(&c->writer, NULL) == 0)) {
                connection_free(c);
                return 0;
        }
        k = connection_update_events(c);
        if (k < 0)
                connection_free(c);
        return 0;
}

int control_server_add_connection(ControlServer *s, int fd) {
        _cleanup_free_ gid_t *groups = NULL;
        size_t n_groups = 0;
        struct ucred cred = {};
        socklen_t l = sizeof(cred);
        int k;

        if (s->n_connections >= CONTROL_MAX_CONNECTIONS) {
                log_warning("Control: refusing a connection: already %u clients", CONTROL_MAX_CONNECTIONS);
                close(fd);
                return -EBUSY;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0) {
                k = -errno;
                close(fd);
                return k;
        }
        k = peer_groups(fd, &groups, &n_groups);
        if (k < 0) {
                close(fd);
                return k;
        }

        ControlConnection *c = calloc(1, sizeof(ControlConnection));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->uid = cred.uid;
        c->pid = cred.pid;
        c->authorized = control_peer_is_authorized(
                cred.uid, cred.gid, groups, n_groups, s->admin_gid, s->have_admin_gid);
        if (!c->authorized) {
                LogFields f = {
                        .message_id = DRS_MESSAGE_CONTROL_DENIED,
                        .reason = "not root and not in the admin group",
                };
                log_event(
                        LOG_WARNING, &f,
                        "Control: refusing uid %u (pid %d): not root and not in the admin group",
                        (unsigned) cred.uid, (int) cred.pid);
        }

        k = sd_event_add_io(s->event, &c->source, fd, EPOLLIN, connection_io, c);
        if (k < 0) {
                connection_free(c);
                return k;
        }
        (void) sd_event_source_set_description(c->source, "control-connection");

        c->server = s;
        c->next = s->connections;
        if (s->connections)
                s->connections->prev = c;
        s->connections = c;
        s->n_connections++;
        return 0;
}

static int listen_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;

        for (unsigned i = 0; i < 16; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        log_warning_errno(-errno, "Control: accept() failed: %m");
                        return 0;
                }
                int k = control_server_add_connection(s, cfd);
                if (k < 0 && k != -EBUSY)
                        log_warning_errno(k, "Control: failed to set up a connection: %m");
        }
        return 0;
}

int control_server_new(
        sd_event *event, Manager *manager, const ControlMethodEntry *methods, size_t n_methods,
        gid_t admin_gid, bool have_admin_gid, ControlServer **ret) {
        ControlServer *s = calloc(1, sizeof(ControlServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->manager = manager;
        s->methods = methods;
        s->n_methods = n_methods;
        s->admin_gid = admin_gid;
        s->have_admin_gid = have_admin_gid;
        s->listen_fd = -EBADF;
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        sd_event_source_disable_unref(s->listen_source);
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->path)
                (void) unlink(s->path);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void control_server_set_admin_group(ControlServer *s, gid_t admin_gid, bool have_admin_gid) {
        s->admin_gid = admin_gid;
        s->have_admin_gid = have_admin_gid;
        if (s->path && have_admin_gid && chown(s->path, (uid_t) -1, admin_gid) < 0)
                log_warning_errno(
                        -errno, "Control: cannot give '%s' to group %u: %m", s->path, (unsigned) admin_gid);
}

size_t control_server_n_connections(const ControlServer *s) {
        return s ? s->n_connections : 0;
}

int control_server_adopt(ControlServer *s, int fd) {
        int k;

        if (s->listen_fd >= 0) {
                close(fd);
                return -EBUSY;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                k = -errno;
                close(fd);
                return k;
        }
        s->listen_fd = fd;
        k = sd_event_add_io(s->event, &s->listen_source, fd, EPOLLIN, listen_io, s);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(s->listen_source, "control-listen");
        return 0;
}

int control_server_listen(ControlServer *s, const char *path) {
        _cleanup_free_ char *dir = NULL, *path_copy = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t l = strlen(path);
        int fd, k;

        if (l == 0 || l >= sizeof(sa.sun_path) || path[0] != '/')
                return -EINVAL;
        memcpy(sa.sun_path, path, l);

        dir = strdup(path);
        path_copy = strdup(path);
        if (!dir || !path_copy)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash != dir) {
                *slash = 0;
                k = mkdir_parents_and_self(dir, CONTROL_DIRECTORY_MODE);
                if (k < 0)
                        return k;
        }

        /* A socket file left by a drsd that died is removed; a live one is not. */
        struct stat st;
        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                int probe = protocol_connect(path);
                if (probe >= 0) {
                        close(probe);
                        return -EADDRINUSE;
                }
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        }

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Bind with no permissions for others, then widen to exactly the mode: no window in
         * which an unauthorized client could connect. */
        mode_t old = umask(0777);
        k = bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1));
        if (k < 0)
                k = -errno;
        umask(old);
        if (k < 0) {
                close(fd);
                return k;
        }
        if (chown(path, (uid_t) -1, s->have_admin_gid ? s->admin_gid : (gid_t) -1) < 0 ||
            chmod(path, CONTROL_SOCKET_MODE) < 0 || listen(fd, SOMAXCONN) < 0) {
                k = -errno;
                (void) unlink(path);
                close(fd);
                return k;
        }

        k = control_server_adopt(s, fd);
        if (k < 0) {
                (void) unlink(path);
                return k;
        }
        s->path = TAKE_PTR(path_copy);
        return 0;
}

void control_server_set_forward(ControlServer *s, ControlForward forward) {
        s->forward = forward;
}

int control_server_complete(ControlServer *s, uint64_t id, json_object *msg) {
        ControlConnection *c;
        int k;

        for (c = s->connections; c; c = c->next)
                if (c->pending_id == id)
                        break;
        if (!c)
                return -ENOENT; /* the client went away */
        c->pending_id = 0;
        k = connection_queue(c, msg);
        if (k >= 0)
                k = connection_process(c);
        if (k >= 0)
                k = connection_flush(c);
        if (k >= 0 && !(c->read_closed && protocol_writer_pending(&c->writer, NULL) == 0))
                k = connection_update_events(c);
        else if (k >= 0)
                k = -ECONNRESET; /* done: drop it */
        if (k < 0)
                connection_free(c);
        return 0;
}

bool control_server_has_pending(const ControlServer *s, uint64_t id) {
        for (const ControlConnection *c = s->connections; c; c = c->next)
                if (c->pending_id == id)
                        return true;
        return false;
}

int control_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int control_refuse_parameters(
        json_object *params, const char *const *allowed, json_object **reply, char **reterr_error) {
        json_object_object_foreach(params, key, val) {
                (void) val;
                bool ok = false;
                for (const char *const *a = allowed; a && *a; a++)
                        if (streq(*a, key))
                                ok = true;
                if (!ok)
                        return control_fail(
                                reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                                "unknown parameter '%s'", key);
        }
        return 0;
}

int control_get_u64(
        json_object *params, const char *key, bool required, uint64_t max, uint64_t *ret,
        json_object **reply, char **reterr_error) {
        json_object *v;
        if (!json_object_object_get_ex(params, key, &v)) {
                if (!required)
                        return 0;
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER, "parameter '%s' is required",
                        key);
        }
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            (uint64_t) json_object_get_int64(v) > max)
                return control_fail(
                        reply, reterr_error, PROTOCOL_ERROR_INVALID_PARAMETER,
                        "parameter '%s' must be an integer in 0..%" PRIu64, key, max);
        *ret = (uint64_t) json_object_get_int64(v);
        return 1;
}
