// SPDX-License-Identifier: LGPL-2.1-or-later
// The drs page: every REFRESH_MS it asks drsd (through drsctl --json, see drsctl.js) for its
// status, and every third time also for the plan it would make now and the history; it draws
// them with plain DOM calls. Actions (evacuate, exit maintenance, apply, clear power-on-failed)
// are drsctl verbs too. A user drsd refuses sees why, and no data and no buttons.

/* global cockpit */
import { run, commandLine, Denied, Unreachable, Missing } from "./drsctl.js";
import { imbalanceChart } from "./chart.js";

const REFRESH_MS = 5000;
const SLOW_EVERY = 3; // plan (runs the solver) and history every third refresh

const $ = id => document.getElementById(id);

// h("div", {class: "x", onclick: f, dataset: {host: "h1"}}, "text", child…)
function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith("on"))
            e.addEventListener(k.slice(2), v);
        else if (k === "dataset")
            Object.assign(e.dataset, v);
        else if (k === "class")
            e.className = v;
        else
            e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity))
        if (c !== null && c !== undefined && c !== false)
            e.append(c instanceof Node ? c : String(c));
    return e;
}

// Replaces el's children, skipping null/false (replaceChildren would print "null").
function fill(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false));
}

// "power_off" → "Power-off", "standby" → "Standby".
const powerLabel = a => (a.charAt(0).toUpperCase() + a.slice(1)).replace("_", "-");

const pct = u => `${Math.round((u || 0) * 100)} %`;
const num = (v, d = 4) => (v === undefined || v === null ? "–" : Number(v).toFixed(d));

function when(usec) {
    const d = new Date(usec / 1000);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function ago(usec) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - usec / 1e6));
    return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

const state = {
    status: null, // drsctl status --json
    plan: null, // drsctl plan --json (what a pass would do now)
    history: [], // drsctl history --json events, the filter's window
    vms: [], // drsctl vms --json
    rollout: null, // drsctl rollout status --json: its "rollout" (null when there is none)
    ticks: 0,
    busy: false,
};

// ---- messages ---------------------------------------------------------------------------------

function banner(kind, title, text) {
    const b = $("banner");
    b.className = `alert alert-${kind}`;
    fill(b, h("strong", {}, title), text ? h("p", {}, text) : null);
    b.hidden = false;
}

function notice(text, kind = "info") {
    const n = $("notice");
    n.className = `notice notice-${kind}`;
    n.textContent = text;
    n.hidden = false;
}

// A failed status call: explain it and show nothing else.
async function explain(r) {
    $("content").hidden = true;
    $("summary").textContent = "";
    document.body.dataset.access = r.kind;
    if (r.kind === Denied) {
        const user = await cockpit.user().catch(() => ({}));
        banner("warning", "Read only: drsd does not accept requests from this user",
               `drsd answers only root and members of its admin group (admin_group in ` +
               `/etc/drs/drsd.yaml, "drs" by default), and checks that from the credentials of ` +
               `the process on its socket. ${user.name ? `'${user.name}'` : "This user"} is not one ` +
               `of them, so this page cannot show the cluster or change it. Ask an administrator to ` +
               `add you to the group, then log in again. (${r.message})`);
    } else if (r.kind === Unreachable) {
        banner("danger", "drsd is not running", `${r.message}. Start it with 'systemctl start drsd'.`);
    } else if (r.kind === Missing) {
        banner("danger", "drsctl is not installed on this host", "Install the drs package.");
    } else {
        banner("danger", "drsd answered with an error", r.message);
    }
}

// ---- the cluster ------------------------------------------------------------------------------

function summary(st) {
    const cl = st.cluster || {}, pol = st.policy || {}, passes = st.passes || {};
    const parts = [
        `drsd ${st.version} (${st.mode})`,
        `automation ${cl.automation || pol.automation}`,
        `balance every ${passes.interval_s} s`,
        `CPU imbalance ${num(cl.cpu_imbalance)}, memory ${num(cl.memory_imbalance)}` +
            (cl.threshold >= 0 ? ` (acts above ${num(cl.threshold)})` : ""),
    ];
    if (st.power && st.power.hosts_known > 0)
        parts.push(`${Math.round(st.power.watts)} W now, ${num(st.power.saved_kwh, 2)} kWh saved by DPM`);
    $("summary").textContent = parts.join(" · ");

    const cs = st.corosync, line = $("cluster-line");
    line.hidden = !cs;
    if (cs) {
        const vq = cs.votequorum || {};
        fill(line,
            h("span", { class: `badge ${cs.quorate ? "ok" : "bad"}` }, cs.quorate ? "quorate" : "not quorate"),
            cs.leader > 0
                ? ` leader ${cs.leader_host} (node ${cs.leader}), term ${cs.term}` + (cs.is_leader ? " — this host" : "")
                : ` no leader (${cs.waiting_for || "election in progress"})`,
            vq.quorum ? ` · votes ${vq.total_votes} of ${vq.expected_votes}, quorum ${vq.quorum}` : "",
            ` · members: ${(cs.members || []).map(m => m.host).join(", ")}`);
    }
}

function bar(label, u, reported) {
    const level = h("div", { class: `bar-fill ${u > 0.85 ? "hot" : u > 0.65 ? "warm" : ""}` });
    level.style.width = `${Math.min(100, Math.max(0, (u || 0) * 100))}%`;
    return h("div", { class: "bar-row" },
             h("span", { class: "bar-label" }, label),
             h("div", { class: "bar", role: "meter", dataset: { util: reported ? String(u || 0) : "" }, "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100,
                        "aria-valuenow": Math.round((u || 0) * 100) }, level),
             h("span", { class: "bar-value" }, reported ? pct(u) : "–"));
}

function hostActions(host) {
    const s = host.state, btns = [];
    if (s === "up")
        btns.push(h("button", { class: "btn btn-secondary", dataset: { action: "evacuate" }, onclick: () => evacuate(host.name) },
                    "Evacuate…"));
    if (["entering-maintenance", "maintenance", "power-on-failed"].includes(s))
        btns.push(h("button", { class: "btn btn-secondary", dataset: { action: "exit-maintenance" },
                                onclick: () => act(["exit-maintenance", host.name], `take ${host.name} out of maintenance`) },
                    "Exit maintenance"));
    if (s === "power-on-failed")
        btns.push(h("button", { class: "btn btn-secondary", dataset: { action: "power-clear" },
                                onclick: () => act(["power-clear", host.name], `clear power-on-failed on ${host.name}`) },
                    "Clear power-on-failed"));
    return h("div", { class: "host-actions" }, btns);
}

const MAX_CHIPS = 12;

// The VMs on a host (drsctl vms: measured demand in the tooltip), the busiest first.
function vmChips(hostName) {
    const vms = state.vms.filter(v => v.host === hostName).sort((a, b) => b.cpu_demand - a.cpu_demand);
    if (vms.length === 0)
        return null;
    const chips = vms.slice(0, MAX_CHIPS).map(v =>
        h("span", { class: `chip${v.migrating ? " migrating" : ""}`, dataset: { vm: v.name },
                    title: `${v.vcpus} vCPU, ${v.memory_mib} MiB; demand ${num(v.cpu_demand, 2)} cores, ` +
                           `${v.memory_demand_mib} MiB${v.migrating ? "; migrating" : ""}` }, v.name));
    return h("div", { class: "chips" }, chips,
             vms.length > MAX_CHIPS ? h("span", { class: "muted" }, `+${vms.length - MAX_CHIPS} more`) : null);
}

function renderHosts(st) {
    const rows = (st.hosts || []).map(host => {
        const flags = [host.stale && host.state === "up" ? "stale" : null, host.draining ? "draining" : null,
            host.power_action ? `${powerLabel(host.power_action)} in progress` : null].filter(Boolean);
        return h("div", { class: "host", dataset: { host: host.name, state: host.state } },
                 h("div", { class: "host-head" },
                   h("span", { class: "host-name" }, host.name),
                   h("span", { class: `badge state state-${host.state}` }, host.state),
                   flags.map(f => h("span", { class: "badge flag" }, f))),
                 bar("CPU", host.cpu_utilization, host.reported),
                 bar("Memory", host.memory_utilization, host.reported),
                 h("div", { class: "host-facts" },
                   h("span", { class: "vms" }, `${host.vms ?? 0} VM${host.vms === 1 ? "" : "s"}`),
                   host.reported ? h("span", {}, `${host.cpus} CPUs, ${Math.round(host.memory_mib / 1024 * 10) / 10} GiB`) : null,
                   host.watts !== undefined ? h("span", { class: "watts" }, `${Math.round(host.watts)} W (${host.watts_source})`) : null),
                 vmChips(host.name),
                 host.stale && host.last_error ? h("p", { class: "error" }, host.last_error) : null,
                 (host.blockers || []).map(b => h("p", { class: "blocker" }, `'${b.vm}' cannot leave: ${b.why}`)),
                 hostActions(host));
    });
    fill($("hosts"), rows);
}

function renderImbalance(st) {
    const cl = st.cluster || {}, ih = cl.imbalance_history;
    const box = $("imbalance");
    if (!ih) {
        box.replaceChildren(h("p", { class: "muted" }, "This drsd does not record its imbalance history (older version)."));
        return;
    }
    box.replaceChildren(imbalanceChart(ih.samples, ih.period_s, cl.threshold, Date.now() / 1000),
                        h("p", { class: "legend" },
                          h("span", { class: "key cpu" }), "CPU ", h("span", { class: "key memory" }, ""), "memory ",
                          cl.threshold >= 0 ? [h("span", { class: "key threshold" }), "threshold"] : null));
}

// ---- plan and work in flight ------------------------------------------------------------------

function movesTable(moves, withState) {
    if (!moves || moves.length === 0)
        return h("p", { class: "muted" }, "No moves.");
    return h("table", { class: "table" },
             h("thead", {}, h("tr", {}, ["VM", "From", "To", "Wave", "Reason", "Gain", withState ? "State" : null]
                     .filter(Boolean).map(t => h("th", {}, t)))),
             h("tbody", {}, moves.map(m => h("tr", { dataset: { vm: m.vm } },
                                              h("td", {}, m.vm), h("td", {}, m.from), h("td", {}, m.to), h("td", {}, m.wave),
                                              h("td", {}, m.rule ? `${m.reason} (${m.rule})` : m.reason), h("td", {}, num(m.gain)),
                                              withState ? h("td", {}, h("span", { class: `badge move-${m.state}` }, m.state)) : null))));
}

function runProgress(run) {
    const total = run.moves.length, done = run.done + run.failed;
    const fill = h("div", { class: "bar-fill" });
    fill.style.width = `${total ? (100 * done) / total : 0}%`;
    return h("div", { class: "bar-row" }, h("span", { class: "bar-label" }, `wave ${run.wave}/${run.waves}`),
             h("div", { class: "bar", role: "progressbar", "aria-valuenow": done, "aria-valuemax": total }, fill),
             h("span", { class: "bar-value" }, `${done}/${total}`));
}

function renderPlan(st) {
    const cl = st.cluster || {}, out = [];
    if (cl.plan) {
        out.push(h("h3", {}, `Running: plan ${cl.plan.id}${cl.plan.mandatory ? " (mandatory)" : ""}`),
                 runProgress(cl.plan), movesTable(cl.plan.moves, true));
    }
    if (cl.recommendations) {
        out.push(h("h3", {}, "Recommendations"),
                 h("p", { class: "muted" }, `Automation is ${cl.automation}: drs waits for an operator.`),
                 movesTable(cl.recommendations.moves, false),
                 h("button", { class: "btn btn-primary", dataset: { action: "apply" }, disabled: !!cl.plan,
                               onclick: () => act(["apply"], "apply the recommendations") }, "Apply recommendations"));
    }
    const p = state.plan;
    out.push(h("h3", {}, "What drs would do now"));
    if (!p) {
        out.push(h("p", { class: "muted" }, "Asking drsd…"));
    } else if (p.error) {
        out.push(h("p", { class: "error" }, p.error));
    } else {
        const plan = p.plan || {}, b = plan.before || {}, a = plan.after || {};
        out.push(h("p", { id: "plan-summary" },
                   `${plan.status}: ${(plan.moves || []).length} move(s), solver ${plan.solver} in ${plan.solve_ms} ms; ` +
                   `CPU imbalance ${num(b.cpu_imbalance)} → ${num(a.cpu_imbalance)}, memory ${num(b.memory_imbalance)} → ` +
                   `${num(a.memory_imbalance)}` + (p.plan_running ? " (a plan is running: a new one starts when it ends)" : "")),
                 movesTable(plan.moves, false),
                 (plan.power || []).map(pw => h("p", {}, `${powerLabel(pw.action)}: ${pw.host} (wave ${pw.wave})`)),
                 (plan.unplaceable || []).map(u => h("p", { class: "blocker" }, `'${u.vm}' cannot move: ${u.why}`)),
                 (plan.dpm_held || []).map(d => h("p", { class: "muted" }, `DPM ${d.replace("_", " ")} held back (waiting for sustained demand)`)));
    }
    fill($("plan"), out);
}

function renderFlight(st) {
    const cl = st.cluster || {}, out = [];
    const started = new Map(); // vm → time of its latest "started" migration event
    for (const e of state.history)
        if (e.type === "migration" && e.result === "started")
            started.set(e.vm, e.time);
    const running = cl.plan ? cl.plan.moves.filter(m => m.state === "running") : [];
    for (const m of running)
        out.push(h("p", { class: "flight migration", dataset: { vm: m.vm } }, h("span", { class: "spinner" }),
                   `Migrating '${m.vm}' ${m.from} → ${m.to} (${m.reason})` + (started.has(m.vm) ? `, started ${ago(started.get(m.vm))}` : "")));
    for (const host of st.hosts || []) {
        if (host.power_action)
            out.push(h("p", { class: "flight power" }, h("span", { class: "spinner" }), `${powerLabel(host.power_action)}: ${host.name}`));
        if (host.state === "entering-maintenance")
            out.push(h("p", { class: "flight maintenance" }, h("span", { class: "spinner" }),
                       `Evacuating ${host.name}: ${host.vms ?? 0} VM(s) left` + ((host.blockers || []).length ? `, ${host.blockers.length} cannot leave` : "")));
    }
    out.push(h("p", { class: "muted" },
               `Migrations: ${cl.migrations_running ?? 0} running, ${cl.migrations_queued ?? 0} queued; ` +
               `${cl.migrations_completed ?? 0} completed, ${cl.migrations_failed ?? 0} failed since drsd started.`));
    if (running.length === 0 && !(st.hosts || []).some(x => x.power_action || x.state === "entering-maintenance"))
        out.unshift(h("p", {}, "Nothing in flight."));
    fill($("flight"), out);
}

// Rolling maintenance (drsctl rollout): the rollout's state and why it paused, then host by
// host its step and progress — the same words as 'drsctl rollout status'. Admins can pause,
// resume and abort it here; starting one stays a command (it takes a command line to run on
// every host).
const ROLLOUT_STEP = {
    pending: "waiting", evacuating: "evacuating", command: "command running", returning: "waiting for libvirt",
    health: "health check running", done: "done", failed: "failed", unknown: "unknown — check it", skipped: "skipped",
};

function rolloutProgress(x) {
    const step = x.step_s ?? 0;
    switch (x.state) {
    case "evacuating": {
        const start = x.vms_at_start ?? 0, left = x.vms ?? start;
        return `${Math.max(0, start - left)}/${start} VMs moved (${step} s)`;
    }
    case "command": case "returning": case "health":
        return `${step} s`;
    case "done":
        return `command ${Math.round((x.command_ms ?? 0) / 1000)} s`;
    default:
        return x.note || "";
    }
}

function renderRollout() {
    const ro = state.rollout;
    if (!ro) {
        fill($("rollout"), h("p", { class: "muted" },
                              "No rollout. Start one with 'drsctl rollout start … --command CMD' (see drsctl(8)); " +
                              "its progress shows here."));
        return;
    }
    const hosts = ro.hosts || [], done = ro.hosts_done ?? hosts.filter(x => x.state === "done").length;
    const head = h("p", { class: `rollout-state ${ro.state}` },
                   h("strong", {}, `Rollout ${ro.id ?? ""}: ${ro.state}`),
                   ` — ${done} of ${hosts.length} host(s) done, wave ${ro.wave ?? 0} of ${ro.waves ?? "?"}` +
                   (ro.waiting_for_window ? "; waiting for an automation window" : ""));
    const why = ro.reason && ro.state !== "running" ? h("p", { class: ro.state === "paused" ? "error" : "muted" }, ro.reason) : null;
    const rows = hosts.map(x => h("tr", { dataset: { host: x.name, state: x.state } },
                                  h("td", {}, x.name), h("td", {}, String(x.wave ?? "")),
                                  h("td", {}, h("span", { class: `badge ${x.state}` }, ROLLOUT_STEP[x.state] || x.state)),
                                  h("td", {}, x.mode || ""), h("td", {}, x.vms === undefined ? "–" : String(x.vms)),
                                  h("td", {}, rolloutProgress(x))));
    const table = h("table", { class: "table" },
                    h("thead", {}, h("tr", {}, ...["Host", "Wave", "Step", "Mode", "VMs", "Progress"].map(t => h("th", {}, t)))),
                    h("tbody", {}, rows));
    const btns = [];
    if (ro.state === "running")
        btns.push(h("button", { class: "btn btn-secondary", dataset: { action: "rollout-pause" },
                                onclick: () => act(["rollout", "pause"], "pause the rollout") }, "Pause"));
    if (ro.state === "paused")
        btns.push(h("button", { class: "btn btn-primary", dataset: { action: "rollout-resume" },
                                onclick: () => act(["rollout", "resume"], "resume the rollout") }, "Resume"));
    if (ro.state === "running" || ro.state === "paused")
        btns.push(h("button", { class: "btn btn-secondary", dataset: { action: "rollout-abort" },
                                onclick: () => act(["rollout", "abort"], "abort the rollout") }, "Abort"));
    fill($("rollout"), head, why, table, btns.length ? h("div", { class: "host-actions" }, btns) : null);
}

// ---- history ----------------------------------------------------------------------------------

function renderHistory() {
    const vm = $("f-vm").value.trim().toLowerCase(), host = $("f-host").value, type = $("f-type").value;
    const events = state.history.filter(e =>
        (!vm || (e.vm || "").toLowerCase().includes(vm)) &&
        (!host || e.source === host || e.target === host || (e.type !== "migration" && (e.message || "").includes(`'${host}'`))) &&
        (!type || e.type === type)).reverse();
    const shown = events.slice(0, 200);
    fill($("history"),
        shown.length === 0
            ? h("p", { class: "muted" }, "No events.")
            : h("table", { class: "table history" },
                h("thead", {}, h("tr", {}, ["Time", "Type", "Result", "What"].map(t => h("th", {}, t)))),
                h("tbody", {}, shown.map(e => h("tr", { dataset: { type: e.type } },
                                                h("td", { class: "nowrap" }, when(e.time)), h("td", {}, e.type),
                                                h("td", {}, e.result || ""), h("td", {}, e.message || ""))))),
        events.length > shown.length ? h("p", { class: "muted" }, `${events.length - shown.length} older event(s) not shown.`) : null);
}

// Keeps the filter's choices in step with the hosts and the event types seen.
function fillSelect(sel, values) {
    const have = new Set([...sel.options].map(o => o.value));
    for (const v of values)
        if (!have.has(v))
            sel.append(h("option", { value: v }, v));
}

// ---- loading ----------------------------------------------------------------------------------

async function loadSlow() {
    const [p, hist] = await Promise.all([run(["plan"]), run(["history", "--since", $("f-since").value])]);
    state.plan = p.data && p.data.plan ? p.data : { error: p.message || "no plan" };
    if (hist.ok && hist.data)
        state.history = hist.data.events || [];
    fillSelect($("f-type"), [...new Set(state.history.map(e => e.type))].sort());
}

async function refresh() {
    if (state.busy || cockpit.hidden)
        return;
    state.busy = true;
    try {
        const [r, vms, ro] = await Promise.all([run(["status"]), run(["vms"]), run(["rollout", "status"])]);
        if (!r.ok || !r.data) {
            await explain(r);
            return;
        }
        if (state.ticks++ % SLOW_EVERY === 0)
            await loadSlow();
        state.status = r.data;
        state.vms = vms.ok && vms.data ? vms.data.vms || [] : [];
        state.rollout = ro.ok && ro.data ? ro.data.rollout || null : null;
        document.body.dataset.access = "admin";
        $("banner").hidden = true;
        $("content").hidden = false;
        summary(r.data);
        renderHosts(r.data);
        renderImbalance(r.data);
        renderPlan(r.data);
        renderFlight(r.data);
        renderRollout();
        fillSelect($("f-host"), (r.data.hosts || []).map(x => x.name));
        renderHistory();
        document.body.dataset.refreshed = String(Date.now());
    } finally {
        state.busy = false;
    }
}

// ---- actions ----------------------------------------------------------------------------------

async function act(args, what) {
    notice(`Running ${commandLine(args)}…`);
    const r = await run(args);
    if (r.ok)
        notice(`Done: ${what}.`, "success");
    else
        notice(`Could not ${what}: ${r.message}`, "danger");
    state.ticks = 0; // reload the plan and history too
    await refresh();
}

// Evacuate: the dry run first (the moves, and the VMs that cannot leave with why), then confirm.
async function evacuate(host) {
    const dlg = $("evacuate-dialog"), body = $("evacuate-body"), confirm = $("evacuate-confirm");
    $("evacuate-title").textContent = `Evacuate ${host}`;
    body.replaceChildren(h("p", {}, h("span", { class: "spinner" }), `Dry run: ${commandLine(["evacuate", host, "--dry-run"])}`));
    confirm.disabled = true;
    confirm.textContent = `Evacuate ${host}`;
    confirm.onclick = null;
    dlg.dataset.host = host;
    dlg.dataset.phase = "dry-run";
    dlg.showModal();

    const r = await run(["evacuate", host, "--dry-run"]);
    if (!r.data) {
        body.replaceChildren(h("p", { class: "error" }, `The dry run failed: ${r.message}`));
        dlg.dataset.phase = "failed";
        return;
    }
    const plan = r.data.plan || {}, blocked = (plan.unplaceable || []);
    const moves = (plan.moves || []).filter(m => m.from === host);
    fill(body,
        h("p", { id: "evacuate-summary" }, `${moves.length} VM(s) would leave ${host}` +
          (blocked.length ? `; ${blocked.length} cannot leave — ${host} would stay entering-maintenance until they can (nothing is ever stopped).` : "; then it is in maintenance.")),
        movesTable(moves, false),
        blocked.length ? h("div", { class: "blockers" }, h("h3", {}, "Blockers"),
                           blocked.map(u => h("p", { class: "blocker" }, `'${u.vm}' cannot leave: ${u.why}`))) : null,
        h("p", { class: "muted" }, `Equivalent command: ${commandLine(["evacuate", host])}`));
    dlg.dataset.phase = "confirm";
    confirm.textContent = blocked.length ? `Evacuate ${host} anyway` : `Evacuate ${host}`;
    confirm.disabled = false;
    confirm.onclick = async () => {
        confirm.disabled = true;
        dlg.dataset.phase = "running";
        const e = await run(["evacuate", host]);
        if (!e.data) {
            body.append(h("p", { class: "error" }, `Refused: ${e.message}`));
            dlg.dataset.phase = "failed";
            return;
        }
        dlg.close();
        notice(`${host} is ${e.data.state}: its VMs are being moved.`, "success");
        state.ticks = 0;
        await refresh();
    };
}

function init() {
    $("evacuate-cancel").addEventListener("click", () => $("evacuate-dialog").close());
    for (const id of ["f-vm", "f-host", "f-type"])
        $(id).addEventListener("input", renderHistory);
    $("f-since").addEventListener("change", async () => {
        state.ticks = 0;
        await refresh();
    });
    $("history-filters").addEventListener("submit", e => e.preventDefault());
    cockpit.addEventListener("visibilitychange", refresh);
    refresh();
    window.setInterval(refresh, REFRESH_MS);
}

init();
