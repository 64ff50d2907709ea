"""One bad event never stops a read model: it becomes a dead letter, the rest of its batch
applies, its stream's later versions wait behind it, and a retry after a fix applies them in
order. A stream is never applied over a missing version. On real PostgreSQL."""

import asyncio
import itertools

import asyncpg
import pytest
from asyncpg.exceptions._base import DataError as ArgumentError

from shared import deadletters, projection
from shared.db import transient
from shared.envelope import GENESIS_HASH, NewEvent, seal
from shared.store import EventStore
from shared.streams import ReadModelDatabase, until_applied


class Notes:
    """A test read model: one row per applied event (so an event applied twice shows), and
    `fixed` plays the fix a developer ships for events it could not hold."""

    name = "notes"

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.fixed = False

    def tables(self) -> list[str]:
        return ["notes"]

    def ddl(self) -> str:
        return (f"CREATE TABLE IF NOT EXISTS {self.schema}.notes (seq bigserial, "
                "stream_id text NOT NULL, version int NOT NULL, "
                "text text NOT NULL CHECK (text NOT LIKE 'broken%'))")

    def statements(self, event):
        text = event.data["text"]  # a KeyError: a projection that cannot read the event
        if self.fixed:
            text = text.replace("broken", "mended")
        yield (f"INSERT INTO {self.schema}.notes (stream_id, version, text) VALUES ($1, $2, $3)",
               (event.stream_id, event.stream_version, text))


POSITIONS = itertools.count(1)


def note(stream_id: str, version: int, text: str = "fine"):
    return delivered(stream_id, version, {"text": text})


def without_text(stream_id: str, version: int):
    return delivered(stream_id, version, {})


def delivered(stream_id: str, version: int, data: dict):
    """An event as a worker receives it (with its store position)."""
    event = seal(NewEvent(type="test.note", data=data), source="test", stream_id=stream_id,
                 stream_version=version, prev_hash=GENESIS_HASH)
    event.position = next(POSITIONS)
    return event


@pytest.fixture
async def notes(pg_pool, schema):
    p = Notes(schema)
    await projection.setup(pg_pool, p)
    return p


async def applied(pg_pool, schema) -> list[tuple[str, int]]:
    rows = await pg_pool.fetch(f"SELECT stream_id, version FROM {schema}.notes ORDER BY seq")
    return [(r["stream_id"], r["version"]) for r in rows]


async def letters(pg_pool, notes) -> list[tuple[str, int, str]]:
    rows = await deadletters.listing(pg_pool, notes.schema, notes.name)
    return sorted((r["stream_id"], r["version"], r["reason"]) for r in rows)


POISON = "broken text"  # the read model refuses it (a CHECK): CheckViolationError


async def test_poison_event_is_dead_lettered_and_others_still_apply(pg_pool, schema, notes):
    batch = [note("a", 1), note("b", 1, POISON), note("a", 2), note("b", 2), note("c", 1)]
    assert await projection.project(pg_pool, notes, batch) == 3
    assert await applied(pg_pool, schema) == [("a", 1), ("a", 2), ("c", 1)]
    assert await letters(pg_pool, notes) == [("b", 1, "failed"), ("b", 2, "held")]
    [failed] = [r for r in await deadletters.listing(pg_pool, schema, "notes")
                if r["reason"] == "failed"]
    assert failed["error"].startswith("CheckViolationError")
    assert failed["type"] == "test.note" and failed["event_id"] == str(batch[1].id)


async def test_a_redelivered_poison_event_keeps_its_dead_letter_and_first_error(
        pg_pool, schema, notes):
    batch = [note("b", 1, POISON), note("b", 2)]
    await projection.project(pg_pool, notes, batch)
    await projection.project(pg_pool, notes, batch)  # delivered again (a rebalance)
    assert await letters(pg_pool, notes) == [("b", 1, "failed"), ("b", 2, "held")]
    [failed] = [r for r in await deadletters.listing(pg_pool, schema, "notes")
                if r["version"] == 1]
    assert failed["error"].startswith("CheckViolationError")  # not "held behind ..." itself


async def test_a_held_stream_waits_and_a_retry_after_the_fix_applies_it_in_order(
        pg_pool, schema, notes):
    first = [note("a", 1), note("b", 1, POISON), note("b", 2)]
    await projection.project(pg_pool, notes, first)
    assert await projection.project(pg_pool, notes, [note("b", 3), note("a", 2)]) == 1
    assert await letters(pg_pool, notes) == [("b", 1, "failed"), ("b", 2, "held"),
                                             ("b", 3, "held")]
    [still] = await projection.retry(pg_pool, notes)  # not fixed yet: all stay
    assert still.applied == 0 and len(still.still_dead) == 3
    notes.fixed = True
    [done] = await projection.retry(pg_pool, notes)
    assert (done.stream_id, done.applied, done.still_dead) == ("b", 3, [])
    assert await applied(pg_pool, schema) == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3)]
    assert await letters(pg_pool, notes) == []
    # Kafka delivers the first batch again after the retry: nothing is applied twice.
    assert await projection.project(pg_pool, notes, first) == 0
    assert await projection.project(pg_pool, notes, [note("b", 4)]) == 1
    assert len(await applied(pg_pool, schema)) == 6 and await letters(pg_pool, notes) == []


async def test_retry_of_named_events_retries_only_their_streams(pg_pool, schema, notes):
    batch = [note("a", 1, POISON), note("b", 1, POISON)]
    await projection.project(pg_pool, notes, batch)
    notes.fixed = True
    [done] = await projection.retry(pg_pool, notes, event_ids=[str(batch[1].id)])
    assert done.stream_id == "b" and done.applied == 1
    assert await letters(pg_pool, notes) == [("a", 1, "failed")]


async def test_an_event_the_projection_cannot_read_is_dead_lettered(pg_pool, schema, notes):
    batch = [without_text("a", 1), note("a", 2), note("b", 1)]
    assert await projection.project(pg_pool, notes, batch) == 1
    assert await letters(pg_pool, notes) == [("a", 1, "failed"), ("a", 2, "held")]
    [row, _] = await deadletters.listing(pg_pool, schema, "notes")
    assert row["error"] == "KeyError: 'text'"


async def test_a_gap_in_an_own_store_projection_is_filled_from_the_store(pg_pool, schema,
                                                                         notes, store):
    await store.append("x", 0, [NewEvent(type="test.note", data={"text": f"v{v}"})
                                for v in (1, 2, 3, 4)])
    v1, v2, v3, v4 = await store.read_stream("x")
    assert await projection.project(pg_pool, notes, [v1], store=store) == 1
    # v2 and v3 were lost on the way: v4 arrives next.
    assert await projection.project(pg_pool, notes, [v4, v2], store=store) == 3
    assert await applied(pg_pool, schema) == [("x", 1), ("x", 2), ("x", 3), ("x", 4)]
    assert await letters(pg_pool, notes) == []


async def test_a_gap_in_a_foreign_projection_is_held_and_reported(pg_pool, schema, notes):
    assert await projection.project(pg_pool, notes, [note("x", 1), note("x", 3)]) == 1
    assert await projection.project(pg_pool, notes, [note("x", 4)]) == 0
    rows = await deadletters.listing(pg_pool, schema, "notes")
    assert [(r["version"], r["reason"]) for r in rows] == [(3, "gap"), (4, "held")]
    assert "v2..v2 of x never arrived" in rows[0]["error"]
    # The missing version turns up (a late redelivery): a retry applies all three in order.
    await projection.project(pg_pool, notes, [note("x", 2)])
    [done] = await projection.retry(pg_pool, notes)
    assert done.applied == 3 and done.still_dead == []
    assert await applied(pg_pool, schema) == [("x", 1), ("x", 2), ("x", 3), ("x", 4)]


async def test_a_message_that_is_not_an_event_is_dead_lettered(pg_pool, schema, notes):
    letter = deadletters.of_message("topic[0]@7", [("ce_id", b"\xff")], b"{", "ValueError: no")
    async with pg_pool.acquire() as con:
        await deadletters.record(con, schema, "notes", [letter])
    [row] = await deadletters.listing(pg_pool, schema, "notes")
    assert (row["event_id"], row["reason"], row["stream_id"]) == ("topic[0]@7", "malformed",
                                                                  None)
    assert await projection.retry(pg_pool, notes) == []  # nothing there to apply


def test_only_failures_a_retry_can_cure_count_as_transient():
    assert transient(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert transient(asyncpg.exceptions.SerializationError("serialization"))
    assert transient(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert transient(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert transient(ConnectionRefusedError())
    assert transient(asyncpg.InterfaceError("pool is closed"))
    assert not transient(asyncpg.exceptions.CharacterNotInRepertoireError("0x00"))
    assert not transient(asyncpg.exceptions.CheckViolationError("check"))
    assert not transient(ArgumentError("invalid input for query argument $1"))
    assert not transient(KeyError("text"))


async def test_a_rebuild_and_a_worker_applying_at_once_apply_each_event_once(
        pg_pool, schema, notes, store):
    for stream in range(40):
        await store.append(f"s{stream}", 0, [NewEvent(type="test.note", data={"text": "t"})
                                            for _ in range(25)])
    events = [e for s in range(40) for e in await store.read_stream(f"s{s}")]
    await projection.project(pg_pool, notes, events[:300], store=store)

    async def worker() -> None:  # Kafka redelivering everything in batches meanwhile
        for start in range(0, len(events), 50):
            await projection.project(pg_pool, notes, events[start:start + 50], store=store)
            await asyncio.sleep(0)

    counted: list[int] = []
    await asyncio.gather(projection.rebuild(pg_pool, notes, store, progress=counted.append),
                         worker(), worker())
    rows = await applied(pg_pool, schema)
    assert sorted(rows) == sorted((e.stream_id, e.stream_version) for e in events)
    assert counted and counted[-1] == len(events)


async def test_a_worker_batch_waits_for_a_rebuild_holding_the_lock(pg_pool, schema, notes,
                                                                   store: EventStore):
    async with pg_pool.acquire() as con:
        await con.execute("SELECT pg_advisory_lock(hashtext($1))", projection.lock_key(notes))
        batch = asyncio.create_task(projection.project(pg_pool, notes, [note("a", 1)]))
        await asyncio.sleep(0.3)
        assert not batch.done() and await applied(pg_pool, schema) == []
        await con.execute("SELECT pg_advisory_unlock(hashtext($1))", projection.lock_key(notes))
    assert await batch == 1


async def test_a_batch_is_retried_until_the_database_answers_then_applied_once(
        pg_pool, schema, notes, database_url):
    database = ReadModelDatabase("postgresql://nobody@127.0.0.1:9/none")  # nothing listens
    batch = [note("a", 1), note("a", 2)]
    applying = asyncio.create_task(until_applied(database, notes, batch, [], None))
    await asyncio.sleep(0.5)
    assert not applying.done() and await applied(pg_pool, schema) == []
    database.url = database_url  # PostgreSQL is back
    await asyncio.wait_for(applying, 10)
    assert await applied(pg_pool, schema) == [("a", 1), ("a", 2)]
    await (await database.pool_for(notes)).close()
