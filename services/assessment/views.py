"""Queries on the assessment read model (services/assessment/projections.py and the
territory replica). `scheme_in_force` and `targets` are the helpers the scorer and the
dashboard use; `AssessmentView` answers the read API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from services.assessment.events import SchemeIndicator, SchemeKind
from services.assessment.indicators import Kind
from services.assessment.schema import SCHEMA
from services.assessment.units import NAMES, PREFIX, parse_unit, unit_id
from shared.errors import NotFound

Connection = asyncpg.Connection | asyncpg.Pool  # anything with fetch / fetchrow
SCHEME_COLUMNS = ("scheme_id, kind, version, name_zh, name_en, indicators::text AS indicators, "
                  "status, drafted_at, approved_at")


@dataclass(frozen=True)
class SchemeRow:
    scheme_id: str
    kind: SchemeKind
    version: int
    name_zh: str
    name_en: str
    indicators: list[SchemeIndicator]
    status: str  # 'draft' | 'approved'
    drafted_at: datetime
    approved_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> SchemeRow:
        return cls(**{**dict(row), "indicators": [
            SchemeIndicator.model_validate(i) for i in orjson.loads(row["indicators"])]})

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "indicators": [i.model_dump() for i in self.indicators]}


async def scheme_in_force(con: Connection, kind: str, *,
                          schema: str = SCHEMA) -> SchemeRow | None:
    """The kind's latest approved version, if any."""
    row = await con.fetchrow(
        f"SELECT {SCHEME_COLUMNS} FROM {schema}.schemes WHERE kind = $1 "
        "AND status = 'approved' ORDER BY version DESC LIMIT 1", kind)
    return SchemeRow.of(row) if row else None


async def targets(con: Connection, period: str, *,
                  schema: str = SCHEMA) -> dict[tuple[str, str], float]:
    """The targets set for `period`, by (unit_id, indicator); a unit without one has its
    scheme's default_target."""
    rows = await con.fetch(f"SELECT unit_id, indicator, target FROM {schema}.targets "
                           "WHERE period = $1", period)
    return {(r["unit_id"], r["indicator"]): r["target"] for r in rows}


async def unit(con: Connection, unit: str, *, schema: str = SCHEMA) -> dict[str, Any] | None:
    """The unit `unit` names (unit_id, kind, street_id, name_zh, name_en), if it is one of a
    street of the territory; None otherwise (a scorer's 404)."""
    try:
        kind, street_id = parse_unit(unit)
    except ValueError:
        return None
    street = await con.fetchrow(f"SELECT street_id, name_zh, name_en FROM {schema}.streets "
                                "WHERE street_id = $1", street_id)
    return _unit(kind, street) if street else None


def _unit(kind: Kind, street: asyncpg.Record) -> dict[str, Any]:
    return {"unit_id": unit_id(kind, street["street_id"]), "kind": kind,
            "street_id": street["street_id"], "name_zh": street["name_zh"] + NAMES[kind][0],
            "name_en": f"{street['name_en']} {NAMES[kind][1]}"}


def scope_args(streets: set[str] | None) -> tuple[bool, list[str]]:
    """($n, $n+1) of a street filter: everywhere, or these streets only."""
    return streets is None, sorted(streets or ())


IN_SCOPE = "($%d::boolean OR street_id = ANY($%d::text[]))"


class AssessmentView:
    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
        self.pool = pool
        self.s = schema

    async def schemes(self, kind: str | None, status: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {SCHEME_COLUMNS} FROM {self.s}.schemes "
            "WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2) "
            "ORDER BY kind, version", kind, status)
        in_force = {k: await scheme_in_force(self.pool, k, schema=self.s) for k in PREFIX}
        return [_shown(SchemeRow.of(r), in_force) for r in rows]

    async def scheme(self, scheme_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT {SCHEME_COLUMNS} FROM {self.s}.schemes WHERE scheme_id = $1", scheme_id)
        if row is None:
            raise NotFound(f"no scheme {scheme_id!r}", field="scheme_id")
        scheme = SchemeRow.of(row)
        return _shown(scheme, {scheme.kind: await scheme_in_force(self.pool, scheme.kind,
                                                                  schema=self.s)})

    async def targets(self, period: str | None, unit: str | None,
                      indicator: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT unit_id, indicator, period, target, set_at FROM {self.s}.targets "
            "WHERE ($1::text IS NULL OR period = $1) AND ($2::text IS NULL OR unit_id = $2) "
            "AND ($3::text IS NULL OR indicator = $3) ORDER BY unit_id, indicator, period "
            "LIMIT 10000", period, unit, indicator)
        return [dict(r) for r in rows]

    async def projects(self, streets: set[str] | None, street_id: str | None,
                       status: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.s}.projects WHERE ($1::text IS NULL OR street_id = $1) "
            f"AND ($2::text IS NULL OR status = $2) AND {IN_SCOPE % (3, 4)} "
            "ORDER BY signed_on DESC, project_id LIMIT 1000", street_id, status,
            *scope_args(streets))
        return [dict(r) for r in rows]

    async def project(self, project_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.s}.projects WHERE project_id = $1", project_id)
        if row is None:
            raise NotFound(f"no project {project_id!r}", field="project_id")
        return dict(row)

    async def visits(self, streets: set[str] | None, street_id: str | None,
                     since: date | None, until: date | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.s}.visits WHERE ($1::text IS NULL OR street_id = $1) "
            "AND ($2::date IS NULL OR visited_on >= $2) AND ($3::date IS NULL OR "
            f"visited_on <= $3) AND {IN_SCOPE % (4, 5)} "
            "ORDER BY visited_on DESC, visit_id LIMIT 1000", street_id, since, until,
            *scope_args(streets))
        return [dict(r) for r in rows]

    async def units(self, kind: str | None) -> list[dict[str, Any]]:
        """Both units of every street the territory holds (office, then sub-centre)."""
        streets = await self.pool.fetch(
            f"SELECT street_id, name_zh, name_en FROM {self.s}.streets ORDER BY street_id")
        return [_unit(k, s) for s in streets for k in PREFIX if kind is None or k == kind]


def _shown(scheme: SchemeRow, in_force: dict[str, SchemeRow | None]) -> dict[str, Any]:
    current = in_force.get(scheme.kind)
    return {**scheme.as_dict(),
            "in_force": current is not None and current.scheme_id == scheme.scheme_id}
