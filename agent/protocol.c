/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static int buf_reserve(char **buf, size_t *allocated, size_t need) {
        if (need <= *allocated)
                return 0;
        size_t n = *allocated ? *allocated : 4096;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        char *p = realloc(*buf, n);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *allocated = n;
        return 0;
}

void protocol_reader_done(ProtocolReader *r) {
        if (!r)
                return;
        free(r->buf);
        *r = (ProtocolReader){};
}

int protocol_reader_feed(ProtocolReader *r, const void *data, size_t len) {
        int k;

        if (r->broken)
                return -EMSGSIZE;
        if (len == 0)
                return 0;

        /* Bound what is buffered without a terminator: the part after the last NUL of the
         * buffer plus the new bytes must not exceed one maximal message. */
        const char *nul = memrchr(data, 0, len);
        size_t tail;
        if (nul)
                tail = len - (size_t) (nul - (const char *) data) - 1;
        else {
                const char *last = r->size > 0 ? memrchr(r->buf, 0, r->size) : NULL;
                size_t buffered_tail = last ? r->size - (size_t) (last - r->buf) - 1 : r->size;
                tail = buffered_tail + len;
        }
        if (tail > PROTOCOL_MAX_MESSAGE) {
                r->broken = true;
                return -EMSGSIZE;
        }

        k = buf_reserve(&r->buf, &r->allocated, r->size + len);
        if (k < 0)
                return k;
        memcpy(r->buf + r->size, data, len);
        r->size += len;
        return 0;
}

int protocol_parse_message(const char *buf, size_t len, json_object **ret, const char **reterr_msg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *err = NULL;

        if (len > PROTOCOL_MAX_MESSAGE)
                err = "message exceeds the maximum size of 1 MiB";
        else if (len == 0)
                err = "message is empty";
        else if (memchr(buf, 0, len))
                err = "message contains a NUL byte";
        else {
                json_tokener *tok = json_tokener_new_ex(PROTOCOL_MAX_DEPTH);
                if (!tok)
                        return -ENOMEM;
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
                o = json_tokener_parse_ex(tok, buf, (int) len);
                enum json_tokener_error jerr = json_tokener_get_error(tok);
                size_t used = json_tokener_get_parse_end(tok);
                if (!o && jerr == json_tokener_continue) {
                        /* A bare top-level number may continue; a NUL ends the input. */
                        o = json_tokener_parse_ex(tok, "", 1);
                        jerr = o ? json_tokener_get_error(tok) : json_tokener_continue;
                        used = len;
                }
                json_tokener_free(tok);

                if (jerr == json_tokener_error_depth)
                        err = "message is nested too deeply";
                else if (jerr == json_tokener_continue || (!o && jerr == json_tokener_success))
                        err = "message is incomplete JSON";
                else if (jerr != json_tokener_success || !o)
                        err = "message is not valid JSON";
                else {
                        for (size_t i = used; i < len; i++)
                                if (!strchr(" \t\r\n", buf[i])) {
                                        err = "message has data after the JSON object";
                                        break;
                                }
                        if (!err && !json_object_is_type(o, json_type_object))
                                err = "message is not a JSON object";
                }
        }

        if (err) {
                if (reterr_msg)
                        *reterr_msg = err;
                return -EBADMSG;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int protocol_reader_next(ProtocolReader *r, json_object **ret, const char **reterr_msg) {
        if (r->broken) {
                if (reterr_msg)
                        *reterr_msg = "message exceeds the maximum size of 1 MiB";
                return -EMSGSIZE;
        }

        char *nul = r->size > r->scanned ? memchr(r->buf + r->scanned, 0, r->size - r->scanned) : NULL;
        if (!nul) {
                r->scanned = r->size;
                return 0;
        }

        size_t len = (size_t) (nul - r->buf);
        json_object *o = NULL;
        int k = protocol_parse_message(r->buf, len, &o, reterr_msg);

        /* Drop the message (good or bad) and its NUL. */
        memmove(r->buf, nul + 1, r->size - len - 1);
        r->size -= len + 1;
        r->scanned = 0;

        if (k < 0)
                return k;
        *ret = o;
        return 1;
}

void protocol_writer_done(ProtocolWriter *w) {
        if (!w)
                return;
        free(w->buf);
        *w = (ProtocolWriter){};
}

int protocol_writer_append(ProtocolWriter *w, json_object *msg) {
        size_t len;
        int k;

        const char *s = json_object_to_json_string_length(
                msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        if (len > PROTOCOL_MAX_MESSAGE)
                return -EMSGSIZE;

        /* Compact first, so a long-lived connection does not grow its buffer forever. */
        if (w->offset > 0) {
                memmove(w->buf, w->buf + w->offset, w->size - w->offset);
                w->size -= w->offset;
                w->offset = 0;
        }
        k = buf_reserve(&w->buf, &w->allocated, w->size + len + 1);
        if (k < 0)
                return k;
        memcpy(w->buf + w->size, s, len);
        w->buf[w->size + len] = 0;
        w->size += len + 1;
        return 0;
}

size_t protocol_writer_pending(const ProtocolWriter *w, const char **ret_data) {
        if (w->size <= w->offset) {
                if (ret_data)
                        *ret_data = NULL;
                return 0;
        }
        if (ret_data)
                *ret_data = w->buf + w->offset;
        return w->size - w->offset;
}

void protocol_writer_consume(ProtocolWriter *w, size_t n) {
        if (n > w->size - w->offset)
                n = w->size - w->offset;
        w->offset += n;
        if (w->offset == w->size)
                w->offset = w->size = 0;
}

static bool char_is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool char_is_ident(char c) {
        return char_is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

bool protocol_name_is_valid(const char *name) {
        size_t parts = 0;

        if (!name || strlen(name) > PROTOCOL_MAX_NAME)
                return false;

        for (const char *p = name;;) {
                if (!char_is_alpha(*p))
                        return false;
                while (char_is_ident(*p))
                        p++;
                parts++;
                if (*p == 0)
                        break;
                if (*p != '.')
                        return false;
                p++;
        }
        return parts >= 2;
}

static int object_add_ref(json_object *o, const char *key, json_object *v) {
        json_object *ref = v ? json_object_get(v) : json_object_new_object();
        if (!ref)
                return -ENOMEM;
        if (json_object_object_add(o, key, ref) < 0) {
                json_object_put(ref);
                return -ENOMEM;
        }
        return 0;
}

static int object_add_string(json_object *o, const char *key, const char *s) {
        json_object *v = json_object_new_string(s);
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int protocol_request_new(const char *method, json_object *parameters, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int k;

        if (!protocol_name_is_valid(method))
                return -EINVAL;
        if (parameters && !json_object_is_type(parameters, json_type_object))
                return -EINVAL;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        k = object_add_string(o, "method", method);
        if (k < 0)
                return k;
        k = object_add_ref(o, "parameters", parameters);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(o);
        return 0;
}

int protocol_reply_new(json_object *parameters, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int k;

        if (parameters && !json_object_is_type(parameters, json_type_object))
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        k = object_add_ref(o, "parameters", parameters);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(o);
        return 0;
}

int protocol_error_new(const char *error, const char *message, json_object *extra, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL, *params = NULL;
        int k;

        if (!protocol_name_is_valid(error))
                return -EINVAL;
        if (extra && !json_object_is_type(extra, json_type_object))
                return -EINVAL;

        params = json_object_new_object();
        o = json_object_new_object();
        if (!params || !o)
                return -ENOMEM;
        if (extra) {
                json_object_object_foreach(extra, key, val) {
                        k = object_add_ref(params, key, val);
                        if (k < 0)
                                return k;
                }
        }
        if (message) {
                k = object_add_string(params, "message", message);
                if (k < 0)
                        return k;
        }
        k = object_add_string(o, "error", error);
        if (k < 0)
                return k;
        k = object_add_ref(o, "parameters", params);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(o);
        return 0;
}

static int fail(const char **reterr_msg, const char *msg) {
        if (reterr_msg)
                *reterr_msg = msg;
        return -EBADMSG;
}

int protocol_request_parse(
        json_object *msg, const char **ret_method, json_object **ret_parameters, const char **reterr_msg) {
        json_object *method = NULL, *params = NULL;

        if (!json_object_is_type(msg, json_type_object))
                return fail(reterr_msg, "request is not a JSON object");

        json_object_object_foreach(msg, key, val) {
                if (streq(key, "method"))
                        method = val;
                else if (streq(key, "parameters"))
                        params = val;
                else
                        return fail(reterr_msg, "request has a key other than 'method' and 'parameters'");
        }
        if (!method)
                return fail(reterr_msg, "request has no 'method'");
        if (!json_object_is_type(method, json_type_string))
                return fail(reterr_msg, "request 'method' is not a string");
        if (!protocol_name_is_valid(json_object_get_string(method)))
                return fail(reterr_msg, "request 'method' is not a valid name (expected e.g. 'drs.Status')");
        if (params && !json_object_is_type(params, json_type_object))
                return fail(reterr_msg, "request 'parameters' is not a JSON object");
        if (!params) {
                params = json_object_new_object();
                if (!params)
                        return -ENOMEM;
                if (json_object_object_add(msg, "parameters", params) < 0) {
                        json_object_put(params);
                        return -ENOMEM;
                }
        }

        *ret_method = json_object_get_string(method);
        *ret_parameters = params;
        return 0;
}

int protocol_reply_parse(
        json_object *msg, json_object **ret_parameters, const char **ret_error, const char **ret_message,
        const char **reterr_msg) {
        json_object *error = NULL, *params = NULL, *message = NULL;

        if (!json_object_is_type(msg, json_type_object))
                return fail(reterr_msg, "reply is not a JSON object");
        json_object_object_foreach(msg, key, val) {
                if (streq(key, "error"))
                        error = val;
                else if (streq(key, "parameters"))
                        params = val;
                else
                        return fail(reterr_msg, "reply has a key other than 'error' and 'parameters'");
        }
        if (!params || !json_object_is_type(params, json_type_object))
                return fail(reterr_msg, "reply has no 'parameters' object");
        if (error) {
                if (!json_object_is_type(error, json_type_string) ||
                    !protocol_name_is_valid(json_object_get_string(error)))
                        return fail(reterr_msg, "reply 'error' is not a valid name");
                if (json_object_object_get_ex(params, "message", &message) &&
                    !json_object_is_type(message, json_type_string))
                        return fail(reterr_msg, "error reply 'message' is not a string");
        }

        *ret_parameters = params;
        if (ret_error)
                *ret_error = error ? json_object_get_string(error) : NULL;
        if (ret_message)
                *ret_message = message ? json_object_get_string(message) : NULL;
        return 0;
}

/* Below: the only I/O in this file, a blocking client for drsctl and the tests. */

int protocol_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t l = strlen(path);

        if (l == 0 || l >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, l);

        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa,
                    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t n = now_usec();
                if (n >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, (int) ((deadline - n + 999) / 1000));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r > 0)
                        return 0;
        }
}

int protocol_call(
        const char *path, int fd, const char *method, json_object *parameters, uint64_t timeout_usec,
        json_object **ret) {
        _cleanup_(json_object_putp) json_object *req = NULL;
        _cleanup_(protocol_writer_done) ProtocolWriter w = {};
        _cleanup_(protocol_reader_done) ProtocolReader r = {};
        _cleanup_(closep) int owned_fd = -EBADF;
        uint64_t deadline = now_usec() + timeout_usec;
        int k;

        if (path) {
                owned_fd = protocol_connect(path);
                if (owned_fd < 0)
                        return owned_fd;
                fd = owned_fd;
        }
        if (fd < 0)
                return -EBADF;

        k = protocol_request_new(method, parameters, &req);
        if (k < 0)
                return k;
        k = protocol_writer_append(&w, req);
        if (k < 0)
                return k;

        for (;;) {
                const char *data;
                size_t n = protocol_writer_pending(&w, &data);
                if (n == 0)
                        break;
                k = wait_fd(fd, POLLOUT, deadline);
                if (k < 0)
                        return k;
                ssize_t l = send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (l < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                protocol_writer_consume(&w, (size_t) l);
        }

        for (;;) {
                json_object *o = NULL;
                k = protocol_reader_next(&r, &o, NULL);
                if (k < 0)
                        return k;
                if (k > 0) {
                        *ret = o;
                        return 0;
                }
                k = wait_fd(fd, POLLIN, deadline);
                if (k < 0)
                        return k;
                char buf[16384];
                ssize_t l = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (l < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (l == 0)
                        return -ECONNRESET;
                k = protocol_reader_feed(&r, buf, (size_t) l);
                if (k < 0)
                        return k;
        }
}
