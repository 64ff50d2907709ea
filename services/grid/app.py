"""The grid service, declared: territory commands and reads, its territory read model; its
reactions to intake's reports and enforcement's answers, and the overdue check."""

from __future__ import annotations

from services.grid import (  # noqa: F401  (case_events registers the case events)
    api,
    case_events,
    reactions,
    read_api,
)
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA, TerritoryProjection
from shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="grid",
    title="jiedao grid service (网格)",
    registry=registry,
    routers=[api.router, read_api.router],
    projections=[TerritoryProjection()],
    reactions={"intake": [reactions.OPEN_CASES], "enforcement": [reactions.CONCLUDE_REFERRALS]},
    periodic=[reactions.OVERDUE_CHECK],
    handler=reactions.case_desk,
    domain=["services.grid.domain", "services.grid.events", "services.grid.commands",
            "services.grid.seed"],
    attach=lambda state, pool, settings: setattr(
        state, "territory_view", read_api.TerritoryView(pool, VIEW_SCHEMA)
    ),
)
