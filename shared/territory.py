"""A service's own copy of the territory, learnt from the grid service's events (the pattern:
subscribe, project, look up locally; no call to the grid service). Declared in a spec as
`consumes={"grid": [TerritoryReplica(schema)]}`, looked up through `TerritoryLookup`.

Every service that needs the territory uses this one (intake, enforcement, assessment)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

import asyncpg
import orjson

from shared.envelope import Envelope
from shared.geo import BoundaryIndex
from shared.projection import Statement
from shared.snapshot import Snapshot


class Located(NamedTuple):
    street_id: str
    community_id: str
    grid_id: str


P = TypeVar("P")  # what a lookup answers a place as (a service's own domain type, or Located)


class TerritoryReplica:
    """Projection of grid.* territory events: streets, communities, grids with boundaries."""

    name = "territory_replica"
    streams = ("street-", "community-", "grid-")  # not the cases on the same topic

    def __init__(self, schema: str) -> None:
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
            name_zh text NOT NULL, name_en text NOT NULL, boundary jsonb NOT NULL);
        -- replicas made before grids had their names here (intake's, before 2026-11-30)
        ALTER TABLE {s}.grids ADD COLUMN IF NOT EXISTS name_zh text NOT NULL DEFAULT '';
        ALTER TABLE {s}.grids ADD COLUMN IF NOT EXISTS name_en text NOT NULL DEFAULT '';
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
            yield (f"INSERT INTO {s}.grids (grid_id, community_id, street_id, name_zh, name_en, "
                   "boundary) VALUES ($1, $2, $3, $4, $5, $6::jsonb) "
                   "ON CONFLICT (grid_id) DO NOTHING",
                   (d["grid_id"], d["community_id"], d["street_id"], d["name_zh"],
                    d["name_en"], orjson.dumps(d["boundary"]).decode()))


class TerritoryLookup(Generic[P]):
    """Locating a point, knowing a street and a community's street, answered from the replica
    held in memory (shared/geo.py), checked for changes every `max_age` seconds or at once on
    a miss. `place` makes the answer of `locate` from (street_id, community_id, grid_id)."""

    def __init__(self, pool: asyncpg.Pool, schema: str, *,
                 place: Callable[[str, str, str], P] = Located, max_age: float = 5.0) -> None:
        self.pool = pool
        self.schema = schema
        self.place = place
        self._snapshot = Snapshot(pool, schema, TerritoryReplica.name, self._load,
                                  max_age=max_age)

    async def locate(self, lon: float, lat: float) -> P | None:
        return await self._snapshot.ask(lambda territory: territory.grids.locate(lon, lat))

    async def has_street(self, street_id: str) -> bool:
        return bool(await self._snapshot.ask(
            lambda territory: True if street_id in territory.streets else None))

    async def street_of(self, community_id: str) -> str | None:
        return await self._snapshot.ask(
            lambda territory: territory.communities.get(community_id))

    async def _load(self) -> _Territory[P]:
        grids = await self.pool.fetch(
            f"SELECT grid_id, community_id, street_id, boundary::text AS boundary "
            f"FROM {self.schema}.grids ORDER BY grid_id")
        streets = await self.pool.fetch(f"SELECT street_id FROM {self.schema}.streets")
        communities = await self.pool.fetch(
            f"SELECT community_id, street_id FROM {self.schema}.communities")
        return _Territory(
            BoundaryIndex((self.place(g["street_id"], g["community_id"], g["grid_id"]),
                           g["boundary"]) for g in grids),
            frozenset(r["street_id"] for r in streets),
            {r["community_id"]: r["street_id"] for r in communities})


@dataclass(frozen=True)
class _Territory(Generic[P]):
    grids: BoundaryIndex[P]  # in grid id order: the lowest grid id wins a shared edge
    streets: frozenset[str]
    communities: dict[str, str]  # community_id -> street_id
