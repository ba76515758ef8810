#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cluster mode on 3 hosts, each with its own corosync and drsd: every drsd agrees on one leader;
# SIGKILL of the leader's drsd while idle → the other two agree on a new leader within 2 report
# intervals; the killed drsd comes back and leadership does not move back (sticky); `drsctl
# evacuate` on a non-leader host is forwarded to the leader and empties the host; every drsd
# restarted → the maintenance state survives; exit-maintenance from yet another host. Every VM
# runs exactly once and every console is clean at the end.
set -uo pipefail
SUITE=cluster-failover
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eclfo}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.10}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

INTERVAL_S=2
COLLECT_INTERVAL="${INTERVAL_S}s"
CL_REPLY_PIECE=64 # replies relayed from the leader travel in many CPG messages
e2e_begin

section "guests: g1, g2 on h1; g3 on h2 (128 MiB, idle)"
start_guest g1 h1 128 idle || exit 1
start_guest g2 h1 128 idle || exit 1
start_guest g3 h2 128 idle || exit 1
ok "3 guests running"

cl_write_configs "balance:
  enabled: false
  interval: 5s
automation:
  level: full"

section "one drsd per host, in its namespace"
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
ok "3 drsds started (PIDs ${CL_PID[h1]} ${CL_PID[h2]} ${CL_PID[h3]})"
if cl_await 30 h1 h2 h3; then
        a="$AGREED"
        ok "all three agree: leader/term $a (after ${WAITED} s)"
else
        fail "no agreement within 30 s: $(for h in "${HOSTS[@]}"; do printf '%s→%s/%s ' "$h" "$(cl_leader "$h")" "$(cl_term "$h")"; done)"
        exit 1
fi
leader="${a%/*}"
term1="${a#*/}"
cl_ctl h1 status | head -4

section "SIGKILL the leader's drsd ($leader) while idle"
others=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$leader" ]] && others+=("$h"); done
t0="$(now_ms)"
cl_stop "$leader" KILL
if cl_await 20 "${others[@]}"; then
        b="$AGREED"
        dt=$(($(now_ms) - t0))
        new="${b%/*}"
        term2="${b#*/}"
        if [[ "$new" != "$leader" ]] && ((term2 > term1)) && ((dt <= 2 * INTERVAL_S * 1000 + 1000)); then
                ok "new leader $new, term $term2 > $term1, agreed by ${others[*]} in $dt ms (≤ 2 intervals after corosync noticed)"
        else
                fail "after the kill: leader $new term $term2 (was $leader/$term1), in $dt ms"
        fi
else
        fail "the survivors did not agree on a new leader within 20 s"
        exit 1
fi

section "the killed drsd comes back: leadership stays with $new"
cl_start "$leader" || exit 1
if cl_await 20 h1 h2 h3; then
        c="$AGREED"
        [[ "${c%/*}" == "$new" ]] && ok "all three agree on $c (no move back to $leader)" || fail "leadership moved: $c"
else
        fail "no agreement after the restart"
fi
sleep 3
c2="$(cl_agree h1 h2 h3)"
[[ "$c2" == "$c" ]] && ok "still $c2 3 s later (no flapping)" || fail "leadership changed again: $c → $c2"

section "drsctl plan on a non-leader: the leader's reply relayed in 64-byte pieces"
other="$(for h in "${HOSTS[@]}"; do [[ "$h" != "$new" ]] && echo "$h"; done | head -1)"
rc=0
cl_ctl "$other" plan --json >"$WORK/plan-relayed.json" 2>&1 || rc=$?
cl_ctl "$new" plan --json >"$WORK/plan-leader.json" 2>&1 || true
if ((rc == 0)) && python3 - "$WORK/plan-relayed.json" "$WORK/plan-leader.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
size = len(json.dumps(a))
print("  relayed plan: %d bytes of JSON (≥ %d pieces), keys %s" % (size, (size + 63) // 64, sorted(a)))
sys.exit(0 if size > 256 and sorted(a) == sorted(b) and "plan" in a else 1)
PY
then
        ok "the relayed plan (from $other) is whole, valid JSON with the leader's keys"
else
        fail "drsctl plan on $other: exit $rc or a broken reply"
        head -c 600 "$WORK/plan-relayed.json"
fi

section "evacuate h1 from a non-leader host"
via=""
for h in "${HOSTS[@]}"; do [[ "$h" != "$new" && "$h" != h1 ]] && via="$h"; done
[[ -n "$via" ]] || via="$(for h in "${HOSTS[@]}"; do [[ "$h" != "$new" ]] && echo "$h"; done | head -1)"
t0="$(now_ms)"
rc=0
cl_ctl "$via" evacuate h1 >"$WORK/evac.txt" 2>&1 || rc=$?
cat "$WORK/evac.txt"
((rc == 0)) && ok "drsctl evacuate h1 on $via (not the leader): exit 0" || fail "evacuate via $via: exit $rc"
h1_maint() { [[ "$(cl_status_field "$via" "[x['state'] for x in s['hosts'] if x['name']=='h1'][0]")" == maintenance ]]; }
if wait_until 120 "h1 maintenance" h1_maint; then
        ok "h1 in maintenance after $((($(now_ms) - t0) / 1000)) s; $(count_on h1) guest(s) left on h1"
else
        fail "h1 not in maintenance within 120 s ($(count_on h1) guests left)"
fi
(($(count_on h1) == 0)) && ok "h1 runs no guest" || fail "h1 still runs $(count_on h1) guest(s)"
for h in "${HOSTS[@]}"; do
        st="$(cl_status_field "$h" "[x['state'] for x in s['hosts'] if x['name']=='h1'][0]")"
        [[ "$st" == maintenance ]] && ok "$h's drsd sees h1 $st" || fail "$h's drsd sees h1 '$st'"
done

section "restart every drsd: the maintenance state survives"
for h in "${HOSTS[@]}"; do cl_stop "$h"; done
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
cl_await 30 h1 h2 h3 && ok "agreement again: $AGREED" || fail "no agreement after restarting all"
sleep $((INTERVAL_S * 2))
for h in "${HOSTS[@]}"; do
        st="$(cl_status_field "$h" "[x['state'] for x in s['hosts'] if x['name']=='h1'][0]")"
        [[ "$st" == maintenance ]] && ok "$h's drsd sees h1 $st after the restart" || fail "$h's drsd sees h1 '$st' after the restart"
done

section "exit-maintenance, asked on h1 itself"
rc=0
cl_ctl h1 exit-maintenance h1 || rc=$?
((rc == 0)) && ok "exit-maintenance h1: exit 0" || fail "exit-maintenance: exit $rc"
h1_up() { [[ "$(cl_status_field h2 "[x['state'] for x in s['hosts'] if x['name']=='h1'][0]")" == up ]]; }
wait_until 20 "h1 up" h1_up && ok "h2's drsd sees h1 up" || fail "h1 not up on h2's view"

section "the guests"
check_guests
echo "history of h1's drsd (migrations it ran):"
DRSCTL_SOCKET="$(cl_dir h1)/drsd.sock"
ctl() { cl_ctl h1 "$@"; }
print_migrations
