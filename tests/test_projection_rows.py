"""Set-based writes (`shared.projection.Rows`): a run of rows with the same SQL is one
execution with one array per column, never two rows of one key in it; and optimistic
checkpoints: two appliers of the same events apply each exactly once, the loser retrying."""

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from services.grid import events as grid
from shared import projection
from shared.db import transient
from shared.envelope import Envelope
from shared.errors import CheckpointMoved
from shared.projection import Rows, Run, Write
from tests.test_projection import sealed

PLACE = {"street_id": "s1", "community_id": "c1", "grid_id": "g1"}
ADD = "UPDATE {s}.tally AS t SET n = t.n + v.n FROM unnest($1::text[], $2::int[]) AS v(k, n) " \
      "WHERE t.k = v.k"


def event(stream_id: str, version: int, households: int = 1) -> Envelope:
    return sealed(grid.registry, grid.HouseholdsRecounted(**PLACE, households=households,
                                                          previous=0), stream_id, version)


def test_rows_with_the_same_sql_are_one_run_with_each_key_at_most_once():
    writes = [Rows("U", ("a", 1), "a"), Rows("U", ("b", 2), "b"), Rows("U", ("a", 3), "a"),
              ("U", ("c",)), Rows("I", ("d",), "d")]
    assert projection.runs(writes) == [
        Run("U", [("a", 1), ("b", 2)], arrays=True), Run("U", [("a", 3)], arrays=True),
        Run("U", [("c",)]), Run("I", [("d",)], arrays=True),
    ]


def test_rows_across_streams_take_one_row_per_key_and_keep_each_streams_order():
    writes = [(event("a", 1), [Rows("E", ("a1",), "a1"), Rows("U", ("a", 1), "a")]),
              (event("a", 2), [Rows("U", ("a", 2), "a")]),
              (event("b", 1), [Rows("E", ("b1",), "b1"), Rows("U", ("b", 1), "b")])]
    assert projection.stream_runs(writes) == [
        Run("E", [("a1",), ("b1",)], arrays=True),
        Run("U", [("a", 1), ("b", 1)], arrays=True),  # a's second change waits for the next
        Run("U", [("a", 2)], arrays=True),
    ]


class Tally:
    """Each event adds its households to its stream's counter (set-based), and logs itself."""

    name = "tally"
    streams = ()

    def __init__(self, schema: str, *, independent: bool, gate: bool = False) -> None:
        self.schema, self.independent_streams, self.gate = schema, independent, gate

    def ddl(self) -> str:
        return (f"CREATE TABLE IF NOT EXISTS {self.schema}.tally (k text PRIMARY KEY, n int);"
                f"CREATE TABLE IF NOT EXISTS {self.schema}.applied (event_id uuid, k text);")

    def tables(self) -> list[str]:
        return ["tally", "applied"]

    def statements(self, e: Envelope) -> Iterator[Write]:
        s = self.schema
        if self.gate:  # waits while the test holds the gate (a slow applier)
            yield ("SELECT pg_advisory_xact_lock_shared(7001)", ())
        yield Rows(f"INSERT INTO {s}.applied SELECT * FROM unnest($1::uuid[], $2::text[])",
                   (e.id, e.stream_id), str(e.id))
        yield Rows(f"INSERT INTO {s}.tally SELECT * FROM unnest($1::text[], $2::int[]) "
                   "ON CONFLICT (k) DO NOTHING", (e.stream_id, 0), e.stream_id)
        yield Rows(ADD.format(s=s), (e.stream_id, e.data["households"]), e.stream_id)


@pytest.mark.parametrize("independent", [True, False])
async def test_a_batch_of_rows_lands_every_row_even_two_changes_of_one_key(pg_pool, schema,
                                                                          independent):
    tally = Tally(schema, independent=independent)
    await projection.setup(pg_pool, tally)
    batch = [event("a", 1, 1), event("b", 1, 10), event("a", 2, 2), event("a", 3, 4),
             event("b", 2, 20)]
    assert await projection.project(pg_pool, tally, batch) == 5
    assert await projection.project(pg_pool, tally, batch) == 0  # redelivered
    rows = await pg_pool.fetch(f"SELECT k, n FROM {schema}.tally ORDER BY k")
    assert [tuple(r) for r in rows] == [("a", 7), ("b", 30)]
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.applied") == 5


async def overtaken(pg_pool: asyncpg.Pool, schema: str, batch: list[Envelope]) -> None:
    """A slow applier reads the checkpoints and writes; a fast one applies the same batch
    and commits meanwhile; the slow one must lose, retry, and then skip it all."""
    slow, fast = Tally(schema, independent=True, gate=True), Tally(schema, independent=True)
    async with pg_pool.acquire() as gate, pg_pool.acquire() as a, pg_pool.acquire() as b:
        await gate.execute("SELECT pg_advisory_lock(7001)")
        losing = asyncio.create_task(projection.apply(a, slow, batch))
        async with asyncio.timeout(10):  # until the slow one waits at the gate
            while not await gate.fetchval("SELECT count(*) FROM pg_locks WHERE "
                                          "locktype = 'advisory' AND NOT granted"):
                await asyncio.sleep(0.01)
        assert await projection.apply(b, fast, batch) == len(batch)
        await gate.execute("SELECT pg_advisory_unlock(7001)")
        with pytest.raises(CheckpointMoved) as lost:
            await losing
        assert transient(lost.value)  # so the worker's loop applies the batch again
        assert await projection.apply(a, slow, batch) == 0


async def test_two_appliers_of_a_new_stream_apply_each_event_once(pg_pool, schema):
    await projection.setup(pg_pool, Tally(schema, independent=True))
    await overtaken(pg_pool, schema, [event("a", 1, 1), event("a", 2, 2)])
    assert await pg_pool.fetchval(f"SELECT n FROM {schema}.tally WHERE k = 'a'") == 3
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.applied") == 2
    assert await pg_pool.fetchval(f"SELECT version FROM {schema}.checkpoints") == 2


async def test_two_appliers_of_an_existing_stream_apply_each_event_once(pg_pool, schema):
    await projection.setup(pg_pool, Tally(schema, independent=True))
    assert await projection.project(pg_pool, Tally(schema, independent=True),
                                    [event("a", 1, 1)]) == 1
    await overtaken(pg_pool, schema, [event("a", 2, 2), event("a", 3, 4)])
    assert await pg_pool.fetchval(f"SELECT n FROM {schema}.tally WHERE k = 'a'") == 7
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.applied") == 3
    assert await pg_pool.fetchval(f"SELECT version FROM {schema}.checkpoints") == 3
