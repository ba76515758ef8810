#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drs-sim --import-planetlab on a tiny day made here (3 VM files of 288 values, CloudSim's
# order and placement CSVs): the scenario it writes loads and runs clean, carries the host
# power models and the VMs' demands (MIPS × utilization / 10 cores); bad inputs are refused
# naming the file and line, and write nothing usable.
set -uo pipefail
sim="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

mkdir -p "$work/day"
python3 - "$work/day" <<'PY'
import sys
d = sys.argv[1]
for name, u in (("a", 10), ("b", 50), ("c", 100)):
    open(f"{d}/{name}", "w").write("\n".join(str(u) for _ in range(288)) + "\n")
PY
printf 'index,type,file\n0,0,a\n1,1,b\n2,3,c\n' >"$work/order.csv"
printf 'vm,host\n0,1\n1,1\n2,0\n' >"$work/place.csv"
printf 'dpm: {enabled: true, power_on: "on {host}", power_off: "off {host}"}\n' >"$work/policy.yaml"

"$sim" --import-planetlab "$work/day" --order "$work/order.csv" --placement "$work/place.csv" \
        --policy "$work/policy.yaml" --hosts 2 --output "$work/tiny.yaml" 2>"$work/err"
check "import exits 0" '[[ $? == 0 ]]'
check "scenario and trace written" '[[ -s $work/tiny.yaml && -s $work/tiny-trace.csv ]]'
check "G4 then G5 with SPECpower curves" \
        'grep -q "name: h000, cpus: 372, memory_mib: 4096, power: {watts: \[86, 89.4" "$work/tiny.yaml" &&
         grep -q "name: h001, cpus: 532, memory_mib: 4096, power: {watts: \[93.7," "$work/tiny.yaml"'
check "VM types and placement" \
        'grep -q "name: vm000, host: h001, vcpus: 250, memory_mib: 870" "$work/tiny.yaml" &&
         grep -q "name: vm002, host: h000, vcpus: 50, memory_mib: 613" "$work/tiny.yaml"'
check "demand = MIPS × utilization / 10" \
        'grep -q "^0,vm000,25,435$" "$work/tiny-trace.csv" && grep -q "^86100,vm001,100,870$" "$work/tiny-trace.csv" &&
         grep -q "^300,vm002,50,306$" "$work/tiny-trace.csv"'
check "288 steps × 3 VMs" '[[ $(grep -vc "^#" "$work/tiny-trace.csv") == 864 ]]'
"$sim" "$work/tiny.yaml" --json --series "$work/series.csv" >"$work/r.json"
check "the imported day runs clean" '[[ $? == 0 ]]'
check "--series: a header and a row per host and sample" \
        '[[ $(head -1 "$work/series.csv") == "time_s,host,powered,cpu_demand,cpu_capacity,watts" ]] &&
         grep -q "^0,h001,1,125.000,532," "$work/series.csv" &&
         awk -F, "NR > 1 && \$3 == \"1\" && \$6 + 0 < 86 { bad = 1 } END { exit bad }" "$work/series.csv"'
check "energy counted" 'python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r[\"power\"][\"energy_kwh\"] > 1 else 1)" "$work/r.json"'

printf 'index,type,file\n0,0,a\n1,7,b\n' >"$work/bad-order.csv"
"$sim" --import-planetlab "$work/day" --order "$work/bad-order.csv" --output "$work/bad.yaml" 2>"$work/err"
check "bad order refused (exit 2)" '[[ $? == 2 ]]'
check "names the file and line" 'grep -q "bad-order.csv:3: expected INDEX,TYPE,FILE" "$work/err"'
printf '1\n2\n500\n' >"$work/day/a"
"$sim" --import-planetlab "$work/day" --order "$work/order.csv" --output "$work/bad2.yaml" 2>"$work/err"
check "a utilization over 100 refused" '[[ $? == 2 ]] && grep -q "day/a: expected at most 288 CPU utilizations" "$work/err"'

[[ $fail == 0 ]] && echo "planetlab import: all passed" || echo "planetlab import: FAILED"
exit $fail
