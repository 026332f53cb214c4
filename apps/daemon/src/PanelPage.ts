/**
 * The status panel's page: one HTML document with its style and script inline (about 20 KB,
 * no framework, nothing fetched from elsewhere). The script reads the control API with the
 * panel's cookie: `GET /v1/conduits/status` for every conduit, the event stream
 * (`GET /v1/events`) to refresh the moment something happens, `GET /v1/conduits/:id/history`
 * when a history is opened, and the actions (`POST …/run`, `…/pause`, `…/resume`,
 * `PATCH /v1/conduits/:id`).
 *
 * Every text that comes from the library (paths, errors) is put in with `textContent`, never as
 * markup: a file named `<script>` is shown, not run.
 *
 * @since 0.1.0
 */
import { ConduitEvents } from "@conduit/sync"

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6672; --line: #d5dae0; --card: #fff; --bg: #f3f5f7;
  --accent: #2563eb; --ok: #15803d; --warn: #b45309; --bad: #b91c1c; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #9aa5b1; --line: #39414a; --card: #1e2329; --bg: #14181c; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 1.1rem; margin: 0; }
header .muted { margin-left: auto; }
main { padding: 1rem 1.2rem; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; display: grid; gap: .45rem; }
.card h2 { font-size: 1rem; margin: 0; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.mono { font-family: ui-monospace, monospace; font-size: 12.5px; word-break: break-all; }
.muted { color: var(--muted); }
.badge { font-size: 11.5px; padding: 1px 7px; border-radius: 999px; border: 1px solid var(--line); font-weight: 600; }
.state-running { color: var(--accent); border-color: var(--accent); }
.state-idle { color: var(--ok); border-color: var(--ok); }
.state-paused { color: var(--warn); border-color: var(--warn); }
.state-failed { color: var(--bad); border-color: var(--bad); }
.state-disabled { color: var(--muted); }
progress { width: 100%; height: 10px; }
.row { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
button { font: inherit; padding: .25rem .8rem; border-radius: 6px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
.storage { display: grid; grid-template-columns: 4.5rem 1fr 14rem; gap: .4rem; align-items: center; }
meter { width: 100%; }
details > summary { cursor: pointer; color: var(--muted); }
form.settings { display: grid; grid-template-columns: 11rem 1fr; gap: .35rem .6rem; margin-top: .4rem; align-items: center; }
form.settings input, form.settings select { font: inherit; padding: .15rem .35rem; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line); }
ul.conflicts { margin: 0; padding-left: 1.1rem; }
#message { position: fixed; right: 1rem; bottom: 1rem; max-width: 36rem; padding: .6rem .9rem; border-radius: 6px; background: var(--card);
  border: 1px solid var(--line); box-shadow: 0 2px 10px #0003; display: none; }
#message.error { border-color: var(--bad); color: var(--bad); }
.empty { padding: 2rem; color: var(--muted); }
`

const SCRIPT = `
"use strict";
const KINDS = ${JSON.stringify(ConduitEvents.kinds)};
const cards = new Map();
let statuses = [];

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}
const bytes = (n) => {
  if (n === null || n === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
};
const duration = (ms) => {
  if (ms === null || ms === undefined) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
};
const when = (iso) => {
  if (!iso) return "never";
  const d = new Date(iso), ago = Date.now() - d.getTime();
  const rel = ago >= 0 ? duration(ago) + " ago" : "in " + duration(-ago);
  return d.toLocaleString() + " (" + rel + ")";
};
function say(text, error) {
  const m = document.getElementById("message");
  m.textContent = text; m.className = error ? "error" : ""; m.style.display = "block";
  clearTimeout(say.timer); say.timer = setTimeout(() => { m.style.display = "none"; }, error ? 8000 : 3000);
}
async function api(method, path, body) {
  const res = await fetch(path, { method, credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null; try { json = JSON.parse(text); } catch {}
  if (res.status === 401) { say("the daemon refused the panel's token: open the panel again with 'conduit panel'", true); throw new Error("401"); }
  if (!res.ok) throw new Error((json && json.message) || (res.status + " " + res.statusText));
  return json;
}

function field(card, name) { return card.querySelector('[data-field="' + name + '"]'); }
function set(card, name, text) { const el = field(card, name); if (el.textContent !== text) el.textContent = text; }

function act(id, action) {
  return async (event) => {
    const button = event.currentTarget; button.disabled = true;
    try {
      if (action === "run") {
        say("run of " + id + " started");
        const r = api("POST", "/v1/conduits/" + id + "/run", {});
        scheduleRefresh();
        const s = await r;
        const how = s.job && s.job.status !== "completed" ? ", " + s.job.status : s.verified ? ", verified" : ", not verified";
        say("run of " + id + ": generation " + s.generation + ", " + s.copied + " copied, " + s.deleted + " deleted" + how);
      } else if (action === "pause" || action === "resume") {
        await api("POST", "/v1/conduits/" + id + "/" + action);
        say(action + " of " + id + " requested");
      } else if (action === "enable" || action === "disable") {
        await api("PATCH", "/v1/conduits/" + id, { enabled: action === "enable" });
        say(id + " " + action + "d");
      }
    } catch (e) { if (e.message !== "401") say(action + " of " + id + ": " + e.message, true); }
    finally { button.disabled = false; scheduleRefresh(); }
  };
}

async function saveSettings(id, form) {
  const data = new FormData(form);
  const bandwidth = String(data.get("bandwidthLimitMbps")).trim();
  const patch = {
    schedule: String(data.get("schedule")).trim(),
    bandwidthLimitMbps: bandwidth === "" ? null : Number(bandwidth),
    parallelTransfers: Number(data.get("parallelTransfers")),
    conflictStrategy: String(data.get("conflictStrategy"))
  };
  try { await api("PATCH", "/v1/conduits/" + id, patch); say("settings of " + id + " saved"); form.dataset.dirty = ""; }
  catch (e) { if (e.message !== "401") say("settings of " + id + ": " + e.message, true); }
  scheduleRefresh();
}

async function loadHistory(id, card) {
  const box = field(card, "history");
  try {
    const { generations } = await api("GET", "/v1/conduits/" + id + "/history?limit=20");
    const rows = generations.map((g) => h("tr", {},
      h("td", {}, String(g.generation)), h("td", {}, g.status), h("td", {}, new Date(g.startedAt).toLocaleString()),
      h("td", {}, duration(g.durationMs)), h("td", {}, String(g.filesCopied)), h("td", {}, String(g.filesDeleted)),
      h("td", {}, bytes(g.bytesTransferred)), h("td", {}, String(g.conflictsResolved)), h("td", {}, g.verification),
      h("td", {}, String(g.errors.length))));
    box.replaceChildren(generations.length === 0 ? h("span", { class: "muted" }, "no runs yet") :
      h("table", { "data-testid": "history-table" },
        h("thead", {}, h("tr", {}, ...["gen", "status", "started", "took", "copied", "deleted", "bytes", "conflicts", "verification", "errors"].map((t) => h("th", {}, t)))),
        h("tbody", {}, ...rows)));
  } catch (e) { if (e.message !== "401") box.textContent = "history: " + e.message; }
}

function makeCard(c) {
  const id = c.id;
  const form = h("form", { class: "settings", "data-testid": "settings", onsubmit: (e) => { e.preventDefault(); saveSettings(id, form); },
      oninput: () => { form.dataset.dirty = "1"; } },
    h("label", { for: "schedule-" + id }, "schedule"),
    h("input", { id: "schedule-" + id, name: "schedule", placeholder: "manual | instant | interval:5m" }),
    h("label", { for: "bw-" + id }, "bandwidth limit (Mbit/s)"),
    h("input", { id: "bw-" + id, name: "bandwidthLimitMbps", type: "number", min: "0", step: "any", placeholder: "no limit" }),
    h("label", { for: "par-" + id }, "parallel transfers"),
    h("input", { id: "par-" + id, name: "parallelTransfers", type: "number", min: "1", max: "64", step: "1" }),
    h("label", { for: "cs-" + id }, "conflict strategy"),
    h("select", { id: "cs-" + id, name: "conflictStrategy" }, h("option", { value: "last-write-wins" }, "last write wins (loser kept)")),
    h("span"), h("div", {}, h("button", { type: "submit", "data-action": "save" }, "Save")));
  const history = h("details", { "data-testid": "history", ontoggle: () => { if (history.open) loadHistory(id, card); } },
    h("summary", {}, "History"), h("div", { "data-field": "history" }, "loading…"));
  const card = h("section", { class: "card", "data-testid": "conduit", "data-conduit": id },
    h("h2", {}, h("span", { class: "mono" }, id.slice(0, 8)), h("span", { class: "badge", "data-field": "mode" }),
      h("span", { class: "badge", "data-field": "state", "data-testid": "state" }), h("span", { class: "muted", "data-field": "schedule" })),
    h("div", { class: "mono" }, h("span", { "data-field": "source" }), " → ", h("span", { "data-field": "target" })),
    h("progress", { "data-testid": "progress", max: "1", value: "0" }),
    h("div", { class: "row" }, h("span", { "data-field": "progress", "data-testid": "progress-text" }),
      h("span", { class: "muted", "data-field": "speed", "data-testid": "speed" }), h("span", { class: "muted", "data-field": "eta", "data-testid": "eta" })),
    h("div", { class: "muted", "data-field": "pending", "data-testid": "pending" }),
    h("div", { class: "muted", "data-field": "when" }),
    h("div", { "data-field": "last", "data-testid": "last-generation" }),
    h("div", { "data-testid": "conflicts" }, h("span", { "data-field": "conflicts" }), h("ul", { class: "conflicts", "data-field": "conflict-list" })),
    h("div", { class: "storage", "data-testid": "storage" },
      h("span", { class: "muted" }, "source"), h("meter", { "data-field": "source-meter", min: "0", max: "1" }), h("span", { "data-field": "source-storage" }),
      h("span", { class: "muted" }, "target"), h("meter", { "data-field": "target-meter", min: "0", max: "1" }), h("span", { "data-field": "target-storage" })),
    h("div", { class: "row" },
      h("button", { "data-action": "run", onclick: act(id, "run") }, "Run now"),
      h("button", { "data-action": "pause", onclick: act(id, "pause") }, "Pause"),
      h("button", { "data-action": "resume", onclick: act(id, "resume") }, "Resume"),
      h("button", { "data-action": "enable", onclick: act(id, "enable") }, "Enable"),
      h("button", { "data-action": "disable", onclick: act(id, "disable") }, "Disable")),
    h("details", { "data-testid": "settings-box" }, h("summary", {}, "Settings"), form),
    history);
  card.form = form; card.historyBox = history;
  return card;
}

function storageText(s) {
  if (s.totalBytes === null) return (s.peer ? "on " + s.peer + ": " : "") + "unknown";
  return bytes(s.usedBytes) + " used, " + bytes(s.freeBytes) + " free";
}

function update(card, c) {
  set(card, "mode", c.mode);
  const state = field(card, "state"); state.className = "badge state-" + c.state; set(card, "state", c.state);
  set(card, "schedule", "schedule " + c.schedule);
  set(card, "source", c.source); set(card, "target", c.target);
  const bar = card.querySelector("progress"), job = c.job;
  if (job && job.total > 0) {
    bar.max = job.bytesTotal > 0 ? job.bytesTotal : job.total; bar.value = job.bytesTotal > 0 ? job.bytes : job.done;
    set(card, "progress", job.done + " / " + job.total + " operations · " + bytes(job.bytes) + " / " + bytes(job.bytesTotal));
  } else if (job) { bar.removeAttribute("value"); set(card, "progress", "planning…"); }
  else { bar.max = 1; bar.value = c.state === "idle" ? 1 : 0; set(card, "progress", c.state === "idle" ? "up to date as of the last run" : ""); }
  set(card, "speed", c.bytesPerSecond === null ? "" : bytes(c.bytesPerSecond) + "/s");
  set(card, "eta", c.etaMs === null ? "" : "ETA " + duration(c.etaMs));
  set(card, "pending", "pending: " + c.pending.operations + " operations, " + bytes(c.pending.bytes) + (c.pending.runQueued ? " · a run is queued" : ""));
  const s = c.scheduler;
  const next = s === null ? "" : s.nextRunAt ? "next run " + when(s.nextRunAt) : c.schedule === "instant" ? "runs on every change" : c.schedule === "manual" ? "runs when asked" : "next run —";
  set(card, "when", s === null ? "" : next +
    " · last run " + when(s.lastRunAt) + (s.lastError ? " · last error: " + s.lastError : ""));
  const g = c.lastGeneration;
  set(card, "last", g === null ? "no runs yet" : "generation " + g.generation + " " + g.status + " (" + g.verification + "): " +
    g.filesCopied + " copied, " + g.filesDeleted + " deleted, " + g.filesMoved + " moved, " + bytes(g.bytesTransferred) +
    ", " + g.conflictsResolved + " conflicts, " + g.errors + " errors" + (g.completedAt ? " · " + when(g.completedAt) : ""));
  set(card, "conflicts", c.conflicts.count === 0 ? "no conflicts" : c.conflicts.count + " conflicts, newest:");
  const list = field(card, "conflict-list");
  const key = JSON.stringify(c.conflicts.recent);
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...c.conflicts.recent.slice(0, 5).map((r) =>
      h("li", {}, h("span", { class: "mono" }, r.path), " — " + r.reason + ", " + r.winner + " won, " + r.resolution + " (gen " + r.generation + ")")));
  }
  for (const side of ["source", "target"]) {
    const st = c.storage[side], meter = field(card, side + "-meter");
    if (st.totalBytes) { meter.max = st.totalBytes; meter.value = st.usedBytes; } else meter.removeAttribute("value");
    set(card, side + "-storage", storageText(st));
  }
  const running = c.state === "running", paused = c.state === "paused";
  card.querySelector('[data-action="run"]').disabled = running || paused || !c.enabled;
  card.querySelector('[data-action="pause"]').disabled = !running;
  card.querySelector('[data-action="resume"]').disabled = !paused;
  card.querySelector('[data-action="enable"]').hidden = c.enabled;
  card.querySelector('[data-action="disable"]').hidden = !c.enabled;
  const form = card.form;
  if (!form.dataset.dirty && !form.contains(document.activeElement)) {
    const conduit = c.settings;
    form.elements.schedule.value = c.schedule;
    if (conduit) {
      form.elements.bandwidthLimitMbps.value = conduit.bandwidthLimitMbps === null ? "" : String(conduit.bandwidthLimitMbps);
      form.elements.parallelTransfers.value = String(conduit.parallelTransfers);
      form.elements.conflictStrategy.value = conduit.conflictStrategy;
    }
  }
  if (card.historyBox.open && card.dataset.generation !== String(g ? g.generation + g.status : "")) loadHistory(c.id, card);
  card.dataset.generation = String(g ? g.generation + g.status : "");
}

function render() {
  const main = document.querySelector("main");
  const seen = new Set();
  for (const c of statuses) {
    seen.add(c.id);
    let card = cards.get(c.id);
    if (!card) { card = makeCard(c); cards.set(c.id, card); main.append(card); }
    update(card, c);
  }
  for (const [id, card] of cards) if (!seen.has(id)) { card.remove(); cards.delete(id); }
  document.getElementById("empty").hidden = statuses.length > 0;
}

let refreshing = false, again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const [status, list] = await Promise.all([api("GET", "/v1/conduits/status"), api("GET", "/v1/conduits")]);
    const settings = new Map(list.conduits.map((c) => [c.id, c]));
    statuses = status.conduits.map((c) => ({ ...c, settings: settings.get(c.id) }));
    render();
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) { if (e.message !== "401") say("status: " + e.message, true); }
  finally { refreshing = false; if (again) { again = false; scheduleRefresh(); } }
}
let timer = null;
function scheduleRefresh() { if (timer === null) timer = setTimeout(() => { timer = null; refresh(); }, 150); }

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/v1/events");
  events.onopen = () => { live.textContent = "live"; live.className = "badge state-idle"; scheduleRefresh(); };
  events.onerror = () => { live.textContent = "reconnecting"; live.className = "badge state-paused"; };
  for (const kind of KINDS) events.addEventListener(kind, scheduleRefresh);
}

refresh();
listen();
// Speed, ETA and the scheduler's next run change without events; a running conduit is re-read every second.
setInterval(() => { if (statuses.some((c) => c.state === "running") || Date.now() % 5000 < 1000) refresh(); }, 1000);
`

/** The panel's page for the daemon of `device` (its name, shown in the title). */
export const html = (device: { readonly name: string; readonly version: string }): string => {
  const name = escapeHtml(device.name)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Conduit — ${name}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Conduit · ${name}</h1><span id="live" class="badge">connecting</span><span class="muted">conduitd ${escapeHtml(device.version)} · <span id="updated"></span></span></header>
<main><div id="empty" class="empty">No conduits yet: create one with <code>conduit conduit create SOURCE TARGET</code>.</div></main>
<div id="message" role="status" data-testid="message"></div>
<script>${SCRIPT}</script>
</body>
</html>
`
}

/** The page a request without the token gets (401). */
export const refused = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conduit — token needed</title></head>
<body style="font: 15px system-ui, sans-serif; padding: 2rem; max-width: 40rem">
<h1>Token needed</h1>
<p>The status panel needs this daemon's token. Open it with <code>conduit panel</code>, which prints (and opens) the
address with the token; the token changes at every start of the daemon.</p>
</body></html>
`

/** Text as HTML text (for the few values the server puts in the page itself). */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"))
