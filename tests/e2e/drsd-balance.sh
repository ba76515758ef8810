#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsd balances for real: 3 testbed hosts, 2 CPU-burning and 2 idle guests all started on h1
# (only ~2 burning guests fit this 2-core machine). drsd (standalone, a 10 s pass, aggressive
# balance, 10 min cooldown) must spread the burners within 3 passes of seeing their demand;
# no VM moves twice within its cooldown; every guest runs exactly once with a clean console.
# Prints migration durations and downtimes (from the completed job stats) and passes needed.
set -uo pipefail
SUITE=drsd-balance
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ebal}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.1}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"

e2e_begin

section "guests: b1 b2 (burn) and i1 i2 (idle), all on h1"
for g in b1:burn b2:burn i1:idle i2:idle; do
        start_guest "${g%%:*}" h1 128 "${g#*:}" || exit 1
done
ok "4 guests on h1"

write_config "balance:
  aggressiveness: 5
  interval: 10s
  cooldown: 10m
  weights: {cpu: 1.0, memory: 0.0}
limits:
  memory_reserve: 256MiB
automation:
  level: full"
drsd_start
ok "drsd started (PID $DRSD_PID)"
ctl status

# Demand needs two samples (2 s apart) before it is known; count passes from then on.
sleep 5
p0="$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["passes"]["count"])')"

section "waiting for the burners to be spread (at most 3 passes of 10 s, plus migration time)"
spread() {
        local a b
        a="$(where b1)"
        b="$(where b2)"
        a="${a%%|*}"
        b="${b%%|*}"
        [[ -n "$a" && -n "$b" && "$a" != "$b" && "$a" != *" "* && "$b" != *" "* ]] &&
                [[ "$(ctl status --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["cluster"]; print(c["migrations_running"]+c["migrations_queued"])')" == 0 ]]
}
if wait_until 75 "spread" spread; then
        p1="$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["passes"]["count"])')"
        ok "burners spread after ${WAITED} s: b1 on $(where b1 | cut -d'|' -f1), b2 on $(where b2 | cut -d'|' -f1) ($((p1 - p0)) pass(es) after demand was known)"
        if ((p1 - p0 <= 3)); then ok "within 3 passes"; else fail "needed $((p1 - p0)) passes"; fi
else
        fail "burners not spread within 75 s: b1 $(where b1), b2 $(where b2)"
fi
ctl status

section "stability: no VM moves twice within its cooldown (two more passes)"
sleep 22
ctl history --json >"$WORK/history.json"
twice="$(python3 -c '
import json, collections
ev = json.load(open("'"$WORK"'/history.json"))["events"]
c = collections.Counter(e["vm"] for e in ev if e.get("type") == "migration" and e.get("result") == "completed")
print(" ".join(v for v, n in c.items() if n > 1))')"
if [[ -z "$twice" ]]; then ok "no VM moved twice"; else fail "moved twice: $twice"; fi

section "migrations (from drsd's history)"
print_migrations
section "guests"
check_guests
