/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "cluster.h"
#include "log.h"

#define USEC_PER_MSEC 1000ULL
#define FLUSH_RETRY_USEC (100ULL * USEC_PER_MSEC)

typedef struct NodeHost {
        uint32_t nodeid;
        char *host; /* owned */
} NodeHost;

typedef struct Outgoing {
        void *buf; /* owned */
        size_t size;
} Outgoing;

struct Cluster {
        sd_event *event; /* reference held */
        char *host;      /* owned */
        ClusterCallbacks cb;
        void *userdata;

        bool connected;
        cpg_handle_t cpg;
        quorum_handle_t quorum;
        votequorum_handle_t votequorum; /* queried only (no tracking): votes and quorum for DPM */
        sd_event_source *cpg_source;    /* owned */
        sd_event_source *quorum_source; /* owned */
        sd_event_source *retry;         /* owned; reconnect or flush timer */
        Election *election;             /* owned; NULL while disconnected */
        uint32_t nodeid;
        char *why; /* owned; why not connected */
        bool warned;
        bool broken; /* reconnect at the next loop iteration */

        NodeHost *nodes; /* owned array */
        size_t n_nodes;

        Outgoing *queue; /* owned FIFO */
        size_t n_queue;

        uint16_t max_version; /* the newest message version sent and taken (CLUSTER_MSG_VERSION) */
};

static void disconnect(Cluster *c, const char *why);
static int arm_retry(Cluster *c, uint64_t usec);

/* From inside a corosync dispatch the handles must not be finalized: the loop does it. */
static void schedule_reconnect(Cluster *c, const char *why) {
        if (c->broken)
                return;
        c->broken = true;
        free(c->why);
        c->why = strdup(why);
        (void) arm_retry(c, 1);
}
static void flush_queue(Cluster *c);

/* ---- nodes and hosts ------------------------------------------------------------------------ */

int cluster_note_host(Cluster *c, uint32_t nodeid, const char *host) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (c->nodes[i].nodeid == nodeid) {
                        if (streq(c->nodes[i].host, host))
                                return 0;
                        char *h = strdup(host);
                        if (!h)
                                return -ENOMEM;
                        free(c->nodes[i].host);
                        c->nodes[i].host = h;
                        return 0;
                }
        NodeHost *n = reallocarray(c->nodes, c->n_nodes + 1, sizeof(NodeHost));
        if (!n)
                return -ENOMEM;
        c->nodes = n;
        c->nodes[c->n_nodes] = (NodeHost){.nodeid = nodeid, .host = strdup(host)};
        if (!c->nodes[c->n_nodes].host)
                return -ENOMEM;
        c->n_nodes++;
        return 0;
}

const char *cluster_node_host(const Cluster *c, uint32_t nodeid) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (c->nodes[i].nodeid == nodeid)
                        return c->nodes[i].host;
        return NULL;
}

uint32_t cluster_host_nodeid(const Cluster *c, const char *host) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (streq(c->nodes[i].host, host) && c->election &&
                    election_is_member(c->election, c->nodes[i].nodeid))
                        return c->nodes[i].nodeid;
        return 0;
}

/* ---- state -------------------------------------------------------------------------------------- */

bool cluster_connected(const Cluster *c) {
        return c->connected;
}
const Election *cluster_election(const Cluster *c) {
        return c->election;
}
uint32_t cluster_nodeid(const Cluster *c) {
        return c->connected ? c->nodeid : 0;
}
bool cluster_is_leader(const Cluster *c) {
        return c->election && election_is_leader(c->election);
}
uint32_t cluster_leader(const Cluster *c) {
        return c->election ? election_leader(c->election) : 0;
}
uint64_t cluster_term(const Cluster *c) {
        return c->election ? election_term(c->election) : 0;
}
bool cluster_quorate(const Cluster *c) {
        return c->election && election_quorate(c->election);
}
bool cluster_order_ok(const Cluster *c, uint32_t sender, uint64_t term) {
        return c->election && election_order_ok(c->election, sender, term);
}
int cluster_votes(const Cluster *c, ClusterVotes *ret) {
        struct votequorum_info info = {};

        if (!c->connected || !c->votequorum)
                return -ENOTCONN;
        cs_error_t e = votequorum_getinfo(c->votequorum, c->nodeid, &info);
        if (e != CS_OK)
                return log_debug_errno(-EIO, "votequorum_getinfo: %s", cs_strerror(e));
        *ret = (ClusterVotes){
                .quorum = info.quorum,
                .total_votes = info.total_votes,
                .expected_votes = info.node_expected_votes,
                .flags =
                        ((info.flags & VOTEQUORUM_INFO_TWONODE) ? CLUSTER_VQ_TWO_NODE : 0) |
                        ((info.flags & VOTEQUORUM_INFO_WAIT_FOR_ALL) ? CLUSTER_VQ_WAIT_FOR_ALL : 0) |
                        ((info.flags & VOTEQUORUM_INFO_LAST_MAN_STANDING) ? CLUSTER_VQ_LAST_MAN_STANDING
                                                                          : 0) |
                        ((info.flags & VOTEQUORUM_INFO_AUTO_TIE_BREAKER) ? CLUSTER_VQ_AUTO_TIE_BREAKER : 0) |
                        ((info.flags & VOTEQUORUM_INFO_QDEVICE_REGISTERED) ? CLUSTER_VQ_QDEVICE : 0),
        };
        return 0;
}

int cluster_node_votes(const Cluster *c, uint32_t nodeid, unsigned *ret) {
        struct votequorum_info info = {};

        if (!c->connected || !c->votequorum)
                return -ENOTCONN;
        cs_error_t e = votequorum_getinfo(c->votequorum, nodeid, &info);
        if (e != CS_OK)
                return log_debug_errno(-EIO, "votequorum_getinfo(%" PRIu32 "): %s", nodeid, cs_strerror(e));
        *ret = info.node_votes;
        return 0;
}

const char *cluster_waiting_for(const Cluster *c) {
        if (!c->connected)
                return c->why ?: "not connected to corosync";
        return election_waiting_for(c->election);
}

/* ---- sending -------------------------------------------------------------------------------------- */

static int mcast(Cluster *c, const void *buf, size_t size) {
        struct iovec iov = {.iov_base = (void *) buf, .iov_len = size};
        cs_error_t e = cpg_mcast_joined(c->cpg, CPG_TYPE_AGREED, &iov, 1);
        if (e == CS_OK)
                return 0;
        if (e == CS_ERR_TRY_AGAIN)
                return -EAGAIN;
        log_warning("corosync: multicast failed: %s (%d)", cs_strerror(e), (int) e);
        return -EIO;
}

static void flush_queue(Cluster *c) {
        size_t i = 0;
        for (; i < c->n_queue && c->connected; i++) {
                int k = mcast(c, c->queue[i].buf, c->queue[i].size);
                if (k == -EAGAIN)
                        break;
                if (k < 0) {
                        /* A lost message may be a SYNC, without which this node never decides
                         * again: start over with a fresh connection (and election). */
                        schedule_reconnect(c, "a multicast failed");
                        break;
                }
                free(c->queue[i].buf);
        }
        memmove(c->queue, c->queue + i, (c->n_queue - i) * sizeof(Outgoing));
        c->n_queue -= i;
        if (c->n_queue > 0 && c->connected)
                (void) arm_retry(c, FLUSH_RETRY_USEC);
}

int cluster_send(Cluster *c, ClusterMsg *m) {
        void *buf = NULL;
        size_t size = 0;
        int k;

        if (!c->connected)
                return -ENOTCONN;
        m->sender = c->nodeid;
        m->term = cluster_term(c);
        if ((m->version ?: cluster_msg_version_needed(m)) > c->max_version)
                return -EPROTONOSUPPORT;
        k = cluster_msg_encode(m, &buf, &size);
        if (k < 0)
                return k;
        if (c->n_queue == 0) {
                k = mcast(c, buf, size);
                if (k != -EAGAIN) {
                        free(buf);
                        return k;
                }
        }
        if (c->n_queue >= CLUSTER_MAX_QUEUE) {
                free(buf);
                log_warning(
                        "corosync: send queue full (%d messages): dropping a %s message", CLUSTER_MAX_QUEUE,
                        cluster_msg_type_to_string(m->type));
                return -ENOBUFS;
        }
        Outgoing *q = reallocarray(c->queue, c->n_queue + 1, sizeof(Outgoing));
        if (!q) {
                free(buf);
                return -ENOMEM;
        }
        c->queue = q;
        c->queue[c->n_queue++] = (Outgoing){.buf = buf, .size = size};
        (void) arm_retry(c, FLUSH_RETRY_USEC);
        return 0;
}

static void send_sync(Cluster *c) {
        ElectionSync s;
        election_my_sync(c->election, &s);
        ClusterMsg m = {
                .type = CLUSTER_MSG_SYNC,
                .sync =
                        {.leader = s.leader,
                         .leader_term = s.leader_term,
                         .max_term = s.max_term,
                         .host = c->host},
        };
        int k = cluster_send(c, &m);
        if (k < 0) {
                /* The election waits for every SYNC this node sent: one never sent would stall
                 * it for good. Reconnect instead (a new CPG member, a new round). */
                log_warning_errno(k, "corosync: failed to send SYNC: %m; reconnecting");
                schedule_reconnect(c, "failed to send a SYNC");
        }
}

static void leadership_changed(Cluster *c, int k) {
        if (k < 0)
                log_oom();
        else if (k > 0 && c->cb.leadership)
                c->cb.leadership(c, c->userdata);
}

/* ---- callbacks from corosync ------------------------------------------------------------------------ */

static void on_deliver(
        cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
        size_t len) {
        Cluster *c = NULL;
        ClusterMsg m = {};
        const char *err = NULL;

        if (cpg_context_get(handle, (void **) &c) != CS_OK || !c || !c->election)
                return;
        int k = cluster_msg_decode(msg, len, &m, &err);
        if (k == 0 && m.version > c->max_version) { /* as a drsd of that older version would */
                cluster_msg_done(&m);
                k = -EBADMSG;
                err = "unknown message version";
        }
        if (k < 0) {
                log_warning(
                        "corosync: dropping a malformed message of %zu bytes from node %" PRIu32 ": %s", len,
                        nodeid, err ?: "unknown error");
                return;
        }
        if (m.sender != nodeid) {
                log_warning(
                        "corosync: dropping a message from node %" PRIu32
                        " claiming to be from node %" PRIu32,
                        nodeid, m.sender);
                cluster_msg_done(&m);
                return;
        }
        if (m.type == CLUSTER_MSG_SYNC) {
                ElectionSync s = {
                        .leader = m.sync.leader,
                        .leader_term = m.sync.leader_term,
                        .max_term = m.sync.max_term};
                if (m.sync.host && cluster_note_host(c, nodeid, m.sync.host) < 0)
                        log_oom();
                leadership_changed(c, election_sync(c->election, nodeid, &s));
        } else {
                if (m.type == CLUSTER_MSG_REPORT && m.report.host &&
                    cluster_note_host(c, nodeid, m.report.host) < 0)
                        log_oom();
                if (c->cb.message)
                        c->cb.message(c, &m, c->userdata);
        }
        cluster_msg_done(&m);
}

static void on_confchg(
        cpg_handle_t handle, const struct cpg_name *group, const struct cpg_address *members,
        size_t n_members, const struct cpg_address *left, size_t n_left, const struct cpg_address *joined,
        size_t n_joined) {
        Cluster *c = NULL;
        _cleanup_free_ uint32_t *ids = NULL, *left_ids = NULL;
        _cleanup_free_ ElectionChange *l = NULL, *j = NULL;

        if (cpg_context_get(handle, (void **) &c) != CS_OK || !c || !c->election)
                return;
        ids = calloc(n_members + 1, sizeof(uint32_t));
        left_ids = calloc(n_left + 1, sizeof(uint32_t));
        l = calloc(n_left + 1, sizeof(ElectionChange));
        j = calloc(n_joined + 1, sizeof(ElectionChange));
        if (!ids || !left_ids || !l || !j) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n_members; i++)
                ids[i] = members[i].nodeid;
        for (size_t i = 0; i < n_left; i++) {
                l[i] = (ElectionChange){.nodeid = left[i].nodeid, .reason = left[i].reason};
                left_ids[i] = left[i].nodeid;
        }
        for (size_t i = 0; i < n_joined; i++)
                j[i] = (ElectionChange){.nodeid = joined[i].nodeid, .reason = joined[i].reason};
        log_info(
                "corosync: group '%s' has %zu member(s) (%zu left, %zu joined)", CLUSTER_GROUP_NAME,
                n_members, n_left, n_joined);
        int k = election_confchg(c->election, ids, n_members, l, n_left, j, n_joined);
        leadership_changed(c, k);
        send_sync(c);
        if (n_left > 0 && c->cb.left)
                c->cb.left(c, left_ids, n_left, c->userdata);
        if (c->cb.round)
                c->cb.round(c, c->userdata);
}

static void on_totem(cpg_handle_t handle, struct cpg_ring_id ring, uint32_t n, const uint32_t *members) {
        Cluster *c = NULL;
        if (cpg_context_get(handle, (void **) &c) != CS_OK || !c || !c->election)
                return;
        log_debug(
                "corosync: totem ring %" PRIu32 ".%" PRIu64 " with %" PRIu32 " node(s)", ring.nodeid,
                ring.seq, n);
        leadership_changed(c, election_totem(c->election, ring.seq));
}

static void on_quorum(
        quorum_handle_t handle, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
        const uint32_t *members) {
        Cluster *c = NULL;
        if (quorum_context_get(handle, (const void **) &c) != CS_OK || !c || !c->election)
                return;
        log_info(
                "corosync: %s (ring %" PRIu32 ".%" PRIu64 ", %" PRIu32 " node(s))",
                quorate ? "quorate" : "NOT quorate", ring.nodeid, ring.seq, n);
        bool was = election_quorate(c->election);
        int k = election_quorum(c->election, quorate != 0, ring.seq);
        /* Losing quorum while a round is undecided changes no decision, but the Manager must
         * know: a minority starts nothing and drops its plan. */
        leadership_changed(c, k < 0 ? k : (k > 0 || was != (quorate != 0)));
}

/* ---- connection ----------------------------------------------------------------------------------- */

static int on_cpg_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Cluster *c = userdata;
        cs_error_t e = cpg_dispatch(c->cpg, CS_DISPATCH_ALL);
        if (e != CS_OK && e != CS_ERR_TRY_AGAIN)
                disconnect(c, cs_strerror(e));
        return 0;
}

static int on_quorum_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Cluster *c = userdata;
        cs_error_t e = quorum_dispatch(c->quorum, CS_DISPATCH_ALL);
        if (e != CS_OK && e != CS_ERR_TRY_AGAIN)
                disconnect(c, cs_strerror(e));
        return 0;
}

static void disconnect(Cluster *c, const char *why) {
        bool was = c->connected;

        c->cpg_source = sd_event_source_disable_unref(c->cpg_source);
        c->quorum_source = sd_event_source_disable_unref(c->quorum_source);
        if (c->cpg) {
                (void) cpg_finalize(c->cpg);
                c->cpg = 0;
        }
        if (c->quorum) {
                (void) quorum_finalize(c->quorum);
                c->quorum = 0;
        }
        if (c->votequorum) {
                (void) votequorum_finalize(c->votequorum);
                c->votequorum = 0;
        }
        c->connected = false;
        c->election = election_free(c->election);
        for (size_t i = 0; i < c->n_queue; i++)
                free(c->queue[i].buf);
        c->n_queue = 0;
        free(c->why);
        c->why = why ? strdup(why) : NULL;
        if (was) {
                log_warning(
                        "corosync: connection lost (%s): no leader, nothing quorate until it is back",
                        why ?: "?");
                c->warned = false;
                if (c->cb.leadership)
                        c->cb.leadership(c, c->userdata);
        }
        if (c->event)
                (void) arm_retry(c, CLUSTER_RECONNECT_USEC);
}

static int try_connect(Cluster *c) {
        cpg_model_v1_data_t cpg_model = {
                .model = CPG_MODEL_V1,
                .cpg_deliver_fn = on_deliver,
                .cpg_confchg_fn = on_confchg,
                .cpg_totem_confchg_fn = on_totem,
                .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
        };
        quorum_model_v1_data_t q_model = {
                .model = QUORUM_MODEL_V1,
                .quorum_notify_fn = on_quorum,
        };
        struct cpg_name name = {};
        uint32_t qtype = 0, nodeid = 0;
        int fd, k;
        cs_error_t e;
        char why[256];

        e = quorum_model_initialize(
                &c->quorum, QUORUM_MODEL_V1, (quorum_model_data_t *) &q_model, &qtype, c);
        if (e != CS_OK) {
                c->quorum = 0;
                snprintf(why, sizeof(why), "quorum: %s", cs_strerror(e));
                goto fail;
        }
        e = votequorum_initialize(&c->votequorum, NULL);
        if (e != CS_OK) {
                c->votequorum = 0;
                snprintf(why, sizeof(why), "votequorum: %s", cs_strerror(e));
                goto fail;
        }
        e = cpg_model_initialize(&c->cpg, CPG_MODEL_V1, (cpg_model_data_t *) &cpg_model, c);
        if (e != CS_OK) {
                c->cpg = 0;
                snprintf(why, sizeof(why), "cpg: %s", cs_strerror(e));
                goto fail;
        }
        e = cpg_local_get(c->cpg, &nodeid);
        if (e != CS_OK || nodeid == 0) {
                snprintf(why, sizeof(why), "cpg_local_get: %s", cs_strerror(e));
                goto fail;
        }
        c->nodeid = nodeid;
        k = election_new(nodeid, &c->election);
        if (k < 0) {
                snprintf(why, sizeof(why), "out of memory");
                goto fail;
        }
        c->connected = true;

        e = cpg_fd_get(c->cpg, &fd);
        if (e != CS_OK || sd_event_add_io(c->event, &c->cpg_source, fd, EPOLLIN, on_cpg_io, c) < 0) {
                snprintf(why, sizeof(why), "cpg fd: %s", cs_strerror(e));
                goto fail;
        }
        e = quorum_fd_get(c->quorum, &fd);
        if (e != CS_OK || sd_event_add_io(c->event, &c->quorum_source, fd, EPOLLIN, on_quorum_io, c) < 0) {
                snprintf(why, sizeof(why), "quorum fd: %s", cs_strerror(e));
                goto fail;
        }
        e = quorum_trackstart(c->quorum, CS_TRACK_CHANGES | CS_TRACK_CURRENT);
        if (e != CS_OK) {
                snprintf(why, sizeof(why), "quorum_trackstart: %s", cs_strerror(e));
                goto fail;
        }
        strncpy(name.value, CLUSTER_GROUP_NAME, sizeof(name.value) - 1);
        name.length = strlen(CLUSTER_GROUP_NAME);
        for (unsigned i = 0; i < 50; i++) { /* bounded: 50 × 100 ms */
                e = cpg_join(c->cpg, &name);
                if (e != CS_ERR_TRY_AGAIN)
                        break;
                (void) usleep(100 * 1000);
        }
        if (e != CS_OK) {
                snprintf(why, sizeof(why), "cpg_join: %s", cs_strerror(e));
                goto fail;
        }
        log_info(
                "corosync: joined group '%s' as node %" PRIu32 " (host '%s')", CLUSTER_GROUP_NAME, nodeid,
                c->host);
        free(c->why);
        c->why = NULL;
        return 0;

fail:
        if (!c->warned)
                log_warning(
                        "corosync: not connected (%s); retrying every %llu s", why,
                        CLUSTER_RECONNECT_USEC / 1000000ULL);
        c->warned = true;
        c->connected = false; /* not "lost": it never was */
        disconnect(c, why);
        return -ENOTCONN;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Cluster *c = userdata;
        if (c->broken) {
                _cleanup_free_ char *why = TAKE_PTR(c->why);
                c->broken = false;
                disconnect(c, why); /* reconnects after CLUSTER_RECONNECT_USEC */
        } else if (!c->connected)
                (void) try_connect(c);
        else
                flush_queue(c);
        return 0;
}

static int arm_retry(Cluster *c, uint64_t delay) {
        int k;
        if (!c->retry) {
                k = sd_event_add_time_relative(
                        c->event, &c->retry, CLOCK_MONOTONIC, delay, 10 * USEC_PER_MSEC, on_retry, c);
                if (k < 0)
                        return k;
                (void) sd_event_source_set_description(c->retry, "corosync-retry");
                return 0;
        }
        k = sd_event_source_set_time_relative(c->retry, delay);
        if (k < 0)
                return k;
        return sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

int cluster_new(sd_event *e, const char *host, const ClusterCallbacks *cb, void *userdata, Cluster **ret) {
        Cluster *c = calloc(1, sizeof(Cluster));
        if (!c)
                return -ENOMEM;
        c->host = strdup(host);
        if (!c->host) {
                free(c);
                return -ENOMEM;
        }
        c->event = sd_event_ref(e);
        c->cb = *cb;
        c->userdata = userdata;
        c->max_version = CLUSTER_MSG_VERSION;
        (void) try_connect(c);
        *ret = c;
        return 0;
}

Cluster *cluster_free(Cluster *c) {
        if (!c)
                return NULL;
        c->retry = sd_event_source_disable_unref(c->retry);
        sd_event *e = TAKE_PTR(c->event);
        if (c->cpg) {
                struct cpg_name name = {};
                strncpy(name.value, CLUSTER_GROUP_NAME, sizeof(name.value) - 1);
                name.length = strlen(CLUSTER_GROUP_NAME);
                (void) cpg_leave(c->cpg, &name);
        }
        c->cb = (ClusterCallbacks){};
        c->connected = false;
        disconnect(c, NULL);
        free(c->queue);
        for (size_t i = 0; i < c->n_nodes; i++)
                free(c->nodes[i].host);
        free(c->nodes);
        free(c->why);
        free(c->host);
        sd_event_unref(e);
        free(c);
        return NULL;
}

void cluster_set_max_version(Cluster *c, uint16_t v) {
        c->max_version = v < CLUSTER_MSG_VERSION_MIN ? CLUSTER_MSG_VERSION_MIN
                         : v > CLUSTER_MSG_VERSION   ? CLUSTER_MSG_VERSION
                                                     : v;
}

uint16_t cluster_max_version(const Cluster *c) {
        return c ? c->max_version : CLUSTER_MSG_VERSION;
}
