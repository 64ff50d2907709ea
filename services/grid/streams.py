"""The grid service's Faust worker: builds the territory read model from the grid topic."""

from __future__ import annotations

import faust

from services.grid.projections import TerritoryProjection
from shared.settings import Settings
from shared.streams import ReadModelDatabase, add_projection_agent, create_faust_app


def create_worker_app(settings: Settings) -> faust.App:
    app = create_faust_app("grid", settings)
    database = ReadModelDatabase(settings.require_database())
    add_projection_agent(app, settings.topic("grid"), TerritoryProjection(), database,
                         settings.read_batch_seconds, own_store="grid")
    return app
