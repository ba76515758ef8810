#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for 'drsctl --json' that answers with a canned cluster in corosync mode — what the
3-host standalone testbed cannot show at once: leader, term and quorum, a running mandatory
plan, a power action, a power-on-failed host, a host entering maintenance with a blocker, watts,
power actions and unplaceable VMs in the plan. tests/e2e/cockpit.sh puts it first in PATH of a
cockpit-ws of its own so that the page's rendering of all that is checked. Changing verbs are
appended to $FAKE_DRSCTL_LOG and succeed."""

import json
import os
import sys
import time

args = [a for a in sys.argv[1:] if a != "--json"]
now = time.time()


def host(name, state, cpu, mem, vms, **kw):
    h = {"name": name, "state": state, "reported": True, "stale": False, "draining": False, "cpus": 16,
         "memory_mib": 131072, "vms": vms, "cpu_utilization": cpu, "memory_utilization": mem, "blockers": []}
    h.update(kw)
    return h


def status():
    hosts = [
        host("h1", "up", 0.82, 0.71, 12, watts=312.4, watts_source="measured"),
        host("h2", "entering-maintenance", 0.1, 0.3, 1, watts=180, watts_source="model",
             blockers=[{"vm": "big", "why": "memory: needs 65536 MiB, most free on an eligible host is 30720 MiB (h1)"}]),
        host("h3", "power-on-failed", 0, 0, 0, reported=False, stale=True, cpus=0, memory_mib=0,
             last_error="cannot connect to 'qemu+tls://h3/system'"),
        host("h4", "up", 0.2, 0.25, 3, draining=True, power_action="standby"),
    ]
    samples = [[int(now - 3600 + i * 10), round(0.2 + 0.1 * ((i // 30) % 2), 4), round(0.1 + i / 3600, 4)]
               for i in range(360) if not 150 < i < 170]
    run = {"id": 7, "wave": 2, "waves": 3, "mandatory": True, "done": 2, "failed": 0, "running": 1, "moves": [
        {"vm": "web1", "from": "h2", "to": "h1", "wave": 1, "reason": "maintenance", "gain": 0.01, "state": "done"},
        {"vm": "web2", "from": "h2", "to": "h4", "wave": 1, "reason": "maintenance", "gain": 0.02, "state": "done"},
        {"vm": "db1", "from": "h2", "to": "h4", "wave": 2, "reason": "maintenance", "gain": -0.01, "state": "running"},
        {"vm": "db2", "from": "h2", "to": "h1", "wave": 3, "reason": "rule", "rule": "db-apart", "gain": 0.03,
         "state": "pending"}]}
    return {"version": "0.1.0", "mode": "corosync", "pid": 1, "hosts": hosts,
            "policy": {"automation": "full", "aggressiveness": 3}, "passes": {"interval_s": 300, "count": 12},
            "power": {"watts": 492.4, "hosts_known": 2, "hosts_measured": 1, "energy_kwh": 3.2, "saved_kwh": 1.25},
            "corosync": {"host": "h1", "nodeid": 1, "connected": True, "quorate": True, "leader": 1,
                         "leader_host": "h1", "term": 42, "is_leader": True,
                         "members": [{"host": "h1", "nodeid": 1}, {"host": "h2", "nodeid": 2}, {"host": "h4", "nodeid": 4}],
                         "votequorum": {"total_votes": 3, "expected_votes": 4, "quorum": 3, "flags": ["Quorate"],
                                        "tolerate_failures": 1, "dpm_limited": False}},
            "cluster": {"cpu_imbalance": 0.25, "memory_imbalance": 0.18, "threshold": 0.1, "automation": "full",
                        "migrations_running": 1, "migrations_queued": 1, "migrations_completed": 40,
                        "migrations_failed": 1, "imbalance_history": {"period_s": 10, "samples": samples},
                        "plan": run, "recommendations": None}}


def plan():
    return {"automation": "full", "plan_running": True, "plan": {
        "status": "partial", "solver": "greedy+glpk", "solve_ms": 12.5,
        "before": {"cpu_imbalance": 0.25, "memory_imbalance": 0.18}, "after": {"cpu_imbalance": 0.08, "memory_imbalance": 0.1},
        "moves": [{"vm": "app3", "from": "h1", "to": "h4", "wave": 1, "reason": "balance", "gain": 0.041}],
        "power": [{"host": "h4", "action": "standby", "wave": 2}],
        "unplaceable": [{"vm": "big", "why": "memory: needs 65536 MiB"}], "dpm_held": ["power_on"]}}


def history():
    ev = [{"time": int((now - 300 + i * 60) * 1e6), "type": "migration", "vm": vm, "source": "h2", "target": t,
           "reason": "maintenance", "result": r, "message": f"Migrated '{vm}' from 'h2' to '{t}'"}
          for i, (vm, t, r) in enumerate([("web1", "h1", "completed"), ("web2", "h4", "completed"), ("db1", "h4", "started")])]
    ev.append({"time": int((now - 100) * 1e6), "type": "maintenance", "source": "h2", "result": "entering-maintenance",
               "message": "Host 'h2': up → entering-maintenance (drsctl evacuate)"})
    return {"events": ev, "unreadable": 0}


verb = args[0] if args else ""
if verb == "status":
    print(json.dumps(status()))
elif verb == "vms":
    print(json.dumps({"vms": [
        {"name": "app3", "host": "h1", "vcpus": 4, "memory_mib": 8192, "cpu_demand": 3.1, "memory_demand_mib": 6000,
         "automation": "full", "migrating": False},
        {"name": "big", "host": "h2", "vcpus": 8, "memory_mib": 65536, "cpu_demand": 0.5, "memory_demand_mib": 40000,
         "automation": "full", "migrating": False},
        {"name": "db1", "host": "h4", "vcpus": 2, "memory_mib": 4096, "cpu_demand": 0.8, "memory_demand_mib": 3000,
         "automation": "full", "migrating": True}]}))
elif verb == "plan":
    print(json.dumps(plan()))
elif verb == "history":
    print(json.dumps(history()))
elif verb == "rollout" and args[1:2] == ["status"]:
    # A paused rollout: h1 done, h2 failed its command, h4 still to come.
    print(json.dumps({"rollout": {
        "id": 3, "state": "paused", "reason": "h2: the command exited with status 3", "wave": 2, "waves": 3,
        "hosts_done": 1, "waiting_for_window": False, "command": "ssh root@{address} reboot",
        "hosts": [
            {"name": "h1", "state": "done", "wave": 1, "command_ms": 41000, "mode": "up", "reporting": True, "vms": 12,
             "step_s": 0},
            {"name": "h2", "state": "failed", "failed_step": "command", "wave": 2, "mode": "maintenance",
             "reporting": True, "vms": 0, "step_s": 30, "note": "the command exited with status 3"},
            {"name": "h4", "state": "pending", "wave": 3, "mode": "up", "reporting": True, "vms": 3, "step_s": 0}]}}))
elif verb == "rollout" and args[1:2] in (["pause"], ["resume"], ["abort"]):
    with open(os.environ["FAKE_DRSCTL_LOG"], "a") as f:
        f.write(" ".join(args) + "\n")
    print(json.dumps({"rollout": None}))
elif verb == "evacuate" and "--dry-run" in args:
    print(json.dumps({"host": args[1], "dry_run": True, "unplaceable": 1, "state": "up", "plan": {
        "status": "partial", "moves": [{"vm": "app3", "from": args[1], "to": "h4", "wave": 1, "reason": "maintenance", "gain": 0.0}],
        "unplaceable": [{"vm": "huge", "why": "memory: needs 98304 MiB, most free on an eligible host is 30720 MiB (h4)"}]}}))
    sys.exit(1)  # as drsctl: a VM cannot leave
elif verb in ("evacuate", "exit-maintenance", "power-clear", "apply"):
    with open(os.environ["FAKE_DRSCTL_LOG"], "a") as f:
        f.write(" ".join(args) + "\n")
    print(json.dumps({"host": args[1] if len(args) > 1 else None, "state": "up", "changed": True, "moves": 1}))
else:
    print(f"drsctl: fake: unknown verb {verb}", file=sys.stderr)
    sys.exit(2)
