/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Rolling maintenance (drsctl rollout): patch and reboot a set of hosts in turn.
 *
 * Per host, in waves of `parallel` hosts (a wave starts when the previous one is done):
 *
 *   pending → evacuating   the host is set entering-maintenance; the normal pass evacuates it
 *           → command      THE GATE: only once the host is in maintenance and a report of its
 *                          libvirt taken after drs saw it in maintenance lists no running VM
 *                          (and no move from it is in flight):
 *                          the state is saved as "command" *before* the command starts
 *           → returning    the command exited 0: wait for a report of the host taken after the
 *                          command ended (its libvirt answers again)
 *           → health       the health check command runs (when one is given)
 *           → done         the host is set up again; the next host(s)
 *
 * Any failure (a VM of the host fits nowhere, a step over the per-host timeout, the command or
 * the health check failing, the host leaving maintenance by hand) pauses the whole rollout with
 * the reason: the host stays where it is (in maintenance), no other host is touched until
 * `resume` (which retries the failed step) or `abort`. A host whose command was running when
 * drsd stopped is "unknown" after the restart (rollout_loaded()): the rollout pauses, and resume
 * waits for the host to come back without running the command again (exactly once).
 *
 * The state is a plain value that the leader saves on every change (STATE_DIR/rollout.json,
 * and in cluster mode multicast to every drsd) and loads when it starts leading. The decisions
 * are in pass.c's hooks (leader_pass_rollout_*), which act through LeaderPassOps. Pure: no
 * I/O, no clock, no logging. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

#define ROLLOUT_FILE_NAME "rollout.json"
#define ROLLOUT_FILE_VERSION 1
#define ROLLOUT_DEFAULT_TIMEOUT_S (30U * 60U)
#define ROLLOUT_MAX_HOSTS 10000U
#define ROLLOUT_MAX_COMMAND 4096U

typedef enum RolloutState {
        ROLLOUT_RUNNING,
        ROLLOUT_PAUSED,  /* reason says why; resume or abort */
        ROLLOUT_DONE,    /* every host done (or skipped) */
        ROLLOUT_ABORTED, /* by the operator; hosts stay in the mode they were in */
        _ROLLOUT_STATE_MAX,
        _ROLLOUT_STATE_INVALID = -1,
} RolloutState;

typedef enum RolloutHostState {
        ROLLOUT_HOST_PENDING,
        ROLLOUT_HOST_EVACUATING,
        ROLLOUT_HOST_COMMAND,
        ROLLOUT_HOST_RETURNING,
        ROLLOUT_HOST_HEALTH,
        ROLLOUT_HOST_DONE,
        ROLLOUT_HOST_FAILED,  /* failed_step failed (note says how); stays in maintenance */
        ROLLOUT_HOST_UNKNOWN, /* its command was running when the leader stopped: check it */
        ROLLOUT_HOST_SKIPPED, /* in standby or power-on-failed when its turn came */
        _ROLLOUT_HOST_STATE_MAX,
        _ROLLOUT_HOST_STATE_INVALID = -1,
} RolloutHostState;

const char *rollout_state_to_string(RolloutState s);
RolloutState rollout_state_from_string(const char *s);
const char *rollout_host_state_to_string(RolloutHostState s);
RolloutHostState rollout_host_state_from_string(const char *s);

typedef struct RolloutHost {
        char *name; /* owned */
        RolloutHostState state;
        RolloutHostState failed_step; /* state FAILED: the step to retry on resume */
        unsigned wave;                /* 1-based */
        uint64_t step_usec;           /* CLOCK_REALTIME: when the current step started */
        uint64_t done_usec;           /* CLOCK_REALTIME: done (0 = not yet) */
        uint64_t command_ms;          /* how long its command ran */
        unsigned vms_at_start;        /* VMs it ran when its evacuation started */
        char *note;                   /* owned; the last failure, NULL when none */
        uint32_t runner;              /* command or health: the cluster node running it for the
                                       * leader (0 = the leader itself, standalone: always 0) */
        /* Not saved: returning, a report taken after this (CLOCK_MONOTONIC) is the host back. */
        uint64_t back_after_mono;
        /* Not saved: evacuating, when the host was first seen in maintenance (CLOCK_MONOTONIC):
         * the gate wants a report of its libvirt taken after that. */
        uint64_t gate_after_mono;
} RolloutHost;

typedef struct Rollout {
        uint64_t id;        /* CLOCK_REALTIME µs of the start: names it in the journal */
        char *command;      /* owned; the template ({host} {address} {mac} {bmc}) */
        char *health;       /* owned; template, NULL = none */
        uint64_t timeout_s; /* per host and step */
        unsigned parallel;  /* hosts per wave */
        bool parallel_auto; /* parallel was computed (--parallel auto) */
        bool in_windows;    /* new hosts start only while the policy's automation level now is not manual
                             * (its windows): outside them the rollout waits */
        bool waiting;       /* not saved: in_windows and outside them at the last step */
        char *started_by;   /* owned; "drsctl by uid 0"; may be NULL */
        RolloutState state;
        char *reason;                         /* owned; paused or aborted: why; NULL otherwise */
        uint64_t started_usec, finished_usec; /* CLOCK_REALTIME; finished 0 = not yet */
        unsigned wave;                        /* the wave in progress, 1-based */
        RolloutHost *hosts;                   /* owned array, in rollout order */
        size_t n_hosts;
} Rollout;

Rollout *rollout_free(Rollout *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Rollout *, rollout_free);

/* A new running rollout over hosts[0..n) in that order, waves of parallel (>= 1) hosts
 * (in_windows: set afterwards). */
int rollout_new(
        char *const *hosts, size_t n, const char *command, const char *health, uint64_t timeout_s,
        unsigned parallel, bool parallel_auto, const char *started_by, uint64_t now_usec, Rollout **ret);

/* RUNNING or PAUSED: it still holds hosts and keeps DPM out. */
bool rollout_is_active(const Rollout *r);
size_t rollout_n_done(const Rollout *r); /* hosts done or skipped */
unsigned rollout_n_waves(const Rollout *r);
RolloutHost *rollout_find(Rollout *r, const char *host);
/* Sets the state with its reason (NULL clears it). */
int rollout_set_state(Rollout *r, RolloutState s, const char *reason);
int rollout_host_set_note(RolloutHost *h, const char *note);

/* The saved form (what STATE_DIR/rollout.json holds, and cluster mode multicasts) and back.
 * from_json: -EBADMSG with *reterr_msg on a malformed document. */
int rollout_to_json(const Rollout *r, json_object **ret);
int rollout_from_json(json_object *o, Rollout **ret, char **reterr_msg);
int rollout_format(const Rollout *r, char **ret);
int rollout_parse(const char *buf, size_t len, Rollout **ret, char **reterr_msg);
