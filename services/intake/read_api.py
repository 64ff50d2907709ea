"""Read endpoints of the intake service: the catalogue, the front desk's queues.

The catalogue is public; a matter's admission history is for the district's departments and
government. Applications are for the clerks of their community, the staff of their street and
the resident who filed them (lists show only those; one outside is a 403); queues and
consultations for the clerks and staff. The auditor reads everything, with ID and phone
numbers masked (shared/privacy.py) as for anyone whose grant does not cover the application."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query

from services.intake.projections import FrontDeskProjection
from services.intake.territory import SCHEMA
from shared.access import Place, Role
from shared.auth import Caller, public, readable_by
from shared.errors import NotFound
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page
from shared.privacy import masked
from shared.store import EventStore
from shared.types import Day

router = APIRouter(tags=["intake (read)"])

Level = Literal["street", "community", "district"]
Status = Literal["filed", "returned", "resubmitted", "accepted", "referred", "completed",
                 "refused"]
OPEN_STATUSES = ("filed", "returned", "resubmitted", "accepted")
APPLICATION_COLUMNS = (
    "application_id, matter_code, matter_name_zh, matter_name_en, level, street_id, "
    "community_id, grid_id, applicant_name, applicant_id_number, applicant_phone, address, "
    "lon, lat, status, handled_at, missing, result, reason, on_time, filed_at, deadline, "
    "updated_at, filed_by"
)
PERSONAL = ("applicant_id_number", "applicant_phone")  # shown in full only to those below
# Whose grant, covering an application, shows its personal data in full.
NEEDS_PERSONAL_DATA = (Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF, Role.RESIDENT)


@dataclass(frozen=True)
class Within:
    """The places a list shows rows of: its communities, streets and owners (residents).
    `everywhere` for a caller with a district-wide grant (the auditor)."""

    everywhere: bool = False
    communities: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    @classmethod
    def of(cls, caller: Caller) -> Within:
        scopes = [caller.scopes(kind) for kind in ("community", "street", "owner")]
        if any(found is None for found in scopes):
            return cls(everywhere=True)
        return cls(False, *(tuple(sorted(found or ())) for found in scopes))

    def args(self) -> tuple[bool, list[str], list[str], list[str]]:
        return self.everywhere, list(self.communities), list(self.streets), list(self.owners)


EVERYWHERE = Within(everywhere=True)


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
                           within: Within = EVERYWHERE, limit: int = 200,
                           ) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {APPLICATION_COLUMNS} FROM {self.s}.applications "
            "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR street_id = $2) "
            "AND ($3::text IS NULL OR community_id = $3) "
            "AND ($4::date IS NULL OR (deadline < $4 AND status = ANY($5::text[]))) "
            "AND ($7::boolean OR community_id = ANY($8::text[]) OR street_id = ANY($9::text[]) "
            "OR filed_by = ANY($10::text[])) ORDER BY filed_at LIMIT $6",
            status, street_id, community_id, overdue_on, list(OPEN_STATUSES), limit,
            *within.args(),
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

    async def consultations(self, community_id: str | None,
                            within: Within = EVERYWHERE) -> list[dict[str, Any]]:
        everywhere, communities, streets, _ = within.args()
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.s}.consultations WHERE ($1::text IS NULL OR community_id = $1)"
            " AND ($2::boolean OR community_id = ANY($3::text[]) OR street_id = ANY($4::text[]))"
            " ORDER BY recorded_at DESC LIMIT 200",
            community_id, everywhere, communities, streets,
        )
        return [dict(r) for r in rows]

    async def station(self, community_id: str) -> Place:
        """Where a community's station is (its street, from the territory replica)."""
        street_id = await self.pool.fetchval(
            f"SELECT street_id FROM {self.s}.communities WHERE community_id = $1", community_id)
        return Place.of(street=street_id, community=community_id)


def place_of(application: dict[str, Any]) -> Place:
    return Place.of(street=application["street_id"], community=application["community_id"],
                    grid=application["grid_id"], owner=application["filed_by"])


def shown(caller: Caller, application: dict[str, Any]) -> dict[str, Any]:
    """The application as this caller may see it: personal data in full only if a grant of
    theirs that needs it covers the application."""
    if caller.principal.covering(NEEDS_PERSONAL_DATA, place_of(application)) is not None:
        return application
    return masked(application, PERSONAL)


ViewDep = Annotated[FrontDeskView, Depends(app_state("front_desk_view"))]
FRONT_DESK = FrontDeskProjection.name
# A list waits for the consistency tokens it is given (`?after=`): shared/freshness.py.
Consistent = Annotated[None, Depends(after_tokens(FRONT_DESK))]
Anyone = Annotated[None, public()]
CatalogueKeepers = Annotated[Caller, readable_by(Role.DISTRICT_DEPARTMENT,
                                                 Role.DISTRICT_GOVERNMENT)]
Applicants = Annotated[Caller, readable_by(Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF,
                                           Role.RESIDENT)]
StationStaff = Annotated[Caller, readable_by(Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF)]


@router.get("/catalogue")
async def catalogue(view: ViewDep, _: Consistent, __: Anyone, level: Level | None = None,
                    category: str | None = None) -> dict[str, Any]:
    """Admitted matters, by level and category."""
    return page(await view.catalogue(level, category))


@router.get("/catalogue/categories")
async def categories(view: ViewDep, _: Consistent, __: Anyone,
                     level: Level | None = None) -> dict[str, Any]:
    return page(await view.categories(level))


@router.get("/catalogue/{matter_code}")
async def matter(matter_code: str, view: ViewDep, freshness: FreshnessDep,
                 _: Anyone) -> dict[str, Any]:
    """A matter as its admission procedure left it (every step already taken shows)."""
    await freshness.settled(FRONT_DESK, f"matter-{matter_code}")
    return await view.matter(matter_code)


@router.get("/catalogue/{matter_code}/history")
async def matter_history(matter_code: str, view: ViewDep,
                         _: CatalogueKeepers) -> dict[str, Any]:
    """Every step of the matter's admission procedure, as recorded."""
    return page(await view.history(matter_code))


@router.get("/applications")
async def applications(
    view: ViewDep, _: Consistent, caller: Applicants, status: Status | None = None,
    street_id: str | None = None, community_id: str | None = None,
    overdue: Annotated[bool, Query(description="only open ones past their deadline")] = False,
) -> dict[str, Any]:
    """Applications in the caller's scope: their community's, their street's, or (a
    resident) their own."""
    overdue_on = date.today() if overdue else None
    found = await view.applications(status=status, street_id=street_id,
                                    community_id=community_id, overdue_on=overdue_on,
                                    within=Within.of(caller))
    return page([shown(caller, a) for a in found])


@router.get("/applications/{application_id}")
async def application(application_id: str, view: ViewDep, freshness: FreshnessDep,
                      caller: Applicants) -> dict[str, Any]:
    """An application with every step already taken (waits briefly for the read model)."""
    await freshness.settled(FRONT_DESK, f"application-{application_id}")
    found = await view.application(application_id)
    caller.authorize(place_of(found))
    return shown(caller, found)


@router.get("/stations/{community_id}/queue")
async def station_queue(community_id: str, view: ViewDep, _: Consistent, caller: StationStaff,
                        day: Day | None = None) -> dict[str, Any]:
    """Today's queue at a community service station (or another day's)."""
    caller.authorize(await view.station(community_id))
    queue = await view.queue(community_id, day or date.today())
    return page([shown(caller, a) for a in queue])


@router.get("/consultations")
async def consultations(view: ViewDep, _: Consistent, caller: StationStaff,
                        community_id: str | None = None) -> dict[str, Any]:
    """Consultations at the stations of the caller's communities or street."""
    return page(await view.consultations(community_id, Within.of(caller)))
