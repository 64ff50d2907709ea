"""The scores as the read API shows them (schema `assessment_view`): for a period, every unit's
indicators, points, total and rank per scheme; one unit's explanation down to its events.

A period still open is scored live: values are aggregates over the scorer's `subjects`
(services/assessment/measures.py), scored by the scheme in force (the latest approved version
of its kind) against the unit's target (its TargetSet, else the scheme's default). A closed
period shows the scores its `PeriodClosed` froze; the events recorded after its close that
touch it are listed as adjustments, with the live value they would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import asyncpg
import orjson

from services.assessment.events import FrozenScore, SchemeIndicator
from services.assessment.indicators import CATALOGUE, Kind
from services.assessment.measures import Figures, aggregates_sql, subjects_sql
from services.assessment.periods import Period
from services.assessment.ranking import frozen_score, indicator_score, ranked, unit_score
from services.assessment.schema import SCHEMA
from services.assessment.units import parse_unit
from services.assessment.views import SCHEME_COLUMNS, SchemeRow, scheme_in_force
from services.assessment.views import targets as targets_of

KINDS: tuple[Kind, ...] = get_args(Kind)
Connection = asyncpg.Pool | asyncpg.Connection


def summary(scheme: SchemeRow) -> dict[str, Any]:
    return {"scheme_id": scheme.scheme_id, "version": scheme.version,
            "name_zh": scheme.name_zh, "name_en": scheme.name_en}


def of_scheme(scheme: SchemeRow | None, code: str) -> SchemeIndicator | None:
    if scheme is None:
        return None
    return next((i for i in scheme.indicators if i.indicator == code), None)


@dataclass(frozen=True)
class Closed:
    period: str
    closed_at: datetime
    closed_by: str
    scores: list[FrozenScore]


class ScoreView:
    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
        self.pool = pool
        self.schema = schema

    # -- what scores are made of ----------------------------------------------------------

    async def streets(self, con: Connection) -> list[asyncpg.Record]:
        return await con.fetch(
            f"SELECT street_id, name_zh, name_en FROM {self.schema}.streets ORDER BY street_id")

    async def scheme(self, con: Connection, kind: Kind, scheme_id: str | None = None
                     ) -> SchemeRow | None:
        """The scheme in force for `kind` (its latest approved version), or the one named."""
        if scheme_id is None:
            return await scheme_in_force(con, kind, schema=self.schema)
        row = await con.fetchrow(f"SELECT {SCHEME_COLUMNS} FROM {self.schema}.schemes "
                                 "WHERE scheme_id = $1", scheme_id)
        return SchemeRow.of(row) if row else None

    async def figures(self, con: Connection, period: Period
                      ) -> dict[tuple[str, str], Figures]:
        """(street, indicator) -> its figures over the period's days."""
        rows = await con.fetch(aggregates_sql(self.schema), period.first, period.last)
        return {(r["street_id"], r["indicator"]): Figures.of(r) for r in rows}

    async def closed(self, con: Connection, period: str) -> Closed | None:
        row = await con.fetchrow(f"SELECT closed_at, closed_by, scores::text AS scores "
                                 f"FROM {self.schema}.closed_periods WHERE period = $1", period)
        if row is None:
            return None
        return Closed(period, row["closed_at"], row["closed_by"],
                      [FrozenScore.model_validate(s) for s in orjson.loads(row["scores"])])

    # -- scores -----------------------------------------------------------------------------

    async def live(self, con: Connection, period: Period) -> dict[Kind, list[dict[str, Any]]]:
        """Every unit of both schemes, scored now, ranked per scheme."""
        streets = await self.streets(con)
        figures = await self.figures(con, period)
        targets = await targets_of(con, period.code, schema=self.schema)
        scored: dict[Kind, list[dict[str, Any]]] = {}
        for kind in KINDS:
            scheme = await self.scheme(con, kind)
            units = []
            for street in streets:
                unit = unit_score(kind, street, None, [])["unit_id"]
                indicators = [] if scheme is None else [
                    indicator_score(si, figures.get((street["street_id"], si.indicator),
                                                    Figures()),
                                    targets.get((unit, si.indicator), si.default_target))
                    for si in scheme.indicators]
                units.append(unit_score(kind, street, scheme and scheme.scheme_id, indicators))
            scored[kind] = ranked(units)
        return scored

    async def frozen(self, con: Connection, closed: Closed) -> dict[Kind, list[dict[str, Any]]]:
        """A closed period's scores as its PeriodClosed froze them, ranked per scheme."""
        streets = {s["street_id"]: s for s in await self.streets(con)}
        scored: dict[Kind, list[dict[str, Any]]] = {k: [] for k in KINDS}
        by_unit: dict[str, list[FrozenScore]] = {}
        for f in closed.scores:
            by_unit.setdefault(f.unit_id, []).append(f)
        schemes: dict[str, SchemeRow | None] = {}
        for unit, scores in by_unit.items():
            kind, street_id = parse_unit(unit)
            scheme_id = scores[0].scheme_id
            if scheme_id not in schemes:
                schemes[scheme_id] = await self.scheme(con, kind, scheme_id)
            scheme = schemes[scheme_id]
            street = streets.get(street_id, {"street_id": street_id, "name_zh": street_id,
                                             "name_en": street_id})
            indicators = [frozen_score(of_scheme(scheme, f.indicator), f)
                          for f in scores]
            scored[kind].append(unit_score(kind, street, scheme_id, indicators))
        return {kind: ranked(units) for kind, units in scored.items()}

    async def rankings(self, period: Period) -> dict[str, Any]:
        """Both schemes side by side: the period's units, ranked (frozen if it is closed)."""
        async with self.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            closed = await self.closed(con, period.code)
            scored = await (self.frozen(con, closed) if closed else self.live(con, period))
            schemes = {k: (summary(s) if (s := await self.scheme(con, k)) else None)
                       for k in KINDS}
        return {"period": period.code, "first": period.first, "last": period.last,
                "closed": closed is not None, "closed_at": closed and closed.closed_at,
                "schemes": schemes, **scored}

    async def unit(self, unit: str, period: Period) -> dict[str, Any] | None:
        """One unit's scores in the period; None if the territory has no such street."""
        kind, _ = parse_unit(unit)
        found = await self.rankings(period)
        here = next((u for u in found[kind] if u["unit_id"] == unit), None)
        if here is None:
            return None
        return {"period": period.code, "closed": found["closed"],
                "closed_at": found["closed_at"], "scheme": found["schemes"][kind], **here}

    # -- explanation --------------------------------------------------------------------------

    async def events(self, con: Connection, street_id: str, indicator: str, period: Period,
                     limit: int, offset: int, after: datetime | None = None
                     ) -> dict[str, Any]:
        """The events behind the subjects counted (after `after`, when given), oldest first."""
        types = list(CATALOGUE[indicator].events) + ["grid.case.registered",
                                                     "enforcement.violation.recorded"]
        where = (f"subject_id IN ({subjects_sql(self.schema, indicator)}) "
                 "AND type = ANY($4::text[]) AND ($5::timestamptz IS NULL OR time > $5)")
        args = (street_id, period.first, period.last, types, after)
        rows = await con.fetch(
            f"SELECT event_id, type, time, source, stream_id, version, subject_id "
            f"FROM {self.schema}.evidence WHERE {where} ORDER BY time, event_id "
            "LIMIT $6 OFFSET $7", *args, limit, offset)
        total = await con.fetchval(f"SELECT count(*) FROM {self.schema}.evidence WHERE {where}",
                                   *args)
        return {"items": [{**dict(r), "event_id": str(r["event_id"]),
                           "stream": f"{r['source']}:{r['stream_id']}"} for r in rows],
                "total": total, "limit": limit, "offset": offset}

    async def explanation(self, unit: str, indicator: str, period: Period, *, limit: int,
                          offset: int, with_events: bool) -> dict[str, Any] | None:
        """Value, target, formula, rule, weight, score and the events behind one indicator of
        a unit; for a closed period, the frozen figures and the adjustments since."""
        kind, street_id = parse_unit(unit)
        info = CATALOGUE[indicator]
        async with self.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            closed = await self.closed(con, period.code)
            live = await self.live(con, period)
            here = next((u for u in live[kind] if u["unit_id"] == unit), None)
            if here is None:
                return None
            scheme = await self.scheme(con, kind, here["scheme_id"])
            now = next((i for i in here["indicators"] if i["indicator"] == indicator), None)
            frozen = await self._frozen_indicator(con, closed, unit, indicator)
            events = adjustments = None
            if with_events:
                events = await self.events(con, street_id, indicator, period, limit, offset)
                if closed is not None:
                    adjustments = await self.events(con, street_id, indicator, period,
                                                    limit, 0, after=closed.closed_at)
        si = of_scheme(scheme, indicator)
        shown = frozen or now or {"value": None, "target": None, "score": None, "met": False,
                                  "numerator": None, "denominator": None, "count": None}
        return {
            "unit_id": unit, "kind": kind, "street_id": street_id, "period": period.code,
            "indicator": indicator, "name_zh": info.name_zh, "name_en": info.name_en,
            "unit": info.unit, "formula_zh": info.formula_zh, "formula_en": info.formula_en,
            "measure": info.measure, "direction": info.direction,
            "in_scheme": si is not None, "scheme_id": here["scheme_id"],
            "rule": si.rule.model_dump() if si else None, "weight": si.weight if si else None,
            **{k: shown[k] for k in ("value", "target", "score", "met", "numerator",
                                     "denominator", "count")},
            "closed": closed is not None, "closed_at": closed and closed.closed_at,
            "events": events, "events_hidden": not with_events,
            "adjustments": None if closed is None else {
                "live": now, "events": adjustments},
        }

    async def _frozen_indicator(self, con: Connection, closed: Closed | None, unit: str,
                                indicator: str) -> dict[str, Any] | None:
        if closed is None:
            return None
        kind, street_id = parse_unit(unit)
        for units in (await self.frozen(con, closed)).values():
            for u in units:
                if u["unit_id"] == unit:
                    return next((i for i in u["indicators"] if i["indicator"] == indicator),
                                None)
        return None

    async def targets_met(self, period: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT unit_id, street_id, kind, indicator, period, value, target, met_at, "
            f"event_id::text AS event_id FROM {self.schema}.target_met WHERE period = $1 "
            "ORDER BY met_at, unit_id, indicator", period)
        return [dict(r) for r in rows]
