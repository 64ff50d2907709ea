"""Queries on enforcement's read model (services/enforcement/projections.py) for the read API.
Every list takes the streets the caller's grants cover (`streets`; None: everywhere)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.enforcement.handlers import SCHEMA
from services.enforcement.violation import OPEN
from shared.errors import NotFound

VIOLATION_COLUMNS = (
    "violation_id, street_id, community_id, grid_id, domain, type_code, type_name_zh, "
    "type_name_en, lon, lat, address, source, referral_id, case_id, offender_kind, "
    "offender_name, offender_id_number, offender_licence, offender_phone, officer_id, status, "
    "decision, amount, deadline, rectification_ordered, overdue, rectified, on_time, outcome, "
    "recorded_at, decided_at, closed_at, updated_at"
)
# Rows of `streets` only, unless everywhere ($n: the flag, $n+1: the streets).
IN_SCOPE = "($%d::boolean OR street_id = ANY($%d::text[]))"
PERIOD = "($%d::timestamptz IS NULL OR recorded_at >= $%d) " \
         "AND ($%d::timestamptz IS NULL OR recorded_at < $%d)"


def scope_args(streets: set[str] | None) -> tuple[bool, list[str]]:
    return streets is None, sorted(streets or ())


def period(first: int) -> str:
    return PERIOD % (first, first, first + 1, first + 1)


@dataclass(frozen=True)
class Filter:
    street_id: str | None = None
    domain: str | None = None
    status: str | None = None
    open_only: bool = False
    since: datetime | None = None
    until: datetime | None = None
    streets: set[str] | None = None  # the caller's scope (None: everywhere)

    def within(self, streets: set[str] | None) -> Filter:
        return replace(self, streets=streets)


class EnforcementView:
    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
        self.pool = pool
        self.s = schema

    async def officers(self, street_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT o.officer_id, o.name, o.force, o.enrolled_at, "
            f"count(v.violation_id) AS caseload FROM {self.s}.officers o "
            f"LEFT JOIN {self.s}.violations v ON v.street_id = o.street_id "
            "AND v.officer_id = o.officer_id AND v.status = ANY($2::text[]) "
            "WHERE o.street_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1", street_id, list(OPEN))
        return [dict(r) for r in rows]

    async def activities(self, street_id: str, since: datetime | None,
                         until: datetime | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.s}.activities WHERE street_id = $1 "
            "AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3) "
            "ORDER BY at DESC LIMIT 500", street_id, since, until)
        return [dict(r) for r in rows]

    async def violations(self, found: Filter, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {VIOLATION_COLUMNS}, evidence::text AS evidence FROM {self.s}.violations "
            "WHERE ($1::text IS NULL OR street_id = $1) AND ($2::text IS NULL OR domain = $2) "
            "AND ($3::text IS NULL OR status = $3) "
            "AND (NOT $4::boolean OR status = ANY($5::text[])) "
            f"AND {IN_SCOPE % (6, 7)} AND {period(8)} ORDER BY recorded_at LIMIT $10",
            found.street_id, found.domain, found.status, found.open_only, list(OPEN),
            *scope_args(found.streets), found.since, found.until, limit)
        return [_violation(r) for r in rows]

    async def violation(self, violation_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT {VIOLATION_COLUMNS}, evidence::text AS evidence FROM {self.s}.violations "
            "WHERE violation_id = $1", violation_id)
        if row is None:
            raise NotFound(f"no violation {violation_id!r}", field="violation_id")
        steps = await self.pool.fetch(
            f"SELECT version, type, at, actor, role, data::text AS data "
            f"FROM {self.s}.violation_steps WHERE violation_id = $1 ORDER BY version",
            violation_id)
        return {**_violation(row),
                "steps": [{**dict(s), "data": orjson.loads(s["data"])} for s in steps]}

    async def hotspots(self, streets: set[str] | None, street_id: str | None,
                       since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
        """Per grid: its violations over the period, by type, with its boundary."""
        rows = await self.pool.fetch(
            f"SELECT v.street_id, v.community_id, v.grid_id, v.type_code, count(*) AS n, "
            f"g.boundary::text AS boundary FROM {self.s}.violations v "
            f"LEFT JOIN {self.s}.grids g USING (grid_id) "
            "WHERE ($1::text IS NULL OR v.street_id = $1) "
            f"AND {IN_SCOPE.replace('street_id', 'v.street_id') % (2, 3)} AND {period(4)} "
            "GROUP BY 1, 2, 3, 4, 6 ORDER BY 3, 4",
            street_id, *scope_args(streets), since, until)
        grids: dict[str, dict[str, Any]] = {}
        for r in rows:
            spot = grids.setdefault(r["grid_id"], {
                "street_id": r["street_id"], "community_id": r["community_id"],
                "grid_id": r["grid_id"], "total": 0, "by_type": {},
                "boundary": orjson.loads(r["boundary"]) if r["boundary"] else None})
            spot["by_type"][r["type_code"]] = r["n"]
            spot["total"] += r["n"]
        return sorted(grids.values(), key=lambda s: (-s["total"], s["grid_id"]))

    async def indicators(self, streets: set[str] | None, since: datetime | None,
                         until: datetime | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT street_id, count(*) AS violations, "
            "count(*) FILTER (WHERE rectification_ordered) AS ordered, "
            "count(*) FILTER (WHERE rectified) AS rectified, "
            "count(*) FILTER (WHERE rectified AND on_time) AS rectified_on_time "
            f"FROM {self.s}.violations WHERE {IN_SCOPE % (1, 2)} AND {period(3)} "
            "GROUP BY street_id ORDER BY street_id", *scope_args(streets), since, until)
        open_now = await self.pool.fetch(
            f"SELECT street_id, domain, count(*) AS n FROM {self.s}.violations "
            f"WHERE status = ANY($1::text[]) AND {IN_SCOPE % (2, 3)} GROUP BY 1, 2",
            list(OPEN), *scope_args(streets))
        by_street: dict[str, dict[str, int]] = {}
        for r in open_now:
            by_street.setdefault(r["street_id"], {})[r["domain"]] = r["n"]
        return [{**dict(r), "rectification_rate": _rate(r["rectified"], r["ordered"]),
                 "on_time_rectification_rate": _rate(r["rectified_on_time"], r["ordered"]),
                 "open_by_domain": by_street.get(r["street_id"], {})}
                for r in rows]

    async def repeat_offenders(self, streets: set[str] | None,
                               street_id: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT street_id, offender_key, min(offender_kind) AS offender_kind, "
            "min(offender_name) AS offender_name, "
            "min(offender_id_number) AS offender_id_number, "
            "min(offender_licence) AS offender_licence, min(offender_phone) AS offender_phone, "
            "count(*) AS violations, array_agg(violation_id ORDER BY recorded_at) AS violation_ids "
            f"FROM {self.s}.violations WHERE offender_key IS NOT NULL "
            f"AND ($1::text IS NULL OR street_id = $1) AND {IN_SCOPE % (2, 3)} "
            "GROUP BY street_id, offender_key HAVING count(*) >= 2 ORDER BY 8 DESC, 1, 2",
            street_id, *scope_args(streets))
        return [dict(r) for r in rows]


def _violation(row: asyncpg.Record) -> dict[str, Any]:
    found = dict(row)
    found["evidence"] = orjson.loads(found["evidence"])
    return found


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
