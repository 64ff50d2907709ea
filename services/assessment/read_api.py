"""Read endpoints of the assessment service: the indicator catalogue (public), schemes,
targets, units, and the sub-centres' projects and enterprise visits.

Schemes, targets and units are read by the district government, the district departments,
every street office and sub-centre (a scheme and its targets are published inside the
district) and the auditor. Projects and visits by the district government, the auditor, and
a street's office and sub-centre for that street only (lists hold only their street's)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.assessment.events import SchemeKind
from services.assessment.indicators import CATALOGUE
from services.assessment.periods import Period
from services.assessment.projections import AssessmentProjection
from services.assessment.views import AssessmentView
from shared.access import Place, Role
from shared.auth import Caller, public, readable_by
from shared.errors import DomainError
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page
from shared.types import Day

router = APIRouter(tags=["assessment (read)"])

PROJECTION = AssessmentProjection.name
ViewDep = Annotated[AssessmentView, Depends(app_state("assessment_view"))]
Consistent = Annotated[None, Depends(after_tokens(PROJECTION))]
Readers = Annotated[Caller, readable_by(Role.DISTRICT_GOVERNMENT, Role.DISTRICT_DEPARTMENT,
                                        Role.STREET_OFFICE_STAFF, Role.INVESTMENT_STAFF)]
RecordReaders = Annotated[Caller, readable_by(Role.DISTRICT_GOVERNMENT,
                                              Role.STREET_OFFICE_STAFF, Role.INVESTMENT_STAFF)]
ProjectStatus = Literal["signed", "started", "completed"]


def streets_of(caller: Caller) -> set[str] | None:
    """The streets whose records the caller reads: their street office's or sub-centre's
    (None: every street)."""
    found: set[str] = set()
    for kind in ("street", "subcentre"):
        scopes = caller.scopes(kind)
        if scopes is None:
            return None
        found |= scopes
    return found


def period_code(period: str | None) -> str | None:
    if period is not None:
        try:
            Period.parse(period)
        except ValueError as exc:
            raise DomainError(str(exc), field="period") from exc
    return period


@router.get("/indicators")
async def indicators(_: Annotated[None, public()], kind: SchemeKind | None = None) -> dict:
    """The catalogue a scheme takes its indicators from, by kind: formula, measure, which way
    is better, unit and the events each is computed from."""
    return page([{**i.__dict__, "events": list(i.events)} for i in CATALOGUE.values()
                 if kind is None or i.kind == kind])


@router.get("/schemes")
async def schemes(view: ViewDep, _: Consistent, caller: Readers,
                  kind: SchemeKind | None = None,
                  status: Literal["draft", "approved"] | None = None) -> dict:
    """Every scheme version (`in_force`: the kind's latest approved one)."""
    return page(await view.schemes(kind, status))


@router.get("/schemes/{scheme_id}")
async def scheme(scheme_id: str, view: ViewDep, freshness: FreshnessDep,
                 caller: Readers) -> dict:
    """One scheme version with its indicators, weights, rules and default targets (waits
    briefly for the read model)."""
    await freshness.settled(PROJECTION, f"scheme-{scheme_id}")
    return await view.scheme(scheme_id)


@router.get("/targets")
async def targets(view: ViewDep, _: Consistent, caller: Readers, period: str | None = None,
                  unit_id: str | None = None, indicator: str | None = None) -> dict:
    """The targets set, per unit, indicator and period (a unit without one for an indicator
    has its scheme's default_target)."""
    return page(await view.targets(period_code(period), unit_id, indicator))


@router.get("/units")
async def units(view: ViewDep, caller: Readers, kind: SchemeKind | None = None) -> dict:
    """The units assessed: each street's office (street_office) and its investment service
    sub-centre (investment_subcentre), for every street of the territory."""
    return page(await view.units(kind))


@router.get("/projects")
async def projects(view: ViewDep, _: Consistent, caller: RecordReaders,
                   street_id: str | None = None, status: ProjectStatus | None = None) -> dict:
    """Investment projects (the caller's street's only, for a street's staff)."""
    return page(await view.projects(streets_of(caller), street_id, status))


@router.get("/projects/{project_id}")
async def project(project_id: str, view: ViewDep, freshness: FreshnessDep,
                  caller: RecordReaders) -> dict:
    """One project as it stands (waits briefly for the read model)."""
    await freshness.settled(PROJECTION, f"project-{project_id}")
    found = await view.project(project_id)
    caller.authorize(Place.of(street=found["street_id"], subcentre=found["street_id"]))
    return found


@router.get("/visits")
async def visits(view: ViewDep, _: Consistent, caller: RecordReaders,
                 street_id: str | None = None,
                 since: Annotated[Day | None, Query(description="from this day")] = None,
                 until: Annotated[Day | None, Query(description="to this day")] = None) -> dict:
    """Enterprise service visits (the caller's street's only, for a street's staff)."""
    return page(await view.visits(streets_of(caller), street_id, since, until))
