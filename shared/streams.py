"""Faust stream processing: one app per service worker, agents that run projections."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import faust

from shared import projection
from shared.db import create_pool
from shared.kafka import from_message
from shared.projection import Projection
from shared.settings import Settings
from shared.worker_health import ConsumerProgress

log = logging.getLogger(__name__)


def create_faust_app(name: str, settings: Settings) -> faust.App:
    brokers = ";".join(f"kafka://{b}" for b in settings.require_kafka().split(","))
    datadir = settings.data_dir / "faust" / name
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
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
    app: faust.App, topic_name: str, p: Projection, database: ReadModelDatabase
) -> None:
    """An agent that applies `topic_name`'s events to `p` in batches, exactly once each."""
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    progress = ConsumerProgress(p.schema, p.name, topic_name)

    async def run(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=0.1):
            envelopes = []
            for event in events:
                try:
                    envelopes.append(from_message(event.headers, event.key, event.value))
                except Exception:  # a malformed message must not stop the read model
                    log.exception("%s: skipping a message that is not a jiedao event", p.name)
            await projection.project(await database.pool_for(p), p, envelopes)
            progress.applied(events)

    async def report_progress() -> None:
        await progress.report(lambda: database.pool_for(p), app.consumer)

    app.agent(topic, name=f"{p.schema}.{p.name}")(run)
    app.timer(1.0, name=f"{p.schema}.{p.name}.progress")(report_progress)
