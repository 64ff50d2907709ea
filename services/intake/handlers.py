"""Command handlers of the intake service whose decision reads more than the aggregate it
writes (the territory, the catalogue's matter). Every other command is one call to
shared/commands.py's `act` in api.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.intake.calendar import WorkCalendar
from services.intake.catalogue import Matter
from services.intake.commands import FileApplication, RecordConsultation
from services.intake.front_desk import Application, Consultation, ProblemReport
from services.intake.territory import TerritoryLookup
from shared.envelope import Actor, new_event_id
from shared.errors import NotFound
from shared.idempotency import Idempotency
from shared.repository import References, Repository
from shared.store import AppendResult


def new_id() -> str:
    """A new, time-ordered identifier for an application, consultation or problem."""
    return new_event_id().hex


@dataclass
class Intake:
    """What the handlers work with (made once per process, in the composition root)."""

    repo: Repository
    territory: TerritoryLookup
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# -- the front desk ----------------------------------------------------------------------------


async def file_application(
    intake: Intake, command: FileApplication, actor: Actor,
    idempotency: Idempotency | None = None,
) -> tuple[str, AppendResult]:
    place = await intake.territory.locate(command.location.lon, command.location.lat)
    if await intake.territory.street_of(command.community_id) is None:
        raise NotFound(f"no community {command.community_id!r}", field="community_id")

    async def attempt(references: References) -> tuple[str, AppendResult]:
        matter = await references.load(Matter(command.matter_code))
        application = Application(idempotency.new_id() if idempotency else new_id())
        events = application.file(command, matter=matter, place=place,
                                  filed_at=intake.clock(), calendar=intake.calendar)
        result = await intake.repo.save(application, events, actor=actor, read=references,
                                        idempotency=idempotency)
        return application.application_id, result

    return await intake.repo.decide(attempt)


async def record_consultation(
    intake: Intake, command: RecordConsultation, actor: Actor,
    idempotency: Idempotency | None = None,
) -> tuple[str, AppendResult]:
    street_id = await intake.territory.street_of(command.community_id)
    if street_id is None:
        raise NotFound(f"no community {command.community_id!r}", field="community_id")

    async def attempt(references: References) -> tuple[str, AppendResult]:
        matter = None
        if command.matter_code is not None:
            matter = await references.load(Matter(command.matter_code))
        consultation = Consultation(idempotency.new_id() if idempotency else new_id())
        events = consultation.record(command, street_id=street_id, matter=matter)
        result = await intake.repo.save(consultation, events, actor=actor, read=references,
                                        idempotency=idempotency)
        return consultation.consultation_id, result

    return await intake.repo.decide(attempt)


async def report_problem(
    intake: Intake, *, problem_type: str, description: str, lon: float, lat: float,
    address: str, reporter: dict[str, str], actor: Actor,
    idempotency: Idempotency | None = None,
) -> tuple[str, AppendResult]:
    place = await intake.territory.locate(lon, lat)
    problem = ProblemReport(idempotency.new_id() if idempotency else new_id())
    location: dict[str, Any] = {"lon": lon, "lat": lat}
    events = problem.report(problem_type=problem_type, description=description, place=place,
                            location=location, address=address, reporter=reporter)
    return problem.problem_id, await intake.repo.save(problem, events, actor=actor,
                                                      idempotency=idempotency)
