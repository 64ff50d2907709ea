"""The grid service, declared: territory commands and reads, its territory read model."""

from __future__ import annotations

from services.grid import api, case_events, read_api  # noqa: F401  (registers the case events)
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA, TerritoryProjection
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="grid",
    title="jiedao grid service (网格)",
    registry=registry,
    routers=[api.router, read_api.router],
    projections=[TerritoryProjection()],
    domain=["services.grid.domain", "services.grid.events", "services.grid.commands",
            "services.grid.seed"],
    attach=lambda state, pool, settings: setattr(
        state, "territory_view", read_api.TerritoryView(pool, VIEW_SCHEMA)
    ),
)
