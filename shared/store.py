"""The event store: one PostgreSQL schema per service, append-only, hash-chained per stream.

Appends are coalesced: concurrent `append` calls wait on a queue, and a flusher task (one by
default) writes everything that queued while the previous transaction was in flight in one
transaction with one COPY (group commit). Each append is still checked on its own: optimistic
concurrency per stream, the versions of the streams its decision read, idempotency by event
id. Each append transaction also NOTIFYs `<schema>_appended`, so followers can sleep.

A flush whose appends all create their streams (a filing, a report: the commonest writes) is
one statement instead of a transaction of six round trips: every head is known (version 0,
the genesis hash), so its events are sealed before it runs, and `append_to_new_streams`
(shared/event_table.py) checks what was assumed and refuses, writing nothing, if a stream
exists or a stream read has moved; the general path then decides each append again. At one to
four events a flush it costs about half the client's CPU and a fifth to two fifths less of
PostgreSQL's; above `ONE_STATEMENT_MAX_EVENTS` the COPY is cheaper (bench/README.md, "One
statement for new streams").

Global positions come from a sequence. A transaction takes its transaction id *before* it draws
positions, which is what lets `LogFollower` (shared/follower.py) prove that a gap is final.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.envelope import GENESIS_HASH, Envelope, NewEvent, seal
from shared.errors import (
    ConcurrencyConflict,
    IdempotencyMismatch,
    StaleRead,
    StoreUnavailable,
)
from shared.event_table import (
    COPY_COLUMNS,
    EVENT_COLUMNS,
    SCHEMA_DDL,
    envelope_from_row,
    event_row,
    validate_schema_name,
)

ANY_VERSION = None

RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
UNAVAILABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
               asyncpg.InternalClientError)  # (what a connection killed mid-query may raise)


@dataclass(frozen=True, slots=True)
class AppendResult:
    version: int
    positions: list[int]
    replayed: bool = False


@dataclass(slots=True)
class _Append:
    stream_id: str
    expected: int | None
    events: list[NewEvent]
    future: asyncio.Future[AppendResult]
    read: Mapping[str, int]  # other streams the decision relied on, at these versions
    envelopes: list[Envelope] = field(default_factory=list)


def _result_of(stored: list[asyncpg.Record], *, replayed: bool = False) -> AppendResult:
    """The result of an append whose events are all found `stored`."""
    return AppendResult(version=max(row["version"] for row in stored),
                        positions=[row["position"] for row in stored], replayed=replayed)


NOT_ALL_NEW = "JD001"  # append_to_new_streams refused: a stream exists, or one read moved
# Up to this many events a flush, one statement costs less than the general path's COPY;
# beyond, COPY costs less (bench/README.md, "One statement for new streams").
ONE_STATEMENT_MAX_EVENTS = 64


def _all_new(batch: list[_Append]) -> bool:
    """Whether the batch is small, every append of it creates its stream, each stream once, no
    decision read a stream the batch writes, and the decisions that read a stream saw it at one
    version: such a batch can be sealed before its statement runs (`EventStore._commit_new`)."""
    written = {request.stream_id for request in batch}
    seen: dict[str, int] = {}
    return (sum(len(request.events) for request in batch) <= ONE_STATEMENT_MAX_EVENTS
            and len(written) == len(batch)
            and all(request.expected == 0 for request in batch)
            and all(stream not in written and seen.setdefault(stream, version) == version
                    for request in batch for stream, version in request.read.items()))


class Appends:
    """Signalled whenever an append to the store commits."""

    def __init__(self) -> None:
        self._signal = asyncio.Event()
        self._lost = False

    def arrived(self, *_: object) -> None:
        self._signal.set()

    def lost(self, *_: object) -> None:
        self._lost = True
        self._signal.set()

    def clear(self) -> None:
        self._signal.clear()

    async def wait(self, timeout: float) -> None:
        """Until an append commits (since the last `clear`) or `timeout` seconds pass. Raises
        `StoreUnavailable` once the listening connection is gone: listen again."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), timeout)
        if self._lost:
            raise StoreUnavailable("lost the connection that listens for appends")


class EventStore:
    """One service's event store. Make it in a composition root; `close()` it on shutdown."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        source: str,
        *,
        # One transaction in flight per process, taking everything that queued meanwhile:
        # fewer, bigger flushes cost less CPU per event than several side by side, and CPU is
        # what runs out first under a service's load (bench/README.md has the sweep).
        flushers: int = 1,
        max_batch_events: int = 5000,  # a flush always takes at least one whole append
        linger: float = 0.0,
    ) -> None:
        self.pool = pool
        self.schema = validate_schema_name(schema)
        self.source = source
        self.channel = f"{self.schema}_appended"  # PostgreSQL NOTIFY channel, see `appends()`
        self._append_new_sql = (f"SELECT {self.schema}.append_to_new_streams("
                                + ", ".join(f"${n}" for n in range(1, 25)) + ")")
        self._flushers = flushers
        self._max_batch_events = max_batch_events
        self._linger = linger
        self._queue: asyncio.Queue[_Append] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def setup(self) -> None:
        """Create the schema and tables if they are missing (safe to run concurrently)."""
        ddl = SCHEMA_DDL.format(s=self.schema, genesis=GENESIS_HASH.hex())
        async with self.pool.acquire() as con:
            async with con.transaction():
                await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
                await con.execute(ddl)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- writing -------------------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: list[NewEvent],
        *,
        read: Mapping[str, int] | None = None,
    ) -> AppendResult:
        """Append `events` to `stream_id` if it is at `expected_version` (0: a new stream;
        None: any version). Retrying with the same event ids returns the first result.

        `read` names other streams the decision relied on and the versions it saw (e.g. the
        catalogue matter a filing is for): the append fails with `StaleRead` if any of them
        has moved on since. Those streams are share-locked until the append commits, so
        nothing can be appended to them in between, and the log never shows the decision
        after a change it did not see."""
        if not events:
            raise ValueError("append needs at least one event")
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._flush_forever()) for _ in range(self._flushers)
            ]
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(
            _Append(stream_id, expected_version, list(events), future, read or {})
        )
        return await future

    async def _flush_forever(self) -> None:
        busy = False
        while True:
            batch = [await self._queue.get()]
            if busy and self._linger:
                # Appends came in while the last flush was in flight: more are coming. Wait a
                # little for them, so one transaction (whose cost hardly depends on its size)
                # carries several. A lone writer, appending only after its last append was
                # answered, never waits.
                await asyncio.sleep(self._linger)
            size = len(batch[0].events)
            while size < self._max_batch_events and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                size += len(batch[-1].events)
            await self._flush(batch)
            busy = not self._queue.empty()

    async def _flush(self, batch: list[_Append]) -> None:
        for attempt in range(5):
            try:
                outcomes = await self._commit(batch)
                break
            except RETRYABLE:
                if attempt == 4:
                    outcomes = [StoreUnavailable("append kept deadlocking")] * len(batch)
                    break
                await asyncio.sleep(0.001 * 2**attempt)
            except asyncpg.UniqueViolationError:
                if len(batch) > 1:  # one append reused an id of another stream: find it,
                    for request in batch:  # so that only that one fails
                        await self._flush([request])
                    return
                outcomes = [IdempotencyMismatch(
                    "an event id of this append is already stored (in another stream, or "
                    "earlier in this one) or appears twice in the append")]
                break
            except UNAVAILABLE as exc:
                outcomes = await self._outcomes_after_lost_connection(batch, exc)
                break
            except Exception as exc:  # an unexpected fault must reach every waiting caller
                outcomes = [exc] * len(batch)
                break
        for request, outcome in zip(batch, outcomes, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    async def _outcomes_after_lost_connection(
        self, batch: list[_Append], exc: BaseException
    ) -> list[AppendResult | Exception]:
        """The connection died, perhaps during COMMIT, so whether the batch was stored is
        unknown: look its event ids up on another connection and answer with the truth. An
        append found stored succeeded; one not found (or when the store can't be asked) gets
        `StoreUnavailable`, which a retry with the same event ids turns into the right answer."""
        unavailable = StoreUnavailable(f"event store unavailable ({type(exc).__name__})")
        unavailable.__cause__ = exc  # the log shows what it was (shared/http.py server_fault)
        for attempt in range(3):
            try:
                stored = await self._stored_ids(
                    self.pool, [e.id for request in batch for e in request.events])
                break
            except UNAVAILABLE:
                await asyncio.sleep(0.05 * 2**attempt)
        else:
            return [unavailable] * len(batch)
        outcomes: list[AppendResult | Exception] = []
        for request in batch:
            hits = [stored.get(event.id) for event in request.events]
            outcomes.append(_result_of(hits) if all(hits) else unavailable)
        return outcomes

    async def _commit(self, batch: list[_Append]) -> list[AppendResult | Exception]:
        if _all_new(batch):
            try:
                return await self._commit_new(batch)
            except asyncpg.PostgresError as exc:
                if exc.sqlstate != NOT_ALL_NEW:
                    raise
        async with self.pool.acquire() as con, con.transaction():
            heads, read = await self._lock_heads(con, batch)
            known = await self._stored(con, batch, heads)
            outcomes, accepted = self._decide(batch, heads, known, read)
            if accepted:
                envelopes = [env for i in accepted for env in batch[i].envelopes]
                positions = await self._insert(con, envelopes, heads)
                for i in accepted:
                    request = batch[i]
                    outcomes[i] = AppendResult(
                        version=request.envelopes[-1].stream_version,
                        positions=[positions[env.id] for env in request.envelopes],
                    )
        return outcomes

    async def _commit_new(self, batch: list[_Append]) -> list[AppendResult | Exception]:
        """A batch that only creates streams, in one statement: every head is known (version
        0, the genesis hash), so the events are sealed before it runs, and the streams the
        decisions read are assumed unmoved. The statement (`append_to_new_streams`,
        shared/event_table.py) checks both and refuses with NOT_ALL_NEW if either is wrong,
        writing nothing; the general path then decides again. One round trip where the general
        path takes six."""
        heads = {request.stream_id: (0, GENESIS_HASH) for request in batch}
        assumed = {stream: seen for request in batch for stream, seen in request.read.items()}
        self._decide(batch, heads, {}, assumed)  # accepts all: each at version 0, reads as seen
        envelopes = [envelope for request in batch for envelope in request.envelopes]
        columns = zip(*(event_row(0, envelope) for envelope in envelopes), strict=True)
        streams = sorted(heads)
        async with self.pool.acquire() as con:
            positions = await con.fetchval(
                self._append_new_sql,
                streams, [heads[s][0] for s in streams], [heads[s][1] for s in streams],
                list(assumed), list(assumed.values()), self.channel,
                *list(columns)[1:],  # (the position column: drawn by the statement)
            )
        drawn = {envelope.id: n for envelope, n in zip(envelopes, positions, strict=True)}
        return [AppendResult(version=request.envelopes[-1].stream_version,
                             positions=[drawn[envelope.id] for envelope in request.envelopes])
                for request in batch]

    async def _lock_heads(
        self, con: asyncpg.Connection, batch: list[_Append]
    ) -> tuple[dict[str, tuple[int, bytes]], dict[str, int]]:
        """Lock the head row of every stream the batch writes (in sorted order, so concurrent
        flushes cannot deadlock) and share-lock the streams it read.

        The upsert writes, so the transaction takes its id here, before `_insert` draws
        positions: the ordering that LogFollower relies on."""
        written = sorted({request.stream_id for request in batch})
        rows = await con.fetch(
            f"WITH heads AS (INSERT INTO {self.schema}.streams (stream_id) "
            "SELECT unnest($1::text[]) ON CONFLICT (stream_id) "
            "DO UPDATE SET stream_id = excluded.stream_id "
            "RETURNING stream_id, version, last_hash), "
            f"reads AS (SELECT stream_id, version FROM {self.schema}.streams "
            "WHERE stream_id = ANY($2::text[]) ORDER BY stream_id FOR SHARE) "
            "SELECT stream_id, version, last_hash FROM heads UNION ALL "
            "SELECT stream_id, version, NULL FROM reads",
            written,
            sorted({s for request in batch for s in request.read}.difference(written)),
        )
        heads = {r["stream_id"]: (r["version"], bytes(r["last_hash"]))
                 for r in rows if r["last_hash"] is not None}
        read = {r["stream_id"]: r["version"] for r in rows if r["last_hash"] is None}
        return heads, read

    async def _stored(
        self, con: asyncpg.Connection, batch: list[_Append], heads: dict[str, tuple[int, bytes]]
    ) -> dict[UUID, asyncpg.Record]:
        """Which event ids are already stored, for the appends that could be retries: an
        append made at its stream's current version cannot have been stored before (if it
        reuses an id anyway, `UNIQUE (id)` stops it), so its ids need no lookup."""
        ids = [event.id for request in batch
               if request.expected is None or request.expected != heads[request.stream_id][0]
               for event in request.events]
        return await self._stored_ids(con, ids) if ids else {}

    async def _stored_ids(
        self, con: asyncpg.Connection | asyncpg.Pool, ids: list[UUID]
    ) -> dict[UUID, asyncpg.Record]:
        rows = await con.fetch(
            f"SELECT id, stream_id, stream_version AS version, position "
            f"FROM {self.schema}.events WHERE id = ANY($1::uuid[])", ids,
        )
        return {row["id"]: row for row in rows}

    def _decide(
        self,
        batch: list[_Append],
        heads: dict[str, tuple[int, bytes]],
        known: dict[UUID, asyncpg.Record],
        read: dict[str, int],
    ) -> tuple[list[AppendResult | Exception], list[int]]:
        """Check each append on its own (idempotent replay, expected version, streams read)
        and seal the accepted ones onto their stream's chain; `heads` advances as they are
        accepted, so a later append in the batch sees what an earlier one wrote."""
        outcomes: list[AppendResult | Exception] = []
        accepted: list[int] = []
        for i, request in enumerate(batch):
            hits = [known.get(event.id) for event in request.events]
            version, last_hash = heads[request.stream_id]
            if any(hit and hit["stream_id"] != request.stream_id for hit in hits):
                outcomes.append(IdempotencyMismatch("an event id is already used in another "
                                                    "stream"))
                continue
            if all(hits):
                outcomes.append(_result_of(hits, replayed=True))
                continue
            if any(hits):
                outcomes.append(IdempotencyMismatch(
                    "some of these event ids were already appended, others not"
                ))
                continue
            if request.expected is not None and request.expected != version:
                outcomes.append(ConcurrencyConflict(request.stream_id, request.expected, version))
                continue
            moved = {stream: now for stream, seen in request.read.items()
                     if (now := heads[stream][0] if stream in heads else read.get(stream, 0))
                     != seen}
            if moved:
                outcomes.append(StaleRead(moved))
                continue
            request.envelopes.clear()  # a retried flush (after a deadlock) seals afresh
            for event in request.events:
                version += 1
                envelope = seal(
                    event, source=self.source, stream_id=request.stream_id,
                    stream_version=version, prev_hash=last_hash,
                )
                last_hash = envelope.hash
                request.envelopes.append(envelope)
            heads[request.stream_id] = (version, last_hash)
            accepted.append(i)
            outcomes.append(AppendResult(version=version, positions=[]))  # filled after insert
        return outcomes, accepted

    async def _insert(
        self,
        con: asyncpg.Connection,
        envelopes: list[Envelope],
        heads: dict[str, tuple[int, bytes]],
    ) -> dict[UUID, int]:
        """Move the streams' heads, draw positions, and COPY the sealed envelopes in."""
        touched = sorted({e.stream_id for e in envelopes})
        positions = await con.fetch(
            f"WITH moved AS (UPDATE {self.schema}.streams AS s "
            "SET version = h.version, last_hash = h.last_hash "
            "FROM unnest($1::text[], $2::int[], $3::bytea[]) AS h(stream_id, version, last_hash) "
            "WHERE s.stream_id = h.stream_id), "
            "told AS MATERIALIZED (SELECT pg_notify($5, '')) "  # once; delivered at commit
            f"SELECT nextval('{self.schema}.event_position') FROM generate_series(1, $4), told",
            touched,
            [heads[t][0] for t in touched],
            [heads[t][1] for t in touched],
            len(envelopes),
            self.channel,
        )
        numbers = [row[0] for row in positions]
        await con.copy_records_to_table(
            "events",
            schema_name=self.schema,
            columns=COPY_COLUMNS,
            records=[event_row(n, e) for n, e in zip(numbers, envelopes, strict=True)],
        )
        return {e.id: n for n, e in zip(numbers, envelopes, strict=True)}

    # -- reading -------------------------------------------------------------------------------

    @asynccontextmanager
    async def appends(self) -> AsyncIterator[Appends]:
        """News of committed appends (PostgreSQL LISTEN/NOTIFY on a connection held while the
        context is open), so a follower can sleep until there is something to read."""
        news = Appends()
        async with self.pool.acquire() as con:
            con.add_termination_listener(news.lost)
            await con.add_listener(self.channel, news.arrived)
            try:
                yield news
            finally:
                con.remove_termination_listener(news.lost)
                if not con.is_closed():  # (a connection that died unnoticed must not hang us)
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(1):
                            await con.remove_listener(self.channel, news.arrived)

    async def read_stream(
        self,
        stream_id: str,
        *,
        up_to_version: int | None = None,
        up_to_time: datetime | None = None,
    ) -> list[Envelope]:
        """A stream's events in version order, optionally as it stood at a version or time."""
        try:
            rows = await self.pool.fetch(
                f"SELECT {EVENT_COLUMNS} FROM {self.schema}.events WHERE stream_id = $1 "
                "AND ($2::int IS NULL OR stream_version <= $2) "
                "AND ($3::timestamptz IS NULL OR time <= $3) ORDER BY stream_version",
                stream_id,
                up_to_version,
                up_to_time,
            )
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"event store unavailable ({type(exc).__name__})") from exc
        return [envelope_from_row(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        return (await self.stream_versions([stream_id])).get(stream_id, 0)

    async def stream_versions(self, stream_ids: list[str]) -> dict[str, int]:
        """The current version of each of these streams that exists."""
        rows = await self.pool.fetch(
            f"SELECT stream_id, version FROM {self.schema}.streams "
            "WHERE stream_id = ANY($1::text[]) AND version > 0", stream_ids,
        )
        return {row["stream_id"]: row["version"] for row in rows}

