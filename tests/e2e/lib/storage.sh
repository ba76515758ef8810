# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Shared by the storage end-to-end suites (sourced after lib/drsd.sh): the testbed gives every
# host a 'local' pool (its own disk), a 'shared' pool (one directory bound into every host) and
# a small 'tiny' pool; guests in disk mode (`scripts/testbed guest NAME HOST MiB disk --pool P`)
# write numbered, checksummed 256 KiB records to their qcow2 disk and read every one back after
# each 16 writes, logging both on their console. These helpers look at libvirt, the guests'
# consoles and drsd's history.
#
# ST_CTL: the drsctl command whose history last_event reads (an array; default: lib/drsd.sh's
# ctl, the standalone drsd).

ST_CTL=(ctl)

virsh_h() { # HOST ARGS…
        local h="$1"
        shift
        timeout 60 virsh -q -c "$("$TB" uri "$h")" "$@"
}
disk_of() { virsh_h "$1" domblklist "$2" 2>/dev/null | awk '$1 == "vda" { print $2 }'; }
vol_exists() { virsh_h "$1" vol-info "$2" >/dev/null 2>&1; }
console() { "$TB" console "$1"; }
verifies() { grep -c 'drs-disk: verify [0-9]* ok' "$(console "$1")" 2>/dev/null || echo 0; }

# checksums GUEST SINCE-VERIFIES WHAT: two more good read-back passes after the step, no bad
# one anywhere, one boot only.
checksums() {
        local g="$1" before="$2" what="$3" log n bad
        log="$(console "$g")"
        if ! wait_until 120 "2 verify passes" bash -c "(( \$(grep -c 'drs-disk: verify [0-9]* ok' '$log') >= $before + 2 ))"; then
                fail "$what: $g: fewer than 2 read-back passes after it (had $before, now $(verifies "$g"))"
        fi
        n="$(verifies "$g")"
        bad="$(grep -cE 'drs-disk: (MISMATCH|verify [0-9]* FAILED|write-error|no /dev/vda)' "$log")"
        if ((bad == 0)); then
                ok "$what: $g read back every record good ($n passes so far, $(grep -c 'drs-disk: w ' "$log") writes, last $(grep 'drs-disk: verify' "$log" | tail -n1 | tr -d '\r'))"
        else
                fail "$what: $g: $bad bad lines: $(grep -m3 -E 'MISMATCH|FAILED|write-error' "$log" | tr '\r\n' '  ')"
        fi
        if [[ "$(grep -c 'drs-disk: start' "$log")" == 1 ]]; then
                ok "$what: $g did not restart"
        else
                fail "$what: $g restarted"
        fi
        if grep -qE "$BAD_CONSOLE" "$log"; then
                fail "$what: $g console: $(grep -m1 -E "$BAD_CONSOLE" "$log")"
        fi
}

# last_event TYPE VM: "RESULT|DURATION_MS|DOWNTIME_MS|MESSAGE" of the last finished history
# event of that type for VM (in the history of "${ST_CTL[@]}").
last_event() {
        "${ST_CTL[@]}" history --json | python3 -c '
import json, sys
t, vm = sys.argv[1], sys.argv[2]
ev = [e for e in json.load(sys.stdin)["events"] if e.get("type") == t and e.get("vm") == vm and e.get("result") != "started"]
if ev:
    e = ev[-1]
    print("%s|%s|%s|%s" % (e.get("result"), e.get("duration_ms", 0), e.get("downtime_ms", 0), e.get("message", "")))
' "$1" "$2"
}

# plan_moves: "VM:DISK_COPY_MIB …" of the plan of "${ST_CTL[@]}".
plan_moves() {
        "${ST_CTL[@]}" plan --json | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(" ".join("%s:%s" % (m["vm"], m.get("disk_copy_mib", 0)) for m in p["plan"]["moves"]))'
}
