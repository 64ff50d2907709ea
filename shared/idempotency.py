"""Commands a client may send twice (a timeout, an answer lost on the way back) carry an
`Idempotency-Key` header. The ids such a command creates are derived from the key and the
request, so the event store, idempotent by event id, stores the command once and answers a
retry with the first result; the same key with a different request is refused."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID, uuid5

from pydantic import BaseModel

NAMESPACE = UUID("5d0e8a64-8f1e-5b7a-9c3e-2f6a1b9d4c70")


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    request: str  # a digest of the request the key was first used with

    @classmethod
    def of(cls, key: str | None, command: BaseModel) -> Idempotency | None:
        if key is None:
            return None
        return cls(key, hashlib.sha256(command.model_dump_json().encode()).hexdigest())

    def new_id(self) -> str:
        """The id of what the command creates (the same for every retry with this key)."""
        return uuid5(NAMESPACE, self.key).hex

    def event_ids(self, stream_id: str, count: int) -> list[UUID]:
        return [uuid5(NAMESPACE, f"{self.key}\n{self.request}\n{stream_id}\n{i}")
                for i in range(count)]
