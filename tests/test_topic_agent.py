"""One agent per topic (shared/streams.py): a worker reads each topic once and feeds every read
model and reaction it keeps there, with a toy service (tests/reaction_child.py, `view`) on real
PostgreSQL and the real broker. An event one feed cannot take is that feed's dead letter only;
the others apply it; a redelivered batch changes nothing; each feed reports its own progress."""

from __future__ import annotations

import asyncio

import asyncpg

from shared import deadletters
from shared.health import worker_health
from shared.reactions import Agent
from tests.reaction_child import COUNT_ORDERS, OrdersView
from tests.test_reactions import TOY, ordered, publish, stop, toy  # noqa: F401 (the fixture)

VIEW = OrdersView(TOY)


async def viewed(toy) -> list[str]:  # noqa: F811
    rows = await toy.pool.fetch(f"SELECT order_id FROM {VIEW.schema}.orders ORDER BY order_id")
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
