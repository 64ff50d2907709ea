"""The one envelope every event travels in: CloudEvents 1.0 attributes plus the store's own.

An envelope's hash covers its canonical bytes and the hash of the previous event in the same
stream, so each stream is a hash chain; the sealer chains all streams into one store-wide chain.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from shared.errors import DomainError

GENESIS_HASH = bytes(32)


def new_event_id() -> UUID:
    """A time-ordered UUID (version 7, RFC 9562): new ids land at the end of the store's id
    index instead of at random places in it, which makes appends ~15% cheaper."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return UUID(int=(millis << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62)
                | (rand & ((1 << 62) - 1)))
SPEC_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"user_id": self.user_id, "role": self.role}


SYSTEM = Actor(user_id="system", role="system")


@dataclass(frozen=True, slots=True)
class Scope:
    street_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "street_id": self.street_id,
            "community_id": self.community_id,
            "grid_id": self.grid_id,
        }


@dataclass(slots=True)
class NewEvent:
    """An event about to be appended: the store gives it its stream, version, hash and position."""

    type: str
    data: dict[str, Any]
    schema_version: int = 1
    id: UUID = field(default_factory=new_event_id)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    actor: Actor = SYSTEM
    scope: Scope = Scope()
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    # The data as stored (JSON, sorted keys), made and checked once here: treat `data` as
    # final once the event is made.
    data_json: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        self.data_json = storable_json(self.data)
        texts = (self.actor.user_id, self.actor.role, self.scope.street_id,
                 self.scope.community_id, self.scope.grid_id)
        if any(text and "\x00" in text for text in texts):
            raise DomainError("the actor or scope contains a NUL character", field="actor")


def storable_json(data: dict[str, Any]) -> bytes:
    """`data` as JSON with sorted keys, refused (a 422) if the store or a read model could not
    hold it: PostgreSQL's text and jsonb take no NUL character and no lone surrogate."""
    try:
        raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if "surrogates" not in str(exc):
            raise
        raise DomainError(f"the event's data holds a lone surrogate: {exc}") from exc
    if b"\\u0000" in raw and (field_at := _nul_at(data, "")) is not None:
        raise DomainError("contains a NUL character, which cannot be stored",
                          field=field_at or "data")
    return raw


def _nul_at(value: Any, path: str) -> str | None:
    """Where the first string holding a NUL is (a key counts as its own place), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        place = f"{path}.{key}" if path else str(key)
        if "\x00" in str(key):
            return place
        if (found := _nul_at(item, place)) is not None:
            return found
    return None


@dataclass(slots=True)
class Envelope:
    """A stored event. Treat it as immutable: its hash covers its fields. (Not declared
    frozen only because frozen dataclasses cost ~2 µs more per event on the append path.)"""

    id: UUID
    source: str
    type: str
    subject: str
    time: datetime
    stream_id: str
    stream_version: int
    schema_version: int
    actor: Actor
    scope: Scope
    correlation_id: UUID
    causation_id: UUID | None
    data: dict[str, Any]
    prev_hash: bytes = GENESIS_HASH
    hash: bytes = GENESIS_HASH
    position: int | None = None
    _data_json: bytes | None = field(default=None, compare=False, repr=False)

    def canonical_bytes(self) -> bytes:
        """Everything the event says, in one stable byte form (position and hashes excluded):
        a JSON array of the attributes in a fixed order, a newline, then the data as JSON with
        sorted keys."""
        head = orjson.dumps([
            self.id, self.source, self.type, self.subject, self.time.astimezone(UTC),
            self.stream_id, self.stream_version, self.schema_version,
            self.actor.user_id, self.actor.role,
            self.scope.street_id, self.scope.community_id, self.scope.grid_id,
            self.correlation_id, self.causation_id,
        ], default=str)  # str() of a driver's own UUID type is the same canonical text
        return head + b"\n" + self.data_bytes()

    def data_bytes(self) -> bytes:
        """The data as JSON with sorted keys (made once: hashing, storing and publishing all
        need it)."""
        if self._data_json is None:
            self._data_json = orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS)
        return self._data_json

    def computed_hash(self) -> bytes:
        return hashlib.sha256(self.prev_hash + self.canonical_bytes()).digest()


def seal(
    event: NewEvent,
    *,
    source: str,
    stream_id: str,
    stream_version: int,
    prev_hash: bytes,
    subject: str | None = None,
) -> Envelope:
    """The envelope of `event` at its place in a stream, chained onto `prev_hash`."""
    envelope = Envelope(
        id=event.id,
        source=source,
        type=event.type,
        subject=subject or stream_id,
        time=event.time.astimezone(UTC),
        stream_id=stream_id,
        stream_version=stream_version,
        schema_version=event.schema_version,
        actor=event.actor,
        scope=event.scope,
        correlation_id=event.correlation_id or event.id,
        causation_id=event.causation_id,
        data=event.data,
        prev_hash=prev_hash,
        _data_json=event.data_json or None,
    )
    envelope.hash = envelope.computed_hash()
    return envelope
