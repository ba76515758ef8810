#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# drsctl's bash completion: the commands and options it offers are exactly drsctl.c's verbs
# and long options; host names come from drsd, and a missing drsd costs nothing.
# Usage: completion.sh SOURCE-ROOT DRSCTL
set -euo pipefail
root="$1"
drsctl="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
        echo "FAIL: $*"
        fail=1
}

# shellcheck source=agent/ctl/drsctl-completion.bash
source "$root/agent/ctl/drsctl-completion.bash"

# complete WORD…: COMPREPLY for the command line WORD… (the last word is the one completed),
# sorted, space-separated.
complete_line() {
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _drsctl
        printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() {
        local want="$1" got
        shift
        got="$(complete_line "$@")"
        [[ "$got" == "$want" ]] || bad "'$*': got '$got', want '$want'"
}

# The verbs and long options of drsctl.c's tables.
verbs="$(sed -n '/^static const Verb verbs\[\]/,/^};/s/^[[:space:]]*{"\([a-z-]*\)",.*/\1/p' \
        "$root/agent/ctl/drsctl.c" | sort | tr '\n' ' ' | sed 's/ $//')"
opts="$(sed -n '/static const struct option options\[\]/,/};/s/^[[:space:]]*{"\([a-z-]*\)",.*/--\1/p' \
        "$root/agent/ctl/drsctl.c" | sort | tr '\n' ' ' | sed 's/ $//')"
[[ -n "$verbs" && -n "$opts" ]] || bad "could not read the verbs and options from agent/ctl/drsctl.c"

expect "$verbs" drsctl ""
expect "$opts" drsctl --
expect "evacuate exit-maintenance" drsctl e
expect "--json" drsctl status --js
expect "check" drsctl policy ""
expect "" drsctl --time-limit ""

# Host names from a drsd: a stand-in drsctl that prints what 'hosts --json' prints.
mkdir "$tmp/bin"
cat >"$tmp/bin/drsctl" <<'STUB'
#!/bin/sh
printf '%s\n' "$*" >>"${0%/*}/calls"
cat <<JSON
{
  "hosts":[
    {
      "name":"h01",
      "state":"up",
      "blockers":[ { "vm":"web1", "why":"no room" } ]
    },
    {
      "name":"h02",
      "state":"maintenance"
    }
  ]
}
JSON
STUB
chmod +x "$tmp/bin/drsctl"
PATH="$tmp/bin:$PATH" expect "h01 h02" drsctl evacuate ""
PATH="$tmp/bin:$PATH" expect "h02" drsctl --json exit-maintenance h02
grep -q 'hosts --json' "$tmp/bin/calls" || bad "the stand-in drsctl was not asked"
PATH="$tmp/bin:$PATH" expect "h01 h02" drsctl --socket /x/y.sock power-clear ""
grep -q -- '--socket /x/y.sock hosts --json' "$tmp/bin/calls" || bad "--socket was not passed on"
PATH="$tmp/bin:$PATH" expect "" drsctl evacuate h01 ""

# No drsd: the real drsctl fails; the completion offers nothing and prints nothing.
mkdir "$tmp/real"
ln -s "$(realpath "$drsctl")" "$tmp/real/drsctl"
out="$(PATH="$tmp/real:$PATH" complete_line drsctl --socket "$tmp/none.sock" evacuate "" 2>&1)"
[[ -z "$out" ]] || bad "without a drsd: got '$out', want nothing"

((fail == 0)) && echo "completion ok: verbs '$verbs'"
exit "$fail"
