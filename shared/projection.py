"""Apply events to a read model exactly once, however often they are delivered.

Kafka (and Faust after a rebalance) may deliver an event more than once. Each read model keeps,
in the same transaction as its rows, the last version it applied of every stream; an event at
or below that version is skipped. A batch is applied in one transaction.

A projection only says what to write (`statements`, pure); `project` runs the writes of a
whole batch, each run of consecutive statements with the same SQL as one `executemany`
(asyncpg pipelines it: one round trip instead of one per event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

import asyncpg

from shared.envelope import Envelope
from shared.follower import LogFollower
from shared.store import EventStore

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

Statement = tuple[str, tuple[Any, ...]]  # SQL and its arguments


def projected_channel(schema: str) -> str:
    """The NOTIFY channel `project()` signals when it commits to a read model schema."""
    return f"{schema}_projected"


class Projection(Protocol):
    name: str
    schema: str

    def ddl(self) -> str:
        """CREATE ... IF NOT EXISTS statements for the read model's tables."""
        ...

    def tables(self) -> list[str]:
        """The tables a rebuild empties."""
        ...

    def statements(self, event: Envelope) -> Iterable[Statement]:
        """The writes that apply `event` to the read model, in order (pure: no I/O)."""
        ...


def runs(statements: Iterable[Statement]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Consecutive statements with the same SQL, grouped; the order is kept."""
    grouped: list[tuple[str, list[tuple[Any, ...]]]] = []
    for sql, args in statements:
        if grouped and grouped[-1][0] == sql:
            grouped[-1][1].append(args)
        else:
            grouped.append((sql, [args]))
    return grouped


async def _write(con: asyncpg.Connection, statements: list[Statement]) -> None:
    for sql, rows in runs(statements):
        if len(rows) == 1:
            await con.execute(sql, *rows[0])
        else:
            await con.executemany(sql, rows)


async def setup(pool: asyncpg.Pool, projection: Projection) -> None:
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", projection.schema)
        await con.execute(CHECKPOINTS_DDL.format(s=projection.schema) + projection.ddl())


async def project(pool: asyncpg.Pool, projection: Projection, events: list[Envelope]) -> int:
    """Apply the events not applied before; returns how many were applied."""
    if not events:
        return 0
    s = projection.schema
    async with pool.acquire() as con, con.transaction():
        rows = await con.fetch(
            f"INSERT INTO {s}.checkpoints (projection, stream_id) "
            "SELECT $1, unnest($2::text[]) ON CONFLICT (projection, stream_id) "
            "DO UPDATE SET version = checkpoints.version RETURNING stream_id, version",
            projection.name,
            sorted({e.stream_id for e in events}),
        )
        applied_to = {row["stream_id"]: row["version"] for row in rows}
        applied = 0
        writes: list[Statement] = []
        for event in events:
            last = applied_to[event.stream_id]
            if event.stream_version <= last:
                continue
            if event.stream_version > last + 1:
                log.warning("%s: %s jumps from v%s to v%s", projection.name,
                            event.stream_id, last, event.stream_version)
            writes.extend(projection.statements(event))
            applied_to[event.stream_id] = event.stream_version
            applied += 1
        await _write(con, writes)
        await con.execute(
            f"UPDATE {s}.checkpoints AS c SET version = v.version "
            "FROM unnest($2::text[], $3::int[]) AS v(stream_id, version) "
            "WHERE c.projection = $1 AND c.stream_id = v.stream_id",
            projection.name,
            list(applied_to),
            list(applied_to.values()),
        )
        # Delivered at commit: wakes reads waiting for these writes (shared/freshness.py).
        await con.execute("SELECT pg_notify($1, '')", projected_channel(s))
    return applied


async def rebuild(pool: asyncpg.Pool, projection: Projection, store: EventStore) -> int:
    """Empty the read model and replay the store into it (the store is the record)."""
    async with pool.acquire() as con, con.transaction():
        for table in projection.tables():
            await con.execute(f"TRUNCATE {projection.schema}.{table}")
        await con.execute(
            f"DELETE FROM {projection.schema}.checkpoints WHERE projection = $1", projection.name
        )
    follower, total = LogFollower(store), 0
    while not follower.caught_up:
        events = await follower.poll(5000)
        if not events:
            await asyncio.sleep(0.01)  # an append still in flight: wait for it to end
        total += await project(pool, projection, events)
    return total
