"""Password hashes, kept out of the event log: an event names the credential it set (an id),
and its argon2 hash lives here, in the accounts database alone. Events are published to Kafka
for every service to read; a hash must not travel with them (need to know), yet the log still
says who set whose password, and when.

A credential row is written before the event naming it; if the append then fails, the row is
never named and stays unused."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from services.accounts.passwords import hash_password

SCHEMA = "accounts"


class Credentials:
    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
        self.pool, self.schema = pool, schema
        self._ready = False

    async def keep(self, password: str) -> str:
        """Hash `password` (argon2, in a thread) and keep it: the new credential's id."""
        password_hash = await asyncio.to_thread(hash_password, password)
        credential_id = uuid.uuid4().hex
        await self._setup()
        await self.pool.execute(
            f"INSERT INTO {self.schema}.credentials (credential_id, password_hash) "
            "VALUES ($1, $2)", credential_id, password_hash)
        return credential_id

    async def hash_of(self, credential_id: str | None) -> str | None:
        if credential_id is None:
            return None
        await self._setup()
        return await self.pool.fetchval(
            f"SELECT password_hash FROM {self.schema}.credentials WHERE credential_id = $1",
            credential_id)

    async def _setup(self) -> None:
        if not self._ready:
            await self.pool.execute(
                f"CREATE SCHEMA IF NOT EXISTS {self.schema}; "
                f"CREATE TABLE IF NOT EXISTS {self.schema}.credentials ("
                "credential_id text PRIMARY KEY, password_hash text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())")
            self._ready = True
