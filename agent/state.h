/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Persistent per-host operator state: which hosts an operator (or DPM) took out of service.
 *
 * Kept in STATE_DIR/hosts.json, rewritten atomically (temp file, fsync, rename, fsync of the
 * directory) on every change and loaded at start. A host with no entry is up. A file that
 * cannot be read or parsed is an error, never an empty state: forgetting that a host is in
 * maintenance would put VMs back on it. Library code: never logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define STATE_FILE_NAME "hosts.json"
#define STATE_FILE_VERSION 1
#define STATE_MAX_FILE_SIZE (4U * 1024U * 1024U)

typedef enum HostMode {
        HOST_MODE_UP,
        HOST_MODE_ENTERING_MAINTENANCE, /* evacuating: receives no VM, stays until empty */
        HOST_MODE_MAINTENANCE,          /* empty, out of service until exit-maintenance */
        HOST_MODE_STANDBY,              /* powered off by DPM */
        HOST_MODE_POWER_ON_FAILED,      /* DPM could not power it on: not chosen until cleared */
        _HOST_MODE_MAX,
        _HOST_MODE_INVALID = -1,
} HostMode;

const char *host_mode_to_string(HostMode m); /* "up", "entering-maintenance", … */
HostMode host_mode_from_string(const char *s);

typedef struct StateHost {
        char *name; /* owned */
        HostMode mode;
        uint64_t since_usec; /* CLOCK_REALTIME when the mode was set */
        char *reason;        /* owned; who or what set it ("drsctl evacuate by uid 0"); may be NULL */
} StateHost;

typedef struct State {
        char *path;       /* owned; the file; NULL for a state not backed by a file */
        StateHost *hosts; /* owned array, sorted by name; never holds HOST_MODE_UP */
        size_t n_hosts;
} State;

State *state_free(State *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(State *, state_free);

/* Parses the file format. -EBADMSG with *reterr_msg (newly allocated, says what is wrong) on
 * a malformed document; the returned state has no path. */
int state_parse(const char *buf, size_t len, State **ret, char **reterr_msg);
/* Serializes to the file format (pretty JSON, trailing newline). */
int state_format(const State *s, char **ret);

/* Loads DIR/hosts.json; a missing file is an empty state. -EBADMSG (and *reterr_msg) when it is
 * corrupt, -errno when it cannot be read. */
int state_load(const char *dir, State **ret, char **reterr_msg);
/* Writes the file atomically. */
int state_save(const State *s);

HostMode state_get(const State *s, const char *host); /* HOST_MODE_UP when not listed */
const StateHost *state_find(const State *s, const char *host);
/* Changes a host's mode in memory (HOST_MODE_UP removes the entry) and saves when the state
 * has a path. On a save failure the in-memory state is rolled back. Returns 1 when something
 * changed, 0 when it already was so. */
int state_set(State *s, const char *host, HostMode mode, const char *reason, uint64_t now_usec);
