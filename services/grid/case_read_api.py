"""Read endpoints of the back desk (GETs only; the commands are services/grid/case_api.py's).

Cases are for those who keep their place: the grid's members and managers, the community's
front desk, the street's office and service centre, the district government, the auditor;
a resident reads the cases they reported. Lists, maps and exports hold only cases in the
caller's scope (filtered in SQL); a board, overview or indicators outside it is a 403. The map
of grids is for everyone signed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from services.grid.case_projection import CaseProjection
from services.grid.case_view import (
    Area,
    CaseView,
    Within,
    csv_lines,
    jsonl_lines,
    place_of,
)
from services.grid.indicators import Level, indicators
from shared.access import Place, Role
from shared.auth import Caller, readable_by
from shared.errors import DomainError, NotFound
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page
from shared.types import Day

router = APIRouter(tags=["cases (read)"])

CASES = CaseProjection.name
KEEPERS = (Role.GRID_MEMBER, Role.GRID_MANAGER, Role.FRONT_DESK_CLERK,
           Role.STREET_SERVICE_STAFF, Role.STREET_OFFICE_STAFF, Role.DISTRICT_GOVERNMENT)
Keepers = Annotated[Caller, readable_by(*KEEPERS)]
KeepersOrReporter = Annotated[Caller, readable_by(*KEEPERS, Role.RESIDENT)]
StreetKeepers = Annotated[Caller, readable_by(Role.STREET_OFFICE_STAFF,
                                              Role.STREET_SERVICE_STAFF,
                                              Role.DISTRICT_GOVERNMENT)]
Anyone = Annotated[Caller, readable_by(*Role)]
ViewDep = Annotated[CaseView, Depends(app_state("case_view"))]
# A list waits for the consistency tokens it is given (`?after=`): shared/freshness.py.
Consistent = Annotated[None, Depends(after_tokens(CASES))]
StreetId = Annotated[str | None, Query(max_length=64)]
CommunityId = Annotated[str | None, Query(max_length=64)]
GridId = Annotated[str | None, Query(max_length=64)]
MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"  # a month of 1900-2099
EARLIEST, LATEST = date(1900, 1, 1), date(2099, 12, 31)  # the days a period may span
GEOJSON = "application/geo+json"
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def now() -> datetime:
    return datetime.now(UTC)


def geojson(features: list[dict[str, Any]]) -> Response:
    collection = {"type": "FeatureCollection", "features": features}
    return Response(orjson.dumps(collection), media_type=GEOJSON)


# Paths with no parameter come before `/cases/{case_id}`, which would take them as an id.


@router.get("/cases/workload")
async def workload(view: ViewDep, _: Consistent, caller: Keepers, street_id: StreetId = None,
                   community_id: CommunityId = None,
                   grid_id: GridId = None) -> dict[str, Any]:
    """Per handler: open cases held, how many of them overdue, and hours held (all cases)."""
    area = Area(street_id, community_id, grid_id)
    return page(await view.workload(area, Within.of(caller), now()))


@router.get("/cases/overdue")
async def overdue(view: ViewDep, _: Consistent, caller: Keepers, street_id: StreetId = None,
                  community_id: CommunityId = None, grid_id: GridId = None) -> dict[str, Any]:
    """Open cases past their deadline (the overdue check marked them), the oldest first."""
    area = Area(street_id, community_id, grid_id)
    return page(await view.flagged("overdue", area, Within.of(caller)))


@router.get("/cases/escalated")
async def escalated(view: ViewDep, _: Consistent, caller: Keepers, street_id: StreetId = None,
                    community_id: CommunityId = None,
                    grid_id: GridId = None) -> dict[str, Any]:
    """Open cases escalated to their street (by going overdue)."""
    area = Area(street_id, community_id, grid_id)
    return page(await view.flagged("escalated", area, Within.of(caller)))


@router.get("/cases/export", response_class=StreamingResponse, responses={
    200: {"content": {t: {} for t in EXPORT_TYPES.values()},
          "description": "CSV (a header row first) or JSON Lines, streamed"}})
async def export(
    view: ViewDep, _: Consistent, caller: Keepers,
    format: Literal["csv", "jsonl"] = "csv", street_id: StreetId = None,
    community_id: CommunityId = None, grid_id: GridId = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    month: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM (1900-2099)")] = None,
) -> StreamingResponse:
    """Cases by area, category and month of registration, streamed as CSV or JSON Lines."""
    first = date.fromisoformat(f"{month}-01") if month else None
    rows = view.export(Area(street_id, community_id, grid_id), Within.of(caller), category,
                       first)
    lines: AsyncIterator[bytes] = csv_lines(rows) if format == "csv" else jsonl_lines(rows)
    return StreamingResponse(lines, media_type=EXPORT_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="cases.{format}"'})


@router.get("/cases/{case_id}")
async def get_case(case_id: str, view: ViewDep, freshness: FreshnessDep,
                   caller: KeepersOrReporter) -> dict[str, Any]:
    """A case with its steps and who held it when (every step already taken shows)."""
    if not await freshness.settled(CASES, f"case-{case_id}"):
        raise NotFound(f"no case {case_id!r}", field="case_id")
    case = await view.case(case_id)
    caller.authorize(place_of(case))
    case.pop("reporter_user_id")
    return case


@router.get("/grids/{grid_id}/board")
async def board(grid_id: str, view: ViewDep, _: Consistent,
                caller: Keepers) -> dict[str, Any]:
    """The grid's open cases per handler: the nearest deadline first, with age and hours left."""
    caller.authorize(await view.grid_place(grid_id))
    return await view.board(grid_id, now())


@router.get("/streets/{street_id}/overview")
async def overview(street_id: str, view: ViewDep, _: Consistent,
                   caller: StreetKeepers) -> dict[str, Any]:
    """The street's cases by status, overdue and escalated, and the same per community."""
    caller.authorize(await view.street_place(street_id))
    return await view.overview(street_id)


@router.get("/map/grids.geojson", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}}})
async def grid_map(view: ViewDep, _: Anyone, street_id: StreetId = None,
                   community_id: CommunityId = None, grid_id: GridId = None) -> Response:
    """The grids' boundaries as a GeoJSON FeatureCollection (Polygons)."""
    return geojson(await view.grid_features(Area(street_id, community_id, grid_id)))


@router.get("/map/cases.geojson", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}}})
async def case_map(view: ViewDep, _: Consistent, caller: Keepers, street_id: StreetId = None,
                   community_id: CommunityId = None, grid_id: GridId = None) -> Response:
    """Open cases in the caller's scope as a GeoJSON FeatureCollection (Points)."""
    area = Area(street_id, community_id, grid_id)
    return geojson(await view.case_features(area, Within.of(caller)))


@router.get("/indicators", responses={404: {"description": "No such grid, community or street"}})
async def get_indicators(
    view: ViewDep, _: Consistent, caller: Keepers, level: Level,
    unit_id: Annotated[str, Query(alias="id", max_length=64)],
    first: Annotated[Day, Query(alias="from", description="YYYY-MM-DD, registered from")],
    last: Annotated[Day, Query(alias="to", description="YYYY-MM-DD, registered to (incl.)")],
) -> dict[str, Any]:
    """The standard indicators of a grid, community or street for cases registered in the
    period (formulas: services/grid/indicators.py, README)."""
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            raise DomainError(f"a day from {EARLIEST} to {LATEST}, not {day}", field=name)
    if first > last:
        raise DomainError(f"the period starts ({first}) after it ends ({last})", field="from")
    caller.authorize(await unit_place(view, level, unit_id))
    return await indicators(view.pool, view.s, level, unit_id, first, last)


async def unit_place(view: CaseView, level: str, unit_id: str) -> Place:
    if level == "grid":
        return await view.grid_place(unit_id, field="id")
    if level == "community":
        return await view.community_place(unit_id)
    return await view.street_place(unit_id, field="id")
