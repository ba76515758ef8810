#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PlanetLab benchmark (README "Simulator"): one day of real VM CPU traces (CloudSim's
# PlanetLab workload, 20110306: 898 VMs on 800 hosts of two HP models) imported with
# drs-sim --import-planetlab and simulated under each policy in tests/bench/planetlab/; prints
# a table beside CloudSim's LR-MMT-1.2 reference.
#
#   tests/bench/planetlab.sh [DRS_SIM] [PLANETLAB_DIR]
#
# DRS_SIM defaults to build/sim/drs-sim; PLANETLAB_DIR to ../shared/planetlab (20110306.tar.xz,
# order_20110306.csv, place_20110306_lr_mmt_1.2.csv). Host memory is set to 64 GiB: CloudSim
# ignores RAM once VMs are placed (CPU-only consolidation), so memory must not bind here either.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
sim="${1:-$top/build/sim/drs-sim}"
data="${2:-$top/../shared/planetlab}"
[[ -x "$sim" ]] || { echo "planetlab.sh: no drs-sim at '$sim' (build first)" >&2; exit 2; }
[[ -f "$data/20110306.tar.xz" ]] || { echo "planetlab.sh: no PlanetLab data in '$data'" >&2; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xJf "$data/20110306.tar.xz" -C "$work"
printf '%-10s %10s %10s %12s %10s %10s %8s\n' policy energy "vs LR-MMT" overloaded migrations shutdowns power-on
printf '%-10s %10s %10s %12s %10s %10s %8s\n' LR-MMT-1.2 "127.98 kWh" "1.000" "0.76 %" 21661 4159 3395
rc=0
for p in "$top"/tests/bench/planetlab/*.yaml; do
        name="$(basename "$p" .yaml)"
        "$sim" --import-planetlab "$work/20110306" --order "$data/order_20110306.csv" \
                --placement "$data/place_20110306_lr_mmt_1.2.csv" --policy "$p" --host-memory 65536 \
                --output "$work/$name.yaml" 2>/dev/null
        "$sim" "$work/$name.yaml" --json >"$work/$name.json" || rc=1
        python3 - "$name" "$work/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
p, m = r["power"], r["migrations"]
print("%-10s %6.2f kWh %10.3f %10.2f %% %10d %10d %8d" % (sys.argv[1], p["energy_kwh"], p["energy_kwh"] / 127.98,
      100 * p["overloaded_share"], m["started"], p["standby_ok"], p["power_on_ok"]))
PY
done
exit $rc
