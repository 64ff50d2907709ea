"""A read model held in memory (e.g. the territory's boundary index), reloaded only when the
projection that writes it has applied events since it was loaded."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg

T = TypeVar("T")
A = TypeVar("A")

MISS_RELOAD_AGE = 0.5  # a miss reloads at most this often


class Snapshot(Generic[T]):
    """What `load` makes of the read model. Every `max_age` seconds (0: on every question),
    or at once when a question finds no answer (a grid just drawn), one cheap query tells
    whether the projection's checkpoints moved; only then is `load` called again."""

    def __init__(self, pool: asyncpg.Pool, schema: str, projection: str,
                 load: Callable[[], Awaitable[T]], *, max_age: float) -> None:
        self.pool = pool
        self.schema = schema
        self.projection = projection
        self.load = load
        self.max_age = max_age
        self._value: T | None = None
        self._version: int | None = None
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    async def ask(self, question: Callable[[T], A | None]) -> A | None:
        """`question`'s answer on the snapshot; a miss asks again on a fresh one."""
        answer = question(await self.fresh(self.max_age))
        if answer is None:
            answer = question(await self.fresh(MISS_RELOAD_AGE))
        return answer

    async def fresh(self, max_age: float) -> T:
        if self._value is None or self._stale(max_age):
            async with self._lock:
                if self._value is None or self._stale(max_age):
                    version = await self._version_now()
                    if self._value is None or version != self._version:
                        self._value, self._version = await self.load(), version
                    self._loaded_at = time.monotonic()
        assert self._value is not None
        return self._value

    def _stale(self, max_age: float) -> bool:
        return time.monotonic() - self._loaded_at >= max_age

    async def _version_now(self) -> int:
        """Grows whenever the projection applies an event."""
        return await self.pool.fetchval(
            f"SELECT coalesce(sum(version), 0) FROM {self.schema}.checkpoints "
            "WHERE projection = $1", self.projection,
        )
