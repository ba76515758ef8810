/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Leader election over corosync, as a pure state machine: the corosync glue (agent/cluster/cluster.c)
 * feeds it what CPG and votequorum deliver, and the SYNC messages of the members; it says who
 * leads, in which term, and whether an order may be executed. No I/O, no clock, no logging:
 * unit-tested with scripted event sequences in tests/agent/test-election.c.
 *
 * Rules (DESIGN.md, TESTBED.md):
 *
 *   Rounds. Every CPG configuration change (election_confchg) starts a new round: the member
 *   list is replaced, the decision is cleared (no leader until decided again), and this node
 *   must multicast a SYNC (election_my_sync) — the glue does that at once. CPG's virtual
 *   synchrony delivers the same SYNCs, in the same order, between the same two configuration
 *   changes to every member, so every member decides from the same inputs. A SYNC delivered
 *   from a sender that is not a member of the current round, or delivered before this node saw
 *   the round's confchg, is ignored; a second SYNC of one sender in a round replaces nothing
 *   (the first counts).
 *
 *   Ring and quorum. The totem ring (election_totem) and the votequorum view
 *   (election_quorum: quorate + its ring) are tracked separately. The NODEDOWN trap: CPG
 *   delivers a confchg with left/joined members whose reason is NODEDOWN or NODEUP *before*
 *   the new ring's totem confchg and quorum notification; an isolated node would see itself as
 *   the only member while still quorate from the old ring. So a round whose confchg names any
 *   member with reason NODEDOWN or NODEUP needs a totem ring with a higher seq than the ring
 *   of the last decision (or of the last totem seen before the confchg, when nothing was
 *   decided yet) before it may decide; a round caused only by processes joining or leaving
 *   (JOIN, LEAVE, PROCDOWN: a drsd started, stopped or killed; the ring stays) needs none.
 *
 *   Decision. A round decides when all of: every current member's SYNC of this round was
 *   delivered; the required ring is there (above); the quorum view is quorate and of the same
 *   ring seq as the last totem ring. Then:
 *     leader = the `leader` of the delivered SYNC with the highest `leader_term` whose leader is a
 *              current member (sticky: a surviving leader keeps leading; a returning node, which
 *              lost quorum and claims no leader, does not take leadership back);
 *              when no SYNC names a current member: the lowest current member nodeid;
 *     term   = max(every SYNC's max_term, its leader_term, this node's max term,
 *              totem ring seq << 20) + 1.
 *   The ring's seq in the high bits makes terms grow across rings; the +1 makes every decision
 *   a new term, also within one ring (a drsd killed and restarted without a ring change).
 *
 *   Losing it. A quorum notification saying not quorate, or of a newer ring than the decision,
 *   clears the decision at once (a minority starts nothing new); the next totem/quorum/SYNC that
 *   completes the round's conditions decides again (the round's SYNCs are kept).
 *
 * An order (MIGRATE, SET_MODE, POWER_OFF) is executed only when election_order_ok(): decided,
 * quorate, the order's term equals the current term and its sender is the current leader. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* corosync's cpg.h CPG_REASON_* values. */
typedef enum ElectionReason {
        ELECTION_REASON_JOIN = 1,
        ELECTION_REASON_LEAVE = 2,
        ELECTION_REASON_NODEDOWN = 3,
        ELECTION_REASON_NODEUP = 4,
        ELECTION_REASON_PROCDOWN = 5,
} ElectionReason;

typedef struct ElectionChange {
        uint32_t nodeid;
        uint32_t reason; /* ElectionReason; unknown values are treated as NODEDOWN (need a new ring) */
} ElectionChange;

/* What a SYNC carries (agent/cluster/cluster-msg.h ClusterSync without the host name). */
typedef struct ElectionSync {
        uint32_t leader;
        uint64_t leader_term;
        uint64_t max_term;
} ElectionSync;

#define ELECTION_TERM_RING_SHIFT 20

typedef struct Election Election;

int election_new(uint32_t my_nodeid, Election **ret);
Election *election_free(Election *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Election *, election_free);

/* The events. Each returns 1 when the decision changed (decided or cleared, other leader or
 * term), 0 when not, < 0 on -ENOMEM (the state is then unchanged). members: the full CPG member
 * list after the change (nodeids, any order, duplicates ignored). */
int election_confchg(
        Election *e, const uint32_t *members, size_t n_members, const ElectionChange *left, size_t n_left,
        const ElectionChange *joined, size_t n_joined);
int election_totem(Election *e, uint64_t ring_seq);
int election_quorum(Election *e, bool quorate, uint64_t ring_seq);
int election_sync(Election *e, uint32_t sender, const ElectionSync *s);

/* The SYNC this node sends now: its last decision (leader 0 when not decided) and max term. */
void election_my_sync(const Election *e, ElectionSync *ret);

bool election_decided(const Election *e);
bool election_quorate(const Election *e);    /* the last quorum view (regardless of rings) */
uint32_t election_leader(const Election *e); /* 0 when not decided */
uint64_t election_term(const Election *e);   /* 0 when not decided */
bool election_is_leader(const Election *e);  /* decided and leader == this node */
uint32_t election_my_nodeid(const Election *e);
/* The current round's members (sorted ascending). */
const uint32_t *election_members(const Election *e, size_t *ret_n);
bool election_is_member(const Election *e, uint32_t nodeid);
/* Decided, quorate, term == current term and sender == leader. */
bool election_order_ok(const Election *e, uint32_t sender, uint64_t term);
/* Why the last round has not decided yet, for drsctl status: "waiting for SYNC from node 2",
 * "waiting for a new totem ring", "not quorate", "quorum view of another ring"; NULL when
 * decided. Static strings or a buffer inside e, valid until the next event. */
const char *election_waiting_for(const Election *e);
