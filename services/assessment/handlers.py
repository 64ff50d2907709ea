"""What the assessment API's commands act with (made once per process), and the commands
whose decision reads more than the aggregate they write: a scheme's version number (the
kind's latest + 1), the territory (does the unit's or the record's street exist), the day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from services.assessment.commands import DraftScheme, RecordVisit, SetTarget, SignProject
from services.assessment.economy import Project, Visit, subcentre_place
from services.assessment.events import SchemeKind
from services.assessment.periods import day_of
from services.assessment.schema import SCHEMA
from services.assessment.schemes import AlreadyDrafted, Scheme, scheme_id
from services.assessment.targets import TargetRequest, Targets
from services.assessment.units import parse_unit
from shared.commands import Sender
from shared.errors import ConcurrencyConflict
from shared.idempotency import created_id
from shared.repository import Repository
from shared.settings import Settings
from shared.store import AppendResult
from shared.territory import TerritoryLookup

DRAFT_TRIES = 3  # two drafts of a kind at once: the later one takes the next number
VERSIONS_ASKED = 64  # scheme streams looked up per query when finding a kind's latest


@dataclass
class Assessment:
    repo: Repository
    territory: TerritoryLookup
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def today(self) -> date:
        return day_of(self.clock())

    async def draft_scheme(self, command: DraftScheme,
                           sender: Sender) -> tuple[str, AppendResult]:
        """A new version of the kind's scheme: 1 + its latest (approved or not)."""
        idempotency = sender.idempotency(command)
        for tries_left in range(DRAFT_TRIES - 1, -1, -1):
            latest = await self.latest_version(command.kind)
            if idempotency and latest:  # a retry of the draft that made the latest
                earlier = scheme_id(command.kind, latest)
                stored = await self.repo.store.read_stream(Scheme(earlier).stream_id)
                if (done := idempotency.earlier(Scheme(earlier).stream_id, stored)) is not None:
                    return earlier, done
            drafted = scheme_id(command.kind, latest + 1)
            try:
                result = await self.repo.act(
                    Scheme(drafted),
                    lambda s, number=latest + 1: s.draft(  # type: ignore[misc]
                        command, number=number, by=sender.caller.user_id, now=self.clock()),
                    authorize=lambda s: sender.caller.authorize(s.place()),
                    idempotency=idempotency)
                return drafted, result
            except (ConcurrencyConflict, AlreadyDrafted):  # another draft took the number
                if not tries_left:
                    raise
        raise AssertionError("unreachable")

    async def latest_version(self, kind: SchemeKind) -> int:
        """The number of the kind's latest scheme version (0: none yet); versions are
        numbered 1, 2, ... without gaps."""
        latest = 0
        while True:
            asked = [Scheme(scheme_id(kind, n)).stream_id
                     for n in range(latest + 1, latest + 1 + VERSIONS_ASKED)]
            found = await self.repo.store.stream_versions(asked)
            latest += len(found)
            if len(found) < VERSIONS_ASKED:
                return latest

    async def set_target(self, unit_id: str, indicator: str, period: str, command: SetTarget,
                         sender: Sender) -> AppendResult:
        request = TargetRequest(indicator, period, command.target)
        street_known = await self._unit_known(unit_id)
        return await self.repo.act(
            Targets(unit_id),
            lambda t: t.set(request, street_known=street_known, by=sender.caller.user_id,
                            now=self.clock()),
            authorize=lambda t: sender.caller.authorize(t.place()),
            idempotency=sender.idempotency(command))

    async def _unit_known(self, unit_id: str) -> bool:
        try:
            _, street_id = parse_unit(unit_id)
        except ValueError:
            return False
        return await self.territory.has_street(street_id)

    async def sign_project(self, command: SignProject,
                           sender: Sender) -> tuple[str, AppendResult]:
        sender.caller.authorize(subcentre_place(command.street_id))  # 403 before a lookup
        known = await self.territory.has_street(command.street_id)
        idempotency = sender.idempotency(command)
        project = Project(created_id(idempotency))
        result = await self.repo.act(
            project, lambda p: p.sign(command, street_known=known, by=sender.caller.user_id,
                                      today=self.today()),
            authorize=lambda p: sender.caller.authorize(p.place()), idempotency=idempotency)
        return project.project_id, result

    async def record_visit(self, command: RecordVisit,
                           sender: Sender) -> tuple[str, AppendResult]:
        sender.caller.authorize(subcentre_place(command.street_id))
        known = await self.territory.has_street(command.street_id)
        idempotency = sender.idempotency(command)
        visit = Visit(created_id(idempotency))
        result = await self.repo.act(
            visit, lambda v: v.record(command, street_known=known, by=sender.caller.user_id,
                                      today=self.today()),
            authorize=lambda v: sender.caller.authorize(v.place()), idempotency=idempotency)
        return visit.visit_id, result


def make_assessment(repo: Repository, pool: asyncpg.Pool, settings: Settings) -> Assessment:
    """The handlers' context, as the API (and a worker, for tasks added later) makes it."""
    return Assessment(repo=repo, territory=TerritoryLookup(pool, SCHEMA))
