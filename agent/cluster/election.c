/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The leader election state machine; the rules are in election.h. Every event updates the inputs,
 * then election_update() decides when the round's conditions are all met, or records why not.
 * The decision is a function of what every member of the round sees alike (the member list, the
 * round's SYNCs, the ring seq) plus this node's max term, which its own SYNC in the round already
 * carries (the own_in_flight rule in round_blocker() keeps that true): so all members of a round
 * decide the same leader and term. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "election.h"

struct Election {
        uint32_t my_nodeid;

        /* The current round: the member list of the last confchg, sorted, without duplicates
         * (members, owned), and per member the first SYNC delivered in this round (syncs and
         * synced, owned, same index). */
        bool in_round;
        uint32_t *members;
        ElectionSync *syncs;
        bool *synced;
        size_t n_members;

        /* The ring guard: set by a confchg naming a NODEDOWN/NODEUP member, met once a totem ring
         * newer than need_ring_above is seen. */
        bool need_ring;
        uint64_t need_ring_above;

        uint64_t totem_seq; /* the last totem ring, 0 before any */
        bool quorate;       /* the last quorum view */
        uint64_t quorum_seq;

        bool decided;
        uint32_t leader;
        uint64_t term;
        uint64_t decision_ring; /* the totem ring the decision was made in */

        /* The last decision, claimed in this node's SYNCs: survives the rounds (that is what makes
         * the leader sticky), forgotten when quorum is lost. */
        uint32_t claim_leader;
        uint64_t claim_term;

        uint64_t max_term; /* the highest term this node decided */

        /* This node's own SYNCs multicast and not delivered back yet: one is sent per confchg (the
         * glue's duty, see election.h), CPG delivers each back to the sender. */
        uint64_t own_in_flight;

        const char *waiting; /* a static string or waiting_buf */
        char waiting_buf[64];
};

int election_new(uint32_t my_nodeid, Election **ret) {
        Election *e;

        assert(ret);

        e = calloc(1, sizeof(Election));
        if (!e)
                return -ENOMEM;
        e->my_nodeid = my_nodeid;
        e->waiting = "waiting for the CPG membership";
        *ret = e;
        return 0;
}

Election *election_free(Election *e) {
        if (!e)
                return NULL;
        free(e->members);
        free(e->syncs);
        free(e->synced);
        free(e);
        return NULL;
}

static int cmp_nodeid(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return (x > y) - (x < y);
}

static uint64_t max_u64(uint64_t a, uint64_t b) {
        return a > b ? a : b;
}

static ssize_t member_index(const Election *e, uint32_t nodeid) {
        const uint32_t *p;

        if (e->n_members == 0)
                return -1;
        p = bsearch(&nodeid, e->members, e->n_members, sizeof(uint32_t), cmp_nodeid);
        return p ? p - e->members : -1;
}

static bool reason_needs_ring(uint32_t reason) {
        /* Only a process joining or leaving keeps the ring; NODEDOWN, NODEUP and anything unknown
         * come with a ring change. */
        return reason != ELECTION_REASON_JOIN && reason != ELECTION_REASON_LEAVE &&
               reason != ELECTION_REASON_PROCDOWN;
}

static uint64_t ring_term(uint64_t ring_seq) {
        /* Saturates instead of wrapping; real ring seqs are far below 2^44. */
        return ring_seq > (UINT64_MAX >> ELECTION_TERM_RING_SHIFT) ? UINT64_MAX
                                                                   : ring_seq << ELECTION_TERM_RING_SHIFT;
}

static void clear_decision(Election *e) {
        e->decided = false;
        e->leader = 0;
        e->term = 0;
        e->decision_ring = 0;
}

static const char *waiting_for_sync(Election *e, uint32_t nodeid) {
        snprintf(e->waiting_buf, sizeof(e->waiting_buf), "waiting for SYNC from node %" PRIu32, nodeid);
        return e->waiting_buf;
}

/* Why the current round may not decide yet, NULL when it may. */
static const char *round_blocker(Election *e) {
        if (!e->in_round)
                return "waiting for the CPG membership";
        if (member_index(e, e->my_nodeid) < 0)
                return "not a member of the CPG group";
        if (e->need_ring && e->totem_seq <= e->need_ring_above)
                return "waiting for a new totem ring";
        if (!e->quorate)
                return "not quorate";
        if (e->quorum_seq != e->totem_seq)
                return "quorum view of another ring";
        for (size_t i = 0; i < e->n_members; i++)
                if (!e->synced[i])
                        return waiting_for_sync(e, e->members[i]);
        /* Every member's first SYNC is in, but one of this node's own SYNCs is still in flight:
         * it was multicast while this node lagged behind CPG (several confchgs queued), and will
         * be delivered in a later configuration, where it counts as this node's first SYNC. It
         * carries this node's max term from before any decision made now; had we decided, that
         * later round would compute its term without ours: two leaders in one term, and this node
         * (adding its own max term) disagreeing with the others on the term. So this node sits out
         * this round; the others may decide, their SYNCs in later rounds carry their terms. */
        if (e->own_in_flight > 0)
                return waiting_for_sync(e, e->my_nodeid);
        return NULL;
}

static void decide(Election *e) {
        uint64_t max = max_u64(e->max_term, ring_term(e->totem_seq));
        uint32_t leader = 0;
        uint64_t leader_term = 0;

        for (size_t i = 0; i < e->n_members; i++) {
                const ElectionSync *s = &e->syncs[i];

                max = max_u64(max, max_u64(s->max_term, s->leader_term));

                /* Sticky: the most recently decided leader that is still here. Equal terms with
                 * different leaders cannot come from one cluster; should they, the lower nodeid
                 * wins, so every member still picks the same. */
                if (s->leader == 0 || member_index(e, s->leader) < 0)
                        continue;
                if (leader == 0 || s->leader_term > leader_term ||
                    (s->leader_term == leader_term && s->leader < leader)) {
                        leader = s->leader;
                        leader_term = s->leader_term;
                }
        }
        if (leader == 0)
                leader = e->members[0];

        e->decided = true;
        e->leader = leader;
        e->term = max == UINT64_MAX ? UINT64_MAX : max + 1; /* saturates, see ring_term() */
        e->decision_ring = e->totem_seq;
        e->claim_leader = leader;
        e->claim_term = e->term;
        e->max_term = max_u64(e->max_term, e->term);
}

/* After every event: decide when the round may, else record why not. */
static void election_update(Election *e) {
        const char *blocker;

        if (e->decided) {
                e->waiting = NULL;
                return;
        }
        blocker = round_blocker(e);
        if (blocker) {
                e->waiting = blocker;
                return;
        }
        decide(e);
        e->waiting = NULL;
}

typedef struct Decision {
        bool decided;
        uint32_t leader;
        uint64_t term;
} Decision;

static Decision decision_of(const Election *e) {
        return (Decision){.decided = e->decided, .leader = e->leader, .term = e->term};
}

static int decision_changed(const Election *e, Decision before) {
        return before.decided != e->decided || before.leader != e->leader || before.term != e->term;
}

int election_confchg(
        Election *e, const uint32_t *members, size_t n_members, const ElectionChange *left, size_t n_left,
        const ElectionChange *joined, size_t n_joined) {
        _cleanup_free_ uint32_t *m = NULL;
        _cleanup_free_ ElectionSync *syncs = NULL;
        _cleanup_free_ bool *synced = NULL;
        Decision before = decision_of(e);
        size_t n = 0;

        assert(e);
        assert(members || n_members == 0);
        assert(left || n_left == 0);
        assert(joined || n_joined == 0);

        /* Allocate everything first: on -ENOMEM the state is unchanged. */
        m = malloc((n_members + 1) * sizeof(uint32_t)); /* +1: no malloc(0) */
        syncs = calloc(n_members + 1, sizeof(ElectionSync));
        synced = calloc(n_members + 1, sizeof(bool));
        if (!m || !syncs || !synced)
                return -ENOMEM;

        /* Sorted, without duplicates, and without nodeid 0 (not a corosync nodeid; it means "no
         * leader" in a SYNC). */
        if (n_members > 0) {
                memcpy(m, members, n_members * sizeof(uint32_t));
                qsort(m, n_members, sizeof(uint32_t), cmp_nodeid);
        }
        for (size_t i = 0; i < n_members; i++)
                if (m[i] != 0 && (n == 0 || m[n - 1] != m[i]))
                        m[n++] = m[i];

        free(e->members);
        free(e->syncs);
        free(e->synced);
        e->members = TAKE_PTR(m);
        e->syncs = TAKE_PTR(syncs);
        e->synced = TAKE_PTR(synced);
        e->n_members = n;
        e->in_round = true;
        e->own_in_flight++; /* the glue multicasts our SYNC now */

        /* The ring guard. Its base is the totem ring seen just before this confchg: corosync delivers
         * the CPG confchg of a ring change before that ring's totem confchg, so only a totem after
         * this confchg proves the ring the member list comes from. (The ring of the last decision,
         * the header's wording, can be older than the last totem when a quorate ring went by
         * undecided, and would then let that stale ring and its stale quorate view pass.) A round of
         * JOIN/LEAVE/PROCDOWN only keeps a guard not met yet: its member list still derives from the
         * unseen ring. */
        for (size_t i = 0; i < n_left + n_joined; i++) {
                const ElectionChange *c = i < n_left ? &left[i] : &joined[i - n_left];
                if (reason_needs_ring(c->reason)) {
                        e->need_ring = true;
                        e->need_ring_above = e->totem_seq;
                        break;
                }
        }

        clear_decision(e);
        election_update(e);
        return decision_changed(e, before);
}

int election_totem(Election *e, uint64_t ring_seq) {
        Decision before = decision_of(e);

        assert(e);

        /* A newer ring alone does not clear a decision: its quorum notification does (below), and
         * a changed member list comes as a confchg. */
        e->totem_seq = ring_seq;
        election_update(e);
        return decision_changed(e, before);
}

int election_quorum(Election *e, bool quorate, uint64_t ring_seq) {
        Decision before = decision_of(e);

        assert(e);

        e->quorate = quorate;
        e->quorum_seq = ring_seq;
        /* A node that lost quorum vouches for no leader: when it comes back, the leader of the
         * side that kept quorum stays. */
        if (!quorate) {
                e->claim_leader = 0;
                e->claim_term = 0;
        }
        /* "Newer ring" read as any other ring: the decision then stands on a quorum view it was
         * not made with (votequorum does not go back, so in practice it is the newer one). */
        if (e->decided && (!quorate || ring_seq != e->decision_ring))
                clear_decision(e);
        election_update(e);
        return decision_changed(e, before);
}

int election_sync(Election *e, uint32_t sender, const ElectionSync *s) {
        Decision before = decision_of(e);
        ssize_t i;

        assert(e);
        assert(s);

        if (!e->in_round)
                return 0;
        /* Our own SYNC is back, even when it counts for nothing below. */
        if (sender == e->my_nodeid && e->own_in_flight > 0)
                e->own_in_flight--;
        i = member_index(e, sender);
        if (i >= 0 && !e->synced[i]) {
                e->syncs[i] = *s;
                e->synced[i] = true;
        }
        election_update(e);
        return decision_changed(e, before);
}

void election_my_sync(const Election *e, ElectionSync *ret) {
        assert(e);
        assert(ret);

        *ret = (ElectionSync){
                .leader = e->claim_leader,
                .leader_term = e->claim_leader != 0 ? e->claim_term : 0,
                .max_term = e->max_term,
        };
}

bool election_decided(const Election *e) {
        assert(e);
        return e->decided;
}

bool election_quorate(const Election *e) {
        assert(e);
        return e->quorate;
}

uint32_t election_leader(const Election *e) {
        assert(e);
        return e->decided ? e->leader : 0;
}

uint64_t election_term(const Election *e) {
        assert(e);
        return e->decided ? e->term : 0;
}

bool election_is_leader(const Election *e) {
        assert(e);
        return e->decided && e->leader == e->my_nodeid;
}

uint32_t election_my_nodeid(const Election *e) {
        assert(e);
        return e->my_nodeid;
}

const uint32_t *election_members(const Election *e, size_t *ret_n) {
        assert(e);
        assert(ret_n);
        *ret_n = e->n_members;
        return e->members;
}

bool election_is_member(const Election *e, uint32_t nodeid) {
        assert(e);
        return member_index(e, nodeid) >= 0;
}

bool election_order_ok(const Election *e, uint32_t sender, uint64_t term) {
        assert(e);
        return e->decided && e->quorate && term == e->term && sender == e->leader;
}

const char *election_waiting_for(const Election *e) {
        assert(e);
        return e->decided ? NULL : e->waiting;
}
