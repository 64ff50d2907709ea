"""Command endpoints of the intake service."""

from __future__ import annotations

from typing import Annotated, Any

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
from services.intake.handlers import Intake
from shared.auth import ActorDep
from shared.http import IdempotencyKey, accepted
from shared.idempotency import Idempotency

router = APIRouter(tags=["intake (commands)"])


async def get_intake(request: Request) -> Intake:
    return request.app.state.intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


# -- admission procedure ------------------------------------------------------------------------


@router.post("/catalogue/proposals", status_code=201)
async def propose_matter(command: ProposeMatter, intake: IntakeDep, actor: ActorDep) -> dict:
    """A district department proposes a new, changed or withdrawn matter."""
    result = await handlers.propose_matter(intake, command, actor)
    return accepted(f"matter-{command.matter_code}", result)


@router.post("/catalogue/{matter_code}/reviews", status_code=201)
async def review_proposal(
    matter_code: str, command: ReviewProposal, intake: IntakeDep, actor: ActorDep
) -> dict:
    """A relevant department approves the open proposal or objects to it, with a reason."""
    result = await handlers.review_proposal(intake, matter_code, command, actor)
    return accepted(f"matter-{matter_code}", result)


@router.post("/catalogue/{matter_code}/decision", status_code=201)
async def decide_proposal(
    matter_code: str, command: DecideProposal, intake: IntakeDep, actor: ActorDep
) -> dict:
    """The district government approves (admits) or rejects, once every review is in."""
    result = await handlers.decide_proposal(intake, matter_code, command, actor)
    return accepted(f"matter-{matter_code}", result)


# -- front desk -----------------------------------------------------------------------------------


@router.post("/applications", status_code=201)
async def file_application(command: FileApplication, intake: IntakeDep, actor: ActorDep,
                           idempotency_key: IdempotencyKey = None) -> dict:
    """A resident files an application at a community service station."""
    application_id, result = await handlers.file_application(
        intake, command, actor, Idempotency.of(idempotency_key, command))
    return accepted(f"application-{application_id}", result, application_id=application_id)


def _step(path: str, command_type: type, method: str, summary: str) -> None:
    async def endpoint(application_id: str, command: Any, intake: IntakeDep,
                       actor: ActorDep) -> dict:
        result = await handlers.act_on_application(
            intake, application_id, lambda a: getattr(a, method)(command, *_extra(method, intake)),
            actor,
        )
        return accepted(f"application-{application_id}", result, application_id=application_id)

    endpoint.__annotations__["command"] = command_type
    endpoint.__name__ = f"{method}_application"
    router.post(f"/applications/{{application_id}}/{path}", summary=summary)(endpoint)


def _extra(method: str, intake: Intake) -> tuple:
    return (intake.clock(),) if method == "complete" else ()


_step("return", ReturnApplication, "return_for", "Return it, listing the missing materials")
_step("materials", ResubmitMaterials, "resubmit", "The applicant brings the missing materials")
_step("acceptance", AcceptApplication, "accept", "Accept it (complete materials)")
_step("completion", CompleteApplication, "complete", "Complete it, with the result")
_step("refusal", RefuseApplication, "refuse", "Refuse it, with the reason")


@router.post("/consultations", status_code=201)
async def record_consultation(
    command: RecordConsultation, intake: IntakeDep, actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """A policy question answered at the window."""
    consultation_id, result = await handlers.record_consultation(
        intake, command, actor, Idempotency.of(idempotency_key, command))
    return accepted(f"consultation-{consultation_id}", result, consultation_id=consultation_id)
