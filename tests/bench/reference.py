#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An independent reference for drs-bench's clusters (bench-only: needs Debian's python3-scipy,
never a runtime dependency of drs).

    drs-bench --seeds 3 --size 16x300 --no-cases --dump DIR
    tests/bench/reference.py --drsctl build/agent/drsctl [--time-limit S] DIR/*.json

For each snapshot (JSON, as drs-bench --dump writes them):
  - drs: `drsctl plan --snapshot F --json`; its moves are replayed on the snapshot and the
    objective recomputed here: (w_cpu·σ_cpu + w_mem·σ_mem) / (w_cpu + w_mem), σ the population
    standard deviation of utilization (demand / capacity) over the hosts;
  - reference, by another method: HiGHS (scipy.optimize.milp) on the full assignment model —
    x[v,h] binary, Σ_h x = 1, configured memory ≤ memory − 1 GiB per host, at most
    max_moves_per_pass VMs off their host, minimize Σ_r W_r Σ_h t[h,r] with t ≥ the tangents of
    (u − ū)² at 13 points per side (W_r = w_r / (2 n σ_r), σ_r of drs's plan: the change of the
    variance turned into one of σ where it matters) — for --time-limit seconds, then a local
    search on the exact objective (single moves and swaps, best improvement, numpy), under the
    rules drs keeps: every step adding k moves gains ≥ k·min_gain / n, and at the end moves whose
    contribution is below min_gain / n are reverted (drs's prune). Sequencing is not checked
    (the reference may keep a swap between full hosts that drs could not run without a hop);
  - prints drs's objective, the reference's (raw MILP, after the search), the ratio
    drs / reference, what the same search makes of drs's own plan (is it a local optimum?),
    moves and times, one row per snapshot, then medians per size.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

RESERVE_MIB = 1024  # the policy default (limits.memory_reserve)


class Cluster:
    def __init__(self, path):
        with open(path) as f:
            d = json.load(f)
        bal = d.get("policy", {}).get("balance", {})
        w = bal.get("weights", {})
        self.wc, self.wm = float(w.get("cpu", 1)), float(w.get("memory", 1))
        s = self.wc + self.wm
        self.wc, self.wm = self.wc / s, self.wm / s
        self.min_gain = float(bal.get("min_gain", 0.01))
        self.budget = int(bal.get("max_moves_per_pass", 50))
        self.hosts = [h["name"] for h in d["hosts"]]
        hidx = {n: i for i, n in enumerate(self.hosts)}
        self.cpus = np.array([h["cpus"] for h in d["hosts"]], float)
        self.mem = np.array([h["memory_mib"] for h in d["hosts"]], float)
        self.limit = self.mem - RESERVE_MIB
        self.vms = [v["name"] for v in d["vms"]]
        self.vidx = {n: i for i, n in enumerate(self.vms)}
        self.hidx = hidx
        self.home = np.array([hidx[v["host"]] for v in d["vms"]], int)
        self.cfg = np.array([v["memory_mib"] for v in d["vms"]], float)
        self.cd = np.array([v.get("cpu_demand", v["vcpus"]) for v in d["vms"]], float)
        self.md = np.array([v.get("memory_demand_mib", v["memory_mib"]) for v in d["vms"]], float)
        self.H, self.V = len(self.hosts), len(self.vms)

    def objective(self, place):
        uc = np.bincount(place, self.cd, self.H) / self.cpus
        um = np.bincount(place, self.md, self.H) / self.mem
        return self.wc * uc.std() + self.wm * um.std()

    def sigmas(self, place):
        uc = np.bincount(place, self.cd, self.H) / self.cpus
        um = np.bincount(place, self.md, self.H) / self.mem
        return uc.std(), um.std()

    def feasible(self, place):
        return bool(np.all(np.bincount(place, self.cfg, self.H) <= self.limit + 1e-6))


def drs_plan(c, drsctl, path):
    t0 = time.monotonic()
    out = subprocess.run([drsctl, "plan", "--snapshot", path, "--json"], capture_output=True, text=True)
    t = time.monotonic() - t0
    if out.returncode not in (0, 1, 2, 3):
        raise RuntimeError(out.stderr)
    plan = json.loads(out.stdout)
    place = c.home.copy()
    for m in plan["moves"]:
        place[c.vidx[m["vm"]]] = c.hidx[m["to"]]
    return place, plan, t


def milp_reference(c, sig, time_limit):
    """HiGHS on the full model; returns a placement (the initial one if HiGHS found nothing)."""
    H, V = c.H, c.V
    nx = V * H
    K = 13
    ucap = [c.cpus, c.mem]
    dem = [c.cd, c.md]
    u0 = [np.bincount(c.home, dem[r], H) / ucap[r] for r in range(2)]
    mean = [u0[r].mean() for r in range(2)]
    dmax = [max(np.abs(u0[r] - mean[r]).max(), 1e-3) * 1.05 for r in range(2)]
    weights = [c.wc, c.wm]
    W = [weights[r] / (2 * H * max(sig[r], 1e-3)) for r in range(2)]
    n_u = 2 * H  # u[r,h]: utilization, then t[r,h] ≥ the tangents of (u − mean)²
    nvar = nx + 2 * n_u
    obj = np.zeros(nvar)
    for r in range(2):
        obj[nx + n_u + r * H: nx + n_u + (r + 1) * H] = W[r]
    rows, cols, vals, lo, hi = [], [], [], [], []
    row = 0

    def add(cs, vs, l, h):
        nonlocal row
        rows.extend([row] * len(cs))
        cols.extend(cs)
        vals.extend(vs)
        lo.append(l)
        hi.append(h)
        row += 1

    for v in range(V):  # Σ_h x[v,h] = 1
        add(list(range(v * H, v * H + H)), [1.0] * H, 1, 1)
    for h in range(H):  # configured memory
        add(list(range(h, nx, H)), list(c.cfg), -np.inf, c.limit[h])
    # the budget: Σ_v x[v, home] ≥ V − budget
    add([v * H + c.home[v] for v in range(V)], [1.0] * V, V - c.budget, np.inf)
    for r in range(2):
        for h in range(H):
            ucol, tcol = nx + r * H + h, nx + n_u + r * H + h
            add(list(range(h, nx, H)) + [ucol], list(-dem[r] / ucap[r][h]) + [1.0], 0, 0)
            for s in (-1, 1):
                for k in range(K + 1):
                    p = s * dmax[r] * (k / K) ** 2
                    add([tcol, ucol], [1.0, -2 * p], -p * p - 2 * p * mean[r], np.inf)
    A = coo_matrix((vals, (rows, cols)), shape=(row, nvar)).tocsr()
    integrality = np.concatenate([np.ones(nx), np.zeros(2 * n_u)])
    lb = np.concatenate([np.zeros(nx), np.full(n_u, -np.inf), np.zeros(n_u)])
    ub = np.concatenate([np.ones(nx), np.full(2 * n_u, np.inf)])
    res = milp(obj, constraints=[LinearConstraint(A, lo, hi)], integrality=integrality,
               bounds=Bounds(lb, ub), options={"time_limit": time_limit, "disp": False})
    if res.x is None:
        return c.home.copy(), res.status
    x = res.x[:nx].reshape(V, H)
    return x.argmax(axis=1), res.status


def local_search(c, place, deadline):
    """Best improvement over single moves and swaps on the exact objective, drs's rules."""
    H = c.H
    mg = c.min_gain / H
    place = place.copy()
    mem_cfg = np.bincount(place, c.cfg, H)
    while time.monotonic() < deadline:
        lc = np.bincount(place, c.cd, H)
        lm = np.bincount(place, c.md, H)
        base = c.wc * (lc / c.cpus).std() + c.wm * (lm / c.mem).std()
        moves = int((place != c.home).sum())
        best, best_step = -1e-12, None
        uc, um = lc / c.cpus, lm / c.mem
        sc, sc2, sm, sm2 = uc.sum(), (uc ** 2).sum(), um.sum(), (um ** 2).sum()

        def score(sc_, sc2_, sm_, sm2_):
            vc = np.maximum(sc2_ / H - (sc_ / H) ** 2, 0)
            vm = np.maximum(sm2_ / H - (sm_ / H) ** 2, 0)
            return c.wc * np.sqrt(vc) + c.wm * np.sqrt(vm)

        # single moves: every VM to every host
        s = place
        ucs1 = (lc[s] - c.cd) / c.cpus[s]
        ums1 = (lm[s] - c.md) / c.mem[s]
        ucd = (lc[None, :] + c.cd[:, None]) / c.cpus[None, :]
        umd = (lm[None, :] + c.md[:, None]) / c.mem[None, :]
        nsc = sc - uc[s][:, None] + ucs1[:, None] - uc[None, :] + ucd
        nsc2 = sc2 - uc[s][:, None] ** 2 + ucs1[:, None] ** 2 - uc[None, :] ** 2 + ucd ** 2
        nsm = sm - um[s][:, None] + ums1[:, None] - um[None, :] + umd
        nsm2 = sm2 - um[s][:, None] ** 2 + ums1[:, None] ** 2 - um[None, :] ** 2 + umd ** 2
        gain = base - score(nsc, nsc2, nsm, nsm2)
        added = (np.arange(H)[None, :] != c.home[:, None]).astype(int) - (s != c.home).astype(int)[:, None]
        ok = (mem_cfg[None, :] + c.cfg[:, None] <= c.limit[None, :]) & (np.arange(H)[None, :] != s[:, None])
        ok &= (moves + added <= c.budget) & (gain >= np.maximum(added, 0) * mg)
        g = np.where(ok, gain, -np.inf)
        i = np.unravel_index(np.argmax(g), g.shape)
        if g[i] > best:
            best, best_step = g[i], ("move", i[0], i[1])
        # swaps: pairs of VMs on different hosts, in blocks of rows (memory)
        away = (s != c.home).astype(int)
        for r0 in range(0, c.V, 256):
            rr = slice(r0, min(r0 + 256, c.V))
            dc = c.cd[rr, None] - c.cd[None, :]
            dm = c.md[rr, None] - c.md[None, :]
            A, B = s[rr, None], s[None, :]
            ucA2 = (lc[A] - dc) / c.cpus[A]
            ucB2 = (lc[B] + dc) / c.cpus[B]
            umA2 = (lm[A] - dm) / c.mem[A]
            umB2 = (lm[B] + dm) / c.mem[B]
            nsc = sc - uc[A] - uc[B] + ucA2 + ucB2
            nsc2 = sc2 - uc[A] ** 2 - uc[B] ** 2 + ucA2 ** 2 + ucB2 ** 2
            nsm = sm - um[A] - um[B] + umA2 + umB2
            nsm2 = sm2 - um[A] ** 2 - um[B] ** 2 + umA2 ** 2 + umB2 ** 2
            gain = base - score(nsc, nsc2, nsm, nsm2)
            added = ((B != c.home[rr, None]).astype(int) + (A != c.home[None, :]).astype(int)
                     - away[rr, None] - away[None, :])
            dcfg = c.cfg[rr, None] - c.cfg[None, :]
            ok = (A != B) & (mem_cfg[A] - dcfg <= c.limit[A]) & (mem_cfg[B] + dcfg <= c.limit[B])
            ok &= (moves + added <= c.budget) & (gain >= np.maximum(added, 0) * mg)
            g = np.where(ok, gain, -np.inf)
            i = np.unravel_index(np.argmax(g), g.shape)
            if g[i] > best:
                best, best_step = g[i], ("swap", r0 + i[0], i[1])
        if best_step is None:
            break
        if best_step[0] == "move":
            _, v, h = best_step
            mem_cfg[place[v]] -= c.cfg[v]
            mem_cfg[h] += c.cfg[v]
            place[v] = h
        else:
            _, v, w = best_step
            a, b = place[v], place[w]
            mem_cfg[a] += c.cfg[w] - c.cfg[v]
            mem_cfg[b] += c.cfg[v] - c.cfg[w]
            place[v], place[w] = b, a
    return place


def prune(c, place):
    """drs's prune_small_moves(): revert the smallest contribution below min_gain / n while one is."""
    mg = c.min_gain / c.H
    place = place.copy()
    while True:
        base = c.objective(place)
        worst, worst_v = mg, None
        for v in np.nonzero(place != c.home)[0]:
            h = place[v]
            place[v] = c.home[v]
            if c.feasible(place):
                contrib = c.objective(place) - base
                if contrib < worst:
                    worst, worst_v = contrib, v
            place[v] = h
        if worst_v is None:
            return place
        place[worst_v] = c.home[worst_v]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drsctl", default="build/agent/drsctl")
    ap.add_argument("--time-limit", type=float, default=30.0, help="HiGHS seconds per cluster")
    ap.add_argument("--search-limit", type=float, default=30.0, help="local search seconds per cluster")
    ap.add_argument("snapshots", nargs="+")
    a = ap.parse_args()

    print("| cluster | drs objective | drs gap | reference: MILP | + search | ratio drs / reference | "
          "the search from drs's plan | moves drs / reference | drs s | reference s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    groups = {}
    for path in a.snapshots:
        c = Cluster(path)
        place, plan, t_drs = drs_plan(c, a.drsctl, path)
        assert c.feasible(place)
        drs_obj = c.objective(place)
        t0 = time.monotonic()
        ref, status = milp_reference(c, c.sigmas(place), a.time_limit)
        milp_obj = c.objective(ref) if c.feasible(ref) else float("nan")
        if not c.feasible(ref) or int((ref != c.home).sum()) > c.budget:
            ref = c.home.copy()
        ref = local_search(c, ref, time.monotonic() + a.search_limit)
        ref = prune(c, ref)
        ref = local_search(c, ref, time.monotonic() + a.search_limit / 3)
        ref = prune(c, ref)
        t_ref = time.monotonic() - t0
        ref_obj = c.objective(ref)
        # Is drs's plan a local optimum of the reference's search? (Not part of the reference.)
        polished = prune(c, local_search(c, place, time.monotonic() + a.search_limit))
        ratio = drs_obj / ref_obj if ref_obj > 0 else float("inf")
        name = os.path.basename(path).removesuffix(".json")
        print(f"| {name} | {drs_obj:.4f} | {plan['gap']:.2f} | {milp_obj:.4f} | {ref_obj:.4f} | {ratio:.3f} | "
              f"{c.objective(polished):.4f} | {int((place != c.home).sum())} / {int((ref != c.home).sum())} | "
              f"{t_drs:.2f} | {t_ref:.0f} |")
        sys.stdout.flush()
        size = re.sub(r"-s\d+", "", name)
        groups.setdefault(size, []).append((drs_obj, ref_obj, ratio))
    print()
    print("| size | drs objective (median) | reference (median) | ratio (median / worst) |")
    print("|---|---:|---:|---:|")
    for size, rows in groups.items():
        d = np.median([r[0] for r in rows])
        f = np.median([r[1] for r in rows])
        q = [r[2] for r in rows]
        print(f"| {size} | {d:.4f} | {f:.4f} | {np.median(q):.3f} / {max(q):.3f} |")


if __name__ == "__main__":
    main()
