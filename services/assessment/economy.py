"""The economic results a street's investment service sub-centre records: investment projects
(signed → started → completed) and enterprise service visits. Pure Python.

A day recorded is never in the future (the district's day, Asia/Shanghai), and a project's
steps never come before the step they follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.assessment.commands import CompleteProject, RecordVisit, SignProject, StartProject
from services.assessment.events import (
    EnterpriseVisited,
    ProjectCompleted,
    ProjectSigned,
    ProjectStarted,
)
from shared.access import Place
from shared.errors import DomainError, NotFound, WrongOrder
from shared.events import DomainEvent

STATUSES = ("signed", "started", "completed")


def require_street(street_id: str, known: bool) -> None:
    if not known:
        raise DomainError(f"no street {street_id!r} in the territory (a sub-centre is one "
                          "street's)", field="street_id")


def require_past(day: date, today: date, field: str) -> None:
    if day > today:
        raise DomainError(f"{day} is in the future (today is {today})", field=field)


def require_not_before(day: date, earlier: date, step: str, field: str) -> None:
    if day < earlier:
        raise DomainError(f"{day} is before the project was {step} ({earlier})", field=field)


def subcentre_place(street_id: str | None) -> Place:
    """Where a sub-centre's record lives: its sub-centre (investment staff) and its street
    (the street office reads it)."""
    return Place.of(subcentre=street_id, street=street_id)


@dataclass
class Project:
    project_id: str
    version: int = 0
    status: str | None = None
    street_id: str | None = None
    signed_on: date | None = None
    started_on: date | None = None

    @property
    def stream_id(self) -> str:
        return f"project-{self.project_id}"

    def sign(self, command: SignProject, *, street_known: bool, by: str,
             today: date) -> list[DomainEvent]:
        if self.status is not None:
            raise WrongOrder(f"project {self.project_id} is signed already")
        require_street(command.street_id, street_known)
        require_past(command.signed_on, today, "signed_on")
        return [ProjectSigned(project_id=self.project_id, **command.model_dump(),
                              recorded_by=by)]

    def start(self, command: StartProject, *, by: str, today: date) -> list[DomainEvent]:
        self._require_status("signed", "started")
        assert self.street_id is not None and self.signed_on is not None
        require_past(command.started_on, today, "started_on")
        require_not_before(command.started_on, self.signed_on, "signed", "started_on")
        return [ProjectStarted(project_id=self.project_id, street_id=self.street_id,
                               started_on=command.started_on, recorded_by=by)]

    def complete(self, command: CompleteProject, *, by: str, today: date) -> list[DomainEvent]:
        self._require_status("started", "completed")
        assert self.street_id is not None and self.started_on is not None
        require_past(command.completed_on, today, "completed_on")
        require_not_before(command.completed_on, self.started_on, "started", "completed_on")
        return [ProjectCompleted(project_id=self.project_id, street_id=self.street_id,
                                 fixed_asset_investment_wan=command.fixed_asset_investment_wan,
                                 completed_on=command.completed_on, recorded_by=by)]

    def _require_status(self, wanted: str, step: str) -> None:
        if self.status is None:
            raise NotFound(f"no project {self.project_id!r}", field="project_id")
        if self.status != wanted:
            raise WrongOrder(f"project {self.project_id} is {self.status}: it cannot be {step} "
                             f"(only when {wanted})", field="status")

    def place(self) -> Place:
        return subcentre_place(self.street_id)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ProjectSigned():
                self.status, self.street_id = "signed", event.street_id
                self.signed_on = event.signed_on
            case ProjectStarted():
                self.status, self.started_on = "started", event.started_on
            case ProjectCompleted():
                self.status = "completed"


@dataclass
class Visit:
    visit_id: str
    version: int = 0
    street_id: str | None = None

    @property
    def stream_id(self) -> str:
        return f"visit-{self.visit_id}"

    def record(self, command: RecordVisit, *, street_known: bool, by: str,
               today: date) -> list[DomainEvent]:
        if self.street_id is not None:
            raise WrongOrder(f"visit {self.visit_id} is recorded already")
        require_street(command.street_id, street_known)
        require_past(command.visited_on, today, "visited_on")
        return [EnterpriseVisited(visit_id=self.visit_id, **command.model_dump(),
                                  recorded_by=by)]

    def place(self) -> Place:
        return subcentre_place(self.street_id)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, EnterpriseVisited):
            self.street_id = event.street_id
