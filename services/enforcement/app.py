"""The enforcement service (综合执法), declared: each street's comprehensive law-enforcement
team, its violations from record to closure, its read models, and its copy of the territory
learnt from the grid service's events."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.enforcement import api, read_api
from services.enforcement.events import registry
from services.enforcement.handlers import SCHEMA, Enforcement
from services.enforcement.projections import EnforcementProjection
from services.enforcement.views import EnforcementView
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.territory import TerritoryLookup, TerritoryReplica


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.enforcement = Enforcement(repo=state.repository,
                                    territory=TerritoryLookup(pool, SCHEMA), pool=pool)
    state.enforcement_view = EnforcementView(pool)


SPEC = ServiceSpec(
    name="enforcement",
    title="jiedao enforcement service (综合执法: each street's law-enforcement team)",
    registry=registry,
    routers=[api.router, read_api.router],
    projections=[EnforcementProjection()],
    consumes={"grid": [TerritoryReplica(SCHEMA)]},
    domain=["services.enforcement.catalogue", "services.enforcement.events",
            "services.enforcement.commands", "services.enforcement.team",
            "services.enforcement.violation"],
    attach=_attach,
)
