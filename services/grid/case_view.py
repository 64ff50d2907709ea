"""Queries over the back desk's read model (services/grid/case_projection.py): a case with its
history, boards, overviews, workload, lists, map layers and exports. Every list is filtered in
SQL to the places the caller's grants cover (`Within`)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from services.grid.case_projection import OPEN
from services.grid.indicators import LOCAL, period
from shared.access import Place
from shared.auth import Caller
from shared.errors import NotFound

CASE_COLUMNS = (
    "case_id", "source", "category", "urgency", "status", "description", "address", "lon",
    "lat", "street_id", "community_id", "grid_id", "problem_id", "handler_id", "deadline",
    "registered_at", "dispatched_at", "accepted_at", "resolved_at", "closed_at", "updated_at",
    "on_time", "overdue", "escalated", "postponed", "rework_count", "reopen_count",
    "send_back_count", "satisfaction", "return_satisfaction", "return_comment", "master_id",
    "referral_id", "last_note",
)
EXPORT_COLUMNS = CASE_COLUMNS  # what an export holds, in this order (the CSV header)
SCOPE_KINDS = ("grid", "community", "street", "owner")


@dataclass(frozen=True)
class Within:
    """The places a list shows cases of (the caller's grids, communities, streets and, for a
    resident, the cases they reported); `everywhere` for a district-wide grant."""

    everywhere: bool = False
    scopes: tuple[tuple[str, ...], ...] = ((), (), (), ())

    @classmethod
    def of(cls, caller: Caller) -> Within:
        found = [caller.scopes(kind) for kind in SCOPE_KINDS]
        if any(ids is None for ids in found):
            return cls(everywhere=True)
        return cls(False, tuple(tuple(sorted(ids or ())) for ids in found))


EVERYWHERE = Within(everywhere=True)


@dataclass(frozen=True)
class Area:
    """Optional filters by place (each given one must match)."""

    street_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None


class Where:
    """A WHERE clause built with numbered arguments: `where.add("grid_id = {}", grid_id)`."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str, *values: Any) -> Where:
        self.clauses.append(clause.format(*(self.arg(v) for v in values)))
        return self

    def area(self, area: Area) -> Where:
        for column in ("street_id", "community_id", "grid_id"):
            if (value := getattr(area, column)) is not None:
                self.add(f"{column} = {{}}", value)
        return self

    def within(self, within: Within) -> Where:
        if not within.everywhere:
            self.add("(grid_id = ANY({}::text[]) OR community_id = ANY({}::text[]) "
                     "OR street_id = ANY({}::text[]) OR reporter_user_id = ANY({}::text[]))",
                     *(list(ids) for ids in within.scopes))
        return self

    def sql(self) -> str:
        return " AND ".join(self.clauses) or "true"


def place_of(case: dict[str, Any]) -> Place:
    return Place.of(street=case["street_id"], community=case["community_id"],
                    grid=case["grid_id"], owner=case.get("reporter_user_id"))


class CaseView:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.s = schema

    async def case(self, case_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT {', '.join(CASE_COLUMNS)}, reporter_user_id FROM {self.s}.cases "
            "WHERE case_id = $1", case_id)
        if row is None:
            raise NotFound(f"no case {case_id!r}", field="case_id")
        steps = await self.pool.fetch(
            f"SELECT version, type, at, actor, summary FROM {self.s}.case_steps "
            "WHERE case_id = $1 ORDER BY version", case_id)
        holds = await self.pool.fetch(
            f"SELECT handler_id, held_from, held_until FROM {self.s}.case_holds "
            "WHERE case_id = $1 ORDER BY version", case_id)
        return {**dict(row), "steps": [dict(s) for s in steps],
                "holds": [dict(h) for h in holds]}

    async def grid_place(self, grid_id: str, field: str = "grid_id") -> Place:
        row = await self.pool.fetchrow(
            f"SELECT street_id, community_id FROM {self.s}.grids WHERE grid_id = $1", grid_id)
        if row is None:
            raise NotFound(f"no grid {grid_id!r}", field=field)
        return Place.of(street=row["street_id"], community=row["community_id"], grid=grid_id)

    async def community_place(self, community_id: str) -> Place:
        street_id = await self.pool.fetchval(
            f"SELECT street_id FROM {self.s}.communities WHERE community_id = $1",
            community_id)
        if street_id is None:
            raise NotFound(f"no community {community_id!r}", field="id")
        return Place.of(street=street_id, community=community_id)

    async def street_place(self, street_id: str, field: str = "street_id") -> Place:
        if not await self.pool.fetchval(
                f"SELECT true FROM {self.s}.streets WHERE street_id = $1", street_id):
            raise NotFound(f"no street {street_id!r}", field=field)
        return Place.of(street=street_id)

    async def board(self, grid_id: str, now: datetime) -> dict[str, Any]:
        """The grid's open cases per handler, the nearest deadline first, then the oldest."""
        rows = await self.pool.fetch(
            "SELECT case_id, category, urgency, status, description, address, handler_id, "
            "registered_at, deadline, overdue, escalated, "
            "(extract(epoch FROM $2 - registered_at) / 3600)::float8 AS age_hours, "
            "(extract(epoch FROM deadline - $2) / 3600)::float8 AS hours_left "
            f"FROM {self.s}.cases WHERE grid_id = $1 AND {OPEN} "
            "ORDER BY deadline NULLS LAST, registered_at, case_id", grid_id, now)
        handlers: dict[str | None, list[dict[str, Any]]] = {}
        for row in rows:
            handlers.setdefault(row["handler_id"], []).append(dict(row))
        return {"grid_id": grid_id, "as_of": now, "total": len(rows), "handlers": [
            {"handler_id": handler, "open": len(cases),
             "overdue": sum(c["overdue"] for c in cases), "cases": cases}
            for handler, cases in sorted(handlers.items(), key=lambda h: h[0] or "")]}

    async def overview(self, street_id: str) -> dict[str, Any]:
        """Counts by status, overdue and escalated (open ones), the street's and per community."""
        rows = await self.pool.fetch(
            "SELECT community_id, status, count(*) AS cases, "
            f"count(*) FILTER (WHERE overdue AND {OPEN}) AS overdue, "
            f"count(*) FILTER (WHERE escalated AND {OPEN}) AS escalated "
            f"FROM {self.s}.cases WHERE street_id = $1 GROUP BY community_id, status "
            "ORDER BY community_id, status", street_id)
        communities: dict[str, dict[str, Any]] = {}
        street = counts()
        for row in rows:
            for total in (communities.setdefault(row["community_id"], counts()), street):
                by_status = total["by_status"]
                by_status[row["status"]] = by_status.get(row["status"], 0) + row["cases"]
                total["overdue"] += row["overdue"]
                total["escalated"] += row["escalated"]
        return {"street_id": street_id, **street, "communities": [
            {"community_id": cid, **c} for cid, c in sorted(communities.items())]}

    async def workload(self, area: Area, within: Within, now: datetime) -> list[dict[str, Any]]:
        """Per handler: open cases held, how many overdue, and hours held over all cases."""
        where = Where().area(area).within(within)
        at = where.arg(now)
        rows = await self.pool.fetch(
            f"WITH scoped AS (SELECT * FROM {self.s}.cases WHERE {where.sql()}), "
            "held AS (SELECT h.handler_id, sum(extract(epoch FROM coalesce(h.held_until, "
            f"{at}) - h.held_from)) / 3600 AS held_hours FROM {self.s}.case_holds h "
            "JOIN scoped USING (case_id) GROUP BY h.handler_id), "
            f"open AS (SELECT handler_id, count(*) AS open, count(*) FILTER (WHERE overdue) "
            f"AS overdue FROM scoped WHERE handler_id IS NOT NULL AND {OPEN} "
            "GROUP BY handler_id) "
            "SELECT handler_id, coalesce(open.open, 0) AS open, "
            "coalesce(open.overdue, 0) AS overdue, coalesce(held.held_hours, 0)::float8 "
            "AS held_hours FROM open FULL JOIN held USING (handler_id) ORDER BY handler_id",
            *where.args)
        return [dict(r) for r in rows]

    async def flagged(self, flag: str, area: Area, within: Within) -> list[dict[str, Any]]:
        """Open cases with `flag` (overdue, escalated), the oldest deadline first."""
        where = Where().area(area).within(within).add(f"{flag} AND {OPEN}")
        rows = await self.pool.fetch(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM {self.s}.cases WHERE {where.sql()} "
            "ORDER BY deadline NULLS LAST, case_id LIMIT 1000", *where.args)
        return [dict(r) for r in rows]

    async def grid_features(self, area: Area) -> list[dict[str, Any]]:
        where = Where().area(area)
        rows = await self.pool.fetch(
            "SELECT grid_id, community_id, street_id, name_zh, name_en, households, "
            f"manager_id, boundary::text AS boundary FROM {self.s}.grids WHERE {where.sql()} "
            "ORDER BY grid_id", *where.args)
        return [feature(orjson.loads(r.pop("boundary")), r)
                for r in (dict(row) for row in rows)]

    async def case_features(self, area: Area, within: Within) -> list[dict[str, Any]]:
        where = Where().area(area).within(within).add(OPEN)
        rows = await self.pool.fetch(
            "SELECT case_id, category, urgency, status, address, street_id, community_id, "
            "grid_id, handler_id, registered_at, deadline, overdue, escalated, lon, lat "
            f"FROM {self.s}.cases WHERE {where.sql()} ORDER BY case_id LIMIT 10000",
            *where.args)
        return [feature({"type": "Point", "coordinates": [r.pop("lon"), r.pop("lat")]}, r)
                for r in (dict(row) for row in rows)]

    async def export(self, area: Area, within: Within, category: str | None,
                     month: date | None) -> AsyncIterator[dict[str, Any]]:
        """The cases the filters select, oldest first, read with a cursor (never all at once)."""
        where = Where().area(area).within(within)
        if category is not None:
            where.add("category = {}", category)
        if month is not None:
            start, _ = period(month, month)
            end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1,
                           tzinfo=LOCAL)
            where.add("registered_at >= {} AND registered_at < {}", start, end)
        async with self.pool.acquire() as con, con.transaction():
            async for row in con.cursor(
                    f"SELECT {', '.join(EXPORT_COLUMNS)} FROM {self.s}.cases "
                    f"WHERE {where.sql()} ORDER BY registered_at, case_id", *where.args):
                yield dict(row)


def counts() -> dict[str, Any]:
    return {"by_status": {}, "overdue": 0, "escalated": 0}


def feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def csv_lines(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The rows as CSV (a header first; times ISO 8601, nothing as an empty cell)."""
    async def lines() -> AsyncIterator[bytes]:
        yield _csv_row(EXPORT_COLUMNS)
        async for row in rows:
            yield _csv_row([_cell(row[c]) for c in EXPORT_COLUMNS])
    return lines()


def jsonl_lines(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The rows as JSON Lines: one object per line."""
    async def lines() -> AsyncIterator[bytes]:
        async for row in rows:
            yield orjson.dumps(row) + b"\n"
    return lines()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else value


def _csv_row(values: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode()
