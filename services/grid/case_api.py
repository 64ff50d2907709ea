"""Command endpoints of the grid back desk (README "Grid back desk (commands)"). A step on one
case is one `act` (load → check the caller's scope → decide → save); a step that reads the
grid's managers, the territory or a second case goes through the `CaseDesk`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.grid.case_commands import (
    AcceptCase,
    DispatchCase,
    MergeCase,
    NoteProgress,
    PostponeCase,
    ReferCase,
    RegisterCase,
    ReopenCase,
    ResolveCase,
    ReturnVisit,
    RuleOnSendBack,
    SendBack,
    VerifyCase,
)
from services.grid.case_desk import CaseDesk
from services.grid.cases import Case
from shared.access import Role
from shared.auth import Caller
from shared.commands import Sender, act, by
from shared.envelope import new_event_id
from shared.http import Accepted, accepted, app_state

router = APIRouter(prefix="/cases", tags=["cases (commands)"])
DeskDep = Annotated[CaseDesk, Depends(app_state("case_desk"))]
PATROL = frozenset({Role.GRID_MEMBER, Role.GRID_MANAGER})
COMPLAINT = frozenset({Role.FRONT_DESK_CLERK, Role.STREET_OFFICE_STAFF,
                       Role.STREET_SERVICE_STAFF})
Registrar = Annotated[Sender, by(*PATROL, *COMPLAINT)]
Street = Annotated[Sender, by(Role.STREET_OFFICE_STAFF)]
Handler = Annotated[Sender, by(Role.GRID_MANAGER)]
Referrer = Annotated[Sender, by(Role.GRID_MEMBER, Role.GRID_MANAGER, Role.STREET_OFFICE_STAFF)]
Verifier = Annotated[Sender, by(Role.GRID_MEMBER, Role.GRID_MANAGER, Role.STREET_OFFICE_STAFF,
                                Role.RESIDENT)]
Reopener = Annotated[Sender, by(Role.FRONT_DESK_CLERK, Role.STREET_OFFICE_STAFF, Role.RESIDENT)]
Visitor = Annotated[Sender, by(Role.FRONT_DESK_CLERK, Role.STREET_SERVICE_STAFF,
                               Role.STREET_OFFICE_STAFF, Role.RESIDENT)]
ACCEPT = AcceptCase()


class CaseAnswer(Accepted):
    case_id: str


@router.post("", status_code=201, response_model=CaseAnswer)
async def register_case(command: RegisterCase, desk: DeskDep, sender: Registrar) -> dict:
    """A case from a patrol (grid members and managers, in their grid) or a complaint (the
    front desk of its community, the street's office and service centre); dispatched at once
    to the least loaded manager of its grid. Open cases of its category nearby are named as
    duplicate candidates."""
    roles = PATROL if command.source == "patrol" else COMPLAINT
    caller = Caller(sender.caller.principal, sender.caller.roles & roles)
    case_id, result = await desk.register(command, caller.authorize,
                                          sender.idempotency(command))
    return accepted(Case(case_id).stream_id, result, case_id=case_id)


@router.post("/{case_id}/dispatch", response_model=CaseAnswer)
async def dispatch_case(case_id: str, command: DispatchCase, desk: DeskDep,
                        sender: Street) -> dict:
    """Dispatch (or re-dispatch, to another grid too) to a manager of its grid; a re-dispatch
    keeps the deadline."""
    result = await desk.dispatch(case_id, command, sender.caller.authorize,
                                 sender.idempotency(command))
    return accepted(Case(case_id).stream_id, result, case_id=case_id)


@router.post("/{case_id}/accept", response_model=CaseAnswer)
async def accept_case(case_id: str, desk: DeskDep, sender: Handler) -> dict:
    return await act(desk.repo, Case(case_id), lambda c: c.accept(desk.clock()), ACCEPT,
                     sender, case_id=case_id)


@router.post("/{case_id}/progress", response_model=CaseAnswer)
async def note_progress(case_id: str, command: NoteProgress, desk: DeskDep,
                        sender: Handler) -> dict:
    return await act(desk.repo, Case(case_id),
                     lambda c: c.note_progress(command.note, desk.clock()), command, sender,
                     case_id=case_id)


@router.post("/{case_id}/resolve", response_model=CaseAnswer)
async def resolve_case(case_id: str, command: ResolveCase, desk: DeskDep,
                       sender: Handler) -> dict:
    return await act(desk.repo, Case(case_id), lambda c: c.resolve(command.result, desk.clock()),
                     command, sender, case_id=case_id)


@router.post("/{case_id}/send-back", response_model=CaseAnswer)
async def send_back(case_id: str, command: SendBack, desk: DeskDep, sender: Handler) -> dict:
    """退单: the handler returns a misrouted case; the street rules on it."""
    return await act(desk.repo, Case(case_id),
                     lambda c: c.send_back(command.reason, command.note, desk.clock()),
                     command, sender, case_id=case_id)


@router.post("/{case_id}/ruling", response_model=CaseAnswer)
async def rule_on_send_back(case_id: str, command: RuleOnSendBack, desk: DeskDep,
                            sender: Street) -> dict:
    """Upheld: to `handler_id` (of `grid_id`, default its own grid), deadline kept;
    overruled: back to the handler who sent it back."""
    result = await desk.rule(case_id, command, sender.caller.authorize,
                             sender.idempotency(command))
    return accepted(Case(case_id).stream_id, result, case_id=case_id)


@router.post("/{case_id}/refer", response_model=CaseAnswer)
async def refer_case(case_id: str, command: ReferCase, desk: DeskDep, sender: Referrer) -> dict:
    """To the street's law-enforcement team; its `enforcement.referral.concluded` resolves it."""
    referral_id = "r" + new_event_id().hex[:16]
    return await act(desk.repo, Case(case_id), lambda c: c.refer(
        referral_id, command.domain, command.violation_hint, desk.clock()), command, sender,
        case_id=case_id)


@router.post("/{case_id}/verify", response_model=CaseAnswer)
async def verify_case(case_id: str, command: VerifyCase, desk: DeskDep,
                      sender: Verifier) -> dict:
    """Passed: closed (satisfaction 1-5). Failed: back to its handler for rework (counted)."""
    return await act(desk.repo, Case(case_id), lambda c: c.verify(
        command.passed, command.by, command.satisfaction, command.comment, desk.clock()),
        command, sender, case_id=case_id)


@router.post("/{case_id}/reopen", response_model=CaseAnswer)
async def reopen_case(case_id: str, command: ReopenCase, desk: DeskDep,
                      sender: Reopener) -> dict:
    """Not fixed after all: back to its last handler with a new deadline (counted)."""
    return await act(desk.repo, Case(case_id),
                     lambda c: c.reopen(command.reason, desk.clock(), desk.calendar),
                     command, sender, case_id=case_id)


@router.post("/{case_id}/return-visit", response_model=CaseAnswer)
async def return_visit(case_id: str, command: ReturnVisit, desk: DeskDep,
                       sender: Visitor) -> dict:
    """回访: the resident's satisfaction after closure (once per case)."""
    return await act(desk.repo, Case(case_id), lambda c: c.return_visit(
        command.satisfaction, command.comment, desk.clock()), command, sender, case_id=case_id)


@router.post("/{case_id}/postpone", response_model=CaseAnswer)
async def postpone_case(case_id: str, command: PostponeCase, desk: DeskDep,
                        sender: Street) -> dict:
    """延期: a later deadline, with a reason (the case leaves the indicators' denominators)."""
    return await act(desk.repo, Case(case_id), lambda c: c.postpone(
        command.deadline, command.reason, desk.clock()), command, sender, case_id=case_id)


@router.post("/{case_id}/merge", response_model=CaseAnswer)
async def merge_case(case_id: str, command: MergeCase, desk: DeskDep, sender: Street) -> dict:
    """A duplicate into its master (an open case of the same category)."""
    result = await desk.merge(case_id, command, sender.caller.authorize,
                              sender.idempotency(command))
    return accepted(Case(case_id).stream_id, result, case_id=case_id)

