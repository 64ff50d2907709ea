"""Follow a store's committed log in position order, never skipping an event.

Positions come from a sequence, so transactions can commit out of position order and a reader
can see position 11 while 10 is still in flight. A gap is therefore held until it is proven
final: every append takes its transaction id before drawing positions, so whoever holds a
missing position has a transaction id below the `xmax` of the snapshot in which the gap was
first seen. Once a later snapshot's `xmin` reaches that `xmax`, all those transactions have
ended: the missing position either became visible or was rolled back and will never appear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from shared.store import EVENT_COLUMNS, EventStore, envelope_from_row

T = TypeVar("T")


@dataclass(slots=True)
class _Gap:
    position: int
    xmax: int


class LogFollower(Generic[T]):
    """Reads a store's events after `position`, in order, each exactly once: whole envelopes,
    or, for a reader that needs less, only `columns` (which must include `position`) made
    into what `decode` makes of a row."""

    def __init__(
        self,
        store: EventStore,
        position: int = 0,
        *,
        columns: str = EVENT_COLUMNS,
        decode: Callable[[asyncpg.Record], Any] = envelope_from_row,
    ) -> None:
        self.store = store
        self.position = position
        self.columns = columns
        self.decode: Callable[[asyncpg.Record], T] = decode
        self.caught_up = False
        self._gap: _Gap | None = None

    async def poll(self, limit: int = 1000) -> list[T]:
        """The next committed events (possibly none); advances `position` past them."""
        async with self.store.pool.acquire() as con:
            async with con.transaction(isolation="repeatable_read", readonly=True):
                xmin, xmax = await con.fetchrow(
                    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                    "FROM pg_current_snapshot() AS s"
                )
                rows = await con.fetch(
                    f"SELECT {self.columns} FROM {self.store.schema}.events "
                    "WHERE position > $1 ORDER BY position LIMIT $2",
                    self.position,
                    limit,
                )
        return self._take_contiguous(rows, xmin, xmax, limit)

    def _take_contiguous(
        self, rows: list[asyncpg.Record], xmin: int, xmax: int, limit: int
    ) -> list[T]:
        taken: list[T] = []
        for row in rows:
            expected = self.position + 1
            if row["position"] != expected and not self._gap_is_final(expected, xmin, xmax):
                break
            self._gap = None
            self.position = row["position"]
            taken.append(self.decode(row))
        self.caught_up = len(rows) < limit and len(taken) == len(rows)
        return taken

    def _gap_is_final(self, position: int, xmin: int, xmax: int) -> bool:
        if self._gap is not None and self._gap.position == position:
            return xmin >= self._gap.xmax
        self._gap = _Gap(position, xmax)
        return False
