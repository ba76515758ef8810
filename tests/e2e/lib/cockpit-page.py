#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The drs Cockpit page in a real browser, against real cockpit-ws sessions and a real drsd
(run by tests/e2e/cockpit.sh, which sets up both). Prints 'ok …' / 'FAIL …' lines; exit status
= the number of failures (capped at 100).

  cockpit-page.py --admin URL --viewer URL --artifacts DIR --uri HOST=URI …

URL: the page in a cockpit-ws session of a member of drsd's admin group / of a user outside it.
URI: a testbed host's management URI: what libvirt runs is checked with virsh, not the page."""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Browser, WebDriverError  # noqa: E402

failures = 0


def ok(msg):
    print(f"ok   {msg}", flush=True)


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL {msg}", flush=True)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        fail(f"{msg}{': ' + str(detail) if detail != '' else ''}")
    return cond


def section(msg):
    print(f"\n== {msg}", flush=True)


def running_on(uri):
    out = subprocess.run(["virsh", "-q", "-c", uri, "list", "--name"], capture_output=True, text=True,
                         timeout=60).stdout
    return sorted(x for x in out.split() if x)


HOSTS_JS = """
return [...document.querySelectorAll('.host')].map(e => ({
    name: e.dataset.host, state: e.dataset.state,
    bars: [...e.querySelectorAll('[role=meter]')].map(b => Number(b.dataset.util)),
    vms: e.querySelector('.vms') ? e.querySelector('.vms').textContent : '',
    actions: [...e.querySelectorAll('button[data-action]')].map(b => b.dataset.action)}));
"""


def host_state(b, name):
    return b.js("const e = document.querySelector(`.host[data-host='${arguments[0]}']`);"
                "return e ? e.dataset.state : null;", name)


def wait_state(b, name, want, timeout):
    try:
        b.wait("const e = document.querySelector(`.host[data-host='${arguments[0]}']`);"
               "return e && e.dataset.state === arguments[1];", timeout, f"{name} {want}", name, want)
        return True
    except WebDriverError:
        return False


def shot(b, args, name, width=None, height=None):
    if width:
        b.resize(width, height)
        time.sleep(1)
    path = os.path.join(args.artifacts, name)
    n = b.screenshot(path)
    check(n > 1000, f"screenshot {path} ({n} bytes)")


def full_page(b, args, name):
    """The whole page at 1280 wide (WebDriver screenshots are of the viewport), then back to 1280×800."""
    b.resize(1280, 2400)
    time.sleep(0.5)
    height = b.js("return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)")
    shot(b, args, name, 1280, min(2400, height + 90))  # + the window's frame in headless chromium
    b.resize(1280, 800)


def admin_scenario(b, args, uris):
    section("admin: the cluster")
    t0 = time.monotonic()
    b.go(args.admin)
    try:
        b.wait("return document.body.dataset.access === 'admin' && document.querySelectorAll('.host').length === 3",
               60, "3 hosts on the page")
        ok(f"the page lists 3 hosts after {time.monotonic() - t0:.1f} s")
    except WebDriverError as e:
        fail(f"the page did not list the hosts: {e}; banner: {b.js('return document.body.innerText')[:400]}")
        return
    hosts = b.js(HOSTS_JS)
    check([h["name"] for h in hosts] == ["h1", "h2", "h3"], "hosts h1 h2 h3 in order", [h["name"] for h in hosts])
    check(all(h["state"] == "up" for h in hosts), "every host is up", [h["state"] for h in hosts])
    check(all(len(h["bars"]) == 2 for h in hosts), "every host has a CPU and a memory bar", [h["bars"] for h in hosts])
    h1 = next(h for h in hosts if h["name"] == "h1")
    n_h1 = len(running_on(uris["h1"]))
    check(h1["vms"].startswith(f"{n_h1} VM"), f"h1 shows the {n_h1} VMs libvirt runs there", h1["vms"])
    drsd = {x["name"]: x for x in json.loads(subprocess.run(args.ctl.split() + ["--json", "hosts"], capture_output=True,
                                                             text=True, timeout=60).stdout)["hosts"]}
    # The page refreshes every 5 s and drsd samples every 2 s: compare loosely.
    for h in hosts:
        want = [drsd[h["name"]]["cpu_utilization"], drsd[h["name"]]["memory_utilization"]]
        check(all(abs(a - b) < 0.05 for a, b in zip(h["bars"], want)),
              f"{h['name']}'s bars are drsd's measured demand (CPU {h['bars'][0]:.4f}, memory {h['bars'][1]:.4f})",
              f"drsd says {want}")
    check(h1["bars"][0] > 0 and h1["bars"][1] > 0, "h1's bars are not empty", h1["bars"])
    check(all("evacuate" in h["actions"] for h in hosts), "an admin gets an Evacuate button on every host")

    section("admin: imbalance chart, plan")
    try:
        b.wait("return document.querySelector('#imbalance svg path.line.cpu')", 40, "a line in the imbalance chart")
        ok("the imbalance chart draws the last hour's samples (SVG)")
    except WebDriverError as e:
        fail(f"imbalance chart: {e}")
    try:
        text = b.wait("const t = document.querySelector('#plan-summary'); "
                      "return t && document.querySelector('#plan table tbody tr') ? t.textContent : null",
                      40, "the plan with moves")
        ok(f"the plan is shown: {text}")
        rows = b.js("return [...document.querySelectorAll('#plan table tbody tr')].map(r => r.innerText)")
        check(any("pair-apart" in r for r in rows), "a move shows its reason (rule 'pair-apart') and gain", rows)
        check(b.js("return !!document.querySelector('button[data-action=apply]')"),
               "manual automation: the recommendations have an Apply button")
    except WebDriverError as e:
        fail(f"plan: {e}")
    check(b.js("return document.getElementById('rollout-card') !== null"), "the rolling-maintenance card is there")
    shot(b, args, "cockpit-1280x800.png")
    full_page(b, args, "cockpit-full-1280.png")
    shot(b, args, "cockpit-narrow-420x900.png", 420, 900)
    b.resize(1280, 800)

    section("admin: evacuate h1 (dry run, confirm)")
    before = running_on(uris["h1"])
    b.click(".host[data-host='h1'] button[data-action=evacuate]")
    try:
        b.wait("return document.getElementById('evacuate-dialog').dataset.phase === 'confirm'", 60, "the dry run")
        summary = b.js("return document.getElementById('evacuate-summary').textContent")
        rows = b.js("return [...document.querySelectorAll('#evacuate-body table tbody tr')].map(r => r.dataset.vm)")
        check(sorted(rows) == before, f"the dry run lists every VM on h1 ({', '.join(before)})", rows)
        ok(f"dry run: {summary}")
    except WebDriverError as e:
        fail(f"evacuation dry run: {e}")
        return
    check(running_on(uris["h1"]) == before and host_state(b, "h1") == "up", "the dry run changed nothing")
    shot(b, args, "cockpit-evacuate-dry-run.png")
    b.click("#evacuate-confirm")
    try:
        b.wait("return !document.getElementById('evacuate-dialog').open", 60, "the dialog to close")
        ok("confirmed: the dialog closed")
    except WebDriverError as e:
        fail(f"confirm: {e}")
    check(wait_state(b, "h1", "entering-maintenance", 30), "the page shows h1 entering-maintenance")

    # automation manual: even an evacuation's moves are recommendations until applied.
    try:
        b.wait("const a = document.querySelector('button[data-action=apply]'); return a && !a.disabled && "
               "[...document.querySelectorAll('#plan table tbody tr')].some(r => r.innerText.includes('maintenance'))",
               40, "the evacuation's moves as recommendations")
        ok("manual automation: the evacuation's moves wait as recommendations")
        b.click("button[data-action=apply]")
        ok("clicked Apply recommendations")
    except WebDriverError as e:
        fail(f"apply: {e}")

    t0 = time.monotonic()
    seen_flight = False
    while time.monotonic() - t0 < 240:
        if not seen_flight and b.js("return !!document.querySelector('#flight .flight.migration')"):
            seen_flight = True
            full_page(b, args, "cockpit-evacuating-1280.png")
        if not running_on(uris["h1"]):
            break
        time.sleep(1)
    left = running_on(uris["h1"])
    check(not left, f"libvirt: h1 runs no VM {time.monotonic() - t0:.0f} s after Apply", left)
    check(seen_flight, "the page showed a migration in flight")
    check(wait_state(b, "h1", "maintenance", 60), "the page shows h1 in maintenance", host_state(b, "h1"))
    shot(b, args, "cockpit-h1-maintenance.png")

    section("admin: exit maintenance")
    b.click(".host[data-host='h1'] button[data-action=exit-maintenance]")
    check(wait_state(b, "h1", "up", 30), "the page shows h1 up again")

    section("admin: history filters")
    try:
        b.wait("return document.querySelectorAll('#history tbody tr[data-type=migration]').length > 0", 30,
               "migrations in the history")
        b.js("const s = document.getElementById('f-type'); s.value = 'migration'; "
             "s.dispatchEvent(new Event('input'))")
        types = b.js("return [...document.querySelectorAll('#history tbody tr')].map(r => r.dataset.type)")
        check(types and all(t == "migration" for t in types), f"type filter: {len(types)} migration event(s) only")
        b.type("#f-vm", "no-such-vm")
        check(b.js("return document.querySelectorAll('#history tbody tr').length") == 0, "VM filter: no such VM, no rows")
    except WebDriverError as e:
        fail(f"history: {e}")


def viewer_scenario(b, args):
    section("a user outside the admin group")
    b.go(args.viewer)
    try:
        b.wait("return document.body.dataset.access === 'denied'", 60, "the read-only page")
        ok("the page says drsd refuses this user")
    except WebDriverError as e:
        fail(f"viewer: {e}; page: {b.js('return document.body.innerText')[:300]}")
        return
    text = b.js("return document.getElementById('banner').innerText")
    check("admin group" in text and "drsview" in text, "the banner says why (the admin group, the user's name)", text)
    check(b.js("return document.querySelectorAll('button[data-action], #content:not([hidden])').length") == 0,
          "no action buttons and no cluster data")
    shot(b, args, "cockpit-read-only.png")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", required=True)
    ap.add_argument("--viewer", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--uri", action="append", default=[])
    ap.add_argument("--ctl", required=True, help="drsctl --socket PATH (as root), to compare with the page")
    args = ap.parse_args()
    uris = dict(u.split("=", 1) for u in args.uri)
    os.makedirs(args.artifacts, exist_ok=True)

    b = Browser(1280, 800)
    try:
        admin_scenario(b, args, uris)
        viewer_scenario(b, args)
        severe = [e["message"] for e in b.console() if e.get("level") == "SEVERE" and "favicon" not in e["message"]]
        check(not severe, "no errors in the browser console", severe[:5])
    except Exception as e:  # a crash of the scenario is a failure, not a traceback only
        fail(f"scenario aborted: {type(e).__name__}: {e}")
        try:
            b.screenshot(os.path.join(args.artifacts, "cockpit-aborted.png"))
        except Exception:
            pass
    finally:
        b.close()
    print(f"cockpit-page: {failures} failure(s)")
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main())
