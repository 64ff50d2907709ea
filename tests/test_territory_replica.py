"""The one territory replica every service keeps of the grid's events (shared/territory.py)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import projection
from shared.territory import Located, TerritoryLookup, TerritoryReplica
from tests.case_board import envelope
from tests.platform import SQUARE

EVENTS = [
    envelope("grid.street.registered", "street-s1",
             {"street_id": "s1", "name_zh": "猛追湾街道", "name_en": "Mengzhuiwan Street"}),
    envelope("grid.community.registered", "community-s1.c1",
             {"community_id": "s1.c1", "street_id": "s1", "name_zh": "社区", "name_en": "C"}),
    envelope("grid.grid.drawn", "grid-s1.c1.g1",
             {"grid_id": "s1.c1.g1", "community_id": "s1.c1", "street_id": "s1",
              "name_zh": "第1网格", "name_en": "Grid 1", "boundary": SQUARE}),
]


@dataclass(frozen=True)
class Where:  # a service's own domain type for a place
    street_id: str
    community_id: str
    grid_id: str


async def test_the_lookup_locates_knows_streets_and_answers_in_the_services_type(
        pg_pool, schema) -> None:
    replica = TerritoryReplica(schema)
    await projection.setup(pg_pool, replica)
    await projection.project(pg_pool, replica, EVENTS)
    located = TerritoryLookup(pg_pool, schema)
    assert await located.locate(104.105, 30.605) == Located("s1", "s1.c1", "s1.c1.g1")
    assert await located.locate(105.0, 31.0) is None
    where = TerritoryLookup(pg_pool, schema, place=Where)
    assert await where.locate(104.105, 30.605) == Where("s1", "s1.c1", "s1.c1.g1")
    assert await where.street_of("s1.c1") == "s1"
    assert await where.street_of("s9.c1") is None
    assert await where.has_street("s1") and not await where.has_street("s9")


async def test_a_replica_made_before_grids_had_names_is_upgraded_in_place(
        pg_pool, schema) -> None:
    await pg_pool.execute(f"""
        CREATE TABLE {schema}.grids (grid_id text PRIMARY KEY, community_id text NOT NULL,
            street_id text NOT NULL, boundary jsonb NOT NULL);
        INSERT INTO {schema}.grids VALUES ('old', 's0.c0', 's0', '{{}}'::jsonb)""")
    replica = TerritoryReplica(schema)
    await projection.setup(pg_pool, replica)
    await projection.project(pg_pool, replica, EVENTS)
    names = await pg_pool.fetch(
        f"SELECT grid_id, name_zh, name_en FROM {schema}.grids ORDER BY grid_id")
    assert [tuple(r) for r in names] == [("old", "", ""), ("s1.c1.g1", "第1网格", "Grid 1")]
