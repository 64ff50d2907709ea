"""Read your own writes, the mechanism (shared/freshness.py) on real PostgreSQL: a read waits for
the projection's commit of what the store holds, is woken by its NOTIFY, never waits for a
stream that does not exist, gives up after its bound, and polls while it cannot listen."""

import asyncio
import time

import pytest

from services.grid.events import StreetRegistered, registry
from services.grid.projections import TerritoryProjection
from shared import projection
from shared.envelope import GENESIS_HASH, seal
from shared.errors import DomainError
from shared.freshness import LISTENING_RECHECK_SECONDS, Freshness, ReadModelBehind


@pytest.fixture
async def view(pg_pool, schema):
    p = TerritoryProjection(schema)
    await projection.setup(pg_pool, p)
    return p


@pytest.fixture
async def freshness(store, view):
    freshness = Freshness(store, [view], wait_seconds=3.0, relisten_seconds=30.0)
    await freshness.start()
    async with asyncio.timeout(10):
        while not freshness.listening:
            await asyncio.sleep(0.01)
    yield freshness
    await freshness.close()


async def register_street(store, street_id: str = "s1") -> None:
    event = StreetRegistered(street_id=street_id, name_zh="街道", name_en="Street",
                             kind="urban", sourced=False)
    await store.append(f"street-{street_id}", 0, [registry.to_new_event(event)])


async def project_store(pg_pool, store, view) -> None:
    await projection.project(pg_pool, view, await store.read_stream("street-s1"))


async def settle_after_projecting(pg_pool, store, view, freshness, delay: float) -> float:
    """Seconds from the projection's commit until the waiting read is released."""
    waiter = asyncio.create_task(freshness.settled(view.name, "street-s1"))
    await asyncio.sleep(delay)
    assert not waiter.done()  # the read model lacks the street: the read waits
    await project_store(pg_pool, store, view)
    committed = time.perf_counter()
    assert await waiter == {"street-s1": 1}
    return time.perf_counter() - committed


async def test_a_waiting_read_is_released_by_the_projections_commit(pg_pool, store, view,
                                                                     freshness):
    await register_street(store)
    released = await settle_after_projecting(pg_pool, store, view, freshness, 0.2)
    assert released < LISTENING_RECHECK_SECONDS / 2  # woken by the NOTIFY, not by a recheck


async def test_a_stream_the_store_lacks_is_answered_at_once(view, freshness):
    started = time.perf_counter()
    assert await freshness.settled(view.name, "street-nowhere") == {}
    assert time.perf_counter() - started < 0.5


async def test_a_read_model_that_stays_behind_gives_503_after_the_bound(store, view, freshness):
    await register_street(store)
    freshness.wait_seconds = 0.5
    started = time.perf_counter()
    with pytest.raises(ReadModelBehind, match="street-s1 .at v0, written up to v1"):
        await freshness.settled(view.name, "street-s1")
    assert 0.5 <= time.perf_counter() - started < 1.5
    assert ReadModelBehind.status == 503


async def test_waiters_poll_while_the_listening_connection_is_down(pg_pool, store, view,
                                                                   freshness):
    killed = await pg_pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE query LIKE 'LISTEN %' AND query LIKE $1", f"%{view.schema}_projected%")
    assert killed == 1
    async with asyncio.timeout(5):
        while freshness.listening:
            await asyncio.sleep(0.01)
    await register_street(store)
    released = await settle_after_projecting(pg_pool, store, view, freshness, 0.2)
    assert not freshness.listening  # (it listens again only after relisten_seconds)
    assert released < LISTENING_RECHECK_SECONDS / 2


async def test_a_token_waits_for_its_version_and_bad_tokens_are_refused(pg_pool, store, view,
                                                                        freshness):
    await register_street(store)
    await project_store(pg_pool, store, view)
    await freshness.after(view.name, ["street-s1@1"])  # applied: returns at once
    for token in ("street-s1", "street-s1@0", "street-s1@x", "street-s1@2", "street-s2@1"):
        with pytest.raises(DomainError) as refused:
            await freshness.after(view.name, [token])
        assert refused.value.field == "after" and refused.value.status == 422


class Replica(TerritoryProjection):
    """A read model of another service's events (here: the same tables, another name)."""

    name = "replica"
    streams = ("case-",)  # the other service's streams it keeps


async def test_another_services_token_waits_for_the_replica_and_without_one_is_refused(
        pg_pool, store, schema, view):
    replica = Replica(schema)
    freshness = Freshness(store, [view, replica], wait_seconds=3.0)
    await freshness.start()
    try:
        with pytest.raises(DomainError):  # not this store's, and no replica named
            await freshness.after(view.name, ["case-x@1"])
        waiter = asyncio.create_task(freshness.after(view.name, ["case-x@1"],
                                                     replica=replica.name))
        await asyncio.sleep(0.3)
        assert not waiter.done()  # the replica has not seen case-x v1 yet
        event = registry.to_new_event(StreetRegistered(street_id="sx", name_zh="街道",
                                                       name_en="Street", kind="urban",
                                                       sourced=False))
        await projection.project(pg_pool, replica, [
            seal(event, source="grid", stream_id="case-x", stream_version=1,
                 prev_hash=GENESIS_HASH)])
        await asyncio.wait_for(waiter, 2)
    finally:
        await freshness.close()
