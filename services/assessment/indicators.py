"""The catalogue of indicators a scheme may take, by kind; a scheme never mixes kinds.

Each indicator says what it measures (`formula`, in words, zh and en), how (`measure`), which
way is better (`direction`), the events it is computed from (`events`) and its unit. The
scorer (services/assessment/scorer.py) computes each from the other services' events; the
explanation API lists the events behind a value.

Which period an event counts in: its subject's day in Asia/Shanghai, where the subject is what
the ratio is about. A case or violation counts in the period it was registered/recorded in
(its later events change that period's figures: closed, on time, reworked); a completed
application, a consultation, a return visit, a project step or an enterprise visit counts on
the day it happened (`signed_on`, `started_on`, ... for the sub-centres' own records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["street_office", "investment_subcentre"]
Direction = Literal["higher", "lower"]
Measure = Literal["ratio", "count", "sum", "mean"]


@dataclass(frozen=True)
class Indicator:
    code: str
    kind: Kind
    name_zh: str
    name_en: str
    formula_zh: str
    formula_en: str
    measure: Measure
    direction: Direction
    unit: str  # "%" (a ratio, 0..1, shown as a percentage), "件", "万元", "分" ...
    events: tuple[str, ...]


CATALOGUE: dict[str, Indicator] = {i.code: i for i in (
    # -- street offices: social management and public service ------------------------------
    Indicator("applications_on_time", "street_office", "按期办结率",
              "applications completed on time",
              "按期办结件数 / 办结件数", "completed on time / completed",
              "ratio", "higher", "%", ("intake.application.completed",)),
    Indicator("consultations_served", "street_office", "政策咨询服务量", "consultations served",
              "窗口答复的政策咨询件数", "policy consultations answered at the window",
              "count", "higher", "件", ("intake.consultation.recorded",)),
    Indicator("case_closure_rate", "street_office", "结案率", "case closure rate",
              "结案数 / (应结案数 − 延期数)", "closed / (registered − postponed)",
              "ratio", "higher", "%",
              ("grid.case.registered", "grid.case.closed", "grid.case.postponed")),
    Indicator("case_on_time_rate", "street_office", "按期结案率", "on-time case closure rate",
              "按期结案数 / (应结案数 − 延期数)", "closed on time / (registered − postponed)",
              "ratio", "higher", "%",
              ("grid.case.registered", "grid.case.closed", "grid.case.postponed")),
    Indicator("case_rework_rate", "street_office", "返工率", "case rework rate",
              "返工案件数 / (应结案数 − 延期数)", "reworked cases / (registered − postponed)",
              "ratio", "lower", "%",
              ("grid.case.registered", "grid.case.verified", "grid.case.postponed")),
    Indicator("resident_satisfaction", "street_office", "群众满意度", "resident satisfaction",
              "回访满意度平均分 (1–5)", "mean satisfaction of return visits (1–5)",
              "mean", "higher", "分", ("grid.case.return_visited",)),
    Indicator("violations_rectified_on_time", "street_office", "违法行为按期整改率",
              "violations rectified on time",
              "按期整改结案数 / 责令整改结案数",
              "closed rectified on time / closed with an order to rectify",
              "ratio", "higher", "%", ("enforcement.violation.closed",)),
    # -- investment service sub-centres: economic development --------------------------------
    Indicator("investment_signed", "investment_subcentre", "招商引资签约额", "investment signed",
              "签约项目协议金额合计 (万元)", "sum of signed projects' agreed amounts (10k CNY)",
              "sum", "higher", "万元", ("assessment.project.signed",)),
    Indicator("projects_started", "investment_subcentre", "项目开工数", "projects started",
              "开工项目个数", "projects started",
              "count", "higher", "个", ("assessment.project.started",)),
    Indicator("fixed_asset_investment", "investment_subcentre", "固定资产投资完成额",
              "fixed-asset investment completed",
              "竣工项目固定资产投资完成额合计 (万元)",
              "sum of completed projects' fixed-asset investment (10k CNY)",
              "sum", "higher", "万元", ("assessment.project.completed",)),
    Indicator("enterprises_served", "investment_subcentre", "企业服务数", "enterprises served",
              "企业服务走访次数", "enterprise service visits",
              "count", "higher", "次", ("assessment.enterprise.visited",)),
)}


def of_kind(kind: Kind) -> list[Indicator]:
    return [i for i in CATALOGUE.values() if i.kind == kind]
