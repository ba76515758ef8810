#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# config/grafana-drs.json: valid JSON (python3 -m json.tool), a dashboard whose panels have
# unique ids and queries, every drs_* series it queries is one drsd exports (the names in
# agent/metrics.c, with a histogram's _bucket/_sum/_count), and it shows what it promises:
# cluster imbalance, host utilization, migrations by result, migration duration and downtime,
# power actions. Usage: grafana.sh SOURCE-ROOT
set -euo pipefail
src="$1"
dash="$src/config/grafana-drs.json"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

python3 -m json.tool "$dash" >/dev/null || { echo "FAIL: $dash is not valid JSON"; exit 1; }

python3 - "$dash" "$src/agent/metrics.c" <<'PY'
import json, re, sys

dash = json.load(open(sys.argv[1]))
code = open(sys.argv[2]).read()
errors = []

# What drsd exports: the names given to w_family()/w_histogram() in metrics.c.
exported = set()
for kind, name in re.findall(r'w_(family|histogram)\(\s*&w,\s*"(drs_[a-z0-9_]+)"', code):
    exported.add(name)
    if kind == "histogram":
        exported |= {name + "_bucket", name + "_sum", name + "_count"}
if len(exported) < 12:
    errors.append(f"found only {len(exported)} metric names in metrics.c: {sorted(exported)}")

for key in ("title", "uid", "panels", "schemaVersion"):
    if key not in dash:
        errors.append(f"dashboard without '{key}'")

ids, exprs = set(), []
def walk(panels):
    for p in panels:
        if p.get("id") in ids:
            errors.append(f"panel id {p.get('id')} twice")
        ids.add(p.get("id"))
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in ("x", "y", "w", "h")) or gp.get("x", 0) + gp.get("w", 0) > 24:
            errors.append(f"panel '{p.get('title')}' has a bad gridPos {gp}")
        if p.get("type") != "row":
            if not p.get("targets"):
                errors.append(f"panel '{p.get('title')}' has no query")
            for t in p.get("targets", []):
                e = t.get("expr", "")
                if not e:
                    errors.append(f"panel '{p.get('title')}' has an empty query")
                if e.count("(") != e.count(")") or e.count("{") != e.count("}"):
                    errors.append(f"unbalanced query in '{p.get('title')}': {e}")
                exprs.append(e)
        walk(p.get("panels", []))
walk(dash.get("panels", []))
for v in dash.get("templating", {}).get("list", []):
    q = v.get("query")
    if isinstance(q, dict):
        exprs.append(q.get("query", ""))

used = set()
for e in exprs:
    used |= set(re.findall(r"\bdrs_[a-z0-9_]+", e))
for name in sorted(used - exported):
    errors.append(f"the dashboard queries '{name}', which drsd does not export")

for want in ("drs_cluster_imbalance_ratio", "drs_host_utilization_ratio", "drs_migrations_total",
             "drs_migration_duration_seconds_bucket", "drs_migration_downtime_seconds_bucket",
             "drs_power_actions_total", "drs_report_age_seconds"):
    if want not in used:
        errors.append(f"no panel shows {want}")

if errors:
    print("\n".join("FAIL: " + e for e in errors))
    sys.exit(1)
print(f"ok: {len(ids)} panels, {len(exprs)} queries, {len(used)} series, all exported by drsd")
PY
