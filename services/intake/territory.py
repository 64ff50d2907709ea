"""Intake's own copy of the territory, learnt from the grid service's events.

Intake never reads the grid service's database and makes no call to it when a resident
files: its Faust worker consumes `jiedao.grid` into these tables (the pattern every service
that needs another's facts follows: subscribe, project, look up locally).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import asyncpg
import numpy
import orjson
from shapely import intersects_xy, prepare
from shapely.geometry import shape

from services.intake.front_desk import Place
from shared.envelope import Envelope
from shared.projection import Statement

SCHEMA = "intake_view"


class TerritoryReplica:
    """Projection of grid.* events: communities and grids with their boundaries."""

    name = "territory_replica"

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
    """What the front desk asks of the territory, answered from the replica.

    The replica's grids are held in memory (an R-tree of their boundaries). Every `max_age`
    seconds, or at once when a lookup misses (a grid just drawn), one cheap query tells
    whether the replica changed; only then is it reloaded."""

    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA, *,
                 max_age: float = 5.0) -> None:
        self.pool = pool
        self.schema = schema
        self.max_age = max_age
        self._index: _Index | None = None
        self._version: int | None = None
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    async def locate(self, lon: float, lat: float) -> Place | None:
        return await self._ask(lambda index: index.locate(lon, lat))

    async def street_of(self, community_id: str) -> str | None:
        return await self._ask(lambda index: index.streets.get(community_id))

    async def _ask(self, question: Callable[[_Index], T | None]) -> T | None:
        index = await self._fresh(self.max_age)
        answer = question(index)
        if answer is None:
            answer = question(await self._fresh(MISS_RELOAD_AGE))
        return answer

    async def _fresh(self, max_age: float) -> _Index:
        if self._index is None or time.monotonic() - self._loaded_at > max_age:
            async with self._lock:
                if self._index is None or time.monotonic() - self._loaded_at > max_age:
                    version = await self._replica_version()
                    if self._index is None or version != self._version:
                        self._index, self._version = await self._load(), version
                    self._loaded_at = time.monotonic()
        return self._index

    async def _replica_version(self) -> int:
        """Grows whenever the replica applies an event (the projection's checkpoints)."""
        return await self.pool.fetchval(
            f"SELECT coalesce(sum(version), 0) FROM {self.schema}.checkpoints "
            "WHERE projection = $1", TerritoryReplica.name,
        )

    async def _load(self) -> _Index:
        grids = await self.pool.fetch(
            f"SELECT grid_id, community_id, street_id, boundary::text AS boundary "
            f"FROM {self.schema}.grids ORDER BY grid_id"
        )
        streets = await self.pool.fetch(
            f"SELECT community_id, street_id FROM {self.schema}.communities"
        )
        return _Index(grids, {r["community_id"]: r["street_id"] for r in streets})


MISS_RELOAD_AGE = 0.5  # a miss reloads the replica at most this often
T = TypeVar("T")


class _Index:
    """The grids' prepared boundaries, in grid id order. A point is tested against all of
    them in one vectorised call (bounding boxes first): ~10 µs for Chenghua's 165 grids,
    and no geometry object is made per point."""

    def __init__(self, grids: list[asyncpg.Record], streets: dict[str, str]) -> None:
        self.places = [Place(g["street_id"], g["community_id"], g["grid_id"]) for g in grids]
        self.shapes = numpy.array([shape(orjson.loads(g["boundary"])) for g in grids],
                                  dtype=object)
        prepare(self.shapes)
        self.streets = streets

    def locate(self, lon: float, lat: float) -> Place | None:
        """The grid whose boundary covers the point (the lowest grid id on a shared edge)."""
        hits = numpy.flatnonzero(intersects_xy(self.shapes, lon, lat))
        return self.places[hits[0]] if len(hits) else None
