"""Follow a store's committed log in position order, never skipping an event.

Positions come from a sequence, so transactions can commit out of position order and a reader
can see position 11 while 10 is still in flight. A gap is therefore held until it is proven
final (filled, or left for good by a rolled-back append).

Why the proof holds:
1. Every append takes its transaction id before it draws positions (`EventStore._lock_heads`
   writes before `_insert` calls `nextval`), so the transaction that holds a missing position
   `p` had its id before `p` was drawn.
2. The follower sees the gap at `p` only because a later position `q > p` is visible, and `q`
   was drawn after `p`. So `p`'s transaction had its id before the snapshot that saw the gap.
3. Right after that snapshot, the follower takes a fresh transaction id `fence` in a short
   transaction of its own (`pg_current_xact_id()`). Ids are assigned in increasing order, so
   `fence` is greater than every id assigned before, `p`'s holder's included. (The snapshot's
   `xmax` is *not* such a bound: it is one past the latest *completed* transaction, and a
   transaction still running can hold an id above it.)
4. Once a later snapshot's `xmin` (the oldest transaction still running) is above `fence`,
   every transaction with an id below `fence` has ended: `p` is either visible in that
   snapshot or was rolled back and will never appear. Only then is the gap passed over.
The fence costs one transaction id per gap first seen, never one per poll. A poll reads its
events and its snapshot's `xmin` in one statement, so both come from the same snapshot (one
round trip, where a read-only transaction around two statements took four).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from shared.event_table import EVENT_COLUMNS, envelope_from_row
from shared.store import EventStore

T = TypeVar("T")


@dataclass(slots=True)
class _Gap:
    position: int
    fence: int | None = None  # a transaction id newer than any that could hold `position`


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
            # One statement, so one snapshot: the rows it reads and the xmin it reports (a
            # row with no event when there is none to read).
            rows = await con.fetch(
                f"SELECT e.*, x.snapshot_xmin FROM (SELECT pg_snapshot_xmin("
                "pg_current_snapshot())::text::bigint AS snapshot_xmin) AS x LEFT JOIN LATERAL "
                f"(SELECT {self.columns} FROM {self.store.schema}.events "
                "WHERE position > $1 ORDER BY position LIMIT $2) AS e ON true",
                self.position,
                limit,
            )
            xmin = rows[0]["snapshot_xmin"]
            if rows[0]["position"] is None:
                rows = []
            taken = self._take_contiguous(rows, xmin)
            if self._gap is not None and self._gap.fence is None:
                # Taken after the snapshot that saw the gap: newer than any id its holder has.
                self._gap.fence = await con.fetchval("SELECT pg_current_xact_id()::text::bigint")
        self.caught_up = len(rows) < limit and len(taken) == len(rows)
        return taken

    def _take_contiguous(self, rows: list[asyncpg.Record], xmin: int) -> list[T]:
        taken: list[T] = []
        for row in rows:
            expected = self.position + 1
            if row["position"] != expected and not self._gap_is_final(expected, xmin):
                break
            self._gap = None
            self.position = row["position"]
            taken.append(self.decode(row))
        return taken

    def _gap_is_final(self, position: int, xmin: int) -> bool:
        if self._gap is not None and self._gap.position == position:
            return self._gap.fence is not None and xmin > self._gap.fence
        self._gap = _Gap(position)  # its fence is taken once this snapshot has ended
        return False
