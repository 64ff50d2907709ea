"""The community service station's window (前台): applications, consultations and problem
reports. Pure Python.

An application moves filed -> (returned -> resubmitted)* -> accepted -> completed, or is
refused; a district-level matter is referred at filing. A community-level matter is handled
at the community; a street-level one accepted at the window goes to the street's public
service centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.intake.catalogue import Matter
from services.intake.commands import (
    AcceptApplication,
    CompleteApplication,
    FileApplication,
    RecordConsultation,
    RefuseApplication,
    ResubmitMaterials,
    ReturnApplication,
)
from services.intake.events import (
    ApplicationAccepted,
    ApplicationCompleted,
    ApplicationFiled,
    ApplicationReferred,
    ApplicationRefused,
    ApplicationReturned,
    ConsultationRecorded,
    MaterialsResubmitted,
    ProblemReported,
)
from shared import access
from shared.calendar import WorkCalendar, local_date
from shared.errors import DomainError, NotFound, WrongOrder
from shared.events import DomainEvent


@dataclass(frozen=True)
class Place:
    """Where something is, in the territory: a grid, its community and its street."""

    street_id: str
    community_id: str
    grid_id: str

    def ids(self) -> dict[str, str]:
        return {"street_id": self.street_id, "community_id": self.community_id,
                "grid_id": self.grid_id}

    def scope(self, owner: str | None = None) -> access.Place:
        """The same, as the place whose grants cover it (and its owner, if it has one)."""
        return access.Place.of(street=self.street_id, community=self.community_id,
                               grid=self.grid_id, owner=owner)


def require_place_in(place: Place | None, community_id: str) -> Place:
    if place is None or place.community_id != community_id:
        raise DomainError(f"the location is not inside any grid of community {community_id}",
                          field="location")
    return place


OPEN = {"filed", "resubmitted"}


@dataclass
class Application:
    application_id: str
    version: int = 0
    status: str | None = None
    where: Place | None = None
    filed_by: str | None = None  # the resident who filed it for themselves, if one did
    level: str = ""
    required: list[str] = field(default_factory=list)
    materials: set[str] = field(default_factory=set)
    deadline: date | None = None

    @property
    def stream_id(self) -> str:
        return f"application-{self.application_id}"

    def file(self, command: FileApplication, *, matter: Matter, place: Place | None,
             filed_at: datetime, calendar: WorkCalendar,
             filed_by: str | None = None) -> list[DomainEvent]:
        if self.status is not None:
            raise WrongOrder(f"application {self.application_id} is already filed")
        terms: dict[str, Any] = matter.require_admitted()
        where = require_place_in(place, command.community_id)
        filed = ApplicationFiled(
            application_id=self.application_id, matter_code=matter.matter_code,
            matter_name_zh=terms["name_zh"], matter_name_en=terms["name_en"],
            level=terms["level"], **where.ids(), applicant=command.applicant.model_dump(),
            address=command.address, location=command.location.model_dump(),
            materials=sorted(set(command.materials)),
            required_materials=[m["code"] for m in terms["materials"]],
            filed_at=filed_at,
            deadline=calendar.add_working_days(local_date(filed_at), terms["time_limit_days"]),
            filed_by=filed_by,
        )
        if terms["level"] != "district":
            return [filed]
        return [filed, ApplicationReferred(application_id=self.application_id, **where.ids(),
                                           department=terms["department"])]

    def return_for(self, command: ReturnApplication) -> list[DomainEvent]:
        self._require_status(OPEN, "returned")
        if unknown := [m for m in command.missing if m not in self.required]:
            raise DomainError(f"not a required material of this matter: {', '.join(unknown)} "
                              f"(required: {', '.join(self.required) or 'none'})",
                              field="missing")
        return [ApplicationReturned(application_id=self.application_id, **self._where(),
                                    missing=command.missing, note=command.note)]

    def resubmit(self, command: ResubmitMaterials) -> list[DomainEvent]:
        self._require_status({"returned"}, "given new materials")
        return [MaterialsResubmitted(application_id=self.application_id, **self._where(),
                                     materials=sorted(set(command.materials)))]

    def accept(self, command: AcceptApplication) -> list[DomainEvent]:
        self._require_status(OPEN, "accepted")
        if missing := [m for m in self.required if m not in self.materials]:
            raise WrongOrder(f"materials missing: {', '.join(missing)}; return the application "
                             "listing them instead", field="materials")
        handled_at = "community" if self.level == "community" else "street_public_service_centre"
        return [ApplicationAccepted(application_id=self.application_id, **self._where(),
                                    handled_at=handled_at, note=command.note)]

    def complete(self, command: CompleteApplication, completed_at: datetime) -> list[DomainEvent]:
        self._require_status({"accepted"}, "completed")
        assert self.deadline is not None
        return [ApplicationCompleted(application_id=self.application_id, **self._where(),
                                     result=command.result,
                                     on_time=local_date(completed_at) <= self.deadline)]

    def refuse(self, command: RefuseApplication) -> list[DomainEvent]:
        self._require_status(OPEN | {"returned", "accepted"}, "refused")
        return [ApplicationRefused(application_id=self.application_id, **self._where(),
                                   reason=command.reason)]

    def _require_status(self, allowed: set[str], step: str) -> None:
        if self.status is None:
            raise NotFound(f"no application {self.application_id!r}", field="application_id")
        if self.status not in allowed:
            raise WrongOrder(f"application {self.application_id} is {self.status}; it cannot "
                             f"be {step} now", field="status")

    def _where(self) -> dict[str, str]:
        assert self.where is not None
        return self.where.ids()

    def place(self) -> access.Place:
        """Its station's community, street and grid, and the resident who filed it."""
        if self.where is None:  # not filed: no one's grant covers it
            return access.Place.of()
        return self.where.scope(owner=self.filed_by)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ApplicationFiled():
                self.status, self.level = "filed", event.level
                self.where = Place(event.street_id, event.community_id, event.grid_id)
                self.filed_by = event.filed_by
                self.required, self.materials = event.required_materials, set(event.materials)
                self.deadline = event.deadline
            case ApplicationReturned():
                self.status = "returned"
            case MaterialsResubmitted():
                self.status = "resubmitted"
                self.materials |= set(event.materials)
            case ApplicationAccepted():
                self.status = "accepted"
            case ApplicationReferred():
                self.status = "referred"
            case ApplicationCompleted():
                self.status = "completed"
            case ApplicationRefused():
                self.status = "refused"


@dataclass
class Consultation:
    consultation_id: str
    version: int = 0
    street_id: str | None = None
    community_id: str | None = None

    @property
    def stream_id(self) -> str:
        return f"consultation-{self.consultation_id}"

    def record(self, command: RecordConsultation, *, street_id: str,
               matter: Matter | None) -> list[DomainEvent]:
        if matter is not None:
            matter.require_admitted()
        return [ConsultationRecorded(
            consultation_id=self.consultation_id, street_id=street_id,
            community_id=command.community_id, topic=command.topic,
            matter_code=command.matter_code, answer=command.answer,
            answered_by=command.answered_by,
        )]

    def place(self) -> access.Place:
        return access.Place.of(street=self.street_id, community=self.community_id)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ConsultationRecorded):
            self.street_id, self.community_id = event.street_id, event.community_id


@dataclass
class ProblemReport:
    problem_id: str
    version: int = 0
    where: Place | None = None

    @property
    def stream_id(self) -> str:
        return f"problem-{self.problem_id}"

    def report(self, *, problem_type: str, description: str, place: Place | None,
               location: dict[str, float], address: str,
               reporter: dict[str, str]) -> list[DomainEvent]:
        if place is None:
            raise DomainError("the location is not inside any grid of the district",
                              field="location")
        return [ProblemReported(problem_id=self.problem_id, problem_type=problem_type,
                                description=description, **place.ids(), location=location,
                                address=address, reporter=reporter)]

    def place(self) -> access.Place:
        return self.where.scope() if self.where else access.Place.of()

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ProblemReported):
            self.where = Place(event.street_id, event.community_id, event.grid_id)
