#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the drsctl binary the way operators and scripts do and checks exit statuses, error
# messages and the JSON it prints. TAP output.
#
# Usage: test-drsctl.sh DRSCTL SOURCE_ROOT
set -uo pipefail

drsctl="$1"
src="$2"
data="$src/tests/agent/data"
examples="$src/config/examples"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

n=0
failures=0
sanitizer_report='runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer'

ok() {
        n=$((n + 1))
        printf 'ok %d - %s\n' "$n" "$1"
}

not_ok() {
        n=$((n + 1))
        failures=$((failures + 1))
        printf 'not ok %d - %s\n' "$n" "$1"
        shift
        for line in "$@"; do
                printf '#   %s\n' "$line"
        done
        if [[ -s "$tmp/err" ]]; then
                sed 's/^/#   stderr: /' "$tmp/err" | head -20
        fi
}

# run EXPECTED-STATUS DESCRIPTION ARGS…: runs drsctl, stdout in $tmp/out, stderr in $tmp/err.
run() {
        local want="$1" desc="$2" rc=0
        shift 2
        "$drsctl" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        # Under ASan/UBSan a report exits 1, which is also drsctl's "partial": look for it.
        if grep -qE "$sanitizer_report" "$tmp/err"; then
                not_ok "$desc" "drsctl $*" "sanitizer report (exit status $rc)"
                return 1
        fi
        if ((rc == want)); then
                ok "$desc (exit $rc)"
                return 0
        fi
        not_ok "$desc" "drsctl $*" "expected exit status $want, got $rc"
        return 1
}

# check DESCRIPTION COMMAND…: ok when the command succeeds.
check() {
        local desc="$1"
        shift
        if "$@"; then
                ok "$desc"
        else
                not_ok "$desc" "$*"
        fi
}

# expect_stderr DESCRIPTION EXTENDED-REGEX
expect_stderr() {
        if grep -qE -- "$2" "$tmp/err"; then
                ok "$1"
        else
                not_ok "$1" "stderr does not match: $2"
        fi
}

# json_check DESCRIPTION PYTHON-EXPRESSION-OVER-d [FILE]: parses the JSON output and
# evaluates the expression with d bound to it (and snap to the snapshot file if given).
json_check() {
        local desc="$1" expr="$2" msg
        if msg="$(python3 - "$tmp/out" "$expr" 2>&1 <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
result = eval(sys.argv[2], {"d": d})
if result is not True:
    print("expression is", repr(result))
    sys.exit(1)
EOF
)"; then
                ok "$desc"
        else
                not_ok "$desc" "$expr" "$msg"
        fi
}

# --- command line ---------------------------------------------------------------------------

run 0 "--help" --help
check "--help documents exit statuses" grep -q 'Exit status' "$tmp/out"
run 0 "--version" --version
check "--version prints 'drsctl VERSION'" grep -qE '^drsctl [0-9]' "$tmp/out"
run 2 "no command"
run 2 "unknown command" frobnicate && expect_stderr "unknown command is named" "unknown command 'frobnicate'"
run 2 "policy without a subcommand" policy
run 2 "policy check without files" policy check
run 3 "plan without --snapshot asks drsd (unreachable here)" plan --socket /nonexistent/drsd.sock && expect_stderr "unreachable drsd is named" "cannot talk to drsd at '/nonexistent/drsd.sock'"
run 3 "status without drsd" status --socket /nonexistent/drsd.sock
run 2 "evacuate without a host" evacuate
run 2 "--dry-run on status" status --dry-run
run 2 "history with a bad --since" history --since yesterday --socket /nonexistent/drsd.sock
run 2 "migrate without --to or --to-uri" migrate vm1 --socket /nonexistent/drsd.sock &&
        expect_stderr "migrate names what it needs" "one of --to HOST and --to-uri URI is required"
run 2 "migrate with both --to and --to-uri" migrate vm1 --to h2 --to-uri qemu+tls://x/system
run 2 "migrate --to-management-uri without --to-uri" migrate vm1 --to h2 --to-management-uri qemu:///system
run 2 "migrate without a VM" migrate --to h2
run 3 "migrate without drsd" migrate vm1 --to h2 --copy-storage --socket /nonexistent/drsd.sock
run 2 "move-storage without --pool" move-storage vm1 && expect_stderr "move-storage names --pool" "--pool POOL is required"
run 3 "move-storage without drsd" move-storage vm1 --pool fast --disk vda --socket /nonexistent/drsd.sock
run 2 "--copy-storage on evacuate" evacuate h1 --copy-storage
run 2 "--pool on migrate" migrate vm1 --to h2 --pool fast
run 2 "--remove-source on status" status --remove-source
run 2 "place with a file that is not a domain" place "$data/policy-ok.yaml" --socket /nonexistent/drsd.sock
run 2 "place with a bad memory unit" place "$data/domain-bad.xml" --socket /nonexistent/drsd.sock && expect_stderr "bad unit is named" "<memory>"
run 3 "place with a good domain, no drsd" place "$data/domain.xml" --socket /nonexistent/drsd.sock
run 3 "place with character references in the name, no drsd" place "$data/domain-refs.xml" --socket /nonexistent/drsd.sock
# A one-request stand-in for drsd: records the request, answers that h1 is the best host.
python3 - "$tmp/fake.sock" "$tmp/request.json" <<'EOF' &
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1] + ".new")
s.listen(1)
os.rename(sys.argv[1] + ".new", sys.argv[1])
s.settimeout(30)
c, _ = s.accept()
data = b""
while not data.endswith(b"\0"):
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
open(sys.argv[2], "wb").write(data.rstrip(b"\0"))
c.sendall(json.dumps({"parameters": {"host": "h1", "text": "h1\n"}}).encode() + b"\0")
c.close()
EOF
fake_pid=$!
for _ in $(seq 100); do [[ -S "$tmp/fake.sock" ]] && break; sleep 0.1; done
run 0 "place sends the name with its references decoded" place "$data/domain-refs.xml" --socket "$tmp/fake.sock" &&
        cp "$tmp/request.json" "$tmp/out" &&
        json_check "the request names 'café-01'" \
                'd["method"] == "drs.Place" and d["parameters"]["name"] == "caf\u00e9-01" and d["parameters"]["memory_mib"] == 512'
wait "$fake_pid" 2>/dev/null
run 2 "plan with a stray argument" plan --snapshot "$examples/cluster.yaml" extra
run 2 "--snapshot on policy check" policy check --snapshot "$examples/cluster.yaml" "$data/policy-ok.yaml"
run 2 "bad --time-limit" plan --snapshot "$examples/cluster.yaml" --time-limit abc
run 2 "unknown option" plan --frobnicate

# --- policy check ---------------------------------------------------------------------------

run 0 "policy check on a valid file" policy check "$data/policy-ok.yaml"
check "policy check prints the effective policy" test -s "$tmp/out"
cp "$tmp/out" "$tmp/effective.yaml"
run 0 "the printed effective policy checks again" policy check "$tmp/effective.yaml"
run 0 "policy check --json" --json policy check "$data/policy-ok.yaml" &&
        json_check "policy check --json is an object with balance and limits" \
                'isinstance(d, dict) and "balance" in d and "limits" in d'
run 0 "policy check on two files" policy check "$data/policy-ok.yaml" "$data/policy-ok-dropin.yaml"

run 2 "policy check on an unknown key" policy check "$data/policy-bad-key.yaml" &&
        expect_stderr "error names file:line:column and the key" \
                "^drsctl: [^ ]*policy-bad-key\.yaml:3:3: .*'aggresiveness'"
run 2 "policy check on an out-of-range value" policy check "$data/policy-bad-range.yaml" &&
        expect_stderr "error names file:line:column" "^drsctl: [^ ]*policy-bad-range\.yaml:2:19: "
run 2 "policy check: a good file then a bad one" policy check "$data/policy-ok.yaml" "$data/policy-bad-key.yaml" &&
        expect_stderr "error names the bad file" "policy-bad-key\.yaml:3:3: "
run 2 "policy check on a missing file" policy check "$tmp/does-not-exist.yaml" &&
        expect_stderr "error names the missing file" "does-not-exist\.yaml"

# --- plan -----------------------------------------------------------------------------------

plan_keys='all(k in d for k in ("status", "solver", "solve_ms", "gap", "before", "after", "moves", "power", "unplaceable"))'
metric_keys='all(k in d[w] for w in ("before", "after") for k in ("cpu_imbalance", "memory_imbalance", "max_cpu_utilization", "max_memory_utilization"))'
move_keys='all(all(k in m for k in ("wave", "vm", "from", "to", "reason", "memory_mib", "gain")) for m in d["moves"])'

# Exit 0 (a plan) or 1 (partial) are both a plan; the example cluster is expected to be 0.
# The optimizer runs in the JSON and maintenance cases; elsewhere --greedy-only keeps this fast.
run 0 "plan --snapshot cluster.yaml (table)" plan --snapshot "$examples/cluster.yaml" --greedy-only
check "plan prints a table" test -s "$tmp/out"

if run 0 "plan --snapshot cluster.yaml --json" plan --snapshot "$examples/cluster.yaml" --json; then
        json_check "plan JSON has the documented keys" "$plan_keys"
        json_check "plan JSON has before/after metrics" "$metric_keys"
        json_check "every move has the documented keys" "$move_keys"
        json_check "status is a known value" 'd["status"] in ("optimal", "feasible", "no_action", "partial")'
        json_check "the imbalanced example gets moves" 'len(d["moves"]) > 0'
        json_check "the plan lowers CPU imbalance" 'd["after"]["cpu_imbalance"] < d["before"]["cpu_imbalance"]'
        json_check "solve_ms was measured" 'isinstance(d["solve_ms"], (int, float)) and d["solve_ms"] >= 0'
fi

# Deterministic: the same input gives the same plan (solve_ms aside).
strip_time='import json,sys; d=json.load(open(sys.argv[1])); d.pop("solve_ms"); print(json.dumps(d, sort_keys=True))'
"$drsctl" plan --snapshot "$examples/cluster.yaml" --json --greedy-only >"$tmp/a.json" 2>"$tmp/err"
"$drsctl" plan --snapshot "$examples/cluster.yaml" --json --greedy-only >"$tmp/b.json" 2>"$tmp/err"
if [[ "$(python3 -c "$strip_time" "$tmp/a.json" 2>&1)" == "$(python3 -c "$strip_time" "$tmp/b.json" 2>&1)" ]] &&
        python3 -c "$strip_time" "$tmp/a.json" >/dev/null 2>&1 && ! grep -qE "$sanitizer_report" "$tmp/err"; then
        ok "plan --greedy-only is deterministic"
else
        not_ok "plan --greedy-only is deterministic"
fi
cp "$tmp/a.json" "$tmp/out"
json_check "--greedy-only plan says greedy" 'd["solver"] == "greedy"'

# Evacuation: every VM on the maintenance host is moved off or listed as unplaceable.
rc=0
"$drsctl" plan --snapshot "$examples/cluster-maintenance.yaml" --json >"$tmp/out" 2>"$tmp/err" || rc=$?
if ((rc == 0 || rc == 1)) && ! grep -qE "$sanitizer_report" "$tmp/err"; then
        ok "plan on cluster-maintenance.yaml (exit $rc)"
        maint_vms="$(python3 - "$examples/cluster-maintenance.yaml" <<'EOF'
import re, sys
hosts = set()
vms = []
for line in open(sys.argv[1]):
    m = re.search(r"name: ([\w-]+),.*state: maintenance", line)
    if m:
        hosts.add(m.group(1))
    m = re.search(r"\{name: ([\w-]+), host: ([\w-]+),", line)
    if m:
        vms.append((m.group(1), m.group(2)))
print(" ".join(sorted(v for v, h in vms if h in hosts)))
EOF
)"
        json_check "every VM leaves the maintenance host or is unplaceable" \
                "sorted({m['vm'] for m in d['moves'] if m['reason'] == 'maintenance'} | {u['vm'] for u in d['unplaceable']}) == sorted('$maint_vms'.split())"
        json_check "evacuation spreads over more than one host" \
                "len({m['to'] for m in d['moves'] if m['reason'] == 'maintenance'}) > 1"
else
        not_ok "plan on cluster-maintenance.yaml" "exit status $rc"
fi

# DPM: the quiet cluster with DPM on puts at least one host in standby.
rc=0
"$drsctl" plan --snapshot "$examples/cluster-dpm.yaml" --json >"$tmp/out" 2>"$tmp/err" || rc=$?
if ((rc == 0 || rc == 1)) && ! grep -qE "$sanitizer_report" "$tmp/err"; then
        ok "plan on cluster-dpm.yaml (exit $rc)"
        json_check "DPM puts a host in standby" 'any(p["action"] == "standby" for p in d["power"])'
else
        not_ok "plan on cluster-dpm.yaml" "exit status $rc"
fi

# --policy overlays a policy on the snapshot's.
run 0 "plan with --policy" plan --snapshot "$examples/cluster.yaml" --policy "$data/policy-ok.yaml" --json --greedy-only &&
        json_check "plan with --policy is a plan" "$plan_keys" &&
        json_check "--policy's max_moves_per_pass (10) applies" 'len([m for m in d["moves"] if m["reason"] == "balance"]) <= 10'
run 2 "plan with a bad --policy" plan --snapshot "$examples/cluster.yaml" --policy "$data/policy-bad-key.yaml" &&
        expect_stderr "bad --policy error names file:line:column" "policy-bad-key\.yaml:3:3: "

# Bad snapshots.
run 2 "plan on a snapshot with an unknown key" plan --snapshot "$data/snapshot-bad-key.yaml" &&
        expect_stderr "snapshot error names file:line:column and the key" \
                "^drsctl: [^ ]*snapshot-bad-key\.yaml:2:[0-9]+: .*'cores'"
run 2 "plan on a missing snapshot" plan --snapshot "$tmp/nope.yaml"
# A small snapshot plans in a small address space (the reader once allocated its 128 MiB bound
# up front). Not under AddressSanitizer, which reserves terabytes of address space.
if grep -qa __asan_init "$drsctl"; then
        n=$((n + 1))
        printf 'ok %d - plan --snapshot under ulimit -v 100000 # SKIP AddressSanitizer build\n' "$n"
else
        rc=0
        (ulimit -v 100000 && exec "$drsctl" plan --snapshot "$examples/cluster.yaml" --greedy-only) >"$tmp/out" 2>"$tmp/err" || rc=$?
        if ((rc == 0)) && test -s "$tmp/out"; then
                ok "plan --snapshot under ulimit -v 100000"
        else
                not_ok "plan --snapshot under ulimit -v 100000" "exit status $rc"
        fi
fi

# --- place ----------------------------------------------------------------------------------

if run 0 "place --vm" place --snapshot "$examples/cluster.yaml" --vm name=web09,vcpus=4,memory_mib=8192,cpu_demand=1.5 --json; then
        json_check "place --json is a plan" '"status" in d'
        json_check "place --json names the chosen host" 'd["placement"]["vm"] == "web09" and d["placement"]["host"].startswith("h")'
fi
run 0 "place VM.yaml" place --snapshot "$examples/cluster.yaml" "$data/vm-web09.yaml"
run 2 "place a VM.yaml with an unknown key" place --snapshot "$examples/cluster.yaml" "$data/vm-bad-key.yaml" &&
        expect_stderr "VM.yaml error names file:line:column" "^drsctl: [^ ]*vm-bad-key\.yaml:3:1: .*'memory'"
run 2 "place with both VM.yaml and --vm" place --snapshot "$examples/cluster.yaml" "$data/vm-web09.yaml" --vm name=x,vcpus=1,memory_mib=1
run 0 "place --vm (table)" place --snapshot "$examples/cluster.yaml" --vm name=web09,vcpus=4,memory_mib=8192
run 1 "place a VM that fits nowhere" place --snapshot "$examples/cluster.yaml" --vm name=huge,vcpus=8,memory_mib=1048576
run 2 "place with a bad --vm" place --snapshot "$examples/cluster.yaml" --vm name=x,vcpus=four,memory_mib=1 &&
        expect_stderr "--vm error names the value" "'four'"
run 2 "place without --vm or file" place --snapshot "$examples/cluster.yaml"
run 2 "--vm on plan" plan --snapshot "$examples/cluster.yaml" --vm name=x,vcpus=1,memory_mib=1

# --- rollout (offline dry run) ----------------------------------------------------------------

if run 0 "rollout dry run, --parallel auto" rollout start --dry-run --snapshot "$examples/cluster.yaml" --all --parallel auto --json; then
        # Golden: h01..h07 two at a time (three leave too little headroom), every wave checked.
        json_check "auto picks 2 hosts per wave on cluster.yaml" 'd["parallel"] == 2 and d["parallel_auto"]'
        json_check "auto's waves are h01 h02 | h03 h04 | h05 h06 | h07, all ok" \
                '[w["hosts"] for w in d["waves"]] == [["h01","h02"],["h03","h04"],["h05","h06"],["h07"]] and all(w["ok"] for w in d["waves"])'
fi
run 0 "rollout dry run of a group (table)" rollout start --dry-run --snapshot "$examples/cluster.yaml" --group rack2 --parallel 3
run 0 "rollout dry run of two hosts" rollout start --dry-run --snapshot "$examples/cluster.yaml" h03 h01
run 1 "rollout dry run whose wave cannot be emptied" rollout start --dry-run --snapshot "$examples/cluster.yaml" --all --parallel 6
run 2 "rollout dry run of an unknown host" rollout start --dry-run --snapshot "$examples/cluster.yaml" h99
run 2 "rollout with two host selections" rollout start --dry-run --snapshot "$examples/cluster.yaml" --all h01
run 2 "rollout --parallel 0" rollout start --dry-run --snapshot "$examples/cluster.yaml" --all --parallel 0
run 2 "rollout start without --command" rollout start --all
run 2 "--command on another verb" status --command x

printf '1..%d\n' "$n"
((failures == 0))
