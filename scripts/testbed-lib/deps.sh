# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# scripts/testbed deps: Debian packages for the testbed. Sourced by scripts/testbed.

# Never libvirt-daemon-system: it pulls systemd-sysv. The modular daemons are not used;
# the monolithic libvirtd from libvirt-daemon is started by hand per host.
TB_PACKAGES=(
        libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
        iproute2 busybox-static util-linux mount procps kmod
        corosync apt
        qemu-utils
        openssl
)
TB_BACKPORTS_FILE=/etc/apt/sources.list.d/drs-bookworm-backports.sources

tb_apt() {
        env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"
}

tb_pkg_installed() {
        [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# The mirror the existing Debian sources use (deb822 or one-line format).
tb_debian_mirror() {
        local f u
        for f in /etc/apt/sources.list.d/*.sources; do
                [[ -f "$f" ]] || continue
                u="$(awk '
                        /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = ""; next }
                        /^URIs:/ { uri = $2 }
                        /^Suites:/ { $1 = ""; suites = $0 " " }
                        END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }' "$f" | head -n1)"
                [[ -n "$u" ]] && { printf '%s\n' "$u"; return 0; }
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [[ -f "$f" ]] || continue
                u="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { uri = $i; suite = $(i + 1); break }
                                         if (suite == "bookworm") { print uri; exit } }' "$f")"
                [[ -n "$u" ]] && { printf '%s\n' "$u"; return 0; }
        done
        printf '%s\n' "http://deb.debian.org/debian"
}

# Adds bookworm-backports to apt's sources (if missing) and checks it can be read.
# Returns 0 when a backports qemu-system-x86 candidate is available.
tb_backports_ready() {
        local mirror
        TB_BACKPORTS_ADDED=0
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
                TB_BACKPORTS_ADDED=1
                mirror="$(tb_debian_mirror)"
                tb_log "adding bookworm-backports ($mirror) as $TB_BACKPORTS_FILE"
                cat >"$TB_BACKPORTS_FILE" <<EOS
# Added by drs scripts/testbed deps: QEMU from bookworm-backports (TCG live migration of
# guests that dirty memory is broken in bookworm's QEMU 7.2, fixed upstream in 9.0).
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
        fi
        if ! tb_apt update; then
                tb_log "apt-get update failed with bookworm-backports"
                return 1
        fi
        local pol
        pol="$(apt-cache policy qemu-system-x86 2>/dev/null || true)" # no grep -q in a pipe: pipefail
        [[ "$pol" == *bookworm-backports* ]]
}

tb_qemu_version() {
        dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true
}

cmd_deps() {
        [[ $EUID -eq 0 ]] || tb_die "deps: run as root"
        command -v dpkg-query >/dev/null || tb_die "deps: this expects Debian 12"
        local missing=() p want_bpo=1 qv
        [[ "${DRS_TESTBED_STOCK_QEMU:-0}" == 1 ]] && want_bpo=0
        for p in "${TB_PACKAGES[@]}"; do
                tb_pkg_installed "$p" || missing+=("$p")
        done
        qv="$(tb_qemu_version)"
        if ((want_bpo)) && [[ "$qv" == *bpo* ]]; then
                want_bpo=0
        elif [[ -n "$qv" && -f "$(tb_state_root)/.backports-unavailable" ]]; then
                # Backports could not be had before and stock QEMU is installed: do not retry
                # every time (remove that file, or 'apt-get install -t bookworm-backports
                # qemu-system-x86' by hand, to try again).
                want_bpo=0
        fi
        if ((${#missing[@]} == 0)) && ((want_bpo == 0)) && [[ -n "$qv" ]]; then
                tb_log "deps: all installed (qemu-system-x86 $qv)"
                return 0
        fi
        local installed_qemu=0
        if ((want_bpo)); then
                if tb_backports_ready; then
                        tb_log "deps: installing qemu-system-x86 from bookworm-backports"
                        if tb_apt install -y --no-install-recommends -t bookworm-backports qemu-system-x86; then
                                installed_qemu=1
                                rm -f "$(tb_state_root)/.backports-unavailable"
                        else
                                tb_log "deps: WARNING: bookworm-backports install failed"
                        fi
                fi
                if ((installed_qemu == 0)); then
                        if ((TB_BACKPORTS_ADDED)); then
                                # Do not leave a source that breaks everyone's apt-get update.
                                rm -f "$TB_BACKPORTS_FILE"
                                tb_apt update || true
                        fi
                        tb_log "deps: WARNING: bookworm-backports not reachable: falling back to bookworm's QEMU 7.2"
                        tb_log "deps: WARNING: guests in mode 'dirty' may be corrupted by live migration with QEMU 7.2 (TCG)"
                        mkdir -p "$(tb_state_root)" && : >"$(tb_state_root)/.backports-unavailable"
                fi
        else
                tb_apt update || tb_log "deps: apt-get update failed; trying with the lists we have"
        fi
        if ((installed_qemu == 0)) && [[ -z "$(tb_qemu_version)" ]]; then
                missing+=(qemu-system-x86)
        fi
        if ((${#missing[@]})); then
                tb_log "deps: installing ${missing[*]}"
                # Packaged services (corosync) must not start in the root namespace on install.
                local prc=/usr/sbin/policy-rc.d made_prc=0
                if [[ ! -e "$prc" ]]; then
                        printf '#!/bin/sh\n# drs scripts/testbed deps: no service starts during install\nexit 101\n' >"$prc"
                        chmod 755 "$prc"
                        made_prc=1
                fi
                local rc=0
                tb_apt install -y --no-install-recommends "${missing[@]}" || rc=$?
                ((made_prc == 0)) || rm -f "$prc"
                ((rc == 0)) || tb_die "deps: apt-get install failed"
        fi
        tb_log "deps: done (qemu-system-x86 $(tb_qemu_version))"
}
