# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Shared by the drsd-rollout* suites (sourced after lib/drsd.sh): the operator's "patch"
# command and what it recorded.
#
# $WORK/patch.sh HOST: records "HOST START-MS running=N" in $WORK/patch.log, where N is the
# number of domains libvirt on HOST lists as running; exits 9 if N > 0 (it never patches a
# host that runs a VM), 3 when $WORK/fail-HOST exists; waits while $WORK/hold-HOST exists
# (bounded: 300 s; the suites SIGKILL drsd meanwhile); then "reboots" HOST: the testbed's
# power-off (which refuses while a guest runs) and power-on, so its libvirtd stops and starts;
# records "HOST END-MS done". With $WORK/hold-return-HOST it returns right after the power-off
# (as 'systemctl reboot' over ssh does) and powers HOST on, detached, once that file is gone. Its output goes to the log, never to drsd's pipe (a drsd killed
# meanwhile must not kill it with SIGPIPE).

write_patch_script() {
        cat >"$WORK/patch.sh" <<SCRIPT
#!/usr/bin/env bash
exec >>"$WORK/patch.out" 2>&1
h="\$1"
now() { date +%s%3N; }
n="\$(virsh -q -c "\$("$TB" uri "\$h")" list --name | sed '/^\$/d' | wc -l)"
echo "\$h \$(now) running=\$n" >>"$WORK/patch.log"
((n == 0)) || exit 9
[[ -e "$WORK/fail-\$h" ]] && exit 3
for ((i = 0; i < 300; i++)); do [[ -e "$WORK/hold-\$h" ]] || break; sleep 1; done
"$TB" power-off "\$h" || exit 4
if [[ -e "$WORK/hold-return-\$h" ]]; then
        setsid bash -c 'for ((i = 0; i < 300; i++)); do [[ -e "\$1" ]] || break; sleep 1; done
                "\$2" power-on "\$3" && echo "\$3 \$(date +%s%3N) done" >>"\$4"' _ \
                "$WORK/hold-return-\$h" "$TB" "\$h" "$WORK/patch.log" </dev/null &
        exit 0
fi
"$TB" power-on "\$h" || exit 5
echo "\$h \$(now) done" >>"$WORK/patch.log"
SCRIPT
        chmod +x "$WORK/patch.sh"
        : >"$WORK/patch.log"
}

# Every host has a fresh report.
all_reporting() {
        ctl hosts --json | python3 -c 'import json,sys; sys.exit(not all(h["reported"] and not h["stale"] for h in json.load(sys.stdin)["hosts"]))'
}

# The hosts whose command started, in order, one per line.
patched_hosts() { awk '$3 ~ /^running=/ {print $1}' "$WORK/patch.log"; }

# rollout_field EXPR: a Python expression over r = drs.RolloutStatus's "rollout" (None = none).
rollout_field() {
        ctl rollout status --json | python3 -c "import json,sys; r=json.load(sys.stdin)['rollout']; print($1)"
}
rollout_state() { rollout_field 'r["state"] if r else "none"'; }
host_step() { rollout_field "[h['state'] for h in r['hosts'] if h['name'] == '$1'][0]"; }
host_mode() {
        ctl hosts --json | python3 -c "import json,sys; print([h['state'] for h in json.load(sys.stdin)['hosts'] if h['name'] == '$1'][0])"
}

# Every command saw zero running domains.
check_zero_vms_during_commands() {
        if awk '$3 ~ /^running=/ && $3 != "running=0" {bad=1} END {exit bad}' "$WORK/patch.log"; then
                ok "libvirt listed no running domain on any host while its command ran"
        else
                fail "a command ran on a host with running domains: $(grep -v running=0 "$WORK/patch.log" | grep running= | tr '\n' ' ')"
        fi
}
