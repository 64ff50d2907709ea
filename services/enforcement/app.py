"""The enforcement service (综合执法), declared: each street's comprehensive law-enforcement
team, its violations from record to closure, its read models, and its copy of the territory
learnt from the grid service's events; its reactions to the grid's referrals."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.enforcement import api, reactions, read_api
from services.enforcement.events import registry
from services.enforcement.handlers import SCHEMA
from services.enforcement.projections import EnforcementProjection
from services.enforcement.views import EnforcementView
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.territory import TerritoryReplica


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.enforcement = reactions.make_enforcement(state.repository, pool, settings)
    state.enforcement_view = EnforcementView(pool)


SPEC = ServiceSpec(
    name="enforcement",
    title="jiedao enforcement service (综合执法: each street's law-enforcement team)",
    registry=registry,
    routers=[api.router, read_api.router],
    projections=[EnforcementProjection()],
    consumes={"grid": [TerritoryReplica(SCHEMA)]},
    reactions={"grid": [reactions.TAKE_REFERRALS]},
    periodic=[reactions.OVERDUE_CHECK],
    handler=reactions.make_enforcement,
    domain=["services.enforcement.catalogue", "services.enforcement.events",
            "services.enforcement.commands", "services.enforcement.team",
            "services.enforcement.violation"],
    attach=_attach,
)
