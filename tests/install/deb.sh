#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian packages (drs, cockpit-drs) from a clean copy of HEAD (git archive: nothing is built in or
# left in the repository), runs lintian (errors fail, warnings are shown), then really installs
# the .deb with dpkg into a throwaway root (dpkg --root with its own admin directory and
# --force-script-chrootless, so the maintainer scripts run with DPKG_ROOT set and the postinst's
# systemd-sysusers creates the admin group in ROOT/etc/group), checks what got installed, that
# 'man drsctl' renders and the programs run, removes and purges it, and checks that the host's
# dpkg database, /etc/{passwd,group,shadow,gshadow} and systemd enablement state are unchanged.
# Usage: deb.sh [--if-enabled] SOURCE-ROOT
#   --if-enabled   skip (77) unless DRS_DEB_TEST=1 (how meson test runs it: it is slow)
# Needs root (dpkg -i), dpkg-dev, debhelper, the Build-Depends, man-db, groff, systemd
# (systemd-sysusers), git, lintian (optional): scripts/check installs them (DRS_PACKAGES).
# shellcheck disable=SC2016 # dpkg-query formats and bash -c scripts are single-quoted on purpose
set -euo pipefail
if [[ "${1:-}" == --if-enabled ]]; then
        shift
        [[ "${DRS_DEB_TEST:-}" == 1 ]] || { echo "SKIP: set DRS_DEB_TEST=1 to build the .deb"; exit 77; }
fi
root="$(cd "$1" && pwd)"
for c in dpkg-buildpackage dh git dpkg-query man groff systemd-sysusers; do
        command -v "$c" >/dev/null || { echo "SKIP: no $c (scripts/check installs it)"; exit 77; }
done
((EUID == 0)) || { echo "SKIP: dpkg -i into a throwaway root needs root"; exit 77; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
        echo "FAIL: $*"
        fail=1
}
ok() {
        echo "ok $*"
}
# check DESCRIPTION COMMAND…: ok or FAIL by the command's status.
check() {
        local what="$1"
        shift
        if "$@"; then ok "$what"; else bad "$what"; fi
}
# shellcheck disable=SC2317 # called through check
quiet() {
        "$@" >/dev/null
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
cdeb="$(ls "$tmp"/cockpit-drs_*.deb 2>/dev/null || true)"
[[ -n "$cdeb" ]] && echo "built $(basename "$cdeb")" || bad "no cockpit-drs package built"

if command -v lintian >/dev/null; then
        echo "=== lintian"
        lintian --fail-on error --display-info "$tmp"/drs_*.changes && rc=0 || rc=$?
        ((rc == 0)) || bad "lintian reports errors"
else
        echo "note: no lintian"
fi

# What a throwaway install must not change on the host.
host_state() {
        local f
        for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow /var/lib/dpkg/status; do
                if [[ -e "$f" ]]; then sha256sum "$f"; fi
        done
        { find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
                /var/lib/systemd/deb-systemd-helper-masked -printf '%p %l\n' 2>/dev/null || true; } | sort
}
host_state >"$tmp/host.before"

# The throwaway root: an empty dpkg database, a minimal passwd/group for systemd-sysusers to
# add to, and a policy-rc.d that forbids starting services in it.
inst="$tmp/inst"
admin="$inst/var/lib/dpkg"
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$inst/etc" "$inst/var/log" "$inst/usr/sbin"
: >"$admin/status"
: >"$admin/available"
echo 'root:x:0:0:root:/root:/bin/sh' >"$inst/etc/passwd"
echo 'root:x:0:' >"$inst/etc/group"
printf '#!/bin/sh\nexit 101\n' >"$inst/usr/sbin/policy-rc.d"
chmod 755 "$inst/usr/sbin/policy-rc.d"
# Chrootless maintainer scripts run the host's programs. debhelper 13.11's snippets call
# 'systemctl daemon-reload' (and deb-systemd-invoke 'systemctl is-enabled') whenever the host
# runs systemd, DPKG_ROOT or not: a stub systemctl first in PATH keeps them off the host's
# manager and records what they asked.
mkdir "$tmp/stub"
printf '#!/bin/sh\necho "systemctl $*" >>"%s"\nexit 0\n' "$tmp/systemctl.log" >"$tmp/stub/systemctl"
chmod 755 "$tmp/stub/systemctl"
# --log: the host's dpkg.cfg would log to the host's /var/log/dpkg.log. --path-include: a
# host dpkg.cfg.d that excludes /usr/share/man or /usr/share/doc (container images) must not
# thin out the throwaway install.
rdpkg() {
        PATH="$tmp/stub:$PATH" dpkg --root="$inst" --log="$inst/var/log/dpkg.log" \
                --force-script-chrootless --path-include='*' "$@"
}
q() {
        dpkg-query --admindir="$admin" "$@"
}

echo "=== dpkg -i into a throwaway root"
if ! rdpkg --force-depends -i "$deb" >"$tmp/install.log" 2>&1; then
        cat "$tmp/install.log"
        echo "FAIL: dpkg --root -i $(basename "$deb")"
        exit 1
fi
# The log without --force-depends' list of the (host's) libraries missing from the root.
grep -v -e '^dpkg: drs: dependency problems' -e '^ drs depends on' -e '^  Package .* is not installed' \
        -e '^$' "$tmp/install.log" | sed 's/^/  | /' || true
status="$(q -W -f='${Status}' drs 2>&1 || true)"
if [[ "$status" == "install ok installed" ]]; then
        ok "status: $status"
else
        bad "status: '$status', not 'install ok installed'"
fi
q -L drs >"$tmp/files" 2>&1 || bad "dpkg -L drs: $(cat "$tmp/files")"
echo "dpkg -L drs: $(wc -l <"$tmp/files") paths"
for p in /usr/sbin/drsd /usr/bin/drsctl \
        /lib/systemd/system/drsd.service /lib/systemd/system/drsd.socket \
        /usr/lib/sysusers.d/drs.conf /usr/lib/systemd/catalog/drs.catalog \
        /usr/share/man/man8/drsd.8.gz /usr/share/man/man8/drsctl.8.gz \
        /usr/share/man/man5/drs-policy.5.gz /usr/share/man/man5/drsd.yaml.5.gz \
        /usr/share/bash-completion/completions/drsctl \
        /usr/share/doc/drs/examples/drsd.yaml /usr/share/doc/drs/examples/cluster.yaml \
        /usr/share/doc/drs/copyright /etc/drs/drsd.yaml /etc/drs/policy.yaml /etc/drs/policy.d; do
        if ! grep -qx "$p" "$tmp/files"; then
                bad "dpkg -L drs does not list $p"
        elif [[ ! -e "$inst$p" ]]; then
                bad "$p is listed but not in the root"
        else
                ok "$p"
        fi
done
# Every regular file dpkg lists is in the root (nothing dropped by a path-exclude).
missing=0
while IFS= read -r p; do
        [[ -e "$inst$p" ]] || { bad "listed but missing: $p"; missing=1; }
done <"$tmp/files"
((missing)) || ok "every path dpkg -L lists is in the root"
if [[ -x "$inst/usr/sbin/drsd" && -x "$inst/usr/bin/drsctl" ]]; then
        ok "drsd and drsctl are executable"
else
        bad "drsd or drsctl is not executable"
fi
conffiles="$(q -W -f='${Conffiles}\n' drs)"
for c in /etc/drs/drsd.yaml /etc/drs/policy.yaml; do
        if grep -q "^ $c " <<<"$conffiles"; then
                ok "conffile $c"
        else
                bad "$c is not a conffile"
        fi
done

echo "=== postinst: the admin group"
if grep -q '^drs:x:[0-9]*:' "$inst/etc/group"; then
        ok "ROOT/etc/group: $(grep '^drs:' "$inst/etc/group")"
else
        bad "the postinst created no group 'drs' in ROOT/etc/group"
fi
# The service is installed, not enabled (debian/rules: dh_installsystemd --no-enable).
if compgen -G "$inst/etc/systemd/system/*.wants/drsd.*" >/dev/null; then
        bad "drsd is enabled in the root: $(ls "$inst"/etc/systemd/system/*.wants/drsd.*)"
else
        ok "drsd.service and drsd.socket are not enabled"
fi
if [[ -s "$tmp/systemctl.log" ]]; then
        echo "note: the maintainer scripts asked the (stub) systemctl: $(paste -sd';' "$tmp/systemctl.log")"
fi

echo "=== the installed programs"
# LD_LIBRARY_PATH unset: the runtime libraries are the host's (the package's Depends).
if version="$(env -u LD_LIBRARY_PATH "$inst/usr/sbin/drsd" --version 2>&1)"; then
        ok "drsd --version: $version"
else
        bad "drsd --version: $version"
fi
if version="$(env -u LD_LIBRARY_PATH "$inst/usr/bin/drsctl" --version 2>&1)"; then
        ok "drsctl --version: $version"
else
        bad "drsctl --version: $version"
fi
check "drsctl --help" quiet env -u LD_LIBRARY_PATH "$inst/usr/bin/drsctl" --help
check "drsctl policy check /etc/drs/policy.yaml (the shipped conffile is valid)" \
        quiet env -u LD_LIBRARY_PATH "$inst/usr/bin/drsctl" policy check "$inst/etc/drs/policy.yaml"
check "the bash completion registers for drsctl" \
        bash -c 'source "$1" && complete -p drsctl >/dev/null' _ "$inst/usr/share/bash-completion/completions/drsctl"
if command -v journalctl >/dev/null; then
        ids="$(grep -c '^-- [0-9a-f]\{32\}' "$inst/usr/lib/systemd/catalog/drs.catalog" || true)"
        if journalctl --root="$inst" --update-catalog >"$tmp/catalog.log" 2>&1 &&
                listed="$(journalctl --root="$inst" --list-catalog 2>/dev/null | wc -l)" && ((ids > 0 && listed >= ids)); then
                ok "journal catalog: $ids entries, $listed in ROOT's catalog database"
        else
                bad "journalctl --root --update-catalog: $ids entries in drs.catalog, ${listed:-0} listed: $(cat "$tmp/catalog.log")"
        fi
fi

echo "=== man drsctl"
for page in "$inst"/usr/share/man/man[58]/*.gz; do
        warnings="$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)"
        if [[ -z "$warnings" ]]; then
                ok "groff -ww ${page#"$inst"}: no warnings"
        else
                bad "groff -ww ${page#"$inst"}: $warnings"
        fi
done
page="$inst/usr/share/man/man8/drsctl.8.gz"
if MANWIDTH=80 man -l "$page" >"$tmp/man.out" 2>"$tmp/man.err"; then
        if [[ -s "$tmp/man.err" ]]; then
                bad "man -l drsctl.8.gz warns: $(cat "$tmp/man.err")"
        elif grep -q '^NAME' "$tmp/man.out" && grep -q '^ *drsctl ' "$tmp/man.out"; then
                ok "man drsctl renders ($(wc -l <"$tmp/man.out") lines)"
                sed -n '1,5p' "$tmp/man.out"
        else
                bad "man -l drsctl.8.gz renders no NAME / drsctl"
        fi
else
        bad "man -l drsctl.8.gz: $(cat "$tmp/man.err")"
fi

echo "=== cockpit-drs"
cockpit_files=(manifest.json index.html drs.js drsctl.js chart.js drs.css)
if [[ -n "$cdeb" ]]; then
        arch="$(dpkg-deb -f "$cdeb" Architecture)"
        [[ "$arch" == all ]] && ok "cockpit-drs is Architecture: all" || bad "cockpit-drs is Architecture: $arch"
        deps="$(dpkg-deb -f "$cdeb" Depends)"
        if grep -q 'cockpit-bridge' <<<"$deps" && grep -q 'drs (= \|drs (>= ' <<<"$deps"; then
                ok "cockpit-drs Depends: $deps"
        else
                bad "cockpit-drs Depends: '$deps' (want cockpit-bridge and drs)"
        fi
        if rdpkg --force-depends -i "$cdeb" >"$tmp/cinstall.log" 2>&1; then
                ok "dpkg -i $(basename "$cdeb")"
        else
                cat "$tmp/cinstall.log"
                bad "dpkg --root -i $(basename "$cdeb")"
        fi
        q -L cockpit-drs >"$tmp/cfiles" 2>&1 || bad "dpkg -L cockpit-drs: $(cat "$tmp/cfiles")"
        for f in "${cockpit_files[@]}"; do
                p="/usr/share/cockpit/drs/$f"
                if grep -qx "$p" "$tmp/cfiles" && [[ -s "$inst$p" ]]; then ok "$p"; else bad "cockpit-drs lacks $p"; fi
        done
        # Exactly the page, its copyright, changelog and lintian override: nothing of drs itself.
        extra="$(grep -v -e '^/usr/share/cockpit' -e '^/usr/share/doc' -e '^/usr/share/lintian' -e '^/\.$' -e '^/usr$' -e '^/usr/share$' \
                "$tmp/cfiles" || true)"
        [[ -z "$extra" ]] && ok "cockpit-drs holds only the page and its docs" || bad "cockpit-drs also holds: $extra"
        if grep -q '^/usr/share/cockpit' "$tmp/files"; then bad "drs holds Cockpit files"; else ok "drs holds no Cockpit file"; fi
        check "manifest.json is JSON" quiet python3 -m json.tool "$inst/usr/share/cockpit/drs/manifest.json"
        # The page's modules import each other by relative path: every import resolves in the package.
        missing_imports=0
        while IFS= read -r m; do
                [[ -s "$inst/usr/share/cockpit/drs/$m" ]] || { bad "an import of ./$m that the package lacks"; missing_imports=1; }
        done < <(sed -n 's/^import .* from "\.\/\([^"]*\)";$/\1/p' "$inst"/usr/share/cockpit/drs/*.js)
        ((missing_imports)) || ok "every module the page imports is in the package"
        if command -v node >/dev/null; then
                for f in "$inst"/usr/share/cockpit/drs/*.js; do
                        check "node --check ${f#"$inst"} (an ES module)" quiet node --input-type=module --check <"$f"
                done
        fi
        if rdpkg -P cockpit-drs >"$tmp/cpurge.log" 2>&1 && [[ ! -e "$inst/usr/share/cockpit/drs" ]]; then
                ok "dpkg -P cockpit-drs removes the page"
        else
                cat "$tmp/cpurge.log"
                bad "dpkg -P cockpit-drs"
        fi
fi

echo "=== dpkg -r, dpkg -P"
if rdpkg -r drs >"$tmp/remove.log" 2>&1; then
        ok "dpkg -r drs"
else
        cat "$tmp/remove.log"
        bad "dpkg -r drs"
fi
status="$(q -W -f='${Status}' drs 2>&1 || true)"
if [[ "$status" == "deinstall ok config-files" ]]; then
        ok "status: $status"
else
        bad "after -r: '$status'"
fi
for p in /usr/sbin/drsd /usr/bin/drsctl /lib/systemd/system/drsd.service /usr/share/man/man8/drsctl.8.gz; do
        [[ ! -e "$inst$p" ]] || bad "dpkg -r left $p"
done
if [[ -e "$inst/etc/drs/drsd.yaml" ]]; then
        ok "dpkg -r keeps the conffiles"
else
        bad "dpkg -r removed /etc/drs/drsd.yaml"
fi
if rdpkg -P drs >"$tmp/purge.log" 2>&1; then
        ok "dpkg -P drs"
else
        cat "$tmp/purge.log"
        bad "dpkg -P drs"
fi
status="$(q -W -f='${Status}' drs 2>/dev/null || true)"
if [[ -z "$status" || "$status" == "unknown ok not-installed" ]]; then
        ok "purged: not in the database"
else
        bad "after -P: '$status'"
fi
left=()
while IFS= read -r p; do
        if [[ -e "$inst$p" && ! -d "$inst$p" ]]; then left+=("$p"); fi
done <"$tmp/files"
if [[ -e "$inst/etc/drs" ]]; then left+=(/etc/drs); fi
if ((${#left[@]} == 0)); then
        ok "nothing of the package is left"
else
        bad "left after purge: ${left[*]}"
fi

echo "=== the host"
host_state >"$tmp/host.after"
if cmp -s "$tmp/host.before" "$tmp/host.after"; then
        ok "host /etc/{passwd,group,shadow,gshadow}, dpkg status and systemd state unchanged"
else
        bad "the throwaway install changed the host: $(diff "$tmp/host.before" "$tmp/host.after")"
fi
if grep -q '^drs:' /etc/group; then
        echo "note: the host has a group drs of its own (this test left /etc/group unchanged)"
fi

exit "$fail"
