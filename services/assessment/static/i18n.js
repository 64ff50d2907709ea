// Chinese first with English beside it; `?lang=en` shows English only.
"use strict";

const LANG = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "zh";

const TEXT = {
  title: ["街道综合考核", "Street assessment"],
  sign_in: ["登录", "Sign in"],
  sign_in_button: ["登录", "Sign in"],
  sign_out: ["退出", "Sign out"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  period: ["考核期", "Period"],
  live: ["实时", "Live"],
  offline: ["未连接", "Offline"],
  charts_missing: ["图表库未安装：请运行 ./jiedao setup（以下为表格）",
                   "Charts library not installed: run ./jiedao setup (tables below)"],
  ranking_street_office: ["街道办事处排名", "Street office ranking"],
  ranking_investment_subcentre: ["投资服务分中心排名", "Investment sub-centre ranking"],
  matrix_street_office: ["各街道办事处指标完成情况（实际值/目标）", "Each street office: value / target"],
  matrix_investment_subcentre: ["各投资服务分中心指标完成情况（实际值/目标）", "Each sub-centre: value / target"],
  rank: ["名次", "Rank"],
  unit: ["单位", "Unit"],
  total: ["总分", "Total"],
  indicators_against_targets: ["指标与目标", "Indicators against targets"],
  indicator: ["指标", "Indicator"],
  value: ["实际值", "Value"],
  target: ["目标", "Target"],
  score: ["得分", "Score"],
  weight: ["权重", "Weight"],
  met: ["达标", "Met"],
  yes: ["是", "yes"],
  no: ["否", "no"],
  explanation: ["得分说明", "Explanation"],
  formula: ["计算公式", "Formula"],
  rule: ["计分规则", "Rule"],
  numerator: ["分子", "Numerator"],
  denominator: ["分母", "Denominator"],
  events: ["依据事件", "Events behind it"],
  events_hidden: ["仅本街道及区级可查看事件明细", "Events shown to the unit's own street and district roles only"],
  event_type: ["事件类型", "Type"],
  time: ["时间", "Time"],
  stream: ["事件流", "Stream"],
  adjustments: ["结算后调整", "Adjustments after close"],
  frozen: ["已结算（冻结）", "Closed (frozen)"],
  case_pipeline: ["网格案件流程", "Grid case pipeline"],
  violation_pipeline: ["执法案件流程", "Violation pipeline"],
  overdue_cases: ["超期案件", "Overdue cases"],
  overdue_violations: ["超期未整改", "Overdue rectifications"],
  map: ["网格与在办案件", "Grids and open cases"],
  targets_met: ["本期达标", "Targets met this period"],
  met_at: ["达标时间", "Met at"],
  status: ["状态", "Status"],
  count: ["数量", "Count"],
  case: ["案件", "Case"],
  violation: ["违法行为", "Violation"],
  category: ["类别", "Category"],
  street: ["街道", "Street"],
  deadline: ["期限", "Deadline"],
  open_cases: ["在办案件", "Open cases"],
  grids: ["网格", "Grids"],
  no_access: ["无权查看", "Not readable with your grants"],
  none: ["暂无", "None"],
  footer: ["数据来自各服务的事件；每个数字可点击查看依据。",
           "Figures come from the services' events; click any figure for its explanation."],
  // pipeline steps
  registered: ["立案", "registered"], dispatched: ["派遣", "dispatched"],
  handling: ["处置中", "accepted"], resolved: ["已处置", "resolved"], closed: ["结案", "closed"],
  recorded: ["登记", "recorded"], decided: ["决定", "decided"], ordered: ["责令整改", "ordered"],
  reported: ["已报整改", "reported"], dismissed: ["撤销", "dismissed"],
};

function text(key) {
  const pair = TEXT[key] || [key, key];
  return LANG === "en" ? pair[1] : `${pair[0]} ${pair[1]}`;
}

// Fill `el` with the label: zh, then the English in a quieter span (or English alone).
function label(el, key) {
  const pair = TEXT[key] || [key, key];
  bilingual(el, pair[0], pair[1]);
}

function bilingual(el, zh, en) {
  el.textContent = "";
  if (LANG === "en") { el.textContent = en || zh || ""; return; }
  el.append(zh || en || "");
  if (en && en !== zh) {
    const span = document.createElement("span");
    span.className = "en";
    span.textContent = en;
    el.append(span);
  }
}

// An object's name in the page's language (name_zh / name_en).
function named(obj) {
  if (!obj) return "";
  return LANG === "en" ? (obj.name_en || obj.name_zh || "") : (obj.name_zh || obj.name_en || "");
}

function translatePage() {
  document.documentElement.lang = LANG === "en" ? "en" : "zh-CN";
  document.title = LANG === "en" ? TEXT.title[1] : TEXT.title.join(" ");
  for (const el of document.querySelectorAll("[data-t]")) label(el, el.dataset.t);
  const link = document.getElementById("lang-switch");
  link.textContent = LANG === "en" ? "中文" : "English";
  link.href = LANG === "en" ? "?" : "?lang=en";
}
