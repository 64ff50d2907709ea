"""The one geometry path (shared/geo.py, pure) and the snapshot that keeps it in step with
its read model (shared/snapshot.py, on the real PostgreSQL)."""

import asyncio

import asyncpg
import orjson

from shared.geo import BoundaryIndex
from shared.snapshot import MISS_RELOAD_AGE, Snapshot


def square(x: float, y: float, size: float = 1.0) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


WITH_HOLE = {"type": "Polygon", "coordinates": [
    [[10, 10], [14, 10], [14, 14], [10, 14], [10, 10]],
    [[11, 11], [13, 11], [13, 13], [11, 13], [11, 11]],
]}


def test_a_point_inside_a_boundary_is_located_in_it_and_one_outside_in_none():
    index = BoundaryIndex([("a", square(0, 0)), ("b", square(5, 5))])
    assert index.locate(0.5, 0.5) == "a"
    assert index.locate(5.5, 5.9) == "b"
    assert index.locate(3, 3) is None


def test_a_point_on_an_edge_shared_by_two_boundaries_is_located_in_the_first_given():
    index = BoundaryIndex([("a", square(0, 0)), ("b", square(1, 0))])
    assert index.locate(1.0, 0.5) == "a"
    assert BoundaryIndex([("b", square(1, 0)), ("a", square(0, 0))]).locate(1.0, 0.5) == "b"
    assert index.locate(0.0, 0.0) == "a"  # a corner is covered too


def test_a_point_in_a_hole_is_not_in_the_boundary():
    index = BoundaryIndex([("ring", WITH_HOLE)])
    assert index.locate(10.5, 12) == "ring"
    assert index.locate(12, 12) is None


def test_boundaries_given_as_json_text_locate_like_dicts_and_an_empty_index_locates_nothing():
    index = BoundaryIndex([("a", orjson.dumps(square(0, 0)).decode())])
    assert len(index) == 1 and index.locate(0.25, 0.75) == "a"
    assert BoundaryIndex([]).locate(0.5, 0.5) is None


async def test_a_snapshot_reloads_only_when_its_projection_has_applied_events(pg_pool, schema):
    await pg_pool.execute(
        f"CREATE TABLE {schema}.checkpoints (projection text, stream_id text, version int)")
    loads: list[int] = []

    async def load() -> BoundaryIndex[str]:
        loads.append(1)
        rows = await pg_pool.fetch(f"SELECT stream_id FROM {schema}.checkpoints "
                                   "WHERE projection = 'p' ORDER BY stream_id")
        return BoundaryIndex([(r["stream_id"], square(i * 2, 0)) for i, r in enumerate(rows)])

    snapshot = Snapshot(pg_pool, schema, "p", load, max_age=0)
    assert await snapshot.ask(lambda index: index.locate(0.5, 0.5)) is None
    assert len(loads) == 1  # a miss just after a load does not load again
    await set_checkpoint(pg_pool, schema, "other", 1)  # another projection's events
    assert await snapshot.ask(lambda index: index.locate(0.5, 0.5)) is None
    assert len(loads) == 1
    await set_checkpoint(pg_pool, schema, "p", 1)
    assert await snapshot.ask(lambda index: index.locate(0.5, 0.5)) == "g1"
    assert len(loads) == 2


async def test_a_snapshot_answers_from_memory_until_its_max_age_or_a_miss(pg_pool, schema):
    await pg_pool.execute(
        f"CREATE TABLE {schema}.checkpoints (projection text, stream_id text, version int)")
    await set_checkpoint(pg_pool, schema, "p", 1)
    loads: list[int] = []

    async def load() -> dict[str, int]:
        loads.append(1)
        rows = await pg_pool.fetch(f"SELECT stream_id, version FROM {schema}.checkpoints")
        return {r["stream_id"]: r["version"] for r in rows}

    snapshot = Snapshot(pg_pool, schema, "p", load, max_age=60)
    assert await snapshot.ask(lambda known: known.get("g1")) == 1
    await set_checkpoint(pg_pool, schema, "p", 2)
    assert await snapshot.ask(lambda known: known.get("g1")) == 1  # still fresh enough
    assert len(loads) == 1
    await asyncio.sleep(MISS_RELOAD_AGE)  # a miss reloads a snapshot at least this old
    assert await snapshot.ask(lambda known: known.get("g2")) == 2
    assert len(loads) == 2


async def set_checkpoint(pool: asyncpg.Pool, schema: str, projection: str, version: int):
    await pool.execute(f"INSERT INTO {schema}.checkpoints VALUES ($1, $2, $3)",
                       projection, f"g{version}", version)
