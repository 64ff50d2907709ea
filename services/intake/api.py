"""Command endpoints of the intake service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.intake import handlers
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
from shared.auth import ActorDep
from shared.envelope import Actor
from shared.events import DomainEvent
from shared.http import IdempotencyKey, accepted
from shared.idempotency import Idempotency
from shared.types import Command

router = APIRouter(tags=["intake (commands)"])


async def get_intake(request: Request) -> Intake:
    return request.app.state.intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


# -- admission procedure ------------------------------------------------------------------------


@router.post("/catalogue/proposals", status_code=201)
async def propose_matter(command: ProposeMatter, intake: IntakeDep, actor: ActorDep,
                         idempotency_key: IdempotencyKey = None) -> dict:
    """A district department proposes a new, changed or withdrawn matter."""
    result = await handlers.propose_matter(intake, command, actor,
                                           Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"matter-{command.matter_code}", result)


@router.post("/catalogue/{matter_code}/reviews", status_code=201)
async def review_proposal(matter_code: str, command: ReviewProposal, intake: IntakeDep,
                          actor: ActorDep, idempotency_key: IdempotencyKey = None) -> dict:
    """A relevant department approves the open proposal or objects to it, with a reason."""
    result = await handlers.review_proposal(intake, matter_code, command, actor,
                                            Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"matter-{matter_code}", result)


@router.post("/catalogue/{matter_code}/decision", status_code=201)
async def decide_proposal(matter_code: str, command: DecideProposal, intake: IntakeDep,
                          actor: ActorDep, idempotency_key: IdempotencyKey = None) -> dict:
    """The district government approves (admits) or rejects, once every review is in."""
    result = await handlers.decide_proposal(intake, matter_code, command, actor,
                                            Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"matter-{matter_code}", result)


# -- front desk -----------------------------------------------------------------------------------


@router.post("/applications", status_code=201)
async def file_application(command: FileApplication, intake: IntakeDep, actor: ActorDep,
                           idempotency_key: IdempotencyKey = None) -> dict:
    """A resident files an application at a community service station."""
    application_id, result = await handlers.file_application(
        intake, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"application-{application_id}", result, application_id=application_id)


async def step(intake: Intake, application_id: str, command: Command, actor: Actor,
               key: str | None, decide: Callable[[Application], list[DomainEvent]]) -> dict:
    result = await handlers.act_on_application(
        intake, application_id, decide, actor, Idempotency.of(key, command, actor.user_id))
    return accepted(f"application-{application_id}", result, application_id=application_id)


@router.post("/applications/{application_id}/return")
async def return_application(application_id: str, command: ReturnApplication,
                             intake: IntakeDep, actor: ActorDep,
                             idempotency_key: IdempotencyKey = None) -> dict:
    """Return it, listing the missing materials."""
    return await step(intake, application_id, command, actor, idempotency_key,
                      lambda a: a.return_for(command))


@router.post("/applications/{application_id}/materials")
async def resubmit_materials(application_id: str, command: ResubmitMaterials,
                             intake: IntakeDep, actor: ActorDep,
                             idempotency_key: IdempotencyKey = None) -> dict:
    """The applicant brings the missing materials."""
    return await step(intake, application_id, command, actor, idempotency_key,
                      lambda a: a.resubmit(command))


@router.post("/applications/{application_id}/acceptance")
async def accept_application(application_id: str, command: AcceptApplication,
                             intake: IntakeDep, actor: ActorDep,
                             idempotency_key: IdempotencyKey = None) -> dict:
    """Accept it (complete materials)."""
    return await step(intake, application_id, command, actor, idempotency_key,
                      lambda a: a.accept(command))


@router.post("/applications/{application_id}/completion")
async def complete_application(application_id: str, command: CompleteApplication,
                               intake: IntakeDep, actor: ActorDep,
                               idempotency_key: IdempotencyKey = None) -> dict:
    """Complete it, with the result."""
    return await step(intake, application_id, command, actor, idempotency_key,
                      lambda a: a.complete(command, intake.clock()))


@router.post("/applications/{application_id}/refusal")
async def refuse_application(application_id: str, command: RefuseApplication,
                             intake: IntakeDep, actor: ActorDep,
                             idempotency_key: IdempotencyKey = None) -> dict:
    """Refuse it, with the reason."""
    return await step(intake, application_id, command, actor, idempotency_key,
                      lambda a: a.refuse(command))


@router.post("/consultations", status_code=201)
async def record_consultation(
    command: RecordConsultation, intake: IntakeDep, actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """A policy question answered at the window."""
    consultation_id, result = await handlers.record_consultation(
        intake, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"consultation-{consultation_id}", result, consultation_id=consultation_id)
