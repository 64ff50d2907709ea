"""Command handlers of the intake service whose decision reads more than the aggregate it
writes (the territory, the catalogue's matter). Every other command is one call to
shared/commands.py's `act` in api.py.

Each takes `authorize` (the caller's `Caller.authorize`, or Open311's API client): given where
the new stream will live, once that is known and before anything is saved, it answers the
actor to record or refuses (403)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.intake import front_desk
from services.intake.catalogue import Matter
from services.intake.commands import FileApplication, RecordConsultation
from services.intake.front_desk import Application, Consultation, ProblemReport
from shared.access import Place, Role
from shared.calendar import WorkCalendar
from shared.envelope import Actor
from shared.errors import NotFound
from shared.idempotency import Idempotency, created_id
from shared.repository import References, Repository
from shared.store import AppendResult
from shared.territory import TerritoryLookup

Authorize = Callable[[Place], Actor]


@dataclass
class Intake:
    """What the handlers work with (made once per process, in the composition root)."""

    repo: Repository
    territory: TerritoryLookup[front_desk.Place]
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# -- the front desk ----------------------------------------------------------------------------


async def file_application(
    intake: Intake, command: FileApplication, authorize: Authorize,
    idempotency: Idempotency | None = None, *, filer: str | None = None,
) -> tuple[str, AppendResult]:
    """`filer`: the signed-in user filing, recorded as its owner if a resident's grant (for
    themselves) is what lets them file it."""
    street_id = await intake.territory.street_of(command.community_id)
    if street_id is None:
        raise NotFound(f"no community {command.community_id!r}", field="community_id")
    actor = authorize(Place.of(street=street_id, community=command.community_id, owner=filer))
    filed_by = filer if actor.role == Role.RESIDENT else None
    place = await intake.territory.locate(command.location.lon, command.location.lat)

    async def attempt(references: References) -> tuple[str, AppendResult]:
        matter = await references.load(Matter(command.matter_code))
        application = Application(created_id(idempotency))
        events = application.file(command, matter=matter, place=place,
                                  filed_at=intake.clock(), calendar=intake.calendar,
                                  filed_by=filed_by)
        result = await intake.repo.save(application, events, actor=actor, read=references,
                                        idempotency=idempotency)
        return application.application_id, result

    return await intake.repo.decide(attempt)


async def record_consultation(
    intake: Intake, command: RecordConsultation, authorize: Authorize,
    idempotency: Idempotency | None = None,
) -> tuple[str, AppendResult]:
    street_id = await intake.territory.street_of(command.community_id)
    if street_id is None:
        raise NotFound(f"no community {command.community_id!r}", field="community_id")
    actor = authorize(Place.of(street=street_id, community=command.community_id))

    async def attempt(references: References) -> tuple[str, AppendResult]:
        matter = None
        if command.matter_code is not None:
            matter = await references.load(Matter(command.matter_code))
        consultation = Consultation(created_id(idempotency))
        events = consultation.record(command, street_id=street_id, matter=matter)
        result = await intake.repo.save(consultation, events, actor=actor, read=references,
                                        idempotency=idempotency)
        return consultation.consultation_id, result

    return await intake.repo.decide(attempt)


async def report_problem(
    intake: Intake, *, problem_type: str, description: str, lon: float, lat: float,
    address: str, reporter: dict[str, str], authorize: Authorize,
    idempotency: Idempotency | None = None,
) -> tuple[str, AppendResult]:
    place = await intake.territory.locate(lon, lat)
    problem = ProblemReport(created_id(idempotency))
    location: dict[str, Any] = {"lon": lon, "lat": lat}
    events = problem.report(problem_type=problem_type, description=description, place=place,
                            location=location, address=address, reporter=reporter)
    assert place is not None  # else the report was refused
    actor = authorize(place.scope())
    return problem.problem_id, await intake.repo.save(problem, events, actor=actor,
                                                      idempotency=idempotency)
