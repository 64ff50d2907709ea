"""Reactions and periodic tasks: how a service's worker turns other services' events (or its
own), and the passing of time, into commands on the service's OWN event store.

A `Reaction` takes some event types from a topic and acts on each with the service's handler
object (e.g. the grid's `CaseDesk`): `act(context, envelope)`. A `Periodic` task runs every so
many seconds (a setting). Both are declared on the `ServiceSpec` (`reactions`, `periodic`,
`handler`), so every service gets them the same way (shared/streams.py runs them).

Guarantees of a reaction's batch (`until_handled`):
- events of types it does not take are skipped;
- a transient failure (PostgreSQL away, a deadlock, a `ConcurrencyConflict` from two workers
  racing) retries with backoff what is not handled yet; the batch is never acked before;
- an event that can never be handled (a `DomainError` that is not a conflict, data its event
  class refuses, a message that is not a jiedao event) is dead-lettered with its error in the
  service's schema (`jiedao deadletters SERVICE`), and the rest of the batch still handled;
- redelivery is harmless because the command is idempotent: the reaction gets the envelope,
  the handler decides (e.g. a case opened from a report has the report's id).
Unlike a read model's, a reaction's stream is not held behind a dead letter: each command
stands on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared import deadletters
from shared.db import transient
from shared.deadletters import FAILED, DeadLetter, describe, of_event
from shared.envelope import Envelope
from shared.errors import ConcurrencyConflict
from shared.events import EventRegistry
from shared.repository import Repository
from shared.settings import Settings
from shared.store import EventStore

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY, LAST_RETRY_DELAY = 0.1, 5.0  # seconds; doubling in between
CONCURRENT_STREAMS = 8  # streams a batch handles at once (each stream's events in order)


@dataclass(frozen=True)
class ReactionContext:
    """What reactions and periodic tasks act with, made once per worker pool."""

    pool: asyncpg.Pool
    repository: Repository  # on the service's own event store
    settings: Settings
    handler: Any  # what the spec's `handler` factory made (e.g. the grid's CaseDesk)


# (repository, pool, settings) -> the service's handler object
HandlerFactory = Callable[[Repository, asyncpg.Pool, Settings], Any]


@dataclass(frozen=True)
class Reaction:
    """Events of the types it `takes` (from the topic it is declared under) become one
    `act(context, envelope)` each: a command, idempotent under redelivery. `prepare(context,
    envelopes)`, if given, runs before a batch's acts with the events still to act on, to read
    at once what each act would ask the database for (e.g. which of them were handled before):
    only an aid, so a failure is logged and the acts run without it."""

    name: str  # its dead letters' and progress's name, unique in the service
    takes: frozenset[str]
    act: Callable[[ReactionContext, Envelope], Awaitable[Any]]
    prepare: Callable[[ReactionContext, list[Envelope]], Awaitable[Any]] | None = None


@dataclass(frozen=True)
class Periodic:
    """`run(context)` every `getattr(settings, interval)` seconds (slower when a run takes
    more than a tenth of that: `Pace`); a failing run is logged and runs again at the next
    tick. One worker at a time runs it (an advisory lock)."""

    name: str
    interval: str  # the Settings attribute holding its period, in seconds
    run: Callable[[ReactionContext], Awaitable[Any]]


class Pace:
    """When a periodic task may run next: every `interval` seconds, but never for more than
    `share` of the time, so a task whose work grows with the data (a scoring pass over every
    fact) slows down instead of crowding out the worker's event processing."""

    def __init__(self, interval: float, share: float = 0.1) -> None:
        self.interval, self.share = interval, share
        self.next_at = float("-inf")

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def ran(self, started: float, ended: float) -> None:
        self.next_at = started + max(self.interval, (ended - started) / self.share)


@dataclass(frozen=True)
class Agent:
    """Where a worker agent keeps its progress and dead letters: `schema.name` (a read model
    is one too, by its own schema and name; a reaction's schema is its service's)."""

    schema: str
    name: str


async def setup(pool: asyncpg.Pool, schema: str) -> None:
    """Reactions' bookkeeping in their service's schema: their dead letters."""
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)
        await con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema};"
                          + deadletters.DDL.format(s=schema))


class Contexts:
    """The worker's context, made on first use in its event loop, and made again when its
    pool was closed (the store's flusher tasks live with the pool)."""

    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]], service: str,
                 registry: EventRegistry, settings: Settings, handler: HandlerFactory) -> None:
        self.open_pool, self.service, self.registry = pool, service, registry
        self.settings, self.handler = settings, handler
        self._context: ReactionContext | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ReactionContext:
        pool = await self.open_pool()
        async with self._lock:
            if self._context is None or self._context.pool is not pool:
                store = EventStore(pool, self.service, self.service,
                                   linger=self.settings.store_linger_seconds)
                await store.setup()
                await setup(pool, self.service)
                repository = Repository(store, self.registry)
                handler = self.handler(repository, pool, self.settings)
                self._context = ReactionContext(pool, repository, self.settings, handler)
        return self._context


def retried(exc: BaseException) -> bool:
    """Whether a command that failed with `exc` may succeed later, as it is: the database's
    outages, and a writer that got there first (the command is decided again)."""
    return transient(exc) or isinstance(exc, ConcurrencyConflict)


class Batch:
    """One batch of a reaction's events: what is handled so far survives a retry."""

    def __init__(self, reaction: Reaction, envelopes: list[Envelope],
                 malformed: list[DeadLetter]) -> None:
        self.reaction = reaction
        self.todo = [e for e in envelopes if e.type in reaction.takes]
        self.letters = list(malformed)
        self.done: set[Any] = set()  # event ids handled or dead-lettered

    async def handle(self, context: ReactionContext) -> None:
        """Each event not handled yet, each stream's in order; raises the first failure a
        retry may cure after every stream has gone as far as it could."""
        todo = [e for e in self.todo if e.id not in self.done]
        if self.reaction.prepare is not None and todo:
            try:
                await self.reaction.prepare(context, todo)
            except Exception as exc:
                log.warning("%s: batch not prepared (%s); acting without", self.reaction.name,
                            describe(exc))
        streams: dict[str, list[Envelope]] = {}
        for e in todo:
            streams.setdefault(e.stream_id, []).append(e)
        gate = asyncio.Semaphore(CONCURRENT_STREAMS)
        outcomes = await asyncio.gather(*(self._stream(context, events, gate)
                                          for events in streams.values()),
                                        return_exceptions=True)
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed

    async def _stream(self, context: ReactionContext, events: list[Envelope],
                      gate: asyncio.Semaphore) -> None:
        async with gate:
            for event in events:
                try:
                    await self.reaction.act(context, event)
                except Exception as exc:
                    if retried(exc):
                        raise
                    log.warning("%s: dead letter %s v%s %s: %s", self.reaction.name,
                                event.stream_id, event.stream_version, event.id, describe(exc))
                    self.letters.append(of_event(event, FAILED, describe(exc)))
                self.done.add(event.id)


async def until_handled(contexts: Contexts, schema: str, reaction: Reaction,
                        envelopes: list[Envelope], malformed: list[DeadLetter]) -> None:
    """Handle a batch, retrying with backoff what is not handled yet for as long as that
    fails for a reason a retry may cure; never returns before the batch is handled."""
    batch, delay = Batch(reaction, envelopes, malformed), FIRST_RETRY_DELAY
    while True:
        try:
            context = await contexts.get()
            await batch.handle(context)
            if batch.letters:
                async with context.pool.acquire() as con:
                    await deadletters.record(con, schema, reaction.name, batch.letters)
            return
        except Exception as exc:
            if retried(exc):
                log.warning("%s: batch not handled (%s); retrying in %.1f s", reaction.name,
                            describe(exc), delay)
            else:  # not an event's fault (that is dead-lettered): a bug, or no handler
                log.exception("%s: batch not handled; retrying in %.1f s", reaction.name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, LAST_RETRY_DELAY)


async def run_periodic(contexts: Contexts, task: Periodic) -> bool:
    """One tick of `task`, unless another worker is running it now; a failure is logged, not
    raised (the next tick tries again). Returns whether it ran and succeeded."""
    try:
        context = await contexts.get()
        async with context.pool.acquire() as con, con.transaction():
            key = f"periodic {contexts.service}.{task.name}"
            if not await con.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", key):
                return False  # another worker runs it this tick
            await task.run(context)
        return True
    except Exception as exc:
        if retried(exc):
            log.warning("%s: run failed (%s); again at the next tick", task.name, describe(exc))
        else:
            log.exception("%s: run failed; again at the next tick", task.name)
        return False


async def retry(context: ReactionContext, schema: str, reaction: Reaction,
                event_ids: list[str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Handle a reaction's dead letters again after a fix (all, or these events): what is
    handled now leaves the table, what fails again stays with its new error. Returns how many
    were handled and the dead letters left. A message that is not an event stays."""
    rows = await context.pool.fetch(
        f"SELECT event_id, message FROM {schema}.dead_letters WHERE projection = $1 "
        "AND stream_id IS NOT NULL AND ($2::text[] IS NULL OR event_id = ANY($2::text[])) "
        "ORDER BY recorded_at, stream_id, version", reaction.name, event_ids)
    batch = Batch(reaction, [deadletters.event_of(row["message"]) for row in rows], [])
    await batch.handle(context)
    failed = {letter.event_id for letter in batch.letters}
    handled = [row["event_id"] for row in rows if row["event_id"] not in failed]
    async with context.pool.acquire() as con, con.transaction():
        await deadletters.record(con, schema, reaction.name, batch.letters)
        await con.execute(f"DELETE FROM {schema}.dead_letters WHERE projection = $1 "
                          "AND event_id = ANY($2::text[])", reaction.name, handled)
        still = await deadletters.listing(con, schema, reaction.name)
    wanted = set(event_ids) if event_ids else None
    return len(handled), [d for d in still if wanted is None or d["event_id"] in wanted]
