/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The messages drsd agents multicast to each other over corosync CPG (group "drs") in
 * corosync mode. Pure: bytes in, ClusterMsg out and back; no I/O, no logging, no globals.
 * The decoder is fuzzed (tests/agent/fuzz-cluster-msg.c): a peer running another version, a
 * bit flip, a truncated buffer must be refused, never crash or over-read.
 *
 * Wire format (every integer big-endian, no padding):
 *
 *   header   u32 magic CLUSTER_MSG_MAGIC ("DRS1")
 *            u16 version CLUSTER_MSG_VERSION
 *            u16 type (ClusterMsgType)
 *            u32 length: of the whole message, header included; must equal the buffer's size
 *            u32 sender nodeid (corosync node id of the agent that sent it; never 0)
 *            u64 term (the sender's current term; 0 = none)
 *   body     per type, in the field order of the structs below
 *   string   u16 byte length, then the bytes: no NUL inside, at most the field's limit
 *            (CLUSTER_NAME_MAX for names, CLUSTER_TEXT_MAX for messages/reasons/URIs,
 *            CLUSTER_JSON_MAX for JSON texts); an empty string decodes to NULL where the field
 *            says "NULL = none", else to ""
 *   bool     u8, 0 or 1 (anything else is malformed)
 *   enum     u8 (HostMode, MigrationResult-compatible codes: range-checked)
 *   double   cpu_demand travels as u32 milli-cores (rounded; clamped to [0, 4e9))
 *   array    u32 count, then the elements (count checked against the bytes left before any
 *            allocation)
 *
 * Every message is at most CLUSTER_MSG_MAX bytes: cluster_msg_encode() refuses a larger one with
 * -EMSGSIZE (a report of a host with more than CLUSTER_REPORT_MAX_VMS VMs is refused before
 * that). The decoder refuses (-EBADMSG, with *reterr_msg a static sentence saying what) a
 * wrong magic, an unknown version or type, a length field that differs from the size, a
 * truncated field, trailing bytes, a string over its limit or holding a NUL, a bool not 0/1,
 * an enum out of range, a count larger than what the remaining bytes could hold, a sender 0. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "state.h"

#define CLUSTER_MSG_MAGIC UINT32_C(0x44525331) /* "DRS1" */
#define CLUSTER_MSG_VERSION 1
#define CLUSTER_MSG_HEADER_SIZE 24
#define CLUSTER_MSG_MAX (60U * 1024U)
#define CLUSTER_NAME_MAX 255U
#define CLUSTER_TEXT_MAX 4096U
#define CLUSTER_JSON_MAX (56U * 1024U)
#define CLUSTER_REPORT_MAX_VMS 1024U

typedef enum ClusterMsgType {
        CLUSTER_MSG_SYNC = 1,          /* after every CPG configuration change: the sender's view */
        CLUSTER_MSG_REPORT = 2,        /* every interval (and after a mode change): the host's report */
        CLUSTER_MSG_MIGRATE = 3,       /* leader → source agent: run this migration */
        CLUSTER_MSG_SET_MODE = 4,      /* leader → host agent: set your host's mode (maintenance, …) */
        CLUSTER_MSG_RESULT = 5,        /* source agent → all: how a migration order ended */
        CLUSTER_MSG_REQUEST = 6,       /* agent → leader: a forwarded drsctl request */
        CLUSTER_MSG_REPLY = 7,         /* leader → agent: the reply to a forwarded request */
        CLUSTER_MSG_POWER_OFF = 8,     /* leader → host agent: run your power-off command (DPM standby) */
        CLUSTER_MSG_ROLLOUT = 9,       /* leader → all: the rolling maintenance's saved state */
        CLUSTER_MSG_ROLLOUT_RUN = 10,  /* leader → one agent: run this rollout command for me */
        CLUSTER_MSG_ROLLOUT_DONE = 11, /* that agent → all: how it ended */
        _CLUSTER_MSG_TYPE_MAX,
} ClusterMsgType;

const char *cluster_msg_type_to_string(ClusterMsgType t); /* "sync", "report", … */

/* SYNC: what the sender knows of leadership, sent after each configuration change so that every
 * member decides the new leader from the same delivered messages (agent/cluster/election.h). */
typedef struct ClusterSync {
        uint32_t leader;      /* the leader the sender last agreed on; 0 = none (e.g. not quorate) */
        uint64_t leader_term; /* the term of that agreement; 0 = none */
        uint64_t max_term;    /* the highest term the sender has seen */
        char *host;           /* owned; the sender's host name (drsd.yaml 'host') */
} ClusterSync;

typedef struct ClusterVm {
        char *name; /* owned */
        uint32_t vcpus;
        uint64_t memory_mib;        /* configured */
        double cpu_demand;          /* cores (milli-core precision on the wire) */
        uint64_t memory_demand_mib; /* smoothed */
        bool migrating;             /* libvirt reports an outgoing migration job */
        bool busy;                  /* the sender's executor has a migration of it queued or running */
        char *target;               /* owned; that migration's target host; NULL = none or not known */
} ClusterVm;

/* REPORT: a host agent's view of its own host. */
typedef struct ClusterReport {
        char *host;               /* owned */
        char *migration_uri;      /* owned; the URI other libvirtds dial to migrate to this host */
        HostMode mode;            /* owned by this agent, persisted in its state directory */
        char *mode_reason;        /* owned; NULL = none */
        uint64_t mode_since_usec; /* CLOCK_REALTIME */
        bool have_sample;         /* false: the agent has no good libvirt sample yet (or lost libvirt) */
        uint32_t sample_age_ms;   /* how old the last good sample was when the report was sent */
        uint32_t cpus;
        uint64_t memory_mib;
        uint64_t free_mib;
        char *last_error; /* owned; NULL = none */
        ClusterVm *vms;   /* owned array, at most CLUSTER_REPORT_MAX_VMS */
        size_t n_vms;
} ClusterReport;

/* MIGRATE: an order. Executed by the source agent only when election_order_ok(). */
typedef struct ClusterMigrate {
        uint64_t order_id; /* unique per leader and term (the leader's counter) */
        char *vm;          /* owned */
        char *source;      /* owned; host names */
        char *target;
        char *target_migration_uri; /* owned */
        uint64_t memory_mib;
        char *reason; /* owned; "balance", "maintenance", "rule:NAME", "dpm", "manual" */
} ClusterMigrate;

/* SET_MODE: an order to the agent of host. */
typedef struct ClusterSetMode {
        uint64_t order_id;
        char *host; /* owned */
        HostMode mode;
        char *reason; /* owned; NULL = none */
} ClusterSetMode;

/* RESULT: the outcome of a MIGRATE order (or its refusal: result SKIPPED, message why). */
typedef struct ClusterResult {
        uint64_t order_id;
        uint64_t order_term; /* the term of the order */
        char *vm;            /* owned */
        char *source;        /* owned */
        char *target;        /* owned */
        uint8_t result;      /* MigrationResult (agent/hv/executor.h); < CLUSTER_RESULT_MAX */
        uint64_t duration_ms;
        uint64_t downtime_ms;
        char *message; /* owned; NULL = none */
} ClusterResult;
#define CLUSTER_RESULT_MAX 5 /* = _MIGRATION_RESULT_MAX; checked by a static assert in the .c */

/* REQUEST / REPLY: drsctl requests forwarded to the leader and its replies relayed back. */
typedef struct ClusterRequest {
        uint64_t request_id; /* the forwarding agent's counter */
        uint32_t to;         /* the leader's nodeid the request is for */
        char *json;          /* owned; the whole control request message, JSON text */
} ClusterRequest;

typedef struct ClusterReply {
        uint64_t request_id;
        uint32_t to;      /* the forwarding agent's nodeid */
        uint16_t part;    /* this piece, 0-based: a reply longer than CLUSTER_JSON_MAX is sent in */
        uint16_t n_parts; /* n_parts pieces (1..CLUSTER_REPLY_MAX_PARTS), concatenated in order */
        char *json;       /* owned; the piece of the control reply message's JSON text */
} ClusterReply;
#define CLUSTER_REPLY_MAX_PARTS 64 /* replies up to 3.5 MiB */

/* POWER_OFF: an order to host's agent to run its configured power-off command once its libvirt
 * reports no running VM. */
typedef struct ClusterPowerOff {
        uint64_t order_id;
        char *host; /* owned */
} ClusterPowerOff;

/* ROLLOUT: the leader's rollout as saved (rollout.json's text), after every change: every agent
 * keeps it, so that a new leader continues where the old one stopped. */
typedef struct ClusterRollout {
        char *json; /* owned; NULL = no rollout any more */
} ClusterRollout;

/* ROLLOUT_RUN: the leader's own host is next, and its reboot would end the leadership: another
 * agent (to) runs the command (already expanded) and multicasts ROLLOUT_DONE, which whoever leads
 * then applies. */
typedef struct ClusterRolloutRun {
        uint32_t to;
        char *host;    /* owned; the host the command is for */
        char *command; /* owned; at most CLUSTER_JSON_MAX bytes */
        uint64_t timeout_s;
        bool health; /* the health check, not the command */
} ClusterRolloutRun;

typedef struct ClusterRolloutDone {
        char *host; /* owned */
        bool ok;
        uint64_t duration_ms;
        char *message; /* owned; NULL = none */
} ClusterRolloutDone;

typedef struct ClusterMsg {
        ClusterMsgType type;
        uint32_t sender;
        uint64_t term;
        union {
                ClusterSync sync;
                ClusterReport report;
                ClusterMigrate migrate;
                ClusterSetMode set_mode;
                ClusterResult result;
                ClusterRequest request;
                ClusterReply reply;
                ClusterPowerOff power_off;
                ClusterRollout rollout;
                ClusterRolloutRun rollout_run;
                ClusterRolloutDone rollout_done;
        };
} ClusterMsg;

/* Frees what the message owns (per its type) and zeroes it. NULL-safe. */
void cluster_msg_done(ClusterMsg *m);

/* Encodes m into a newly allocated buffer. -EINVAL when a field breaks a limit (string too long or
 * holding a NUL is impossible from C strings; too long is checked; too many VMs; sender 0),
 * -EMSGSIZE when the whole would exceed CLUSTER_MSG_MAX, -ENOMEM. */
int cluster_msg_encode(const ClusterMsg *m, void **ret, size_t *ret_size);

/* Decodes a whole delivered message. On success fills *ret (free with cluster_msg_done()). On
 * -EBADMSG, *reterr_msg (may be NULL) points to a static description and *ret is zeroed. */
int cluster_msg_decode(const void *buf, size_t size, ClusterMsg *ret, const char **reterr_msg);
