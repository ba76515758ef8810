#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# hv_libvirt_ops against real libvirtds: a 2-host testbed, one idle guest; host_stats shows
# the guest with a growing cpu.time and balloon stats; the precheck passes for it and fails,
# naming the network, for a defined guest whose network does not exist on the destination;
# the executor live-migrates the guest to the other host (duration and downtime from the
# completed job stats); virsh sees it running exactly once, on the target; a dead libvirtd is
# noticed by the close callback and the poller reconnects with backoff once it is back; the
# guest moves back at 4 MiB/s while host_stats on the source shows it migrating; a SIGTERM'd
# client (executor_free) leaves a migration running and libvirt completes it; console clean.
#
# Run as root: bash tests/e2e/hv-libvirt.sh [HV_DRIVE]. HV_DRIVE defaults to
# $DRS_BUILDDIR/tests/agent/hv-drive (DRS_BUILDDIR default 'build'). Exit 0 = pass, 1 = fail,
# 77 = skipped (not root; or run by meson without DRS_E2E=1). DRS_E2E_NO_INSTALL=1 skips
# 'scripts/testbed deps' and 'assets'.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TB="$ROOT/scripts/testbed"
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2ehv}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.9}"
STATE="${DRS_TESTBED_DIR:-/var/lib/drs-testbed}/$DRS_TESTBED_NAME"
DRIVE="${1:-$ROOT/${DRS_BUILDDIR:-build}/tests/agent/hv-drive}"
GUEST=hvg1
GUEST_MIB=128
# shellcheck source=tests/e2e/lib/report.sh
source "$ROOT/tests/e2e/lib/report.sh"
e2e_skip_unless_enabled hv-libvirt
if [[ ! -x "$DRIVE" ]]; then
        echo "hv-libvirt: no hv-drive at $DRIVE (build first: meson compile -C ${DRS_BUILDDIR:-build})"
        exit 1
fi

t_start="$(now_ms)"
numbers=()

finish() {
        local rc
        trap - EXIT INT TERM
        if [[ -d "$STATE" ]]; then
                echo "--- testbed down"
                "$TB" down || fail "scripts/testbed down"
        fi
        printf '\n== numbers\n'
        printf '%s\n' "${numbers[@]}"
        printf 'hv-libvirt: wall time %d ms\n' "$(($(now_ms) - t_start))"
        printf '%d passed, %d failed\n' "$passed" "$failed"
        rc=0
        ((failed == 0)) || rc=1
        exit "$rc"
}
trap finish EXIT
trap 'fail "interrupted"; exit 1' INT TERM

# val KEY TEXT: the value of KEY=… in hv-drive's output.
val() { sed -n "s/^$1=//p" <<<"$2" | head -n 1; }

if [[ -z "${DRS_E2E_NO_INSTALL:-}" ]]; then
        section "deps and assets"
        "$TB" deps || { fail "scripts/testbed deps"; exit 1; }
        "$TB" assets || { fail "scripts/testbed assets"; exit 1; }
fi

section "up 2"
t0="$(now_ms)"
if "$TB" up 2; then
        ok "scripts/testbed up 2 ($(($(now_ms) - t0)) ms)"
else
        fail "scripts/testbed up 2"
        exit 1
fi
U1="$("$TB" uri h1)"
U2="$("$TB" uri h2)"
M2="$("$TB" migration-uri h2)"

section "guest"
t0="$(now_ms)"
if "$TB" guest "$GUEST" h1 "$GUEST_MIB" idle; then
        ok "$GUEST booted on h1 ($(($(now_ms) - t0)) ms)"
else
        fail "$GUEST did not boot on h1"
        exit 1
fi
# Balloon stats need the guest's driver (period 2 s): give it one period.
sleep 3

section "host_stats"
out="$("$DRIVE" stats "$U1" "$GUEST" 3 2>&1)"
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
if ((rc == 0)); then
        ok "host_stats twice on h1, '$GUEST' in both samples"
        c1="$(val cpu_time_ns_1 "$out")"
        c2="$(val cpu_time_ns_2 "$out")"
        if [[ -n "$c1" && -n "$c2" ]] && ((c2 > c1)); then
                ok "cpu.time grows ($c1 -> $c2 ns)"
        else
                fail "cpu.time does not grow ('$c1' -> '$c2')"
        fi
        [[ "$(val balloon "$out")" == yes ]] && ok "balloon stats (available $(val balloon_available_kib "$out") KiB, unused $(val balloon_unused_kib "$out") KiB, rss $(val balloon_rss_kib "$out") KiB)" ||
                fail "no balloon stats for '$GUEST'"
        [[ "$(val memory_kib "$out")" == $((GUEST_MIB * 1024)) ]] && ok "memory $GUEST_MIB MiB" || fail "memory_kib '$(val memory_kib "$out")'"
        [[ "$(val vcpus "$out")" -ge 1 ]] 2>/dev/null && ok "vcpus $(val vcpus "$out")" || fail "vcpus '$(val vcpus "$out")'"
        [[ "$(val host_cpus "$out")" -ge 1 ]] 2>/dev/null && ok "node info: $(val host_cpus "$out") CPUs, $(val host_memory_mib "$out") MiB, $(val host_free_mib "$out") MiB free" ||
                fail "node info"
        [[ "$(val migrating "$out")" == no ]] && ok "not migrating" || fail "migrating flag set while idle"
        numbers+=("host_stats: call $(val stats_call_ms "$out") ms; cpu.time +$(((c2 - c1) / 1000000)) ms in 3 s; collector cpu_demand $(val cpu_demand "$out") cores, memory_demand $(val memory_demand_mib "$out") MiB")
else
        fail "hv-drive stats (exit $rc)"
fi

section "precheck"
out="$("$DRIVE" precheck "$U1" "$U2" "$GUEST" 2>&1)"
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
((rc == 0)) && ok "precheck h1 -> h2 passes for '$GUEST'" || fail "precheck h1 -> h2 for '$GUEST' (exit $rc)"

# A defined (not started) guest whose network h2 does not have: the precheck names it.
xml="$(mktemp)"
cat >"$xml" <<XML
<domain type='qemu'>
  <name>hvghost</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <interface type='network'><source network='drs-missing-net'/></interface>
  </devices>
</domain>
XML
if virsh -q -c "$U1" define "$xml" >/dev/null 2>&1; then
        out="$("$DRIVE" precheck "$U1" "$U2" hvghost 2>&1)"
        rc=$?
        printf '%s\n' "$out" | sed 's/^/    /'
        if ((rc == 1)) && grep -q "network 'drs-missing-net' does not exist on the destination" <<<"$out"; then
                ok "precheck fails for a missing network, naming it"
        else
                fail "precheck for 'hvghost' should fail on its network (exit $rc)"
        fi
        virsh -q -c "$U1" undefine hvghost >/dev/null 2>&1 || fail "undefine hvghost"
else
        fail "virsh define hvghost"
fi
rm -f "$xml"
out="$("$DRIVE" precheck "$U1" "$U2" no-such-guest 2>&1)"
(($? == 1)) && grep -q "^precheck_errno=2$" <<<"$out" && ok "precheck of an unknown guest: ENOENT ($(val precheck_message "$out"))" ||
        fail "precheck of an unknown guest: $out"

section "migrate through the executor"
out="$("$DRIVE" migrate "$U1" "$U2" "$M2" "$GUEST" "$GUEST_MIB" 2>&1)"
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
if ((rc == 0)) && [[ "$(val result "$out")" == ok ]]; then
        ok "executor: '$GUEST' h1 -> h2 ok"
else
        fail "executor: '$GUEST' h1 -> h2 (exit $rc, result '$(val result "$out")', message '$(val message "$out")')"
fi
d="$(val downtime_ms "$out")"
[[ -n "$d" ]] && ((d > 0)) && ok "downtime from the completed job stats: $d ms" || fail "no downtime ('$d')"
numbers+=("migration h1 -> h2 (executor, p2p, $GUEST_MIB MiB idle): wall $(val wall_ms "$out") ms, job $(val duration_ms "$out") ms, downtime $d ms, stall steps $(val stall_steps "$out")")

section "where it runs"
run1="$(virsh -q -c "$U1" list --name 2>/dev/null | grep -cx "$GUEST")"
run2="$(virsh -q -c "$U2" list --name 2>/dev/null | grep -cx "$GUEST")"
def1="$(virsh -q -c "$U1" list --all --name 2>/dev/null | grep -cx "$GUEST")"
def2="$(virsh -q -c "$U2" list --all --name 2>/dev/null | grep -cx "$GUEST")"
if [[ "$run1$run2$def1$def2" == "0101" ]]; then
        ok "'$GUEST' runs once, on h2, and is defined only there"
else
        fail "'$GUEST': running h1=$run1 h2=$run2, defined h1=$def1 h2=$def2"
fi
out="$("$DRIVE" stats "$U2" "$GUEST" 2 2>&1)"
c1="$(val cpu_time_ns_1 "$out")"
c2="$(val cpu_time_ns_2 "$out")"
if [[ -n "$c1" && -n "$c2" ]] && ((c2 > c1)); then
        ok "alive on h2: cpu.time grows there ($c1 -> $c2 ns, restarted with the new QEMU)"
else
        fail "no growing cpu.time for '$GUEST' on h2 ('$c1' -> '$c2')"
fi

section "connection loss: close callback, poller reconnect with backoff"
# h1 is empty now. A watcher and a poller (1 s interval, backoff 1 s → 4 s) on h1; h1's
# libvirtd is stopped at ~3 s and started again at ~7 s.
wlog="$(mktemp)"
plog="$(mktemp)"
"$DRIVE" watch "$U1" 20 >"$wlog" 2>&1 &
wpid=$!
"$DRIVE" poll "$U1" 16 >"$plog" 2>&1 &
ppid=$!
sleep 3
t_off="$(now_ms)"
"$TB" power-off h1 >/dev/null 2>&1 || fail "scripts/testbed power-off h1"
sleep 4
"$TB" power-on h1 >/dev/null 2>&1 || fail "scripts/testbed power-on h1"
wait "$wpid" || fail "hv-drive watch exited $?"
wait "$ppid" || fail "hv-drive poll exited $?"
sed 's/^/    /' "$wlog"
sed 's/^/    /' "$plog"
dead="$(val dead_after_ms "$(cat "$wlog")")"
if [[ -n "$dead" ]] && ((dead >= 2000 && dead < 20000)); then
        ok "is_alive() false $dead ms after the open (libvirtd stopped at ~3000 ms)"
else
        fail "the dead connection was not noticed ('$dead')"
fi
before="$(awk '/ sample / { n++ } / error / { exit } END { print n + 0 }' "$plog")"
errors="$(grep -c ' error ' "$plog")"
after="$(awk '/ error / { e = 1 } e && / sample / { n++ } END { print n + 0 }' "$plog")"
first_err="$(awk '/ error / { sub(/^t_ms=/, "", $1); print $1; exit }' "$plog")"
back="$(awk '/ error / { e = 1 } e && / sample / { sub(/^t_ms=/, "", $1); print $1; exit }' "$plog")"
((before >= 2)) && ok "poller: $before samples before the loss" || fail "poller: $before samples before the loss"
((errors >= 1 && errors <= 6)) && ok "poller: $errors errors while down (backoff, not every tick)" ||
        fail "poller: $errors errors while down"
((after >= 1)) && ok "poller: reconnected, $after samples after (first at ${back} ms)" || fail "poller: no sample after power-on"
free_ms="$(val free_ms "$(cat "$plog")")"
[[ -n "$free_ms" ]] && ((free_ms < 2000)) && ok "poller_free joined its thread in $free_ms ms" || fail "poller_free took '$free_ms' ms"
numbers+=("connection loss: close callback noticed $dead ms after the open (libvirtd stopped at ~3 s); poller first error at ${first_err} ms, $errors errors, first sample after power-on at ${back} ms")
rm -f "$wlog" "$plog"

section "back to h1 at 4 MiB/s: the migrating flag, bandwidth"
# h1's libvirtd was restarted above. While the executor moves the guest back with a bandwidth
# limit, host_stats on h2 shows it migrating (what a restarted drsd would see).
mlog="$(mktemp)"
HV_DRIVE_BANDWIDTH_MIB_S=4 "$DRIVE" migrate "$U2" "$U1" "$("$TB" migration-uri h1)" "$GUEST" "$GUEST_MIB" >"$mlog" 2>&1 &
mpid=$!
saw=no
for _ in $(seq 1 40); do
        sleep 0.5
        kill -0 "$mpid" 2>/dev/null || break
        out="$("$DRIVE" stats "$U2" "$GUEST" 0 2>/dev/null)"
        if [[ "$(val migrating_1 "$out")" == yes ]]; then
                saw=yes
                break
        fi
done
wait "$mpid"
rc=$?
out="$(cat "$mlog")"
rm -f "$mlog"
printf '%s\n' "$out" | sed 's/^/    /'
[[ "$saw" == yes ]] && ok "host_stats on h2 reports '$GUEST' migrating during the migration" ||
        fail "host_stats on h2 never showed '$GUEST' migrating"
if ((rc == 0)) && [[ "$(val result "$out")" == ok ]]; then
        ok "executor: '$GUEST' h2 -> h1 at 4 MiB/s ok (job $(val duration_ms "$out") ms, downtime $(val downtime_ms "$out") ms)"
else
        fail "executor: '$GUEST' h2 -> h1 (exit $rc, result '$(val result "$out")', message '$(val message "$out")')"
fi
numbers+=("migration h2 -> h1 at 4 MiB/s: wall $(val wall_ms "$out") ms, job $(val duration_ms "$out") ms, downtime $(val downtime_ms "$out") ms, stall steps $(val stall_steps "$out")")
run1="$(virsh -q -c "$U1" list --name 2>/dev/null | grep -cx "$GUEST")"
run2="$(virsh -q -c "$U2" list --all --name 2>/dev/null | grep -cx "$GUEST")"
[[ "$run1$run2" == "10" ]] && ok "'$GUEST' runs on h1 and is gone from h2" || fail "'$GUEST': running on h1 $run1, defined on h2 $run2"

section "SIGTERM mid-migration: executor_free() does not abort, libvirt finishes it"
# The guest is on h1. The executor starts h1 -> h2 at 4 MiB/s; after 3 s the driver gets
# SIGTERM and frees the executor as drsd does (the watcher stops, the worker blocked in
# libvirt is detached after the grace) and exits. The PEER2PEER migration goes on in h1's
# libvirtd: the source reports it migrating (what a restarted drsd sees), then the guest runs
# once, on h2.
mlog="$(mktemp)"
HV_DRIVE_BANDWIDTH_MIB_S=4 "$DRIVE" migrate "$U1" "$U2" "$M2" "$GUEST" "$GUEST_MIB" >"$mlog" 2>&1 &
mpid=$!
sleep 3
kill -TERM "$mpid" 2>/dev/null
wait "$mpid"
rc=$?
t_exit="$(now_ms)"
out="$(cat "$mlog")"
rm -f "$mlog"
printf '%s\n' "$out" | sed 's/^/    /'
xfree_ms="$(val executor_free_ms "$out")"
if ((rc == 0)) && [[ "$(val sigterm "$out")" == yes ]]; then
        ok "driver exited on SIGTERM mid-migration (executor_free $xfree_ms ms)"
else
        fail "driver on SIGTERM: exit $rc"
fi
out="$("$DRIVE" stats "$U1" "$GUEST" 0 2>/dev/null)"
[[ "$(val migrating_1 "$out")" == yes ]] && ok "after the client is gone, host_stats on h1 still shows '$GUEST' migrating" ||
        fail "host_stats on h1 does not show '$GUEST' migrating after the client exited"
done_ms=""
for _ in $(seq 1 120); do
        r1="$(virsh -q -c "$U1" list --all --name 2>/dev/null | grep -cx "$GUEST")"
        r2="$(virsh -q -c "$U2" list --name 2>/dev/null | grep -cx "$GUEST")"
        if [[ "$r1$r2" == "01" ]]; then
                done_ms=$(($(now_ms) - t_exit))
                break
        fi
        sleep 0.5
done
if [[ -n "$done_ms" ]]; then
        ok "libvirt finished the migration without its client: '$GUEST' runs once, on h2 ($done_ms ms after the exit)"
else
        fail "'$GUEST' did not end up on h2 alone (h1 defined $r1, h2 running $r2)"
fi
numbers+=("SIGTERM 3 s into a 4 MiB/s migration: executor_free $xfree_ms ms; libvirt completed it ${done_ms:-?} ms after the client exited")

section "console"
log="$("$TB" console "$GUEST")"
if [[ ! -s "$log" ]]; then
        fail "console log $log empty"
elif bad="$(grep -E "$BAD_CONSOLE" "$log")"; then
        fail "console shows: $(head -n 3 <<<"$bad" | tr '\n' ' ')"
else
        ok "console clean ($(wc -l <"$log") lines)"
fi

section "down"
t0="$(now_ms)"
if "$TB" down; then
        ok "scripts/testbed down ($(($(now_ms) - t0)) ms)"
else
        fail "scripts/testbed down"
fi
