// The dashboard's life: sign in, load everything shown, and load it again whenever the
// server says a read model changed (server-sent events), without reloading the page.
"use strict";

const CASE_STEPS = ["registered", "dispatched", "handling", "resolved", "closed"];
const VIOLATION_STEPS = ["recorded", "decided", "ordered", "reported", "closed"];
const KINDS = ["street_office", "investment_subcentre"];

const state = { unit: null, item: null, refreshing: false, again: false, refreshes: 0, names: {} };

function thisMonth() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .formatToParts(new Date());
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}`;
}

function period() { return document.getElementById("period").value || thisMonth(); }

// Run `load`; a read the user may not make shows "not readable" in `tableId` instead.
async function guarded(tableId, load, span) {
  try {
    await load();
  } catch (error) {
    if (error instanceof NoAccess) {
      if (!api.who()) { showSignIn(); return; }
      views.noAccess(tableId, span);
    } else {
      console.error(error);
    }
  }
}

async function loadRankings() {
  const found = await api.get(null, "/rankings", { period: period() });
  for (const kind of KINDS) {
    views.ranking(kind, found[kind] || [], pickUnit);
    views.matrix(kind, found[kind] || [], explain);
  }
  for (const unit of [...(found.street_office || []), ...(found.investment_subcentre || [])]) {
    state.names[unit.unit_id] = named(unit);
    for (const i of unit.indicators || []) state.names[i.indicator] = named(i);
  }
  if (!state.unit) state.unit = (found.street_office || [])[0] || (found.investment_subcentre || [])[0] || null;
}

async function loadUnit() {
  if (!state.unit) return;
  const found = await api.get(null, `/units/${encodeURIComponent(state.unit.unit_id)}/scores`, { period: period() });
  const indicators = Array.isArray(found) ? found : (found.indicators || found.items || []);
  views.unit({ ...state.unit, ...(found.unit_id ? found : {}) }, indicators, explain);
  for (const row of document.querySelectorAll(".ranking-table tr[data-unit]")) {
    row.classList.toggle("selected", row.dataset.unit === state.unit.unit_id);
  }
}

async function loadExplanation() {
  if (!state.unit || !state.item) return;
  const path = `/units/${encodeURIComponent(state.unit.unit_id)}/indicators/${encodeURIComponent(state.item.indicator)}/explanation`;
  const found = await api.get(null, path, { period: period(), limit: 100 });
  views.explanation(state.unit, state.item, found);
}

async function loadCasePipeline() {
  const streets = (await api.get("grid", "/territory/streets")).items;
  const counts = {};
  for (const street of streets) {
    const overview = await api.get("grid", `/streets/${encodeURIComponent(street.street_id)}/overview`);
    for (const [status, n] of Object.entries(overview.by_status || {})) counts[status] = (counts[status] || 0) + n;
  }
  views.pipeline("case-pipeline", "chart-cases", CASE_STEPS, counts);
}

async function loadViolations() {
  const found = (await api.get("enforcement", "/violations")).items;
  const counts = {};
  for (const v of found) counts[v.status] = (counts[v.status] || 0) + 1;
  views.pipeline("violation-pipeline", "chart-violations", VIOLATION_STEPS, counts);
  views.list("overdue-violations", [["violation", (v) => v.violation_id], ["street", (v) => v.street_id],
    ["status", (v) => text(v.status)], ["deadline", (v) => (v.deadline || "").slice(0, 10)]],
  found.filter((v) => v.overdue && v.status === "ordered"));
}

async function loadOverdueCases() {
  const found = (await api.get("grid", "/cases/overdue")).items;
  views.list("overdue-cases", [["case", (c) => c.case_id], ["category", (c) => c.category],
    ["street", (c) => c.street_id], ["deadline", (c) => (c.deadline || "").slice(0, 16).replace("T", " ")]], found);
}

async function loadTargetsMet() {
  const found = (await api.get(null, "/targets-met", { period: period() })).items;
  const name = (code) => state.names[code] || code;
  views.list("targets-met", [["unit", (m) => name(m.unit_id)], ["indicator", (m) => name(m.indicator)],
    ["value", (m) => fmt(m.value)], ["met_at", (m) => (m.met_at || "").slice(0, 19).replace("T", " ")]], found);
}

async function loadMap() {
  if (!chartsOn()) return;
  const grids = await api.get("grid", "/map/grids.geojson");
  const cases = await api.get("grid", "/map/cases.geojson");
  views.map(grids, cases);
}

// Everything shown, loaded again; a change arriving meanwhile loads it once more after.
async function refresh() {
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    await guarded("ranking-street_office", loadRankings, 3);
    await guarded("unit-indicators", loadUnit, 6);
    await guarded("explanation-events", loadExplanation, 3);
    await Promise.all([
      guarded("case-pipeline", loadCasePipeline, 2),
      guarded("violation-pipeline", loadViolations, 2),
      guarded("overdue-cases", loadOverdueCases, 4),
      guarded("targets-met", loadTargetsMet, 4),
      guarded("chart-map", loadMap),
    ]);
  } finally {
    state.refreshing = false;
    state.refreshes += 1;
    document.body.dataset.refreshes = state.refreshes;
  }
  if (state.again) { state.again = false; await refresh(); }
}

function pickUnit(unit) {
  state.unit = unit;
  state.item = null;
  document.getElementById("explanation-panel").hidden = true;
  guarded("unit-indicators", loadUnit, 6);
}

function explain(unit, item) {
  const other = !state.unit || state.unit.unit_id !== unit.unit_id;
  state.unit = unit;
  state.item = item;
  if (other) guarded("unit-indicators", loadUnit, 6);
  guarded("explanation-events", loadExplanation, 3);
}

function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/dashboard/stream");
  let pending = null;
  source.addEventListener("open", () => { live.dataset.state = "on"; label(live, "live"); });
  source.addEventListener("error", () => { live.dataset.state = "off"; label(live, "offline"); });
  source.addEventListener("changed", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 200);  // a burst of commits: one reload
  });
}

function showSignIn() {
  document.getElementById("board").hidden = true;
  document.getElementById("sign-in").hidden = false;
}

function showBoard(who) {
  document.getElementById("sign-in").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("who").textContent = who.name || who.user;
  refresh();
  listen();
}

function loadCharts() {
  return new Promise((resolve) => {
    if (!api.config.charts) { document.getElementById("charts-missing").hidden = false; resolve(); return; }
    const script = document.createElement("script");
    script.src = "/dashboard/static/vendor/echarts.min.js";
    script.onload = resolve;
    script.onerror = () => { document.getElementById("charts-missing").hidden = false; resolve(); };
    document.head.append(script);
  });
}

async function signIn(event) {
  event.preventDefault();  // never a native submit: it would put the password in the URL
  const form = event.target;
  const error = document.getElementById("sign-in-error");
  error.textContent = "";
  try {
    await started;
    showBoard(await api.signIn(form.username.value, form.password.value));
  } catch (failure) {
    error.textContent = failure.message;
  }
}

async function start() {
  document.getElementById("sign-in-form").addEventListener("submit", signIn);
  translatePage();
  document.getElementById("period").value = thisMonth();
  await api.load();
  await loadCharts();
  document.getElementById("period").addEventListener("change", () => { state.item = null; refresh(); });
  document.getElementById("sign-out").addEventListener("click", () => { api.signOut(); location.reload(); });
  document.body.dataset.ready = "true";
  const who = api.who();
  if (who) showBoard(who); else showSignIn();
}

let started = null;
document.addEventListener("DOMContentLoaded", () => { started = start(); });
