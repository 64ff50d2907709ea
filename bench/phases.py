"""Wall time of each step of a store flush, measured from outside the store.

`PhaseTimedStore` is an `EventStore` whose flush steps are wrapped with timers (the
store's own code runs unchanged): pool acquire + BEGIN, the head-locking query, the id
lookup (only for appends that may be retries), sealing (`_decide`), the positions query,
the COPY, and COMMIT. Used by `bench.run --profile`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from shared.store import EventStore


class _TimedCon:
    """Forwards to an asyncpg connection, timing `fetch` and `copy_records_to_table`."""

    def __init__(self, con: Any, times: dict[str, float], fetch_label: str) -> None:
        self._con = con
        self._times = times
        self._fetch_label = fetch_label

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await self._con.fetch(*args, **kwargs)
        finally:
            self._times[self._fetch_label] += time.perf_counter() - t

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await self._con.copy_records_to_table(*args, **kwargs)
        finally:
            self._times["copy (asyncpg encode + COPY)"] += time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class PhaseTimedStore(EventStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: dict[str, float] = defaultdict(float)
        self.flushes = 0
        self.events = 0

    async def _commit(self, batch: list[Any]) -> list[Any]:
        t = time.perf_counter()
        try:
            return await super()._commit(batch)
        finally:
            self.times["_commit total"] += time.perf_counter() - t
            self.flushes += 1
            self.events += sum(len(r.events) for r in batch)

    async def _lock_heads(self, con: Any, batch: list[Any]) -> Any:
        return await super()._lock_heads(_TimedCon(con, self.times, "lock heads"), batch)

    async def _stored(self, con: Any, batch: list[Any], heads: Any) -> Any:
        return await super()._stored(_TimedCon(con, self.times, "id lookup"), batch, heads)

    def _decide(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return super()._decide(*args, **kwargs)
        finally:
            self.times["decide (seal: canonical bytes + sha256)"] += time.perf_counter() - t

    async def _insert(self, con: Any, envelopes: list[Any], heads: Any) -> Any:
        t = time.perf_counter()
        try:
            return await super()._insert(_TimedCon(con, self.times, "move heads + positions"),
                                         envelopes, heads)
        finally:
            self.times["_insert total"] += time.perf_counter() - t

    def reset(self) -> None:
        self.times.clear()
        self.flushes = self.events = 0

    def report(self) -> dict[str, Any]:
        t = dict(self.times)
        known = sum(t.get(k, 0.0) for k in ("lock heads", "id lookup",
                                             "decide (seal: canonical bytes + sha256)",
                                             "_insert total"))
        t["acquire + BEGIN + COMMIT + rest"] = t.get("_commit total", 0.0) - known
        t["_insert rest (_row, dict of positions)"] = t.get("_insert total", 0.0) - (
            t.get("move heads + positions", 0.0) + t.get("copy (asyncpg encode + COPY)", 0.0))
        per_event = {k: round(v / max(self.events, 1) * 1e6, 2) for k, v in t.items()}
        return {"flushes": self.flushes, "events": self.events,
                "seconds": {k: round(v, 3) for k, v in t.items()},
                "us_per_event": per_event}
