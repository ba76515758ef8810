#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# DPM in cluster mode: 3 hosts (corosync + drsd each), one idle guest per host, a DPM band of
# 10–30 %, min_hosts_on 1 and no headroom host: capacity alone would let DPM power off two of
# the three. Low load → the leader empties one host and orders that host's own drsd to power it
# off; that drsd announces standby and runs its power_off command (`scripts/testbed power-off`,
# its libvirtd and corosync stop). Quorum (votequorum: 3 votes expected, 2 needed) keeps the
# other two on: the leader says DPM is held back by quorum and powers off no second host. Two CPU-burning guests → the leader runs power_on for that host, waits
# for its drsd to report a fresh libvirt sample, and orders it back up. Every drsd agrees on
# the host's mode at each step; every VM runs exactly once, consoles clean.
set -uo pipefail
SUITE=cluster-dpm
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ecldpm}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.13}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

COLLECT_INTERVAL=2s
e2e_begin

section "guests: one idle guest per host"
start_guest i1 h1 128 idle || exit 1
start_guest i2 h2 128 idle || exit 1
start_guest i3 h3 128 idle || exit 1
ok "3 idle guests"

cmd="DRS_TESTBED_NAME=$DRS_TESTBED_NAME DRS_TESTBED_NET=$DRS_TESTBED_NET $TB"
cl_write_configs "balance:
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
  headroom_hosts: 0
  standby_delay: 10s
  power_on_delay: 10s
  power_off: \"$cmd power-off {host}\"
  power_on: \"$cmd power-on {host}\""
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
cl_await 30 h1 h2 h3 && ok "all three agree: $AGREED" || {
        fail "no agreement"
        exit 1
}
leader="${AGREED%/*}"

mode_of() { cl_status_field "$1" "[x['state'] for x in s['hosts'] if x['name']=='$2'][0]"; }
standby_host() {
        local h
        for h in "${HOSTS[@]}"; do
                [[ "$(mode_of "$leader" "$h")" == standby ]] && echo "$h" && return 0
        done
        return 1
}
section "low load: one host emptied and powered off by its own drsd"
t0="$(now_ms)"
if wait_until 150 "standby" standby_host; then
        off="$(standby_host)"
        ok "$off in standby after $((($(now_ms) - t0) / 1000)) s (leader $leader)"
else
        fail "no host went to standby within 150 s"
        cl_ctl "$leader" status
        exit 1
fi
(($(count_on "$off") == 0)) 2>/dev/null && ok "$off runs no guest" || fail "$off still runs guests"
if ! virsh -q -c "$("$TB" uri "$off")" list >/dev/null 2>&1; then
        ok "$off's libvirtd is stopped (its power_off command ran)"
else
        fail "$off's libvirtd still answers"
fi
agree_standby() {
        local h
        for h in "${HOSTS[@]}"; do [[ "$(mode_of "$h" "$off")" == standby ]] || return 1; done
}
wait_until 10 "all see standby" agree_standby && ok "every drsd sees $off in standby" || fail "not every drsd sees $off in standby"
power_history() {
        cl_ctl "$off" history --json | python3 -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["events"] if e.get("type") == "power"]
if len(sys.argv) > 1:
    for e in ev:
        print("  %-4s %-9s %-10s %6d ms  %s" % (e.get("source"), e.get("reason"), e.get("result"), e.get("duration_ms", 0), e.get("message", "")))
sys.exit(0 if any(e.get("reason") == "standby" and e.get("result") == "completed" for e in ev) else 1)' "$@"
}
# The command also stops the host's corosync, which can take a few seconds after libvirtd is gone.
wait_until 60 "power-off completed" power_history
power_history show &&
        ok "$off's own drsd ran its power-off command (its history)" || fail "no completed power-off in $off's history"

section "quorum: no second host powered off"
up=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$off" ]] && up+=("$h"); done
# The leader may have changed (the host powered off may have been the leader).
cur_leader() { local a; a="$(cl_agree "${up[@]}")" && echo "${a%/*}"; }
quorum_holds_dpm() {
        local l
        l="$(cur_leader)" || return 1
        [[ "$(cl_status_field "$l" "c.get('votequorum',{}).get('dpm_limited')")" == True ]]
}
if wait_until 120 "DPM held back by quorum" quorum_holds_dpm; then
        l="$(cur_leader)"
        ok "the leader ($l) holds DPM back for quorum: $(cl_status_field "$l" "c['votequorum']")"
        cl_ctl "$l" status | grep -E '^(Quorum|DPM):' | sed 's/^/  /'
        cl_ctl "$l" status | grep -q '^DPM: standby held back by quorum' && ok "drsctl status says so" ||
                fail "drsctl status does not say that quorum holds DPM back"
        cl_ctl "$l" plan | grep -q '^dpm: standby limited by quorum' && ok "drsctl plan says so" ||
                fail "drsctl plan does not say that quorum limits DPM"
        grep -q 'DPM: no more hosts to standby: quorum' "$(cl_dir "$l")/drsd.log" &&
                ok "the leader's journal says so" || fail "no quorum message in $l's log"
else
        fail "the leader never said that quorum holds DPM back"
        cl_ctl "${up[0]}" status
fi
n_standby=0
for h in "${HOSTS[@]}"; do [[ "$(mode_of "${up[0]}" "$h")" == standby ]] && n_standby=$((n_standby + 1)); done
((n_standby == 1)) && ok "one host in standby, two on (quorum kept)" || fail "$n_standby hosts in standby"
for h in "${up[@]}"; do
        virsh -q -c "$("$TB" uri "$h")" version >/dev/null 2>&1 && ok "$h's libvirtd answers" ||
                fail "$h's libvirtd does not answer (powered off?)"
done

section "every other drsd restarted: the standby host is remembered"
# The powered-off host cannot announce its standby to drsds that start now: each drsd keeps
# the modes its peers announced (hosts.json), or DPM could never power that host on again.
for h in "${up[@]}"; do cl_stop "$h"; done
for h in "${up[@]}"; do cl_start "$h" || exit 1; done
cl_await 60 "${up[@]}" && ok "${up[*]} restarted and agree: $AGREED" ||
        fail "no agreement after the restart"
all_standby() {
        local h
        for h in "${up[@]}"; do [[ "$(mode_of "$h" "$off")" == standby ]] || return 1; done
}
all_standby && ok "both restarted drsds still see $off in standby" ||
        fail "$off not in standby after the restart (${up[0]}: '$(mode_of "${up[0]}" "$off")', ${up[1]}: '$(mode_of "${up[1]}" "$off")')"

section "raising load: two burning guests → power-on"
start_guest b1 "${up[0]}" 128 burn || exit 1
start_guest b2 "${up[1]}" 128 burn || exit 1
ok "b1 on ${up[0]}, b2 on ${up[1]}"
t1="$(now_ms)"
host_up() {
        local l
        l="$(cur_leader)" || return 1
        [[ "$(mode_of "$l" "$off")" == up && "$(mode_of "$off" "$off")" == up ]]
}
if wait_until 180 "power-on" host_up; then
        ok "$off powered on, reporting and up (on the leader and on itself) after $((($(now_ms) - t1) / 1000)) s"
else
        fail "$off not up within 180 s (leader sees '$(mode_of "$leader" "$off")', itself '$(mode_of "$off" "$off")')"
fi
virsh -q -c "$("$TB" uri "$off")" version >/dev/null 2>&1 && ok "$off's libvirtd answers" || fail "$off's libvirtd does not answer"
leader="$(cur_leader)"
cl_ctl "$leader" history --json | python3 -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["events"] if e.get("type") == "power"]
for e in ev:
    print("  %-4s %-9s %-12s %6d ms  %s" % (e.get("source"), e.get("reason"), e.get("result"), e.get("duration_ms", 0), e.get("message", "")))
sys.exit(0 if any(e.get("reason") == "power_on" and e.get("result") == "completed" for e in ev) else 1)' &&
        ok "the leader ran the power-on and saw $off answer (its history)" || fail "no completed power-on in the leader's history"

section "guests"
check_guests
