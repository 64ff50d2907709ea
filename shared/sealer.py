"""The store-wide hash chain.

Each stream is already a hash chain (an event's hash covers the previous event of its stream).
The sealer follows the committed log in position order and chains every event into one chain
for the whole store, recording a checkpoint (`seals` row) after each batch. An edited, deleted
or inserted row anywhere then breaks a stream chain, the store chain, or both (shared/audit.py).
"""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg

from shared.envelope import GENESIS_HASH
from shared.follower import LogFollower
from shared.store import EventStore


def chain_step(chain_hash: bytes, position: int, event_hash: bytes) -> bytes:
    return hashlib.sha256(chain_hash + position.to_bytes(8, "big") + event_hash).digest()


def _position_and_hash(row: asyncpg.Record) -> tuple[int, bytes]:
    return row["position"], bytes(row["hash"])


class Sealer:
    def __init__(self, store: EventStore, *, batch: int = 5000) -> None:
        self.store = store
        self.batch = batch
        self._follower: LogFollower[tuple[int, bytes]] | None = None
        self._chain = GENESIS_HASH
        self._sealed = 0

    async def _resume(self) -> LogFollower:
        row = await self.store.pool.fetchrow(
            f"SELECT position, chain_hash, sealed FROM {self.store.schema}.seals "
            "ORDER BY position DESC LIMIT 1"
        )
        if row is not None:
            self._chain, self._sealed = bytes(row["chain_hash"]), row["sealed"]
        return LogFollower(self.store, row["position"] if row else 0,
                           columns="position, hash", decode=_position_and_hash)

    async def seal_once(self) -> int:
        """Seal what has committed since the last checkpoint; returns how many events."""
        if self._follower is None:
            self._follower = await self._resume()
        events = await self._follower.poll(self.batch)
        if not events:
            return 0
        for position, event_hash in events:
            self._chain = chain_step(self._chain, position, event_hash)
        self._sealed += len(events)
        await self.store.pool.execute(
            f"INSERT INTO {self.store.schema}.seals (position, chain_hash, sealed) "
            "VALUES ($1, $2, $3) ON CONFLICT (position) DO NOTHING",
            self._follower.position,
            self._chain,
            self._sealed,
        )
        return len(events)

    async def run(self, every_seconds: float = 1.0) -> None:
        """Seal once a second (a checkpoint's latency matters to no one; its cost does)."""
        while True:
            while await self.seal_once() == self.batch:
                pass
            await asyncio.sleep(every_seconds)
