"""The intake service's Faust worker: its own read models, and its copy of the territory
learnt from the grid service's events."""

from __future__ import annotations

import faust

from services.intake.projections import FrontDeskProjection
from services.intake.territory import TerritoryReplica
from shared.settings import Settings
from shared.streams import ReadModelDatabase, add_projection_agent, create_faust_app


def create_worker_app(settings: Settings) -> faust.App:
    app = create_faust_app("intake", settings)
    database = ReadModelDatabase(settings.require_database())
    add_projection_agent(app, settings.topic("grid"), TerritoryReplica(), database,
                         settings.read_batch_seconds)
    add_projection_agent(app, settings.topic("intake"), FrontDeskProjection(), database,
                         settings.read_batch_seconds, own_store="intake")
    return app
