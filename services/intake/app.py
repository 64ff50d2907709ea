"""The intake service, declared: catalogue admission, front desk, Open311; its front desk
read models, and its copies of the territory and of the reported problems' cases learnt from
the grid service's events."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.intake import api, open311, open311_format, read_api
from services.intake.api_keys import ApiKeyReplica, ApiKeys
from services.intake.case_replica import CaseReplica
from services.intake.events import registry
from services.intake.handlers import Intake
from services.intake.projections import FrontDeskProjection
from services.intake.territory import territory_lookup, territory_replica
from shared.calendar import WorkCalendar
from shared.service import ServiceSpec
from shared.settings import Settings


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.intake = Intake(
        repo=state.repository,
        territory=territory_lookup(pool),
        calendar=WorkCalendar(settings.holiday_dates()),
    )
    state.front_desk_view = read_api.FrontDeskView(pool, state.store)
    state.open311_api_keys = ApiKeys(pool, demo_key=settings.demo_api_key
                                     if settings.environment == "development" else None)


SPEC = ServiceSpec(
    name="intake",
    title="jiedao intake service (受理: community service station front desk)",
    registry=registry,
    routers=[api.router, read_api.router, open311.router],
    projections=[FrontDeskProjection()],
    consumes={"grid": [territory_replica(), CaseReplica()], "accounts": [ApiKeyReplica()]},
    domain=["services.intake.catalogue", "services.intake.front_desk", "services.intake.events",
            "services.intake.commands", "services.intake.problem_types",
            "services.intake.catalogue_seed"],
    attach=_attach,
    error_formats={open311.router.prefix + "/": open311_format.refused},
)
