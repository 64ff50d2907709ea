"""Events of the intake service: the matter catalogue's admission procedure, the front desk's
applications and consultations, and residents' problem reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from shared.events import DomainEvent, EventRegistry

registry = EventRegistry()


# -- the catalogue and its admission procedure (stream: matter-<code>) ----------------------


@registry.register
class MatterProposed(DomainEvent):
    TYPE = "intake.matter.proposed"
    matter_code: str
    proposal_no: int
    kind: Literal["new", "change", "withdrawal"]
    terms: dict[str, Any] | None
    reviewers: list[dict[str, str]]
    proposed_by: dict[str, str]


@registry.register
class ProposalReviewed(DomainEvent):
    TYPE = "intake.matter.reviewed"
    matter_code: str
    proposal_no: int
    department: str
    verdict: Literal["approve", "object"]
    reason: str


@registry.register
class ProposalRejected(DomainEvent):
    TYPE = "intake.matter.rejected"
    matter_code: str
    proposal_no: int
    reason: str


@registry.register
class MatterAdmitted(DomainEvent):
    """The district government approved a new matter: it is in the catalogue at its level."""

    TYPE = "intake.matter.admitted"
    matter_code: str
    proposal_no: int
    terms: dict[str, Any]


@registry.register
class MatterChanged(DomainEvent):
    TYPE = "intake.matter.changed"
    matter_code: str
    proposal_no: int
    terms: dict[str, Any]


@registry.register
class MatterWithdrawn(DomainEvent):
    TYPE = "intake.matter.withdrawn"
    matter_code: str
    proposal_no: int


# -- the front desk (stream: application-<id>) -----------------------------------------------


@registry.register
class ApplicationFiled(DomainEvent):
    TYPE = "intake.application.filed"
    application_id: str
    matter_code: str
    matter_name_zh: str
    matter_name_en: str
    level: Literal["street", "community", "district"]
    street_id: str
    community_id: str
    grid_id: str
    applicant: dict[str, Any]
    address: str
    location: dict[str, float]
    materials: list[str]
    required_materials: list[str]
    filed_at: datetime
    deadline: date
    # The resident who filed it for themselves (signed in as one); None when a station's
    # staff or an Open311 client filed it, and in events stored before it was recorded.
    filed_by: str | None = None


@registry.register
class ApplicationReturned(DomainEvent):
    TYPE = "intake.application.returned"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    missing: list[str]
    note: str


@registry.register
class MaterialsResubmitted(DomainEvent):
    TYPE = "intake.application.resubmitted"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    materials: list[str]


@registry.register
class ApplicationAccepted(DomainEvent):
    TYPE = "intake.application.accepted"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    handled_at: Literal["community", "street_public_service_centre"]
    note: str


@registry.register
class ApplicationReferred(DomainEvent):
    """A district-level matter: the window refers the applicant to the district department."""

    TYPE = "intake.application.referred"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    department: dict[str, str]


@registry.register
class ApplicationCompleted(DomainEvent):
    TYPE = "intake.application.completed"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    result: str
    on_time: bool


@registry.register
class ApplicationRefused(DomainEvent):
    TYPE = "intake.application.refused"
    application_id: str
    street_id: str
    community_id: str
    grid_id: str
    reason: str


# -- consultations and problem reports -------------------------------------------------------


@registry.register
class ConsultationRecorded(DomainEvent):
    TYPE = "intake.consultation.recorded"
    consultation_id: str
    street_id: str
    community_id: str
    topic: str
    matter_code: str | None
    answer: str
    answered_by: str


@registry.register
class ProblemReported(DomainEvent):
    """A resident reported a problem at a location (the grid service opens a case from it)."""

    TYPE = "intake.problem.reported"
    problem_id: str
    problem_type: str
    description: str
    street_id: str
    community_id: str
    grid_id: str
    location: dict[str, float]
    address: str
    reporter: dict[str, str]
