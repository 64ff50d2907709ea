"""Users, their role grants and Open311 API keys. Pure Python.

A user's stream id is its username's, so registering a name already taken is refused by
the user's own stream (and by the store's concurrency check when two race). A password comes
in as the id of the credential it was kept as (services/accounts/credentials.py): the domain
never sees a password or its hash."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.accounts.commands import GrantRole, RegisterUser, RevokeRole
from services.accounts.events import (
    ApiKeyIssued,
    ApiKeyRevoked,
    PasswordReset,
    RoleGranted,
    RoleRevoked,
    UserDisabled,
    UserEnabled,
    UserRegistered,
)
from shared.access import Grant, InvalidGrant, Place
from shared.errors import DomainError, NotFound
from shared.events import DomainEvent


class AlreadyExists(DomainError):
    status = 409


class KeyShownOnce(DomainError):
    """A retried issue of an API key: the key was in the first answer only."""

    status = 409


def parse_grant(text: str, field_name: str = "grant") -> Grant:
    try:
        return Grant.parse(text)
    except InvalidGrant as exc:
        raise DomainError(str(exc), field=field_name) from exc


@dataclass
class User:
    username: str
    version: int = 0
    name: str | None = None
    credential_id: str | None = None
    grants: list[str] = field(default_factory=list)  # as text, in the order given
    disabled: bool = False

    @property
    def stream_id(self) -> str:
        return f"user-{self.username}"

    @property
    def exists(self) -> bool:
        return self.name is not None

    def place(self) -> Place:
        return Place()  # accounts are the district's: its administrator keeps them all

    def register(self, command: RegisterUser, credential_id: str) -> list[DomainEvent]:
        if self.exists:
            raise AlreadyExists(f"the username {self.username!r} is taken", field="username")
        grants = [str(parse_grant(text, f"grants.{i}")) for i, text in enumerate(command.grants)]
        return [UserRegistered(username=self.username, name=command.name,
                               credential_id=credential_id),
                *(RoleGranted(username=self.username, grant=g) for g in dict.fromkeys(grants))]

    def grant(self, command: GrantRole) -> list[DomainEvent]:
        self._require()
        grant = str(parse_grant(command.grant))
        if grant in self.grants:
            return []  # already held: nothing changes
        return [RoleGranted(username=self.username, grant=grant)]

    def revoke(self, command: RevokeRole) -> list[DomainEvent]:
        self._require()
        grant = str(parse_grant(command.grant))
        if grant not in self.grants:
            raise NotFound(f"{self.username} does not hold {grant!r}", field="grant")
        return [RoleRevoked(username=self.username, grant=grant)]

    def set_disabled(self, disabled: bool) -> list[DomainEvent]:
        self._require()
        if disabled == self.disabled:
            return []  # already so
        event = UserDisabled if disabled else UserEnabled
        return [event(username=self.username)]

    def reset_password(self, credential_id: str) -> list[DomainEvent]:
        self._require()
        return [PasswordReset(username=self.username, credential_id=credential_id)]

    def may_sign_in(self) -> bool:
        return self.exists and not self.disabled

    def _require(self) -> None:
        if not self.exists:
            raise NotFound(f"no user {self.username!r}", field="username")

    def apply(self, event: DomainEvent) -> None:
        match event:
            case UserRegistered():
                self.name, self.credential_id = event.name, event.credential_id
            case RoleGranted():
                self.grants.append(event.grant)
            case RoleRevoked():
                self.grants.remove(event.grant)
            case UserDisabled():
                self.disabled = True
            case UserEnabled():
                self.disabled = False
            case PasswordReset():
                self.credential_id = event.credential_id


@dataclass
class ApiKey:
    """An Open311 client's key: only its sha256 is kept; the key is shown once, at issue."""

    key_id: str
    version: int = 0
    client_name: str | None = None
    revoked: bool = False

    @property
    def stream_id(self) -> str:
        return f"api_key-{self.key_id}"

    def place(self) -> Place:
        return Place()

    def issue(self, client_name: str, key_hash: str) -> list[DomainEvent]:
        if self.client_name is not None:
            raise AlreadyExists(f"API key {self.key_id!r} exists", field="key_id")
        return [ApiKeyIssued(key_id=self.key_id, client_name=client_name, key_hash=key_hash)]

    def revoke(self) -> list[DomainEvent]:
        if self.client_name is None:
            raise NotFound(f"no API key {self.key_id!r}", field="key_id")
        if self.revoked:
            return []  # already revoked
        return [ApiKeyRevoked(key_id=self.key_id)]

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ApiKeyIssued():
                self.client_name = event.client_name
            case ApiKeyRevoked():
                self.revoked = True
