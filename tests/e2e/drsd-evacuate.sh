#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl evacuate for real: 4 idle guests and one big guest on h1; host capacity is limited by
# the policy's memory reserve so that the small ones fit on h2/h3 and the big one fits nowhere.
# The dry run names the big guest and changes nothing; the evacuation moves the 4 small guests
# (respecting memory), survives a drsd restart mid-evacuation (state in the state directory),
# leaves h1 entering-maintenance with the big guest named in status; once the operator
# removes it, h1 becomes maintenance; exit-maintenance returns it. Prints the numbers.
set -uo pipefail
SUITE=drsd-evacuate
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eevac}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.2}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"

e2e_begin

section "guests: i1..i4 (128 MiB, idle) and big (1024 MiB, idle), all on h1"
for g in i1 i2 i3 i4; do
        start_guest "$g" h1 128 idle || exit 1
done
start_guest big h1 1024 idle || exit 1
ok "5 guests on h1"

# Capacity per host = physical memory - reserve = 700 MiB: 128 MiB guests fit, 1024 does not.
# Physical memory as drsd sees it: nodeinfo's (the NUMA nodes' sum), or the memory stats' total
# when that is larger (memory outside any NUMA node, as on some cloud VMs: hv-libvirt.c).
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
drsd_start
ok "drsd started (PID $DRSD_PID); capacity per host 700 MiB (reserve $reserve MiB)"
sleep 5

section "evacuate h1 --dry-run"
rc=0
ctl evacuate h1 --dry-run >"$WORK/dry.txt" 2>&1 || rc=$?
cat "$WORK/dry.txt"
if ((rc == 1)) && grep -q "big" "$WORK/dry.txt"; then ok "dry run: exit 1, names 'big'"; else fail "dry run: exit $rc"; fi
# The smallest fix: what would let h1 empty (here: configured memory to free on another host).
if grep -q "^Smallest fix to empty 'h1': " "$WORK/dry.txt" && { ctl evacuate h1 --dry-run --json 2>/dev/null || true; } |
        python3 -c 'import json,sys; f=json.load(sys.stdin)["fix"]; sys.exit(0 if f["host"] == "h1" and f["options"] else 1)'; then
        ok "dry run prints the smallest fix: $(grep "^Smallest fix" "$WORK/dry.txt")"
else
        fail "dry run: no smallest fix printed"
fi
st="$(ctl hosts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["state"])')"
[[ "$st" == up ]] && ok "dry run changed nothing (h1 $st)" || fail "h1 is $st after a dry run"

section "evacuate h1"
t0="$(now_ms)"
rc=0
ctl evacuate h1 || rc=$?
((rc == 1)) && ok "evacuate: exit 1 (a VM cannot leave)" || fail "evacuate: exit $rc"

section "drsd restart mid-evacuation"
# After the first move completes, stop drsd (SIGTERM) and start it again.
first_done() { [[ "$(count_on h1)" -le 4 ]]; }
wait_until 60 "first move" first_done || fail "no guest left h1 within 60 s"
drsd_stop
state_file="$(cat "$WORK/state/hosts.json")"
if grep -q entering-maintenance <<<"$state_file"; then ok "state file keeps h1 entering-maintenance"; else fail "state: $state_file"; fi
drsd_start
ok "drsd restarted (PID $DRSD_PID) with $(count_on h1) guest(s) left on h1"
only_big() { [[ "$(running_on h1 | tr '\n' ' ')" == "big " ]]; }
if wait_until 120 "evacuation" only_big; then
        ok "h1 holds only 'big' after $((($(now_ms) - t0) / 1000)) s"
else
        fail "h1 still runs: $(running_on h1 | tr '\n' ' ')"
fi
ctl status | tee "$WORK/status.txt"
st="$(ctl hosts --json | python3 -c 'import json,sys; h=json.load(sys.stdin)["hosts"][0]; print(h["state"], " ".join(b["vm"] for b in h["blockers"]))')"
if [[ "$st" == "entering-maintenance big" ]]; then ok "h1 entering-maintenance, status names 'big'"; else fail "h1: $st"; fi
grep -q "blocked: VM 'big'" "$WORK/status.txt" && ok "drsctl status shows why 'big' cannot leave" || fail "status does not name big"

section "memory respected on h2 and h3 (configured MiB <= 700)"
for h in h2 h3; do
        sum=0
        for g in $(running_on "$h"); do
                sum=$((sum + $(virsh -c "$("$TB" uri "$h")" dominfo "$g" | awk '/Max memory/ {print int($3/1024)}')))
        done
        ((sum <= 700)) && ok "$h: $sum MiB configured" || fail "$h: $sum MiB > 700"
done

section "the operator removes 'big': h1 becomes maintenance"
virsh -q -c "$("$TB" uri h1)" destroy big >/dev/null && virsh -q -c "$("$TB" uri h1)" undefine big >/dev/null
GUESTS=(i1 i2 i3 i4)
in_maint() { ctl hosts --json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["hosts"][0]["state"] != "maintenance")'; }
wait_until 40 "maintenance" in_maint && ok "h1 is maintenance after ${WAITED} s" || fail "h1 not maintenance"

section "exit-maintenance h1"
ctl exit-maintenance h1 && ok "exit-maintenance: exit 0" || fail "exit-maintenance failed"
st="$(ctl hosts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hosts"][0]["state"])')"
[[ "$st" == up ]] && ok "h1 is up" || fail "h1 is $st"

section "migrations (from drsd's history)"
print_migrations
section "guests"
check_guests
