"""Commands a client may send twice (a timeout, an answer lost on the way back) carry an
`Idempotency-Key` header; every command accepts one. A key belongs to its caller (the
signed-in user, or Open311's api_key): two callers using the same key never meet.

The ids such a command creates, and its events' ids, are derived from the caller, the key
and the request, so the event store, idempotent by event id, stores the command once and
answers a retry with the first result. Its events also carry a correlation id derived from
the caller and the key alone, so a retry of a step on a stream that has moved on since is
recognised from the stream itself (the first answer again), and the same key sent with
another request is refused (422)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

import orjson
from pydantic import BaseModel

from shared.envelope import Envelope, new_event_id
from shared.errors import DomainError
from shared.store import AppendResult

NAMESPACE = UUID("5d0e8a64-8f1e-5b7a-9c3e-2f6a1b9d4c70")


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str  # as the caller sent it
    caller: str  # whose key it is
    request: str  # a digest of the request the key was first used with

    @classmethod
    def of(cls, key: str | None, request: BaseModel | Mapping[str, Any],
           caller: str) -> Idempotency | None:
        if key is None:
            return None
        body = request.model_dump_json().encode() if isinstance(request, BaseModel) \
            else orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
        return cls(key, caller, hashlib.sha256(body).hexdigest())

    @property
    def scope(self) -> str:
        """The key as the caller's own (a digest: an api_key must not be recoverable)."""
        return hashlib.sha256(f"{self.caller}\n{self.key}".encode()).hexdigest()

    def new_id(self) -> str:
        """The id of what the command creates (the same for every retry with this key)."""
        return uuid5(NAMESPACE, self.scope).hex

    def event_ids(self, stream_id: str, count: int) -> list[UUID]:
        return [uuid5(NAMESPACE, f"{self.scope}\n{self.request}\n{stream_id}\n{i}")
                for i in range(count)]

    def correlation_id(self, stream_id: str) -> UUID:
        """Marks the command's events in `stream_id`, whatever the request was."""
        return uuid5(NAMESPACE, f"{self.scope}\n{stream_id}")

    def earlier(self, stream_id: str, events: Sequence[Envelope]) -> AppendResult | None:
        """The first answer if this key was already used on `stream_id` (whose `events` are
        given) for this request; a 422 if it was used for another request; else None."""
        mark = self.correlation_id(stream_id)
        mine = [e for e in events if e.correlation_id == mark]
        if not mine:
            return None
        if mine[0].id != self.event_ids(stream_id, 1)[0]:
            raise DomainError(f"Idempotency-Key {self.key!r} was used for a different request",
                              field="Idempotency-Key")
        return AppendResult(version=mine[-1].stream_version,
                            positions=[e.position for e in mine if e.position is not None],
                            replayed=True)


def created_id(idempotency: Idempotency | None) -> str:
    """The id of what a command creates: the same for every retry with one Idempotency-Key,
    else a new time-ordered one."""
    return idempotency.new_id() if idempotency else new_event_id().hex
