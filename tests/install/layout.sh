#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 'meson install' into a throwaway DESTDIR lays out every file an operator expects.
# Usage: layout.sh BUILDDIR PATH… (the absolute paths meson is configured to install to)
set -euo pipefail
builddir="$1"
shift
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT

meson install -C "$builddir" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1 ||
        { cat "$dest.log"; rm -f "$dest.log"; echo "FAIL: meson install"; exit 1; }
rm -f "$dest.log"

fail=0
for p in "$@"; do
        if [[ -e "$dest$p" ]]; then
                echo "ok $p"
        else
                echo "FAIL: missing $p"
                fail=1
        fi
done
# Nothing lands in /etc: configuration files are the package's conffiles, not meson's.
if [[ -d "$dest/etc" ]]; then
        echo "FAIL: meson installs into /etc:"
        find "$dest/etc" -type f
        fail=1
fi
exit "$fail"
