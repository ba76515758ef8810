#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl rollout's failure cases (standalone): host capacity limited by the policy's memory
# reserve (700 MiB per host) with a 1024 MiB guest on h2 that fits nowhere: the rollout does
# h1, then pauses before h2's command (h2 stays entering-maintenance, h3 untouched), the
# reason in status, history and journal. Then, after the operator aborted that one, a rollout
# whose command exits non-zero on h1 pauses with h1 left in maintenance and h2 untouched;
# resume (the cause fixed) finishes it.
set -uo pipefail
SUITE=drsd-rollout-fail
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eroll}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.7}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/rollout.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollout.sh"

e2e_begin

section "guests: i1 (h1), big 1024 MiB (h2), i3 (h3)"
start_guest i1 h1 128 idle || exit 1
start_guest big h2 1024 idle || exit 1
start_guest i3 h3 128 idle || exit 1
mem_kib="$(virsh -c "$("$TB" uri h1)" nodeinfo | awk '/Memory size/ {print $3}')"
total_kib="$(virsh -c "$("$TB" uri h1)" nodememstats | awk '$1 == "total" {print $3}')"
((${total_kib:-0} > mem_kib)) && mem_kib=$total_kib
reserve=$((mem_kib / 1024 - 700))
write_config "balance:
  enabled: false
  interval: 10s
limits:
  memory_reserve: ${reserve}MiB
automation:
  level: full"
write_patch_script
drsd_start
ok "drsd started (PID $DRSD_PID); capacity per host 700 MiB"
wait_until 60 "reports" all_reporting || fail "hosts do not report"

section "a guest that fits nowhere on the second host"
ctl rollout start --all --timeout 5m --command "$WORK/patch.sh {host}" && ok "rollout started" || fail "rollout start failed"
rc=0
timeout 600 "$DRSCTL" --socket "$WORK/drsd.sock" rollout watch >"$WORK/watch1.txt" 2>&1 || rc=$?
ctl rollout status | tee "$WORK/status1.txt"
((rc == 1)) && [[ "$(rollout_state)" == paused ]] && ok "the rollout paused (watch exit 1)" || fail "watch exit $rc, state $(rollout_state)"
grep -q "VM 'big' fits nowhere" "$WORK/status1.txt" && ok "status names 'big' and why" || fail "status does not name big"
[[ "$(patched_hosts | tr '\n' ' ')" == "h1 " ]] && ok "only h1's command ran" || fail "commands ran on: $(patched_hosts | tr '\n' ' ')"
[[ "$(host_step h1)" == done && "$(host_mode h1)" == up ]] && ok "h1 done and up" || fail "h1: $(host_step h1) $(host_mode h1)"
[[ "$(host_mode h2)" == entering-maintenance ]] && ok "h2 stays entering-maintenance" || fail "h2 is $(host_mode h2)"
[[ "$(host_step h3)" == pending && "$(host_mode h3)" == up ]] && ok "h3 untouched" || fail "h3: $(host_step h3) $(host_mode h3)"
[[ "$(where big)" == "h2|h2" ]] && ok "'big' still runs on h2" || fail "big: $(where big)"
ctl history --json | python3 -c 'import json,sys; sys.exit(not any(e.get("type") == "rollout" and e.get("result") == "paused" and "big" in e.get("message", "") for e in json.load(sys.stdin)["events"]))' &&
        ok "history: the pause with its reason" || fail "no pause in the history"
grep -q "Rollout paused: .*big" "$WORK/drsd.log" && ok "journal: the pause with its reason" || fail "no pause in drsd's log"
ctl rollout abort >/dev/null && [[ "$(rollout_state)" == aborted ]] && ok "abort" || fail "abort failed"
ctl exit-maintenance h2 >/dev/null && ok "h2 returned to service by hand" || fail "exit-maintenance h2"

section "a command that exits non-zero"
: >"$WORK/patch.log"
touch "$WORK/fail-h3"
ctl rollout start h3 h1 --timeout 5m --command "$WORK/patch.sh {host}" && ok "rollout of h3, h1 started" || fail "rollout start failed"
rc=0
timeout 300 "$DRSCTL" --socket "$WORK/drsd.sock" rollout watch >"$WORK/watch2.txt" 2>&1 || rc=$?
ctl rollout status | tee "$WORK/status2.txt"
((rc == 1)) && [[ "$(rollout_state)" == paused ]] && ok "paused" || fail "watch exit $rc, state $(rollout_state)"
grep -q "exited with status 3" "$WORK/status2.txt" && ok "status says the command exited with status 3" || fail "no exit status in status"
[[ "$(host_mode h3)" == maintenance ]] && ok "h3 stays in maintenance" || fail "h3 is $(host_mode h3)"
[[ "$(host_mode h1)" == up && "$(host_step h1)" == pending ]] && ok "h1 untouched" || fail "h1: $(host_step h1) $(host_mode h1)"
check_zero_vms_during_commands
rm -f "$WORK/fail-h3"
ctl rollout resume >/dev/null && ok "resume (the cause fixed)" || fail "resume failed"
rc=0
timeout 300 "$DRSCTL" --socket "$WORK/drsd.sock" rollout watch >"$WORK/watch3.txt" 2>&1 || rc=$?
((rc == 0)) && ok "the rollout finished after resume" || fail "watch exit $rc, state $(rollout_state)"
[[ "$(patched_hosts | tr '\n' ' ')" == "h3 h3 h1 " ]] && ok "commands: h3 (failed), h3 again, h1" || fail "commands ran on: $(patched_hosts | tr '\n' ' ')"
check_zero_vms_during_commands

section "guests"
# big fits nowhere once h2 is out, so it stayed on h2: the rollout never touched it.
check_guests
