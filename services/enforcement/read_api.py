"""Read endpoints of the enforcement service: the catalogue (public), teams, violations and
the figures the street watches (hot spots, rectification rates, repeat offenders).

Teams and violations are for the street's officers and its street office (lists show only
their street's; one outside is a 403) and the auditor. The offender's ID and phone numbers are
shown in full only to enforcement officers of the violation's street; everyone else sees them
masked (shared/privacy.py)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.enforcement.catalogue import CATALOGUE
from services.enforcement.events import Force
from services.enforcement.projections import EnforcementProjection
from services.enforcement.views import EnforcementView, Filter
from services.enforcement.violation import STATUSES
from shared.access import Place, Role
from shared.auth import Caller, public, readable_by
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page
from shared.privacy import masked
from shared.types import Moment

router = APIRouter(tags=["enforcement (read)"])

PERSONAL = ("offender_id_number", "offender_phone", "offender_licence")
ViewDep = Annotated[EnforcementView, Depends(app_state("enforcement_view"))]
PROJECTION = EnforcementProjection.name
Consistent = Annotated[None, Depends(after_tokens(PROJECTION))]
StreetReaders = Annotated[Caller, readable_by(Role.ENFORCEMENT_OFFICER, Role.STREET_OFFICE_STAFF)]
Status = Literal[STATUSES]  # type: ignore[valid-type]
Since = Annotated[Moment | None, Query(description="from (inclusive), by record time")]
EXPORT_LIMIT = 100_000
Until = Annotated[Moment | None, Query(description="until (exclusive), by record time")]


def shown(caller: Caller, violation: dict[str, Any]) -> dict[str, Any]:
    """The violation as this caller may see it: personal data in full only to an
    enforcement officer of its street."""
    place = Place.of(street=violation["street_id"])
    if caller.principal.covering([Role.ENFORCEMENT_OFFICER], place) is not None:
        return violation
    return masked(violation, PERSONAL)


@router.get("/catalogue")
async def catalogue(_: Annotated[None, public()], domain: Force | None = None) -> dict:
    """The violation catalogue: types, legal basis, fine ranges, rectification periods."""
    return page([t.as_dict() for t in CATALOGUE if domain is None or t.domain == domain])


@router.get("/teams/{street_id}")
async def team(street_id: str, view: ViewDep, _: Consistent, caller: StreetReaders) -> dict:
    """The street's team: its officers, each with their caseload (open violations held)."""
    caller.authorize(Place.of(street=street_id))
    return {"street_id": street_id, "officers": await view.officers(street_id)}


@router.get("/teams/{street_id}/activities")
async def activities(street_id: str, view: ViewDep, _: Consistent, caller: StreetReaders,
                     since: Since = None, until: Until = None) -> dict:
    """Patrols, traffic-order assistance and joint operations the team logged."""
    caller.authorize(Place.of(street=street_id))
    return page(await view.activities(street_id, since, until))


def violation_filter(street_id: str | None = None, domain: Force | None = None,
                     status: Status | None = None,
                     open_only: Annotated[bool, Query(alias="open")] = False,
                     since: Since = None, until: Until = None) -> Filter:
    return Filter(street_id=street_id, domain=domain, status=status, open_only=open_only,
                  since=since, until=until)


Filtered = Annotated[Filter, Depends(violation_filter)]


@router.get("/violations")
async def violations(view: ViewDep, _: Consistent, caller: StreetReaders,
                     found: Filtered) -> dict:
    """Violations in the caller's street(s); `open=true` for those not closed or dismissed."""
    return page([shown(caller, v)
                 for v in await view.violations(found.within(caller.scopes("street")))])


@router.get("/violations/export", response_class=Response, responses={200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def export(view: ViewDep, _: Consistent, caller: StreetReaders,
                 found: Filtered, format: Literal["csv", "jsonl"] = "csv") -> Response:
    """The same list as CSV or JSON Lines (personal data masked as in the list)."""
    within = found.within(caller.scopes("street"))
    rows = [shown(caller, v) for v in await view.violations(within, limit=EXPORT_LIMIT)]
    if format == "jsonl":
        body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        return Response(body, media_type="application/x-ndjson")
    return Response(as_csv(rows), media_type="text/csv")


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: orjson.dumps(v).decode() if isinstance(v, list | dict) else v
                          for k, v in r.items()} for r in rows)
    return out.getvalue()


@router.get("/violations/{violation_id}")
async def violation(violation_id: str, view: ViewDep, freshness: FreshnessDep,
                    caller: StreetReaders) -> dict:
    """A violation with every step it took (waits briefly for the read model)."""
    await freshness.settled(PROJECTION, f"violation-{violation_id}")
    found = await view.violation(violation_id)
    caller.authorize(Place.of(street=found["street_id"]))
    return shown(caller, found)


@router.get("/hotspots")
async def hotspots(view: ViewDep, _: Consistent, caller: StreetReaders,
                   street_id: str | None = None, since: Since = None, until: Until = None,
                   format: Literal["json", "geojson"] = "json") -> dict:
    """Violations per grid and type over a period; `format=geojson`: a FeatureCollection of
    the grids' boundaries with their counts, for the map."""
    spots = await view.hotspots(caller.scopes("street"), street_id, since, until)
    if format == "json":
        return page([{k: v for k, v in s.items() if k != "boundary"} for s in spots])
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": s.pop("boundary"), "properties": s} for s in spots]}


@router.get("/indicators")
async def indicators(view: ViewDep, _: Consistent, caller: StreetReaders,
                     since: Since = None, until: Until = None) -> dict:
    """Per street, over the period: violations, orders to rectify, rectification rate
    (verified rectified / ordered) and on-time rectification rate (rectified, reported by the
    deadline / ordered); and the violations open now, by domain."""
    return page(await view.indicators(caller.scopes("street"), since, until))


@router.get("/repeat-offenders")
async def repeat_offenders(view: ViewDep, _: Consistent, caller: StreetReaders,
                           street_id: str | None = None) -> dict:
    """Offenders with two violations or more (by ID or licence number, else name)."""
    found = await view.repeat_offenders(caller.scopes("street"), street_id)
    return page([shown(caller, r) for r in found])
