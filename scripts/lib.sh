# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by scripts/check and scripts/demo: sourced, never run. Bash only.
#
# Provides: DRS_ROOT (the repository), drs_section, drs_info, drs_die,
# drs_install_packages (installs only the missing Debian packages), drs_setup_builddir.

# The repository root, whatever the caller's cwd is.
DRS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages the build and the tests need. gcc only recommends libc6-dev, and
# clang's sanitizer/libFuzzer runtimes are only a recommendation of clang too. The second
# line: man pages (scdoc, groff), the unit's security check (systemd-analyze; installing
# systemd does not make it PID 1) and the Debian package (debhelper, lintian). The last line:
# the Cockpit page's end-to-end suite (tests/e2e/cockpit.sh: cockpit-ws, its bridge and its shell
# (cockpit-system), headless chromium driven through chromedriver, curl). openssl: the testbed's
# throwaway CA and host certificates for the TLS migration suite (tests/e2e/drsd-tls.sh).
DRS_PACKAGES=(
        meson ninja-build gcc clang pkg-config libc6-dev libclang-rt-14-dev
        libyaml-dev libjson-c-dev libglpk-dev libcmocka-dev libvirt-dev libsystemd-dev libmicrohttpd-dev
        libcpg-dev libquorum-dev libvotequorum-dev libcorosync-common-dev
        clang-format git python3
        scdoc groff-base man-db bash-completion systemd debhelper dpkg-dev lintian
        cockpit-ws cockpit-bridge cockpit-system chromium chromium-driver curl
        openssl
)

# Parallelism: these machines have 2 cores.
DRS_JOBS="${DRS_JOBS:-2}"

drs_section() {
        printf '\n==== %s ====\n' "$*"
}

drs_info() {
        printf '%s\n' "$*"
}

drs_die() {
        printf '%s: error: %s\n' "${0##*/}" "$*" >&2
        exit 1
}

drs_pkg_installed() {
        [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# drs_install_packages PKG…: installs the packages that are missing, with one apt-get update.
drs_install_packages() {
        local missing=() p
        command -v dpkg-query >/dev/null || drs_die "dpkg-query not found: these scripts expect Debian 12"
        for p in "$@"; do
                drs_pkg_installed "$p" || missing+=("$p")
        done
        if ((${#missing[@]} == 0)); then
                drs_info "all ${#} packages already installed"
                return 0
        fi

        local sudo=()
        if ((EUID != 0)); then
                command -v sudo >/dev/null || drs_die "missing packages (${missing[*]}) and not root: run as root"
                sudo=(sudo)
        fi
        drs_info "installing: ${missing[*]}"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# drs_setup_builddir DIR MESON-OPTION…: configures DIR (relative to DRS_ROOT) with exactly
# these options; a no-op when it is already configured that way.
drs_setup_builddir() {
        local dir="$1"
        shift
        if [[ -f "$DRS_ROOT/$dir/meson-private/coredata.dat" ]]; then
                # Reconfigure in place; if the directory is unusable (older meson, broken), wipe it.
                meson configure "$DRS_ROOT/$dir" "$@" >/dev/null ||
                        meson setup --wipe "$DRS_ROOT/$dir" "$DRS_ROOT" "$@"
        else
                meson setup "$DRS_ROOT/$dir" "$DRS_ROOT" "$@"
        fi
}
