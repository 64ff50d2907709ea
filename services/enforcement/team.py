"""A street's comprehensive law-enforcement team (街道综合执法队): one per street, its officers
from the three merged forces, and the activities it logs. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.enforcement.commands import EnrollOfficer, LogActivity
from services.enforcement.events import ActivityLogged, OfficerEnrolled
from shared.access import Place
from shared.errors import DomainError, NotFound
from shared.events import DomainEvent


class AlreadyEnrolled(DomainError):
    status = 409


@dataclass
class Team:
    street_id: str
    version: int = 0
    officers: dict[str, str] = field(default_factory=dict)  # officer id -> force

    @property
    def stream_id(self) -> str:
        return f"team-{self.street_id}"

    def enroll(self, command: EnrollOfficer, *, street_known: bool,
               now: datetime) -> list[DomainEvent]:
        self._require(street_known)
        if command.officer_id in self.officers:
            raise AlreadyEnrolled(f"{command.officer_id} is already an officer of the "
                                  f"{self.street_id} team", field="officer_id")
        return [OfficerEnrolled(street_id=self.street_id, **command.model_dump(),
                                enrolled_at=now)]

    def log(self, command: LogActivity, *, activity_id: str, logged_by: str,
            street_known: bool) -> list[DomainEvent]:
        self._require(street_known)
        if unknown := sorted(set(command.officers) - set(self.officers)):
            raise DomainError(f"not officers of the {self.street_id} team: {', '.join(unknown)}",
                              field="officers")
        return [ActivityLogged(street_id=self.street_id, activity_id=activity_id,
                               kind=command.kind, summary=command.summary, at=command.at,
                               officers=sorted(set(command.officers)), logged_by=logged_by)]

    def _require(self, street_known: bool) -> None:
        if not street_known:
            raise NotFound(f"no street {self.street_id!r} (the team of a street the grid "
                           "service registered)", field="street_id")

    def place(self) -> Place:
        return Place.of(street=self.street_id)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, OfficerEnrolled):
            self.officers[event.officer_id] = event.force
