#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# End-to-end smoke test of the testbed itself: 3 hosts, an idle guest on each, a live
# migration between every ordered pair of hosts (virsh, p2p, persistent, undefine source),
# asserting from libvirt where every guest runs and that it runs exactly once, guest
# consoles clean; then 'scripts/testbed down' and no process, namespace or mount left.
#
# Run as root from anywhere: bash tests/e2e/testbed-smoke.sh. Exit 0 = pass, 1 = fail,
# 77 = skipped (not root; or run by meson without DRS_E2E=1: 'DRS_E2E=1 meson test
# --suite e2e'). DRS_E2E_NO_INSTALL=1 skips 'scripts/testbed deps' and 'assets'.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TB="$ROOT/scripts/testbed"
# A testbed of its own, so a demo testbed ('drstb') can stay up beside it.
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2esmk}"
STATE="${DRS_TESTBED_DIR:-/var/lib/drs-testbed}/$DRS_TESTBED_NAME"
HOSTS=(h1 h2 h3)
GUEST_MIB=128
# shellcheck source=tests/e2e/lib/report.sh
source "$ROOT/tests/e2e/lib/report.sh"
e2e_skip_unless_enabled testbed-smoke

t_start="$(now_ms)"

finish() {
        local rc
        trap - EXIT INT TERM
        if [[ -d "$STATE" ]]; then
                echo "--- cleaning up after an early stop"
                "$TB" down || true
        fi
        printf 'testbed-smoke: wall time %d ms\n' "$(($(now_ms) - t_start))"
        printf '%d passed, %d failed\n' "$passed" "$failed"
        rc=0
        ((failed == 0)) || rc=1
        exit "$rc"
}
trap finish EXIT
trap 'fail "interrupted"; exit 1' INT TERM

# where GUEST: prints "RUNNING-HOSTS|DEFINED-HOSTS" as seen by every host's libvirtd.
where() {
        local g="$1" h run="" def="" r d
        for h in "${HOSTS[@]}"; do
                r="$(virsh -q -c "$("$TB" uri "$h")" list --name 2>/dev/null)"
                d="$(virsh -q -c "$("$TB" uri "$h")" list --all --name 2>/dev/null)"
                grep -qx -- "$g" <<<"$r" && run+="$h "
                grep -qx -- "$g" <<<"$d" && def+="$h "
        done
        printf '%s|%s\n' "${run% }" "${def% }"
}

# assert_on GUEST HOST: running exactly once, on HOST, and defined only there.
assert_on() {
        local g="$1" h="$2" w
        w="$(where "$g")"
        if [[ "$w" == "$h|$h" ]]; then
                ok "$g runs once, on $h (and is defined only there)"
        else
                fail "$g should run once on $h: running on [${w%%|*}], defined on [${w##*|}]"
        fi
}

# ---- preparation ------------------------------------------------------------------------
if [[ -z "${DRS_E2E_NO_INSTALL:-}" ]]; then
        section "deps and assets"
        "$TB" deps || { fail "scripts/testbed deps"; exit 1; }
        "$TB" assets || { fail "scripts/testbed assets"; exit 1; }
fi

netns_mount_before=0
mountpoint -q /run/netns 2>/dev/null && netns_mount_before=1
section "up 3"
t0="$(now_ms)"
if "$TB" up 3; then
        t_up=$(($(now_ms) - t0))
        ok "scripts/testbed up 3 (${t_up} ms)"
else
        fail "scripts/testbed up 3"
        exit 1
fi

# Recorded now, checked after 'down'.
declare -A ns_inode
for n in "$("$TB" netns switch)" $(for h in "${HOSTS[@]}"; do "$TB" netns "$h"; done); do
        ns_inode[$n]="$(stat -L -c %i "/run/netns/$n" 2>/dev/null || echo missing)"
done

section "guests"
declare -A guest_host moves
t0="$(now_ms)"
i=0
for h in "${HOSTS[@]}"; do
        i=$((i + 1))
        g="g$i"
        guest_host[$g]="$h"
        moves[$g]=0
        "$TB" guest "$g" "$h" "$GUEST_MIB" idle --no-wait || fail "start $g on $h"
done
for g in g1 g2 g3; do
        if "$TB" wait-guest "$g" 120; then
                ok "$g booted on ${guest_host[$g]} ($(($(now_ms) - t0)) ms after the first start)"
        else
                fail "$g did not boot"
        fi
done
for g in g1 g2 g3; do assert_on "$g" "${guest_host[$g]}"; done

section "live migrations (every ordered pair)"
# An Euler circuit over the 6 ordered pairs of 3 hosts; each step moves the guest on the
# source that has moved least, so every guest moves twice and ends where it started.
pairs=("h1 h2" "h2 h3" "h3 h1" "h1 h3" "h3 h2" "h2 h1")
summary=()
for p in "${pairs[@]}"; do
        read -r src dst <<<"$p"
        g=""
        for c in g1 g2 g3; do
                [[ "${guest_host[$c]}" == "$src" ]] || continue
                if [[ -z "$g" ]] || ((moves[$c] < moves[$g])); then g="$c"; fi
        done
        if [[ -z "$g" ]]; then
                fail "no guest on $src to migrate to $dst"
                continue
        fi
        t0="$(now_ms)"
        if timeout 180 virsh -q -c "$("$TB" uri "$src")" migrate --live --p2p --persistent --undefinesource \
                "$g" "$("$TB" migration-uri "$dst")"; then
                wall=$(($(now_ms) - t0))
                guest_host[$g]="$dst"
                moves[$g]=$((moves[$g] + 1))
                info="$(virsh -q -c "$("$TB" uri "$dst")" domjobinfo --completed "$g" 2>/dev/null)"
                elapsed="$(awk -F': *' '/^Time elapsed:/ { print $2 + 0; exit }' <<<"$info")"
                downtime="$(awk -F': *' '/^Total downtime:/ { print $2 + 0; exit }' <<<"$info")"
                line="$(printf 'migration %s %s -> %s: wall %d ms, job %s ms, downtime %s ms' \
                        "$g" "$src" "$dst" "$wall" "${elapsed:-?}" "${downtime:-?}")"
                summary+=("$line")
                ok "$line"
                [[ -n "$downtime" ]] || fail "$g: no downtime in domjobinfo --completed on $dst"
        else
                fail "migrate $g $src -> $dst"
        fi
        assert_on "$g" "${guest_host[$g]}"
done
for g in g1 g2 g3; do
        ((moves[$g] == 2)) || fail "$g moved ${moves[$g]} times, expected 2"
done

section "guests alive and consoles clean"
# Balloon stats come from the guest's driver every 2 s: they advance only in a live guest.
declare -A upd
for g in g1 g2 g3; do
        upd[$g]="$(virsh -q -c "$("$TB" uri "${guest_host[$g]}")" dommemstat "$g" 2>/dev/null | awk '$1 == "last_update" { print $2 }')"
done
sleep 4.5
for g in g1 g2 g3; do
        u="$(virsh -q -c "$("$TB" uri "${guest_host[$g]}")" dommemstat "$g" 2>/dev/null | awk '$1 == "last_update" { print $2 }')"
        if [[ -n "$u" && -n "${upd[$g]}" ]] && ((u > upd[$g])); then
                ok "$g alive on ${guest_host[$g]} (balloon stats advance: ${upd[$g]} -> $u)"
        else
                fail "$g: balloon stats do not advance on ${guest_host[$g]} ('${upd[$g]}' -> '$u')"
        fi
done
for g in g1 g2 g3; do
        log="$("$TB" console "$g")"
        if [[ ! -s "$log" ]]; then
                fail "$g: console log $log empty"
        elif bad="$(grep -E "$BAD_CONSOLE" "$log")"; then
                fail "$g: console shows: $(head -n 3 <<<"$bad" | tr '\n' ' ')"
        else
                ok "$g console clean ($(wc -l <"$log") lines)"
        fi
done

section "down"
mapfile -t pids < <("$TB" pids | awk '{ print $1 }')
t0="$(now_ms)"
if "$TB" down; then
        ok "scripts/testbed down ($(($(now_ms) - t0)) ms)"
else
        fail "scripts/testbed down"
fi

# A process that has exited but not yet been reaped (a zombie: PID 1 reaps the testbed's
# daemons, here with some delay) holds nothing: it counts as gone.
alive() {
        local st
        st="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
        [[ -n "$st" && "$st" != Z && "$st" != X ]]
}
left=()
for pid in "${pids[@]}"; do
        alive "$pid" && left+=("$pid:$(readlink "/proc/$pid/exe" 2>/dev/null)")
done
((${#left[@]} == 0)) && ok "no recorded process left (${#pids[@]} checked)" || fail "processes left: ${left[*]}"

left=()
for n in "${!ns_inode[@]}"; do
        [[ -e "/run/netns/$n" ]] && left+=("$n")
done
((${#left[@]} == 0)) && ok "no network namespace left (${#ns_inode[@]} checked)" || fail "namespaces left: ${left[*]}"

# No process anywhere inside one of those namespaces, none referring to the state dir.
left=()
for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        ino="$(stat -L -c %i "$d/ns/net" 2>/dev/null)" || continue
        for n in "${!ns_inode[@]}"; do
                [[ "$ino" == "${ns_inode[$n]}" ]] && left+=("$pid(in $n)")
        done
        if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$STATE/"; then
                left+=("$pid($(tr '\0' ' ' <"$d/cmdline" | cut -c1-60))")
        fi
done
((${#left[@]} == 0)) && ok "no process in the testbed's namespaces or using its state" || fail "processes left: ${left[*]}"

m="$(grep -E "/run/netns/$DRS_TESTBED_NAME-|$STATE" /proc/self/mountinfo)"
[[ -z "$m" ]] && ok "no mount of the testbed left" || fail "mounts left: $m"
if ((netns_mount_before == 0)) && [[ -z "$(ls -A /run/netns 2>/dev/null)" ]]; then
        # 'ip netns add' made /run/netns a mount point; the testbed undoes it.
        mountpoint -q /run/netns 2>/dev/null && fail "/run/netns is still a mount point" || ok "/run/netns mount undone"
fi
[[ ! -e "$STATE" ]] && ok "state directory $STATE removed" || fail "$STATE still exists"
shm=""
for pid in "${pids[@]}"; do
        for f in /dev/shm/qb-"$pid"-* /dev/shm/qb-*-"$pid"-*; do
                [[ -e "$f" ]] && shm+="$f "
        done
done
[[ -z "$shm" ]] && ok "no /dev/shm files of its processes" || fail "/dev/shm left: $shm"

section "numbers"
printf 'up: %d ms\n' "$t_up"
printf '%s\n' "${summary[@]}"
