// SPDX-License-Identifier: LGPL-2.1-or-later
// The imbalance over the last hour as a small SVG line chart (no library): CPU and memory
// imbalance from drsd's cluster.imbalance_history, and the threshold above which balance acts.

const NS = "http://www.w3.org/2000/svg";
const W = 480, H = 160, L = 40, R = 8, T = 8, B = 22; // size and margins in SVG units

function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {}))
        e.setAttribute(k, String(v));
    if (text !== undefined)
        e.textContent = text;
    return e;
}

// samples: [[epoch_s, cpu, memory], …]; threshold < 0 = balance never acts; nowS: epoch seconds.
// A gap of more than 3 periods (drsd stopped, no host up) breaks the lines.
export function imbalanceChart(samples, periodS, threshold, nowS) {
    const t0 = nowS - 3600;
    const pts = samples.filter(s => s[0] >= t0);
    const top = Math.max(0.05, threshold > 0 ? threshold * 1.25 : 0, ...pts.map(s => Math.max(s[1], s[2]) * 1.1));
    const x = t => L + (W - L - R) * (t - t0) / 3600;
    const y = v => T + (H - T - B) * (1 - Math.min(v, top) / top);

    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                            "aria-label": "CPU and memory imbalance over the last hour" });
    // Axes: 4 horizontal grid lines with values, time labels every 15 minutes.
    for (let i = 0; i <= 4; i++) {
        const v = top * i / 4;
        svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
        svg.append(el("text", { x: L - 4, y: y(v) + 3, class: "tick", "text-anchor": "end" }, v.toFixed(2)));
    }
    for (let m = 0; m <= 60; m += 15)
        svg.append(el("text", { x: x(t0 + m * 60), y: H - 6, class: "tick", "text-anchor": m === 0 ? "start" : m === 60 ? "end" : "middle" },
                      m === 60 ? "now" : `−${60 - m} min`));
    if (threshold > 0)
        svg.append(el("line", { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold), class: "threshold" }));

    for (const [idx, cls] of [[1, "cpu"], [2, "memory"]]) {
        let d = "", last = null;
        for (const s of pts) {
            const gap = last === null || s[0] - last > 3 * (periodS || 10);
            d += `${gap ? "M" : "L"}${x(s[0]).toFixed(1)},${y(s[idx]).toFixed(1)} `;
            last = s[0];
        }
        if (d)
            svg.append(el("path", { d, class: `line ${cls}` }));
    }
    if (pts.length === 0)
        svg.append(el("text", { x: (L + W - R) / 2, y: H / 2, class: "empty", "text-anchor": "middle" },
                      "No samples yet: drsd records one every " + (periodS || 10) + " s"));
    return svg;
}
