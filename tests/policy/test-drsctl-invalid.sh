#!/usr/bin/env bash
# Every malformed policy of the golden set, checked through the CLI: `drsctl policy check`
# must exit 2 and print exactly the golden file:line:column message (prefixed "drsctl: ").
# A drop-in case (a directory) is checked as policy.yaml followed by policy.d/*.yaml in
# lexical order. Usage: test-drsctl-invalid.sh DRSCTL GOLDEN_DIR
set -u
drsctl="$(realpath "$1")"
cd "$2" || exit 1
pass=0
fail=0
n=0
check() { # check NAME EXPECTED_FILE FILE…
        local name="$1" expected="$2" out rc
        shift 2
        n=$((n + 1))
        out="$("$drsctl" policy check "$@" 2>&1 >/dev/null)"
        rc=$?
        if [[ $rc == 2 && "$out" == "drsctl: $(cat "$expected")" ]]; then
                pass=$((pass + 1))
                echo "ok $n - $name"
        else
                fail=$((fail + 1))
                echo "not ok $n - $name (exit $rc)"
                echo "#   expected: drsctl: $(cat "$expected")"
                echo "#   got:      $out"
        fi
}
for f in invalid/*.yaml; do
        check "${f%.yaml}" "${f%.yaml}.expected" "$f"
done
for d in invalid/*/; do
        d="${d%/}"
        files=("$d/policy.yaml")
        for f in "$d"/policy.d/*.yaml; do
                [[ -e "$f" ]] && files+=("$f")
        done
        check "$d" "$d.expected" "${files[@]}"
done
echo "1..$n"
echo "# $pass passed, $fail failed"
((fail == 0 && n >= 30))
