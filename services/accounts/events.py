"""Events of the accounts service: users, their role grants, and Open311 API keys.

A user's events name the credential their password was set with (services/accounts/
credentials.py): never the password, nor its hash, which stay in the accounts database."""

from __future__ import annotations

from shared.events import DomainEvent, EventRegistry

registry = EventRegistry()


@registry.register
class UserRegistered(DomainEvent):
    TYPE = "accounts.user.registered"
    username: str
    name: str
    credential_id: str


@registry.register
class RoleGranted(DomainEvent):
    TYPE = "accounts.user.role_granted"
    username: str
    grant: str  # shared.access.Grant as text: `role` or `role:scope`


@registry.register
class RoleRevoked(DomainEvent):
    TYPE = "accounts.user.role_revoked"
    username: str
    grant: str


@registry.register
class UserDisabled(DomainEvent):
    TYPE = "accounts.user.disabled"
    username: str


@registry.register
class UserEnabled(DomainEvent):
    TYPE = "accounts.user.enabled"
    username: str


@registry.register
class PasswordReset(DomainEvent):
    TYPE = "accounts.user.password_reset"
    username: str
    credential_id: str


@registry.register
class ApiKeyIssued(DomainEvent):
    TYPE = "accounts.api_key.issued"
    key_id: str
    client_name: str
    key_hash: str  # sha256 hex of the whole key; the key itself is shown once, at issue


@registry.register
class ApiKeyRevoked(DomainEvent):
    TYPE = "accounts.api_key.revoked"
    key_id: str
