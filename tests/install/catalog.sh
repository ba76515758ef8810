#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every MESSAGE_ID in the sources has exactly one entry in systemd/drs.catalog, and the other
# way round; every entry is complete; drsd(8) lists every ID; journalctl accepts the catalog.
# Usage: catalog.sh SOURCE-ROOT
set -euo pipefail
root="$1"
catalog="$root/systemd/drs.catalog"
fail=0
bad() {
        echo "FAIL: $*"
        fail=1
}

# IDs the code uses: the DRS_MESSAGE_* definitions and any literal MESSAGE_ID=<id>.
mapfile -t code_ids < <(
        {
                grep -rhoE '#define DRS_MESSAGE_[A-Z0-9_]+ "[0-9a-f]{32}"' "$root"/agent "$root"/common \
                        "$root"/policy "$root"/solver --include='*.[ch]' | grep -oE '[0-9a-f]{32}'
                grep -rhoE 'MESSAGE_ID=[0-9a-f]{32}' "$root"/agent "$root"/common "$root"/policy \
                        "$root"/solver --include='*.[ch]' | grep -oE '[0-9a-f]{32}'
        } | sort -u
)
mapfile -t catalog_ids < <(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort)
((${#code_ids[@]} > 0)) || bad "no MESSAGE_ID found in the sources"

dups="$(printf '%s\n' "${catalog_ids[@]}" | uniq -d)"
[[ -z "$dups" ]] || bad "duplicate catalog entries: $dups"
dups="$(grep -rhoE '#define DRS_MESSAGE_[A-Z0-9_]+ "[0-9a-f]{32}"' "$root"/agent --include='*.h' |
        grep -oE '[0-9a-f]{32}' | sort | uniq -d)"
[[ -z "$dups" ]] || bad "one ID for two messages: $dups"

for id in "${code_ids[@]}"; do
        # A here-string, not printf | grep -q: with pipefail, grep -q leaving early can kill
        # printf with SIGPIPE and fail the check (seen once in CI under load).
        grep -qx "$id" <<<"$(printf '%s\n' "${catalog_ids[@]}")" || bad "$id is used in the code but has no catalog entry"
        grep -q "$id" "$root/man/drsd.8.scd" || bad "$id is missing from man/drsd.8.scd's JOURNAL table"
done
for id in "${catalog_ids[@]}"; do
        grep -qx "$id" <<<"$(printf '%s\n' "${code_ids[@]}")" || bad "catalog entry $id is not used in the code"
done

# Each entry: Subject, Defined-By and Documentation headers, then a blank line and a body.
awk '
        function check() {
                if (!subj || !def || !doc || !body) {
                        printf "FAIL: %s: needs Subject:, Defined-By: drs, Documentation: and a body\n", id
                        bad = 1
                }
        }
        /^-- [0-9a-f]+$/ { if (id) check(); id = $2; subj = def = doc = body = 0; hdr = 1; next }
        !id { next }
        hdr && /^Subject: ./ { subj = 1; next }
        hdr && /^Defined-By: drs$/ { def = 1; next }
        hdr && /^Documentation: man:/ { doc = 1; next }
        hdr && /^$/ { hdr = 0; next }
        hdr { printf "FAIL: %s: unexpected header line: %s\n", id, $0; bad = 1; next }
        /./ { body = 1 }
        END { if (id) check(); exit bad }
' "$catalog" || fail=1

# journalctl's own parser, offline, in a throwaway root.
if command -v journalctl >/dev/null; then
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        mkdir -p "$tmp/usr/lib/systemd/catalog"
        cp "$catalog" "$tmp/usr/lib/systemd/catalog/drs.catalog"
        if journalctl --root="$tmp" --update-catalog 2>"$tmp/err" && [[ ! -s "$tmp/err" ]]; then
                mapfile -t listed < <(journalctl --root="$tmp" --list-catalog | awk '{print $1}' | sort)
                [[ "${listed[*]}" == "${catalog_ids[*]}" ]] ||
                        bad "journalctl lists '${listed[*]}', the file has '${catalog_ids[*]}'"
        else
                cat "$tmp/err"
                bad "journalctl --update-catalog rejected the catalog"
        fi
else
        echo "note: no journalctl, the catalog was not compiled"
fi

((fail == 0)) && echo "${#catalog_ids[@]} message IDs, each with a catalog entry"
exit "$fail"
