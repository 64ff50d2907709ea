"""Read endpoints of the intake service: the catalogue, the front desk's queues."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query

from services.intake.projections import FrontDeskProjection
from services.intake.territory import SCHEMA
from shared.errors import NotFound
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page
from shared.store import EventStore
from shared.types import Day

router = APIRouter(tags=["intake (read)"])

Level = Literal["street", "community", "district"]
Status = Literal["filed", "returned", "resubmitted", "accepted", "referred", "completed",
                 "refused"]
OPEN_STATUSES = ("filed", "returned", "resubmitted", "accepted")
APPLICATION_COLUMNS = (
    "application_id, matter_code, matter_name_zh, matter_name_en, level, street_id, "
    "community_id, grid_id, applicant_name, address, lon, lat, status, handled_at, missing, "
    "result, reason, on_time, filed_at, deadline, updated_at"
)


class FrontDeskView:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, schema: str = SCHEMA) -> None:
        self.pool = pool
        self.store = store
        self.s = schema

    async def catalogue(self, level: str | None, category: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT matter_code, terms::text AS terms FROM {self.s}.matters "
            "WHERE status = 'admitted' AND ($1::text IS NULL OR level = $1) "
            "AND ($2::text IS NULL OR category_code = $2) ORDER BY matter_code",
            level, category,
        )
        return [{"matter_code": r["matter_code"], **orjson.loads(r["terms"])} for r in rows]

    async def categories(self, level: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT level, terms->'category' AS category, count(*) AS matters "
            f"FROM {self.s}.matters WHERE status = 'admitted' "
            "AND ($1::text IS NULL OR level = $1) GROUP BY 1, 2 ORDER BY 1, 2",
            level,
        )
        return [{"level": r["level"], **orjson.loads(r["category"]), "matters": r["matters"]}
                for r in rows]

    async def matter(self, matter_code: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT matter_code, status, terms::text AS terms, pending_proposal, updated_at "
            f"FROM {self.s}.matters WHERE matter_code = $1",
            matter_code,
        )
        if row is None:
            raise NotFound(f"no matter {matter_code!r}", field="matter_code")
        terms = orjson.loads(row["terms"]) if row["terms"] else None
        return {**dict(row), "terms": terms}

    async def history(self, matter_code: str) -> list[dict[str, Any]]:
        """The matter's whole admission history, from the event store itself."""
        events = await self.store.read_stream(f"matter-{matter_code}")
        if not events:
            raise NotFound(f"no matter {matter_code!r}", field="matter_code")
        return [{"type": e.type, "version": e.stream_version, "time": e.time,
                 "actor": e.actor.as_dict(), "data": e.data} for e in events]

    async def applications(self, *, status: str | None = None, street_id: str | None = None,
                           community_id: str | None = None, overdue_on: date | None = None,
                           limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {APPLICATION_COLUMNS} FROM {self.s}.applications "
            "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR street_id = $2) "
            "AND ($3::text IS NULL OR community_id = $3) "
            "AND ($4::date IS NULL OR (deadline < $4 AND status = ANY($5::text[]))) "
            "ORDER BY filed_at LIMIT $6",
            status, street_id, community_id, overdue_on, list(OPEN_STATUSES), limit,
        )
        return [dict(r) for r in rows]

    async def application(self, application_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT {APPLICATION_COLUMNS} FROM {self.s}.applications "
            "WHERE application_id = $1", application_id,
        )
        if row is None:
            raise NotFound(f"no application {application_id!r}", field="application_id")
        return dict(row)

    async def queue(self, community_id: str, day: date) -> list[dict[str, Any]]:
        """The station's queue: filed there that day, or still open."""
        rows = await self.pool.fetch(
            f"SELECT {APPLICATION_COLUMNS} FROM {self.s}.applications WHERE community_id = $1 "
            "AND ((filed_at AT TIME ZONE 'Asia/Shanghai')::date = $2 "
            "OR status = ANY($3::text[])) ORDER BY filed_at",
            community_id, day, list(OPEN_STATUSES),
        )
        return [dict(r) for r in rows]

    async def consultations(self, community_id: str | None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.s}.consultations WHERE ($1::text IS NULL OR community_id = $1)"
            " ORDER BY recorded_at DESC LIMIT 200",
            community_id,
        )
        return [dict(r) for r in rows]


ViewDep = Annotated[FrontDeskView, Depends(app_state("front_desk_view"))]
FRONT_DESK = FrontDeskProjection.name
# A list waits for the consistency tokens it is given (`?after=`): shared/freshness.py.
Consistent = Annotated[None, Depends(after_tokens(FRONT_DESK))]


@router.get("/catalogue")
async def catalogue(view: ViewDep, _: Consistent, level: Level | None = None,
                    category: str | None = None) -> dict[str, Any]:
    """Admitted matters, by level and category."""
    return page(await view.catalogue(level, category))


@router.get("/catalogue/categories")
async def categories(view: ViewDep, _: Consistent, level: Level | None = None) -> dict[str, Any]:
    return page(await view.categories(level))


@router.get("/catalogue/{matter_code}")
async def matter(matter_code: str, view: ViewDep, freshness: FreshnessDep) -> dict[str, Any]:
    """A matter as its admission procedure left it (every step already taken shows)."""
    await freshness.settled(FRONT_DESK, f"matter-{matter_code}")
    return await view.matter(matter_code)


@router.get("/catalogue/{matter_code}/history")
async def matter_history(matter_code: str, view: ViewDep) -> dict[str, Any]:
    """Every step of the matter's admission procedure, as recorded."""
    return page(await view.history(matter_code))


@router.get("/applications")
async def applications(
    view: ViewDep, _: Consistent, status: Status | None = None, street_id: str | None = None,
    community_id: str | None = None,
    overdue: Annotated[bool, Query(description="only open ones past their deadline")] = False,
) -> dict[str, Any]:
    overdue_on = date.today() if overdue else None
    return page(await view.applications(status=status, street_id=street_id,
                                        community_id=community_id, overdue_on=overdue_on))


@router.get("/applications/{application_id}")
async def application(application_id: str, view: ViewDep,
                      freshness: FreshnessDep) -> dict[str, Any]:
    """An application with every step already taken (waits briefly for the read model)."""
    await freshness.settled(FRONT_DESK, f"application-{application_id}")
    return await view.application(application_id)


@router.get("/stations/{community_id}/queue")
async def station_queue(community_id: str, view: ViewDep, _: Consistent,
                        day: Day | None = None) -> dict[str, Any]:
    """Today's queue at a community service station (or another day's)."""
    return page(await view.queue(community_id, day or date.today()))


@router.get("/consultations")
async def consultations(view: ViewDep, _: Consistent,
                        community_id: str | None = None) -> dict[str, Any]:
    return page(await view.consultations(community_id))
