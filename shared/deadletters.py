"""Events a read model could not apply, kept in its schema so that none is lost and none is
applied over a hole.

Each row is one message: an event whose writes failed (`failed`), an event whose stream lacks
an earlier version that never arrived (`gap`), an event held behind an earlier dead letter of
its stream (`held`), or a message that is not a jiedao event at all (`malformed`). A stream
with a dead letter is held: its later versions join the table instead of being applied, so a
retry after a fix applies them all in version order. The message is kept as it was read
(CloudEvents binary-mode headers and value) so that it can be retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.envelope import Envelope
from shared.kafka import from_message, to_message

FAILED, GAP, HELD, MALFORMED = "failed", "gap", "held", "malformed"

DDL = """
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    projection  text NOT NULL,
    event_id    text NOT NULL,  -- the event's id, or where a malformed message was read
    stream_id   text,
    version     integer,
    type        text,
    position    bigint,
    reason      text NOT NULL,
    error       text NOT NULL,
    message     bytea NOT NULL,  -- headers and value as read, to retry from
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_stream
    ON {s}.dead_letters (projection, stream_id, version);
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    stream_id: str | None
    version: int | None
    type: str | None
    position: int | None
    reason: str
    error: str
    message: bytes


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL, which is often exactly what made the event poison."""
    return value.replace("\x00", "\\x00")


def of_event(event: Envelope, reason: str, error: str) -> DeadLetter:
    m = to_message(event)
    message = orjson.dumps({"headers": {k: v.decode() for k, v in m.headers.items()},
                            "value": m.value.decode()})
    return DeadLetter(str(event.id), event.stream_id, event.stream_version, event.type,
                      event.position, reason, _text(error), message)


def of_message(where: str, headers: Iterable[tuple[str, bytes]], value: bytes | None,
               error: str) -> DeadLetter:
    """A message that could not be read as an event; `where` says where it was read."""
    raw = {k: v.decode(errors="backslashreplace") for k, v in headers}
    message = orjson.dumps({"headers": raw,
                            "value": (value or b"").decode(errors="backslashreplace")})
    return DeadLetter(_text(where), None, None, None, None, MALFORMED, _text(error), message)


def event_of(message: bytes) -> Envelope:
    m = orjson.loads(message)
    return from_message({k: v.encode() for k, v in m["headers"].items()}, None,
                        m["value"].encode())


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def record(con: asyncpg.Connection, schema: str, projection: str,
                 letters: list[DeadLetter]) -> None:
    """Keep `letters` (a redelivered one keeps its first row, with the latest reason — except
    that being held, which a redelivered dead letter always is, never hides why it is one)."""
    if not letters:
        return
    await con.executemany(
        f"INSERT INTO {schema}.dead_letters (projection, event_id, stream_id, version, type, "
        "position, reason, error, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (projection, event_id) DO UPDATE "
        f"SET reason = EXCLUDED.reason, error = EXCLUDED.error WHERE EXCLUDED.reason <> '{HELD}'",
        [(projection, d.event_id, d.stream_id, d.version, d.type, d.position, d.reason,
          d.error, d.message) for d in letters],
    )


async def held_streams(con: asyncpg.Connection, schema: str, projection: str,
                       event_ids: list[str] | None) -> list[str]:
    """Streams with dead letters (of these events, if named), oldest first."""
    rows = await con.fetch(
        f"SELECT stream_id FROM {schema}.dead_letters WHERE projection = $1 "
        "AND stream_id IS NOT NULL AND ($2::text[] IS NULL OR stream_id IN ("
        f"  SELECT stream_id FROM {schema}.dead_letters "
        "   WHERE projection = $1 AND event_id = ANY($2::text[]))) "
        "GROUP BY stream_id ORDER BY min(recorded_at), stream_id",
        projection, event_ids,
    )
    return [row["stream_id"] for row in rows]


async def take(con: asyncpg.Connection, schema: str, projection: str,
               stream_id: str) -> list[Envelope]:
    """Remove a stream's dead letters and return their events in version order."""
    rows = await con.fetch(
        f"DELETE FROM {schema}.dead_letters WHERE projection = $1 AND stream_id = $2 "
        "RETURNING message", projection, stream_id,
    )
    return sorted((event_of(row["message"]) for row in rows), key=lambda e: e.stream_version)


async def listing(db: asyncpg.Pool | asyncpg.Connection, schema: str, projection: str,
                  stream_id: str | None = None) -> list[dict[str, Any]]:
    """A projection's dead letters (of one stream, if named), oldest first."""
    rows = await db.fetch(
        "SELECT event_id, stream_id, version, type, position, reason, error, recorded_at "
        f"FROM {schema}.dead_letters WHERE projection = $1 "
        "AND ($2::text IS NULL OR stream_id = $2) "
        "ORDER BY recorded_at, stream_id, version", projection, stream_id,
    )
    return [dict(row) for row in rows]


def when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
