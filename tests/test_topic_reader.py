"""One reader per topic (shared/streams.py, shared/faust_transport.py): a worker reads each
topic once, a fetched batch at a time, and feeds every read model and reaction it keeps there,
with a toy service (tests/reaction_child.py, `view`) on real PostgreSQL and the real broker. An
event one feed cannot take is that feed's dead letter only; the others apply it; a redelivered
batch changes nothing; each feed reports its own progress; offsets are committed once applied;
workers joining and leaving the group mid-stream lose and double nothing."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import deadletters
from shared.health import worker_health
from shared.reactions import Agent
from tests.reaction_child import COUNT_ORDERS, SOURCE, OrdersView
from tests.test_reactions import TOY, ordered, publish, stop, toy  # noqa: F401 (the fixture)

VIEW = OrdersView(TOY)


async def viewed(toy) -> list[str]:  # noqa: F811
    try:
        rows = await toy.pool.fetch(f"SELECT order_id FROM {VIEW.schema}.orders "
                                    "ORDER BY order_id")
    except asyncpg.UndefinedTableError:  # the worker has not set its view up yet
        return []
    return [row["order_id"] for row in rows]


async def statuses(toy, *agents) -> set[str]:  # noqa: F811
    try:
        return {(await worker_health(toy.pool, agent))["status"] for agent in agents}
    except asyncpg.UndefinedTableError:  # no progress reported yet
        return set()


async def until(found, wanted: int, worker, toy) -> list:  # noqa: F811
    async with asyncio.timeout(60):
        while len(seen := await found()) < wanted:
            assert worker.poll() is None, toy.log.read_text()[-3000:]
            await asyncio.sleep(0.1)
    return seen


async def test_an_event_one_read_model_cannot_take_is_its_dead_letter_and_others_apply_it(
        toy, producer):  # noqa: F811
    orders = [ordered(f"o{i}", key=f"k{i % 2}") for i in range(6)]
    unviewable = ordered("u1", unviewable=True)  # the reaction counts it; the view cannot
    await publish(producer, toy, *orders[:3], unviewable, *orders[3:])
    worker = toy.start_worker("view")
    try:
        everything = sorted(["u1", *(f"o{i}" for i in range(6))])
        assert sorted(await toy.until_counted(7, worker)) == everything
        assert await until(lambda: viewed(toy), 6, worker, toy) == [f"o{i}" for i in range(6)]
        [letter] = await deadletters.listing(toy.pool, VIEW.schema, VIEW.name)
        assert (letter["stream_id"], letter["reason"]) == ("order-u1", "failed")
        assert "cannot be viewed" in letter["error"]
        await publish(producer, toy, *orders, unviewable)  # the whole batch again
        await publish(producer, toy, ordered("o9"))  # then one more, seen after them
        await until(lambda: viewed(toy), 7, worker, toy)
        await toy.until_counted(8, worker)
        async with asyncio.timeout(30):  # each feed reports its own progress, under its name
            while await statuses(toy, VIEW, Agent(TOY, COUNT_ORDERS.name)) != {"running"}:
                await asyncio.sleep(0.2)
    finally:
        stop(worker)
    assert sorted(await toy.counted()) == sorted([*everything, "o9"])  # each once
    assert await viewed(toy) == [*(f"o{i}" for i in range(6)), "o9"]
    [letter] = await deadletters.listing(toy.pool, VIEW.schema, VIEW.name)
    assert letter["stream_id"] == "order-u1"  # still the one dead letter, held
    assert await deadletters.listing(toy.pool, TOY, COUNT_ORDERS.name) == []


async def committed_offsets(toy) -> int:  # noqa: F811
    """The sum over the topic's partitions of the worker group's committed offsets."""
    topic = toy.settings.topic(SOURCE)
    partitions = [TopicPartition(topic, p) for p in range(toy.settings.topic_partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=toy.settings.require_kafka())
    await admin.start()
    try:  # (Tansu answers only when the partitions are named)
        offsets = await admin.list_consumer_group_offsets(f"{toy.settings.namespace}-{TOY}",
                                                          partitions=partitions)
    finally:
        await admin.close()
    return sum(max(o.offset, 0) for o in offsets.values())


async def test_offsets_are_committed_once_a_batch_is_applied_and_not_read_again(
        toy, producer):  # noqa: F811
    await publish(producer, toy, *(ordered(f"o{i}", key=f"k{i % 3}") for i in range(12)))
    worker = toy.start_worker("view")
    try:
        await until(lambda: viewed(toy), 12, worker, toy)
        async with asyncio.timeout(30):  # Faust commits what is acked every few seconds
            while await committed_offsets(toy) < 12:
                await asyncio.sleep(0.3)
    finally:
        stop(worker)
    assert await committed_offsets(toy) == 12  # every message, none past them


async def test_workers_joining_and_leaving_mid_stream_lose_and_double_nothing(
        toy, producer):  # noqa: F811
    """Two workers share the topic's partitions; each join and leave is a rebalance while
    events flow. The view refuses a second insert of an order (its dead letter would show a
    double apply) and the reaction counts each order once."""
    waves = [[ordered(f"w{w}-{i}", key=f"k{i % 5}") for i in range(60)] for w in range(3)]
    first = toy.start_worker("view")
    second = None
    try:
        await publish(producer, toy, *waves[0][:30])
        second = toy.start_worker("view")  # joins: the partitions are shared out again
        await publish(producer, toy, *waves[0][30:], *waves[1][:30])
        await until(lambda: viewed(toy), 60, first, toy)
        await publish(producer, toy, *waves[1][30:])
        stop(first)  # leaves mid-stream: its partitions move to the second
        await publish(producer, toy, *waves[2])
        await until(lambda: viewed(toy), 180, second, toy)
        await toy.until_counted(180, second)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                stop(worker)
    names = sorted(e.data["order_id"] for wave in waves for e in wave)
    assert await viewed(toy) == names
    assert sorted(await toy.counted()) == names  # each once
    assert await deadletters.listing(toy.pool, VIEW.schema, VIEW.name) == []
