"""A read model applies each event once, however often Kafka or Faust delivers it."""

import pytest

from services.grid.events import HouseholdsRecounted, registry
from services.grid.projections import TerritoryProjection
from shared import projection
from shared.envelope import GENESIS_HASH, seal


def recount(version: int, households: int):
    event = HouseholdsRecounted(grid_id="g1", community_id="c1", street_id="s1",
                                households=households, previous=households - 1)
    return seal(registry.to_new_event(event), source="grid", stream_id="grid-g1",
                stream_version=version, prev_hash=GENESIS_HASH)


@pytest.fixture
async def view(pg_pool, schema):
    p = TerritoryProjection(schema)
    await projection.setup(pg_pool, p)
    await pg_pool.execute(
        f"INSERT INTO {schema}.grids VALUES ('g1', 'c1', 's1', '网格', 'Grid', 300, "
        "'{}'::jsonb, true, NULL, 0, 0, 1, 1)"
    )
    return p


async def households(pg_pool, schema) -> int:
    return await pg_pool.fetchval(f"SELECT households FROM {schema}.grids WHERE grid_id = 'g1'")


async def test_a_redelivered_batch_changes_nothing(pg_pool, schema, view):
    batch = [recount(1, 310), recount(2, 320)]
    assert await projection.project(pg_pool, view, batch) == 2
    assert await projection.project(pg_pool, view, batch) == 0
    assert await households(pg_pool, schema) == 320


async def test_an_old_event_redelivered_after_a_newer_one_is_skipped(pg_pool, schema, view):
    await projection.project(pg_pool, view, [recount(1, 310), recount(2, 320)])
    assert await projection.project(pg_pool, view, [recount(1, 310), recount(3, 330)]) == 1
    assert await households(pg_pool, schema) == 330
