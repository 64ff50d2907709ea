"""The grid service, declared: territory commands and reads, its territory read model."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.grid import api, case_events, case_read_api, read_api  # noqa: F401  (registers the case events)
from services.grid.case_projection import CaseProjection
from services.grid.case_view import CaseView
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA, TerritoryProjection
from shared.service import ServiceSpec
from shared.settings import Settings


def attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.territory_view = read_api.TerritoryView(pool, VIEW_SCHEMA)
    state.case_view = CaseView(pool, VIEW_SCHEMA)


SPEC = ServiceSpec(
    name="grid",
    title="jiedao grid service (网格)",
    registry=registry,
    routers=[api.router, read_api.router, case_read_api.router],
    projections=[TerritoryProjection(), CaseProjection()],
    domain=["services.grid.domain", "services.grid.events", "services.grid.commands",
            "services.grid.seed"],
    attach=attach,
)
