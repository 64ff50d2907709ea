"""Command endpoints of the assessment service.

Who may: the district government (区政府) drafts and approves schemes and sets targets; a
street's investment service sub-centre (投资服务分中心) records its projects and enterprise
visits (its `investment_staff` grant must cover the street)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.assessment.commands import (
    ApproveScheme,
    CompleteProject,
    DraftScheme,
    RecordVisit,
    SetTarget,
    SignProject,
    StartProject,
)
from services.assessment.economy import Project
from services.assessment.handlers import Assessment
from services.assessment.schemes import Scheme, scheme_number
from shared.access import Role
from shared.commands import Sender, act, by
from shared.http import Accepted, accepted, app_state

router = APIRouter(tags=["assessment (commands)"])
Government = Annotated[Sender, by(Role.DISTRICT_GOVERNMENT)]
SubCentre = Annotated[Sender, by(Role.INVESTMENT_STAFF)]
AssessmentDep = Annotated[Assessment, Depends(app_state("assessment"))]
APPROVE = ApproveScheme()


class SchemeAnswer(Accepted):
    scheme_id: str
    scheme_version: int


class ProjectAnswer(Accepted):
    project_id: str


class VisitAnswer(Accepted):
    visit_id: str


# -- schemes and targets (the district government) -----------------------------------------


@router.post("/schemes", status_code=201, response_model=SchemeAnswer)
async def draft_scheme(command: DraftScheme, assessment: AssessmentDep,
                       sender: Government) -> dict:
    """Draft a new version of a kind's scheme (its number: 1 + the kind's latest). Each
    indicator must be of the scheme's kind; the weights sum to 100."""
    drafted, result = await assessment.draft_scheme(command, sender)
    answer = accepted(Scheme(drafted).stream_id, result, scheme_id=drafted)
    return {**answer, "scheme_version": scheme_number(drafted)}


@router.post("/schemes/{scheme_id}/approve", response_model=SchemeAnswer)
async def approve_scheme(scheme_id: str, assessment: AssessmentDep, sender: Government) -> dict:
    """Approve a drafted version (no body): the kind's latest approved version is the one in
    force. Approving it again is a 409."""
    answer = await act(assessment.repo, Scheme(scheme_id),
                       lambda s: s.approve(by=sender.caller.user_id, now=assessment.clock()),
                       APPROVE, sender, scheme_id=scheme_id)
    return {**answer, "scheme_version": scheme_number(scheme_id)}


@router.put("/units/{unit_id}/targets/{indicator}/{period}", response_model=Accepted)
async def set_target(unit_id: str, indicator: str, period: str, command: SetTarget,
                     assessment: AssessmentDep, sender: Government) -> dict:
    """A unit's target for an indicator of its kind in a period (`2026-11`, `2026-Q4`,
    `2026`); a later one replaces it."""
    result = await assessment.set_target(unit_id, indicator, period, command, sender)
    return accepted(f"targets-{unit_id}", result)


# -- economic results (the street's investment service sub-centre) -----------------------


@router.post("/projects", status_code=201, response_model=ProjectAnswer)
async def sign_project(command: SignProject, assessment: AssessmentDep,
                       sender: SubCentre) -> dict:
    """招商引资签约: an investment project signed (amount in 万元), on a day not in the
    future."""
    project_id, result = await assessment.sign_project(command, sender)
    return accepted(Project(project_id).stream_id, result, project_id=project_id)


@router.post("/projects/{project_id}/start", response_model=ProjectAnswer)
async def start_project(project_id: str, command: StartProject, assessment: AssessmentDep,
                        sender: SubCentre) -> dict:
    """项目开工: not before its signing, not in the future."""
    return await act(assessment.repo, Project(project_id),
                     lambda p: p.start(command, by=sender.caller.user_id,
                                       today=assessment.today()),
                     command, sender, project_id=project_id)


@router.post("/projects/{project_id}/complete", response_model=ProjectAnswer)
async def complete_project(project_id: str, command: CompleteProject,
                           assessment: AssessmentDep, sender: SubCentre) -> dict:
    """项目竣工, with its fixed-asset investment (万元): not before its start."""
    return await act(assessment.repo, Project(project_id),
                     lambda p: p.complete(command, by=sender.caller.user_id,
                                          today=assessment.today()),
                     command, sender, project_id=project_id)


@router.post("/visits", status_code=201, response_model=VisitAnswer)
async def record_visit(command: RecordVisit, assessment: AssessmentDep,
                       sender: SubCentre) -> dict:
    """企业服务: a visit serving an enterprise, on a day not in the future."""
    visit_id, result = await assessment.record_visit(command, sender)
    return accepted(f"visit-{visit_id}", result, visit_id=visit_id)
