"""Intake's own copy of the territory, learnt from the grid service's events.

Intake never reads the grid service's database and makes no call to it when a resident
files: its Faust worker consumes `jiedao.grid` into these tables (the pattern every service
that needs another's facts follows: subscribe, project, look up locally).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import orjson

from services.intake.front_desk import Place
from shared.envelope import Envelope
from shared.geo import BoundaryIndex
from shared.projection import Statement
from shared.snapshot import Snapshot

SCHEMA = "intake_view"


class TerritoryReplica:
    """Projection of grid.* events: communities and grids with their boundaries."""

    name = "territory_replica"
    streams = ("street-", "community-", "grid-")  # not the cases on the same topic

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["streets", "communities", "grids"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.streets (
            street_id text PRIMARY KEY, name_zh text NOT NULL, name_en text NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.communities (
            community_id text PRIMARY KEY, street_id text NOT NULL, name_zh text NOT NULL,
            name_en text NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.grids (
            grid_id text PRIMARY KEY, community_id text NOT NULL, street_id text NOT NULL,
            boundary jsonb NOT NULL);
        """

    def statements(self, event: Envelope) -> Iterator[Statement]:
        s, d = self.schema, event.data
        if event.type == "grid.street.registered":
            yield (f"INSERT INTO {s}.streets VALUES ($1, $2, $3) "
                   "ON CONFLICT (street_id) DO NOTHING",
                   (d["street_id"], d["name_zh"], d["name_en"]))
        elif event.type == "grid.community.registered":
            yield (f"INSERT INTO {s}.communities VALUES ($1, $2, $3, $4) "
                   "ON CONFLICT (community_id) DO NOTHING",
                   (d["community_id"], d["street_id"], d["name_zh"], d["name_en"]))
        elif event.type == "grid.grid.drawn":
            yield (f"INSERT INTO {s}.grids VALUES ($1, $2, $3, $4::jsonb) "
                   "ON CONFLICT (grid_id) DO NOTHING",
                   (d["grid_id"], d["community_id"], d["street_id"],
                    orjson.dumps(d["boundary"]).decode()))


class TerritoryLookup:
    """What the front desk asks of the territory, answered from the replica held in memory
    (shared/geo.py's index of the grids' boundaries), checked for changes every `max_age`
    seconds or at once on a miss (shared/snapshot.py)."""

    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA, *,
                 max_age: float = 5.0) -> None:
        self.pool = pool
        self.schema = schema
        self._snapshot = Snapshot(pool, schema, TerritoryReplica.name, self._load,
                                  max_age=max_age)

    async def locate(self, lon: float, lat: float) -> Place | None:
        return await self._snapshot.ask(lambda territory: territory.grids.locate(lon, lat))

    async def street_of(self, community_id: str) -> str | None:
        return await self._snapshot.ask(lambda territory: territory.streets.get(community_id))

    async def _load(self) -> _Territory:
        grids = await self.pool.fetch(
            f"SELECT grid_id, community_id, street_id, boundary::text AS boundary "
            f"FROM {self.schema}.grids ORDER BY grid_id"
        )
        streets = await self.pool.fetch(
            f"SELECT community_id, street_id FROM {self.schema}.communities"
        )
        return _Territory(
            BoundaryIndex((Place(g["street_id"], g["community_id"], g["grid_id"]), g["boundary"])
                          for g in grids),
            {r["community_id"]: r["street_id"] for r in streets})


@dataclass(frozen=True)
class _Territory:
    grids: BoundaryIndex[Place]  # in grid id order: the lowest grid id wins a shared edge
    streets: dict[str, str]  # community_id -> street_id
