#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl rollout survives a drsd SIGKILL (standalone): 3 hosts with a guest each; drsd is
# SIGKILLed while h2's command runs (the command holds until the test lets it go, then reboots
# h2 by itself). The restarted drsd reports h2 "unknown — check it" and pauses; resume waits
# for h2 to come back without running its command again and finishes: every host's command
# ran exactly once, in order.
set -uo pipefail
SUITE=drsd-rollout-kill
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eroll}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.7}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/rollout.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollout.sh"

e2e_begin

section "guests: one idle guest per host"
for h in h1 h2 h3; do
        start_guest "g$h" "$h" 128 idle || exit 1
done
write_config "balance:
  enabled: false
  interval: 10s
automation:
  level: full"
write_patch_script
touch "$WORK/hold-h2"
drsd_start
ok "drsd started (PID $DRSD_PID)"
wait_until 60 "reports" all_reporting || fail "hosts do not report"

section "rollout; drsd SIGKILLed while h2's command runs"
ctl rollout start --all --timeout 5m --command "$WORK/patch.sh {host}" && ok "rollout started" || fail "rollout start failed"
h2_running() { grep -q '^h2 .* running=' "$WORK/patch.log"; }
wait_until 300 "h2's command" h2_running && ok "h2's command runs" || fail "h2's command did not start"
grep -q '"command"' "$WORK/state/rollout.json" && ok "rollout.json says h2's command runs" || fail "rollout.json: $(cat "$WORK/state/rollout.json")"
kill -KILL "$DRSD_PID"
wait_until 10 "drsd gone" bash -c "! kill -0 $DRSD_PID" && ok "drsd SIGKILLed" || fail "drsd still alive"
DRSD_PID=""
rm -f "$WORK/hold-h2" # the orphaned command now reboots h2 by itself
h2_done() { grep -q '^h2 .* done$' "$WORK/patch.log"; }
wait_until 60 "h2 rebooted" h2_done && ok "the orphaned command rebooted h2" || fail "h2 was not rebooted"

section "restart: h2 unknown, paused"
rm -f "$WORK/drsd.sock"
drsd_start
ok "drsd restarted (PID $DRSD_PID)"
[[ "$(rollout_state)" == paused ]] && ok "the rollout is paused" || fail "rollout is $(rollout_state)"
[[ "$(host_step h2)" == unknown ]] && ok "h2 is unknown" || fail "h2 is $(host_step h2)"
ctl rollout status | tee "$WORK/status.txt"
grep -q "unknown — check it" "$WORK/status.txt" && ok "status: 'unknown — check it'" || fail "status does not say unknown"
[[ "$(host_mode h2)" == maintenance ]] && ok "h2 stays in maintenance" || fail "h2 is $(host_mode h2)"
[[ "$(host_mode h3)" == up && "$(host_step h3)" == pending ]] && ok "h3 untouched" || fail "h3: $(host_step h3)"

section "resume finishes without running h2's command again"
ctl rollout resume >/dev/null && ok "resume" || fail "resume failed"
rc=0
timeout 300 "$DRSCTL" --socket "$WORK/drsd.sock" rollout watch >"$WORK/watch.txt" 2>&1 || rc=$?
tail -n 6 "$WORK/watch.txt"
((rc == 0)) && ok "the rollout is done" || fail "watch exit $rc, state $(rollout_state)"
cat "$WORK/patch.log"
[[ "$(patched_hosts | tr '\n' ' ')" == "h1 h2 h3 " ]] && ok "commands ran on h1, h2, h3 once each" || fail "commands ran on: $(patched_hosts | tr '\n' ' ')"
check_zero_vms_during_commands
for h in h1 h2 h3; do
        [[ "$(host_mode "$h")" == up ]] && ok "$h is up" || fail "$h is $(host_mode "$h")"
done

section "guests"
check_guests
