"""A Faust worker's consumer lag, written where the service's API (and `jiedao health`) read it.

Every second each projection agent writes one row per partition it is assigned: the offset it
has applied up to, the partition's high watermark (from fetch responses, which is exact even on
Tansu, unlike its end offsets), and the time. Lag = high watermark - applied offset. A worker
that stops writing goes stale; nothing has to be asked of Kafka to notice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

PROGRESS_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.consumer_progress (
    projection  text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    applied     bigint NOT NULL,   -- the next offset to apply
    highwater   bigint,            -- unknown until the first fetch answered
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
"""


async def setup(pool: asyncpg.Pool, schema: str) -> None:
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)
        await con.execute(PROGRESS_DDL.format(s=schema))


class ConsumerProgress:
    """One projection agent's progress through its topic's partitions."""

    def __init__(self, schema: str, projection: str, topic: str) -> None:
        self.schema, self.projection, self.topic = schema, projection, topic
        self._applied: dict[int, int] = {}  # partition -> next offset to apply
        self._ready = False

    def applied(self, messages: Iterable[Any]) -> None:
        """After a batch of Faust messages is applied (each has `.tp` and `.offset`)."""
        for message in messages:
            self._applied[message.tp.partition] = message.offset + 1

    async def report(self, pool: Callable[[], Awaitable[asyncpg.Pool]], consumer: Any) -> None:
        """Write a row for each assigned partition of the topic (`consumer`: Faust's); a
        failure is logged, never raised: health reporting must not stop the worker."""
        try:
            await self._report(await pool(), consumer)
        except Exception as exc:
            log.warning("%s: cannot report consumer progress: %s", self.projection, exc)

    async def _report(self, pool: asyncpg.Pool, consumer: Any) -> None:
        if not self._ready:
            await setup(pool, self.schema)
            self._ready = True
        rows = []
        for tp in consumer.assignment():
            if tp.topic != self.topic:
                continue
            applied = self._applied.get(tp.partition)
            if applied is None:  # nothing applied since it was assigned: where reading starts
                applied = await consumer.position(tp) or 0
            rows.append((self.projection, self.topic, tp.partition, applied,
                         consumer.highwater(tp)))
        await pool.executemany(
            f"INSERT INTO {self.schema}.consumer_progress "
            "(projection, topic, partition, applied, highwater) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (projection, topic, partition) DO UPDATE SET applied = excluded.applied, "
            "highwater = excluded.highwater, updated_at = now()",
            rows,
        )
