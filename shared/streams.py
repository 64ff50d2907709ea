"""Faust stream processing: one app per service worker, one reader per topic it reads, feeding
every read model and reaction the service keeps on that topic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import faust
from faust.types import Message

from shared import deadletters, faust_transport, projection
from shared.db import client_name, create_pool, transient
from shared.deadletters import DeadLetter, describe
from shared.envelope import Envelope
from shared.kafka import from_message
from shared.projection import Projection, keeps
from shared.reactions import Contexts, Pace, Periodic, Reaction, run_periodic, until_handled
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.store import EventStore
from shared.worker_health import ConsumerProgress

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY, LAST_RETRY_DELAY = 0.1, 5.0  # seconds; doubling in between


def create_worker_app(spec: ServiceSpec, settings: Settings) -> faust.App:
    """The service's worker: one reader per topic it reads, feeding each batch to every read
    model (its own topic's fill version gaps from its own store, its replicas' cannot) and
    reaction (shared/reactions.py) the spec declares on that topic; a timer per periodic task."""
    app = create_faust_app(spec.name, settings)
    database = ReadModelDatabase(settings.require_database(), client_name(spec.name, "worker"))
    contexts = Contexts(database.pool, spec.name, spec.registry, settings, spec.handler)
    feeds: dict[str, list[Feed]] = {}
    for source, p in spec.feeds():
        own_store = spec.name if source == spec.name else None
        feeds.setdefault(source, []).append(
            projection_feed(p, settings.topic(source), database, own_store))
    for source, r in spec.reaction_feeds():
        feeds.setdefault(source, []).append(
            reaction_feed(r, settings.topic(source), spec.name, contexts))
    for source, fed in feeds.items():
        add_topic_reader(app, settings.topic(source), fed)
    add_progress_timer(app, [feed for fed in feeds.values() for feed in fed])
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
    app.transport = faust_transport.transport(app, settings.kafka_fetch_max_wait_ms)
    return app


class ReadModelDatabase:
    """The worker's pool, made on first use (inside the worker's event loop), and made again
    if it was closed."""

    def __init__(self, url: str, name: str = "jiedao worker") -> None:
        self.url, self.name = url, name  # name: its connections' (shared/db.py client_name)
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
            self._pool = await create_pool(self.url, name=self.name)
        return self._pool

    def store(self, pool: asyncpg.Pool, schema: str | None) -> EventStore | None:
        """The service's own event store (read only), to fill version gaps from."""
        return None if schema is None else EventStore(pool, schema, schema)


@dataclass(frozen=True)
class Feed:
    """A read model or a reaction fed by its topic's agent: which events it takes (by stream
    id and type), how a batch of them is applied (retrying until it is), its progress."""

    progress: ConsumerProgress
    takes: Callable[[str, str], bool]  # (stream id, event type) -> whether it keeps the event
    apply: Callable[[list[Envelope], list[DeadLetter]], Awaitable[None]]
    pool: Callable[[], Awaitable[asyncpg.Pool]]  # where its progress is written


def projection_feed(p: Projection, topic: str, database: ReadModelDatabase,
                    own_store: str | None) -> Feed:
    """`p` fed exactly once per event (shared/projection.py). `own_store`: the schema of the
    service's own event store when the topic is fed from it (missing versions are read there)."""
    async def apply(envelopes: list[Envelope], malformed: list[DeadLetter]) -> None:
        await until_applied(database, p, envelopes, malformed, own_store)

    return Feed(ConsumerProgress(p.schema, p.name, topic),
                lambda stream_id, _: keeps(p, stream_id), apply, lambda: database.pool_for(p))


def reaction_feed(r: Reaction, topic: str, schema: str, contexts: Contexts) -> Feed:
    """`r`'s events turned into commands (shared/reactions.py)."""
    async def apply(envelopes: list[Envelope], malformed: list[DeadLetter]) -> None:
        await until_handled(contexts, schema, r, envelopes, malformed)

    return Feed(ConsumerProgress(schema, r.name, topic), lambda _, type_: type_ in r.takes,
                apply, contexts.open_pool)


def add_topic_reader(app: faust.App, topic_name: str, feeds: list[Feed]) -> None:
    """Read `topic_name` a fetched batch at a time (shared/faust_transport.py): decode each
    event once, pass over the events no feed takes (told by their headers, undecoded), and
    hand each feed the events it takes; the batch is acked only once every feed applied its
    part. They apply concurrently, each retrying until it has: one feed's poison event is its
    own dead letter, the others apply it; a feed that keeps failing (its database away) holds
    back the topic's next batch for all of them."""
    async def read(messages: list[Message]) -> None:
        parts = split(messages, feeds)
        await asyncio.gather(*(feed.apply(envelopes, letters) for feed, (envelopes, letters)
                               in zip(feeds, parts, strict=True) if envelopes or letters))
        for feed in feeds:
            feed.progress.applied(messages)

    faust_transport.add_reader(app, topic_name, read)


def add_progress_timer(app: faust.App, feeds: list[Feed]) -> None:
    """Every second, each feed's progress through its topic (shared/worker_health.py)."""
    async def report_progress() -> None:
        for feed in feeds:
            await feed.progress.report(feed.pool, app.consumer)

    app.timer(1.0, name="progress")(report_progress)


def add_periodic_timer(app: faust.App, task: Periodic, seconds: float,
                       contexts: Contexts) -> None:
    pace = Pace(seconds)

    async def tick() -> None:
        if pace.due(started := time.monotonic()):
            await run_periodic(contexts, task)
            pace.ran(started, time.monotonic())

    app.timer(seconds, name=f"periodic.{task.name}")(tick)


def split(messages: list[Message], feeds: list[Feed]
          ) -> list[tuple[list[Envelope], list[DeadLetter]]]:
    """Each feed's events of the batch, and its messages that are not jiedao events (dead
    letters of every feed that might take them). An event no feed takes is never decoded."""
    parts: list[tuple[list[Envelope], list[DeadLetter]]] = [([], []) for _ in feeds]
    for message in messages:
        said = peek(message.headers)
        takers = [part for feed, part in zip(feeds, parts, strict=True)
                  if said is None or feed.takes(*said)]
        if not takers:
            continue
        try:
            envelope = from_message(message.headers, message.key, message.value)
        except Exception as exc:
            letter = malformed(message, exc)
            for part in takers:
                part[1].append(letter)
            continue
        for feed, part in zip(feeds, parts, strict=True):
            if feed.takes(envelope.stream_id, envelope.type):
                part[0].append(envelope)
    return parts


def peek(headers: Any) -> tuple[str, str] | None:
    """(stream id, event type) from a message's headers, None if it does not carry them."""
    items = headers.items() if isinstance(headers, dict) else headers
    found = {name: raw for name, raw in items if name in ("ce_streamid", "ce_type")}
    try:
        return found["ce_streamid"].decode(), found["ce_type"].decode()
    except (KeyError, UnicodeDecodeError):
        return None


def malformed(m: Message, exc: Exception) -> DeadLetter:
    log.warning("%s[%s]@%s is not a jiedao event: %s", m.topic, m.partition, m.offset, exc)
    headers = m.headers.items() if isinstance(m.headers, dict) else m.headers
    return deadletters.of_message(f"{m.topic}[{m.partition}]@{m.offset}", headers,
                                  m.value, describe(exc))


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
