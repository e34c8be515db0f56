// The flowc console: the runs, a run's graph, inspector, timeline and
// source, and a start form made from a flow's parameters. It talks to the
// API of the server that served it (same origin, the cookie set by
// `/?token=…`) and loads nothing from anywhere else.
"use strict";

const main = document.getElementById("main");
const statusLine = document.getElementById("status");

// ---- small helpers ---------------------------------------------------------

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  return add(el, kids);
}

// `el` with `kids` as its children (arrays flattened, null left out).
function fill(el, ...kids) {
  el.replaceChildren();
  return add(el, kids);
}

function add(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid) el.append(kid);
  return el;
}

function json(v) { return JSON.stringify(v, null, 2); }
function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}
function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : ""; }

// An approval's deadline (`approve … within 24h`): "expires in …", then
// "expired"; every shown one is updated each second.
function deadlineView(a) {
  if (!a.deadline_ms) return null;
  const el = h("span", { class: "deadline muted", "data-deadline": String(a.deadline_ms), title: a.deadline });
  tickDeadline(el);
  return el;
}
function tickDeadline(el) {
  const left = Number(el.dataset.deadline) - Date.now();
  el.textContent = left > 0 ? `expires in ${fmtLeft(left)}` : "expired";
}
function fmtLeft(ms) {
  const sec = Math.ceil(ms / 1000);
  if (sec < 60) return `${sec} s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min} min`;
  const hr = Math.floor(min / 60);
  if (hr < 48) return `${hr} h ${min % 60} min`;
  return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}
setInterval(() => document.querySelectorAll(".deadline").forEach(tickDeadline), 1000);

// A status as one of the console's states (its colour).
function stateOf(status) {
  switch (status) {
    case "running": return "running";
    case "ok": case "cached": case "replayed": return "ok";
    case "failed": case "interrupted": return "failed";
    case "paused": case "pending": case "waiting": return "waiting";
    case "cancelled": return "cancelled";
    default: return "idle";
  }
}
function badge(status) { return h("span", { class: `badge st-${stateOf(status)}`, text: status }); }

// A value as the API gives it: whole, or cut with a link to the whole.
function valueView(v, wholeUrl) {
  if (v && typeof v === "object" && v.cut === true && typeof v.bytes === "number") {
    return h("div", {},
      h("pre", { class: "cut", text: v.preview + " …" }),
      h("a", { href: wholeUrl, target: "_blank", class: "whole" }, `the whole value (${v.bytes} bytes)`));
  }
  return h("pre", { text: json(v) });
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Flowc": "1" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try { r = await fetch(path, init); } catch (e) {
    statusLine.textContent = "the server does not answer";
    return { status: 0, ok: false, body: { error: String(e) } };
  }
  const text = await r.text();
  let v;
  try { v = JSON.parse(text); } catch { v = text; }
  if (r.status === 401) { showLogin(); throw new Error("401"); }
  statusLine.textContent = "";
  return { status: r.status, ok: r.ok, body: v };
}

function showLogin() {
  stopPage();
  fill(main, h("div", { class: "panel login" },
    h("h1", { text: "A token is needed" }),
    h("p", {}, "Open the address that ", h("code", { text: "flowc serve" }),
      " printed when it started (", h("code", { text: "…/?token=…" }),
      "): the console keeps the token in a cookie of this site.")));
}

// ---- pages -------------------------------------------------------------

let page = null;
function stopPage() { if (page && page.stop) page.stop(); page = null; }

function route() {
  stopPage();
  fill(main);
  const m = location.hash.match(/^#\/run\/([^/?]+)/);
  const start = location.hash.match(/^#\/start(?:\/(.*))?$/);
  if (m) page = runPage(decodeURIComponent(m[1]));
  else if (start) page = startPage(start[1] ? decodeURIComponent(start[1]) : null);
  else page = listPage();
}
window.addEventListener("hashchange", route);

// The runs, newest first, polled twice a second.
function listPage() {
  const body = h("tbody");
  const table = h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, ["run", "flow", "file", "status", "started", "took"].map((t) => h("th", { text: t })))),
    body);
  const STATUSES = ["", "running", "paused", "ok", "failed", "cancelled", "interrupted"];
  const status = h("select", { id: "filter-status" }, STATUSES.map((st) => h("option", { value: st, text: st || "any status" })));
  const flow = h("input", { id: "filter-flow", type: "text", placeholder: "flow name" });
  // A new filter starts a new round of polls; the round in flight ends.
  const again = () => { shown = ""; round++; clearTimeout(timer); poll(); };
  status.addEventListener("change", again);
  flow.addEventListener("change", again);
  // The schedules of the served files, if any: refreshed with the runs.
  const schedules = h("div", { id: "schedules" });
  main.append(h("div", { class: "run-head" }, h("h1", { text: "Runs" }), status, flow,
    h("a", { href: "#/start" }, "start a run…")), schedules, table);
  let shownSchedules = "";
  async function pollSchedules() {
    const r = await api("GET", "/api/v1/schedules");
    if (stopped || !r.ok) return;
    const list = r.body.schedules || [];
    const key = JSON.stringify(list.map((x) => [x.next, x.last_run, x.skips]));
    if (key === shownSchedules) return;
    shownSchedules = key;
    fill(schedules, list.length ? h("div", { class: "panel" }, h("h2", { text: "Schedules" }),
      h("table", {},
        h("thead", {}, h("tr", {}, ["flow", "cron", "arguments", "next", "last run", "skipped"].map((t) => h("th", { text: t })))),
        h("tbody", {}, list.map((x) => h("tr", { "data-schedule": `${x.flow} ${x.cron}` },
          h("td", { text: x.flow }),
          h("td", { class: "mono", text: `${x.cron}${x.timezone !== "UTC" ? ` (${x.timezone})` : ""}` }),
          h("td", { class: "mono muted", text: JSON.stringify(x.args) }),
          h("td", { class: "muted", text: x.next ? new Date(x.next).toLocaleString() : "" }),
          h("td", {}, x.last_run ? h("a", { href: `#/run/${encodeURIComponent(x.last_run)}`, class: "mono" }, x.last_run) : ""),
          h("td", { class: "skips", text: String(x.skips) })))))) : null);
  }
  let shown = "";
  let timer = null;
  let stopped = false;
  let round = 0;
  async function poll() {
    const mine = round;
    try {
      const q = new URLSearchParams({ limit: "100" });
      if (status.value) q.set("status", status.value);
      if (flow.value.trim()) q.set("flow", flow.value.trim());
      const r = await api("GET", `/api/v1/runs?${q}`);
      if (stopped || mine !== round) return;
      if (r.ok) {
        const key = JSON.stringify(r.body.runs);
        if (key !== shown) {
          shown = key;
          fill(body, ...r.body.runs.map((run) => h("tr", { "data-run": run.id, "data-status": run.status },
            h("td", {}, h("a", { href: `#/run/${encodeURIComponent(run.id)}`, class: "mono" }, run.id)),
            h("td", { text: run.flow }),
            h("td", { class: "muted", text: run.file }),
            h("td", {}, badge(run.status)),
            h("td", { class: "muted", text: fmtTime(run.started_ms) }),
            h("td", { class: "muted", text: fmtMs(run.duration_ms) }))));
          if (!r.body.runs.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No runs." })));
        }
      }
      await pollSchedules();
    } catch { return; }
    if (!stopped) timer = setTimeout(poll, 500);
  }
  poll();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

// ---- the start form ----------------------------------------------------------

// One field of the form for a parameter's JSON Schema; `read()` gives
// `[present, value]` or throws the reason in words.
function field(name, schema, required) {
  let sch = schema || {};
  let optional = !required;
  if (Array.isArray(sch.anyOf)) {
    const non = sch.anyOf.filter((x) => x.type !== "null");
    if (non.length === 1) { sch = non[0]; optional = true; }
  }
  const id = `arg-${name}`;
  let input;
  let read;
  let typeText = sch.type || "JSON";
  if (Array.isArray(sch.enum)) {
    typeText = sch.enum.map((e) => JSON.stringify(e)).join(" | ");
    input = h("select", { id, name },
      optional ? h("option", { value: "", text: "(default)" }) : null,
      sch.enum.map((e) => h("option", { value: e, text: e })));
    read = () => (input.value === "" ? [false] : [true, input.value]);
  } else if (sch.type === "string") {
    input = h("input", { id, name, type: "text", placeholder: optional ? "(default)" : "" });
    read = () => (input.value === "" && optional ? [false] : [true, input.value]);
  } else if (sch.type === "integer" || sch.type === "number") {
    if (sch.description) typeText += ` (${sch.description})`;
    input = h("input", { id, name, type: "number", step: sch.type === "integer" ? "1" : "any", placeholder: optional ? "(default)" : "" });
    read = () => {
      if (input.value === "") { if (optional) return [false]; throw new Error(`${name}: a number is needed`); }
      const n = Number(input.value);
      if (sch.type === "integer" && !Number.isInteger(n)) throw new Error(`${name}: a whole number is needed`);
      return [true, n];
    };
  } else if (sch.type === "boolean") {
    input = h("select", { id, name },
      optional ? h("option", { value: "", text: "(default)" }) : null,
      h("option", { value: "true", text: "true" }), h("option", { value: "false", text: "false" }));
    read = () => (input.value === "" ? [false] : [true, input.value === "true"]);
  } else {
    typeText = sch.type === "array" ? "list (JSON)" : sch.type === "object" ? "record (JSON)" : "JSON";
    input = h("textarea", { id, name, placeholder: optional ? "(default)" : JSON.stringify(example(sch)) });
    read = () => {
      if (input.value.trim() === "") { if (optional) return [false]; throw new Error(`${name}: a JSON value is needed`); }
      try { return [true, JSON.parse(input.value)]; } catch (e) { throw new Error(`${name}: not JSON (${e.message})`); }
    };
  }
  const row = h("div", { class: "form-row" },
    h("label", { for: id }, name, optional ? "" : " *", h("span", { class: "type", text: typeText })),
    input);
  return { name, row, read };
}

// A value of a schema's shape, for a placeholder.
function example(sch) {
  if (!sch) return null;
  if (sch.enum) return sch.enum[0];
  switch (sch.type) {
    case "array": return [example(sch.items)];
    case "object": {
      const o = {};
      for (const [k, v] of Object.entries(sch.properties || {})) o[k] = example(v);
      return o;
    }
    case "string": return "";
    case "integer": case "number": return 0;
    case "boolean": return false;
    default: return null;
  }
}

function startPage(wanted) {
  const box = h("div", { class: "panel", id: "start" });
  main.append(h("h1", { text: "Start a run" }), box);
  let stopped = false;
  (async () => {
    const r = await api("GET", "/api/v1/flows");
    if (stopped) return;
    if (!r.ok) { box.append(h("p", { class: "error", text: r.body.error || "cannot list the flows" })); return; }
    const flows = r.body.flows;
    const key = (f) => `${f.file}:${f.name}`;
    const select = h("select", { id: "flow" }, flows.map((f) => h("option", { value: key(f), text: `${f.name}  (${f.file})` })));
    if (wanted && flows.some((f) => key(f) === wanted)) select.value = wanted;
    const doc = h("p", { class: "muted" });
    const fields = h("div", { id: "fields" });
    const out = h("div", { id: "start-result" });
    let current = [];
    let flow = null;
    function show() {
      flow = flows.find((f) => key(f) === select.value);
      doc.textContent = flow && flow.doc ? flow.doc : "";
      const p = (flow && flow.parameters) || {};
      const req = new Set(p.required || []);
      current = Object.entries(p.properties || {}).map(([n, sch]) => field(n, sch, req.has(n)));
      fill(fields, ...current.map((f) => f.row));
      if (!current.length) fields.append(h("p", { class: "muted", text: "This flow takes no parameters." }));
      fill(out);
    }
    select.addEventListener("change", show);
    const go = h("button", { class: "primary", id: "start-run", type: "submit", text: "Start" });
    const form = h("form", {}, h("div", { class: "form-row" }, h("label", { for: "flow", text: "flow" }), select),
      doc, fields, h("div", { class: "actions" }, go), out);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      fill(out);
      const args = {};
      try {
        for (const f of current) { const [present, v] = f.read(); if (present) args[f.name] = v; }
      } catch (err) { out.append(h("p", { class: "error", text: err.message })); return; }
      go.disabled = true;
      const res = await api("POST", "/api/v1/runs", { file: flow.file, flow: flow.name, args });
      go.disabled = false;
      if (res.status === 201) { location.hash = `#/run/${encodeURIComponent(res.body.id)}`; return; }
      out.append(h("p", { class: "error", id: "start-error", text: `${res.status}: ${res.body.error || json(res.body)}` }));
      if (res.body.parameter) out.append(h("p", { class: "muted", text: `parameter: ${res.body.parameter}` }));
      for (const d of res.body.diagnostics || []) {
        out.append(h("div", { class: "diag mono", text: `${d.code || ""} ${d.file || ""}:${d.line || ""}:${d.column || ""} ${d.message || json(d)}` }));
      }
    });
    box.append(form);
    show();
  })().catch(() => {});
  return { stop() { stopped = true; } };
}

// ---- a run's page ------------------------------------------------------------

// The statement of a flow's body a step path belongs to: `main/m.cpu/x` → `m`.
function topOf(path, flow) {
  let rest = path.startsWith(flow + "/") ? path.slice(flow.length + 1) : path.slice(path.indexOf("/") + 1);
  return rest.split(/[/.#]/)[0];
}

// Most steps the inspector shows for one statement, and rows the timeline draws:
// a run of 10,000 steps opens as fast as a small one.
const MAX_SHOWN = 50;
const MAX_ROWS = 500;

const KINDS = ["run_started", "step_started", "step_finished", "decision", "replan", "approval_requested", "run_finished"];

function runPage(id) {
  let stopped = false;
  let run = null;
  let graph = null;
  let selected = null;
  let es = null;
  const fromEvents = new Map(); // path → status, from the event stream
  const startedAt = new Map(); // path → when its step_started came (the journal has no running steps yet)
  const nodes = new Map(); // label → svg group
  const plain = new Set(); // the labels of statements that call nothing
  let timer = null;
  let refreshSoon = null;
  let paintSoon = null;

  const head = h("div", { class: "panel", id: "run-head" });
  const approvals = h("div", { id: "approvals" });
  const graphBox = h("div", { class: "panel graph-box", id: "graph" }, h("p", { class: "muted", text: "Loading the graph…" }));
  const inspector = h("div", { class: "panel inspector", id: "inspector" }, h("p", { class: "muted", text: "Click a step in the graph or the timeline." }));
  const timeline = h("div", { class: "panel timeline", id: "timeline" });
  const source = h("div", { class: "panel" }, h("h2", { text: "Source" }), h("div", { class: "source mono", id: "source" }));
  main.append(head, approvals, h("div", { class: "grid" }, h("div", {}, graphBox, timeline), h("div", {}, inspector, source)));

  let shownHead = "", shownApprovals = "", shownInspector = "", shownTimeline = "";

  function stepState(st) {
    const ev = fromEvents.get(st.path);
    return stateOf(ev || st.status);
  }

  // Every path known, from the journal and the events, with its state.
  function allSteps() {
    const seen = new Map();
    for (const st of (run && run.steps) || []) seen.set(st.path, stepState(st));
    for (const [p, status] of fromEvents) if (!seen.has(p)) seen.set(p, stateOf(status));
    return seen;
  }

  function nodeStates() {
    const by = new Map();
    for (const [path, state] of allSteps()) {
      const top = topOf(path, run ? run.flow : "");
      if (!by.has(top)) by.set(top, []);
      by.get(top).push(state);
    }
    const out = new Map();
    for (const [top, states] of by) {
      const one = ["failed", "running", "waiting", "cancelled", "ok"].find((s) => states.includes(s)) || "idle";
      out.set(top, one);
    }
    return out;
  }

  function paintGraph() {
    const states = nodeStates();
    const done = run && run.status === "ok";
    for (const [label, g] of nodes) {
      // A statement that calls nothing (an expression) has no step: done with the run.
      const st = states.get(label) || (done && plain.has(label) ? "ok" : "idle");
      g.setAttribute("class", `node st-${st}${label === selected ? " selected" : ""}`);
      g.setAttribute("data-state", st);
    }
  }

  async function act(method, path, body, what) {
    const r = await api(method, path, body);
    if (!r.ok) alert(`${what}: ${r.status} ${r.body.error || json(r.body)}`);
    refresh();
    return r;
  }

  function renderHead() {
    const uncertain = (run.steps || []).filter((st) => st.uncertain).map((st) => st.path);
    const key = JSON.stringify([run.status, run.live, run.result, run.error, run.duration_ms, uncertain]);
    if (key === shownHead) return;
    shownHead = key;
    const buttons = [];
    if (run.live) buttons.push(h("button", { class: "danger", id: "cancel", text: "Cancel", onclick: () => act("POST", `/api/v1/runs/${id}/cancel`, {}, "cancel") }));
    if (!run.live && ["failed", "cancelled", "interrupted"].includes(run.status)) {
      buttons.push(h("button", { id: "resume", text: "Resume", onclick: () => act("POST", `/api/v1/runs/${id}/resume`, {}, "resume") }));
    }
    fill(head, 
      h("div", { class: "run-head" },
        h("h1", {}, "run ", h("span", { class: "mono", text: id })),
        h("span", { id: "run-status", "data-status": run.status }, badge(run.status)),
        run.live ? h("span", { class: "muted", text: "running in this server" }) : null,
        h("span", { class: "muted" }, `${run.flow} · ${run.file} · started ${fmtTime(run.started_ms)}`, run.duration_ms !== null ? ` · took ${fmtMs(run.duration_ms)}` : ""),
        h("a", { href: `#/start/${encodeURIComponent(`${run.file}:${run.flow}`)}` }, "start another…")),
      uncertain.length ? h("p", { class: "error", id: "uncertain" },
        `An effect started and never said how it ended (${uncertain.join(", ")}): the run waits for an operator. `,
        h("code", { text: `flowc runs show ${id}` }), ", then ", h("code", { text: `flowc resume ${id} --rerun-uncertain` }), " or not at all.") : null,
      h("div", { class: "actions" }, buttons),
      h("h3", { text: "arguments" }), h("pre", { id: "run-args", text: json(run.args) }),
      run.result !== null && run.result !== undefined ? [h("h3", { text: "result" }), valueView(run.result, `/api/v1/runs/${id}/value`)] : null,
      run.error ? [h("h3", { text: "error" }), h("pre", { class: "error", text: json(run.error) })] : null);
  }

  function approvalView(a) {
    const note = h("input", { type: "text", placeholder: "a note (optional)", class: "note" });
    const answer = (yes) => act("POST", `/api/v1/runs/${id}/approvals/${a.path.split("/").map(encodeURIComponent).join("/")}`, { approve: yes, note: note.value || null }, yes ? "approve" : "reject");
    return h("div", { class: "approval", "data-path": a.path },
      h("div", {}, h("strong", { text: a.message }), " ", h("span", { class: "muted mono", text: a.path }),
        a.status === "pending" || a.status === "expired" ? [" ", deadlineView(a)] : null),
      a.context && Object.keys(a.context).length ? h("pre", { text: json(a.context) }) : null,
      a.status === "pending"
        ? h("div", { class: "actions" }, note,
          h("button", { class: "approve", text: "Approve", onclick: () => answer(true) }),
          h("button", { class: "reject", text: "Reject", onclick: () => answer(false) }))
        : h("div", { class: "muted" }, `${a.status}${a.answered_by ? ` by ${a.answered_by}` : ""}${a.note ? `: “${a.note}”` : ""}`));
  }

  function renderApprovals() {
    const pending = (run.approvals || []).filter((a) => a.status === "pending");
    const key = JSON.stringify(pending);
    if (key === shownApprovals) return;
    shownApprovals = key;
    fill(approvals);
    if (pending.length) approvals.append(h("div", { class: "panel" }, h("h2", { text: "Waiting for an answer" }), pending.map(approvalView)));
  }

  function renderGraph() {
    if (!graph) return;
    nodes.clear();
    const block = graph.body;
    const W = 176, H = 46, GX = 26, GY = 42, PAD = 14;
    const byLevel = new Map();
    for (const n of block.nodes) {
      if (!byLevel.has(n.level)) byLevel.set(n.level, []);
      byLevel.get(n.level).push(n);
    }
    const widest = Math.max(1, ...[...byLevel.values()].map((l) => l.length));
    const width = PAD * 2 + widest * W + (widest - 1) * GX;
    const levels = [...byLevel.keys()].sort((a, b) => a - b);
    const at = new Map();
    levels.forEach((lv, row) => {
      const list = byLevel.get(lv);
      const rowW = list.length * W + (list.length - 1) * GX;
      list.forEach((n, i) => at.set(n.id, { x: (width - rowW) / 2 + i * (W + GX), y: PAD + row * (H + GY) }));
    });
    const height = PAD * 2 + levels.length * H + Math.max(0, levels.length - 1) * GY;
    const svg = s("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}` },
      s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" },
        s("path", { d: "M0,0 L10,5 L0,10 z" }))));
    for (const e of block.edges) {
      const a = at.get(e.from), b = at.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      const my = (y1 + y2) / 2;
      svg.append(s("path", { class: `edge ${e.kind === "data" ? "" : "order"}`, d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
    }
    for (const n of block.nodes) {
      const p = at.get(n.id);
      const inner = callsIn(n);
      const sub = inner.length ? inner.join(", ") : n.children.length ? n.children.map((c) => c.label).join(" | ") : n.kind;
      const g = s("g", { class: "node st-idle", "data-node": n.label, "data-state": "idle", transform: `translate(${p.x},${p.y})`, onclick: () => select(n.label) },
        s("title", { text: `${n.label} (line ${n.line})` }),
        s("rect", { width: W, height: H, rx: 6 }),
        s("text", { x: 10, y: 19, text: cutText(n.label, 24) }),
        s("text", { x: 10, y: 36, class: "sub", text: cutText(sub, 28) }));
      nodes.set(n.label, g);
      if (!n.calls.length && !n.children.length) plain.add(n.label);
      svg.append(g);
    }
    fill(graphBox, h("h2", { text: `Graph of ${graph.flow}` }), svg);
    const src = document.getElementById("source");
    const lines = graph.source.split("\n");
    fill(src, ...lines.map((l, i) => h("span", { class: "ln", "data-n": i + 1, text: l || " " })));
    paintGraph();
  }

  // What a statement calls, its nested blocks' calls included, once each.
  function callsIn(n) {
    const seen = new Set(n.calls);
    const walk = (b) => { for (const c of b.nodes) { c.calls.forEach((x) => seen.add(x)); c.children.forEach(walk); } };
    n.children.forEach(walk);
    return [...seen];
  }

  function cutText(t, n) { return t.length > n ? t.slice(0, n - 1) + "…" : t; }

  // The lines of a statement: from its line to the line before the next
  // statement's, blank and comment lines at the end left out.
  function linesOf(label) {
    if (!graph) return null;
    const ns = [...graph.body.nodes].sort((a, b) => a.line - b.line);
    const i = ns.findIndex((n) => n.label === label);
    if (i < 0) return null;
    const lines = graph.source.split("\n");
    const from = ns[i].line;
    let to = i + 1 < ns.length ? ns[i + 1].line - 1 : Math.min(lines.length, from + 30);
    if (i + 1 >= ns.length) {
      for (let k = from; k < to; k++) if (/^\}/.test(lines[k])) { to = k; break; }
    }
    while (to > from && /^\s*(\/\/.*)?$/.test(lines[to - 1])) to--;
    return [from, to, lines.slice(from - 1, to).join("\n")];
  }

  function select(label) {
    selected = label;
    shownInspector = "";
    paintGraph();
    renderInspector();
    const span = linesOf(label);
    for (const el of document.querySelectorAll("#source .ln.hl")) el.classList.remove("hl");
    if (span) {
      const all = document.querySelectorAll("#source .ln");
      for (let k = span[0]; k <= span[1]; k++) if (all[k - 1]) all[k - 1].classList.add("hl");
      // The source box scrolls to the span; the page stays where it is.
      const box = document.getElementById("source");
      const first = all[span[0] - 1];
      if (first) box.scrollTop = first.offsetTop - box.offsetTop - 40;
    }
  }

  function renderInspector() {
    if (!selected || !run) return;
    const steps = (run.steps || []).filter((st) => topOf(st.path, run.flow) === selected);
    const evOnly = [...fromEvents].filter(([p]) => topOf(p, run.flow) === selected && !steps.some((st) => st.path === p));
    const decisions = ((run.record && run.record.decisions) || []).filter((d) => d.path && topOf(d.path, run.flow) === selected);
    const replans = ((run.record && run.record.replans) || []).filter((r) => r.path && topOf(r.path, run.flow) === selected);
    const asked = (run.approvals || []).filter((a) => topOf(a.path, run.flow) === selected);
    const key = JSON.stringify([selected, steps, evOnly, decisions, replans, asked, run.live]);
    if (key === shownInspector) return;
    shownInspector = key;
    const span = linesOf(selected);
    const node = graph && graph.body.nodes.find((n) => n.label === selected);
    fill(inspector, 
      h("h2", {}, "step ", h("span", { class: "mono", text: selected }), node ? h("span", { class: "muted", text: ` · ${node.kind} · line ${node.line}` }) : null),
      span ? [h("h3", { text: "call (as written)" }), h("pre", { id: "inspector-call", text: span[2] })] : null,
      steps.length || evOnly.length ? null : h("p", { class: "muted", text: "Not run (yet)." }),
      steps.slice(0, MAX_SHOWN).map((st) => stepView(st)),
      steps.length > MAX_SHOWN ? h("p", { class: "muted", text: `… and ${steps.length - MAX_SHOWN} more steps (the timeline and GET /api/v1/runs/${id} have them all)` }) : null,
      evOnly.map(([p, status]) => h("div", { class: "step" }, h("dl", {}, h("dt", { text: "path" }), h("dd", { class: "mono", text: p }), h("dt", { text: "status" }), h("dd", {}, badge(status))))),
      asked.map(approvalView),
      decisions.map((d) => h("div", { class: "step" }, h("h3", { text: `decision ${d.path}` }),
        h("dl", {}, h("dt", { text: "prompt" }), h("dd", {}, h("pre", { text: d.prompt })),
          h("dt", { text: "options" }), h("dd", { text: (d.options || []).join(", ") }),
          h("dt", { text: "answers" }), h("dd", {}, h("pre", { text: (d.answers || []).join("\n") })),
          h("dt", { text: "chosen" }), h("dd", { text: d.label || "" }),
          d.error ? [h("dt", { text: "error" }), h("dd", { class: "error", text: d.error })] : null))),
      replans.map((r) => h("div", { class: "step" }, h("h3", { text: `re-plan ${r.path} (${r.outcome})` }),
        r.fragment ? h("pre", { text: r.fragment }) : null,
        (r.attempts || []).map((a, i) => h("div", {}, h("div", { class: "muted", text: `attempt ${i + 1}` }),
          h("pre", { text: a.answer }), (a.diagnostics || []).map((d) => h("div", { class: "diag", text: d })))),
        r.error ? h("p", { class: "error", text: r.error }) : null)));
  }

  function stepView(st) {
    const retry = !run.live
      ? h("button", { class: "retry", text: "Retry from here", onclick: () => act("POST", `/api/v1/runs/${id}/retry`, { from: st.path }, "retry") })
      : null;
    return h("div", { class: "step", "data-path": st.path },
      h("dl", {},
        h("dt", { text: "path" }), h("dd", { class: "mono", text: st.path }),
        h("dt", { text: "tool" }), h("dd", { text: `${st.tool} (${st.kind})` }),
        h("dt", { text: "status" }), h("dd", {}, badge(fromEvents.get(st.path) || st.status), st.uncertain ? h("span", { class: "error", text: " uncertain: waits for an operator" }) : null),
        h("dt", { text: "attempts" }), h("dd", { text: st.attempts }),
        h("dt", { text: "duration" }), h("dd", { text: fmtMs(st.duration_ms) }),
        h("dt", { text: "started" }), h("dd", { text: fmtTime(st.started_ms) })),
      st.error ? [h("h3", { text: "error" }), h("pre", { class: "error", text: json(st.error) })] : null,
      // The values it was called with (the call as written is above).
      "args" in st ? [h("h3", { text: "arguments" }), h("div", { class: "args" }, valueView(st.args, `/api/v1/runs/${id}/value?step=${encodeURIComponent(st.path)}&part=args`))]
        : st.args_not_kept ? [h("h3", { text: "arguments" }), h("p", { class: "muted args", text: st.args_not_kept })] : null,
      "result" in st ? [h("h3", { text: "result" }), h("div", { class: "result" }, valueView(st.result, `/api/v1/runs/${id}/value?step=${encodeURIComponent(st.path)}`))] : null,
      h("div", { class: "actions" }, retry));
  }

  function renderTimeline() {
    const steps = (run.steps || []).filter((st) => st.started_ms);
    // Steps the stream says run and the journal does not have yet.
    for (const [p, status] of fromEvents) {
      if (status === "running" && startedAt.has(p) && !steps.some((st) => st.path === p)) {
        steps.push({ path: p, started_ms: startedAt.get(p), ended_ms: null, duration_ms: null, status });
      }
    }
    const key = JSON.stringify([steps, [...fromEvents], run.live ? Math.floor(Date.now() / 1000) : 0]);
    if (key === shownTimeline) return;
    shownTimeline = key;
    const t0 = Math.min(run.started_ms || Infinity, ...steps.map((st) => st.started_ms));
    const now = Date.now();
    const t1 = Math.max(t0 + 1, run.ended_ms || 0, ...steps.map((st) => st.ended_ms || now));
    const span = t1 - t0;
    const rows = steps.slice(0, MAX_ROWS).map((st) => {
      const bar = h("div", { class: `bar st-${stepState(st)}`, title: `${st.path}: ${fmtMs((st.ended_ms || now) - st.started_ms)}` });
      bar.style.left = `${((st.started_ms - t0) / span) * 100}%`;
      bar.style.width = `${Math.max(0.4, (((st.ended_ms || now) - st.started_ms) / span) * 100)}%`;
      return h("div", { class: "row", onclick: () => select(topOf(st.path, run.flow)) },
        h("span", { class: "path mono", title: st.path, text: st.path }),
        h("div", { class: "track" }, bar),
        h("span", { class: "dur", text: fmtMs(st.duration_ms) }));
    });
    fill(timeline, h("h2", { text: "Timeline" }), rows.length ? rows : h("p", { class: "muted", text: "No steps yet." }),
      steps.length > MAX_ROWS ? h("p", { class: "muted", text: `… and ${steps.length - MAX_ROWS} more steps` }) : null);
  }

  function render() {
    if (!run) return;
    renderHead();
    renderApprovals();
    paintGraph();
    renderInspector();
    renderTimeline();
  }

  function openStream() {
    if (es || stopped) return;
    es = new EventSource(`/api/v1/runs/${encodeURIComponent(id)}/events`);
    for (const kind of KINDS) {
      es.addEventListener(kind, (e) => {
        let d = {};
        try { d = JSON.parse(e.data); } catch { /* nothing */ }
        if (kind === "step_started") { fromEvents.set(d.path, "running"); if (!startedAt.has(d.path)) startedAt.set(d.path, Date.now()); }
        else if (kind === "step_finished") fromEvents.set(d.path, d.status);
        else if (kind === "approval_requested") fromEvents.set(d.path, "waiting");
        // Many events at once (a long run's stream) are painted once.
        if (!paintSoon) paintSoon = setTimeout(() => { paintSoon = null; paintGraph(); }, 50);
        clearTimeout(refreshSoon);
        refreshSoon = setTimeout(refresh, 150);
      });
    }
    // The stream ends when the run ends or pauses; it is opened again
    // when the run runs here again.
    es.onerror = () => { if (es) es.close(); es = null; };
  }

  async function refresh() {
    let r;
    try { r = await api("GET", `/api/v1/runs/${encodeURIComponent(id)}`); } catch { return; }
    if (stopped) return;
    if (!r.ok) { fill(head, h("p", { class: "error", text: r.body.error || `run ${id}: ${r.status}` })); return; }
    run = r.body;
    // A run that does not run here: the journal has it all.
    if (run.live) openStream();
    else { fromEvents.clear(); startedAt.clear(); }
    if (!graph && !graph_asked) loadGraph();
    render();
  }

  let graph_asked = false;
  async function loadGraph() {
    graph_asked = true;
    const r = await api("GET", `/api/v1/graph?file=${encodeURIComponent(run.file)}&flow=${encodeURIComponent(run.flow)}`);
    if (stopped) return;
    if (!r.ok) {
      fill(graphBox, h("p", { class: "muted", text: `No graph: ${r.body.error || r.status}` }));
      return;
    }
    graph = r.body;
    renderGraph();
    if (selected) select(selected);
  }

  // Every second while the run runs or waits; a run that ended is looked at
  // again every 5 s (it may be resumed or retried from elsewhere).
  async function poll() {
    await refresh();
    const busy = !run || run.live || run.status === "running" || run.status === "paused";
    if (!stopped) timer = setTimeout(poll, busy ? 1000 : 5000);
  }
  poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(refreshSoon);
      clearTimeout(paintSoon);
      if (es) es.close();
    },
  };
}

route();
