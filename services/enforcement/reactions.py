"""What the enforcement worker does on its own: a grid case referred to the street's team
becomes a recorded violation (services/enforcement/referrals.py, idempotent by the referral's
id), and every `JIEDAO_OVERDUE_CHECK_SECONDS` the orders to rectify past their deadline are
marked overdue. The machinery is shared/reactions.py."""

from __future__ import annotations

import asyncpg

from services.enforcement.handlers import SCHEMA, Enforcement
from services.enforcement.referrals import REFERRED, take_referral
from shared.envelope import Envelope
from shared.reactions import Periodic, Reaction, ReactionContext
from shared.repository import Repository
from shared.settings import Settings
from shared.territory import TerritoryLookup


def make_enforcement(repo: Repository, pool: asyncpg.Pool, settings: Settings) -> Enforcement:
    """The handlers' context, as the API and the worker make it."""
    return Enforcement(repo=repo, territory=TerritoryLookup(pool, SCHEMA), pool=pool)


async def record_referral(context: ReactionContext, referral: Envelope) -> None:
    await take_referral(context.repository, referral)


async def check_overdue(context: ReactionContext) -> int:
    enforcement: Enforcement = context.handler
    return await enforcement.check_overdue()


TAKE_REFERRALS = Reaction("take_referrals", frozenset({REFERRED}), record_referral)
OVERDUE_CHECK = Periodic("overdue_check", "overdue_check_seconds", check_overdue)
