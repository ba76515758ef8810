# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Shared by the drsd-* end-to-end suites (sourced, not run): a testbed of the suite's own
# (DRS_TESTBED_NAME), drsd in the root namespace in standalone mode managing its hosts by
# their unix-socket URIs (migrations dialled by the source libvirtd over TCP inside the
# namespaces), drsctl against drsd's socket, and assertions from libvirt itself.
#
# A suite sets SUITE, DRS_TESTBED_NAME and DRS_TESTBED_NET, sources this, then calls
# e2e_begin; everything it starts (drsd by its recorded PID, the testbed) is stopped by the
# EXIT trap. Exit 0 = pass, 1 = fail, 77 = skipped (not root, or meson without DRS_E2E=1).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
TB="$ROOT/scripts/testbed"
BUILD="$ROOT/${DRS_BUILDDIR:-build}"
DRSD="$BUILD/agent/drsd"
DRSCTL="$BUILD/agent/drsctl"
STATE="${DRS_TESTBED_DIR:-/var/lib/drs-testbed}/$DRS_TESTBED_NAME"
HOSTS=(h1 h2 h3)
WORK=""
DRSD_PID=""
GUESTS=()

# shellcheck source=tests/e2e/lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/report.sh"

drsd_alive() {
        local exe
        [[ -n "$DRSD_PID" ]] || return 1
        exe="$(readlink "/proc/$DRSD_PID/exe" 2>/dev/null)" || return 1
        # A rebuild while the test runs replaces the file: the kernel then says "(deleted)".
        [[ "${exe% (deleted)}" == "$(readlink -f "$DRSD")" ]]
}

# Stops our drsd (by its recorded PID only): SIGTERM, bounded wait, then SIGKILL.
drsd_stop() {
        local k
        drsd_alive || {
                DRSD_PID=""
                return 0
        }
        kill -TERM "$DRSD_PID" 2>/dev/null || true
        for ((k = 0; k < 100; k++)); do
                drsd_alive || break
                sleep 0.1
        done
        if drsd_alive; then
                echo "drsd (PID $DRSD_PID) did not stop: SIGKILL"
                kill -KILL "$DRSD_PID" 2>/dev/null || true
                sleep 0.5
        fi
        DRSD_PID=""
}

e2e_finish() {
        local rc
        trap - EXIT INT TERM
        drsd_stop
        if declare -F e2e_stop_hook >/dev/null; then e2e_stop_hook; fi
        if [[ -n "$WORK" && -f "$WORK/drsd.log" ]] && ((failed > 0)); then
                echo "--- last lines of drsd's log"
                tail -n 60 "$WORK/drsd.log" || true
        fi
        if [[ -d "$STATE" && -z "${DRS_E2E_KEEP:-}" ]]; then
                "$TB" down >/dev/null 2>&1 || "$TB" down || true
        fi
        [[ -n "$WORK" && -z "${DRS_E2E_KEEP:-}" ]] && rm -rf "$WORK"
        printf '%s: wall time %d s\n' "$SUITE" "$((($(now_ms) - T_START) / 1000))"
        printf '%d passed, %d failed\n' "$passed" "$failed"
        rc=0
        ((failed == 0)) || rc=1
        exit "$rc"
}

e2e_begin() {
        e2e_skip_unless_enabled "$SUITE"
        T_START="$(now_ms)"
        trap e2e_finish EXIT
        trap 'fail "interrupted"; exit 1' INT TERM
        [[ -x "$DRSD" && -x "$DRSCTL" ]] || {
                fail "drsd/drsctl not built in $BUILD (meson compile -C $BUILD)"
                exit 1
        }
        if [[ -z "${DRS_E2E_NO_INSTALL:-}" ]]; then
                "$TB" deps >/dev/null || {
                        fail "scripts/testbed deps"
                        exit 1
                }
                "$TB" assets >/dev/null || {
                        fail "scripts/testbed assets"
                        exit 1
                }
        fi
        WORK="$(mktemp -d "/tmp/$SUITE.XXXXXX")"
        section "testbed '$DRS_TESTBED_NAME': up ${#HOSTS[@]}"
        "$TB" up "${#HOSTS[@]}" >/dev/null || {
                fail "scripts/testbed up"
                exit 1
        }
        ok "testbed up"
}

# write_config POLICY-YAML: drsd.yaml for the testbed hosts + the given policy text. A suite may
# define host_extra HOST (more YAML lines of that host's entry) and set POWER_READING_INTERVAL.
write_config() {
        local h
        printf '%s\n' "$1" >"$WORK/policy.yaml"
        {
                echo "mode: standalone"
                echo "interval: ${COLLECT_INTERVAL:-2s}"
                echo "socket: $WORK/drsd.sock"
                echo "state_dir: $WORK/state"
                echo "policy: $WORK/policy.yaml"
                echo "policy_dir: $WORK/policy.d"
                [[ -n "${POWER_READING_INTERVAL:-}" ]] && echo "power_reading_interval: $POWER_READING_INTERVAL"
                echo "hosts:"
                for h in "${HOSTS[@]}"; do
                        echo "  - name: $h"
                        echo "    uri: \"$("$TB" uri "$h")\""
                        echo "    migration_uri: \"$("$TB" migration-uri "$h")\""
                        if declare -F host_extra >/dev/null; then host_extra "$h"; fi
                done
        } >"$WORK/drsd.yaml"
}

drsd_start() {
        "$DRSD" --foreground -c "$WORK/drsd.yaml" >>"$WORK/drsd.log" 2>&1 &
        DRSD_PID=$!
        local k
        for ((k = 0; k < 300; k++)); do
                [[ -S "$WORK/drsd.sock" ]] && ctl status >/dev/null 2>&1 && return 0
                # Until the forked shell has exec'd drsd the PID's exe is bash: only its exit ends the wait.
                kill -0 "$DRSD_PID" 2>/dev/null || break
                sleep 0.1
        done
        fail "drsd did not start (see $WORK/drsd.log)"
        tail -n 30 "$WORK/drsd.log"
        exit 1
}

ctl() { timeout 120 "$DRSCTL" --socket "$WORK/drsd.sock" "$@"; }

# where GUEST: "RUNNING-HOSTS|DEFINED-HOSTS" as libvirt sees them (hosts powered off skipped).
where() {
        local g="$1" h run="" def="" r d
        for h in "${HOSTS[@]}"; do
                r="$(virsh -q -c "$("$TB" uri "$h")" list --name 2>/dev/null)" || continue
                d="$(virsh -q -c "$("$TB" uri "$h")" list --all --name 2>/dev/null)"
                grep -qx -- "$g" <<<"$r" && run+="$h "
                grep -qx -- "$g" <<<"$d" && def+="$h "
        done
        printf '%s|%s\n' "${run% }" "${def% }"
}

# running_on HOST: the guests running there, one per line.
running_on() { virsh -q -c "$("$TB" uri "$1")" list --name 2>/dev/null | sed '/^$/d'; }
count_on() { running_on "$1" | wc -l; }

start_guest() { # NAME HOST MiB MODE
        "$TB" guest "$1" "$2" "$3" "$4" >/dev/null 2>&1 || {
                fail "guest $1 on $2 did not boot"
                return 1
        }
        GUESTS+=("$1")
}

# runs_once GUEST: it runs on exactly one host now.
runs_once() {
        local w run
        w="$(where "$1")"
        run="${w%%|*}"
        [[ -n "$run" && "$run" != *" "* ]]
}

# Every guest runs exactly once, and its console is clean. drsd keeps balancing while the
# test looks, and a guest being live-migrated runs on both ends until the migration ends, so
# each guest gets up to 120 s to settle on one host (a real double start does not settle).
check_guests() {
        local g w run log
        for g in "${GUESTS[@]}"; do
                wait_until 120 "$g settles" runs_once "$g" || true
                w="$(where "$g")"
                run="${w%%|*}"
                if [[ -n "$run" && "$run" != *" "* ]]; then
                        ok "$g runs exactly once (on $run)"
                else
                        fail "$g runs on '$run' (defined on '${w#*|}')"
                fi
                log="$("$TB" console "$g")"
                if [[ -f "$log" ]] && ! grep -qE "$BAD_CONSOLE" "$log"; then
                        ok "$g console clean"
                else
                        fail "$g console: $(grep -m1 -E "$BAD_CONSOLE" "$log" 2>/dev/null || echo missing)"
                fi
        done
}

# Migration numbers from the history: one line per completed migration.
print_migrations() {
        ctl history --json | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
n = 0
for e in ev:
    if e.get("type") == "migration" and e.get("result") not in (None, "started", "ordered"):
        n += 1
        print("  %-10s %s -> %s  %-12s %-10s duration %6d ms  downtime %5d ms" % (e.get("vm"), e.get("source"), e.get("target"), e.get("reason", ""), e.get("result"), e.get("duration_ms", 0), e.get("downtime_ms", 0)))
print("  %d migration result(s)" % n)
'
}

# wait_until SECONDS DESCRIPTION COMMAND…: polls every second, bounded.
wait_until() {
        local limit="$1" desc="$2" t
        shift 2
        for ((t = 0; t < limit; t++)); do
                if "$@" >/dev/null 2>&1; then
                        WAITED=$t
                        return 0
                fi
                sleep 1
        done
        WAITED=$limit
        return 1
}
