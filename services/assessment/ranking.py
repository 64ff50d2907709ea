"""Scores and ranks of units from their indicators' values (pure): each scheme indicator's
points by its rule against the unit's target (its TargetSet, else the scheme's default), the
unit's total out of 100, its rank among the units of its scheme (ties share a rank)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.assessment.events import FrozenScore, SchemeIndicator
from services.assessment.indicators import CATALOGUE, Kind
from services.assessment.measures import Figures, parts, value
from services.assessment.scoring import met, points
from services.assessment.units import NAMES, unit_id


def indicator_score(si: SchemeIndicator, figures: Figures, target: float) -> dict[str, Any]:
    """One indicator of a unit: its value, target, points and whether it meets the target."""
    info = CATALOGUE[si.indicator]
    v = value(si.indicator, figures)
    return {"indicator": si.indicator, "name_zh": info.name_zh, "name_en": info.name_en,
            "unit": info.unit, "measure": info.measure, "direction": info.direction,
            "weight": si.weight, "value": v, "target": target,
            "score": points(si.rule, info.direction, si.weight, v, target),
            "met": met(info.direction, v, target), **parts(si.indicator, figures)}


def frozen_score(si: SchemeIndicator | None, frozen: FrozenScore) -> dict[str, Any]:
    """An indicator as a closed period froze it."""
    info = CATALOGUE[frozen.indicator]
    return {"indicator": frozen.indicator, "name_zh": info.name_zh, "name_en": info.name_en,
            "unit": info.unit, "measure": info.measure, "direction": info.direction,
            "weight": si.weight if si else None, "value": frozen.value, "target": frozen.target,
            "score": frozen.score, "met": met(info.direction, frozen.value, frozen.target),
            "numerator": None, "denominator": None, "count": None}


def unit_score(kind: Kind, street: Mapping[str, Any], scheme_id: str | None,
               indicators: list[dict[str, Any]]) -> dict[str, Any]:
    zh, en = NAMES[kind]
    return {"unit_id": unit_id(kind, street["street_id"]), "kind": kind,
            "street_id": street["street_id"], "name_zh": street["name_zh"] + zh,
            "name_en": f"{street['name_en']} {en}", "scheme_id": scheme_id,
            "total": round(sum(i["score"] for i in indicators), 4), "rank": None,
            "indicators": indicators}


def ranked(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Units by total, best first (then by unit id); equal totals share a rank (1, 2, 2, 4)."""
    ordered = sorted(units, key=lambda u: (-u["total"], u["unit_id"]))
    for place, unit in enumerate(ordered, start=1):
        same = place > 1 and ordered[place - 2]["total"] == unit["total"]
        unit["rank"] = ordered[place - 2]["rank"] if same else place
    return ordered


def frozen(period_scores: list[FrozenScore], unit: str) -> dict[str, FrozenScore]:
    """A closed period's frozen figures of one unit, by indicator."""
    return {f.indicator: f for f in period_scores if f.unit_id == unit}
