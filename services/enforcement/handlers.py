"""Handlers of the enforcement service whose decision reads more than the aggregate it writes
(the territory replica), and the event-driven ones (a referral taken, the overdue check). Every
other command is one call to shared/commands.py's `act` in api.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.enforcement import referrals
from services.enforcement.catalogue import violation_type
from services.enforcement.commands import RecordViolation
from services.enforcement.violation import Finding, Violation, Where, require_in_street
from shared.access import Place
from shared.commands import Sender
from shared.envelope import SYSTEM, Envelope
from shared.errors import ConcurrencyConflict
from shared.idempotency import created_id
from shared.repository import Repository
from shared.store import AppendResult
from shared.territory import TerritoryLookup

log = logging.getLogger(__name__)
SCHEMA = "enforcement_view"


@dataclass
class Enforcement:
    """What the handlers work with (made once per process, in the composition root)."""

    repo: Repository
    territory: TerritoryLookup
    pool: asyncpg.Pool
    schema: str = SCHEMA
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def record(self, command: RecordViolation, sender: Sender) -> tuple[str, AppendResult]:
        """An officer of the street records a violation found in it."""
        kind = violation_type(command.type)  # 422 on `type` before anything is looked up
        sender.caller.authorize(Place.of(street=command.street_id))
        located = await self.territory.locate(command.location.lon, command.location.lat)
        where = require_in_street(Where(*located) if located else None, command.street_id)
        idempotency = sender.idempotency(command)
        violation = Violation(created_id(idempotency))
        finding = Finding(
            type=kind, location=command.location.model_dump(), address=command.address,
            evidence=list(command.evidence), source=command.source,
            offender=command.offender.model_dump(exclude_none=True),
            officer_id=sender.caller.user_id, referral_id=command.referral_id,
            case_id=command.case_id)
        result = await self.repo.act(
            violation, lambda v: v.record(finding, where, self.clock()),
            authorize=lambda v: sender.caller.authorize(v.place()), idempotency=idempotency)
        return violation.violation_id, result

    async def take_referral(self, envelope: Envelope) -> AppendResult | None:
        """A `grid.case.referred` envelope, as a recorded violation (idempotent)."""
        return await referrals.take_referral(self.repo, envelope, now=self.clock())

    async def check_overdue(self, now: datetime | None = None) -> int:
        """Marks every order to rectify past its deadline overdue, once per deadline; how
        many it marked. Candidates come from the read model (an order it has not applied
        yet is found by a later run); each is decided on its stream, so two runs at once
        mark it once (the second append conflicts and decides again: nothing to do)."""
        now = now or self.clock()
        candidates = await self.pool.fetch(
            f"SELECT violation_id FROM {self.schema}.violations "
            "WHERE status = 'ordered' AND deadline < $1 ORDER BY deadline", now)
        marked = 0
        for row in candidates:
            marked += await self._mark_overdue(row["violation_id"], now)
        return marked

    async def _mark_overdue(self, violation_id: str, now: datetime) -> int:
        for _ in range(3):
            violation = await self.repo.load(Violation(violation_id))
            events = violation.overdue(now)
            if not events:
                return 0
            try:
                await self.repo.save(violation, events, actor=SYSTEM)
                return 1
            except ConcurrencyConflict:
                continue  # another run (or a step) moved it: decide again on what it holds
        log.warning("violation %s kept moving; its overdue check waits for the next run",
                    violation_id)
        return 0
