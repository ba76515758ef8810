#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl rollout for real (standalone): 3 hosts with 2 idle guests each; a rollout of every
# host whose command records the host and time, asserts that libvirt on that host lists no
# running domain, and "reboots" it (the testbed's power-off then power-on: its libvirtd stops
# and starts), and a health check that records it ran once the host was back. Every host done exactly once, in order, with zero VMs while its command ran;
# every guest runs exactly once at the end, consoles clean; the journal/history, status and
# the metrics show it. Failure cases are drsd-rollout-fail.sh and drsd-rollout-kill.sh.
set -uo pipefail
SUITE=drsd-rollout
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eroll}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.7}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/rollout.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollout.sh"

e2e_begin

section "guests: two idle 128 MiB guests on each host"
for h in h1 h2 h3; do
        start_guest "a$h" "$h" 128 idle || exit 1
        start_guest "b$h" "$h" 128 idle || exit 1
done
ok "6 guests"
write_config "balance:
  enabled: false
  interval: 10s
automation:
  level: full"
write_patch_script
# The health check: the host's libvirt answers; recorded as "HOST MS health".
cat >"$WORK/health.sh" <<SCRIPT
#!/usr/bin/env bash
virsh -q -c "\$("$TB" uri "\$1")" list >/dev/null 2>&1 || exit 1
echo "\$1 \$(date +%s%3N) health" >>"$WORK/patch.log"
SCRIPT
chmod +x "$WORK/health.sh"
drsd_start
ok "drsd started (PID $DRSD_PID)"
wait_until 60 "reports" all_reporting || fail "hosts do not report"

section "dry run: the order and the waves"
rc=0
ctl rollout start --all --dry-run --parallel auto | tee "$WORK/dry.txt" || rc=$?
((rc == 0)) && grep -q '^1 ' "$WORK/dry.txt" && ok "dry run (--parallel auto): exit 0, waves printed" || fail "dry run: exit $rc"
[[ "$(rollout_state)" == none ]] && ok "dry run started nothing" || fail "dry run started a rollout"

section "rollout of h1 h2 h3, one at a time"
t0="$(now_ms)"
ctl rollout start --all --parallel 1 --timeout 5m --command "$WORK/patch.sh {host}" --health "$WORK/health.sh {host}" &&
        ok "rollout started" || fail "rollout start failed"
rc=0
timeout 600 "$DRSCTL" --socket "$WORK/drsd.sock" rollout watch >"$WORK/watch.txt" 2>&1 || rc=$?
tail -n 8 "$WORK/watch.txt"
((rc == 0)) && ok "rollout watch: done (exit 0) after $((($(now_ms) - t0) / 1000)) s" || fail "rollout watch: exit $rc"
grep -q "evacuating" "$WORK/watch.txt" && grep -q "waiting for libvirt\|command running" "$WORK/watch.txt" &&
        ok "the progress view showed the steps" || fail "watch output lacks the steps"
cat "$WORK/patch.log"

section "every host exactly once, in order, with no VM during its command"
[[ "$(patched_hosts | tr '\n' ' ')" == "h1 h2 h3 " ]] && ok "commands ran on h1, h2, h3 in that order, once each" ||
        fail "commands ran on: $(patched_hosts | tr '\n' ' ')"
[[ "$(grep -c ' done$' "$WORK/patch.log")" == 3 ]] && ok "each host was rebooted (power-off, power-on)" || fail "reboots: $(grep -c ' done$' "$WORK/patch.log")"
check_zero_vms_during_commands
order="$(awk '{print $1 ($3 ~ /^running=/ ? ":cmd" : ":" $3)}' "$WORK/patch.log" | tr '\n' ' ')"
[[ "$order" == "h1:cmd h1:done h1:health h2:cmd h2:done h2:health h3:cmd h3:done h3:health " ]] &&
        ok "each host's health check ran once it was back, before the next host" || fail "order: $order"
for h in h1 h2 h3; do
        [[ "$(host_mode "$h")" == up ]] && ok "$h is up again" || fail "$h is $(host_mode "$h")"
done
[[ "$(rollout_field 'r["hosts_done"]')" == 3 ]] && ok "status: 3 of 3 hosts done" || fail "status: $(rollout_field 'r["hosts_done"]') done"
ctl rollout status

section "history and journal"
n="$(ctl history --json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["events"] if e.get("type") == "rollout" and e.get("result") == "host-done"))')"
[[ "$n" == 3 ]] && ok "history: 3 host-done rollout events" || fail "history: $n host-done events"
grep -q "MESSAGE_ID=957ee3c965fb438e84076e714558255a\|Rollout done" "$WORK/drsd.log" && ok "drsd logged the rollout" || fail "no rollout in drsd's log"

section "migrations (from drsd's history)"
print_migrations
section "guests"
check_guests
