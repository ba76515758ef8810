/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The corosync glue of cluster mode: one CPG connection (group "drs", agreed order) and one
 * quorum connection (libquorum's V1 model: quorate + ring id, votequorum underneath), both
 * dispatched from the sd-event loop. It owns the Election (agent/cluster/election.h): feeds it the
 * CPG confchgs, the totem rings and the quorum views, multicasts this node's SYNC after every
 * confchg and feeds it the SYNCs delivered; every other message is decoded and handed to the
 * message callback. It learns which host each node runs from SYNCs and REPORTs.
 *
 * When corosync is not there (not started yet, killed), the Cluster retries every
 * CLUSTER_RECONNECT_USEC; while disconnected there is no leader and nothing is quorate.
 * Sending: messages are encoded (agent/cluster/cluster-msg.h) and multicast; when corosync says
 * "try again" (flow control) they wait in a bounded queue that a timer flushes in order. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "cluster-msg.h"
#include "election.h"
#include "macro.h"

#define CLUSTER_GROUP_NAME "drs"
#define CLUSTER_RECONNECT_USEC (2ULL * 1000000ULL)
#define CLUSTER_MAX_QUEUE 1024

typedef struct Cluster Cluster;

typedef struct ClusterCallbacks {
        /* A delivered message other than SYNC, in agreed order (own messages included). */
        void (*message)(Cluster *c, const ClusterMsg *msg, void *userdata);
        /* The decision changed (leader, term, decided or not), or the connection was lost. */
        void (*leadership)(Cluster *c, void *userdata);
        /* Nodes whose drsd left the group (process or node). */
        void (*left)(Cluster *c, const uint32_t *nodeids, size_t n, void *userdata);
        /* A new round started (a confchg): a good moment to multicast a report. */
        void (*round)(Cluster *c, void *userdata);
} ClusterCallbacks;

int cluster_new(sd_event *e, const char *host, const ClusterCallbacks *cb, void *userdata, Cluster **ret);
Cluster *cluster_free(Cluster *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cluster *, cluster_free);

/* Fills in the sender and the current term, encodes and multicasts (or queues) m.
 * -EPROTONOSUPPORT when m needs a newer message version than cluster_set_max_version() allows. */
int cluster_send(Cluster *c, ClusterMsg *m);

/* The newest message version this drsd sends and takes (default CLUSTER_MSG_VERSION): 1 makes it
 * behave on the wire as a drsd of the previous version would (tests of mixed-version clusters). */
void cluster_set_max_version(Cluster *c, uint16_t v);
uint16_t cluster_max_version(const Cluster *c);

bool cluster_connected(const Cluster *c);
/* NULL while disconnected. */
const Election *cluster_election(const Cluster *c);
uint32_t cluster_nodeid(const Cluster *c); /* 0 while disconnected */
bool cluster_is_leader(const Cluster *c);
uint32_t cluster_leader(const Cluster *c); /* 0 = none */
uint64_t cluster_term(const Cluster *c);
bool cluster_quorate(const Cluster *c);
/* Whether an order from sender in term may be executed now. */
bool cluster_order_ok(const Cluster *c, uint32_t sender, uint64_t term);
/* The host a node runs (learned from its SYNC or REPORT), NULL when not known. */
const char *cluster_node_host(const Cluster *c, uint32_t nodeid);
/* The node of a host that is a member now; 0 when none. */
uint32_t cluster_host_nodeid(const Cluster *c, const char *host);
/* What votequorum says now (votequorum_getinfo of this node): the quorum, the votes present
 * (members' and a quorum device's), the expected votes and the options in force (CLUSTER_VQ_*). A blocking
 * IPC call: never from inside a corosync callback. -ENOTCONN while disconnected, -EIO when corosync does not
 * answer. */
enum {
        CLUSTER_VQ_TWO_NODE = 1u << 0,
        CLUSTER_VQ_WAIT_FOR_ALL = 1u << 1,
        CLUSTER_VQ_LAST_MAN_STANDING = 1u << 2,
        CLUSTER_VQ_AUTO_TIE_BREAKER = 1u << 3,
        CLUSTER_VQ_QDEVICE = 1u << 4, /* a quorum device is registered */
};

typedef struct ClusterVotes {
        unsigned quorum, total_votes, expected_votes;
        unsigned flags; /* CLUSTER_VQ_* */
} ClusterVotes;
int cluster_votes(const Cluster *c, ClusterVotes *ret);
/* The votes a node holds (votequorum). */
int cluster_node_votes(const Cluster *c, uint32_t nodeid, unsigned *ret);
/* Why there is no leader (election_waiting_for, or "not connected to corosync: …"). */
const char *cluster_waiting_for(const Cluster *c);
/* Records host for nodeid (from a REPORT). */
int cluster_note_host(Cluster *c, uint32_t nodeid, const char *host);
