/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The control socket server: drsctl's way into drsd.
 *
 * A unix stream socket (bound at the configured path, or handed over by systemd socket
 * activation) served by sd-event IO sources on the Manager's loop. Each connection has its own
 * ProtocolReader/ProtocolWriter; requests are dispatched in order through a method table and
 * answered in order. At most CONTROL_MAX_CONNECTIONS clients at once (more are closed at once).
 *
 * Authorization, checked once per connection from the kernel's view of the peer at connect()
 * time: SO_PEERCRED (uid, primary gid) and SO_PEERGROUPS (the supplementary groups). Neither can
 * be raced like /proc/PID/status (the PID may be reused) nor be stale like getgrouplist() of
 * the uid (the group database may differ from what the process holds). Allowed: uid 0, or the
 * admin group as primary or supplementary group. Others get drs.PermissionDenied for their
 * first request and the connection is closed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define CONTROL_MAX_CONNECTIONS 64
/* Stop reading from a client while this much of its replies is unsent. */
#define CONTROL_MAX_PENDING_OUTPUT (4U * 1024U * 1024U)
#define CONTROL_SOCKET_MODE 0660
#define CONTROL_DIRECTORY_MODE 0755

typedef struct Manager Manager;
typedef struct ControlServer ControlServer;

/* A method handler. On success returns >= 0 and may set *reply to the reply parameters (a JSON
 * object; NULL = {}). On failure returns < 0 and may set *reterr_error to the error name (newly
 * allocated) and *reply to the error parameters, which should hold "message";
 * control_fail() does both. A failure without *reterr_error becomes drs.InternalError. */
typedef int (*ControlMethod)(Manager *m, json_object *params, json_object **reply, char **reterr_error);

typedef struct ControlMethodEntry {
        const char *name; /* "drs.Status" */
        ControlMethod handler;
} ControlMethodEntry;

/* Fills *reply with {"message": …} and *reterr_error with a copy of error; returns -EINVAL
 * (or -ENOMEM). For handlers. */
_printf_(4, 5) int control_fail(
        json_object **reply, char **reterr_error, const char *error, const char *fmt, ...);

/* For handlers: adds v (taken; NULL = allocation failed) under key; -ENOMEM. */
int control_add(json_object *o, const char *key, json_object *v);
/* For handlers: a parameter not in allowed (NULL-terminated; NULL = none allowed) fails with
 * drs.InvalidParameter "unknown parameter 'KEY'". */
int control_refuse_parameters(
        json_object *params, const char *const *allowed, json_object **reply, char **reterr_error);

/* For handlers: an integer parameter in 0..max. Returns 1 when present (*ret set), 0 when absent
 * and not required, < 0 after control_fail() when missing and required or out of range. */
int control_get_u64(
        json_object *params, const char *key, bool required, uint64_t max, uint64_t *ret,
        json_object **reply, char **reterr_error);

/* methods is borrowed and must outlive the server. !have_admin_gid = root only. */
int control_server_new(
        sd_event *event, Manager *manager, const ControlMethodEntry *methods, size_t n_methods,
        gid_t admin_gid, bool have_admin_gid, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

/* Creates the parent directory (CONTROL_DIRECTORY_MODE), removes a stale socket (refusing with
 * -EADDRINUSE when something still answers there), binds, chmods CONTROL_SOCKET_MODE and gives
 * the group to the admin group. The socket file is removed again by control_server_free(). */
int control_server_listen(ControlServer *s, const char *path);
/* Serves an already listening socket (socket activation). Takes the fd. */
int control_server_adopt(ControlServer *s, int fd);
/* Serves one connected socket (tests use a socketpair). Takes the fd. */
int control_server_add_connection(ControlServer *s, int fd);

/* May the admin group be changed on reload: new connections are checked against it. */
void control_server_set_admin_group(ControlServer *s, gid_t admin_gid, bool have_admin_gid);

size_t control_server_n_connections(const ControlServer *s);

/* Forwarding (cluster mode: requests go to the leader). Called for every authorized request whose
 * method exists in the table, before it is handled locally: return 0 to handle it locally, 1 when
 * it was taken — its reply (a whole reply or error message) must then come through
 * control_server_complete(s, id, …); the connection answers nothing else until then — or < 0 on
 * failure. Returning 0 with *ret_reply set answers with that message at once (refused). */
typedef int (*ControlForward)(
        Manager *m, const char *method, json_object *request, uint64_t id, json_object **ret_reply);
void control_server_set_forward(ControlServer *s, ControlForward forward);
/* Delivers the reply of forwarded request id (msg borrowed). -ENOENT when its client is gone. */
int control_server_complete(ControlServer *s, uint64_t id, json_object *msg);
bool control_server_has_pending(const ControlServer *s, uint64_t id);

/* Runs one request message through the method table, as if from an authorized client, and
 * returns the reply or error message (what the leader does with a forwarded request). */
int control_server_call(ControlServer *s, json_object *request, json_object **ret);
const ControlMethodEntry *control_server_find_method(const ControlServer *s, const char *method);

/* Pure: the authorization rule. */
bool control_peer_is_authorized(
        uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, gid_t admin_gid, bool have_admin_gid);
