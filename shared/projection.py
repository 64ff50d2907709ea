"""Apply events to a read model exactly once and in stream order, however often they are
delivered and whatever one of them holds.

Kafka (and Faust after a rebalance) may deliver an event more than once. Each read model keeps,
in the same transaction as its rows, the last version it applied of every stream; an event at
or below that version is skipped. A batch is applied in one transaction.

A stream is never applied over a hole: a missing version is read from the service's own store
when the projection is fed from it (`store`), else the event is held as a dead letter (`gap`).
An event whose writes fail with an error no retry cures (bad data, a broken projection) does
not stop the read model: the batch is applied again event by event, each in a savepoint; the
event becomes a dead letter and its stream's later versions are held behind it until a retry
(shared/deadletters.py). Errors a retry cures (a lost connection, a deadlock) propagate: the
caller retries the whole batch, which is applied once whatever happened before.

Checkpoints are optimistic: a batch reads its streams' versions with a plain SELECT (no row
written, no lock taken), applies what is newer, and at its end moves each checkpoint it
advanced only from the version it read (`UPDATE ... WHERE version = <read>`; a stream new to
the read model: `INSERT ... ON CONFLICT DO NOTHING`), counting the rows that moved. If one did
not, another applier (two workers during a Faust rebalance, a retry of dead letters) committed
that stream first: the batch raises `CheckpointMoved`, which `shared.db.transient` calls
transient, so its whole transaction is undone and the caller applies the batch again, skipping
what the other applied. A waiting UPDATE or INSERT sees the other's commit, so neither can
apply an event twice, and a batch writes one checkpoint tuple per stream it advanced.

A rebuild holds the projection's advisory lock for its whole run and each batch takes it
shared, so a worker's batch waits for a rebuild, then skips what the rebuild applied.

A projection only says what to write (`statements`, pure); `project` runs the writes of a
whole batch, each run of consecutive statements with the same SQL as one `executemany`
(asyncpg pipelines it: one round trip instead of one per event). A projection whose events
write only their own stream's rows (`independent_streams`) has its batch's statements taken
across streams, each stream's in order, so a batch costs a round trip per kind of statement.
A write that is a `Rows` (one row of scalars for SQL that takes one array per column) costs
less still: a run of them is ONE execution, the rows transposed into arrays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from shared import deadletters
from shared.db import transient
from shared.deadletters import FAILED, GAP, HELD, DeadLetter, describe, of_event
from shared.envelope import Envelope
from shared.errors import CheckpointMoved
from shared.follower import LogFollower
from shared.store import EventStore
from shared.write_runs import Rows, Run, Statement, Write, runs, stream_runs

__all__ = ["Rows", "Run", "Statement", "Write", "runs", "stream_runs"]  # also theirs to use

log = logging.getLogger(__name__)

CHECKPOINTS_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.checkpoints (
    projection  text NOT NULL,
    stream_id   text NOT NULL,
    version     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (projection, stream_id)
);
"""

def projected_channel(schema: str) -> str:
    """The NOTIFY channel `project()` signals when it commits to a read model schema."""
    return f"{schema}_projected"


class Projection(Protocol):
    name: str
    schema: str
    # The stream id prefixes whose events it keeps (e.g. `("case-",)`); empty: every stream.
    # Events of other streams are passed over before any write, checkpoints included: a
    # replica of a busy topic pays nothing for the streams it does not keep.
    streams: tuple[str, ...]
    # True when an event's writes touch only its own stream's rows (optional; default False):
    # then the writes of different streams may be reordered into fewer round trips.
    independent_streams: bool

    def ddl(self) -> str:
        """CREATE ... IF NOT EXISTS statements for the read model's tables."""
        ...

    def tables(self) -> list[str]:
        """The tables a rebuild empties."""
        ...

    def statements(self, event: Envelope) -> Iterable[Write]:
        """The writes that apply `event` to the read model, in order (pure: no I/O)."""
        ...


def keeps(projection: Projection, stream_id: str) -> bool:
    """Whether `projection` keeps (and checkpoints) the stream `stream_id`."""
    prefixes = getattr(projection, "streams", ())
    return not prefixes or stream_id.startswith(prefixes)


async def _write(con: asyncpg.Connection, statements: list[Write]) -> None:
    await _run(con, runs(statements))


async def _run(con: asyncpg.Connection, grouped: list[Run]) -> None:
    for sql, rows, arrays in grouped:
        if arrays:
            await con.execute(sql, *(list(column) for column in zip(*rows, strict=True)))
        elif len(rows) == 1:
            await con.execute(sql, *rows[0])
        else:
            await con.executemany(sql, rows)


async def setup(pool: asyncpg.Pool, projection: Projection) -> None:
    s = projection.schema
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", s)
        await con.execute(CHECKPOINTS_DDL.format(s=s) + deadletters.DDL.format(s=s)
                          + projection.ddl())


def lock_key(projection: Projection) -> str:
    """Names the advisory lock a rebuild holds and every batch takes shared."""
    return f"projection {projection.schema}.{projection.name}"


class Plan:
    """What a batch does: each event to apply with its writes, in order, and dead letters."""

    def __init__(self, projection: Projection, checkpoints: dict[str, int],
                 held: set[str]) -> None:
        self.projection = projection
        self.checkpoints = checkpoints  # as the read model stands
        self.versions = dict(checkpoints)  # once the planned writes are applied
        self.held = held  # streams behind a dead letter
        self.writes: list[tuple[Envelope, list[Write]]] = []
        self.letters: list[DeadLetter] = []

    async def add(self, event: Envelope, store: EventStore | None) -> None:
        last = self.versions[event.stream_id]
        if event.stream_version <= last:
            return  # applied before: a redelivery
        if event.stream_version > last + 1 and event.stream_id not in self.held:
            for earlier in await _missing(store, event.stream_id, last, event.stream_version):
                self._take(earlier)
        self._take(event)

    def hold(self, event: Envelope, reason: str, error: str) -> None:
        log.warning("%s: dead letter (%s) %s v%s %s: %s", self.projection.name, reason,
                    event.stream_id, event.stream_version, event.id, error)
        self.letters.append(of_event(event, reason, error))
        self.held.add(event.stream_id)

    def _take(self, event: Envelope) -> None:
        sid, last = event.stream_id, self.versions[event.stream_id]
        if sid in self.held:
            self.hold(event, HELD, f"held behind an earlier dead letter of {sid}")
        elif event.stream_version != last + 1:
            self.hold(event, GAP, f"v{last + 1}..v{event.stream_version - 1} of {sid} never "
                                  f"arrived (the read model is at v{last})")
        else:
            try:
                statements = list(self.projection.statements(event))
            except Exception as exc:  # a projection that cannot read this event
                self.hold(event, FAILED, describe(exc))
                return
            self.writes.append((event, statements))
            self.versions[sid] = event.stream_version


async def _missing(store: EventStore | None, stream_id: str, after: int,
                   before: int) -> list[Envelope]:
    """The versions between `after` and `before` from the service's own store, if it has one."""
    if store is None:
        return []
    events = await store.read_stream(stream_id, up_to_version=before - 1)
    return [e for e in events if e.stream_version > after]


async def project(pool: asyncpg.Pool, projection: Projection, events: list[Envelope], *,
                  store: EventStore | None = None) -> int:
    """Apply the events not applied before; returns how many were applied. `store`: the
    service's own event store, when the projection is fed from it (it fills version gaps)."""
    if not events:
        return 0
    async with pool.acquire() as con:
        return await apply(con, projection, events, store)


async def apply(con: asyncpg.Connection, projection: Projection, events: list[Envelope],
                store: EventStore | None = None) -> int:
    """`project` on a connection: the whole batch at once, or event by event if that fails."""
    events = [e for e in events if keeps(projection, e.stream_id)]
    if not events:
        return 0
    try:
        return await _transaction(con, projection, events, store, isolate=False)
    except Exception as exc:
        if transient(exc):
            raise
        log.warning("%s: a batch of %d events failed (%s); applying it event by event",
                    projection.name, len(events), describe(exc))
    return await _transaction(con, projection, events, store, isolate=True)


def checkpoints_query(schema: str) -> str:
    """Each stream's checkpoint and whether a dead letter holds it back ($1: the projection,
    $2: the streams). One index probe a stream, whatever the planner believes of the table: as
    a join, stale statistics (a projection's checkpoints all new since the last ANALYZE) made
    PostgreSQL hash every checkpoint of the projection, each batch (17 ms at 10,000)."""
    return (f"SELECT v.stream_id, (SELECT c.version FROM {schema}.checkpoints c "
            "WHERE c.projection = $1 AND c.stream_id = v.stream_id) AS version, "
            f"EXISTS (SELECT 1 FROM {schema}.dead_letters d "
            "WHERE d.projection = $1 AND d.stream_id = v.stream_id) AS held "
            "FROM unnest($2::text[]) AS v(stream_id)")


async def _transaction(con: asyncpg.Connection, projection: Projection, events: list[Envelope],
                       store: EventStore | None, *, isolate: bool) -> int:
    s = projection.schema
    async with con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", lock_key(projection))
        rows = await con.fetch(checkpoints_query(s), projection.name,
                               sorted({e.stream_id for e in events}))
        read = {row["stream_id"]: row["version"] for row in rows}  # None: no checkpoint yet
        plan = Plan(projection, {sid: version or 0 for sid, version in read.items()},
                    {row["stream_id"] for row in rows if row["held"]})
        for event in events:
            await plan.add(event, store)
        applied_to, applied = await (_write_each(con, plan) if isolate else _write_all(con, plan))
        await deadletters.record(con, s, projection.name, plan.letters)
        await _advance(con, projection, read, applied_to)
        # Delivered at commit: wakes reads waiting for these writes (shared/freshness.py).
        await con.execute("SELECT pg_notify($1, '')", projected_channel(s))
    return applied


async def _advance(con: asyncpg.Connection, projection: Projection, read: dict[str, int | None],
                   versions: dict[str, int]) -> None:
    """Move each checkpoint the batch advanced from the version it read; `CheckpointMoved`
    if another applier moved one first (module docstring)."""
    s, name = projection.schema, projection.name
    moved = {sid: v for sid, v in versions.items() if v != (read[sid] or 0)}
    known = [sid for sid in moved if read[sid] is not None]
    new = [sid for sid in moved if read[sid] is None]
    landed = 0
    if known:
        landed += _count(await con.execute(
            f"UPDATE {s}.checkpoints AS c SET version = v.version "
            "FROM unnest($2::text[], $3::int[], $4::int[]) AS v(stream_id, version, read) "
            "WHERE c.projection = $1 AND c.stream_id = v.stream_id AND c.version = v.read",
            name, known, [moved[sid] for sid in known], [read[sid] for sid in known]))
    if new:
        landed += _count(await con.execute(
            f"INSERT INTO {s}.checkpoints (projection, stream_id, version) "
            "SELECT $1, * FROM unnest($2::text[], $3::int[]) "
            "ON CONFLICT (projection, stream_id) DO NOTHING",
            name, new, [moved[sid] for sid in new]))
    if landed < len(moved):
        raise CheckpointMoved(f"{projection.name}: {len(moved) - landed} of {len(moved)} "
                              "streams were applied meanwhile by another applier")


def _count(status: str) -> int:
    """Rows a command touched, from its status (`UPDATE 3`, `INSERT 0 3`)."""
    return int(status.rsplit(" ", 1)[1])


async def _write_all(con: asyncpg.Connection, plan: Plan) -> tuple[dict[str, int], int]:
    if getattr(plan.projection, "independent_streams", False):
        await _run(con, stream_runs(plan.writes))
    else:
        await _write(con, [statement for _, statements in plan.writes for statement in statements])
    return plan.versions, len(plan.writes)


async def _write_each(con: asyncpg.Connection, plan: Plan) -> tuple[dict[str, int], int]:
    """Each event in its own savepoint: one that fails is undone alone and held."""
    versions, applied, failed = dict(plan.checkpoints), 0, set()
    for event, statements in plan.writes:
        if event.stream_id in failed:
            plan.hold(event, HELD, f"held behind an earlier dead letter of {event.stream_id}")
            continue
        try:
            async with con.transaction():
                await _write(con, statements)
        except Exception as exc:
            if transient(exc):
                raise
            plan.hold(event, FAILED, describe(exc))
            failed.add(event.stream_id)
            continue
        versions[event.stream_id] = event.stream_version
        applied += 1
    return versions, applied


async def rebuild(pool: asyncpg.Pool, projection: Projection, store: EventStore,
                  progress: Callable[[int], None] | None = None) -> int:
    """Empty the read model and replay the store into it (the store is the record). Workers'
    batches wait for it (the projection's lock), then skip what it applied."""
    s, key = projection.schema, lock_key(projection)
    async with pool.acquire() as con:
        await con.execute("SELECT pg_advisory_lock(hashtext($1))", key)
        try:
            async with con.transaction():
                for table in projection.tables():
                    await con.execute(f"TRUNCATE {s}.{table}")
                for table in ("checkpoints", "dead_letters"):
                    await con.execute(f"DELETE FROM {s}.{table} WHERE projection = $1",
                                      projection.name)
            follower, total = LogFollower(store), 0
            while not follower.caught_up:
                events = await follower.poll(5000)
                if not events:
                    await asyncio.sleep(0.01)  # an append still in flight: wait for it to end
                    continue
                total += await apply(con, projection, events, store)
                if progress is not None:
                    progress(total)
        finally:
            if not con.is_closed():  # (a lost connection has released the lock already)
                await con.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
    return total


@dataclass(frozen=True)
class Retried:
    stream_id: str
    applied: int
    still_dead: list[dict[str, Any]]  # the stream's dead letters after the retry


async def retry(pool: asyncpg.Pool, projection: Projection, store: EventStore | None = None,
                event_ids: list[str] | None = None) -> list[Retried]:
    """Apply dead letters again (after a fix), each stream's in version order, with the
    stream's later versions held behind them: what applies leaves the table, what still fails
    stays with its new error. `event_ids`: only the streams of these dead letters."""
    s, outcomes = projection.schema, []
    async with pool.acquire() as con:
        for stream_id in await deadletters.held_streams(con, s, projection.name, event_ids):
            async with con.transaction():
                # Workers' batches wait, so none holds a new event behind letters taken here.
                await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                                  lock_key(projection))
                events = await deadletters.take(con, s, projection.name, stream_id)
                applied = await apply(con, projection, events, store)
            still = await deadletters.listing(con, s, projection.name, stream_id)
            outcomes.append(Retried(stream_id, applied, still))
    return outcomes
