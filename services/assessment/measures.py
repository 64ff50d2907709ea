"""How each indicator of the CATALOGUE is measured over the scorer's `subjects` (pure: the SQL
conditions are constants, the arithmetic plain Python).

For each indicator: the subjects' `kind`, which of them are counted (the denominator, SQL over
the subject's flags), which of those are hits (the numerator of a ratio), and the measure:
- ratio: hits / counted (None when nothing is counted);
- count: counted; sum: the counted subjects' `amount` (0 when none);
- mean: the counted subjects' mean `satisfaction` (None when none).

Cases follow the catalogue's formula, closed / (registered − postponed): a case counts in the
period it was registered in unless postponed or merged into another (its master counts).
A violation counts once closed with an order to rectify (closed rectified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.assessment.indicators import CATALOGUE


@dataclass(frozen=True)
class Measure:
    kind: str  # subjects.kind
    counted: str  # SQL condition on a subject row
    hit: str  # SQL condition: a hit among the counted (a ratio's numerator)


_CASE = "NOT merged AND NOT postponed"
MEASURES: dict[str, Measure] = {
    "applications_on_time": Measure("application", "true", "on_time"),
    "consultations_served": Measure("consultation", "true", "false"),
    "case_closure_rate": Measure("case", _CASE, "closed"),
    "case_on_time_rate": Measure("case", _CASE, "closed AND on_time"),
    "case_rework_rate": Measure("case", _CASE, "reworked"),
    "resident_satisfaction": Measure("return_visit", "true", "false"),
    "violations_rectified_on_time": Measure("violation", "closed", "on_time"),
    "investment_signed": Measure("project_signed", "true", "false"),
    "projects_started": Measure("project_started", "true", "false"),
    "fixed_asset_investment": Measure("project_completed", "true", "false"),
    "enterprises_served": Measure("visit", "true", "false"),
}
assert set(MEASURES) == set(CATALOGUE), "every indicator of the catalogue is measured"


def aggregates_sql(schema: str) -> str:
    """Per indicator and street, over subjects whose day is in [$1, $2]: counted, hits, the
    sum of amounts and the mean satisfaction."""
    parts = [
        f"SELECT '{code}' AS indicator, street_id, count(*) AS counted, "
        f"count(*) FILTER (WHERE {m.hit}) AS hits, sum(amount) AS amount, "
        f"avg(satisfaction)::float8 AS mean FROM {schema}.subjects "
        f"WHERE kind = '{m.kind}' AND day BETWEEN $1 AND $2 AND {m.counted} GROUP BY street_id"
        for code, m in MEASURES.items()
    ]
    return " UNION ALL ".join(parts)


def subjects_sql(schema: str, indicator: str) -> str:
    """The subjects counted for `indicator` of street $1 whose day is in [$2, $3]."""
    m = MEASURES[indicator]
    return (f"SELECT subject_id FROM {schema}.subjects WHERE kind = '{m.kind}' "
            f"AND street_id = $1 AND day BETWEEN $2 AND $3 AND {m.counted}")


@dataclass(frozen=True)
class Figures:
    """What an indicator's value is made of, for one unit and period."""

    counted: int = 0
    hits: int = 0
    amount: float = 0.0
    mean: float | None = None

    @classmethod
    def of(cls, row: Any) -> Figures:
        return cls(row["counted"], row["hits"], float(row["amount"] or 0.0), row["mean"])


def value(indicator: str, f: Figures) -> float | None:
    """The indicator's value from its figures; None when a ratio or mean has nothing to
    count yet."""
    measure = CATALOGUE[indicator].measure
    if measure == "ratio":
        return f.hits / f.counted if f.counted else None
    if measure == "count":
        return float(f.counted)
    if measure == "sum":
        return f.amount
    return f.mean if f.counted else None


def parts(indicator: str, f: Figures) -> dict[str, Any]:
    """The numerator and denominator of a ratio (None for the other measures), and the count
    of subjects behind any value."""
    ratio = CATALOGUE[indicator].measure == "ratio"
    return {"numerator": f.hits if ratio else None, "denominator": f.counted if ratio else None,
            "count": f.counted}
