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
    ro = b.js("return document.getElementById('rollout').innerText")
    check(ro.startswith("No rollout."), "the rollout card says there is none (drsctl rollout status)", ro)
    h1 = next(h for h in hosts if h["name"] == "h1")
    n_h1 = len(running_on(uris["h1"]))
    check(h1["vms"].startswith(f"{n_h1} VM"), f"h1 shows the {n_h1} VMs libvirt runs there", h1["vms"])
    try:
        chips = b.wait("const c = [...document.querySelectorAll(`.host[data-host='h1'] .chip`)].map(e => e.dataset.vm);"
                       "return c.length ? c : null", 20, "h1's VM names")
        check(sorted(chips) == running_on(uris["h1"]), f"h1 names its VMs: {', '.join(sorted(chips))}")
    except WebDriverError as e:
        fail(f"h1's VM names: {e}")
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


def shell_scenario(b, args):
    """The page inside Cockpit's shell (cockpit-system): listed in the menu, loaded in its frame."""
    section("the page in Cockpit's shell")
    root = args.admin.split("/cockpit/")[0]
    b.go(root + "/")
    try:
        links = b.wait("const l = [...document.querySelectorAll('a')].filter(a => a.textContent.trim() === 'Load balancer')"
                       ".map(a => a.getAttribute('href')); return l.length ? l : null", 30, "the menu entry")
        check(links == ["/drs"], "the shell's menu has 'Load balancer' (/drs)", links)
    except WebDriverError as e:
        if "Server is missing the cockpit-system package" in b.js("return document.title"):
            print("note: no cockpit-system (Cockpit's shell): the menu is not checked")
            return
        fail(f"the shell's menu: {e}")
        return
    b.go(root + "/drs")
    try:
        b.wait("const f = document.querySelector(\"iframe[name$='/drs']\"); return f && f.contentDocument && "
               "f.contentDocument.body.dataset.access === 'admin' && f.contentDocument.querySelectorAll('.host').length === 3",
               60, "the page in the shell's frame")
        ok("the shell shows the page in its frame, with the 3 hosts")
    except WebDriverError as e:
        fail(f"the page in the shell: {e}")
    shot(b, args, "cockpit-in-shell.png")


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


def fake_scenario(b, args):
    """The page against fake-drsctl.py's canned cluster-mode answers: what the testbed cannot show."""
    section("cluster mode, power, blockers (canned drsctl answers)")
    b.go(args.fake)
    try:
        b.wait("return document.body.dataset.access === 'admin' && document.querySelectorAll('.host').length === 4",
               60, "4 hosts")
    except WebDriverError as e:
        fail(f"fake cluster: {e}")
        return
    line = b.js("return document.getElementById('cluster-line').innerText")
    check("quorate" in line and "leader h1 (node 1), term 42" in line and "votes 3 of 4" in line,
          "cluster mode: leader, term and quorum are shown", line)
    hosts = {h["name"]: h for h in b.js(HOSTS_JS)}
    check(sorted(hosts["h3"]["actions"]) == ["exit-maintenance", "power-clear"],
          "power-on-failed h3 offers exit maintenance and clear power-on-failed", hosts["h3"]["actions"])
    check(hosts["h2"]["actions"] == ["exit-maintenance"], "entering-maintenance h2 offers exit maintenance only")
    text = b.js("return document.body.innerText")
    for what, want in [("watts", "312 W (measured)"), ("a blocker", "'big' cannot leave: memory"),
                       ("the running plan's progress", "2/4"), ("a migration in flight", "Migrating 'db1' h2 → h4"),
                       ("a power action in flight", "Standby: h4"), ("an evacuation in flight", "Evacuating h2: 1 VM(s) left, 1 cannot leave"),
                       ("the plan's power action", "Standby: h4 (wave 2)"), ("an unplaceable VM", "'big' cannot move: memory"),
                       ("a held DPM direction", "DPM power on held back"), ("a rule's reason", "rule (db-apart)")]:
        check(want in text, f"shows {what}: {want}")
    check(b.js("return document.querySelector(`.host[data-host='h4'] .chip.migrating[data-vm='db1']`) !== null"),
          "h4 names db1 as migrating")
    check(b.js("return document.querySelectorAll('.chip').length") == 3, "3 VM names (the canned vms)")
    check(b.js("return document.querySelectorAll('#imbalance svg path.line').length") == 2 and
          b.js("return (document.querySelector('#imbalance path.cpu').getAttribute('d').match(/M/g) || []).length") == 2,
          "the chart draws CPU and memory, broken at the gap in the samples")
    check("[object" not in text and "undefined" not in text and "NaN" not in text, "no [object …], undefined or NaN on the page")

    b.click(".host[data-host='h1'] button[data-action=evacuate]")
    try:
        b.wait("return document.getElementById('evacuate-dialog').dataset.phase === 'confirm'", 30, "the dry run")
        body = b.js("return document.getElementById('evacuate-body').innerText")
        label = b.js("return document.getElementById('evacuate-confirm').textContent")
        check("'huge' cannot leave: memory" in body, "the dry run shows the blocker and why", body)
        check(label == "Evacuate h1 anyway", "with a blocker the button says 'anyway'", label)
        b.click("#evacuate-cancel")
    except WebDriverError as e:
        fail(f"fake dry run: {e}")
    b.click(".host[data-host='h3'] button[data-action=power-clear]")
    try:
        b.wait("return document.getElementById('notice').textContent.startsWith('Done')", 30, "the notice")
        with open(args.fake_log) as f:
            calls = f.read().split("\n")
        check("power-clear h3" in calls and not any(c.startswith("evacuate") for c in calls),
              "Clear power-on-failed runs 'drsctl power-clear h3'; cancelling the dry run evacuates nothing", calls)
    except (WebDriverError, OSError) as e:
        fail(f"power-clear: {e}")
    # Rolling maintenance: a paused rollout, host by host, with Resume and Abort.
    try:
        b.wait("return document.querySelectorAll('#rollout tr[data-host]').length === 3", 30, "the rollout card")
        ro = b.js("return document.getElementById('rollout').innerText")
        check("Rollout 3: paused" in ro and "1 of 3 host(s) done" in ro and "the command exited with status 3" in ro,
              "the rollout card shows the paused rollout and why", ro)
        check(b.js("return document.querySelector(\"#rollout tr[data-host='h1']\").dataset.state") == "done" and
              b.js("return document.querySelector(\"#rollout tr[data-host='h2']\").dataset.state") == "failed",
              "h1 done, h2 failed, host by host")
        check(b.js("return document.querySelector('#rollout button[data-action=rollout-pause]') === null") and
              b.js("return document.querySelector('#rollout button[data-action=rollout-abort]') !== null"),
              "a paused rollout offers Resume and Abort, not Pause")
        # The card is rebuilt on every refresh: click in the page, not through a held element.
        b.js("document.querySelector('#rollout button[data-action=rollout-resume]').click()")
        b.wait("return document.getElementById('notice').textContent.startsWith('Done: resume')", 30, "the resume")
        with open(args.fake_log) as f:
            check("rollout resume" in f.read().split("\n"), "Resume runs 'drsctl rollout resume'")
    except (WebDriverError, OSError) as e:
        fail(f"rollout card: {e}")
    shot(b, args, "cockpit-cluster-mode-canned.png")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", required=True)
    ap.add_argument("--viewer", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--uri", action="append", default=[])
    ap.add_argument("--ctl", required=True, help="drsctl --socket PATH (as root), to compare with the page")
    ap.add_argument("--fake", help="the page in a cockpit-ws whose drsctl is fake-drsctl.py")
    ap.add_argument("--fake-log", help="where fake-drsctl.py records the changing verbs")
    args = ap.parse_args()
    uris = dict(u.split("=", 1) for u in args.uri)
    os.makedirs(args.artifacts, exist_ok=True)

    b = Browser(1280, 800)
    try:
        admin_scenario(b, args, uris)
        shell_scenario(b, args)
        viewer_scenario(b, args)
        if args.fake:
            fake_scenario(b, args)
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
