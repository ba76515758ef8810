#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# DPM for real: 3 testbed hosts with one idle guest each and a DPM band of 10–30 % (one
# host's worth of headroom). Low load → drsd empties one host and runs its power-off command
# (`scripts/testbed power-off HOST`: that host's libvirtd stops), the host is standby. Then
# two CPU-burning guests start (about 2 of the 4 powered cores: above the band) → drsd runs the
# power-on command (`scripts/testbed power-on HOST`), waits for that libvirt to answer, and
# the host is up again; with balancing switched on (a reload) it receives VMs. Every step is
# checked from drsd's history and from libvirt itself. Prints the power actions with their
# durations.
set -uo pipefail
SUITE=drsd-dpm
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2edpm}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.3}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"

e2e_begin

section "guests: one idle guest per host"
start_guest i1 h1 128 idle || exit 1
start_guest i2 h2 128 idle || exit 1
start_guest i3 h3 128 idle || exit 1
ok "3 idle guests"

cmd="DRS_TESTBED_NAME=$DRS_TESTBED_NAME DRS_TESTBED_NET=$DRS_TESTBED_NET $TB"
# A power model on every host: power events in the history carry the draw at stake.
host_extra() { echo "    power: {idle_watts: 80, max_watts: 200}"; }
write_config "balance:
  enabled: false
  interval: 10s
  cooldown: 1m
limits:
  memory_reserve: 256MiB
automation:
  level: full
dpm:
  enabled: true
  target_utilization: {low: 10%, high: 30%}
  min_hosts_on: 1
  headroom_hosts: 1
  standby_delay: 10s
  power_on_delay: 20s
  power_off: \"$cmd power-off {host}\"
  power_on: \"$cmd power-on {host}\""
drsd_start
ok "drsd started (PID $DRSD_PID)"

standby_host() {
        ctl hosts --json | python3 -c '
import json, sys
s = [h["name"] for h in json.load(sys.stdin)["hosts"] if h["state"] == "standby"]
print(s[0] if s else "")
sys.exit(0 if s else 1)'
}
section "low load: one host emptied and powered off"
t0="$(now_ms)"
if wait_until 120 "standby" standby_host; then
        off="$(standby_host)"
        ok "$off in standby after $((($(now_ms) - t0) / 1000)) s"
        # Standby is set when the power-off command starts: it may still be running.
        libvirtd_off() { ! virsh -q -c "$("$TB" uri "$off")" list >/dev/null 2>&1; }
        if wait_until 60 "libvirtd off" libvirtd_off; then
                ok "$off's libvirtd does not answer (after $WAITED s more)"
        else
                fail "$off's libvirtd still answers"
        fi
else
        fail "no host went to standby within 120 s"
        ctl status
        exit 1
fi
# history_count TYPE FIELD=VALUE…: how many history events of TYPE match every FIELD=VALUE.
history_count() {
        ctl history --json | python3 -c '
import json, sys
t, conds = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
print(sum(1 for e in json.load(sys.stdin)["events"]
          if e.get("type") == t and all(str(e.get(k)) == v for k, v in conds)))' "$@"
}
n="$(history_count migration source="$off" reason=dpm result=completed)"
if ((n >= 1)) && [[ "$(history_count migration source="$off" result=failed)" == 0 ]]; then
        ok "$off emptied first: $n DPM migration(s) off it completed, none failed"
else
        fail "$off went to standby without its guests being migrated off it ($n DPM migrations)"
fi
poweroff_done() { [[ "$(history_count power source="$off" reason=standby result=completed)" == 1 ]]; }
if wait_until 60 "power-off done" poweroff_done; then
        ok "$off's power-off command ran and succeeded"
else
        fail "no completed power-off of $off in the history"
fi
# The statistic standby was judged on: status names it (percentile, passes, window).
sd="$(ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["cluster"].get("dpm_standby_demand")
print("%d %d %.2f %s" % (d["samples"], d["window_s"], d["cpu"], d["percentile"]) if d else "")')"
read -r sd_n sd_w sd_cpu sd_p <<<"$sd"
if [[ -n "$sd" ]] && ((sd_n >= 1)) && [[ "$sd_p" == 0.95 ]] && ctl status | grep -q "standby judged on demand at the 95th percentile"; then
        ok "status: standby judged on the 95th percentile of $sd_n pass(es) over $sd_w s ($sd_cpu cores)"
else
        fail "status does not name DPM's standby statistic ('$sd')"
fi
ctl status

section "raising load: two burning guests"
up=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$off" ]] && up+=("$h"); done
# Two burners on one host and one on the other: once the third host is on, moving one of the
# pair there is clearly the best move (with one burner per host no move would gain much — a CI
# run once waited 90 s for a move whose gain was below min_gain).
t1="$(now_ms)" # before the first burner: demand cannot be above the band earlier
start_guest b1 "${up[0]}" 128 burn || exit 1
start_guest b3 "${up[0]}" 128 burn || exit 1
start_guest b2 "${up[1]}" 128 burn || exit 1
ok "b1 and b3 on ${up[0]}, b2 on ${up[1]}"
held() { ctl status --json | grep -q "DPM power-on held"; }
if wait_until 40 "held" held; then
        ok "drsctl status says the power-on is held (dpm.power_on_delay) $((($(now_ms) - t1) / 1000)) s after the load rose"
else
        fail "drsctl status never said the power-on was held"
fi
host_up() { ctl hosts --json | python3 -c '
import json, sys
h = [h for h in json.load(sys.stdin)["hosts"] if h["name"] == "'"$off"'"][0]
sys.exit(0 if h["state"] == "up" and not h["stale"] else 1)'; }
if wait_until 150 "power-on" host_up; then
        ok "$off powered on and answering after $((($(now_ms) - t1) / 1000)) s"
else
        fail "$off not powered on within 150 s"
        ctl hosts --json
fi
if [[ "$(history_count power source="$off" reason=power_on result=completed)" == 1 ]]; then
        ok "$off's power-on command ran and drsd saw its libvirt answer"
else
        fail "no completed power-on of $off in the history"
fi
# Hysteresis: one power-on, and not before demand had been above the band for
# dpm.power_on_delay (20 s) — the burners started at t1, so never earlier than t1 + 20 s.
ctl history --json | python3 -c '
import json, sys
off, t1 = sys.argv[1], int(sys.argv[2])
on = [e for e in json.load(sys.stdin)["events"]
      if e.get("type") == "power" and e.get("source") == off and e.get("reason") == "power_on" and e.get("result") == "started"]
if len(on) != 1:
    print("power-on started %d times" % len(on)); sys.exit(1)
d = on[0]["time"] // 1000 - t1
print("power-on started %.1f s after the first burner was started" % (d / 1000.0))
sys.exit(0 if d >= 20000 else 1)' "$off" "$t1" &&
        ok "one power-on, held for dpm.power_on_delay (20 s) after the load rose" ||
        fail "power-on not held for dpm.power_on_delay, or more than one"
if virsh -q -c "$("$TB" uri "$off")" version >/dev/null 2>&1; then
        ok "$off's libvirtd answers (virsh)"
else
        fail "$off's libvirtd does not answer"
fi
ctl status

section "balancing on: the powered-on host receives VMs"
write_config "balance:
  enabled: true
  interval: 10s
  cooldown: 1m
limits:
  memory_reserve: 256MiB
automation:
  level: full
dpm:
  enabled: true
  target_utilization: {low: 10%, high: 30%}
  min_hosts_on: 1
  headroom_hosts: 1
  standby_delay: 10s
  power_on_delay: 20s
  power_off: \"$cmd power-off {host}\"
  power_on: \"$cmd power-on {host}\""
ctl reload >/dev/null || fail "drsctl reload"
t2="$(now_ms)"
off_runs_vms() { (($(count_on "$off") > 0)); }
if wait_until 90 "a VM on $off" off_runs_vms; then
        ok "$off runs $(count_on "$off") VM(s) $((($(now_ms) - t2) / 1000)) s after balancing was switched on: $(running_on "$off" | tr '\n' ' ')"
else
        fail "$off received no VM within 90 s"
fi
ctl status

section "power actions (from drsd's history)"
ctl history --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("type") == "power":
        print("  %-4s %-9s %-12s %6d ms  %s" % (e.get("source"), e.get("reason"), e.get("result"), e.get("duration_ms", 0), e.get("message", "")))'
print_migrations
# The standby's event says what the host drew (idle: 80 W by its model), the power-on's what
# it will draw at least (80 W idle).
w="$(ctl history --json | python3 -c '
import json, sys
print(" ".join("%s=%s" % (e.get("reason"), e.get("watts")) for e in json.load(sys.stdin)["events"]
               if e.get("type") == "power" and e.get("result") == "started"))')"
if [[ "$w" == *"standby=80"* && "$w" == *"power_on=80"* ]]; then
        ok "power events carry the draw at stake: $w"
else
        fail "power events without their watts: '$w'"
fi
section "guests"
check_guests
