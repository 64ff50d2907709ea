// Drawing what the page shows: tables always, ECharts charts when the library is installed.
"use strict";

const charts = {};
let mapKey = null;

function chartsOn() { return typeof window.echarts !== "undefined"; }

// The chart in element `id` (made once), or null without the charts library.
function chartIn(id) {
  if (!chartsOn()) return null;
  if (!charts[id]) {
    charts[id] = echarts.init(document.getElementById(id));
    window.addEventListener("resize", () => resized(charts[id]));
  }
  return charts[id];
}

// A chart follows the window, unless it has no room (a map cannot lay out in 0 pixels).
function resized(chart) {
  const el = chart.getDom();
  if (el.clientWidth > 0 && el.clientHeight > 0) chart.resize();
}

// Redraw a chart from scratch; its tooltip hidden first (a tooltip still pointing into the
// old data while it is replaced throws inside ECharts).
function draw(chart, option) {
  chart.dispatchAction({ type: "hideTip" });
  chart.setOption(option, { notMerge: true });
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  row.append(td);
  return td;
}

function header(table, keys) {
  table.textContent = "";
  const row = table.createTHead().insertRow();
  for (const key of keys) {
    const th = document.createElement("th");
    label(th, key);
    row.append(th);
  }
  return table.createTBody();
}

function emptyRow(body, span, key) {
  const td = cell(body.insertRow(), "");
  td.colSpan = span;
  td.className = "note";
  label(td, key || "none");
}

function fmt(value, unit) {
  if (value === null || value === undefined) return "—";
  if (unit === "%") return `${(value * 100).toFixed(1)}%`;
  const n = Number(value);
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

// A scoring rule in words: linear from its floor to the target, or its threshold steps.
function ruleText(rule, unit) {
  if (!rule) return "—";
  if (rule.kind === "linear") {
    return LANG === "en" ? `linear: 0 points at ${fmt(rule.floor ?? 0, unit)}, full weight at the target`
      : `线性：${fmt(rule.floor ?? 0, unit)} 得 0 分，达到目标得满分（linear from ${fmt(rule.floor ?? 0, unit)} to the target）`;
  }
  const steps = (rule.steps || []).map(([at, share]) => `${fmt(at, unit)} → ${Math.round(share * 100)}%`).join(", ");
  return LANG === "en" ? `thresholds: ${steps}` : `阶梯：${steps}（thresholds）`;
}

const views = {
  noAccess(tableId, span) {
    const table = document.getElementById(tableId);
    emptyRow(header(table, []), span || 1, "no_access");
  },

  // One scheme's ranking: a bar per unit (its total out of 100) and the table; both clickable.
  ranking(kind, units, onPick) {
    const body = header(document.getElementById(`ranking-${kind}`), ["rank", "unit", "total"]);
    if (!units.length) emptyRow(body, 3);
    for (const unit of units) {
      const row = body.insertRow();
      row.className = "clickable";
      row.dataset.unit = unit.unit_id;
      cell(row, unit.rank, "num");
      cell(row, named(unit));
      const total = cell(row, fmt(unit.total), "num total");
      total.dataset.total = unit.total;
      row.addEventListener("click", () => onPick(unit));
    }
    const chart = chartIn(`chart-${kind}`);
    if (!chart) return;
    const ordered = [...units].reverse();  // the first ranked at the top
    draw(chart, {
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: 100 },
      yAxis: { type: "category", data: ordered.map(named) },
      tooltip: {},
      series: [{ type: "bar", data: ordered.map((u) => u.total), label: { show: true, position: "right" },
                 itemStyle: { color: kind === "street_office" ? "#c8102e" : "#1f5fa8" } }],
    });
    chart.off("click");
    chart.on("click", (e) => onPick(ordered[e.dataIndex]));
  },

  // Every unit of a scheme against its targets: a row per unit, a cell (value / target) per
  // indicator, each cell drilling down to its explanation.
  matrix(kind, units, onExplain) {
    const table = document.getElementById(`matrix-${kind}`);
    table.textContent = "";
    const head = table.createTHead().insertRow();
    const first = document.createElement("th");
    label(first, "unit");
    head.append(first);
    const indicators = (units[0] && units[0].indicators) || [];
    for (const i of indicators) {
      const th = document.createElement("th");
      th.textContent = named(i);
      head.append(th);
    }
    const body = table.createTBody();
    if (!units.length) emptyRow(body, 1);
    for (const unit of units) {
      const row = body.insertRow();
      cell(row, named(unit));
      for (const item of unit.indicators || []) {
        const td = cell(row, `${fmt(item.value, item.unit)} / ${fmt(item.target, item.unit)}`,
                        `num clickable ${item.met ? "met" : ""}`);
        td.dataset.unit = unit.unit_id;
        td.dataset.indicator = item.indicator;
        td.addEventListener("click", () => onExplain(unit, item));
      }
    }
  },

  // A unit's indicators against their targets: points earned of the weight, and the table.
  unit(unit, indicators, onExplain) {
    bilingual(document.getElementById("unit-name"), unit.name_zh, unit.name_en);
    const table = document.getElementById("unit-indicators");
    const body = header(table, ["indicator", "value", "target", "score", "weight", "met"]);
    if (!indicators.length) emptyRow(body, 6);
    for (const item of indicators) {
      const row = body.insertRow();
      row.className = "clickable";
      row.dataset.indicator = item.indicator;
      cell(row, named(item));
      cell(row, fmt(item.value, item.unit), "num value");
      cell(row, fmt(item.target, item.unit), "num");
      const score = cell(row, fmt(item.score), "num score");
      score.dataset.score = item.score;
      cell(row, fmt(item.weight), "num");
      cell(row, text(item.met ? "yes" : "no"), item.met ? "met" : "unmet");
      row.addEventListener("click", () => onExplain(unit, item));
    }
    const chart = chartIn("chart-unit");
    if (!chart) return;
    draw(chart, {
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      legend: { data: [text("score"), text("weight")], top: 0, right: 0 },
      tooltip: {},
      xAxis: { type: "category", data: indicators.map(named), axisLabel: { interval: 0, rotate: 20 } },
      yAxis: { type: "value" },
      series: [
        { name: text("weight"), type: "bar", data: indicators.map((i) => i.weight), itemStyle: { color: "#d7dee6" }, barGap: "-100%" },
        { name: text("score"), type: "bar", data: indicators.map((i) => i.score), itemStyle: { color: "#1a7f37" } },
      ],
    });
    chart.off("click");
    chart.on("click", (e) => onExplain(unit, indicators[e.dataIndex]));
  },

  // Value, target, formula, rule, score and the events behind it.
  explanation(unit, item, found) {
    document.getElementById("explanation-panel").hidden = false;
    const title = document.getElementById("explanation-title");
    bilingual(title, `${unit.name_zh || ""} · ${item.name_zh || ""}`, `${unit.name_en || ""} · ${item.name_en || ""}`);
    const dl = document.getElementById("explanation-figures");
    dl.textContent = "";
    const formula = found.formula || {};
    const add = (key, value) => {
      const dt = document.createElement("dt");
      label(dt, key);
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.figure = key;
      dl.append(dt, dd);
    };
    add("value", fmt(found.value, item.unit));
    add("target", fmt(found.target, item.unit));
    if (found.numerator !== undefined && found.numerator !== null) add("numerator", fmt(found.numerator));
    if (found.denominator !== undefined && found.denominator !== null) add("denominator", fmt(found.denominator));
    const zh = found.formula_zh || formula.zh || "", en = found.formula_en || formula.en || "";
    add("formula", LANG === "en" ? en : `${zh}（${en}）`);
    add("rule", ruleText(found.rule, item.unit));
    add("weight", fmt(found.weight ?? item.weight));
    add("score", fmt(found.score ?? item.score));
    if (found.closed) add("frozen", (found.closed_at || "").replace("T", " ").slice(0, 19));
    if (found.adjustments && found.adjustments.live) add("adjustments", `${text("value")} ${fmt(found.adjustments.live.value, item.unit)}, ${text("score")} ${fmt(found.adjustments.live.score)}`);
    const events = (found.events && found.events.items) || [];
    const body = header(document.getElementById("explanation-events"), ["event_type", "time", "stream"]);
    if (found.events_hidden) emptyRow(body, 3, "events_hidden");
    else if (!events.length) emptyRow(body, 3);
    for (const e of events) {
      const row = body.insertRow();
      row.dataset.event = e.event_id;
      cell(row, e.type);
      cell(row, (e.time || "").replace("T", " ").slice(0, 19));
      cell(row, e.stream || e.stream_id || "");
    }
    for (const a of (found.adjustments && found.adjustments.events && found.adjustments.events.items) || []) {
      const row = body.insertRow();
      cell(row, `${text("adjustments")}: ${a.type}`);
      cell(row, (a.time || "").replace("T", " ").slice(0, 19));
      cell(row, a.stream || a.stream_id || "");
    }
  },

  // Counts per step, in the order things go through them.
  pipeline(id, chartId, steps, counts) {
    const body = header(document.getElementById(id), ["status", "count"]);
    for (const step of steps) {
      const row = body.insertRow();
      row.dataset.status = step;
      cell(row, text(step));
      cell(row, counts[step] || 0, "num");
    }
    const chart = chartIn(chartId);
    if (!chart) return;
    draw(chart, {
      grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
      tooltip: {},
      xAxis: { type: "category", data: steps.map(text), axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: steps.map((s) => counts[s] || 0), label: { show: true, position: "top" },
                 itemStyle: { color: "#1f5fa8" } }],
    });
  },

  list(id, keys, rows) {
    const body = header(document.getElementById(id), keys.map((k) => k[0]));
    if (!rows.length) emptyRow(body, keys.length);
    for (const r of rows.slice(0, 50)) {
      const row = body.insertRow();
      for (const [, pick] of keys) cell(row, pick(r));
    }
  },

  // The grids (GeoJSON polygons, drawn by ECharts itself: no tiles) and the open cases.
  map(grids, cases) {
    const chart = chartIn("chart-map");
    if (!chart) return;
    const features = grids.features.map((f) => ({ ...f, properties: { ...f.properties, name: f.properties.grid_id } }));
    const key = features.map((f) => f.properties.grid_id).join(",");
    if (key !== mapKey) {  // registered again only when the grids change
      echarts.registerMap("jiedao-grids", { type: "FeatureCollection", features });
      mapKey = key;
    }
    draw(chart, {
      tooltip: { formatter: (p) => (p.seriesType === "scatter" ? `${p.data.case_id} ${p.data.category || ""}` : p.name) },
      geo: { map: "jiedao-grids", roam: true, tooltip: { show: true },
             itemStyle: { areaColor: "#eef2f7", borderColor: "#7a8ba0" },
             emphasis: { itemStyle: { areaColor: "#fdecef" } } },
      series: [
        { name: text("open_cases"), type: "scatter", coordinateSystem: "geo", symbolSize: 7,
          itemStyle: { color: "#c8102e" },
          data: cases.features.map((f) => ({ value: f.geometry.coordinates, case_id: f.properties.case_id,
                                             category: f.properties.category })) },
      ],
    });
  },
};
