# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Shared by the cluster-* end-to-end suites (sourced after lib/drsd.sh): a testbed with one
# corosync per host (token 1000 ms) and one drsd per host in corosync mode, each inside its
# host's network namespace (corosync's IPC sockets are per namespace), each with its own
# socket, state directory and log under $WORK/HOST/. drsctl talks to a host's drsd by its
# socket. Every drsd is stopped by its recorded PID (checked against /proc/PID/exe).

export DRS_TESTBED_COROSYNC=1
declare -A CL_PID=()
# CL_ENV[HOST]: more environment for that host's drsd ("VAR=VALUE …", e.g. DRS_CLUSTER_PROTOCOL=1).
declare -A CL_ENV=()

cl_dir() { echo "$WORK/$1"; }

# cl_write_configs POLICY-YAML: the shared policy and one drsd.yaml per host.
cl_write_configs() {
        local h g
        printf '%s\n' "$1" >"$WORK/policy.yaml"
        for h in "${HOSTS[@]}"; do
                mkdir -p "$(cl_dir "$h")"
                {
                        echo "mode: corosync"
                        echo "host: $h"
                        echo "interval: ${COLLECT_INTERVAL:-2s}"
                        echo "socket: $(cl_dir "$h")/drsd.sock"
                        echo "state_dir: $(cl_dir "$h")/state"
                        echo "policy: $WORK/policy.yaml"
                        echo "policy_dir: $WORK/policy.d"
                        # Each namespace has its own loopback: the same address on every host.
                        [[ -n "${CL_METRICS:-}" ]] && echo "metrics_listen: \"127.0.0.1:9477\""
                        echo "hosts:"
                        for g in "${HOSTS[@]}"; do
                                echo "  - name: $g"
                                echo "    uri: \"$("$TB" uri "$g")\""
                                echo "    migration_uri: \"$("$TB" migration-uri "$g")\""
                        done
                } >"$(cl_dir "$h")/drsd.yaml"
        done
}

cl_alive() {
        local pid="${CL_PID[$1]:-}" exe
        [[ -n "$pid" ]] || return 1
        exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
        [[ "${exe% (deleted)}" == "$(readlink -f "$DRSD")" ]] # "(deleted)": rebuilt meanwhile
}

cl_ctl() { # HOST ARGS…
        local h="$1"
        shift
        timeout 120 "$DRSCTL" --socket "$(cl_dir "$h")/drsd.sock" "$@"
}

# cl_start HOST: drsd in HOST's network namespace; waits until its socket answers.
cl_start() {
        local h="$1" k ns extra=()
        ns="$("$TB" netns "$h")" || return 1
        read -r -a extra <<<"${CL_ENV[$h]:-}"
        echo "--- drsd start $(date +%T)${extra[*]:+ (${extra[*]})}" >>"$(cl_dir "$h")/drsd.log"
        # env execs ip, ip execs drsd after entering the namespace: $! is drsd's PID.
        # CL_REPLY_PIECE: relayed replies in pieces of that many bytes (DRS_CLUSTER_REPLY_PIECE).
        env "${extra[@]}" DRS_LOG_TIME=1 DRS_CLUSTER_REPLY_PIECE="${CL_REPLY_PIECE:-}" ip netns exec "$ns" "$DRSD" --foreground -c "$(cl_dir "$h")/drsd.yaml" >>"$(cl_dir "$h")/drsd.log" 2>&1 &
        CL_PID[$h]=$!
        disown "${CL_PID[$h]}" 2>/dev/null || true # no "Killed" from bash when a test SIGKILLs it
        for ((k = 0; k < 300; k++)); do
                [[ -S "$(cl_dir "$h")/drsd.sock" ]] && cl_ctl "$h" status >/dev/null 2>&1 && return 0
                # For a moment the PID is still ip(8), before it execs drsd.
                kill -0 "${CL_PID[$h]}" 2>/dev/null || break
                sleep 0.1
        done
        fail "drsd on $h did not start (see $(cl_dir "$h")/drsd.log)"
        tail -n 30 "$(cl_dir "$h")/drsd.log"
        return 1
}

# cl_stop HOST [SIGNAL]: by recorded PID; SIGTERM waits (bounded), then SIGKILL.
cl_stop() {
        local h="$1" sig="${2:-TERM}" k
        cl_alive "$h" || {
                CL_PID[$h]=""
                return 0
        }
        kill "-$sig" "${CL_PID[$h]}" 2>/dev/null || true
        for ((k = 0; k < 100; k++)); do
                cl_alive "$h" || break
                sleep 0.1
        done
        if cl_alive "$h"; then
                echo "drsd on $h (PID ${CL_PID[$h]}) did not stop: SIGKILL"
                kill -KILL "${CL_PID[$h]}" 2>/dev/null || true
                sleep 0.5
        fi
        CL_PID[$h]=""
}

e2e_stop_hook() {
        local h
        for h in "${HOSTS[@]}"; do cl_stop "$h"; done
        if ((failed > 0)) && [[ -n "$WORK" ]]; then
                for h in "${HOSTS[@]}"; do
                        [[ -f "$(cl_dir "$h")/drsd.log" ]] || continue
                        echo "--- last lines of $h's drsd log"
                        tail -n 40 "$(cl_dir "$h")/drsd.log" || true
                done
        fi
}

# cl_status_field HOST PYTHON-EXPR: evaluates EXPR over the status JSON `s` of HOST's drsd.
cl_status_field() {
        cl_ctl "$1" status --json 2>/dev/null | python3 -c "import json,sys; s=json.load(sys.stdin); c=s.get('corosync',{}); print($2)"
}

cl_leader() { cl_status_field "$1" "c.get('leader_host','') if c.get('leader') else ''"; }
cl_term() { cl_status_field "$1" "c.get('term',0)"; }

# cl_await SECONDS HOST…: waits (bounded, a check a second) until cl_agree holds; AGREED is the
# leader/term of that very check (asking again afterwards can fail on a loaded machine: a status
# call timing out left a test with no leader to ask).
cl_await() {
        local limit="$1" t
        shift
        for ((t = 0; t < limit; t++)); do
                if AGREED="$(cl_agree "$@")"; then
                        WAITED=$t
                        return 0
                fi
                sleep 1
        done
        AGREED=""
        WAITED=$limit
        return 1
}

# cl_agree HOST…: every given host's drsd names the same leader (non-empty) and term; prints it.
cl_agree() {
        local h l t first=""
        for h in "$@"; do
                l="$(cl_leader "$h")" || return 1
                t="$(cl_term "$h")" || return 1
                [[ -n "$l" ]] || return 1
                if [[ -z "$first" ]]; then first="$l/$t"; elif [[ "$first" != "$l/$t" ]]; then return 1; fi
        done
        echo "$first"
}

# cl_corosync_pid HOST: the testbed's recorded corosync PID of HOST.
cl_corosync_pid() { "$TB" pids | awk -v w="corosync:$1" '$2 == w {print $1}'; }

# cl_metrics HOST: the Prometheus text of HOST's drsd (CL_METRICS=1), scraped inside its namespace.
cl_metrics() {
        ip netns exec "$("$TB" netns "$1")" python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9477/metrics", timeout=5).read().decode())'
}

# cl_metric HOST NAME [LABELS]: the value of one series ("" when absent).
cl_metric() {
        local n="$2"
        [[ -n "${3:-}" ]] && n+="{$3}"
        cl_metrics "$1" | awk -v n="$n" '$1 == n {print $2; exit}'
}
