#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The drs page in Cockpit, in a real browser: Debian's chromium (headless, driven over WebDriver
# by chromedriver from tests/e2e/lib/cockpit-page.py, python3's stdlib only) opens the page in
# real cockpit-ws sessions (--local-session: cockpit-ws runs cockpit-bridge as its own user, on
# 127.0.0.1) against a real drsd on the testbed. Two users that exist only in a private copy of
# /etc/passwd and /etc/group (bind-mounted in a mount namespace of their own for drsd and for
# each cockpit-ws; the host's files are untouched): 'drsop' in drsd's admin group 'drsadm', and
# 'drsview' outside it. drsop's page lists the 3 hosts with states and bars, draws the imbalance,
# shows the plan (automation manual, a keep-apart rule that h1 breaks); evacuates h1 (dry run,
# confirm, apply the recommended moves) — h1 empty as libvirt says, the page shows it in
# maintenance — and takes it out of maintenance. drsview's page is read only and says why, and
# drsctl run as drsview is refused. A third cockpit-ws whose drsctl is a fake with canned
# cluster-mode answers (tests/e2e/lib/fake-drsctl.py) checks what the testbed cannot show at once:
# leader/term/quorum, power actions, power-on-failed, blockers. Screenshots (1280×800, 420×900, dialog, read-only) go to
# BUILD/e2e-artifacts/cockpit/.
set -uo pipefail
SUITE=cockpit
export DRS_TESTBED_NAME="${DRS_TESTBED_NAME:-e2eckpit}"
export DRS_TESTBED_NET="${DRS_TESTBED_NET:-10.252.9}"
# shellcheck source=tests/e2e/lib/drsd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/drsd.sh"

WS=/usr/lib/cockpit/cockpit-ws
ARTIFACTS="$BUILD/e2e-artifacts/cockpit"
WS_PIDS=()
OP_UID=64101
VIEW_UID=64102
ADMIN_GID=64100

e2e_skip_unless_enabled "$SUITE"
for f in "$WS" /usr/bin/cockpit-bridge /usr/bin/chromium /usr/bin/chromedriver; do
        [[ -x "$f" ]] || {
                echo "$SUITE: skipped (no $f: scripts/check installs cockpit-ws, cockpit-bridge, chromium, chromium-driver)"
                exit 77
        }
done

# Our cockpit-ws processes, by recorded PID only.
e2e_stop_hook() {
        local p k
        for p in "${WS_PIDS[@]}"; do
                kill -TERM "$p" 2>/dev/null || continue
                for ((k = 0; k < 50; k++)); do
                        kill -0 "$p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$p" 2>/dev/null || true
        done
        WS_PIDS=()
}

e2e_begin

# in_ns CMD…: CMD in a mount namespace of its own with the private passwd and group bound over
# the host's; every step execs, so $! of 'in_ns … &' is CMD's PID. It execs itself: call it
# only in a subshell ('&', '$(…)').
in_ns() {
        exec unshare --mount --propagation private -- /bin/sh -c \
                'mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/group" /etc/group && exec "$@"' \
                "$WORK/etc" "$@"
}
# as_user UID CMD…: in_ns, as that user with the groups the private /etc/group gives it.
as_user() {
        local uid="$1"
        shift
        in_ns setpriv --reuid="$uid" --regid="$uid" --init-groups \
                env -i HOME="$WORK/home-$uid" PATH="$WORK/bin:/usr/bin:/bin" DRS_SOCKET="$WORK/drsd.sock" \
                XDG_DATA_DIRS="$WORK/share:/usr/share" LANG=C.UTF-8 "$@"
}

section "users, the page, drsctl for cockpit-bridge"
chmod 0711 "$WORK"
mkdir -p "$WORK/etc" "$WORK/bin" "$WORK/share/cockpit" "$ARTIFACTS"
cp /etc/passwd "$WORK/etc/passwd"
cp /etc/group "$WORK/etc/group"
{
        echo "drsop:x:$OP_UID:$OP_UID:drs operator:$WORK/home-$OP_UID:/bin/sh"
        echo "drsview:x:$VIEW_UID:$VIEW_UID:drs viewer:$WORK/home-$VIEW_UID:/bin/sh"
} >>"$WORK/etc/passwd"
{
        echo "drsadm:x:$ADMIN_GID:drsop"
        echo "drsop:x:$OP_UID:"
        echo "drsview:x:$VIEW_UID:"
} >>"$WORK/etc/group"
chmod 0644 "$WORK/etc/passwd" "$WORK/etc/group"
for u in $OP_UID $VIEW_UID; do
        install -d -m 0700 -o "$u" -g "$u" "$WORK/home-$u"
done
# What the package installs: /usr/share/cockpit/drs (here found through XDG_DATA_DIRS) and drsctl.
cp -r "$ROOT/cockpit" "$WORK/share/cockpit/drs"
rm -f "$WORK/share/cockpit/drs/screenshot.png" "$WORK/share/cockpit/drs/meson.build"
install -m 0755 "$DRSCTL" "$WORK/bin/drsctl"
chmod -R a+rX "$WORK/share" "$WORK/bin"
ok "users drsop (in drsadm) and drsview, the page in $WORK/share/cockpit/drs"

section "guests: i1..i4 (idle) on h1, i5 (idle) on h2"
for g in i1 i2 i3 i4; do
        start_guest "$g" h1 128 idle || exit 1
done
start_guest i5 h2 128 idle || exit 1
ok "5 guests"

write_config "balance:
  aggressiveness: 3
  interval: 10s
automation:
  level: manual
groups:
  vms: {pair: [i1, i2]}
rules:
  - {name: pair-apart, type: keep-apart, vms: pair}"
echo "admin_group: drsadm" >>"$WORK/drsd.yaml"

# drsd in its own mount namespace too, to resolve the admin group from the private /etc/group.
in_ns "$DRSD" --foreground -c "$WORK/drsd.yaml" >>"$WORK/drsd.log" 2>&1 &
DRSD_PID=$!
for ((k = 0; k < 300; k++)); do
        [[ -S "$WORK/drsd.sock" ]] && ctl status >/dev/null 2>&1 && break
        kill -0 "$DRSD_PID" 2>/dev/null || break
        sleep 0.1
done
if ctl status >/dev/null 2>&1 && drsd_alive; then
        ok "drsd started (PID $DRSD_PID), admin group drsadm; socket $(stat -c '%A group %g' "$WORK/drsd.sock")"
else
        fail "drsd did not start (PID $DRSD_PID, exe $(readlink "/proc/$DRSD_PID/exe" 2>&1))"
        ctl status 2>&1 | tail -n 5
        exit 1
fi

section "cockpit-ws on 127.0.0.1 for drsop and drsview"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_ws() { # UID PORT
        as_user "$1" "$WS" --port "$2" --address 127.0.0.1 --local-session=cockpit-bridge \
                >>"$WORK/cockpit-ws-$1.log" 2>&1 &
        WS_PIDS+=($!)
        local k
        for ((k = 0; k < 100; k++)); do
                curl -fsS -o /dev/null "http://127.0.0.1:$2/cockpit/@localhost/drs/manifest.json" 2>/dev/null && return 0
                sleep 0.1
        done
        fail "cockpit-ws for uid $1 did not answer on port $2"
        cat "$WORK/cockpit-ws-$1.log"
        return 1
}
op_port="$(free_port)"
start_ws $OP_UID "$op_port" || exit 1
view_port="$(free_port)"
start_ws $VIEW_UID "$view_port" || exit 1
ok "cockpit-ws: drsop on :$op_port, drsview on :$view_port (PIDs ${WS_PIDS[*]})"
# A third, whose drsctl is tests/e2e/lib/fake-drsctl.py: canned cluster-mode answers.
fake_port="$(free_port)"
mkdir -p "$WORK/fake/bin"
install -m 0755 "$ROOT/tests/e2e/lib/fake-drsctl.py" "$WORK/fake/bin/drsctl"
: >"$WORK/fake/calls"
chmod 0666 "$WORK/fake/calls"
(exec env -i HOME="$WORK/fake" PATH="$WORK/fake/bin:/usr/bin:/bin" FAKE_DRSCTL_LOG="$WORK/fake/calls" \
        XDG_DATA_DIRS="$WORK/share:/usr/share" LANG=C.UTF-8 \
        "$WS" --port "$fake_port" --address 127.0.0.1 --local-session=cockpit-bridge \
        >>"$WORK/cockpit-ws-fake.log" 2>&1) &
WS_PIDS+=($!)
for ((k = 0; k < 100; k++)); do
        curl -fsS -o /dev/null "http://127.0.0.1:$fake_port/cockpit/@localhost/drs/manifest.json" 2>/dev/null && break
        sleep 0.1
done
ok "cockpit-ws with the fake drsctl on :$fake_port (PID ${WS_PIDS[-1]})"

section "drsctl as drsview: refused"
rc=0
out="$(as_user $VIEW_UID drsctl status 2>&1)" || rc=$?
if ((rc != 0)) && grep -q "Permission denied" <<<"$out"; then
        ok "drsctl status as drsview: exit $rc, $out"
else
        fail "drsctl status as drsview: exit $rc: $out"
fi
rc=0
out="$(as_user $OP_UID drsctl hosts 2>&1)" || rc=$?
((rc == 0)) && ok "drsctl hosts as drsop (admin group): exit 0" || fail "drsctl hosts as drsop: exit $rc: $out"

sleep 4 # two collection samples: demand known
section "the page in chromium"
page=/cockpit/@localhost/drs/index.html
uris=()
for h in "${HOSTS[@]}"; do uris+=(--uri "$h=$("$TB" uri "$h")"); done
python3 -B "$ROOT/tests/e2e/lib/cockpit-page.py" --admin "http://127.0.0.1:$op_port$page" \
        --viewer "http://127.0.0.1:$view_port$page" --artifacts "$ARTIFACTS" "${uris[@]}" \
        --ctl "$DRSCTL --socket $WORK/drsd.sock" --fake "http://127.0.0.1:$fake_port$page" --fake-log "$WORK/fake/calls" | tee "$WORK/page.log"
passed=$((passed + $(grep -c '^ok ' "$WORK/page.log")))
failed=$((failed + $(grep -c '^FAIL ' "$WORK/page.log")))
if ((failed > 0)); then
        for u in $OP_UID $VIEW_UID; do
                echo "--- cockpit-ws (uid $u)"
                tail -n 20 "$WORK/cockpit-ws-$u.log"
        done
fi

section "migrations (from drsd's history)"
print_migrations
section "guests"
check_guests
ls -l "$ARTIFACTS"
