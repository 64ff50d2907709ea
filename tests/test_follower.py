"""Following the log: every committed event once, in position order, never skipping one."""

import asyncio
import sys
from pathlib import Path

import pytest

from shared.audit import audit
from shared.envelope import NewEvent
from shared.follower import LogFollower
from shared.sealer import Sealer
from shared.store import EventStore

ROOT = Path(__file__).resolve().parent.parent


class HeldStore(EventStore):
    """A store whose next append holds its transaction open after drawing positions (its
    appends at any version take the general path, whose steps these stores pause in)."""

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


class PausingStore(EventStore):
    """A store whose appends stop inside their transaction at `step` ("locked": the
    transaction id is taken, no position drawn yet; "inserted": positions drawn, not
    committed) until `release` is set."""

    def __init__(self, *args, step: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.step = step
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def _pause(self, step: str) -> None:
        if step == self.step:
            self.reached.set()
            await self.release.wait()

    async def _lock_heads(self, con, batch):
        heads = await super()._lock_heads(con, batch)
        await self._pause("locked")
        return heads

    async def _insert(self, con, envelopes, heads):
        positions = await super()._insert(con, envelopes, heads)
        await self._pause("inserted")
        return positions


def one(tag: str) -> list[NewEvent]:
    return [NewEvent("test.thing.happened", {"tag": tag})]


async def drain(follower: LogFollower, rounds: int = 5) -> list:
    seen = []
    for _ in range(rounds):
        seen += await follower.poll()
        await asyncio.sleep(0.01)
    return seen


async def b_then_a(follower: LogFollower, passed: list) -> None:
    """What the follower must do in the interleavings below: pass nothing while B holds p,
    then deliver B's event and A's, in position order."""
    assert passed == [], "the follower passed position p while B held it"
    seen = await drain(follower)
    assert [e.data["tag"] for e in seen] == ["b", "a"]
    assert [e.position for e in seen] == sorted(e.position for e in seen)


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

    pending = asyncio.create_task(held.append("held", None, one("held")))
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


async def test_a_gap_held_by_a_younger_transaction_is_not_passed_while_it_runs(pg_pool, schema):
    """A takes its transaction id; B takes a later one and draws position p; A draws p+1 and
    commits. B still holds p, although its id is above the `xmax` of every snapshot taken
    so far: the follower must wait for B, not pass p over."""
    a = PausingStore(pg_pool, schema, "test", step="locked")
    b = PausingStore(pg_pool, schema, "test", step="inserted")
    await a.setup()
    follower = LogFollower(a)

    appending_a = asyncio.create_task(a.append("a", None, one("a")))
    await a.reached.wait()  # A holds the older transaction id
    appending_b = asyncio.create_task(b.append("b", None, one("b")))
    try:
        await b.reached.wait()  # B holds position p
        a.release.set()
        await appending_a  # A committed position p+1
        passed = await drain(follower)
    finally:
        a.release.set()
        b.release.set()
        await appending_b
    await b_then_a(follower, passed)
    await a.close()
    await b.close()


async def blocked(pool, query_part: str, count: int) -> list[int]:
    """Once `count` statements containing `query_part` wait for a lock: their backends' pids."""
    for _ in range(500):
        waiting = await pool.fetch(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%' || $1 || '%'", query_part)
        if len(waiting) >= count:
            return [row["pid"] for row in waiting]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {count} statements waiting: {query_part}")


async def test_the_same_interleaving_through_the_one_statement_append_of_new_streams(
        pg_pool, schema):
    """As above, with both appends creating their stream (one statement each,
    `append_to_new_streams`): A is held by a lock on a stream it read, after its streams'
    heads are written (its transaction id taken), before it draws a position; B, younger,
    draws p and is held by an uncommitted row with its event's id; A draws p+1 and commits."""
    store = EventStore(pg_pool, schema, "test")
    await store.setup()
    await store.append("r", 0, one("r"))
    follower = LogFollower(store)
    assert [e.data["tag"] for e in await drain(follower)] == ["r"]
    b_event = one("b")
    async with pg_pool.acquire() as locker, pg_pool.acquire() as squatter:
        a_held = locker.transaction()
        await a_held.start()
        await locker.execute(f"SELECT 1 FROM {schema}.streams WHERE stream_id = 'r' FOR UPDATE")
        appending_a = asyncio.create_task(store.append("a", 0, one("a"), read={"r": 1}))
        await blocked(pg_pool, "append_to_new_streams", 1)  # A holds the older id
        b_held = squatter.transaction()
        await b_held.start()
        await squatter.execute(
            f"INSERT INTO {schema}.events (position, id, stream_id, stream_version, type, "
            "schema_version, source, subject, time, actor_id, actor_role, correlation_id, "
            "data, prev_hash, hash) VALUES (1000000000, $1, 'squatter', 1, 't', 1, 's', 's', "
            "now(), 'u', 'r', $1, '{}', ''::bytea, ''::bytea)", b_event[0].id)
        other = EventStore(pg_pool, schema, "test")  # B: its own flusher
        appending_b = asyncio.create_task(other.append("b", 0, b_event))
        await blocked(pg_pool, "append_to_new_streams", 2)  # B holds position p
        await a_held.commit()
        await appending_a  # A committed position p+1
        passed = await drain(follower)
        await b_held.rollback()
        await appending_b
    await b_then_a(follower, passed)
    await store.close()
    await other.close()


async def test_writer_processes_at_full_speed_a_follower_delivers_exactly_what_committed(
    pg_pool, schema, database_url
):
    """Three writer processes, each with three flushers, commit out of position order; a
    follower reading all the while delivers every committed event once, in position order,
    and the sealer's store-wide chain over them verifies."""
    store = EventStore(pg_pool, schema, "test")
    await store.setup()
    follower, sealer, seen = LogFollower(store), Sealer(store, batch=300), []
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.writer_child", database_url, schema, f"p{n}", "1500",
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )
        for n in range(3)
    ]
    done = asyncio.gather(*(w.communicate() for w in writers))
    while not done.done():
        seen += await follower.poll(300)
        await sealer.seal_once()
    assert [w.returncode for w in writers] == [0, 0, 0]
    while (batch := await follower.poll(300)) or not follower.caught_up:
        seen += batch
        await asyncio.sleep(0.01)
    while await sealer.seal_once():
        pass

    committed = await pg_pool.fetch(f"SELECT id, position FROM {schema}.events ORDER BY position")
    assert [e.id for e in seen] == [row["id"] for row in committed]
    assert len(committed) == 3 * sum(1 + i % 3 for i in range(1500))
    report = await audit(store)
    assert report.intact, report.problems
    await store.close()
