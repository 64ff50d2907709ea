"""Command endpoints of the intake service: each one loads an aggregate, lets it decide and
saves its events (shared/commands.py's `act`), or calls a handler where the decision reads
the territory or the catalogue too.

Who may (issue 9): district departments propose and review catalogue matters, each as itself;
the district government decides; a community's front-desk clerks and its street's public
service centre staff work its applications and consultations; a resident files and brings
materials for their own applications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.intake import handlers
from services.intake.catalogue import Matter
from services.intake.commands import (
    AcceptApplication,
    CompleteApplication,
    DecideProposal,
    FileApplication,
    ProposeMatter,
    RecordConsultation,
    RefuseApplication,
    ResubmitMaterials,
    ReturnApplication,
    ReviewProposal,
)
from services.intake.front_desk import Application
from services.intake.handlers import Intake
from shared.access import Place, Role
from shared.commands import RepoDep, Sender, act, by
from shared.http import Accepted, accepted, app_state

router = APIRouter(tags=["intake (commands)"])
Department = Annotated[Sender, by(Role.DISTRICT_DEPARTMENT)]
Government = Annotated[Sender, by(Role.DISTRICT_GOVERNMENT)]
Station = Annotated[Sender, by(Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF)]
StationOrResident = Annotated[Sender, by(Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF,
                                         Role.RESIDENT)]


IntakeDep = Annotated[Intake, Depends(app_state("intake"))]


class ApplicationAnswer(Accepted):
    application_id: str


class ConsultationAnswer(Accepted):
    consultation_id: str


# -- admission procedure ------------------------------------------------------------------------


@router.post("/catalogue/proposals", status_code=201, response_model=Accepted)
async def propose_matter(command: ProposeMatter, repo: RepoDep, sender: Department) -> dict:
    """A district department proposes a new, changed or withdrawn matter (as itself)."""
    sender.caller.authorize(Place.of(department=command.proposed_by.code))
    return await act(repo, Matter(command.matter_code), lambda m: m.propose(command),
                     command, sender)


@router.post("/catalogue/{matter_code}/reviews", status_code=201, response_model=Accepted)
async def review_proposal(matter_code: str, command: ReviewProposal, repo: RepoDep,
                          sender: Department) -> dict:
    """A relevant department approves the open proposal or objects to it, with a reason (as
    itself)."""
    sender.caller.authorize(Place.of(department=command.department))
    return await act(repo, Matter(matter_code), lambda m: m.review(command), command, sender)


@router.post("/catalogue/{matter_code}/decision", status_code=201, response_model=Accepted)
async def decide_proposal(matter_code: str, command: DecideProposal, repo: RepoDep,
                          sender: Government) -> dict:
    """The district government approves (admits) or rejects, once every review is in."""
    return await act(repo, Matter(matter_code), lambda m: m.decide(command), command, sender)


# -- front desk -----------------------------------------------------------------------------------


@router.post("/applications", status_code=201, response_model=ApplicationAnswer)
async def file_application(command: FileApplication, intake: IntakeDep,
                           sender: StationOrResident) -> dict:
    """A resident files an application at a community service station (its clerk or the
    street's staff for them, or the resident for themselves)."""
    application_id, result = await handlers.file_application(
        intake, command, sender.caller.authorize, sender.idempotency(command),
        filer=sender.caller.user_id)
    return accepted(f"application-{application_id}", result, application_id=application_id)


@router.post("/applications/{application_id}/return", response_model=ApplicationAnswer)
async def return_application(application_id: str, command: ReturnApplication,
                             repo: RepoDep, sender: Station) -> dict:
    """Return it, listing the missing materials."""
    return await act(repo, Application(application_id), lambda a: a.return_for(command),
                     command, sender, application_id=application_id)


@router.post("/applications/{application_id}/materials", response_model=ApplicationAnswer)
async def resubmit_materials(application_id: str, command: ResubmitMaterials,
                             repo: RepoDep, sender: StationOrResident) -> dict:
    """The applicant brings the missing materials (a resident, to their own application)."""
    return await act(repo, Application(application_id), lambda a: a.resubmit(command),
                     command, sender, application_id=application_id)


@router.post("/applications/{application_id}/acceptance", response_model=ApplicationAnswer)
async def accept_application(application_id: str, command: AcceptApplication,
                             repo: RepoDep, sender: Station) -> dict:
    """Accept it (complete materials)."""
    return await act(repo, Application(application_id), lambda a: a.accept(command),
                     command, sender, application_id=application_id)


@router.post("/applications/{application_id}/completion", response_model=ApplicationAnswer)
async def complete_application(application_id: str, command: CompleteApplication,
                               intake: IntakeDep, sender: Station) -> dict:
    """Complete it, with the result."""
    return await act(intake.repo, Application(application_id),
                     lambda a: a.complete(command, intake.clock()),
                     command, sender, application_id=application_id)


@router.post("/applications/{application_id}/refusal", response_model=ApplicationAnswer)
async def refuse_application(application_id: str, command: RefuseApplication,
                             repo: RepoDep, sender: Station) -> dict:
    """Refuse it, with the reason."""
    return await act(repo, Application(application_id), lambda a: a.refuse(command),
                     command, sender, application_id=application_id)


@router.post("/consultations", status_code=201, response_model=ConsultationAnswer)
async def record_consultation(command: RecordConsultation, intake: IntakeDep,
                              sender: Station) -> dict:
    """A policy question answered at the window."""
    consultation_id, result = await handlers.record_consultation(
        intake, command, sender.caller.authorize, sender.idempotency(command))
    return accepted(f"consultation-{consultation_id}", result, consultation_id=consultation_id)
