"""The grid service, declared: territory and case commands and reads, its territory read
model; the back desk (`CaseDesk`) on app.state for the case endpoints, and in the worker for
its reactions to intake's reports and enforcement's answers and the overdue check."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.grid import (  # noqa: F401  (case_events registers the case events)
    api,
    case_api,
    case_events,
    case_read_api,
    reactions,
    read_api,
)
from services.grid.case_desk import make_case_desk
from services.grid.case_projection import CaseProjection
from services.grid.case_view import CaseView
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA, TerritoryProjection
from shared.service import ServiceSpec
from shared.settings import Settings


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.territory_view = read_api.TerritoryView(pool, VIEW_SCHEMA)
    state.case_view = CaseView(pool, VIEW_SCHEMA)
    # its `clock` is datetime.now(UTC); tests set `state.case_desk.clock` to a clock of theirs
    state.case_desk = make_case_desk(state.repository, pool, settings,
                                     territory=state.territory_view)


SPEC = ServiceSpec(
    name="grid",
    title="jiedao grid service (网格)",
    registry=registry,
    routers=[api.router, read_api.router, case_api.router, case_read_api.router],
    projections=[TerritoryProjection(), CaseProjection()],
    reactions={"intake": [reactions.OPEN_CASES], "enforcement": [reactions.CONCLUDE_REFERRALS]},
    periodic=[reactions.OVERDUE_CHECK],
    handler=make_case_desk,
    domain=["services.grid.domain", "services.grid.events", "services.grid.commands",
            "services.grid.seed", "services.grid.case_events", "services.grid.cases",
            "services.grid.case_commands", "services.grid.deadlines"],
    attach=_attach,
)
