"""Faust stream processing: one app per service worker, one agent per read model it keeps."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from shared import deadletters, projection
from shared.db import create_pool, transient
from shared.deadletters import DeadLetter, describe
from shared.envelope import Envelope
from shared.kafka import from_message
from shared.projection import Projection
from shared.reactions import Contexts, Periodic, Reaction, run_periodic, until_handled
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.store import EventStore
from shared.worker_health import ConsumerProgress

log = logging.getLogger(__name__)

WORKER_CONNECTION_NAME = "jiedao worker"  # its connections' application_name
FIRST_RETRY_DELAY, LAST_RETRY_DELAY = 0.1, 5.0  # seconds; doubling in between


def create_worker_app(spec: ServiceSpec, settings: Settings) -> faust.App:
    """The service's worker: an agent per (topic, read model) its spec declares; its own
    topic's agents fill version gaps from its own store, its replicas' cannot. Then an agent
    per (topic, reaction) and a timer per periodic task (shared/reactions.py)."""
    app = create_faust_app(spec.name, settings)
    database = ReadModelDatabase(settings.require_database())
    for source, p in spec.feeds():
        add_projection_agent(app, settings.topic(source), p, database,
                             settings.read_batch_seconds,
                             own_store=spec.name if source == spec.name else None)
    contexts = Contexts(database.pool, spec.name, spec.registry, settings, spec.handler)
    for source, r in spec.reaction_feeds():
        add_reaction_agent(app, settings.topic(source), r, spec.name, contexts,
                           settings.read_batch_seconds)
    for task in spec.periodic:
        add_periodic_timer(app, task, float(getattr(settings, task.interval)), contexts)
    return app


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
    """The worker's pool, made on first use (inside the worker's event loop), and made again
    if it was closed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._ready: set[str] = set()

    async def pool(self) -> asyncpg.Pool:
        async with self._lock:
            return await self._open()

    async def pool_for(self, p: Projection) -> asyncpg.Pool:
        async with self._lock:
            pool = await self._open()
            if p.name not in self._ready:
                await projection.setup(pool, p)
                self._ready.add(p.name)
        return pool

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None or self._pool.is_closing():
            self._pool = await create_pool(self.url, name=WORKER_CONNECTION_NAME)
        return self._pool

    def store(self, pool: asyncpg.Pool, schema: str | None) -> EventStore | None:
        """The service's own event store (read only), to fill version gaps from."""
        return None if schema is None else EventStore(pool, schema, schema)


def add_projection_agent(
    app: faust.App, topic_name: str, p: Projection, database: ReadModelDatabase,
    batch_seconds: float, *, own_store: str | None = None,
) -> None:
    """An agent that applies `topic_name`'s events to `p` in batches, exactly once each, never
    moving on from a batch before it is applied; an event waits at most `batch_seconds` for
    others to join its batch. `own_store`: the schema of the service's own event store when
    `topic_name` is fed from it (missing versions are read from it)."""
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    progress = ConsumerProgress(p.schema, p.name, topic_name)

    async def run(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=batch_seconds):
            envelopes, malformed = read(events)
            try:
                await until_applied(database, p, envelopes, malformed, own_store)
                progress.applied(events)
            except asyncio.CancelledError:
                # take_events acks the batch as it closes: keep this unapplied one uncommitted.
                for event in events:
                    event.message.acked = True
                raise

    async def report_progress() -> None:
        await progress.report(lambda: database.pool_for(p), app.consumer)

    app.agent(topic, name=f"{p.schema}.{p.name}")(run)
    app.timer(1.0, name=f"{p.schema}.{p.name}.progress")(report_progress)


def add_reaction_agent(app: faust.App, topic_name: str, r: Reaction, schema: str,
                       contexts: Contexts, batch_seconds: float) -> None:
    """An agent that turns `topic_name`'s events of the types `r` takes into commands, in
    batches, never moving on from a batch before it is handled (shared/reactions.py)."""
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    progress = ConsumerProgress(schema, r.name, topic_name)

    async def run(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=batch_seconds):
            envelopes, malformed = read(events)
            try:
                await until_handled(contexts, schema, r, envelopes, malformed)
                progress.applied(events)
            except asyncio.CancelledError:
                for event in events:  # as in add_projection_agent: keep it uncommitted
                    event.message.acked = True
                raise

    async def report_progress() -> None:
        await progress.report(contexts.open_pool, app.consumer)

    app.agent(topic, name=f"{schema}.{r.name}")(run)
    app.timer(1.0, name=f"{schema}.{r.name}.progress")(report_progress)


def add_periodic_timer(app: faust.App, task: Periodic, seconds: float,
                       contexts: Contexts) -> None:
    async def tick() -> None:
        await run_periodic(contexts, task)

    app.timer(seconds, name=f"periodic.{task.name}")(tick)


def read(events: list[faust.types.EventT]) -> tuple[list[Envelope], list[DeadLetter]]:
    """The batch's events, and its messages that are not jiedao events, as dead letters."""
    envelopes, malformed = [], []
    for event in events:
        m = event.message
        try:
            envelopes.append(from_message(event.headers, event.key, event.value))
        except Exception as exc:
            log.warning("%s[%s]@%s is not a jiedao event: %s", m.topic, m.partition, m.offset, exc)
            headers = event.headers.items() if isinstance(event.headers, dict) else event.headers
            malformed.append(deadletters.of_message(f"{m.topic}[{m.partition}]@{m.offset}",
                                                    headers, event.value, describe(exc)))
    return envelopes, malformed


async def until_applied(database: ReadModelDatabase, p: Projection, envelopes: list[Envelope],
                        malformed: list[DeadLetter], own_store: str | None) -> None:
    """Apply a batch, retrying with backoff for as long as it fails (PostgreSQL restarting,
    a lost connection, a deadlock): a batch is never left behind unapplied."""
    delay = FIRST_RETRY_DELAY
    while True:
        try:
            pool = await database.pool_for(p)
            if malformed:
                async with pool.acquire() as con:
                    await deadletters.record(con, p.schema, p.name, malformed)
            await projection.project(pool, p, envelopes, store=database.store(pool, own_store))
            return
        except Exception as exc:
            if transient(exc):
                log.warning("%s: batch not applied (%s); retrying in %.1f s", p.name,
                            describe(exc), delay)
            else:  # not the event's fault (that is dead-lettered): a bug or the database's
                log.exception("%s: batch not applied; retrying in %.1f s", p.name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, LAST_RETRY_DELAY)
