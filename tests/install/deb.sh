#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian package from a clean copy of HEAD (git archive: nothing is built in or
# left in the repository), runs lintian (errors fail, warnings are shown), installs the .deb
# into a throwaway root and checks the files, the conffiles and that 'man drsctl' renders.
# Usage: deb.sh [--if-enabled] SOURCE-ROOT
#   --if-enabled   skip (77) unless DRS_DEB_TEST=1 (how meson test runs it: it is slow)
# Needs: dpkg-dev, debhelper, the Build-Depends, lintian (optional), git.
set -euo pipefail
if [[ "${1:-}" == --if-enabled ]]; then
        shift
        [[ "${DRS_DEB_TEST:-}" == 1 ]] || { echo "SKIP: set DRS_DEB_TEST=1 to build the .deb"; exit 77; }
fi
root="$(cd "$1" && pwd)"
for c in dpkg-buildpackage dh git; do
        command -v "$c" >/dev/null || { echo "SKIP: no $c"; exit 77; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
        echo "FAIL: $*"
        fail=1
}

# The committed tree only: what a release tarball would hold.
mkdir "$tmp/src"
git -c safe.directory="$root" -C "$root" archive HEAD | tar -x -C "$tmp/src"
version="$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version)"

echo "=== dpkg-buildpackage -us -uc -b (drs $version)"
if ! (cd "$tmp/src" && dpkg-buildpackage -us -uc -b -j"${DRS_JOBS:-2}") >"$tmp/build.log" 2>&1; then
        tail -n 60 "$tmp/build.log"
        echo "FAIL: dpkg-buildpackage"
        exit 1
fi
deb="$(ls "$tmp"/drs_*.deb)"
echo "built $(basename "$deb")"

if command -v lintian >/dev/null; then
        echo "=== lintian"
        lintian --fail-on error --display-info "$tmp"/drs_*.changes && rc=0 || rc=$?
        ((rc == 0)) || bad "lintian reports errors"
else
        echo "note: no lintian"
fi

echo "=== contents"
dpkg-deb -x "$deb" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/control"
for p in /usr/sbin/drsd /usr/bin/drsctl \
        /lib/systemd/system/drsd.service /lib/systemd/system/drsd.socket \
        /usr/lib/sysusers.d/drs.conf /usr/lib/systemd/catalog/drs.catalog \
        /usr/share/man/man8/drsd.8.gz /usr/share/man/man8/drsctl.8.gz \
        /usr/share/man/man5/drs-policy.5.gz /usr/share/man/man5/drsd.yaml.5.gz \
        /usr/share/bash-completion/completions/drsctl \
        /usr/share/doc/drs/examples/drsd.yaml /usr/share/doc/drs/examples/cluster.yaml \
        /etc/drs/drsd.yaml /etc/drs/policy.yaml; do
        [[ -e "$tmp/root$p" || -e "$tmp/root$p.gz" ]] && echo "ok $p" || bad "missing $p"
done
for c in /etc/drs/drsd.yaml /etc/drs/policy.yaml; do
        grep -qx "$c" "$tmp/control/conffiles" 2>/dev/null || bad "$c is not a conffile"
done
grep -q systemd-sysusers "$tmp/control/postinst" || bad "postinst does not create the admin group"
# What the postinst does, in the throwaway root: the admin group of the shipped drsd.yaml.
if command -v systemd-sysusers >/dev/null; then
        systemd-sysusers --root="$tmp/root" drs.conf
        grep -q '^drs:' "$tmp/root/etc/group" && echo "ok group drs" || bad "systemd-sysusers created no group 'drs'"
fi
"$tmp/root/usr/sbin/drsd" --version || bad "drsd does not run"
"$tmp/root/usr/bin/drsctl" policy check "$tmp/root/etc/drs/policy.yaml" >/dev/null ||
        bad "the shipped /etc/drs/policy.yaml is not valid"

echo "=== man drsctl"
text="$(MANWIDTH=80 man -l "$tmp/root/usr/share/man/man8/drsctl.8.gz" 2>&1)" || bad "man -l drsctl.8.gz: $text"
grep -q '^NAME' <<<"$text" && head -n 5 <<<"$text" || bad "drsctl.8 renders no NAME"

exit "$fail"
