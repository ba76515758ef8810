#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl rollout in cluster mode: 3 hosts, each with its corosync and drsd, one idle guest per
# host. The leader (L) runs the rollout and its commands; the order is the two other hosts
# (o1: the one that will lead next, o2) and then L. While o2 is rebooting (its command done,
# the rollout waiting for it to come back) L's drsd is SIGKILLed: o1 becomes leader, loads
# the state L multicast after every step, and continues — o2 back, then L's host (L's drsd
# restarted) — without redoing a host. Every host's command ran exactly once, in order, with
# zero VMs. Then a rollout of the (new) leader's own host: another drsd runs its command, the
# leader after it waits for that drsd's result: done without a pause. Every guest runs exactly
# once at the end, consoles clean.
set -uo pipefail
SUITE=cluster-rollout
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ecroll}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.8}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"
# shellcheck source=tests/e2e/lib/rollout.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollout.sh"

COLLECT_INTERVAL=2s
e2e_begin

section "guests: one idle guest per host"
for h in h1 h2 h3; do
        start_guest "g$h" "$h" 128 idle || exit 1
done
cl_write_configs "balance:
  enabled: false
  interval: 5s
automation:
  level: full"
write_patch_script
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
ok "3 drsds started"
if wait_until 30 "agreement" cl_agree h1 h2 h3; then
        a="$(cl_agree h1 h2 h3)"
        ok "leader/term $a"
else
        fail "no agreement"
        exit 1
fi
L="${a%/*}"
others=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$L" ]] && others+=("$h"); done
o1="${others[0]}" # the lowest node id left: the next leader
o2="${others[1]}"
ctl() { cl_ctl "$o1" "$@"; } # through a follower: forwarded to the leader
reporting_everywhere() {
        cl_ctl "$L" hosts --json | python3 -c 'import json,sys; sys.exit(not all(h["reported"] and not h["stale"] for h in json.load(sys.stdin)["hosts"]))'
}
wait_until 60 "reports" reporting_everywhere || fail "hosts do not report"

section "rollout $o1 $o2 $L, started on $o1 (forwarded to the leader $L)"
touch "$WORK/hold-return-$o2"
ctl rollout start "$o1" "$o2" "$L" --timeout 5m --command "$WORK/patch.sh {host}" && ok "rollout started" || fail "rollout start failed"
o2_returning() { [[ "$(host_step "$o2")" == returning ]]; }
wait_until 300 "$o2 rebooting" o2_returning && ok "$o1 done; $o2 rebooting (command done, waiting for it)" || fail "$o2 is $(host_step "$o2")"
# o2 is powered off (its corosync too): only o1 hears the leader now.
f="$(cl_dir "$o1")/state/rollout.json"
grep -q '"returning"' "$f" 2>/dev/null && ok "$o1's drsd keeps the leader's rollout state ($o2 returning)" ||
        fail "$o1: rollout.json $(head -c 300 "$f" 2>/dev/null)"

section "SIGKILL the leader's drsd ($L)"
cl_stop "$L" KILL
new_leader() { [[ "$(cl_leader "$o1")" == "$o1" ]]; }
wait_until 60 "new leader" new_leader && ok "$o1 leads after ${WAITED} s" || fail "leader: $(cl_leader "$o1")"
rm -f "$WORK/hold-return-$o2" # o2 powers on
cl_start "$L" && ok "$L's drsd restarted (its VMs need it to migrate)" || fail "$L's drsd did not start"

section "the new leader continues"
rc=0
timeout 600 "$DRSCTL" --socket "$(cl_dir "$o1")/drsd.sock" rollout watch >"$WORK/watch.txt" 2>&1 || rc=$?
tail -n 7 "$WORK/watch.txt"
((rc == 0)) && ok "rollout done under $o1" || fail "watch exit $rc, state $(rollout_state)"
cat "$WORK/patch.log"
[[ "$(patched_hosts | tr '\n' ' ')" == "$o1 $o2 $L " ]] && ok "commands ran on $o1, $o2, $L once each, in order" ||
        fail "commands ran on: $(patched_hosts | tr '\n' ' ')"
[[ "$(grep -c ' done$' "$WORK/patch.log")" == 3 ]] && ok "each host rebooted once" || fail "reboots: $(grep -c ' done$' "$WORK/patch.log")"
check_zero_vms_during_commands
grep -q "Rollout loaded" "$(cl_dir "$o1")/drsd.log" && ok "$o1 loaded the rollout when it started leading" || fail "no load on $o1"
for h in "${HOSTS[@]}"; do
        python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["state"] != "done")' "$(cl_dir "$h")/state/rollout.json" 2>/dev/null &&
                ok "$h's drsd keeps the finished rollout" || fail "$h's rollout.json is not 'done'"
done
# A host that just rejoined may refuse the leader's order until its election settles: the
# leader orders again when its next report still shows the old mode.
for h in "${HOSTS[@]}"; do
        # As the host's own drsd has it (the leader shows an order as done until it expires).
        is_up() { [[ "$(cl_ctl "$1" hosts --json | python3 -c "import json,sys; print([h['state'] for h in json.load(sys.stdin)['hosts'] if h['name'] == '$1'][0])")" == up ]]; }
        wait_until 30 "$h up" is_up "$h" && ok "$h is up, says its own drsd (after ${WAITED} s)" ||
                fail "$h is $(host_mode "$h")"
done

section "a rollout of the leader's own host ($o1): another drsd runs its command"
: >"$WORK/patch.log"
cl_ctl "$o2" rollout start "$o1" --timeout 5m --command "$WORK/patch.sh {host}" && ok "rollout of $o1 started" ||
        fail "rollout start failed"
rc=0
timeout 600 "$DRSCTL" --socket "$(cl_dir "$o2")/drsd.sock" rollout watch >"$WORK/watch2.txt" 2>&1 || rc=$?
tail -n 5 "$WORK/watch2.txt"
((rc == 0)) && ok "done without a pause, although the leader's host rebooted" || fail "watch exit $rc"
cat "$WORK/patch.log"
[[ "$(patched_hosts | tr '\n' ' ')" == "$o1 " && "$(grep -c ' done$' "$WORK/patch.log")" == 1 ]] &&
        ok "$o1's command ran once" || fail "commands: $(patched_hosts | tr '\n' ' ')"
check_zero_vms_during_commands
grep -q "Rollout: running for '$o1' (for the leader)" "$(cl_dir "$L")/drsd.log" "$(cl_dir "$o2")/drsd.log" &&
        ok "another drsd ran it for the leader" || fail "no drsd ran it for the leader"
grep -q "waiting for its result" "$(cl_dir "$L")/drsd.log" "$(cl_dir "$o2")/drsd.log" &&
        ok "the next leader waited for that drsd's result" || fail "no new leader waited for the result"
new="$(cl_leader "$o2")"
[[ -n "$new" && "$new" != "$o1" ]] && ok "leadership moved to $new while $o1 rebooted" || fail "leader: '$new'"
# A host that just rejoined may refuse the leader's order until its election settles: the
# leader orders again when its next report still shows the old mode.
for h in "${HOSTS[@]}"; do
        # As the host's own drsd has it (the leader shows an order as done until it expires).
        is_up() { [[ "$(cl_ctl "$1" hosts --json | python3 -c "import json,sys; print([h['state'] for h in json.load(sys.stdin)['hosts'] if h['name'] == '$1'][0])")" == up ]]; }
        wait_until 30 "$h up" is_up "$h" && ok "$h is up, says its own drsd (after ${WAITED} s)" ||
                fail "$h is $(host_mode "$h")"
done

section "guests"
check_guests
