/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The drsd control protocol, shared by drsd and drsctl: varlink-style framing over a unix
 * stream socket. Every message is one JSON object followed by a NUL byte:
 *
 *   request  {"method":"drs.Status","parameters":{…}}
 *   reply    {"parameters":{…}}
 *   error    {"error":"drs.NoSuchHost","parameters":{"message":"…"}}
 *
 * The reader and writer are pure (bytes in, messages out; no I/O, no logging), so they can be
 * unit-tested and fuzzed. protocol_call() at the end is the one blocking client helper. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

/* Largest message (JSON text, without its NUL) either side accepts. */
#define PROTOCOL_MAX_MESSAGE (1024U * 1024U)
/* Deepest JSON nesting a message may have. */
#define PROTOCOL_MAX_DEPTH 64
/* Longest method or error name. */
#define PROTOCOL_MAX_NAME 255

/* Error names. Every error reply carries parameters.message, a human-readable sentence. */
#define PROTOCOL_ERROR_INVALID_REQUEST "drs.InvalidRequest"     /* malformed message or request */
#define PROTOCOL_ERROR_METHOD_NOT_FOUND "drs.MethodNotFound"    /* parameters.method names it */
#define PROTOCOL_ERROR_INVALID_PARAMETER "drs.InvalidParameter" /* parameters.parameter names it */
#define PROTOCOL_ERROR_PERMISSION_DENIED "drs.PermissionDenied"
#define PROTOCOL_ERROR_NO_SUCH_HOST "drs.NoSuchHost"
#define PROTOCOL_ERROR_POLICY_INVALID "drs.PolicyInvalid" /* parameters.message is file:line:column: … */
#define PROTOCOL_ERROR_CONFIG_INVALID "drs.ConfigInvalid"
#define PROTOCOL_ERROR_INTERNAL "drs.InternalError"

/* Accumulates bytes from a stream and yields complete messages. */
typedef struct ProtocolReader {
        char *buf;        /* owned */
        size_t size;      /* bytes buffered */
        size_t allocated; /* capacity of buf */
        size_t scanned;   /* buf[0..scanned) is known to hold no NUL */
        bool broken;      /* an oversized message was seen: the stream cannot be resynchronized */
} ProtocolReader;

void protocol_reader_done(ProtocolReader *r); /* frees the buffer; r may be reused after */

/* Appends len bytes. -EMSGSIZE (and the reader is broken from then on) when the message being
 * received already exceeds PROTOCOL_MAX_MESSAGE; -ENOMEM. */
int protocol_reader_feed(ProtocolReader *r, const void *data, size_t len);

/* Takes the next complete message out of the buffer.
 * Returns 1 and *ret (a JSON object, owned by the caller) when one was complete, 0 when more
 * bytes are needed, -EBADMSG when the next message is malformed (not JSON, not an object,
 * trailing data, too deep; the message is dropped and the next call continues after it),
 * -EMSGSIZE when the reader is broken. On errors *reterr_msg (if not NULL) points to a static
 * description. */
int protocol_reader_next(ProtocolReader *r, json_object **ret, const char **reterr_msg);

/* Parses and validates one message from a complete buffer (no NUL inside; len excludes any
 * terminator). The pure core of protocol_reader_next(); also what the fuzzer drives. */
int protocol_parse_message(const char *buf, size_t len, json_object **ret, const char **reterr_msg);

/* Outgoing bytes, serialized messages with their NULs. */
typedef struct ProtocolWriter {
        char *buf; /* owned */
        size_t size;
        size_t allocated;
        size_t offset; /* buf[offset..size) is still to be sent */
} ProtocolWriter;

void protocol_writer_done(ProtocolWriter *w);
/* Serializes msg (borrowed) and appends it with its NUL. -EMSGSIZE when it is too large. */
int protocol_writer_append(ProtocolWriter *w, json_object *msg);
/* The pending bytes (NULL, 0 when none) and dropping n of them once sent. */
size_t protocol_writer_pending(const ProtocolWriter *w, const char **ret_data);
void protocol_writer_consume(ProtocolWriter *w, size_t n);

/* A valid method or error name: dot-separated identifiers of [A-Za-z0-9_], at least two parts,
 * each starting with a letter, at most PROTOCOL_MAX_NAME bytes ("drs.Status"). */
bool protocol_name_is_valid(const char *name);

/* Message builders. Parameters are borrowed (a reference is taken); NULL means {}. */
int protocol_request_new(const char *method, json_object *parameters, json_object **ret);
int protocol_reply_new(json_object *parameters, json_object **ret);
/* {"error":name,"parameters":{"message":message}}, plus the fields of extra (borrowed, may be
 * NULL) copied into parameters. */
int protocol_error_new(const char *error, const char *message, json_object *extra, json_object **ret);

/* Checks a request: "method" a valid name, "parameters" absent or an object, no other keys.
 * On success *ret_method and *ret_parameters point into msg (parameters is an empty object
 * added to msg when absent). -EBADMSG with *reterr_msg (static) otherwise. */
int protocol_request_parse(
        json_object *msg, const char **ret_method, json_object **ret_parameters, const char **reterr_msg);

/* Checks a reply. On success returns 0 with *ret_parameters (into msg, never NULL) and
 * *ret_error NULL for a normal reply, or the error name and *ret_message (may be NULL) for an
 * error reply. -EBADMSG with *reterr_msg (static) when the reply is malformed. */
int protocol_reply_parse(
        json_object *msg, json_object **ret_parameters, const char **ret_error, const char **ret_message,
        const char **reterr_msg);

/* Blocking client: connects to the unix socket at path (or uses fd >= 0 when path is NULL),
 * sends one request and waits at most timeout_usec for the reply, which is returned whole
 * (check it with protocol_reply_parse()). -ETIMEDOUT, -ECONNRESET (EOF before a reply),
 * -EBADMSG, or the socket errors. */
int protocol_call(
        const char *path, int fd, const char *method, json_object *parameters, uint64_t timeout_usec,
        json_object **ret);

/* Connects a SOCK_STREAM|SOCK_CLOEXEC socket to path. Returns the fd or -errno. */
int protocol_connect(const char *path);
