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
 *            u16 version: of this message's encoding (see "Versions" below)
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
 * an enum out of range, a count larger than what the remaining bytes could hold, a sender 0.
 *
 * Versions. The header's version is the version of that message's encoding, not of the drsd
 * that sent it: a drsd sends every message in the lowest version that holds it, so that a drsd
 * of the previous version in the same cluster (during a rolling upgrade) still takes every
 * message it can understand, and refuses the others cleanly (its decoder drops a message of an
 * unknown version with a warning).
 *   1  the first wave: types SYNC … ROLLOUT_DONE with the bodies below.
 *   2  adds the types STORAGE, STORAGE_MOVE and STORAGE_DONE, and longer bodies of MIGRATE
 *      (disk copies, targets outside the cluster) and RESULT (encryption, disks copied). A
 *      drsd of version 2 multicasts STORAGE with every report: that is how the others learn
 *      it speaks version 2 (a host whose reports come without it runs version 1, and the
 *      leader orders it only what version 1 can take).
 * This decoder takes versions CLUSTER_MSG_VERSION_MIN … CLUSTER_MSG_VERSION; a type or a body
 * of version 2 in a message headed version 1 is refused like any malformed message. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "state.h"

#define CLUSTER_MSG_MAGIC UINT32_C(0x44525331) /* "DRS1" */
#define CLUSTER_MSG_VERSION 2                  /* the newest encoding this drsd speaks */
#define CLUSTER_MSG_VERSION_MIN 1              /* the oldest it still takes and speaks */
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
        CLUSTER_MSG_STORAGE = 12,      /* v2; with every report: the host's pools and its VMs' file disks */
        CLUSTER_MSG_STORAGE_MOVE = 13, /* v2; leader → host agent: move a VM's disks to another pool */
        CLUSTER_MSG_STORAGE_DONE = 14, /* v2; that agent → all: how the storage move ended */
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
        uint64_t order_id;          /* unique per leader and term (the leader's counter) */
        char *vm;                   /* owned */
        char *source;               /* owned; host names */
        char *target;               /* owned; a host name, or (remote) the target's URI */
        char *target_migration_uri; /* owned */
        uint64_t memory_mib;
        char *reason; /* owned; "balance", "maintenance", "rule:NAME", "dpm", "manual" */
        /* Version 2 only (a version-1 encoding of an order that sets any is refused): */
        bool copy_storage;             /* copy the disks the target cannot see (MigrationRequest's) */
        bool remove_source_storage;    /* and remove the source's copies after success */
        uint64_t disk_mib;             /* what the copy may move (for the timeout) */
        bool remote;                   /* drsctl migrate --to-uri: a libvirt host outside the cluster */
        char *target_uri;              /* owned; remote: the target's management URI; NULL = none */
        uint32_t parallel_connections; /* remote: 1..64; 0 = not remote */
        uint8_t compression;           /* remote: MigrationCompression, < CLUSTER_COMPRESSION_MAX */
        uint64_t remote_bandwidth_mib_s;
} ClusterMigrate;
#define CLUSTER_COMPRESSION_MAX 4 /* = _COMPRESSION_MAX (policy/policy.h); kept equal by hand */

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
        /* Version 2 only (the answer to an order of version 2): */
        uint8_t encryption; /* MigrationEncryption (agent/hv/executor.h), < CLUSTER_ENCRYPTION_MAX */
        uint32_t disks_copied;
        uint64_t disk_bytes;
        bool source_storage_removed;
} ClusterResult;
#define CLUSTER_RESULT_MAX 5     /* = _MIGRATION_RESULT_MAX; checked by a static assert in the .c */
#define CLUSTER_ENCRYPTION_MAX 4 /* = _MIGRATION_ENCRYPTION_MAX; kept equal by hand */

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

/* STORAGE (v2): a host's storage facts, multicast after each of its reports: its active pools
 * (with the shared-storage markers, agent/leader/hv-types.h) and the file disks of its VMs. A
 * host whose facts do not fit one message sends them in n_parts pieces (1..CLUSTER_STORAGE_MAX_PARTS)
 * of the same generation: the pools in part 0, the VMs split between the parts in order
 * (cluster_storage_split()). */
typedef struct ClusterPool {
        char *name;     /* owned */
        char *target;   /* owned; NULL = none */
        char **markers; /* owned strv, never NULL after decoding */
} ClusterPool;

typedef struct ClusterDisk {
        char *path; /* owned */
        uint64_t allocation_bytes;
} ClusterDisk;

typedef struct ClusterVmDisks {
        char *name;         /* owned; the VM */
        ClusterDisk *disks; /* owned array */
        size_t n_disks;
} ClusterVmDisks;

typedef struct ClusterStorage {
        char *host;          /* owned */
        uint32_t generation; /* the sender's counter: the parts of one send share it */
        uint16_t part;
        uint16_t n_parts;
        ClusterPool *pools; /* owned array; part 0 only */
        size_t n_pools;
        ClusterVmDisks *vms; /* owned array: VMs with at least one file disk */
        size_t n_vms;
} ClusterStorage;
#define CLUSTER_STORAGE_MAX_PARTS 64U
#define CLUSTER_STORAGE_MAX_MARKERS 64U
#define CLUSTER_STORAGE_MAX_DISKS 256U /* per VM */

/* Splits s's VMs into parts that each encode within CLUSTER_MSG_MAX (the pools go in part 0):
 * ret_ends[i] = one past the last VM of part i. Returns the number of parts (≥ 1), -EMSGSIZE when
 * one VM alone (or the pools alone) would not fit, or more than max_parts would be needed. */
int cluster_storage_split(const ClusterStorage *s, size_t *ret_ends, size_t max_parts);

/* Frees what s owns and zeroes it. NULL-safe. */
void cluster_storage_done(ClusterStorage *s);

/* Puts a host's STORAGE parts back together (the receiver's side of cluster_storage_split()). */
typedef struct ClusterStorageAssembly {
        uint32_t generation;
        uint16_t n_parts;
        uint64_t seen;        /* bit per part received */
        ClusterStorage whole; /* owned: the pools of part 0 and the VMs of the parts so far */
} ClusterStorageAssembly;

/* Adds a copy of part. Returns 1 when it completes its generation (the whole, VMs in part order,
 * moved to *ret: free with cluster_storage_done(); the assembly is empty again), 0 when parts are
 * still missing, -ENOMEM. A part 0, a part of another generation or part count, or a part
 * received twice starts the assembly over from that part (CPG delivers one sender's messages in
 * order, so that happens only after a lost connection or a restart of the sender). */
int cluster_storage_assembly_add(ClusterStorageAssembly *a, const ClusterStorage *part, ClusterStorage *ret);
void cluster_storage_assembly_done(ClusterStorageAssembly *a);

/* STORAGE_MOVE (v2): an order to host's agent to move vm's disks (or one) to another of its pools,
 * live (agent/hv/storage-move.h). */
typedef struct ClusterStorageMove {
        uint64_t order_id;
        char *vm;   /* owned */
        char *host; /* owned */
        char *pool; /* owned */
        char *disk; /* owned; NULL = every disk */
        bool remove_source;
        bool force;
        uint64_t bandwidth_mib_s;
} ClusterStorageMove;

/* STORAGE_DONE (v2): how a STORAGE_MOVE ended (or was refused: ok false, message why). */
typedef struct ClusterStorageDone {
        uint64_t order_id;
        uint64_t order_term;
        char *vm;   /* owned */
        char *host; /* owned */
        char *pool; /* owned */
        bool ok;
        uint64_t duration_ms;
        uint64_t bytes;
        bool source_removed;
        char *moved;   /* owned; "; "-separated descriptions of the disks moved; NULL = none */
        char *message; /* owned; why it failed; NULL = none */
        char *warning; /* owned; NULL = none */
} ClusterStorageDone;

typedef struct ClusterMsg {
        ClusterMsgType type;
        /* Decoded: the header's version. Encoding: 0 = the lowest version that holds the message;
         * else that version (-EINVAL when it cannot hold the message). */
        uint16_t version;
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
                ClusterStorage storage;
                ClusterStorageMove storage_move;
                ClusterStorageDone storage_done;
        };
} ClusterMsg;

/* Frees what the message owns (per its type) and zeroes it. NULL-safe. */
void cluster_msg_done(ClusterMsg *m);

/* Encodes m into a newly allocated buffer. -EINVAL when a field breaks a limit (string too long or
 * holding a NUL is impossible from C strings; too long is checked; too many VMs; sender 0),
 * -EMSGSIZE when the whole would exceed CLUSTER_MSG_MAX, -ENOMEM. */
int cluster_msg_encode(const ClusterMsg *m, void **ret, size_t *ret_size);

/* The lowest version that holds m (1 or 2). */
uint16_t cluster_msg_version_needed(const ClusterMsg *m);

/* Decodes a whole delivered message. On success fills *ret (free with cluster_msg_done()). On
 * -EBADMSG, *reterr_msg (may be NULL) points to a static description and *ret is zeroed. */
int cluster_msg_decode(const void *buf, size_t size, ClusterMsg *ret, const char **reterr_msg);
