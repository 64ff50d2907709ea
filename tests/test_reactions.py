"""Reactions and periodic tasks (shared/reactions.py) with a toy service (tests/reaction_child.py)
on real PostgreSQL and the real broker: each event becomes its command once however often it
is delivered and wherever the worker stopped, a poison event is dead-lettered while the others
are handled, transient failures and racing writers are retried, periodic tasks run again after
a failing run."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from deploy.embedded import ensure_database
from deploy.operations import list_dead_letters, retry_dead_letters
from deploy.registry import services
from shared import deadletters
from shared.db import create_pool
from shared.envelope import GENESIS_HASH, SYSTEM, Envelope, NewEvent, seal
from shared.errors import ConcurrencyConflict, DomainError
from shared.kafka import to_message
from shared.reactions import (
    Contexts,
    Pace,
    Reaction,
    ReactionContext,
    retried,
    run_periodic,
    until_handled,
)
from shared.repository import Repository
from shared.settings import Settings
from shared.store import EventStore
from shared.streams import ReadModelDatabase
from shared.topic_watch import ensure_topic
from tests.platform import ROOT
from tests.reaction_child import (
    COUNT_ORDERS,
    SOURCE,
    TICK,
    Counted,
    Counter,
    Tally,
    make_counter,
    registry,
    toy_spec,
)

TOY = "toy"


@dataclass
class Toy:
    settings: Settings
    env: dict[str, str]
    pool: asyncpg.Pool
    store: EventStore
    log: Path

    def start_worker(self, *options: str) -> subprocess.Popen:
        with self.log.open("a") as log:
            return subprocess.Popen([sys.executable, "-m", "tests.reaction_child", TOY, *options],
                                    cwd=ROOT, env={**os.environ, **self.env}, stdout=log,
                                    stderr=subprocess.STDOUT)

    async def counted(self) -> list[str]:
        rows = await self.pool.fetch(f"SELECT data->>'order_id' AS o FROM {TOY}.events "
                                     "WHERE type = 'test.counted' ORDER BY position")
        return [row["o"] for row in rows]

    async def until_counted(self, n: int, worker: subprocess.Popen,
                            timeout: float = 60.0) -> list[str]:
        async with asyncio.timeout(timeout):
            while len(found := await self.counted()) < n:
                assert worker.poll() is None, self.log.read_text()[-3000:]
                await asyncio.sleep(0.1)
        return found


@pytest.fixture
async def toy(database_url, kafka_bootstrap, tmp_path) -> AsyncIterator[Toy]:
    suffix = uuid.uuid4().hex[:8]
    env = {"DATABASE_URL": await ensure_database(database_url, f"reactions_{suffix}"),
           "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "JIEDAO_DATA_DIR": str(tmp_path),
           "JIEDAO_NAMESPACE": f"t{suffix}", "JIEDAO_OVERDUE_CHECK_SECONDS": "0.3"}
    settings = Settings(**env)
    await ensure_topic(kafka_bootstrap, settings.topic(SOURCE), settings.topic_partitions)
    pool = await create_pool(env["DATABASE_URL"])
    store = EventStore(pool, TOY, TOY)
    await store.setup()
    try:
        yield Toy(settings, env, pool, store, tmp_path / "worker.log")
    finally:
        await store.close()
        await pool.close()


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    worker.send_signal(sig)
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def ordered(order_id: str, key: str = "k", *, stream: str | None = None, version: int = 1,
            type_: str = "test.ordered", **extra: object) -> Envelope:
    """An event of the `shop` service, as its relay would publish it."""
    event = seal(NewEvent(type=type_, data={"order_id": order_id, "key": key, **extra}),
                 source=SOURCE, stream_id=stream or f"order-{order_id}",
                 stream_version=version, prev_hash=GENESIS_HASH)
    event.position = version
    return event


async def publish(producer, toy: Toy, *events: Envelope) -> None:
    for e in events:
        m = to_message(e)
        await producer.send_and_wait(toy.settings.topic(SOURCE), m.value, key=m.key,
                                     headers=list(m.headers.items()))


async def test_each_event_becomes_its_command_once_and_poison_is_dead_lettered(toy, producer):
    orders = [ordered(f"o{i}", key=f"k{i % 3}") for i in range(10)]
    poison = ordered("p1", poison=True)
    unreadable = ordered("u1", slow="not a number")
    other = ordered("c1", type_="test.cancelled")  # a type the reaction does not take
    await publish(producer, toy, *orders[:5], orders[3], poison, unreadable, other,
                  *orders[5:], orders[3])
    await producer.send_and_wait(toy.settings.topic(SOURCE), b"not an event", key=b"junk")
    worker = toy.start_worker()
    try:
        counted = await toy.until_counted(10, worker)
        await asyncio.sleep(1.0)  # redeliveries, had there been any, would land meanwhile
        assert sorted(await toy.counted()) == sorted(counted) == sorted(f"o{i}"
                                                                          for i in range(10))
        lines: list[str] = []
        async with asyncio.timeout(30):
            while await list_dead_letters(toy_spec(TOY), toy.settings, lines.append) < 3:
                lines.clear()
                await asyncio.sleep(0.2)
    finally:
        stop(worker)
    letters = await deadletters.listing(toy.pool, TOY, COUNT_ORDERS.name)
    assert sorted((d["stream_id"], d["reason"]) for d in letters
                  if d["stream_id"]) == [("order-p1", "failed"), ("order-u1", "failed")]
    assert [d["reason"] for d in letters if d["stream_id"] is None] == ["malformed"]
    text = "\n".join(lines)
    assert f"{TOY}.{COUNT_ORDERS.name}: 3 dead letters" in text
    assert "order-p1 v1 test.ordered" in text and "DomainError: order p1 cannot be counted" in text
    assert "ValidationError" in text  # the order's data that the handler cannot read
    assert "order-c1" not in text  # skipped, not dead-lettered


async def test_a_worker_killed_mid_way_resumes_and_counts_each_event_once(toy, producer):
    # One stream (one partition, in order), each order slow: the kill lands mid-way.
    orders = [ordered(f"o{v}", stream="orders", version=v, slow=0.15) for v in range(1, 31)]
    await publish(producer, toy, *orders)
    first = toy.start_worker()
    try:
        partly = await toy.until_counted(3, first)
    finally:
        stop(first, signal.SIGKILL)
    assert len(partly) < 30
    second = toy.start_worker()
    try:
        await publish(producer, toy, *orders[:5])  # and some delivered again
        await toy.until_counted(30, second)
        await asyncio.sleep(1.0)
        counted = await toy.counted()
    finally:
        stop(second)
    assert counted == [f"o{v}" for v in range(1, 31)]  # each once, in the stream's order


async def test_a_periodic_task_runs_every_tick_and_a_failing_run_is_retried_next_tick(toy):
    worker = toy.start_worker()
    try:
        async with asyncio.timeout(60):
            while len(ticks := await toy.store.read_stream("ticks")) < 2:
                assert worker.poll() is None, toy.log.read_text()[-3000:]
                await asyncio.sleep(0.1)
    finally:
        stop(worker)
    assert [t.data["run"] for t in ticks[:2]] == [2, 3]  # run 1 failed; the next tick ran
    assert "tick: run failed; again at the next tick" in toy.log.read_text()


# -- in one process ------------------------------------------------------------------------


def contexts(database: ReadModelDatabase, toy: Toy, handler=make_counter) -> Contexts:
    return Contexts(database.pool, TOY, registry, toy.settings, handler)


async def test_a_batch_is_retried_until_the_database_answers_then_handled_once(toy):
    database = ReadModelDatabase("postgresql://nobody@127.0.0.1:9/none")  # nothing listens
    batch = [ordered("a"), ordered("b"), ordered("a")]
    handling = asyncio.create_task(until_handled(contexts(database, toy), TOY, COUNT_ORDERS,
                                                 batch, []))
    await asyncio.sleep(0.5)
    assert not handling.done() and await toy.counted() == []
    database.url = toy.env["DATABASE_URL"]  # PostgreSQL is back
    await asyncio.wait_for(handling, 10)
    assert sorted(await toy.counted()) == ["a", "b"]
    await (await database.pool()).close()


class Racer(Counter):
    """Loads, waits until its rival has loaded too, then saves: one of them must conflict."""

    def __init__(self, repository: Repository, loaded: asyncio.Barrier) -> None:
        super().__init__(repository)
        self.loaded, self.conflicts, self.first = loaded, 0, True

    async def count(self, ordered: Envelope) -> None:
        tally = await self.repository.load(Tally(ordered.data["key"]))
        if self.first:  # the retry does not wait again
            self.first = False
            await self.loaded.wait()
        try:
            await self.repository.save(tally, tally.count(ordered.data["order_id"]),
                                       actor=SYSTEM)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise


async def test_two_workers_racing_on_one_event_count_it_once(toy):
    loaded = asyncio.Barrier(2)
    racers: list[Racer] = []

    def make_racer(repository, pool, settings):
        racers.append(Racer(repository, loaded))
        return racers[-1]

    databases = [ReadModelDatabase(toy.env["DATABASE_URL"]) for _ in range(2)]
    both = [until_handled(contexts(d, toy, make_racer), TOY, COUNT_ORDERS, [ordered("x")], [])
            for d in databases]
    await asyncio.wait_for(asyncio.gather(*both), 20)
    assert await toy.counted() == ["x"]
    assert sum(r.conflicts for r in racers) == 1  # the loser decided again, and did nothing
    assert await deadletters.listing(toy.pool, TOY, COUNT_ORDERS.name) == []
    for d in databases:
        await (await d.pool()).close()


async def test_a_periodic_task_held_by_another_worker_is_skipped_this_tick(toy):
    database = ReadModelDatabase(toy.env["DATABASE_URL"])
    ran: list[ReactionContext] = []

    async def record(context: ReactionContext) -> None:
        ran.append(context)

    task = TICK.__class__("held", TICK.interval, record)
    async with toy.pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"periodic {TOY}.held")
        assert await run_periodic(contexts(database, toy), task) is False
    assert ran == []
    assert await run_periodic(contexts(database, toy), task) is True and len(ran) == 1
    await (await database.pool()).close()


def test_only_conflicts_and_outages_are_retried_other_failures_are_dead_lettered():
    assert retried(ConcurrencyConflict("tally-k", 0, 1))
    assert retried(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert retried(ConnectionRefusedError())
    assert not retried(DomainError("wrong state"))
    assert not retried(KeyError("order_id"))


def test_a_reaction_declared_on_a_spec_is_fed_by_its_workers_topic_reader(tmp_path):
    from shared.streams import create_worker_app

    spec = toy_spec(TOY)
    settings = Settings(DATABASE_URL="postgresql://nowhere/none", JIEDAO_DATA_DIR=str(tmp_path),
                        KAFKA_BOOTSTRAP_SERVERS="nowhere:9092", JIEDAO_NAMESPACE="t")
    app = create_worker_app(spec, settings)
    assert set(app.transport.readers) == {"t.shop"}  # the topic's reader
    assert {t for topic in app.topics for t in topic.topics} == {"t.shop"}  # subscribed
    assert [(a.schema, a.name) for a in spec.agents] == [(TOY, COUNT_ORDERS.name)]
    assert spec.has_worker and spec.topics_read() == [SOURCE]
    assert isinstance(COUNT_ORDERS, Reaction) and Counted.TYPE == "test.counted"


class Mended(Counter):
    """The handler as fixed after the dead letters: it counts poison orders too."""

    async def count(self, ordered: Envelope) -> None:
        await super().count(dataclasses.replace(ordered, data={**ordered.data, "poison": False}))


async def test_a_retry_after_the_fix_handles_the_dead_letters_and_keeps_what_still_fails(toy):
    database = ReadModelDatabase(toy.env["DATABASE_URL"])
    poison = [ordered("p1", poison=True), ordered("p2", poison=True)]
    await until_handled(contexts(database, toy), TOY, COUNT_ORDERS, poison, [])
    assert await toy.counted() == []
    said: list[str] = []
    assert await retry_dead_letters(toy_spec(TOY), toy.settings, None, said.append) == 2
    assert f"{TOY}.{COUNT_ORDERS.name}: handled 0 events; 2 still dead:" in said
    mended = dataclasses.replace(toy_spec(TOY), handler=lambda repo, pool, s: Mended(repo))
    said.clear()
    assert await retry_dead_letters(mended, toy.settings, [str(poison[1].id)], said.append) == 0
    assert f"{TOY}.{COUNT_ORDERS.name}: handled 1 event; none left" in said
    assert await toy.counted() == ["p2"]
    [left] = await deadletters.listing(toy.pool, TOY, COUNT_ORDERS.name)
    assert left["event_id"] == str(poison[0].id)
    assert await retry_dead_letters(mended, toy.settings, None, said.append) == 0
    assert sorted(await toy.counted()) == ["p1", "p2"]
    await (await database.pool()).close()


async def test_jiedao_deadletters_grid_lists_its_reactions(toy):
    said: list[str] = []
    assert await list_dead_letters(services()["grid"], toy.settings, said.append) == 0
    assert "grid.open_cases: no dead letters" in said
    assert "grid.conclude_referrals: no dead letters" in said


async def test_the_grids_reactions_hand_each_event_to_the_case_desk():
    calls: list[tuple[str, object]] = []

    class Desk:  # what services/grid/reactions.py asks of the CaseDesk, recorded
        async def open_from_report(self, report: Envelope) -> None:
            calls.append(("open_from_report", report))

        async def conclude_referral(self, outcome: Envelope) -> None:
            calls.append(("conclude_referral", outcome))

        async def check_overdue(self, now=None) -> int:
            calls.append(("check_overdue", now))
            return 0

    spec = services()["grid"]
    context = ReactionContext(None, None, None, Desk())  # type: ignore[arg-type]
    reported = ordered("r1", type_="intake.problem.reported")
    concluded = ordered("x1", type_="enforcement.referral.concluded")
    assert [r.name for r in spec.reactions["intake"]] == ["open_cases"]
    assert [r.name for r in spec.reactions["enforcement"]] == ["conclude_referrals"]
    for _, reaction in spec.reaction_feeds():
        for event in (reported, concluded):
            if event.type in reaction.takes:
                await reaction.act(context, event)
    [overdue_check] = spec.periodic
    await overdue_check.run(context)
    assert calls == [("open_from_report", reported), ("conclude_referral", concluded),
                     ("check_overdue", None)]
    assert overdue_check.interval == "overdue_check_seconds"
    assert Settings().overdue_check_seconds == 60


def test_a_periodic_task_that_takes_long_slows_down_to_a_tenth_of_the_time():
    pace = Pace(1.0)
    assert pace.due(0.0)
    pace.ran(0.0, 0.05)  # quick: every interval
    assert not pace.due(0.9) and pace.due(1.0)
    pace.ran(1.0, 1.4)  # 0.4 s of work: not again for 4 s
    assert not pace.due(4.9) and pace.due(5.0)
    pace.ran(5.0, 5.01)  # quick again: back to every interval
    assert pace.due(6.0)
