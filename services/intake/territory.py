"""Intake's own copy of the territory, learnt from the grid service's events.

Intake never reads the grid service's database and makes no call to it when a resident
files: its Faust worker consumes `jiedao.grid` into these tables (the pattern every service
that needs another's facts follows: subscribe, project, look up locally).
"""

from __future__ import annotations

import asyncpg
import orjson

from services.intake.front_desk import Place
from shared.envelope import Envelope
from shared.geo import BBOX_COLUMNS, bounds, find_containing

SCHEMA = "intake_view"


class TerritoryReplica:
    """Projection of grid.* events: communities and grids with their boundaries."""

    name = "territory_replica"

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["communities", "grids"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.communities (
            community_id text PRIMARY KEY, street_id text NOT NULL, name_zh text NOT NULL,
            name_en text NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.grids (
            grid_id text PRIMARY KEY, community_id text NOT NULL, street_id text NOT NULL,
            boundary jsonb NOT NULL, {BBOX_COLUMNS});
        """

    async def apply(self, con: asyncpg.Connection, event: Envelope) -> None:
        s, d = self.schema, event.data
        if event.type == "grid.community.registered":
            await con.execute(
                f"INSERT INTO {s}.communities VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (community_id) DO NOTHING",
                d["community_id"], d["street_id"], d["name_zh"], d["name_en"],
            )
        elif event.type == "grid.grid.drawn":
            await con.execute(
                f"INSERT INTO {s}.grids VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8) "
                "ON CONFLICT (grid_id) DO NOTHING",
                d["grid_id"], d["community_id"], d["street_id"],
                orjson.dumps(d["boundary"]).decode(), *bounds(d["boundary"]),
            )


class TerritoryLookup:
    """What the front desk asks of the territory, answered from the replica."""

    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
        self.pool = pool
        self.schema = schema

    async def locate(self, lon: float, lat: float) -> Place | None:
        row = await find_containing(
            self.pool, f"{self.schema}.grids", "grid_id, community_id, street_id", lon, lat
        )
        return Place(row["street_id"], row["community_id"], row["grid_id"]) if row else None

    async def street_of(self, community_id: str) -> str | None:
        return await self.pool.fetchval(
            f"SELECT street_id FROM {self.schema}.communities WHERE community_id = $1",
            community_id,
        )
