# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# What every end-to-end suite shares (sourced, not run): pass/fail counters with 'ok'/'FAIL'
# lines, section headers, a millisecond clock, the guest-console failure pattern, and the skip
# rule (exit 77 when meson runs the suite without DRS_E2E=1, or when not root).

BAD_CONSOLE='BUG:|Oops|general protection|Kernel panic|corruption'

passed=0
failed=0
ok() {
        passed=$((passed + 1))
        printf 'ok   %s\n' "$*"
}
fail() {
        failed=$((failed + 1))
        printf 'FAIL %s\n' "$*"
}
section() { printf '\n== %s\n' "$*"; }
now_ms() { date +%s%3N; }

# e2e_skip_unless_enabled NAME: exits 77 (skipped) unless this run may use the testbed.
e2e_skip_unless_enabled() {
        if [[ -n "${DRS_E2E_VIA_MESON:-}" && -z "${DRS_E2E:-}" ]]; then
                echo "$1: skipped (set DRS_E2E=1: 'DRS_E2E=1 meson test --suite e2e')"
                exit 77
        fi
        if ((EUID != 0)); then
                echo "$1: skipped (needs root)"
                exit 77
        fi
}
