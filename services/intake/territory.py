"""Intake's read-model schema, and its copy of the territory: shared/territory.py's replica of
the grid service's events (intake never reads the grid's database nor calls it when a resident
files), answering places as the front desk's `Place`."""

from __future__ import annotations

import asyncpg

from services.intake.front_desk import Place
from shared.territory import TerritoryLookup, TerritoryReplica

SCHEMA = "intake_view"


def territory_replica() -> TerritoryReplica:
    return TerritoryReplica(SCHEMA)


def territory_lookup(pool: asyncpg.Pool) -> TerritoryLookup[Place]:
    return TerritoryLookup(pool, SCHEMA, place=Place)
