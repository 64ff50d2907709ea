"""Read API of the scores (tag `assessment`): rankings, a unit's scores, an indicator's
explanation down to its events, the export, and the targets met.

Who reads: the district government, the auditor, street office staff and investment staff
(rankings are published inside the district: every street's staff see every street's
scores); district departments read the rankings. An explanation's event list is shown only to
district roles and to the staff of the unit's own street (`events` null, `events_hidden` true
otherwise). `period` is `2026-11`, `2026-Q4` or `2026` (422 otherwise).

Response shapes (the dashboard builds on these):

IndicatorScore = {"indicator": "case_closure_rate", "name_zh": "结案率",
    "name_en": "case closure rate", "unit": "%" | "件" | "万元" | "分" | ...,
    "measure": "ratio" | "count" | "sum" | "mean", "direction": "higher" | "lower",
    "weight": 20.0, "value": 0.75 | null (nothing to measure yet), "target": 0.9,
    "score": 13.3333 (points out of weight), "met": false,
    "numerator": 3 | null (ratios only), "denominator": 4 | null, "count": 4 | null}
    (a ratio's value is 0..1: show it as a percentage)
UnitScore = {"unit_id": "office-s1", "kind": "street_office" | "investment_subcentre",
    "street_id": "s1", "name_zh": "…街道办事处", "name_en": "… street office",
    "scheme_id": "street_office-v1" | null, "total": 72.5 (out of 100), "rank": 1,
    "indicators": [IndicatorScore, ...]}

GET /rankings?period=2026-11 ->
    {"period": "2026-11", "first": "2026-11-01", "last": "2026-11-30", "closed": false,
     "closed_at": null | "2026-12-01T02:00:00Z",
     "schemes": {"street_office": {"scheme_id", "version", "name_zh", "name_en"} | null,
                 "investment_subcentre": {...} | null},
     "street_office": [UnitScore, ... best first], "investment_subcentre": [UnitScore, ...]}
GET /units/{unit_id}/scores?period= -> {"period", "closed", "closed_at",
    "scheme": {...} | null, **UnitScore}
GET /units/{unit_id}/indicators/{indicator}/explanation?period=&limit=100&offset=0 ->
    {"unit_id", "kind", "street_id", "period", "indicator", "name_zh", "name_en", "unit",
     "formula_zh", "formula_en", "measure", "direction", "in_scheme": true,
     "scheme_id", "rule": {"kind": "linear", "floor": 0.5, "steps": null} | null,
     "weight", "value", "target", "score", "met", "numerator", "denominator", "count",
     "closed": false, "closed_at": null,
     "events": {"items": [{"event_id", "type", "time", "source": "grid",
                           "stream_id": "case-…", "version": 1, "subject_id": "case:…",
                           "stream": "grid:case-…"}], "total", "limit", "offset"} | null,
     "events_hidden": false,
     "adjustments": null | {"live": IndicatorScore (what the events give now),
                            "events": {same shape as events: those recorded after the close}}}
    (a closed period: value/target/score are the frozen ones)
GET /scores/export?period=&format=csv|jsonl -> one row per unit and indicator:
    period, kind, rank, unit_id, street_id, name_zh, name_en, scheme_id, total, indicator,
    value, target, score, weight, met, numerator, denominator
GET /targets-met?period= -> {"items": [{"unit_id", "street_id", "kind", "indicator",
    "period", "value", "target", "met_at", "event_id"}], "total"}
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.assessment.indicators import CATALOGUE
from services.assessment.periods import Period
from services.assessment.score_view import ScoreView
from services.assessment.units import parse_unit
from shared.access import Place, Role
from shared.auth import Caller, readable_by
from shared.errors import DomainError, NotFound
from shared.http import app_state, page

router = APIRouter(tags=["assessment"])

ViewDep = Annotated[ScoreView, Depends(app_state("score_view"))]
STAFF = (Role.DISTRICT_GOVERNMENT, Role.STREET_OFFICE_STAFF, Role.INVESTMENT_STAFF)
Readers = Annotated[Caller, readable_by(*STAFF)]
RankingReaders = Annotated[Caller, readable_by(*STAFF, Role.DISTRICT_DEPARTMENT)]
PeriodCode = Annotated[str, Query(description="a month (2026-11), a quarter (2026-Q4) or a "
                                              "year (2026)")]


def period_of(code: str) -> Period:
    try:
        return Period.parse(code)
    except ValueError as exc:
        raise DomainError(str(exc), field="period") from exc


def unit_of(unit_id: str) -> str:
    try:
        parse_unit(unit_id)
    except ValueError as exc:
        raise DomainError(str(exc), field="unit_id") from exc
    return unit_id


def indicator_of(indicator: str) -> str:
    if indicator not in CATALOGUE:
        raise DomainError(f"no such indicator; one of {', '.join(CATALOGUE)}",
                          field="indicator")
    return indicator


@router.get("/rankings")
async def rankings(view: ViewDep, _: RankingReaders, period: PeriodCode) -> dict[str, Any]:
    """Both schemes side by side for the period: every unit's total and rank (best first)
    with its indicators; a closed period's are the frozen scores."""
    return await view.rankings(period_of(period))


@router.get("/units/{unit_id}/scores")
async def unit_scores(unit_id: str, view: ViewDep, _: Readers,
                      period: PeriodCode) -> dict[str, Any]:
    """One unit's indicators in the period: value, target, points, weight, met; its total
    and rank in its scheme."""
    found = await view.unit(unit_of(unit_id), period_of(period))
    if found is None:
        raise NotFound("no such unit: its street is not in the territory", field="unit_id")
    return found


@router.get("/units/{unit_id}/indicators/{indicator}/explanation")
async def explanation(unit_id: str, indicator: str, view: ViewDep, caller: Readers,
                      period: PeriodCode, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """How one indicator of a unit is computed: value, target, formula, rule, weight, score
    and the events that produced it (paged), so a street can dispute a number. A closed
    period: the frozen figures, and the events recorded since its close as adjustments."""
    unit = unit_of(unit_id)
    _, street_id = parse_unit(unit)
    own = caller.principal.covering(caller.roles, Place.of(street=street_id,
                                                           subcentre=street_id))
    found = await view.explanation(unit, indicator_of(indicator), period_of(period),
                                   limit=limit, offset=offset, with_events=own is not None)
    if found is None:
        raise NotFound("no such unit: its street is not in the territory", field="unit_id")
    return found


EXPORT_COLUMNS = ("period", "kind", "rank", "unit_id", "street_id", "name_zh", "name_en",
                  "scheme_id", "total", "indicator", "value", "target", "score", "weight",
                  "met", "numerator", "denominator")


@router.get("/scores/export", response_class=Response, responses={200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def export(view: ViewDep, _: Readers, period: PeriodCode,
                 format: Literal["csv", "jsonl"] = "csv") -> Response:
    """Every unit's indicators in the period, one row each, as CSV or JSON Lines."""
    rows = export_rows(await view.rankings(period_of(period)))
    if format == "jsonl":
        return Response(b"".join(orjson.dumps(r) + b"\n" for r in rows),
                        media_type="application/x-ndjson")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")


def export_rows(found: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for kind in ("street_office", "investment_subcentre"):
        for unit in found[kind]:
            for i in unit["indicators"]:
                row = {**unit, **i, "period": found["period"]}
                rows.append({c: row[c] for c in EXPORT_COLUMNS})
    return rows


@router.get("/targets-met")
async def targets_met(view: ViewDep, _: Readers, period: PeriodCode) -> dict[str, Any]:
    """The `assessment.target.met` events of the period: each unit's indicator that reached
    its target, when, with the value that reached it (one per unit, indicator and period)."""
    return page(await view.targets_met(period_of(period).code))
