"""Faust stream processing: one app per service worker, agents that run projections."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from shared import projection
from shared.db import create_pool
from shared.kafka import from_message
from shared.projection import Projection
from shared.settings import Settings

log = logging.getLogger(__name__)


def create_faust_app(name: str, settings: Settings) -> faust.App:
    brokers = ";".join(f"kafka://{b}" for b in settings.require_kafka().split(","))
    datadir = settings.data_dir / "faust" / name
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.namespace}-{name}",
        broker=brokers,
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(datadir),
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        # Tansu: a group joins after half the session timeout; Faust's 60 s default stalls.
        broker_session_timeout=settings.kafka_session_timeout,
        broker_heartbeat_interval=settings.kafka_session_timeout / 4,
        # Tansu's end_offsets() is wrong after batched produce, which breaks table recovery.
        producer_max_batch_size=1,
    )
    app.transport = _transport(app, settings.kafka_fetch_max_wait_ms)
    return app


def _transport(app: faust.App, fetch_max_wait_ms: int) -> faust_aiokafka.Transport:
    """Faust's Kafka transport, its consumer's fetch wait set: Faust hard-codes 1,500 ms, and
    Tansu holds every fetch that long even when data arrives (real Kafka answers at once)."""
    transport = _Transport(app.conf.broker_consumer, app)
    transport.fetch_max_wait_ms = fetch_max_wait_ms
    return transport


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms  # read when it starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    fetch_max_wait_ms = 1500  # Faust's own


class ReadModelDatabase:
    """The worker's pool, made on first use (inside the worker's event loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._ready: set[str] = set()

    async def pool_for(self, p: Projection) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await create_pool(self.url)
            if p.name not in self._ready:
                await projection.setup(self._pool, p)
                self._ready.add(p.name)
        return self._pool


def add_projection_agent(
    app: faust.App, topic_name: str, p: Projection, database: ReadModelDatabase,
    batch_seconds: float,
) -> None:
    """An agent that applies `topic_name`'s events to `p` in batches, exactly once each; an
    event waits at most `batch_seconds` for others to join its batch."""
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    async def run(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=batch_seconds):
            envelopes = []
            for event in events:
                try:
                    envelopes.append(from_message(event.headers, event.key, event.value))
                except Exception:  # a malformed message must not stop the read model
                    log.exception("%s: skipping a message that is not a jiedao event", p.name)
            await projection.project(await database.pool_for(p), p, envelopes)

    app.agent(topic, name=f"{p.schema}.{p.name}")(run)
