"""The accounts read model: users (name, grants, disabled) and API keys (client, revoked).
No password hash and no key hash is ever written here."""

from __future__ import annotations

from collections.abc import Iterator

from services.accounts.events import (
    ApiKeyIssued,
    ApiKeyRevoked,
    RoleGranted,
    RoleRevoked,
    UserDisabled,
    UserEnabled,
    UserRegistered,
    registry,
)
from shared.envelope import Envelope
from shared.projection import Statement

VIEW_SCHEMA = "accounts_view"


class AccountsProjection:
    name = "accounts"

    def __init__(self, schema: str = VIEW_SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["users", "api_keys"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.users (
            username text PRIMARY KEY, name text NOT NULL, grants text[] NOT NULL DEFAULT '{{}}',
            disabled boolean NOT NULL DEFAULT false, registered_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.api_keys (
            key_id text PRIMARY KEY, client_name text NOT NULL,
            revoked boolean NOT NULL DEFAULT false, issued_at timestamptz NOT NULL);
        """

    def statements(self, envelope: Envelope) -> Iterator[Statement]:
        if not registry.knows(envelope.type):
            return
        s, event = self.schema, registry.from_envelope(envelope)
        match event:
            case UserRegistered():
                yield (f"INSERT INTO {s}.users (username, name, registered_at) "
                       "VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING",
                       (event.username, event.name, envelope.time))
            case RoleGranted():
                yield (f"UPDATE {s}.users SET grants = array_append(grants, $2) "
                       "WHERE username = $1 AND NOT $2 = ANY(grants)",
                       (event.username, event.grant))
            case RoleRevoked():
                yield (f"UPDATE {s}.users SET grants = array_remove(grants, $2) "
                       "WHERE username = $1", (event.username, event.grant))
            case UserDisabled() | UserEnabled():
                yield (f"UPDATE {s}.users SET disabled = $2 WHERE username = $1",
                       (event.username, isinstance(event, UserDisabled)))
            case ApiKeyIssued():
                yield (f"INSERT INTO {s}.api_keys (key_id, client_name, issued_at) "
                       "VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                       (event.key_id, event.client_name, envelope.time))
            case ApiKeyRevoked():
                yield (f"UPDATE {s}.api_keys SET revoked = true WHERE key_id = $1",
                       (event.key_id,))
