"""The outbox relay publishes every committed event to Kafka, and survives being killed."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import NewEvent
from shared.kafka import from_message
from shared.relay import Relay, ensure_topic
from shared.store import EventStore

ROOT = Path(__file__).resolve().parent.parent


async def fill(store: EventStore, streams: int, per_stream: int) -> None:
    for i in range(per_stream):
        await asyncio.gather(*(
            store.append(f"s-{s}", i, [NewEvent("test.thing.happened", {"s": s, "i": i})])
            for s in range(streams)
        ))


async def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    messages, ids = [], set()
    try:
        async with asyncio.timeout(timeout):
            while len(ids) < expected:  # duplicates are allowed: count distinct events
                batch = await consumer.getmany(timeout_ms=500)
                messages += [m for records in batch.values() for m in records]
                ids = {dict(m.headers)["ce_id"] for m in messages}
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return messages


async def test_every_event_is_published_with_cloudevents_headers(
    store, producer, kafka_bootstrap, topic
):
    await fill(store, streams=3, per_stream=5)
    relay = Relay(store, producer, topic)
    while await relay.publish_once():
        pass

    messages = await consume_all(kafka_bootstrap, topic, expected=15)
    assert len(messages) == 15
    headers = dict(messages[0].headers)
    for name in ("ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "ce_specversion",
                 "ce_streamid", "ce_streamversion", "ce_position", "content-type"):
        assert name in headers, name
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    envelopes = [from_message(m.headers, m.key, m.value) for m in messages]
    assert all(m.key == e.stream_id.encode() for m, e in zip(messages, envelopes, strict=True))
    stored = {e.id: e for s in range(3) for e in await store.read_stream(f"s-{s}")}
    assert {e.id for e in envelopes} == set(stored)
    assert all(e.hash == stored[e.id].hash and e.data == stored[e.id].data for e in envelopes)
    for s in range(3):  # one stream's events arrive in version order
        versions = [e.stream_version for e in envelopes if e.stream_id == f"s-{s}"]
        assert versions == sorted(versions)


async def test_killing_the_relay_mid_stream_loses_no_event(
    store, pg_pool, schema, database_url, kafka_bootstrap, topic
):
    await fill(store, streams=20, per_stream=50)
    total = 1000
    argv = [sys.executable, "-m", "tests.relay_child", database_url, schema, kafka_bootstrap, topic]

    def cursor():
        return pg_pool.fetchval(f"SELECT position FROM {schema}.cursors WHERE name = 'relay'")

    child = subprocess.Popen(argv, cwd=ROOT)
    try:
        async with asyncio.timeout(30):
            while not await cursor():
                await asyncio.sleep(0.01)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    killed_at = await cursor()
    assert 0 < killed_at < total, "the relay was not killed mid-stream"

    child = subprocess.Popen(argv, cwd=ROOT)
    try:
        async with asyncio.timeout(60):
            while await cursor() < total:
                await asyncio.sleep(0.05)
    finally:
        child.terminate()
        child.wait()

    messages = await consume_all(kafka_bootstrap, topic, expected=total)
    ids = {dict(m.headers)["ce_id"] for m in messages}
    assert len(ids) == total


async def test_a_broker_that_lost_the_topic_gets_the_whole_store_again(
    store, producer, kafka_bootstrap, topic
):
    await fill(store, streams=2, per_stream=5)
    relay = Relay(store, producer, topic)
    while await relay.publish_once():
        pass
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.delete_topics([topic])  # what a restarted in-memory broker looks like
    await admin.close()
    await asyncio.sleep(0.5)

    assert await ensure_topic(kafka_bootstrap, topic, partitions=4) is True
    restarted = Relay(store, producer, topic)
    await restarted.resume(topic_was_recreated=True)
    while await restarted.publish_once():
        pass
    messages = await consume_all(kafka_bootstrap, topic, expected=10)
    assert len({dict(m.headers)["ce_id"] for m in messages}) == 10


async def test_the_relay_does_not_pass_an_append_still_in_flight(
    store, producer, pg_pool, schema, kafka_bootstrap, topic
):
    from tests.test_follower import HeldStore

    held = HeldStore(pg_pool, schema, "test")
    await store.append("before", 0, [NewEvent("test.x", {"tag": "before"})])
    try:
        relay = Relay(store, producer, topic)
        assert await relay.publish_once() == 1
        pending = asyncio.create_task(  # at any version: the general path, where it holds
            held.append("held", None, [NewEvent("test.x", {"tag": "held"})]))
        await held.inserted.wait()
        await store.append("after", 0, [NewEvent("test.x", {"tag": "after"})])
        for _ in range(3):
            assert await relay.publish_once() == 0
            await asyncio.sleep(0.01)
        held.release.set()
        await pending
        published = 0
        for _ in range(5):
            published += await relay.publish_once()
            await asyncio.sleep(0.01)
        assert published == 2
    finally:
        await held.close()
    messages = await consume_all(kafka_bootstrap, topic, expected=3)
    tags = [from_message(m.headers, m.key, m.value).data["tag"] for m in messages]
    assert sorted(tags) == ["after", "before", "held"]


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)


async def test_a_running_relay_wakes_when_an_append_commits(store, producer, topic):
    relay = Relay(store, producer, topic)
    running = asyncio.create_task(relay.run(idle_seconds=60))  # polling alone would wait 60 s
    try:
        await fill(store, streams=1, per_stream=1)
        async with asyncio.timeout(10):
            while relay.published < 1:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # now idle, waiting for news
        await store.append("s-0", 1, [NewEvent("test.thing.happened", {"later": True})])
        async with asyncio.timeout(5):
            while relay.published < 2:
                await asyncio.sleep(0.05)
    finally:
        await stop(running)


async def test_a_relay_whose_listening_connection_dies_listens_again(store, producer, topic):
    relay = Relay(store, producer, topic)
    running = asyncio.create_task(relay.run(idle_seconds=60, retry_seconds=0.1))
    try:
        await asyncio.sleep(0.5)  # listening, idle
        ended = await store.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query = $1", f'LISTEN "{store.channel}"')
        assert ended == 1
        await asyncio.sleep(0.5)  # listening again on a new connection
        await fill(store, streams=1, per_stream=1)
        async with asyncio.timeout(5):
            while relay.published < 1:
                await asyncio.sleep(0.05)
    finally:
        await stop(running)


async def test_a_busy_store_is_polled_once_an_interval_a_quiet_one_at_once(
        store, producer, topic):
    """Under a stream of appends the relay polls at most once per `interval_seconds` (each
    poll a batch per partition: fewer, bigger batches for the broker to keep); an append to a
    store that was quiet goes out after the linger alone."""
    relay = Relay(store, producer, topic)
    clock = asyncio.get_running_loop().time
    polls: list[float] = []
    publish_once = relay.publish_once

    async def counted() -> int:
        polls.append(clock())
        return await publish_once()

    relay.publish_once = counted
    running = asyncio.create_task(relay.run(linger_seconds=0.001, interval_seconds=0.2,
                                            idle_seconds=60))
    try:
        await asyncio.sleep(0.3)
        busy_from = len(polls)
        for i in range(100):  # 1.5 s of appends, one every 15 ms
            await store.append(f"busy-{i}", 0, [NewEvent("test.thing.happened", {"i": i})])
            await asyncio.sleep(0.015)
        async with asyncio.timeout(5):
            while relay.published < 100:
                await asyncio.sleep(0.01)
        busy = polls[busy_from:]
        assert min(b - a for a, b in zip(busy, busy[1:], strict=False)) >= 0.19
        assert len(busy) <= 15  # ~2 s / 0.2 s, not one poll per append
        await asyncio.sleep(0.5)  # quiet again
        appended_at = clock()
        await store.append("quiet", 0, [NewEvent("test.thing.happened", {})])
        async with asyncio.timeout(5):
            while relay.published < 101:
                await asyncio.sleep(0.005)
        assert clock() - appended_at < 0.15  # the linger, not the interval
    finally:
        await stop(running)
