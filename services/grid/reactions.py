"""What the grid's worker does on its own: a reported problem opens a case, enforcement's
answer resolves a referred case, and every `JIEDAO_OVERDUE_CHECK_SECONDS` the cases past their
deadline are marked overdue. Each is one call to the `CaseDesk` (services/grid/case_desk.py),
idempotent under redelivery; the machinery is shared/reactions.py."""

from __future__ import annotations

from services.grid.case_desk import CaseDesk
from services.grid.case_events import REFERRAL_CONCLUDED
from shared.envelope import Envelope
from shared.reactions import Periodic, Reaction, ReactionContext

PROBLEM_REPORTED = "intake.problem.reported"


def desk(context: ReactionContext) -> CaseDesk:
    return context.handler  # the worker's desk: ServiceSpec.handler (make_case_desk)


async def open_case(context: ReactionContext, report: Envelope) -> None:
    await desk(context).open_from_report(report)


async def prepare_cases(context: ReactionContext, reports: list[Envelope]) -> None:
    await desk(context).prepare_reports(reports)


async def conclude_referral(context: ReactionContext, outcome: Envelope) -> None:
    await desk(context).conclude_referral(outcome)


async def check_overdue(context: ReactionContext) -> int:
    return await desk(context).check_overdue()


OPEN_CASES = Reaction("open_cases", frozenset({PROBLEM_REPORTED}), open_case,
                      prepare=prepare_cases)
CONCLUDE_REFERRALS = Reaction("conclude_referrals", frozenset({REFERRAL_CONCLUDED}),
                              conclude_referral)
OVERDUE_CHECK = Periodic("overdue_check", "overdue_check_seconds", check_overdue)
