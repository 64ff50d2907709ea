"""Command endpoints of the enforcement service: each one loads an aggregate, lets it decide
and saves its events (shared/commands.py's `act`), or calls a handler where the decision reads
the territory too.

Who may: the street office (街道办事处) enrols its team's officers; the team's officers
(综合执法队员) log its activities and take violations in their street from record to closure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.enforcement.commands import (
    CloseViolation,
    DecideViolation,
    DismissViolation,
    EnrollOfficer,
    LogActivity,
    RecordViolation,
    ReportRectification,
    VerifyRectification,
)
from services.enforcement.handlers import Enforcement
from services.enforcement.team import Team
from services.enforcement.violation import Violation
from shared.access import Place, Role
from shared.commands import Sender, act, by
from shared.http import Accepted, accepted, app_state
from shared.idempotency import created_id

router = APIRouter(tags=["enforcement (commands)"])
StreetOffice = Annotated[Sender, by(Role.STREET_OFFICE_STAFF)]
Officer = Annotated[Sender, by(Role.ENFORCEMENT_OFFICER)]
EnforcementDep = Annotated[Enforcement, Depends(app_state("enforcement"))]


class ActivityAnswer(Accepted):
    activity_id: str


class ViolationAnswer(Accepted):
    violation_id: str


# -- the team ------------------------------------------------------------------------------


@router.post("/teams/{street_id}/officers", status_code=201, response_model=Accepted)
async def enroll_officer(street_id: str, command: EnrollOfficer, enforcement: EnforcementDep,
                         sender: StreetOffice) -> dict:
    """The street office enrols an officer in its team (their id is their username)."""
    sender.caller.authorize(Place.of(street=street_id))
    known = await enforcement.territory.has_street(street_id)
    return await act(enforcement.repo, Team(street_id),
                     lambda t: t.enroll(command, street_known=known, now=enforcement.clock()),
                     command, sender)


@router.post("/teams/{street_id}/activities", status_code=201, response_model=ActivityAnswer)
async def log_activity(street_id: str, command: LogActivity, enforcement: EnforcementDep,
                       sender: Officer) -> dict:
    """An officer logs a patrol, traffic-order assistance or a joint operation."""
    sender.caller.authorize(Place.of(street=street_id))
    known = await enforcement.territory.has_street(street_id)
    idempotency = sender.idempotency(command)
    activity_id = created_id(idempotency)
    return await act(enforcement.repo, Team(street_id),
                     lambda t: t.log(command, activity_id=activity_id,
                                     logged_by=sender.caller.user_id, street_known=known),
                     command, sender, activity_id=activity_id)


# -- violations ----------------------------------------------------------------------------


@router.post("/violations", status_code=201, response_model=ViolationAnswer)
async def record_violation(command: RecordViolation, enforcement: EnforcementDep,
                           sender: Officer) -> dict:
    """An officer of the street records a violation found in it (patrol, complaint, or a
    grid case's referral)."""
    violation_id, result = await enforcement.record(command, sender)
    return accepted(f"violation-{violation_id}", result, violation_id=violation_id)


@router.post("/violations/{violation_id}/decision", response_model=ViolationAnswer)
async def decide(violation_id: str, command: DecideViolation, enforcement: EnforcementDep,
                 sender: Officer) -> dict:
    """A warning, a fine within the type's legal range, or an order to rectify (a fine may
    order rectification too); the deadline defaults to the type's rectification days."""
    return await act(enforcement.repo, Violation(violation_id),
                     lambda v: v.decide(command, enforcement.clock()), command, sender,
                     violation_id=violation_id)


@router.post("/violations/{violation_id}/dismissal", response_model=ViolationAnswer)
async def dismiss(violation_id: str, command: DismissViolation, enforcement: EnforcementDep,
                  sender: Officer) -> dict:
    """No violation after all (a referral's case is answered `no_violation`)."""
    return await act(enforcement.repo, Violation(violation_id),
                     lambda v: v.dismiss(command, enforcement.clock()), command, sender,
                     violation_id=violation_id)


@router.post("/violations/{violation_id}/rectification", response_model=ViolationAnswer)
async def report_rectification(violation_id: str, command: ReportRectification,
                               enforcement: EnforcementDep, sender: Officer) -> dict:
    """The offender has put it right (to be verified)."""
    return await act(enforcement.repo, Violation(violation_id),
                     lambda v: v.report_rectification(command, enforcement.clock()),
                     command, sender, violation_id=violation_id)


@router.post("/violations/{violation_id}/verification", response_model=ViolationAnswer)
async def verify(violation_id: str, command: VerifyRectification, enforcement: EnforcementDep,
                 sender: Officer) -> dict:
    """Passed: the violation closes. Failed: back to the order (a new deadline optional)."""
    return await act(enforcement.repo, Violation(violation_id),
                     lambda v: v.verify(command, enforcement.clock()), command, sender,
                     violation_id=violation_id)


@router.post("/violations/{violation_id}/closure", response_model=ViolationAnswer)
async def close(violation_id: str, command: CloseViolation, enforcement: EnforcementDep,
                sender: Officer) -> dict:
    """Close a violation decided by a warning or a fine alone."""
    return await act(enforcement.repo, Violation(violation_id),
                     lambda v: v.close(command, enforcement.clock()), command, sender,
                     violation_id=violation_id)
