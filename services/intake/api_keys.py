"""Open311 API keys, learnt from the accounts service's events (`ApiKeyIssued`,
`ApiKeyRevoked`): intake keeps each key's sha256 and whether it is revoked, and checks the
`api_key` of an Open311 filing against them here, with no call to the accounts service."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import asyncpg

from services.intake.territory import SCHEMA
from shared.envelope import Envelope
from shared.projection import Statement


class ApiKeyReplica:
    """Projection of accounts.api_key.* events: key id, the key's sha256, revoked or not."""

    name = "api_keys_replica"
    streams = ("api_key-",)  # not the users on the same topic

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["api_keys"]

    def ddl(self) -> str:
        return f"""
        CREATE TABLE IF NOT EXISTS {self.schema}.api_keys (
            key_id text PRIMARY KEY, key_hash text NOT NULL UNIQUE,
            revoked boolean NOT NULL DEFAULT false);
        """

    def statements(self, event: Envelope) -> Iterator[Statement]:
        s, d = self.schema, event.data
        if event.type == "accounts.api_key.issued":
            yield (f"INSERT INTO {s}.api_keys (key_id, key_hash) VALUES ($1, $2) "
                   "ON CONFLICT (key_id) DO NOTHING", (d["key_id"], d["key_hash"]))
        elif event.type == "accounts.api_key.revoked":
            yield (f"UPDATE {s}.api_keys SET revoked = true WHERE key_id = $1", (d["key_id"],))


class ApiKeys:
    """Whether an Open311 `api_key` is one the administrator issued and has not revoked. In
    development the demo key (JIEDAO_DEMO_API_KEY) is also taken; production takes none."""

    def __init__(self, pool: asyncpg.Pool, schema: str = SCHEMA, *,
                 demo_key: str | None = None) -> None:
        self.pool, self.schema, self.demo_key = pool, schema, demo_key

    async def accepts(self, key: str) -> bool:
        if self.demo_key and hmac.compare_digest(key.encode(), self.demo_key.encode()):
            return True
        digest = hashlib.sha256(key.encode()).hexdigest()
        return bool(await self.pool.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.schema}.api_keys "
            "WHERE key_hash = $1 AND NOT revoked)", digest))
