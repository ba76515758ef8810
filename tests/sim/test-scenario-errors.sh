#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drs-sim names the place of a scenario error as FILE:LINE:COLUMN and exits 2.
set -u
sim="$1" data="$2" failed=0 n=0

check() {
        local file="$1" want="$2" out rc=0
        n=$((n + 1))
        out="$("$sim" "$data/$file" 2>&1)" || rc=$?
        if [[ $rc -eq 2 && "$out" == *"$want"* ]]; then
                echo "ok $n - $file"
        else
                echo "not ok $n - $file: exit $rc, got: $out (want: $want)"
                failed=1
        fi
}

echo "1..4"
check bad-key.yaml "bad-key.yaml:3:53: unknown key 'color' in 'hosts'"
check bad-event.yaml "bad-event.yaml:6:5: unknown event 'explode h02 at 03:00'"
check bad-policy.yaml "bad-policy.yaml:6:5: unknown key 'aggresiveness' in 'balance'"
check bad-host.yaml "bad-host.yaml:5:5: unknown host 'h09' in event"
exit $failed
