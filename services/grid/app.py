"""The grid service's HTTP API: territory commands and reads."""

from __future__ import annotations

from services.grid import api, read_api
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA, TerritoryProjection
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="grid",
    title="jiedao grid service (网格)",
    registry=registry,
    routers=[api.router, read_api.router],
    projections=[TerritoryProjection()],
    attach=lambda state, pool, settings: setattr(
        state, "territory_view", read_api.TerritoryView(pool, VIEW_SCHEMA)
    ),
)
