#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cluster mode, a network partition: 3 hosts (corosync + drsd each), two CPU-burning guests on
# h2 and an idle one on h1, automation manual (nothing moves). Cut the leader's host's cable:
# that drsd loses quorum and leadership (recorded in its history) and starts nothing; the
# other two elect a leader among themselves. Automation goes to full on every drsd: the
# majority balances (one burner moves h2 → h3) while the cut host's history shows no
# migration started after the cut. Heal: the host rejoins, leadership stays where it is (no
# flapping). Every VM runs exactly once and every console is clean.
set -uo pipefail
SUITE=cluster-partition
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eclpa}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.11}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

COLLECT_INTERVAL=2s
e2e_begin

section "guests: i1 idle on h1; b1, b2 burning on h2"
start_guest i1 h1 128 idle || exit 1
start_guest b1 h2 128 burn || exit 1
start_guest b2 h2 128 burn || exit 1
ok "3 guests running"

policy() { # LEVEL
        printf 'balance:\n  interval: 5s\n  aggressiveness: 5\nautomation:\n  level: %s\n' "$1"
}
cl_write_configs "$(policy manual)"
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
if cl_await 30 h1 h2 h3; then
        a="$AGREED"
        ok "all three agree: $a"
else
        fail "no agreement within 30 s"
        exit 1
fi
cut="${a%/*}"
rest=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$cut" ]] && rest+=("$h"); done

section "cut the leader's host ($cut)"
t_cut_us=$(($(date +%s%N) / 1000))
t0="$(now_ms)"
"$TB" cut "$cut" >/dev/null || fail "testbed cut $cut"
majority_moved_on() {
        local b
        b="$(cl_agree "${rest[@]}")" || return 1
        [[ "${b%/*}" != "$cut" ]]
}
if wait_until 30 "majority leader" majority_moved_on; then
        b="$(cl_agree "${rest[@]}")"
        ok "${rest[*]} agree on ${b} after $((($(now_ms) - t0))) ms"
else
        fail "the majority did not agree on a leader within 30 s"
fi
minority_stopped() { [[ -z "$(cl_leader "$cut")" && "$(cl_status_field "$cut" "c.get('quorate')")" == False ]]; }
wait_until 30 "minority stops" minority_stopped && ok "$cut: no leader, not quorate" || fail "$cut still names leader '$(cl_leader "$cut")'"

section "automation full everywhere: the majority balances, the minority does not act"
policy full >"$WORK/policy.yaml"
for h in "${HOSTS[@]}"; do cl_ctl "$h" reload >/dev/null || fail "reload on $h"; done
spread() { (($(count_on h2) == 1 && $(count_on h3) == 1)); }
if wait_until 120 "a burner moves to h3" spread; then
        ok "one burner moved h2 → h3 under the majority's leader (after $WAITED s)"
else
        fail "no balancing within 120 s: h2 $(count_on h2), h3 $(count_on h3)"
fi
sleep 4
cl_ctl "$cut" history --json >"$WORK/minority.json" || fail "history of $cut"
python3 - "$WORK/minority.json" "$t_cut_us" "$cut" <<'PY' && ok "$cut's history: it lost quorum and started no migration after the cut" || fail "$cut's history: see above"
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
since = int(sys.argv[2])
after = [e for e in ev if e.get("time", 0) >= since]
started = [e for e in after if e.get("type") == "migration" and e.get("result") == "started"]
lost = [e for e in after if e.get("type") == "cluster" and e.get("result") == "no-leader"]
for e in after:
    print("  %s %s %s" % (e.get("type"), e.get("result"), e.get("message", "")))
sys.exit(0 if lost and not started else 1)
PY

section "heal $cut: it rejoins, leadership stays"
lead="$(cl_agree "${rest[@]}")"
"$TB" heal "$cut" >/dev/null || fail "testbed heal $cut"
if cl_await 40 h1 h2 h3; then
        c="$AGREED"
        [[ "${c%/*}" == "${lead%/*}" ]] && ok "all three agree on $c (the majority's leader ${lead%/*} kept)" || fail "leadership moved: $lead → $c"
else
        fail "no agreement within 40 s of the heal"
fi
sleep 6
c2="$(cl_agree h1 h2 h3)"
[[ "${c2%/*}" == "${lead%/*}" ]] && ok "still ${c2} 6 s later (no flapping)" || fail "leadership flapped: $c2"

section "the guests"
check_guests
