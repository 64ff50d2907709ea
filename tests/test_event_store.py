"""The event store's contract, on a real PostgreSQL."""

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.envelope import GENESIS_HASH, NewEvent
from shared.errors import ConcurrencyConflict, IdempotencyMismatch, StaleRead, StoreUnavailable
from shared.store import ONE_STATEMENT_MAX_EVENTS, EventStore
from tests.test_follower import blocked


def events(n: int, **data) -> list[NewEvent]:
    return [NewEvent("test.thing.happened", {"n": i, **data}) for i in range(n)]


async def test_append_returns_positions_and_chains_the_stream(store):
    first = await store.append("s-1", 0, events(2))
    second = await store.append("s-1", 2, events(1))
    assert first.version == 2 and second.version == 3
    assert first.positions[0] < first.positions[1] < second.positions[0]
    stored = await store.read_stream("s-1")
    assert [e.stream_version for e in stored] == [1, 2, 3]
    assert stored[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert all(e.computed_hash() == e.hash for e in stored)


async def test_appends_flushed_together_get_positions_in_the_order_they_were_made(store):
    await store.append("w-0", 0, events(1))  # so that the next five queue behind one flush
    results = await asyncio.gather(
        *(store.append(f"w-{i}", 0 if i else 1, events(3, i=i)) for i in range(5)))
    positions = [p for result in results for p in result.positions]
    assert positions == sorted(positions) and len(set(positions)) == 15
    for i in range(5):
        stored = await store.read_stream(f"w-{i}")
        assert [e.data["i"] for e in stored[-3:]] == [i] * 3
        assert [e.stream_version for e in stored] == list(range(1, len(stored) + 1))
    rows = await store.pool.fetch(
        f"SELECT stream_version FROM {store.schema}.events WHERE stream_id = 'w-0' "
        "ORDER BY position")
    assert [r["stream_version"] for r in rows] == [1, 2, 3, 4]


async def test_two_writers_at_the_same_version_one_wins_one_conflicts(store):
    await store.append("s-1", 0, events(1))
    outcomes = await asyncio.gather(
        store.append("s-1", 1, events(1, who="a")),
        store.append("s-1", 1, events(1, who="b")),
        return_exceptions=True,
    )
    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1 and conflicts[0].actual == 2
    assert len(await store.read_stream("s-1")) == 2


async def test_a_retried_append_is_stored_once_with_its_first_positions(store):
    batch = events(3)
    first = await store.append("s-1", 0, batch)
    retry = await store.append("s-1", 0, batch)
    assert retry.positions == first.positions and retry.replayed
    assert len(await store.read_stream("s-1")) == 3


async def test_a_retried_append_at_any_version_is_stored_once(store):
    batch = events(2)
    first = await store.append("s-1", None, batch)
    await store.append("s-1", 2, events(1))
    retry = await store.append("s-1", None, batch)
    assert retry.replayed and retry.positions == first.positions
    assert len(await store.read_stream("s-1")) == 3


async def test_reusing_some_event_ids_is_refused(store):
    batch = events(2)
    await store.append("s-1", 0, batch[:1])
    with pytest.raises(IdempotencyMismatch):
        await store.append("s-1", 1, batch)


async def test_read_stream_up_to_a_version_or_a_time(store):
    await store.append("s-1", 0, events(3))
    assert [e.stream_version for e in await store.read_stream("s-1", up_to_version=2)] == [1, 2]
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await store.append("s-1", 3, events(1))
    assert len(await store.read_stream("s-1", up_to_time=cut)) == 3


async def test_append_with_any_version_and_empty_append(store):
    await store.append("s-1", None, events(1))
    assert (await store.append("s-1", None, events(1))).version == 2
    with pytest.raises(ValueError):
        await store.append("s-1", None, [])


async def test_event_data_and_envelope_survive_the_round_trip(store):
    event = NewEvent("test.thing.happened", {"名称": "建设路街道", "n": 1.5, "list": [1, None]})
    await store.append("s-1", 0, [event])
    (stored,) = await store.read_stream("s-1")
    assert stored.data == event.data and stored.id == event.id
    assert stored.correlation_id == event.id and stored.source == "test"


async def test_an_event_id_used_in_another_stream_fails_only_that_append(store):
    taken = events(1)
    await store.append("s-1", 0, taken)
    outcomes = await asyncio.gather(
        store.append("s-2", 0, taken),
        store.append("s-3", 0, events(1)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], IdempotencyMismatch)
    assert outcomes[1].version == 1
    assert len(await store.read_stream("s-3")) == 1


async def test_an_append_that_read_another_stream_fails_if_that_stream_moved(store):
    await store.append("matter-1", 0, events(2))
    ok = await store.append("app-1", 0, events(1), read={"matter-1": 2, "nothing-yet": 0})
    assert ok.version == 1
    await store.append("matter-1", 2, events(1))
    with pytest.raises(StaleRead) as stale:
        await store.append("app-2", 0, events(1), read={"matter-1": 2})
    assert stale.value.moved == {"matter-1": 3}
    assert await store.read_stream("app-2") == []


async def test_a_read_stream_written_earlier_in_the_same_flush_counts_as_moved(store):
    await store.append("matter-1", 0, events(1))
    writes = [store.append("matter-1", 1, events(1)),
              store.append("app-1", 0, events(1), read={"matter-1": 1})]
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert outcomes[0].version == 2
    assert isinstance(outcomes[1], StaleRead)


class LosesTheCommitAnswer(EventStore):
    """The transaction commits, and the connection dies before the answer reaches us."""

    async def _commit(self, batch):
        await super()._commit(batch)
        raise asyncpg.ConnectionDoesNotExistError("connection lost while committing")


class DiesBeforeCommit(EventStore):
    """The server ends the connection after the rows are written, before COMMIT."""

    async def _insert(self, con, envelopes, heads):
        positions = await super()._insert(con, envelopes, heads)
        await self.pool.execute("SELECT pg_terminate_backend($1)", con.get_server_pid())
        return positions


async def test_an_append_whose_commit_answer_was_lost_reports_that_it_was_stored(pg_pool, store):
    lossy = LosesTheCommitAnswer(pg_pool, store.schema, "test")
    appended = events(2)
    result = await lossy.append("s", 0, appended)
    assert result.version == 2 and not result.replayed
    again = await store.append("s", 0, appended)  # the caller's retry
    assert again.replayed and again.positions == result.positions
    assert len(await store.read_stream("s")) == 2
    await lossy.close()


async def test_an_append_lost_before_commit_is_unavailable_and_its_retry_stores_it_once(
    pg_pool, store
):
    dying = DiesBeforeCommit(pg_pool, store.schema, "test")
    appended = events(2)
    with pytest.raises(StoreUnavailable):
        await dying.append("s", None, appended)  # any version: the general path, its steps
    assert await store.read_stream("s") == []
    result = await store.append("s", 0, appended)
    assert result.version == 2 and not result.replayed
    await dying.close()


class CountingStore(EventStore):
    """Counts the flushes that took the general path (it locks the heads first)."""

    general = 0

    async def _lock_heads(self, con, batch):
        self.general += 1
        return await super()._lock_heads(con, batch)


async def test_a_flush_that_only_creates_streams_is_one_statement_chained_from_genesis(
        pg_pool, schema):
    store = CountingStore(pg_pool, schema, "test")
    await store.setup()
    await store.append("matter", 0, events(1))
    results = await asyncio.gather(*(store.append(f"new-{n}", 0, events(n + 1),
                                                  read={"matter": 1}) for n in range(3)))
    assert store.general == 0
    assert [r.version for r in results] == [1, 2, 3]
    positions = [p for r in results for p in r.positions]
    assert positions == sorted(positions) and len(set(positions)) == 6
    for n in range(3):
        stream = await store.read_stream(f"new-{n}")
        assert stream[0].prev_hash == GENESIS_HASH
        assert all(e.prev_hash == before.hash
                   for before, e in zip(stream, stream[1:], strict=False))
        assert all(e.hash == e.computed_hash() for e in stream)
    await store.close()


async def test_a_big_flush_of_new_streams_takes_the_copy_of_the_general_path(pg_pool, schema):
    store = CountingStore(pg_pool, schema, "test")
    await store.setup()
    result = await store.append("big", 0, events(ONE_STATEMENT_MAX_EVENTS + 1))
    assert store.general == 1 and result.version == ONE_STATEMENT_MAX_EVENTS + 1
    await store.close()


async def test_when_the_one_statement_refuses_nothing_is_written_and_each_append_is_judged(
        pg_pool, schema):
    """A stream that exists, or a stream read that moved, makes the statement refuse; the
    general path then decides each append of the flush on its own."""
    store = CountingStore(pg_pool, schema, "test")
    await store.setup()
    await store.append("taken", 0, events(1))
    await store.append("matter", 0, events(2))
    fresh, taken, stale = await asyncio.gather(
        store.append("fresh", 0, events(1)), store.append("taken", 0, events(1)),
        store.append("late", 0, events(1), read={"matter": 1}), return_exceptions=True)
    assert store.general == 1
    assert fresh.version == 1
    assert isinstance(taken, ConcurrencyConflict) and isinstance(stale, StaleRead)
    assert await store.read_stream("late") == [] and len(await store.read_stream("taken")) == 1
    await store.close()


async def test_a_connection_lost_inside_the_one_statement_append_stores_nothing_and_a_retry_once(
        pg_pool, store):
    await store.append("matter", 0, events(1))
    appended = events(2)
    async with pg_pool.acquire() as locker, locker.transaction():
        await locker.execute(  # holds the statement after its heads, before its positions
            f"SELECT 1 FROM {store.schema}.streams WHERE stream_id = 'matter' FOR UPDATE")
        appending = asyncio.create_task(store.append("s", 0, appended, read={"matter": 1}))
        [pid] = await blocked(pg_pool, "append_to_new_streams", 1)
        await pg_pool.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(StoreUnavailable):
            await appending
    assert await store.read_stream("s") == []
    result = await store.append("s", 0, appended, read={"matter": 1})
    assert result.version == 2 and not result.replayed
    assert len(await store.read_stream("s")) == 2


@pytest.fixture
async def lingering(pg_pool, schema):
    store = EventStore(pg_pool, schema, "test", linger=1.0)
    await store.setup()
    yield store
    await store.close()


async def transactions_of(store: EventStore, *streams: str) -> list[int]:
    """The transaction that wrote each stream's events (`xmin`), in the order given."""
    rows = await store.pool.fetch(f"SELECT stream_id, xmin::text::bigint AS tx FROM "
                                  f"{store.schema}.events WHERE stream_id = ANY($1::text[])",
                                  list(streams))
    found = {r["stream_id"]: r["tx"] for r in rows}
    return [found[s] for s in streams]


async def test_appends_that_arrive_while_a_flush_is_in_flight_wait_for_more_to_share_one(
        lingering, pg_pool):
    await lingering.append("a", 0, events(1))
    async with pg_pool.acquire() as con, con.transaction():  # holds a's flush in flight
        await con.execute(f"SELECT 1 FROM {lingering.schema}.streams WHERE stream_id = 'a' "
                          "FOR UPDATE")
        held = asyncio.create_task(lingering.append("a", 1, events(1)))
        await asyncio.sleep(0.1)
        b = asyncio.create_task(lingering.append("b", 0, events(1)))  # arrives meanwhile
        await asyncio.sleep(0.1)
    await held
    await asyncio.sleep(0.1)  # b's flush is lingering now: c and d join it
    await asyncio.gather(b, lingering.append("c", 0, events(1)),
                         lingering.append("d", 0, events(2)))
    a, b_tx, c, d = await transactions_of(lingering, "a", "b", "c", "d")
    assert b_tx == c == d != a


async def test_a_lone_writer_never_waits_for_company(lingering):
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(3):  # each appended after the last was answered: nothing came meanwhile
        await lingering.append("alone", i, events(1))
    assert loop.time() - started < 1.0  # the linger, which no append paid
