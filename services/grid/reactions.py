"""What the grid's worker does on its own: a reported problem opens a case, enforcement's
answer resolves a referred case, and every `JIEDAO_OVERDUE_CHECK_SECONDS` the cases past their
deadline are marked overdue. Each is one call to the `CaseDesk` (services/grid/case_desk.py),
idempotent under redelivery; the machinery is shared/reactions.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import asyncpg

from services.grid.case_events import REFERRAL_CONCLUDED
from shared.envelope import Envelope
from shared.reactions import Periodic, Reaction, ReactionContext
from shared.repository import Repository
from shared.settings import Settings

PROBLEM_REPORTED = "intake.problem.reported"


class CaseDeskLike(Protocol):
    """What the reactions need of the CaseDesk (the back desk's contract)."""

    async def open_from_report(self, report: Envelope) -> None: ...

    async def conclude_referral(self, outcome: Envelope) -> None: ...

    async def check_overdue(self, now: datetime | None = None) -> int: ...


def desk(context: ReactionContext) -> CaseDeskLike:
    return context.handler


async def open_case(context: ReactionContext, report: Envelope) -> None:
    await desk(context).open_from_report(report)


async def conclude_referral(context: ReactionContext, outcome: Envelope) -> None:
    await desk(context).conclude_referral(outcome)


async def check_overdue(context: ReactionContext) -> int:
    return await desk(context).check_overdue()


OPEN_CASES = Reaction("open_cases", frozenset({PROBLEM_REPORTED}), open_case)
CONCLUDE_REFERRALS = Reaction("conclude_referrals", frozenset({REFERRAL_CONCLUDED}),
                              conclude_referral)
OVERDUE_CHECK = Periodic("overdue_check", "overdue_check_seconds", check_overdue)


def case_desk(repository: Repository, pool: asyncpg.Pool, settings: Settings) -> Any:
    """The worker's CaseDesk (ServiceSpec.handler), made as the API makes its own."""
    from services.grid.case_desk import make_case_desk

    return make_case_desk(repository, pool, settings)
