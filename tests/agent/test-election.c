/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The election state machine, fed the way corosync feeds it. Scripted scenarios run several
 * Election instances through one delivered sequence (a small Cluster harness: an event goes to
 * every node of a partition, and each node's SYNC to every member of its partition in one common
 * order, as CPG does); a randomized simulation checks safety and liveness over seeded sequences
 * of partitions, heals, drsd kills and restarts, with lagging per-node event queues. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "election.h"

#define RING(seq) ((uint64_t) (seq) << ELECTION_TERM_RING_SHIFT)

/* ---- the scripted harness ---- */

#define MAX_NODES 8

typedef struct PendingSync {
        uint32_t sender;
        ElectionSync sync;
        uint32_t to[MAX_NODES]; /* the members of the configuration it was sent in */
        size_t n_to;
} PendingSync;

typedef struct Cluster {
        Election *node[MAX_NODES + 1]; /* by nodeid; NULL while that drsd is not running */
        PendingSync pending[4 * MAX_NODES];
        size_t n_pending;
        /* The last decision seen: every new decision must have a higher term. */
        uint64_t last_term;
        uint32_t last_leader;
} Cluster;

/* "1 2 3" → ids */
static size_t parse_ids(const char *s, uint32_t *ids) {
        size_t n = 0;
        char *end;

        for (;;) {
                while (*s == ' ')
                        s++;
                if (!*s)
                        return n;
                assert_true(n < MAX_NODES);
                ids[n] = (uint32_t) strtoul(s, &end, 10);
                assert_true(end != s && ids[n] > 0 && ids[n] <= MAX_NODES);
                n++;
                s = end;
        }
}

/* "-1d +4j": left node 1 (NODEDOWN), joined node 4 (JOIN). Reasons: j JOIN, l LEAVE, d NODEDOWN,
 * u NODEUP, p PROCDOWN. */
static void parse_changes(
        const char *s, ElectionChange *left, size_t *n_left, ElectionChange *joined, size_t *n_joined) {
        *n_left = *n_joined = 0;
        for (;;) {
                ElectionChange c;
                char sign, *end;

                while (*s == ' ')
                        s++;
                if (!*s)
                        return;
                sign = *s++;
                c.nodeid = (uint32_t) strtoul(s, &end, 10);
                assert_true(end != s);
                s = end;
                switch (*s++) {
                case 'j':
                        c.reason = ELECTION_REASON_JOIN;
                        break;
                case 'l':
                        c.reason = ELECTION_REASON_LEAVE;
                        break;
                case 'd':
                        c.reason = ELECTION_REASON_NODEDOWN;
                        break;
                case 'u':
                        c.reason = ELECTION_REASON_NODEUP;
                        break;
                case 'p':
                        c.reason = ELECTION_REASON_PROCDOWN;
                        break;
                default:
                        fail_msg("bad change '%s'", s - 1);
                }
                if (sign == '-')
                        left[(*n_left)++] = c;
                else if (sign == '+')
                        joined[(*n_joined)++] = c;
                else
                        fail_msg("bad sign '%c'", sign);
        }
}

static Election *node(Cluster *c, uint32_t id) {
        assert_true(id > 0 && id <= MAX_NODES);
        assert_non_null(c->node[id]);
        return c->node[id];
}

/* An event's return value: an error never; a decision must be reported, and be newer than every
 * earlier one (a second member reporting the same decision is fine). */
static void check_event(Cluster *c, Election *e, int r) {
        assert_true(r == 0 || r == 1);
        if (r == 0 || !election_decided(e))
                return;
        if (election_term(e) == c->last_term)
                assert_int_equal(election_leader(e), c->last_leader);
        else
                assert_true(election_term(e) > c->last_term);
        c->last_term = election_term(e);
        c->last_leader = election_leader(e);
}

static void start(Cluster *c, uint32_t id) {
        assert_null(c->node[id]);
        assert_int_equal(election_new(id, &c->node[id]), 0);
        assert_int_equal(election_my_nodeid(c->node[id]), id);
        assert_false(election_decided(c->node[id]));
        assert_string_equal(election_waiting_for(c->node[id]), "waiting for the CPG membership");
}

static void kill_node(Cluster *c, uint32_t id) {
        c->node[id] = election_free(node(c, id));
}

/* The confchg to the running nodes of `to`, member list `members`; each queues its SYNC, as the glue
 * multicasts it at once. */
static void confchg_to(Cluster *c, const char *to, const char *members, const char *changes) {
        uint32_t t[MAX_NODES], m[MAX_NODES];
        ElectionChange left[MAX_NODES], joined[MAX_NODES];
        size_t n_t = parse_ids(to, t), n_m = parse_ids(members, m), n_left, n_joined;

        parse_changes(changes, left, &n_left, joined, &n_joined);
        for (size_t i = 0; i < n_t; i++) {
                Election *e = node(c, t[i]);
                PendingSync *p;

                check_event(c, e, election_confchg(e, m, n_m, left, n_left, joined, n_joined));
                assert_false(election_decided(e));
                assert_int_equal(election_leader(e), 0);
                assert_int_equal(election_term(e), 0);

                assert_true(c->n_pending < ELEMENTSOF(c->pending));
                p = &c->pending[c->n_pending++];
                p->sender = t[i];
                election_my_sync(e, &p->sync);
                memcpy(p->to, m, sizeof(m));
                p->n_to = n_m;
        }
}

static void sync_to(Cluster *c, const uint32_t *to, size_t n_to, uint32_t sender, const ElectionSync *s) {
        for (size_t i = 0; i < n_to; i++)
                if (c->node[to[i]])
                        check_event(c, c->node[to[i]], election_sync(c->node[to[i]], sender, s));
}

/* Delivers the queued SYNCs in the order they were sent, each to the members it was sent to. */
static void deliver_syncs(Cluster *c) {
        for (size_t i = 0; i < c->n_pending; i++)
                sync_to(c, c->pending[i].to, c->pending[i].n_to, c->pending[i].sender, &c->pending[i].sync);
        c->n_pending = 0;
}

/* At a partition: the queued SYNCs of senders in `ids` reach those of `ids` they were sent to. */
static void deliver_syncs_among(Cluster *c, const char *ids) {
        uint32_t t[MAX_NODES];
        size_t n = parse_ids(ids, t), k = 0;

        for (size_t i = 0; i < c->n_pending; i++) {
                PendingSync *p = &c->pending[i];
                uint32_t to[MAX_NODES];
                size_t n_to = 0;
                bool mine = false;

                for (size_t j = 0; j < n; j++)
                        mine = mine || t[j] == p->sender;
                if (!mine) {
                        c->pending[k++] = *p;
                        continue;
                }
                for (size_t j = 0; j < p->n_to; j++)
                        for (size_t l = 0; l < n; l++)
                                if (p->to[j] == t[l])
                                        to[n_to++] = t[l];
                sync_to(c, to, n_to, p->sender, &p->sync);
        }
        c->n_pending = k;
}

/* The SYNCs sent in a configuration that ended before they were delivered: nobody gets them. */
static void drop_syncs(Cluster *c) {
        c->n_pending = 0;
}

static void confchg(Cluster *c, const char *members, const char *changes) {
        confchg_to(c, members, members, changes);
        deliver_syncs(c);
}

static void totem(Cluster *c, const char *to, uint64_t seq) {
        uint32_t t[MAX_NODES];
        size_t n = parse_ids(to, t);

        for (size_t i = 0; i < n; i++)
                check_event(c, node(c, t[i]), election_totem(node(c, t[i]), seq));
}

static void quorum(Cluster *c, const char *to, bool quorate, uint64_t seq) {
        uint32_t t[MAX_NODES];
        size_t n = parse_ids(to, t);

        for (size_t i = 0; i < n; i++)
                check_event(c, node(c, t[i]), election_quorum(node(c, t[i]), quorate, seq));
}

static void ring(Cluster *c, const char *to, uint64_t seq, bool quorate) {
        totem(c, to, seq);
        quorum(c, to, quorate, seq);
}

/* Every node of `ids` decided `leader` in one common term, and the orders of exactly that leader
 * and term pass; returns the term. */
static uint64_t assert_leader(Cluster *c, const char *ids, uint32_t leader) {
        uint32_t t[MAX_NODES];
        size_t n = parse_ids(ids, t);
        uint64_t term = 0;

        for (size_t i = 0; i < n; i++) {
                Election *e = node(c, t[i]);
                ElectionSync s;

                assert_true(election_decided(e));
                assert_null(election_waiting_for(e));
                assert_int_equal(election_leader(e), leader);
                assert_int_equal(election_is_leader(e), leader == t[i]);
                if (i == 0)
                        term = election_term(e);
                assert_int_equal(election_term(e), term);
                assert_true(election_order_ok(e, leader, term));
                assert_false(election_order_ok(e, leader, term - 1));
                assert_false(election_order_ok(e, leader, term + 1));
                assert_false(election_order_ok(e, leader + 1, term));
                election_my_sync(e, &s);
                assert_int_equal(s.leader, leader);
                assert_int_equal(s.leader_term, term);
                assert_true(s.max_term >= term);
        }
        assert_int_equal(term, c->last_term);
        return term;
}

static void assert_undecided(Cluster *c, const char *ids, const char *waiting) {
        uint32_t t[MAX_NODES];
        size_t n = parse_ids(ids, t);

        for (size_t i = 0; i < n; i++) {
                Election *e = node(c, t[i]);

                assert_false(election_decided(e));
                assert_false(election_is_leader(e));
                assert_int_equal(election_leader(e), 0);
                assert_int_equal(election_term(e), 0);
                assert_false(election_order_ok(e, c->last_leader, c->last_term));
                assert_string_equal(election_waiting_for(e), waiting);
        }
}

static void cluster_done(Cluster *c) {
        for (size_t i = 0; i <= MAX_NODES; i++)
                c->node[i] = election_free(c->node[i]);
}

/* Three drsds start on a quorate ring 8, together: node 1 leads. */
static uint64_t start3(Cluster *c) {
        uint64_t term;

        for (uint32_t id = 1; id <= 3; id++)
                start(c, id);
        ring(c, "1 2 3", 8, true);
        assert_undecided(c, "1 2 3", "waiting for the CPG membership");
        confchg_to(c, "1 2 3", "1 2 3", "+1j +2j +3j");
        assert_undecided(c, "1 2 3", "waiting for SYNC from node 1");
        deliver_syncs(c);
        term = assert_leader(c, "1 2 3", 1);
        assert_int_equal(term, RING(8) + 1);
        return term;
}

/* ---- scripted scenarios ---- */

static void test_start(void **state) {
        Cluster c = {};
        const uint32_t *m;
        size_t n;

        start3(&c);
        m = election_members(node(&c, 2), &n);
        assert_int_equal(n, 3);
        assert_int_equal(m[0], 1);
        assert_int_equal(m[2], 3);
        assert_true(election_quorate(node(&c, 3)));
        cluster_done(&c);
}

/* drsds starting one by one, the SYNCs trickling in: the first one leads alone (corosync's quorum
 * counts nodes, not drsds), and keeps leading when lower nodeids join. */
static void test_start_one_by_one(void **state) {
        Cluster c = {};
        ElectionSync s;
        uint64_t t1, t2;

        start(&c, 2);
        quorum(&c, "2", true, 8); /* the quorum view before the totem: of another ring */
        confchg(&c, "2", "+2j");
        assert_undecided(&c, "2", "quorum view of another ring");
        totem(&c, "2", 8);
        t1 = assert_leader(&c, "2", 2);

        start(&c, 1);
        ring(&c, "1", 8, true);
        election_my_sync(node(&c, 1), &s);
        assert_int_equal(s.leader, 0);
        assert_int_equal(s.max_term, 0);
        confchg_to(&c, "1 2", "1 2", "+1j");
        assert_undecided(&c, "1 2", "waiting for SYNC from node 1");
        /* node 2's SYNC first: CPG's order, the same on both */
        sync_to(&c, (const uint32_t[]){1, 2}, 2, c.pending[1].sender, &c.pending[1].sync);
        assert_undecided(&c, "1 2", "waiting for SYNC from node 1");
        sync_to(&c, (const uint32_t[]){1, 2}, 2, c.pending[0].sender, &c.pending[0].sync);
        drop_syncs(&c);
        t2 = assert_leader(&c, "1 2", 2);
        assert_int_equal(t2, t1 + 1);
        cluster_done(&c);
}

/* The leader's drsd is killed (PROCDOWN, the ring stays): another leads; the killed drsd comes
 * back (JOIN): the leader stays, the term grows each time. */
static void test_leader_killed_and_restarted(void **state) {
        Cluster c = {};
        uint64_t t1, t2, t3;

        t1 = start3(&c);
        kill_node(&c, 1);
        confchg_to(&c, "2 3", "2 3", "-1p");
        assert_undecided(&c, "2 3", "waiting for SYNC from node 2"); /* no new ring needed */
        deliver_syncs(&c);
        t2 = assert_leader(&c, "2 3", 2);
        assert_int_equal(t2, t1 + 1);

        start(&c, 1);
        ring(&c, "1", 8, true);
        confchg(&c, "1 2 3", "+1j");
        t3 = assert_leader(&c, "1 2 3", 2);
        assert_int_equal(t3, t2 + 1);

        /* a follower's drsd is killed and restarts: still node 2 */
        kill_node(&c, 3);
        confchg(&c, "1 2", "-3p");
        assert_leader(&c, "1 2", 2);
        start(&c, 3);
        ring(&c, "3", 8, true);
        confchg(&c, "1 2 3", "+3j");
        assert_leader(&c, "1 2 3", 2);
        cluster_done(&c);
}

/* The NODEDOWN trap: node 3 cut off sees itself alone while its quorum view still says quorate for
 * the old ring; only the new ring's totem and quorum may let anyone decide. Then the heal: node 1
 * stays leader. */
static void test_nodedown_trap(void **state) {
        Cluster c = {};
        uint64_t t1, t2, t3;

        t1 = start3(&c);
        confchg(&c, "3", "-1d -2d");
        assert_true(election_quorate(node(&c, 3)));
        assert_undecided(&c, "3", "waiting for a new totem ring");
        assert_false(election_order_ok(node(&c, 3), 1, t1));
        confchg(&c, "1 2", "-3d");
        assert_undecided(&c, "1 2", "waiting for a new totem ring");

        ring(&c, "3", 12, false);
        assert_undecided(&c, "3", "not quorate");
        assert_false(election_order_ok(node(&c, 3), 1, t1));
        totem(&c, "1 2", 12);
        assert_undecided(&c, "1 2", "quorum view of another ring");
        quorum(&c, "1 2", true, 12);
        t2 = assert_leader(&c, "1 2", 1);
        assert_int_equal(t2, RING(12) + 1);
        assert_undecided(&c, "3", "not quorate");

        /* heal: each side hears of the other with NODEUP */
        confchg_to(&c, "1 2", "1 2 3", "+3u");
        confchg_to(&c, "3", "1 2 3", "+1u +2u");
        deliver_syncs(&c);
        assert_undecided(&c, "1 2 3", "waiting for a new totem ring");
        ring(&c, "1 2 3", 16, true);
        t3 = assert_leader(&c, "1 2 3", 1);
        assert_int_equal(t3, RING(16) + 1);
        cluster_done(&c);
}

/* The leader is cut away: the majority elects another; when the old leader (lowest nodeid,
 * leader before the cut) comes back, it does not take over. */
static void test_leader_cut_away(void **state) {
        Cluster c = {};
        ElectionSync s;

        start3(&c);
        confchg(&c, "1", "-2d -3d");
        confchg(&c, "2 3", "-1d");
        assert_undecided(&c, "1 2 3", "waiting for a new totem ring");
        ring(&c, "1", 12, false);
        ring(&c, "2 3", 12, true); /* corosync gives both sides the same seq */
        assert_leader(&c, "2 3", 2);
        assert_undecided(&c, "1", "not quorate");
        election_my_sync(node(&c, 1), &s);
        assert_int_equal(s.leader, 0);
        assert_int_equal(s.max_term, RING(8) + 1);

        confchg_to(&c, "2 3", "1 2 3", "+1u");
        confchg_to(&c, "1", "1 2 3", "+2u +3u");
        deliver_syncs(&c);
        ring(&c, "1 2 3", 16, true);
        assert_leader(&c, "1 2 3", 2);
        cluster_done(&c);
}

/* A fast cut and heal: node 1 is cut away and comes back before it heard its quorum was lost, so
 * its SYNC still claims itself; the majority's later decision has the higher leader_term. */
static void test_fast_heal_claims(void **state) {
        Cluster c = {};

        start3(&c);
        confchg(&c, "1", "-2d -3d");
        totem(&c, "1", 12);
        confchg(&c, "2 3", "-1d");
        ring(&c, "2 3", 12, true);
        assert_leader(&c, "2 3", 2);

        confchg_to(&c, "2 3", "1 2 3", "+1u");
        confchg_to(&c, "1", "1 2 3", "+2u +3u");
        deliver_syncs(&c);
        quorum(&c, "1", false, 12); /* late */
        ring(&c, "1 2 3", 16, true);
        assert_leader(&c, "1 2 3", 2);
        cluster_done(&c);
}

/* A node heals into a quorate ring but is cut again before that ring's SYNCs were delivered: its
 * quorum view (quorate, ring 16) and totem (16) are both newer than its last decision (ring 8),
 * yet stale. It must not decide alone. */
static void test_trap_after_undecided_ring(void **state) {
        Cluster c = {};

        start3(&c);
        confchg(&c, "3", "-1d -2d");
        ring(&c, "3", 12, false);
        confchg(&c, "1 2", "-3d");
        ring(&c, "1 2", 12, true);
        assert_leader(&c, "1 2", 1);

        confchg_to(&c, "1 2", "1 2 3", "+3u");
        confchg_to(&c, "3", "1 2 3", "+1u +2u");
        ring(&c, "1 2 3", 16, true);
        assert_undecided(&c, "1 2 3", "waiting for SYNC from node 1");
        /* cut again before they were delivered: each side gets its own */
        deliver_syncs_among(&c, "1 2");
        deliver_syncs_among(&c, "3");
        assert_undecided(&c, "1 2", "waiting for SYNC from node 3");
        assert_undecided(&c, "3", "waiting for SYNC from node 1");
        drop_syncs(&c);

        confchg(&c, "3", "-1d -2d");
        assert_undecided(&c, "3", "waiting for a new totem ring");
        confchg(&c, "1 2", "-3d");
        assert_undecided(&c, "1 2", "waiting for a new totem ring");
        ring(&c, "3", 20, false);
        assert_undecided(&c, "3", "not quorate");
        ring(&c, "1 2", 20, true);
        assert_leader(&c, "1 2", 1);
        cluster_done(&c);
}

/* A drsd killed right after a NODEDOWN confchg, before the new ring's totem: the PROCDOWN round
 * still waits for the ring the NODEDOWN announced. */
static void test_procdown_keeps_ring_guard(void **state) {
        Cluster c = {};

        start3(&c);
        confchg(&c, "3", "-1d -2d");
        confchg(&c, "1 2", "-3d");
        kill_node(&c, 2);
        confchg(&c, "1", "-2p");
        assert_undecided(&c, "1", "waiting for a new totem ring");
        ring(&c, "1", 12, true); /* corosync nodes 1 and 2 are still a majority */
        assert_leader(&c, "1", 1);
        cluster_done(&c);
}

/* Nodes 2 and 3 lag behind CPG: each SYNC they multicast lands in a later configuration than the
 * one they were processing. Configurations: O = {2,3} (drsd 1 killed), P = {1,2,3} (restarted),
 * B = {2,3} (killed again), C = {1,2,3} (restarted again). Their SYNCs sent for O land in B, those
 * for P and B land in C. In B they have all the members' SYNCs but their own later ones are still
 * in flight: were they to decide B (node 2, term t+1), node 1 would decide C from their stale SYNCs
 * as (node 1, term t+1): one term, two leaders, and 2 and 3 would then disagree with node 1 on C's
 * term. */
static void test_lagging_nodes(void **state) {
        Cluster c = {};
        const uint32_t b[] = {2, 3}, all[] = {1, 2, 3};
        ElectionSync s1_p, s1_c, s_o[4], s_p[4], s_b[4], s_c[4];
        uint64_t t0, t;

        t0 = start3(&c);
        kill_node(&c, 1); /* O */
        start(&c, 1);     /* P: node 1 is prompt */
        ring(&c, "1", 8, true);
        confchg_to(&c, "1", "1 2 3", "+1j");
        s1_p = c.pending[0].sync;
        drop_syncs(&c);
        sync_to(&c, (const uint32_t[]){1}, 1, 1, &s1_p);
        kill_node(&c, 1); /* B */

        /* 2 and 3 process O, multicast (lands in B), process P, multicast (lands in C) */
        for (uint32_t id = 2; id <= 3; id++) {
                char ids[2] = {(char) ('0' + id), 0};
                confchg_to(&c, ids, "2 3", "-1p");
                s_o[id] = c.pending[0].sync;
                drop_syncs(&c);
                confchg_to(&c, ids, "1 2 3", "+1j");
                s_p[id] = c.pending[0].sync;
                drop_syncs(&c);
        }
        sync_to(&c, b, 2, 1, &s1_p); /* P's SYNCs */
        for (uint32_t id = 2; id <= 3; id++) {
                char ids[2] = {(char) ('0' + id), 0};
                confchg_to(&c, ids, "2 3", "-1p");
                s_b[id] = c.pending[0].sync;
                drop_syncs(&c);
        }
        sync_to(&c, b, 2, 2, &s_o[2]); /* B's SYNCs: those sent for O */
        sync_to(&c, b, 2, 3, &s_o[3]);
        assert_undecided(&c, "2", "waiting for SYNC from node 2");
        assert_undecided(&c, "3", "waiting for SYNC from node 3");

        start(&c, 1); /* C */
        ring(&c, "1", 8, true);
        confchg_to(&c, "1", "1 2 3", "+1j");
        s1_c = c.pending[0].sync;
        drop_syncs(&c);
        for (uint32_t id = 2; id <= 3; id++) {
                char ids[2] = {(char) ('0' + id), 0};
                confchg_to(&c, ids, "1 2 3", "+1j");
                s_c[id] = c.pending[0].sync;
                drop_syncs(&c);
        }
        /* C's SYNCs, in the order they were multicast */
        sync_to(&c, all, 3, 1, &s1_c);
        sync_to(&c, all, 3, 2, &s_p[2]);
        sync_to(&c, all, 3, 3, &s_p[3]);
        t = assert_leader(&c, "1", 1);
        assert_int_equal(t, t0 + 1);
        assert_undecided(&c, "2", "waiting for SYNC from node 2");
        sync_to(&c, all, 3, 2, &s_b[2]);
        sync_to(&c, all, 3, 3, &s_b[3]);
        sync_to(&c, all, 3, 2, &s_c[2]);
        sync_to(&c, all, 3, 3, &s_c[3]);
        assert_int_equal(assert_leader(&c, "1 2 3", 1), t);
        cluster_done(&c);
}

static void test_sync_from_non_member(void **state) {
        Cluster c = {};
        const ElectionSync bogus = {.leader = 3, .leader_term = RING(100), .max_term = RING(100)};
        const uint32_t to[] = {1, 2};
        Election *e;
        uint64_t t1, t2;

        t1 = start3(&c);
        kill_node(&c, 3);
        confchg_to(&c, "1 2", "1 2", "-3p");
        sync_to(&c, to, 2, 3, &bogus);
        assert_undecided(&c, "1 2", "waiting for SYNC from node 1");
        deliver_syncs(&c);
        t2 = assert_leader(&c, "1 2", 1);
        assert_int_equal(t2, t1 + 1); /* node 3's terms did not count */

        /* before this node saw any confchg */
        assert_int_equal(election_new(5, &e), 0);
        assert_int_equal(election_sync(e, 4, &bogus), 0);
        assert_int_equal(election_totem(e, 8), 0);
        assert_int_equal(election_quorum(e, true, 8), 0);
        assert_int_equal(election_confchg(e, (const uint32_t[]){4, 5}, 2, NULL, 0, NULL, 0), 0);
        assert_int_equal(election_sync(e, 5, &(ElectionSync){}), 0);
        assert_string_equal(election_waiting_for(e), "waiting for SYNC from node 4");
        assert_int_equal(election_sync(e, 4, &(ElectionSync){}), 1);
        assert_int_equal(election_leader(e), 4);
        assert_int_equal(election_term(e), RING(8) + 1);
        election_free(e);
        cluster_done(&c);
}

static void test_duplicate_sync(void **state) {
        Cluster c = {};
        const ElectionSync second = {.leader = 2, .leader_term = RING(100), .max_term = RING(100)};
        const uint32_t to[] = {1, 2};
        uint64_t t1, t2;

        t1 = start3(&c);
        kill_node(&c, 3);
        confchg_to(&c, "1 2", "1 2", "-3p");
        sync_to(&c, to, 2, 2, &c.pending[1].sync); /* node 2's, first */
        sync_to(&c, to, 2, 2, &second);            /* node 2 again: replaces nothing */
        assert_undecided(&c, "1 2", "waiting for SYNC from node 1");
        sync_to(&c, to, 2, 1, &c.pending[0].sync);
        sync_to(&c, to, 2, 1, &c.pending[0].sync);
        drop_syncs(&c);
        t2 = assert_leader(&c, "1 2", 1);
        assert_int_equal(t2, t1 + 1);
        cluster_done(&c);
}

/* Quorum lost after a decision: cleared at once; quorate again: decided again from the round's
 * SYNCs, in a new term. */
static void test_quorum_lost(void **state) {
        Cluster c = {};
        ElectionSync s;
        uint64_t t1, t2;

        t1 = start3(&c);
        assert_int_equal(election_quorum(node(&c, 2), false, 8), 1);
        assert_undecided(&c, "2", "not quorate");
        assert_false(election_order_ok(node(&c, 2), 1, t1));
        election_my_sync(node(&c, 2), &s);
        assert_int_equal(s.leader, 0);
        assert_int_equal(s.leader_term, 0);
        assert_int_equal(s.max_term, t1);
        quorum(&c, "1 3", false, 8);
        assert_undecided(&c, "1 2 3", "not quorate");
        assert_int_equal(election_quorum(node(&c, 2), false, 8), 0);

        quorum(&c, "1 2 3", true, 8);
        t2 = assert_leader(&c, "1 2 3", 1);
        assert_int_equal(t2, t1 + 1);
        /* the same view again changes nothing */
        assert_int_equal(election_quorum(node(&c, 1), true, 8), 0);
        assert_int_equal(election_totem(node(&c, 1), 8), 0);
        assert_leader(&c, "1 2 3", 1);
        cluster_done(&c);
}

/* A quorum view of another ring than the totem's decides nothing; a quorum view of a newer ring
 * clears a decision; a ring reformed with the same members redecides in the new ring. */
static void test_quorum_other_ring(void **state) {
        Cluster c = {};
        uint64_t t;

        for (uint32_t id = 1; id <= 3; id++)
                start(&c, id);
        totem(&c, "1 2 3", 8);
        quorum(&c, "1 2 3", true, 4);
        confchg(&c, "1 2 3", "+1j +2j +3j");
        assert_undecided(&c, "1 2 3", "quorum view of another ring");
        quorum(&c, "1 2 3", true, 8);
        assert_leader(&c, "1 2 3", 1);

        /* votequorum tells of ring 12 before the totem does */
        assert_int_equal(election_quorum(node(&c, 1), true, 12), 1);
        assert_undecided(&c, "1", "quorum view of another ring");
        quorum(&c, "2 3", true, 12);
        totem(&c, "1 2 3", 12);
        t = assert_leader(&c, "1 2 3", 1);
        assert_int_equal(t, RING(12) + 1);

        /* totem first: the decision stands until the quorum view of that ring */
        totem(&c, "1 2 3", 16);
        assert_int_equal(assert_leader(&c, "1 2 3", 1), t);
        quorum(&c, "1 2 3", true, 16);
        assert_int_equal(assert_leader(&c, "1 2 3", 1), RING(16) + 1);
        cluster_done(&c);
}

/* order_ok: decided, quorate, that term, that leader. */
static void test_order_ok(void **state) {
        Cluster c = {};
        uint64_t t;
        Election *e;

        t = start3(&c);
        e = node(&c, 3);
        assert_true(election_order_ok(e, 1, t));
        assert_false(election_order_ok(e, 2, t));
        assert_false(election_order_ok(e, 3, t));
        assert_false(election_order_ok(e, 0, t));
        assert_false(election_order_ok(e, 1, 0));
        assert_false(election_order_ok(e, 1, t - 1));
        assert_false(election_order_ok(e, 1, t + 1));
        assert_false(election_order_ok(e, 1, UINT64_MAX));

        confchg_to(&c, "1 2 3", "1 2 3", "-4p");
        assert_false(election_order_ok(e, 1, t));
        deliver_syncs(&c);
        assert_false(election_order_ok(e, 1, t)); /* an order of the previous term */
        assert_true(election_order_ok(e, 1, t + 1));
        cluster_done(&c);
}

/* The member list: sorted, duplicates and nodeid 0 dropped; a node not in it never decides. */
static void test_members(void **state) {
        _cleanup_(election_freep) Election *e = NULL;
        const uint32_t *m;
        size_t n;

        assert_int_equal(election_new(2, &e), 0);
        assert_null(election_members(e, &n));
        assert_int_equal(n, 0);
        assert_int_equal(election_confchg(e, (const uint32_t[]){3, 0, 2, 3, 1, 2}, 6, NULL, 0, NULL, 0), 0);
        m = election_members(e, &n);
        assert_int_equal(n, 3);
        assert_int_equal(m[0], 1);
        assert_int_equal(m[1], 2);
        assert_int_equal(m[2], 3);
        assert_true(election_is_member(e, 3));
        assert_false(election_is_member(e, 0));
        assert_false(election_is_member(e, 4));

        assert_int_equal(election_totem(e, 8), 0);
        assert_int_equal(election_quorum(e, true, 8), 0);
        assert_string_equal(election_waiting_for(e), "waiting for SYNC from node 1");
        assert_int_equal(election_sync(e, 1, &(ElectionSync){}), 0);
        assert_int_equal(election_sync(e, 3, &(ElectionSync){}), 0);
        assert_string_equal(election_waiting_for(e), "waiting for SYNC from node 2");

        /* this node left the group: nothing to decide */
        assert_int_equal(
                election_confchg(
                        e, (const uint32_t[]){1, 3}, 2, &(ElectionChange){2, ELECTION_REASON_LEAVE}, 1, NULL,
                        0),
                0);
        assert_int_equal(election_sync(e, 1, &(ElectionSync){}), 0);
        assert_int_equal(election_sync(e, 3, &(ElectionSync){}), 0);
        assert_false(election_decided(e));
        assert_string_equal(election_waiting_for(e), "not a member of the CPG group");
        assert_int_equal(election_confchg(e, NULL, 0, NULL, 0, NULL, 0), 0);
        assert_string_equal(election_waiting_for(e), "not a member of the CPG group");
}

/* An unknown reason is a NODEDOWN: it needs a new ring. */
static void test_unknown_reason(void **state) {
        _cleanup_(election_freep) Election *e = NULL;

        assert_int_equal(election_new(1, &e), 0);
        assert_int_equal(election_totem(e, 8), 0);
        assert_int_equal(election_quorum(e, true, 8), 0);
        assert_int_equal(
                election_confchg(e, (const uint32_t[]){1}, 1, &(ElectionChange){2, 99}, 1, NULL, 0), 0);
        assert_int_equal(election_sync(e, 1, &(ElectionSync){}), 0);
        assert_string_equal(election_waiting_for(e), "waiting for a new totem ring");
        assert_int_equal(election_totem(e, 12), 0);
        assert_int_equal(election_quorum(e, true, 12), 1);
        assert_int_equal(election_leader(e), 1);
}

/* One long story: every decision along it has a higher term than the one before (check_event). */
static void test_story(void **state) {
        Cluster c = {};

        start3(&c);
        start(&c, 4);
        ring(&c, "4", 8, true);
        confchg(&c, "1 2 3 4", "+4j");
        assert_leader(&c, "1 2 3 4", 1);
        /* {1,2} | {3,4}: a tie, nobody is quorate */
        confchg(&c, "1 2", "-3d -4d");
        confchg(&c, "3 4", "-1d -2d");
        ring(&c, "1 2", 12, false);
        ring(&c, "3 4", 12, false);
        assert_undecided(&c, "1 2 3 4", "not quorate");
        /* {1} | {2,3,4} */
        confchg_to(&c, "2", "2 3 4", "-1d +3u +4u");
        confchg_to(&c, "3 4", "2 3 4", "+2u");
        deliver_syncs(&c);
        confchg(&c, "1", "-2d");
        ring(&c, "2 3 4", 16, true);
        ring(&c, "1", 16, false);
        assert_leader(&c, "2 3 4", 2);
        /* node 2's drsd killed: 3 leads; node 1 comes back: 3 stays */
        kill_node(&c, 2);
        confchg(&c, "3 4", "-2p");
        assert_leader(&c, "3 4", 3);
        confchg_to(&c, "1", "1 3 4", "+3u +4u");
        confchg_to(&c, "3 4", "1 3 4", "+1u");
        deliver_syncs(&c);
        ring(&c, "1 3 4", 20, true);
        assert_leader(&c, "1 3 4", 3);
        start(&c, 2);
        quorum(&c, "2", true, 20);
        confchg(&c, "1 2 3 4", "+2j");
        assert_leader(&c, "1 3 4", 3);
        assert_undecided(&c, "2", "quorum view of another ring");
        totem(&c, "2", 20);
        assert_leader(&c, "1 2 3 4", 3);
        /* quorum lost everywhere, then back: the round's SYNCs, sent before the loss, still
         * name node 3 */
        quorum(&c, "1 2 3 4", false, 20);
        assert_undecided(&c, "1 2 3 4", "not quorate");
        quorum(&c, "1 2 3 4", true, 20);
        assert_leader(&c, "1 2 3 4", 3);
        /* lost again, and a round while without quorum: nobody vouches for node 3 any more */
        quorum(&c, "1 2 3 4", false, 20);
        kill_node(&c, 4);
        confchg(&c, "1 2 3", "-4p");
        assert_undecided(&c, "1 2 3", "not quorate");
        quorum(&c, "1 2 3", true, 20);
        assert_leader(&c, "1 2 3", 1);
        start(&c, 4);
        ring(&c, "4", 20, true);
        confchg(&c, "1 2 3 4", "+4j");
        assert_leader(&c, "1 2 3 4", 1);
        cluster_done(&c);
}

/* ---- the randomized simulation ----
 *
 * N corosync nodes, each perhaps running a drsd (an Election). The simulator knows the truth
 * (network partitions, rings, which drsds run) and puts what corosync would deliver into one FIFO
 * queue per node; a step either changes the truth or lets one node process the head of its queue,
 * so nodes lag behind each other arbitrarily. Corosync's orders kept: a ring change's CPG confchg
 * comes before its totem (the quorum notification anywhere around them); a SYNC multicast is put
 * into the queues of every member of the sender's current CPG configuration at once (virtual
 * synchrony: after that configuration's confchg, in one order for all); at a partition, the
 * members that stay together deliver the same messages of the old configuration: all of their
 * own, and of the others' a prefix (what any of them delivered already, and maybe more). */

#define SIM_MAX 5

typedef enum SimEventType {
        SIM_CONFCHG,
        SIM_TOTEM,
        SIM_QUORUM,
        SIM_SYNC,
} SimEventType;

typedef struct SimEvent {
        SimEventType type;
        uint32_t members[SIM_MAX];
        size_t n_members;
        ElectionChange left[SIM_MAX], joined[SIM_MAX];
        size_t n_left, n_joined;
        uint64_t seq;
        bool quorate;
        uint32_t sender;
        ElectionSync sync;
        uint64_t msg_id;
} SimEvent;

typedef struct SimQueue {
        SimEvent *ev;
        size_t head, n, cap;
} SimQueue;

typedef struct SimDecision {
        uint64_t term;
        uint32_t leader;
        unsigned gen[SIM_MAX + 1]; /* the drsd instances that decided it, by nodeid (0: none) */
} SimDecision;

/* A CPG configuration some node was in during some ring (the truth). */
typedef struct SimConfig {
        uint32_t node;
        uint64_t ring;
        unsigned members;
        bool quorate;
} SimConfig;

typedef struct Sim {
        uint64_t seed, rng;
        unsigned step;
        uint32_t n;                 /* nodes 1..n */
        Election *e[SIM_MAX + 1];   /* NULL: no drsd running */
        SimQueue q[SIM_MAX + 1];    /* what corosync has for it and it did not process yet */
        unsigned part[SIM_MAX + 1]; /* network partition */
        uint64_t ring[SIM_MAX + 1]; /* the ring its corosync is in */
        unsigned view[SIM_MAX + 1]; /* the CPG configuration it was last told of (bits) */
        uint64_t next_msg_id;       /* SYNC messages, in the order totem gives them */
        uint64_t last_delivered[SIM_MAX + 1];
        uint64_t last_term[SIM_MAX + 1]; /* of this drsd instance: must grow */
        unsigned gen[SIM_MAX + 1];       /* drsd instances: counts the starts */
        uint64_t totem[SIM_MAX + 1];     /* the last totem seq it processed */
        SimConfig *configs;
        size_t n_configs;
        SimDecision *decisions; /* every (term, leader) any node decided */
        size_t n_decisions;
        bool trace; /* ELECTION_TRACE=1: every delivered event on stderr */
} Sim;

#define sim_assert(s, cond)                                                                                 \
        do {                                                                                                \
                if (!(cond))                                                                                \
                        fail_msg(                                                                           \
                                "seed %" PRIu64 " step %u: %s (rerun with ELECTION_SEED=%" PRIu64 ")",      \
                                (s)->seed, (s)->step, #cond, (s)->seed);                                    \
        } while (0)

static uint64_t sim_rand(Sim *s) {
        /* splitmix64 */
        uint64_t z = (s->rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static unsigned sim_pick(Sim *s, unsigned n) {
        return (unsigned) (sim_rand(s) % n);
}

static void sim_push(Sim *s, uint32_t id, const SimEvent *ev) {
        SimQueue *q = &s->q[id];

        if (q->head + q->n == q->cap) {
                if (q->head > 0) {
                        memmove(q->ev, q->ev + q->head, q->n * sizeof(SimEvent));
                        q->head = 0;
                } else {
                        q->cap = q->cap ? q->cap * 2 : 64;
                        q->ev = realloc(q->ev, q->cap * sizeof(SimEvent));
                        assert_non_null(q->ev);
                }
        }
        q->ev[q->head + q->n++] = *ev;
}

static unsigned sim_group(const Sim *s, uint32_t id) {
        unsigned g = 0;
        for (uint32_t j = 1; j <= s->n; j++)
                if (s->part[j] == s->part[id])
                        g |= 1u << j;
        return g;
}

static unsigned sim_alive(const Sim *s, unsigned group) {
        unsigned a = 0;
        for (uint32_t j = 1; j <= s->n; j++)
                if ((group & (1u << j)) && s->e[j])
                        a |= 1u << j;
        return a;
}

static bool sim_quorate(const Sim *s, unsigned group) {
        return 2 * (unsigned) __builtin_popcount(group) > s->n;
}

static SimEvent
sim_confchg(const Sim *s, unsigned old, unsigned new, uint32_t reason_left, uint32_t reason_joined) {
        SimEvent ev = {.type = SIM_CONFCHG};

        for (uint32_t j = 1; j <= s->n; j++) {
                if (new &(1u << j))
                        ev.members[ev.n_members++] = j;
                if ((old & (1u << j)) && !(new &(1u << j)))
                        ev.left[ev.n_left++] = (ElectionChange){j, reason_left};
                if (!(old & (1u << j)) && (new &(1u << j)))
                        ev.joined[ev.n_joined++] = (ElectionChange){j, reason_joined};
        }
        return ev;
}

/* Node id is (now, in truth) in the CPG configuration view[id] of ring ring[id]. */
static void sim_config(Sim *s, uint32_t id) {
        s->configs = realloc(s->configs, (s->n_configs + 1) * sizeof(SimConfig));
        assert_non_null(s->configs);
        s->configs[s->n_configs++] = (SimConfig){
                .node = id,
                .ring = s->ring[id],
                .members = s->view[id],
                .quorate = sim_quorate(s, sim_group(s, id)),
        };
}

/* What a ring change brings a running drsd: perhaps a CPG confchg, then the totem; the quorum
 * notification before, between or after. */
static void sim_push_ring(Sim *s, uint32_t id, unsigned new_view) {
        SimEvent totem = {.type = SIM_TOTEM, .seq = s->ring[id]};
        SimEvent quorum = {
                .type = SIM_QUORUM, .seq = s->ring[id], .quorate = sim_quorate(s, sim_group(s, id))};
        unsigned where = sim_pick(s, 3);

        if (where == 0)
                sim_push(s, id, &quorum);
        if (new_view != s->view[id]) {
                SimEvent ev = sim_confchg(
                        s, s->view[id], new_view, ELECTION_REASON_NODEDOWN, ELECTION_REASON_NODEUP);
                sim_push(s, id, &ev);
                s->view[id] = new_view;
        }
        sim_config(s, id);
        if (where == 1)
                sim_push(s, id, &quorum);
        sim_push(s, id, &totem);
        if (where == 2)
                sim_push(s, id, &quorum);
}

/* At a partition: the SYNCs of its current configuration that node id has not processed yet
 * (those after the last confchg in its queue) beyond the cutoff are never delivered. */
static void sim_drop_after(Sim *s, uint32_t id, unsigned group, uint64_t cutoff) {
        SimQueue *q = &s->q[id];
        size_t first = 0, k = 0;

        for (size_t i = 0; i < q->n; i++)
                if (q->ev[q->head + i].type == SIM_CONFCHG)
                        first = i + 1;
        for (size_t i = 0; i < q->n; i++) {
                SimEvent *ev = &q->ev[q->head + i];
                if (i >= first && ev->type == SIM_SYNC && ev->msg_id > cutoff &&
                    !(group & (1u << ev->sender)))
                        continue;
                q->ev[q->head + k++] = *ev;
        }
        q->n = k;
}

static void sim_partition(Sim *s, unsigned n_parts) {
        unsigned old_group[SIM_MAX + 1];
        bool done[SIM_MAX + 1] = {};

        for (uint32_t j = 1; j <= s->n; j++)
                old_group[j] = sim_group(s, j);
        for (uint32_t j = 1; j <= s->n; j++)
                s->part[j] = sim_pick(s, n_parts);
        for (uint32_t j = 1; j <= s->n; j++) {
                unsigned g = sim_group(s, j);
                bool changed = false;
                uint64_t seq = 0, cutoff = 0;

                if (done[j])
                        continue;
                for (uint32_t k = 1; k <= s->n; k++)
                        if (g & (1u << k)) {
                                done[k] = true;
                                changed = changed || old_group[k] != g;
                                seq = seq > s->ring[k] ? seq : s->ring[k];
                                cutoff = cutoff > s->last_delivered[k] ? cutoff : s->last_delivered[k];
                        }
                if (!changed)
                        continue;
                /* the same prefix of the old configuration's messages for all of the group: all
                 * that any of them delivered already, and maybe more */
                if (sim_pick(s, 2))
                        cutoff = UINT64_MAX;
                else
                        cutoff += sim_pick(s, 3);
                /* corosync: the new ring's seq is above every seq its members were in */
                seq += 4;
                if (s->trace)
                        fprintf(stderr, "  new ring %" PRIu64 " group %#x cutoff %" PRIu64 "\n", seq, g,
                                cutoff);
                for (uint32_t k = 1; k <= s->n; k++)
                        if (g & (1u << k)) {
                                s->ring[k] = seq;
                                if (s->e[k]) {
                                        sim_drop_after(s, k, g, cutoff);
                                        sim_push_ring(s, k, sim_alive(s, g));
                                }
                        }
        }
}

/* A ring re-formed with the same members: totem and quorum only. */
static void sim_reform(Sim *s, uint32_t id) {
        unsigned g = sim_group(s, id);
        uint64_t seq = s->ring[id] + 4;

        for (uint32_t k = 1; k <= s->n; k++)
                if (g & (1u << k)) {
                        s->ring[k] = seq;
                        if (s->e[k])
                                sim_push_ring(s, k, s->view[k]);
                }
}

/* Tell the other running drsds of id's partition that its drsd came or went. */
static void sim_cpg_change(Sim *s, uint32_t id, uint32_t reason) {
        unsigned now = sim_alive(s, sim_group(s, id));

        for (uint32_t k = 1; k <= s->n; k++)
                if ((now & (1u << k)) && now != s->view[k]) {
                        SimEvent ev = sim_confchg(s, s->view[k], now, reason, reason);
                        sim_push(s, k, &ev);
                        s->view[k] = now;
                        sim_config(s, k);
                }
}

static void sim_kill(Sim *s, uint32_t id) {
        s->e[id] = election_free(s->e[id]);
        s->q[id].head = s->q[id].n = 0;
        s->view[id] = 0;
        s->last_term[id] = 0;
        s->totem[id] = 0;
        sim_cpg_change(s, id, ELECTION_REASON_PROCDOWN);
}

static void sim_start(Sim *s, uint32_t id) {
        SimEvent totem = {.type = SIM_TOTEM, .seq = s->ring[id]};
        SimEvent quorum = {
                .type = SIM_QUORUM, .seq = s->ring[id], .quorate = sim_quorate(s, sim_group(s, id))};
        unsigned order = sim_pick(s, 6);

        assert_int_equal(election_new(id, &s->e[id]), 0);
        s->gen[id]++;
        /* its first confchg: the members so far, and itself joined */
        s->view[id] = sim_alive(s, sim_group(s, id)) & ~(1u << id);
        /* the initial totem and quorum views and that confchg, in any of the 6 orders */
        for (unsigned i = 0; i < 3; i++)
                switch ((order + i * (1 + order / 3)) % 3) {
                case 0:
                        sim_push(s, id, &totem);
                        break;
                case 1:
                        sim_push(s, id, &quorum);
                        break;
                default:
                        sim_cpg_change(s, id, ELECTION_REASON_JOIN);
                }
}

/* Node id decided a new term. One term has one leader: a term decided with another leader before
 * is allowed only when none of the drsds that decided it is still running (possible: all deciders
 * of a round killed before any other member decided it, the survivors then compute the same term
 * from the same SYNCs; nobody alive holds the old decision, and the old leader's orders fail
 * election_order_ok() everywhere since the sender differs). */
static void sim_record(Sim *s, uint32_t id) {
        Election *e = s->e[id];
        uint64_t term = election_term(e);
        uint32_t leader = election_leader(e);
        SimDecision *mine = NULL;

        for (size_t i = 0; i < s->n_decisions; i++) {
                SimDecision *o = &s->decisions[i];
                if (o->term != term)
                        continue;
                if (o->leader == leader) {
                        mine = o;
                        continue;
                }
                for (uint32_t j = 1; j <= s->n; j++)
                        sim_assert(s, !(o->gen[j] != 0 && s->e[j] && s->gen[j] == o->gen[j]));
        }
        if (!mine) {
                s->decisions = realloc(s->decisions, (s->n_decisions + 1) * sizeof(SimDecision));
                assert_non_null(s->decisions);
                mine = &s->decisions[s->n_decisions++];
                *mine = (SimDecision){.term = term, .leader = leader};
        }
        mine->gen[id] = s->gen[id];
}

/* Processes the head of node id's queue. */
static void sim_deliver(Sim *s, uint32_t id) {
        SimQueue *q = &s->q[id];
        SimEvent ev = q->ev[q->head];
        Election *e = s->e[id];
        int r = 0;

        q->head++;
        q->n--;
        if (s->trace) {
                fprintf(stderr, "step %u node %" PRIu32 ": ", s->step, id);
                switch (ev.type) {
                case SIM_CONFCHG:
                        fprintf(stderr, "confchg");
                        for (size_t i = 0; i < ev.n_members; i++)
                                fprintf(stderr, " %" PRIu32, ev.members[i]);
                        for (size_t i = 0; i < ev.n_left; i++)
                                fprintf(stderr, " -%" PRIu32 "/%" PRIu32, ev.left[i].nodeid,
                                        ev.left[i].reason);
                        for (size_t i = 0; i < ev.n_joined; i++)
                                fprintf(stderr, " +%" PRIu32 "/%" PRIu32, ev.joined[i].nodeid,
                                        ev.joined[i].reason);
                        break;
                case SIM_TOTEM:
                        fprintf(stderr, "totem %" PRIu64, ev.seq);
                        break;
                case SIM_QUORUM:
                        fprintf(stderr, "quorum %d %" PRIu64, ev.quorate, ev.seq);
                        break;
                case SIM_SYNC:
                        fprintf(stderr,
                                "sync #%" PRIu64 " from %" PRIu32 " leader %" PRIu32 " term %" PRIu64
                                " max %" PRIu64,
                                ev.msg_id, ev.sender, ev.sync.leader, ev.sync.leader_term, ev.sync.max_term);
                        break;
                }
        }
        switch (ev.type) {
        case SIM_CONFCHG: {
                SimEvent sync = {.type = SIM_SYNC, .sender = id, .msg_id = ++s->next_msg_id};

                r = election_confchg(
                        e, ev.members, ev.n_members, ev.left, ev.n_left, ev.joined, ev.n_joined);
                /* the glue multicasts its SYNC at once: to the configuration current now */
                election_my_sync(e, &sync.sync);
                for (uint32_t k = 1; k <= s->n; k++)
                        if (s->view[id] & (1u << k))
                                sim_push(s, k, &sync);
                break;
        }
        case SIM_TOTEM:
                r = election_totem(e, ev.seq);
                s->totem[id] = ev.seq;
                break;
        case SIM_QUORUM:
                r = election_quorum(e, ev.quorate, ev.seq);
                break;
        case SIM_SYNC:
                r = election_sync(e, ev.sender, &ev.sync);
                s->last_delivered[id] = ev.msg_id;
                break;
        }
        sim_assert(s, r == 0 || r == 1);
        if (s->trace)
                fprintf(stderr, " -> %s leader %" PRIu32 " term %" PRIu64 " quorate %d%s%s\n",
                        election_decided(e) ? "decided" : "undecided", election_leader(e), election_term(e),
                        election_quorate(e), election_waiting_for(e) ? ": " : "",
                        election_waiting_for(e) ?: "");
}

/* Safety, after every step. */
static void sim_check(Sim *s) {
        for (uint32_t i = 1; i <= s->n; i++) {
                Election *a = s->e[i];

                if (!a || !election_decided(a))
                        continue;
                sim_assert(s, election_leader(a) != 0 && election_is_member(a, election_leader(a)));
                sim_assert(s, election_term(a) >= s->last_term[i]);
                if (election_term(a) != s->last_term[i]) {
                        /* decided from a configuration it really was in, in a quorate ring, the
                         * ring of its totem view (what the NODEDOWN trap gets wrong) */
                        size_t n;
                        const uint32_t *m = election_members(a, &n);
                        unsigned members = 0;
                        bool found = false;

                        for (size_t k = 0; k < n; k++)
                                members |= 1u << m[k];
                        for (size_t k = 0; k < s->n_configs && !found; k++)
                                found = s->configs[k].node == i && s->configs[k].ring == s->totem[i] &&
                                        s->configs[k].members == members && s->configs[k].quorate;
                        sim_assert(s, found);
                        sim_record(s, i);
                }
                s->last_term[i] = election_term(a);
                sim_assert(s, election_order_ok(a, election_leader(a), election_term(a)));
                sim_assert(s, !election_order_ok(a, election_leader(a), election_term(a) - 1));

                for (uint32_t j = i + 1; j <= s->n; j++) {
                        Election *b = s->e[j];
                        if (b && election_decided(b) && election_quorate(a) && election_quorate(b) &&
                            election_term(a) == election_term(b))
                                sim_assert(s, election_leader(a) == election_leader(b));
                }
        }
}

static void sim_deliver_random(Sim *s) {
        uint32_t ready[SIM_MAX];
        unsigned n = 0;

        for (uint32_t j = 1; j <= s->n; j++)
                if (s->e[j] && s->q[j].n > 0)
                        ready[n++] = j;
        if (n > 0)
                sim_deliver(s, ready[sim_pick(s, n)]);
}

static bool sim_idle(const Sim *s) {
        for (uint32_t j = 1; j <= s->n; j++)
                if (s->e[j] && s->q[j].n > 0)
                        return false;
        return true;
}

static void sim_run(uint64_t seed) {
        Sim s = {.seed = seed, .rng = seed, .trace = getenv("ELECTION_TRACE")};
        unsigned steps;
        uint32_t leader = 0;
        uint64_t term = 0;

        s.n = 3 + sim_pick(&s, SIM_MAX - 2);
        steps = 50 + sim_pick(&s, 150);
        for (uint32_t j = 1; j <= s.n; j++) {
                s.ring[j] = 8;
                if (sim_pick(&s, 4))
                        sim_start(&s, j);
        }

        for (s.step = 0; s.step < steps; s.step++) {
                unsigned what = sim_pick(&s, 100);
                uint32_t id = 1 + sim_pick(&s, s.n);

                if (s.trace && what >= 65)
                        fprintf(stderr, "step %u: %s node %" PRIu32 "\n", s.step,
                                what < 77   ? "partition"
                                : what < 82 ? "heal"
                                : what < 89 ? "kill"
                                : what < 96 ? "start"
                                            : "reform",
                                id);
                if (what < 65)
                        sim_deliver_random(&s);
                else if (what < 77)
                        sim_partition(&s, 1 + sim_pick(&s, 3));
                else if (what < 82)
                        sim_partition(&s, 1); /* heal */
                else if (what < 89) {
                        if (s.e[id])
                                sim_kill(&s, id);
                } else if (what < 96) {
                        if (!s.e[id])
                                sim_start(&s, id);
                } else
                        sim_reform(&s, id);
                sim_check(&s);
        }

        /* the events stop: one fully connected ring, every drsd running, everything delivered */
        sim_partition(&s, 1);
        if (sim_pick(&s, 2))
                sim_reform(&s, 1);
        for (uint32_t j = 1; j <= s.n; j++)
                if (!s.e[j])
                        sim_start(&s, j);
        sim_check(&s);
        while (!sim_idle(&s)) {
                s.step++;
                sim_deliver_random(&s);
                sim_check(&s);
        }

        for (uint32_t j = 1; j <= s.n; j++) {
                Election *e = s.e[j];
                size_t n;

                sim_assert(&s, election_decided(e));
                sim_assert(&s, election_quorate(e));
                election_members(e, &n);
                sim_assert(&s, n == s.n);
                if (j == 1) {
                        leader = election_leader(e);
                        term = election_term(e);
                }
                sim_assert(&s, election_leader(e) == leader);
                sim_assert(&s, election_term(e) == term);
        }

        for (uint32_t j = 0; j <= SIM_MAX; j++) {
                election_free(s.e[j]);
                free(s.q[j].ev);
        }
        free(s.decisions);
        free(s.configs);
}

static void test_random(void **state) {
        const char *env = getenv("ELECTION_SEED");

        if (env) {
                sim_run(strtoull(env, NULL, 0));
                return;
        }
        for (uint64_t seed = 1; seed <= 500; seed++)
                sim_run(seed);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start),
                cmocka_unit_test(test_start_one_by_one),
                cmocka_unit_test(test_leader_killed_and_restarted),
                cmocka_unit_test(test_nodedown_trap),
                cmocka_unit_test(test_leader_cut_away),
                cmocka_unit_test(test_fast_heal_claims),
                cmocka_unit_test(test_trap_after_undecided_ring),
                cmocka_unit_test(test_procdown_keeps_ring_guard),
                cmocka_unit_test(test_lagging_nodes),
                cmocka_unit_test(test_sync_from_non_member),
                cmocka_unit_test(test_duplicate_sync),
                cmocka_unit_test(test_quorum_lost),
                cmocka_unit_test(test_quorum_other_ring),
                cmocka_unit_test(test_order_ok),
                cmocka_unit_test(test_members),
                cmocka_unit_test(test_unknown_reason),
                cmocka_unit_test(test_story),
                cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
