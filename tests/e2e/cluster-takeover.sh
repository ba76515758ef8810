#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cluster mode, leader takeover mid-evacuation: 3 hosts (corosync + drsd each). Four idle
# guests on a non-leader host X; `drsctl evacuate X` asked on the third host (forwarded to the
# leader). As soon as X's drsd runs the first migration, the leader's corosync is SIGKILLed.
# The other two elect a new leader, which learns from X's reports which VM is migrating (no
# second migration of it: X's history shows no refused or overlapping order) and finishes the
# evacuation; X ends in maintenance. Every VM runs exactly once, every console is clean.
set -uo pipefail
SUITE=cluster-takeover
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ecltk}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.12}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

COLLECT_INTERVAL=2s
CL_METRICS=1
e2e_begin

cl_write_configs "balance:
  enabled: false
  interval: 5s
automation:
  level: full"
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
if cl_await 30 h1 h2 h3; then
        a="$AGREED"
        ok "all three agree: $a"
else
        fail "no agreement within 30 s"
        exit 1
fi
L="${a%/*}"
others=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$L" ]] && others+=("$h"); done
X="${others[1]}"
T="${others[0]}"
echo "leader $L, evacuating $X, asking on $T"

section "guests: v1..v4 (128 MiB, idle) on $X"
for g in v1 v2 v3 v4; do start_guest "$g" "$X" 128 idle || exit 1; done
ok "4 guests on $X"
sleep 5 # a report or two with the guests in it

section "evacuate $X (asked on $T), then SIGKILL the leader's corosync mid-evacuation"
t0="$(now_ms)"
rc=0
cl_ctl "$T" evacuate "$X" >/dev/null 2>&1 || rc=$?
((rc == 0)) && ok "evacuate $X via $T: exit 0" || fail "evacuate: exit $rc"
running() { (($(cl_status_field "$X" "s['cluster']['migrations_running']") >= 1)); }
if wait_until 30 "first migration" running; then
        ok "$X's drsd runs a migration ($((($(now_ms) - t0))) ms after the request)"
else
        fail "no migration started on $X within 30 s"
fi
cpid="$(cl_corosync_pid "$L")"
if [[ -n "$cpid" && "$(readlink "/proc/$cpid/exe")" == */corosync ]]; then
        kill -KILL "$cpid" && ok "SIGKILLed $L's corosync (PID $cpid) with $(count_on "$X") guest(s) still on $X"
else
        fail "no corosync PID recorded for $L"
fi
t1="$(now_ms)"
new_leader() {
        local b
        b="$(cl_agree "${others[@]}")" || return 1
        [[ "${b%/*}" != "$L" ]]
}
if wait_until 30 "new leader" new_leader; then
        ok "${others[*]} agree on $(cl_agree "${others[@]}") $((($(now_ms) - t1))) ms after the kill"
else
        fail "no new leader within 30 s"
fi
x_maint() { [[ "$(cl_status_field "$T" "[x['state'] for x in s['hosts'] if x['name']=='$X'][0]")" == maintenance ]]; }
if wait_until 180 "$X maintenance" x_maint; then
        ok "$X in maintenance $((($(now_ms) - t0) / 1000)) s after the request"
else
        fail "$X not in maintenance within 180 s ($(count_on "$X") guests left)"
fi
(($(count_on "$X") == 0)) && ok "$X runs no guest" || fail "$X still runs $(count_on "$X") guest(s)"
[[ -z "$(cl_leader "$L")" ]] && ok "$L's drsd (corosync gone) names no leader" || fail "$L's drsd still names '$(cl_leader "$L")'"

section "metrics: the new leader and the source as Prometheus sees them"
nl="$(cl_agree "${others[@]}")"
lm="$(cl_metric "${nl%/*}" drs_leader)"
tm="$(cl_metric "${nl%/*}" drs_term)"
[[ "$lm" == 1 && "$tm" == "${nl#*/}" ]] && ok "${nl%/*}: drs_leader 1, drs_term $tm (as drsctl status says)" || fail "${nl%/*}: drs_leader '$lm', drs_term '$tm' (status: $nl)"
om="$(cl_metric "$T" drs_leader)"
[[ "$om" == 0 || "${nl%/*}" == "$T" ]] && ok "drs_leader on the non-leaders is 0" || fail "$T: drs_leader '$om'"
xm="$(cl_metric "$X" drs_migrations_total 'result="completed"')"
[[ "${xm:-0}" -ge 4 ]] && ok "$X (the source) counts drs_migrations_total{result=\"completed\"} $xm" || fail "$X: drs_migrations_total ok '$xm'"

section "$X's history: one migration at a time per VM, none refused"
cl_ctl "$X" history --json >"$WORK/x.json" || fail "history of $X"
python3 - "$WORK/x.json" <<'PY' && ok "no VM migrated twice at once, no order refused or skipped" || fail "see above"
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
open_ = {}
bad = 0
n_done = 0
for e in ev:
    if e.get("type") != "migration":
        continue
    vm, r = e.get("vm"), e.get("result")
    print("  %-4s %-10s %s" % (vm, r, e.get("message", "")))
    if r == "started":
        if open_.get(vm):
            print("  !! second migration of %s while one runs" % vm); bad += 1
        open_[vm] = True
    else:
        open_[vm] = False
        if r == "completed":
            n_done += 1
        else:
            print("  !! %s: %s" % (vm, r)); bad += 1
print("  %d completed" % n_done)
sys.exit(1 if bad or n_done < 4 else 0)
PY

section "the guests"
check_guests
