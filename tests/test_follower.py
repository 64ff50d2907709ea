"""Following the log: every committed event once, in position order, never skipping one."""

import asyncio

import pytest

from shared.envelope import NewEvent
from shared.follower import LogFollower
from shared.store import EventStore


class HeldStore(EventStore):
    """A store whose next append holds its transaction open after drawing positions."""

    def __init__(self, *args, rollback: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inserted = asyncio.Event()
        self.release = asyncio.Event()
        self.rollback = rollback

    async def _insert(self, con, envelopes, heads):
        positions = await super()._insert(con, envelopes, heads)
        self.inserted.set()
        await self.release.wait()
        if self.rollback:
            raise RuntimeError("rolled back on purpose")
        return positions


def one(tag: str) -> list[NewEvent]:
    return [NewEvent("test.thing.happened", {"tag": tag})]


async def drain(follower: LogFollower, rounds: int = 5) -> list:
    seen = []
    for _ in range(rounds):
        seen += await follower.poll()
        await asyncio.sleep(0.01)
    return seen


async def test_many_concurrent_appenders_one_follower_sees_each_event_once_in_order(store):
    follower, seen = LogFollower(store), []
    writers_done = asyncio.Event()

    async def follow():
        while True:
            finished_before_poll = writers_done.is_set()
            seen.extend(await follower.poll(500))
            if finished_before_poll and follower.caught_up:
                return
            await asyncio.sleep(0)

    async def writer(w: int):
        for i in range(40):
            await store.append(f"w{w}-{i % 4}", None, one(f"{w}.{i}"))

    following = asyncio.create_task(follow())
    await asyncio.gather(*(writer(w) for w in range(25)))
    writers_done.set()
    await asyncio.wait_for(following, 30)
    positions = [e.position for e in seen]
    assert len(seen) == 1000 and len({e.id for e in seen}) == 1000
    assert positions == sorted(positions)


@pytest.mark.parametrize("rollback", [False, True], ids=["commits", "rolls-back"])
async def test_follower_waits_for_a_held_append_and_never_skips_it(pg_pool, schema, rollback):
    store = EventStore(pg_pool, schema, "test")
    held = HeldStore(pg_pool, schema, "test", rollback=rollback)
    await store.setup()
    follower = LogFollower(store)
    await store.append("before", 0, one("before"))
    assert [e.data["tag"] for e in await drain(follower)] == ["before"]

    pending = asyncio.create_task(held.append("held", 0, one("held")))
    await held.inserted.wait()
    for i in range(3):
        await store.append(f"after-{i}", 0, one(f"after-{i}"))
    assert await drain(follower) == [], "the follower passed an append still in flight"

    held.release.set()
    outcome = await asyncio.gather(pending, return_exceptions=True)
    tags = [e.data["tag"] for e in await drain(follower)]
    if rollback:
        assert isinstance(outcome[0], RuntimeError)
        assert tags == ["after-0", "after-1", "after-2"]
    else:
        assert tags == ["held", "after-0", "after-1", "after-2"]
    await store.close()
    await held.close()
