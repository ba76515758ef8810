#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Storage moves for real, on 2 hosts with no shared storage between their 'local' pools (and a
# 'shared' pool bound into both, and an 8 MiB 'tiny' pool on each). Guests in disk mode write
# numbered, checksummed 256 KiB records to a 32 MiB qcow2 disk without pause and read every one
# back after each 16 writes (the guest's own checksum log on its console).
#   - drsctl migrate without --copy-storage is refused by the pre-check (disk not on the target);
#     with --copy-storage the VM moves live with its disk (volume created on h2 first), the old
#     volume is kept, and later --remove-source removes it; a stale volume on the target is
#     refused; a VM on the shared pool migrates without copying.
#   - drsctl move-storage to the full 'tiny' pool fails (refused by the space check, and with
#     --force the copy itself fails): the VM keeps running on its original disk; to 'shared' it
#     completes live and the old volume is removed.
#   - the balancer prefers moving the VM on shared storage; a VM with a local disk moves (its plan
#     shows the disk copy, the migration copies it) when it is the only one that may;
#   - drsctl migrate --to-uri moves a VM with its disk to a libvirt host outside drsd's cluster,
#     with the policy's migration.remote tunables (4 parallel connections, 10 MiB/s), seen in
#     the source QEMU's migration parameters while it runs; and back with xbzrle compression
#     (seen in the source QEMU's migration capabilities).
# After each step: the guest runs exactly once, it did not restart, every read-back since is
# good, no write failed, its console is clean. Prints the numbers.
set -uo pipefail
SUITE=drsd-storage
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2estor}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.7}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"
# shellcheck source=tests/e2e/lib/storage.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/storage.sh"
HOSTS=(h1 h2)

e2e_begin

section "guests: d1 (disk on h1's local pool) and s1 (disk on the shared pool), both on h1"
"$TB" guest d1 h1 128 disk --pool local >/dev/null 2>&1 && GUESTS+=(d1) || { fail "guest d1 did not boot"; exit 1; }
"$TB" guest s1 h1 128 disk --pool shared >/dev/null 2>&1 && GUESTS+=(s1) || { fail "guest s1 did not boot"; exit 1; }
ok "d1 on $(disk_of h1 d1), s1 on $(disk_of h1 s1)"
write_config "balance:
  enabled: false
automation:
  level: manual"
drsd_start
ok "drsd started (PID $DRSD_PID)"
wait_until 60 "d1 in the reports" bash -c "'$DRSCTL' --socket '$WORK/drsd.sock' vms | grep -q d1" || fail "d1 not reported"
wait_until 120 "d1 writes" bash -c "(( \$(grep -c 'drs-disk: verify [0-9]* ok' '$(console d1)') >= 2 ))" || fail "d1 does not verify its disk"

section "migrate d1 to h2 without --copy-storage: refused (h2 cannot see the disk)"
rc=0
ctl migrate d1 --to h2 >"$WORK/m0.txt" 2>&1 || rc=$?
cat "$WORK/m0.txt"
if ((rc == 1)) && grep -q "not a storage volume on the destination" "$WORK/m0.txt"; then ok "refused, exit 1"; else fail "exit $rc"; fi
[[ "$(where d1)" == "h1|h1" ]] && ok "d1 still on h1" || fail "d1: $(where d1)"

section "migrate d1 to h2 --copy-storage --dry-run"
rc=0
ctl migrate d1 --to h2 --copy-storage --dry-run || rc=$?
((rc == 0)) && [[ "$(where d1)" == "h1|h1" ]] && ! vol_exists h2 /var/lib/libvirt/local/d1.qcow2 &&
        ok "dry run: exit 0, nothing changed" || fail "dry run: exit $rc, d1 $(where d1)"

section "migrate d1 to h2 --copy-storage (no shared storage: disk copied live)"
before="$(verifies d1)"
t0="$(now_ms)"
rc=0
ctl migrate d1 --to h2 --copy-storage || rc=$?
wall=$(($(now_ms) - t0))
((rc == 0)) && ok "drsctl migrate --copy-storage: exit 0 in $wall ms (wall, drsctl)" || fail "exit $rc"
[[ "$(where d1)" == "h2|h2" ]] && ok "d1 runs on h2 only" || fail "d1: $(where d1)"
[[ "$(disk_of h2 d1)" == /var/lib/libvirt/local/d1.qcow2 ]] && vol_exists h2 /var/lib/libvirt/local/d1.qcow2 &&
        ok "d1 uses its volume in h2's local pool" || fail "d1's disk on h2: $(disk_of h2 d1)"
vol_exists h1 /var/lib/libvirt/local/d1.qcow2 && ok "old volume on h1 kept (no --remove-source)" || fail "old volume on h1 gone"
echo "  history: $(last_event migration d1)"
checksums d1 "$before" "after the migration with disk copy"

section "migrate d1 back to h1 --copy-storage: refused while h1 holds the old volume"
rc=0
ctl migrate d1 --to h1 --copy-storage >"$WORK/m2.txt" 2>&1 || rc=$?
cat "$WORK/m2.txt"
((rc == 1)) && grep -q "remove it first" "$WORK/m2.txt" && ok "refused: exit 1" || fail "exit $rc"
[[ "$(where d1)" == "h2|h2" ]] && ok "d1 still on h2" || fail "d1: $(where d1)"

section "after removing the stale volume: migrate d1 to h1 --copy-storage --remove-source"
virsh_h h1 vol-delete /var/lib/libvirt/local/d1.qcow2 >/dev/null
before="$(verifies d1)"
rc=0
ctl migrate d1 --to h1 --copy-storage --remove-source || rc=$?
((rc == 0)) && ok "exit 0" || fail "exit $rc"
[[ "$(where d1)" == "h1|h1" ]] && ok "d1 runs on h1 only" || fail "d1: $(where d1)"
! vol_exists h2 /var/lib/libvirt/local/d1.qcow2 && ok "old volume on h2 removed (--remove-source)" || fail "old volume on h2 still there"
echo "  history: $(last_event migration d1)"
checksums d1 "$before" "after the migration back"

section "migrate s1 (shared pool) to h2 --copy-storage: nothing to copy"
before="$(verifies s1)"
rc=0
ctl migrate s1 --to h2 --copy-storage >"$WORK/m4.txt" 2>&1 || rc=$?
cat "$WORK/m4.txt"
((rc == 0)) && grep -q "no disk needed copying" "$WORK/m4.txt" && ok "migrated without a disk copy" || fail "exit $rc"
[[ "$(where s1)" == "h2|h2" ]] && ok "s1 runs on h2 only" || fail "s1: $(where s1)"
vol_exists h2 /var/lib/libvirt/shared/s1.qcow2 && ok "s1's shared volume is still there" || fail "s1's volume is gone"
checksums s1 "$before" "after the shared-storage migration"

section "move-storage d1 to the full 'tiny' pool: refused by the space check"
before="$(verifies d1)"
rc=0
ctl move-storage d1 --pool tiny >"$WORK/s0.txt" 2>&1 || rc=$?
cat "$WORK/s0.txt"
((rc == 1)) && grep -q "MiB available" "$WORK/s0.txt" && ok "refused: exit 1" || fail "exit $rc"
[[ "$(disk_of h1 d1)" == /var/lib/libvirt/local/d1.qcow2 ]] && ok "d1 keeps its disk" || fail "d1 uses $(disk_of h1 d1)"

section "move-storage d1 to 'tiny' --force: the copy fails when the pool fills up"
rc=0
ctl move-storage d1 --pool tiny --force >"$WORK/s1.txt" 2>&1 || rc=$?
cat "$WORK/s1.txt"
((rc == 1)) && grep -q "pool is full" "$WORK/s1.txt" && ok "failed: exit 1, the pool is full" || fail "exit $rc"
[[ "$(disk_of h1 d1)" == /var/lib/libvirt/local/d1.qcow2 ]] && ok "d1 keeps its original disk" || fail "d1 uses $(disk_of h1 d1)"
[[ "$(virsh_h h1 domstate d1)" == running ]] && ok "d1 running" || fail "d1 is $(virsh_h h1 domstate d1)"
! vol_exists h1 /var/lib/libvirt/tiny/d1.qcow2 && ok "the partial copy was deleted" || fail "tiny/d1.qcow2 left behind"
checksums d1 "$before" "after the failed storage move"

section "move-storage d1 to 'shared' --remove-source: live"
before="$(verifies d1)"
rc=0
ctl move-storage d1 --pool shared --remove-source >"$WORK/s2.txt" 2>&1 || rc=$?
cat "$WORK/s2.txt"
((rc == 0)) && ok "exit 0" || fail "exit $rc"
[[ "$(disk_of h1 d1)" == /var/lib/libvirt/shared/d1.qcow2 ]] && ok "d1 now uses shared/d1.qcow2" || fail "d1 uses $(disk_of h1 d1)"
virsh_h h1 dumpxml --inactive d1 | grep -q "/var/lib/libvirt/shared/d1.qcow2" && ok "its persistent definition too" || fail "persistent definition not updated"
! vol_exists h1 /var/lib/libvirt/local/d1.qcow2 && ok "old local volume removed" || fail "old local volume still there"
echo "  history: $(last_event storage d1)"
checksums d1 "$before" "after the storage move"

section "balancing: d1 (disk back on h1's local pool) and s1 (shared) both on h1, h2 empty"
rc=0
ctl migrate s1 --to h1 --copy-storage >/dev/null 2>&1 || rc=$?
((rc == 0)) && [[ "$(where s1)" == "h1|h1" ]] && ok "s1 back on h1" || fail "s1: exit $rc, $(where s1)"
rc=0
ctl move-storage d1 --pool local --remove-source >/dev/null 2>&1 || rc=$?
((rc == 0)) && [[ "$(disk_of h1 d1)" == /var/lib/libvirt/local/d1.qcow2 ]] && ok "d1's disk back in h1's local pool" ||
        fail "d1: exit $rc, disk $(disk_of h1 d1)"
# Memory moves at 100 MiB/s, disks are copied at 1 MiB/s: d1's ~12 MiB disk costs like 1.2 GiB
# of memory. The two VMs load h1 alike, so either move balances as well: the cost decides.
printf '%s\n' "balance: {enabled: true, aggressiveness: 5, min_gain: 0.001, cooldown: 0, interval: 1h}
automation: {level: manual}
migration: {bandwidth: 100MiB}
storage: {local_disks: copy, copy_bandwidth: 1MiB, remove_source: true}" >"$WORK/policy.yaml"
ctl reload >/dev/null && ok "policy reloaded" || fail "reload"
# Storage pools are rescanned every 6th sample: wait until d1's disk is known to be local.
if wait_until 60 "plan" bash -c "'$DRSCTL' --socket '$WORK/drsd.sock' plan --json | grep -q '\"vm\"'"; then
        sleep 14
        moves="$(plan_moves)"
        ctl plan | sed -n '/moves/,$p'
        if [[ "$moves" == "s1:0" ]]; then ok "the plan moves s1 (shared storage), not d1 (local disk): $moves"; else fail "plan moves: '$moves'"; fi
else
        fail "no plan with a move"
        ctl plan
fi

section "balancing with only d1 movable (s1 disabled): the plan shows the disk copy, apply runs it"
mkdir -p "$WORK/policy.d"
printf '%s\n' "automation: {overrides: [{vm: s1, level: disabled}]}" >"$WORK/policy.d/s1.yaml"
ctl reload >/dev/null && ok "policy reloaded (s1 disabled)" || fail "reload"
moves="$(plan_moves)"
ctl plan | sed -n '/moves/,$p'
if [[ "$moves" =~ ^d1:[1-9][0-9]*$ ]]; then ok "the plan moves d1 with a disk copy of ${moves#d1:} MiB"; else fail "plan moves: '$moves'"; fi
before="$(verifies d1)"
rc=0
ctl apply >/dev/null || rc=$?
((rc == 0)) && ok "apply: exit 0" || fail "apply: exit $rc"
balance_done() { [[ "$(last_event migration d1)" == *"(balance)"* ]]; }
if wait_until 120 "the balance move of d1" balance_done; then
        ok "d1's balance move ended within ${WAITED} s"
else
        fail "no outcome of d1's balance move"
fi
echo "  history: $(last_event migration d1)"
[[ "$(last_event migration d1)" == completed*"(balance)"*"1 disk(s) copied"*"source volumes removed"* ]] &&
        ok "the balance move copied d1's disk and removed the source's (storage.remove_source)" ||
        fail "last migration of d1: $(last_event migration d1)"
! vol_exists h1 /var/lib/libvirt/local/d1.qcow2 && ok "no d1 volume left on h1" || fail "d1's volume still on h1"
[[ "$(where d1)" == "h2|h2" ]] && ok "d1 runs on h2 only" || fail "d1: $(where d1)"
checksums d1 "$before" "after the balance move with disk copy"

section "out of the cluster: drsd manages only h2; migrate d1 --to-uri h1 (4 connections, 10 MiB/s) with its disk"
HOSTS=(h2)
write_config "balance: {enabled: false}
migration: {remote: {parallel_connections: 4, bandwidth: 10MiB}}"
HOSTS=(h1 h2)
ctl reload >/dev/null && ok "drsd.yaml reloaded: cluster = h2" || fail "reload"
wait_until 30 "h1 gone" bash -c "! '$DRSCTL' --socket '$WORK/drsd.sock' hosts | grep -qw h1" || fail "h1 still listed"
before="$(verifies d1)"
t0="$(now_ms)"
rc=0
ctl migrate d1 --to-uri "$("$TB" migration-uri h1)" --to-management-uri "$("$TB" uri h1)" --copy-storage --remove-source \
        --no-wait || rc=$?
((rc == 0)) && ok "started" || fail "exit $rc"
# libvirt resets the migration parameters when the job ends: look while it runs, on the source.
seen=""
for ((k = 0; k < 200; k++)); do
        caps="$(virsh_h h2 qemu-monitor-command --hmp d1 'info migrate_capabilities' 2>/dev/null | tr -d '\r')"
        pars="$(virsh_h h2 qemu-monitor-command --hmp d1 'info migrate_parameters' 2>/dev/null | tr -d '\r')"
        if grep -qx 'multifd: on' <<<"$caps"; then
                seen="$(grep -m1 'multifd-channels' <<<"$pars"), $(grep -m1 'max-bandwidth' <<<"$pars")"
                break
        fi
        [[ "$(last_event migration d1)" == *qemu+tcp* ]] && break
        sleep 0.2
done
[[ "$seen" == *"multifd-channels: 4"*"max-bandwidth: 10485760"* ]] && ok "the source's QEMU migrates with multifd on, $seen" ||
        fail "tunables not seen while migrating: '$seen'"
remote_done() { [[ "$(last_event migration d1)" == *"to 'qemu+tcp"* ]]; }
wait_until 120 "the outcome" remote_done || fail "no outcome"
echo "  history: $(last_event migration d1) (drsctl to outcome: $(($(now_ms) - t0)) ms)"
[[ "$(last_event migration d1)" == completed* ]] && ok "completed" || fail "not completed"
[[ "$(where d1)" == "h1|h1" ]] && ok "d1 runs on h1 (outside the cluster) only" || fail "d1: $(where d1)"
! vol_exists h2 /var/lib/libvirt/local/d1.qcow2 && ok "its volume on h2 removed" || fail "volume on h2 still there"
checksums d1 "$before" "after the migration out of the cluster"

section "back with compression: drsd manages only h1; migrate d1 --to-uri h2 (xbzrle, 10 MiB/s) with its disk"
HOSTS=(h1)
write_config "balance: {enabled: false}
migration: {remote: {compression: xbzrle, bandwidth: 10MiB}}"
HOSTS=(h1 h2)
ctl reload >/dev/null && ok "drsd.yaml reloaded: cluster = h1" || fail "reload"
wait_until 30 "h2 gone" bash -c "! '$DRSCTL' --socket '$WORK/drsd.sock' hosts | grep -qw h2" || fail "h2 still listed"
wait_until 30 "h1 fresh" bash -c "'$DRSCTL' --socket '$WORK/drsd.sock' vms | grep -qw d1" || fail "d1 not reported on h1"
before="$(verifies d1)"
rc=0
ctl migrate d1 --to-uri "$("$TB" migration-uri h2)" --to-management-uri "$("$TB" uri h2)" --copy-storage --remove-source \
        --no-wait || rc=$?
((rc == 0)) && ok "started" || fail "exit $rc"
seen=""
for ((k = 0; k < 200; k++)); do
        caps="$(virsh_h h1 qemu-monitor-command --hmp d1 'info migrate_capabilities' 2>/dev/null | tr -d '\r')"
        if grep -qx 'xbzrle: on' <<<"$caps"; then
                seen="xbzrle: on"
                break
        fi
        [[ "$(where d1)" == "h2|h2" ]] && break # done before it could be seen
        sleep 0.2
done
[[ "$seen" == "xbzrle: on" ]] && ok "the source's QEMU migrates with xbzrle compression on" || fail "compression not seen while migrating"
back_done() { [[ "$(where d1)" == "h2|h2" ]]; }
wait_until 120 "d1 on h2" back_done && ok "d1 runs on h2 only, after $WAITED s" || fail "d1: $(where d1)"
checksums d1 "$before" "after the compressed migration"

section "the end"
check_guests
print_migrations
