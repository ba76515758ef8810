#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every man page renders without a single groff warning (-ww), and man(1) shows it.
# Usage: man.sh PAGE…
set -euo pipefail
command -v groff >/dev/null || { echo "SKIP: no groff"; exit 77; }
fail=0
for page in "$@"; do
        warnings="$(groff -man -Tutf8 -ww -z "$page" 2>&1)"
        if [[ -n "$warnings" ]]; then
                printf 'FAIL: %s:\n%s\n' "$page" "$warnings"
                fail=1
        fi
        # Every page has NAME, SYNOPSIS, DESCRIPTION and SEE ALSO, and renders to text.
        text="$(MANWIDTH=80 man -l "$page" 2>&1)" || { printf 'FAIL: man -l %s: %s\n' "$page" "$text"; fail=1; continue; }
        for section in NAME SYNOPSIS DESCRIPTION 'SEE ALSO'; do
                grep -q "^$section" <<<"$text" || { echo "FAIL: $page has no $section"; fail=1; }
        done
        echo "$page: $(wc -l <<<"$text") lines"
done
exit "$fail"
