#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Storage moves in cluster mode (issue 17): 3 hosts, each with its own corosync and drsd, no
# shared storage between their 'local' pools and a 'shared' pool bound into all (the testbed's
# pools, as in drsd-storage). Guests in disk mode write numbered, checksummed records to their
# qcow2 disk and read every one back (tests/e2e/lib/storage.sh). L is the leader, A and B the
# other two hosts (whichever corosync elects).
#   - manual moves from a non-leader host's drsd, forwarded to the leader and run by the VM's
#     host's drsd: drsctl migrate d1 (on A) --to L without --copy-storage is refused by the
#     pre-check, and d1 stays; with --copy-storage --remove-source (asked on B) d1 moves live
#     with its disk; drsctl move-storage d1 --pool shared --remove-source (asked on A) moves its
#     disk live to the shared pool and removes the old volume; drsctl migrate --to-uri (another
#     host's URIs, as for a libvirt host outside the cluster) --copy-storage --remove-source, and
#     back with --to;
#   - a balance move in cluster mode copies the disk: d1 (shared, disabled) and d2 (local disk)
#     load L, A and B are empty: the plan moves d2 with a disk copy, drsctl apply runs it;
#   - the leader's drsd SIGKILLed while a disk copy it ordered runs (d2's disk is 512 MiB, the
#     migration bandwidth 20 MiB/s: ~25 s of copy, seen in the source's libvirt job), twice:
#     with another host as the source (its drsd lives on: it reports the outcome and removes the
#     old volume, or the partial copy) and with the leader's own host as the source. Each time
#     the VM runs exactly once afterwards with its disk intact, the other two elect a new leader,
#     and the killed drsd comes back;
#   - mixed versions: one drsd started with DRS_CLUSTER_PROTOCOL=1 (the previous cluster
#     protocol) is named in the leader's drsctl status; a --copy-storage migration of a VM on
#     its host is refused with a clear message and changes nothing.
# After each step: the guest runs exactly once, it did not restart, two more read-back passes
# are good, no write failed, its console is clean. Prints the numbers (copy durations, MiB).
set -uo pipefail
SUITE=cluster-storage
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ecstor}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.14}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"
# shellcheck source=tests/e2e/lib/storage.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/storage.sh"

COLLECT_INTERVAL=2s
LOCAL=/var/lib/libvirt/local
SHARED=/var/lib/libvirt/shared
NUMBERS=()

# ev HOST TYPE VM: last_event in HOST's drsd's history.
ev() {
        local ST_CTL=(cl_ctl "$1")
        last_event "$2" "$3"
}
# mib_copied MESSAGE: X of a migration's "N disk(s) copied (X MiB)" or a storage move's
# "(X MiB copied)", or "?".
mib_copied() { sed -En 's/.*(disk\(s\) copied \(([0-9.]+) MiB\)|\(([0-9.]+) MiB copied\)).*/\2\3/p' <<<"$1" | grep . || echo "?"; }
# number WHAT EVENT WALL-MS: one line for the summary.
number() {
        local e="$2"
        NUMBERS+=("$(printf '%-40s wall %6s ms  drsd %6s ms  downtime %5s ms  %5s MiB copied' "$1" "$3" \
                "$(cut -d'|' -f2 <<<"$e")" "$(cut -d'|' -f3 <<<"$e")" "$(mib_copied "$e")")")
}
# host_of GUEST: the one host it runs on ("" when not exactly one).
host_of() {
        local w run
        w="$(where "$1")"
        run="${w%%|*}"
        [[ "$run" != *" "* ]] && echo "$run"
}
reload_all() {
        local h
        for h in "${HOSTS[@]}"; do
                cl_alive "$h" || continue
                cl_ctl "$h" reload >/dev/null || fail "reload on $h"
        done
}
# job_of HOST VM: libvirt's job of VM on HOST ("Job type", "File remaining", …), one "key: value" a line.
job_of() { virsh_h "$1" domjobinfo "$2" 2>/dev/null | tr -d '\r'; }
job_field() { awk -F': *' -v k="$1" '$1 == k { sub(/[ \t]+$/, "", $2); print $2; exit }'; }
# members_protocols HOST: "HOST:PROTOCOL …" of the members in HOST's drsd's status ("?" when unsaid).
members_protocols() {
        cl_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
out = []
for key in ("cluster", "corosync"):
    for m in (s.get(key) or {}).get("members") or []:
        out.append("%s:%s" % (m.get("host", m.get("nodeid")), m.get("protocol", "?")))
print(" ".join(out))'
}

e2e_begin

section "one corosync and one drsd per host, in its namespace"
cl_write_configs "balance: {enabled: false, interval: 1h}
automation: {level: manual}"
for h in "${HOSTS[@]}"; do cl_start "$h" || exit 1; done
ok "3 drsds started (PIDs ${CL_PID[h1]} ${CL_PID[h2]} ${CL_PID[h3]})"
if cl_await 60 h1 h2 h3; then
        ok "all three agree: leader/term $AGREED (after ${WAITED} s)"
else
        fail "no agreement within 60 s: $(for h in "${HOSTS[@]}"; do printf '%s→%s/%s ' "$h" "$(cl_leader "$h")" "$(cl_term "$h")"; done)"
        exit 1
fi
L="${AGREED%/*}"
others=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$L" ]] && others+=("$h"); done
A="${others[0]}"
B="${others[1]}"
echo "  roles: leader L=$L, A=$A, B=$B"

section "guests: d1 (32 MiB disk in $A's local pool), d2 (512 MiB disk in $L's local pool)"
"$TB" guest d1 "$A" 128 disk --pool local --no-wait >/dev/null 2>&1 && GUESTS+=(d1) || fail "guest d1 not defined"
"$TB" guest d2 "$L" 128 disk --pool local --disk-mib 512 --no-wait >/dev/null 2>&1 && GUESTS+=(d2) || fail "guest d2 not defined"
for g in d1 d2; do
        "$TB" wait-guest "$g" 120 >/dev/null 2>&1 || {
                fail "guest $g did not boot"
                exit 1
        }
done
ok "d1 on $A: $(disk_of "$A" d1); d2 on $L: $(disk_of "$L" d2)"
wait_until 60 "d1, d2 in the reports" bash -c "'$DRSCTL' --socket '$(cl_dir "$B")/drsd.sock' vms | grep -qw d1 &&
        '$DRSCTL' --socket '$(cl_dir "$B")/drsd.sock' vms | grep -qw d2" && ok "$B's drsd lists d1 and d2 (from the reports)" ||
        fail "d1/d2 not in $B's view"
for g in d1 d2; do
        wait_until 120 "$g writes" bash -c "(( \$(grep -c 'drs-disk: verify [0-9]* ok' '$(console "$g")') >= 2 ))" ||
                fail "$g does not verify its disk"
done

section "1. migrate d1 ($A → $L) without --copy-storage, asked on $B (not the leader): refused"
rc=0
cl_ctl "$B" migrate d1 --to "$L" >"$WORK/m0.txt" 2>&1 || rc=$?
sed 's/^/  /' "$WORK/m0.txt"
if ((rc != 0)) && grep -q "not a storage volume on the destination" "$WORK/m0.txt"; then
        ok "refused by the pre-check (exit $rc): the disk is not on $L"
else
        fail "exit $rc, no pre-check refusal"
fi
[[ "$(where d1)" == "$A|$A" ]] && ok "d1 still on $A only" || fail "d1: $(where d1)"
vol_exists "$A" "$LOCAL/d1.qcow2" && ! vol_exists "$L" "$LOCAL/d1.qcow2" && ok "no volume created on $L" ||
        fail "volumes: $A $(vol_exists "$A" "$LOCAL/d1.qcow2" && echo has || echo lacks) d1.qcow2, $L $(vol_exists "$L" "$LOCAL/d1.qcow2" && echo has || echo lacks) it"

section "1. migrate d1 ($A → $L) --copy-storage --remove-source, asked on $B: the disk copied live"
before="$(verifies d1)"
t0="$(now_ms)"
rc=0
cl_ctl "$B" migrate d1 --to "$L" --copy-storage --remove-source >"$WORK/m1.txt" 2>&1 || rc=$?
wall=$(($(now_ms) - t0))
sed 's/^/  /' "$WORK/m1.txt"
((rc == 0)) && ok "drsctl migrate --copy-storage on $B: exit 0 in $wall ms (wall, drsctl)" || fail "exit $rc"
[[ "$(where d1)" == "$L|$L" ]] && ok "d1 runs on $L only" || fail "d1: $(where d1)"
[[ "$(disk_of "$L" d1)" == "$LOCAL/d1.qcow2" ]] && vol_exists "$L" "$LOCAL/d1.qcow2" &&
        ok "d1 uses its volume in $L's local pool" || fail "d1's disk on $L: '$(disk_of "$L" d1)'"
! vol_exists "$A" "$LOCAL/d1.qcow2" && ok "old volume on $A removed (--remove-source)" || fail "old volume on $A still there"
e="$(ev "$A" migration d1)"
echo "  $A's history: $e"
[[ "$e" == completed*"disk(s) copied"* ]] && ok "$A's drsd ran it and recorded the disk copy" || fail "$A's history: '$e'"
number "migrate --copy-storage (d1 $A->$L)" "$e" "$wall"
# Every other drsd learnt the outcome from the source's RESULT (protocol 2), with the disk copy and
# how the migration was encrypted (tls: auto, and the testbed's hosts have no migration TLS).
e="$(ev "$B" migration d1)"
[[ "$e" == completed*"disk(s) copied"*"plain ("*"no migration TLS"* ]] &&
        ok "$B's drsd (where it was asked) recorded the outcome with the disk copy and the encryption: ${e##*|}" ||
        fail "$B's history: '$e'"
checksums d1 "$before" "after the migration with disk copy"

# --to-uri: the order names a target by its URIs (management + migration), as for a libvirt host
# outside the cluster; here another testbed host's, so that d1 can come back for step 3.
D="$(host_of d1)"
[[ -n "$D" ]] || D="$L"
ask="$A"
[[ "$D" == "$A" ]] && ask="$B"
X="$B"
[[ "$D" == "$B" ]] && X="$A"
section "1b. migrate d1 --to-uri $X's URIs --copy-storage --remove-source (its local disk), asked on $ask (d1 on $D), and back with --to $D"
before="$(verifies d1)"
t0="$(now_ms)"
rc=0
cl_ctl "$ask" migrate d1 --to-uri "$("$TB" migration-uri "$X")" --to-management-uri "$("$TB" uri "$X")" \
        --copy-storage --remove-source >"$WORK/u1.txt" 2>&1 || rc=$?
wall=$(($(now_ms) - t0))
sed 's/^/  /' "$WORK/u1.txt"
((rc == 0)) && ok "drsctl migrate --to-uri on $ask: exit 0 in $wall ms" || fail "exit $rc"
[[ "$(where d1)" == "$X|$X" ]] && ok "d1 runs on $X only" || fail "d1: $(where d1)"
e="$(ev "$D" migration d1)"
[[ "$e" == completed*"$("$TB" migration-uri "$X")"* ]] && ok "$D's drsd ran it (target named by its URI)" ||
        fail "$D's history: '$e'"
number "migrate --to-uri --copy-storage (d1 $D->$X)" "$e" "$wall"
rc=0
cl_ctl "$ask" migrate d1 --to "$D" --copy-storage --remove-source >"$WORK/u2.txt" 2>&1 || rc=$?
sed 's/^/  /' "$WORK/u2.txt"
((rc == 0)) && ok "and back: drsctl migrate --to $D on $ask: exit 0" || fail "back: exit $rc"
[[ "$(where d1)" == "$D|$D" ]] && ok "d1 runs on $D only again" || fail "d1: $(where d1)"
checksums d1 "$before" "after --to-uri and back"

# d1 runs on L when step 1 worked; asked on a non-leader host, not d1's own when it can be.
D="$(host_of d1)"
[[ -n "$D" ]] || D="$L"
ask="$A"
[[ "$D" == "$A" ]] && ask="$B"
section "2. move-storage d1 --pool shared --remove-source, asked on $ask (d1 on $D): live"
before="$(verifies d1)"
t0="$(now_ms)"
rc=0
cl_ctl "$ask" move-storage d1 --pool shared --remove-source >"$WORK/s1.txt" 2>&1 || rc=$?
wall=$(($(now_ms) - t0))
sed 's/^/  /' "$WORK/s1.txt"
((rc == 0)) && ok "drsctl move-storage on $ask: exit 0 in $wall ms" || fail "exit $rc"
[[ "$(disk_of "$D" d1)" == "$SHARED/d1.qcow2" ]] && ok "d1 now uses shared/d1.qcow2" || fail "d1 uses '$(disk_of "$D" d1)'"
virsh_h "$D" dumpxml --inactive d1 2>/dev/null | grep -q "$SHARED/d1.qcow2" && ok "its persistent definition too" ||
        fail "persistent definition not updated"
vol_exists "$D" "$SHARED/d1.qcow2" && ! vol_exists "$D" "$LOCAL/d1.qcow2" && ok "old local volume on $D removed" ||
        fail "volumes on $D: local/d1.qcow2 $(vol_exists "$D" "$LOCAL/d1.qcow2" && echo there || echo gone), shared/d1.qcow2 $(vol_exists "$D" "$SHARED/d1.qcow2" && echo there || echo missing)"
[[ "$(where d1)" == "$D|$D" ]] && ok "d1 still runs on $D only" || fail "d1: $(where d1)"
e="$(ev "$D" storage d1)"
echo "  $D's history: $e"
[[ "$e" == completed* ]] && ok "$D's drsd ran it" || fail "$D's history: '$e'"
number "move-storage (d1 on $D -> shared)" "$e" "$wall"
checksums d1 "$before" "after the storage move"

section "3. balancing in cluster mode: d1 (shared, disabled) and d2 (local disk) load $L; $A, $B empty"
# Memory moves at 100 MiB/s, disks are copied at 1 MiB/s (costing); only d2 may move.
printf '%s\n' "balance: {enabled: true, aggressiveness: 5, min_gain: 0.001, cooldown: 0, interval: 1h}
automation: {level: manual, overrides: [{vm: d1, level: disabled}]}
migration: {bandwidth: 100MiB}
storage: {local_disks: copy, copy_bandwidth: 1MiB, remove_source: true}" >"$WORK/policy.yaml"
reload_all
plan_ok() { # the plan (asked on A, forwarded) moves d2 only, with a disk copy
        local ST_CTL=(cl_ctl "$A")
        PLAN="$(plan_moves 2>/dev/null)"
        [[ "$PLAN" =~ ^d2:[1-9][0-9]*$ ]]
}
PLAN=""
if wait_until 90 "a plan with d2's disk copy" plan_ok; then
        plan_ok
        ok "the plan (asked on $A) moves d2 with a disk copy of ${PLAN#d2:} MiB (after ${WAITED} s)"
else
        fail "plan moves: '$PLAN' (wanted d2 with a disk copy)"
fi
cl_ctl "$A" plan 2>&1 | sed -n '/moves/,$p' | sed 's/^/  /'
before="$(verifies d2)"
t0="$(now_ms)"
rc=0
cl_ctl "$A" apply >/dev/null 2>&1 || rc=$?
((rc == 0)) && ok "apply on $A: exit 0" || fail "apply on $A: exit $rc"
balance_done() { [[ "$(ev "$L" migration d2)" == *"(balance)"* ]]; }
if ((rc == 0)) && wait_until 150 "the balance move of d2" balance_done; then
        ok "d2's balance move ended within ${WAITED} s"
else
        fail "no outcome of d2's balance move in $L's history"
fi
wall=$(($(now_ms) - t0))
e="$(ev "$L" migration d2)"
echo "  $L's history: $e"
[[ "$e" == completed*"(balance)"*"1 disk(s) copied"*"source volumes removed"* ]] &&
        ok "the balance move copied d2's disk and removed the source's (storage.remove_source)" ||
        fail "last migration of d2: '$e'"
number "balance move (d2 from $L)" "$e" "$wall"
X="$(host_of d2)"
if [[ -n "$X" && "$X" != "$L" ]]; then
        ok "d2 runs on $X only"
else
        fail "d2: $(where d2)"
        [[ -n "$X" ]] || X="$A"
fi
[[ "$(disk_of "$X" d2)" == "$LOCAL/d2.qcow2" ]] && vol_exists "$X" "$LOCAL/d2.qcow2" &&
        ok "d2 uses its volume in $X's local pool" || fail "d2's disk on $X: '$(disk_of "$X" d2)'"
! vol_exists "$L" "$LOCAL/d2.qcow2" && ok "no d2 volume left on $L" || fail "d2's volume still on $L"
checksums d2 "$before" "after the balance move with disk copy"
# Y: neither the leader nor d2's host (d2's host is not the leader when step 3 worked).
Y="$A"
[[ "$X" == "$A" ]] && Y="$B"

# QEMU's mirror copies the whole virtual disk (its zeroes too) at the migration's bandwidth: at
# 20 MiB/s d2's 512 MiB disk takes ~25 s; memory then moves in a few seconds. A long timeout so
# that drsd does not give up on a loaded machine.
policy_copy() { # BANDWIDTH-YAML: the policy of steps 4 and 5
        printf '%s\n' "balance: {enabled: false, interval: 1h}
automation: {level: manual, overrides: [{vm: d1, level: disabled}]}
migration: {$1 timeout_per_gib: 1h}" >"$WORK/policy.yaml"
        reload_all
}
# copy_running SRC: d2's libvirt job on SRC is a migration that has copied some of the disk and
# has more to copy (virsh calls the disk figures "File …"), and has sent no memory yet.
copy_running() {
        local j got rem
        j="$(job_of "$1" d2)"
        [[ "$(job_field "Job type" <<<"$j")" =~ ^(Unbounded|Bounded)$ ]] || return 1
        JOB="$j"
        got="$(job_field "File processed" <<<"$j")"
        rem="$(job_field "File remaining" <<<"$j")"
        [[ -n "$got" && "$got" != 0.000* && -n "$rem" && "$rem" != 0.000* &&
                -z "$(job_field "Memory processed" <<<"$j")" ]]
}
migration_over() { # SRC: d2 runs once, and no job is left on SRC
        runs_once d2 && ! [[ "$(job_field "Job type" <<<"$(job_of "$1" d2)")" =~ ^(Unbounded|Bounded)$ ]]
}
# kill_mid_copy SRC DST ASK LEADER WHAT LABEL: drsctl migrate d2 --to DST --copy-storage --remove-source
# --no-wait on ASK's drsd (d2 on SRC); LEADER's drsd SIGKILLed while the copy runs; then d2 runs
# exactly once with its disk intact, the others elect a new leader, and a source that survived
# reports the outcome (and removed the old volume, or the partial copy). Sets RUN (d2's host) and
# NL (the new leader); KMC_ASK, KMC_E0: ASK and the last outcome of d2 in its history before.
kill_mid_copy() {
        local src="$1" dst="$2" ask="$3" leader="$4" what="$5" label="$6" h survivors=() before t0 tk rc k seen e e0 run w
        for h in "${HOSTS[@]}"; do [[ "$h" != "$leader" ]] && survivors+=("$h"); done
        before="$(verifies d2)"
        e0="$(ev "$src" migration d2)"
        KMC_ASK="$ask"
        KMC_SRC="$src"
        KMC_E0="$(ev "$ask" migration d2)"
        t0="$(now_ms)"
        rc=0
        cl_ctl "$ask" migrate d2 --to "$dst" --copy-storage --remove-source --no-wait >"$WORK/k.txt" 2>&1 || rc=$?
        sed 's/^/  /' "$WORK/k.txt"
        ((rc == 0)) && ok "migrate d2 --to $dst --copy-storage --remove-source --no-wait on $ask: exit 0" || fail "exit $rc"
        JOB=""
        seen=0
        for ((k = 0; k < 300 && rc == 0 && $(now_ms) - t0 < 60000; k++)); do
                if copy_running "$src"; then
                        seen=1
                        break
                fi
                sleep 0.2
        done
        if ((seen)); then
                ok "the copy runs on $src after $(($(now_ms) - t0)) ms: $(job_field "File processed" <<<"$JOB") of $(job_field "File total" <<<"$JOB") copied"
        else
                fail "no disk copy of d2 seen running on $src within 60 s (last job: $(tr '\n' ' ' <<<"$JOB"))"
        fi
        tk="$(now_ms)"
        cl_stop "$leader" KILL
        ok "the leader's drsd ($leader) killed (SIGKILL) $((tk - t0)) ms after the order"
        if cl_await 30 "${survivors[@]}"; then
                NL="${AGREED%/*}"
                [[ "$NL" != "$leader" ]] && ok "${survivors[*]} agree on a new leader: $AGREED, after ${WAITED} s" ||
                        fail "leader still $AGREED"
        else
                fail "${survivors[*]} did not agree on a new leader within 30 s"
                NL="${survivors[0]}"
        fi
        [[ "$(job_field "Job type" <<<"$(job_of "$src" d2)")" =~ ^(Unbounded|Bounded)$ ]] &&
                echo "  the migration still runs after the election: $(job_field "File processed" <<<"$(job_of "$src" d2)") of the disk copied"
        ((rc != 0)) || wait_until 240 "d2's migration ends" migration_over "$src" ||
                fail "d2's migration did not end within 240 s: $(where d2)"
        w="$(where d2)"
        run="${w%%|*}"
        if [[ -n "$run" && "$run" != *" "* ]]; then
                ok "$what: d2 runs exactly once, on $run ($([[ "$run" == "$dst" ]] && echo "moved" || echo "stayed")), $((($(now_ms) - tk) / 1000)) s after the kill"
        else
                fail "$what: d2 runs on '$run' (defined on '${w#*|}')"
                run="$src"
        fi
        [[ "$(disk_of "$run" d2)" == "$LOCAL/d2.qcow2" ]] && vol_exists "$run" "$LOCAL/d2.qcow2" &&
                ok "$what: d2 uses its volume in $run's local pool" || fail "$what: d2's disk on $run: '$(disk_of "$run" d2)'"
        if [[ "$src" != "$leader" ]]; then
                src_reported() { [[ "$(ev "$src" migration d2)" != "$e0" ]]; }
                if ((rc == 0)) && wait_until 60 "$src's outcome" src_reported; then
                        e="$(ev "$src" migration d2)"
                        ok "$what: $src's drsd (the source) recorded the outcome: ${e%%|*}"
                        echo "  $src's history: $e"
                        number "$label" "$e" "$(($(now_ms) - t0))"
                else
                        fail "$what: no new outcome of d2's migration in $src's history"
                fi
                # The source's drsd lived: it cleaned up after the copy either way.
                if [[ "$run" == "$dst" ]]; then
                        ! vol_exists "$src" "$LOCAL/d2.qcow2" && ok "$what: old volume on $src removed (--remove-source)" ||
                                fail "$what: old volume on $src still there"
                else
                        ! vol_exists "$dst" "$LOCAL/d2.qcow2" && ok "$what: no partial copy left on $dst" ||
                                fail "$what: a d2 volume left on $dst"
                fi
        else
                number "$label" "killed|-|-|" "$(($(now_ms) - t0))"
                echo "  volumes of d2 left: $(for h in "${HOSTS[@]}"; do vol_exists "$h" "$LOCAL/d2.qcow2" && printf '%s ' "$h"; done)(the source's drsd died before it could remove any)"
        fi
        checksums d2 "$before" "$what"
        RUN="$run"
}

section "4. SIGKILL of the leader's drsd ($L) while the disk copy it ordered (d2 $X → $Y) runs"
policy_copy "bandwidth: 20MiB,"
kill_mid_copy "$X" "$Y" "$Y" "$L" "after the leader's kill mid-copy" "leader killed mid-copy (d2 $X->$Y)"
section "4. the killed drsd ($L) comes back"
cl_start "$L" || exit 1
cl_await 30 h1 h2 h3 && ok "all three agree: $AGREED" || fail "no agreement after $L's restart"
L="${AGREED%/*}"
[[ -n "$L" ]] || L="$NL"
X="$RUN"

section "4b. the leader ($L) is the source: its drsd SIGKILLed mid-copy"
if [[ "$X" != "$L" ]]; then
        # d2 to the leader's host first, at full speed.
        policy_copy ""
        rc=0
        cl_ctl "$X" migrate d2 --to "$L" --copy-storage --remove-source >"$WORK/p.txt" 2>&1 || rc=$?
        sed 's/^/  /' "$WORK/p.txt"
        [[ "$rc" == 0 && "$(host_of d2)" == "$L" ]] && ok "d2 moved to the leader's host $L first" ||
                fail "d2 to $L: exit $rc, $(where d2)"
fi
X="$(host_of d2)"
Y=""
for h in "${HOSTS[@]}"; do [[ "$h" != "$X" ]] && ! vol_exists "$h" "$LOCAL/d2.qcow2" && Y="$h"; done
[[ -n "$Y" ]] || Y="$( for h in "${HOSTS[@]}"; do [[ "$h" != "$X" ]] && echo "$h"; done | head -1)"
ask="$Y"
policy_copy "bandwidth: 20MiB,"
kill_mid_copy "$X" "$Y" "$ask" "$L" "after the leader's (and source's) kill mid-copy" "leader+source killed mid-copy (d2 $X->$Y)"
section "4b. the killed drsd ($L) comes back"
cl_start "$L" || exit 1
cl_await 30 h1 h2 h3 && ok "all three agree: $AGREED" || fail "no agreement after $L's restart"
# The drsd the move was asked on learns that its outcome is not known (the source's drsd died with
# it): a drsctl migrate waiting there stops waiting and says where to look.
asked_outcome() { [[ "$(ev "$KMC_ASK" migration d2)" != "$KMC_E0" ]]; }
if wait_until 30 "an outcome on $KMC_ASK" asked_outcome; then
        e="$(ev "$KMC_ASK" migration d2)"
        if [[ "$e" == unknown\|* && "$e" == *"drsd of '$KMC_SRC' left the cluster"* ]]; then
                ok "$KMC_ASK's history says the outcome is unknown: ${e##*|}"
        else
                fail "$KMC_ASK's history has another outcome: $e"
        fi
else
        fail "no outcome of that migration in $KMC_ASK's history 30 s after $L's drsd came back (a drsctl migrate waiting there would not return)"
fi
L="${AGREED%/*}"
[[ -n "$L" ]] || L="$NL"
X="$RUN"

section "5. mixed versions: $X's drsd (d2's host) restarted with DRS_CLUSTER_PROTOCOL=1"
cl_stop "$X"
CL_ENV[$X]="DRS_CLUSTER_PROTOCOL=1"
cl_start "$X" || exit 1
CL_ENV[$X]=""
up=()
for h in "${HOSTS[@]}"; do [[ "$h" != "$X" ]] && up+=("$h"); done
cl_await 30 "${up[@]}" && ok "${up[*]} agree: $AGREED" || fail "no agreement after $X's restart"
L="${AGREED%/*}"
[[ -n "$L" && "$L" != "$X" ]] || L="${up[0]}"
proto1_named() { [[ " $(members_protocols "$L") " == *" $X:1 "* ]]; }
if wait_until 30 "$X named as protocol 1" proto1_named; then
        ok "the leader's ($L) status names $X as running protocol 1: $(members_protocols "$L")"
else
        fail "the leader's ($L) status members: '$(members_protocols "$L")' (wanted $X:1)"
fi
n1="$(members_protocols "$L" | tr ' ' '\n' | grep -c ':1$')"
((n1 == 1)) && ok "no other member is said to run protocol 1" || fail "$n1 members with protocol 1"
cl_ctl "$L" status >"$WORK/status.txt" 2>&1
grep -iE "older drsd|protocol 1" "$WORK/status.txt" | grep -qw "$X" &&
        ok "drsctl status says so: $(grep -iE "older drsd|protocol 1" "$WORK/status.txt" | head -1)" ||
        fail "drsctl status on $L does not name $X as an older drsd / protocol 1"
Z=""
for h in "${up[@]}"; do vol_exists "$h" "$LOCAL/d2.qcow2" || Z="$h"; done
[[ -n "$Z" ]] || Z="${up[0]}"
before="$(verifies d2)"
rc=0
cl_ctl "$Z" migrate d2 --to "$Z" --copy-storage >"$WORK/v0.txt" 2>&1 || rc=$?
sed 's/^/  /' "$WORK/v0.txt"
if ((rc != 0)) && grep -qiE "protocol|older|version" "$WORK/v0.txt"; then
        ok "migrate d2 ($X, protocol 1) --to $Z --copy-storage refused (exit $rc), saying why"
else
        fail "migrate --copy-storage of a VM on a protocol-1 host: exit $rc, no clear refusal"
fi
[[ "$(where d2)" == "$X|$X" ]] && ok "d2 still on $X only" || fail "d2: $(where d2)"
! vol_exists "$Z" "$LOCAL/d2.qcow2" && ok "no volume created on $Z" || fail "a d2 volume appeared on $Z"
checksums d2 "$before" "after the refused migration"

section "the end"
check_guests
echo "numbers:"
printf '  %s\n' "${NUMBERS[@]}"
for h in "${HOSTS[@]}"; do
        echo "migrations in $h's history:"
        ctl() { cl_ctl "$h" "$@"; }
        print_migrations
done
