"""Only one relay publishes a store at a time, a standby takes over when the active one dies,
and a broker that lost the topic while the relay ran gets the whole store again."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer

from deploy.embedded import EmbeddedKafka
from deploy.processes import relay_store
from shared.kafka import from_message
from shared.relay import Relay, ensure_topic
from shared.topic_watch import TopicWatch
from tests.test_relay import ROOT, consume_all, fill


async def _until(check, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_standby_relay_takes_over_when_the_active_one_is_killed(
    store, pg_pool, schema, database_url, kafka_bootstrap, topic, tmp_path: Path
):
    argv = [sys.executable, "-m", "tests.standby_child", database_url, schema, kafka_bootstrap,
            topic]
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}

    def start(name: str) -> subprocess.Popen:
        with open(logs[name], "wb") as log:
            return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    async def cursor() -> int:
        return await pg_pool.fetchval(
            f"SELECT position FROM {schema}.cursors WHERE name = 'relay'") or 0

    async def logged(name: str, text: str) -> bool:
        return text in logs[name].read_text()

    await fill(store, streams=10, per_stream=10)
    first = start("first")
    second = None
    try:
        await _until(lambda: cursor_is(cursor, 100))
        second = start("second")
        await _until(lambda: logged("second", "standby"))
        await fill_more(store, streams=10, start=10, per_stream=5)
        await _until(lambda: cursor_is(cursor, 150))  # published by the active one alone
        assert ": active" not in logs["second"].read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        await fill_more(store, streams=10, start=15, per_stream=5)
        await _until(lambda: logged("second", "active (took over)"))
        await _until(lambda: cursor_is(cursor, 200))
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(10)

    messages = await consume_all(kafka_bootstrap, topic, expected=200)
    envelopes = [from_message(m.headers, m.key, m.value) for m in messages]
    assert len({e.id for e in envelopes}) == 200
    for s in range(10):  # per stream, every version, first seen in version order
        seen: list[int] = []
        for e in envelopes:
            if e.stream_id == f"s-{s}" and e.stream_version not in seen:
                seen.append(e.stream_version)
        assert seen == list(range(1, 21))


async def cursor_is(cursor, position: int) -> bool:
    return await cursor() == position


async def fill_more(store, streams: int, start: int, per_stream: int) -> None:
    from shared.envelope import NewEvent

    for i in range(start, start + per_stream):
        await asyncio.gather(*(
            store.append(f"s-{s}", i, [NewEvent("test.thing.happened", {"s": s, "i": i})])
            for s in range(streams)
        ))


async def test_a_broker_restarted_under_a_running_relay_gets_the_whole_store_again(
    store, tmp_path: Path
):
    kafka = EmbeddedKafka(log_file=tmp_path / "tansu.log")
    bootstrap = kafka.start()
    topic = "restarted"
    try:
        await ensure_topic(bootstrap, topic, 4)
        watch = TopicWatch(bootstrap, topic)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await watch.start()
        await producer.start()
        relay = Relay(store, producer, topic, watch=watch, heartbeat_seconds=0.2)
        running = asyncio.create_task(relay.run(idle_seconds=0.2, retry_seconds=0.2))
        try:
            await fill(store, streams=4, per_stream=5)
            async with asyncio.timeout(10):
                while relay.published < 20:
                    await asyncio.sleep(0.05)
            kafka.restart()  # memory storage: the topic and its events are gone
            # idle, nothing new to send: the relay still notices, and publishes the store again
            again = await consume_all(bootstrap, topic, expected=20, timeout=30)
            assert len({dict(m.headers)["ce_id"] for m in again}) == 20
            await fill_more(store, streams=4, start=5, per_stream=1)
            messages = await consume_all(bootstrap, topic, expected=24, timeout=30)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await producer.stop()
            await watch.stop()
    finally:
        kafka.stop()
    assert len({dict(m.headers)["ce_id"] for m in messages}) == 24


async def test_a_relay_that_loses_its_lock_connection_takes_the_lock_again_and_goes_on(
    store, pg_pool, schema, database_url, kafka_bootstrap, topic, caplog
):
    running = asyncio.create_task(
        relay_store(database_url, schema, "test", kafka_bootstrap, topic, 4, retry_seconds=0.1))

    async def cursor() -> int:
        return await pg_pool.fetchval(
            f"SELECT position FROM {schema}.cursors WHERE name = 'relay'") or 0

    try:
        await fill(store, streams=4, per_stream=5)
        await _until(lambda: cursor_is(cursor, 20))
        ended = await pg_pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objsubid = 2 AND objid::bigint = (hashtext($1)::bigint & 4294967295)",
            f"relay:{schema}")
        assert ended == 1
        await _until(lambda: _logged(caplog, "LeadershipLost"))
        await fill_more(store, streams=4, start=5, per_stream=5)
        await _until(lambda: cursor_is(cursor, 40))
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    messages = await consume_all(kafka_bootstrap, topic, expected=40)
    assert len({dict(m.headers)["ce_id"] for m in messages}) == 40


async def _logged(caplog, text: str) -> bool:
    return text in caplog.text
