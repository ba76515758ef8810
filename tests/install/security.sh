#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsd.service's sandbox: systemd-analyze security's exposure must stay at or below 2.0
# (--threshold counts in tenths). Usage: security.sh UNIT-FILE
set -euo pipefail
unit="$1"
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }

out="$(systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1)" && rc=0 || rc=$?
grep 'Overall exposure' <<<"$out" || { printf '%s\n' "$out"; exit 1; }
if ((rc != 0)); then
        printf '%s\n' "$out" | grep '✗'
        echo "FAIL: exposure above 2.0"
        exit 1
fi
