"""Load an aggregate from its stream, save the events it decided: the one way handlers do it."""

from __future__ import annotations

from typing import Protocol, TypeVar
from uuid import UUID

from shared.envelope import Actor
from shared.errors import ConcurrencyConflict
from shared.events import DomainEvent, EventRegistry
from shared.store import AppendResult, EventStore


class Aggregate(Protocol):
    version: int

    @property
    def stream_id(self) -> str: ...

    def apply(self, event: DomainEvent) -> None: ...


A = TypeVar("A", bound=Aggregate)


class Repository:
    def __init__(self, store: EventStore, registry: EventRegistry) -> None:
        self.store = store
        self.registry = registry
        self._references: dict[str, Aggregate] = {}

    async def load(self, aggregate: A) -> A:
        """`aggregate` (freshly made, empty) with its stream's events applied."""
        for envelope in await self.store.read_stream(aggregate.stream_id):
            aggregate.apply(self.registry.from_envelope(envelope))
            aggregate.version = envelope.stream_version
        return aggregate

    async def load_reference(self, aggregate: A) -> A:
        """An aggregate that the caller only reads (e.g. the catalogue matter a filing refers
        to), kept in memory while its stream has not moved: one cheap version check instead
        of replaying the stream. Never change what this returns."""
        version = await self.store.stream_version(aggregate.stream_id)
        cached = self._references.get(aggregate.stream_id)
        if cached is not None and cached.version == version:
            return cached  # type: ignore[return-value]
        loaded = await self.load(aggregate)
        if loaded.version:  # never remember streams that do not exist (any id a client sends)
            self._references[aggregate.stream_id] = loaded
        return loaded

    async def save(
        self,
        aggregate: Aggregate,
        events: list[DomainEvent],
        *,
        actor: Actor,
        expected_version: int | None = None,
        correlation_id: UUID | None = None,
    ) -> AppendResult:
        """Append `events` on top of the version `aggregate` was loaded at. A caller that read
        the aggregate earlier passes that `expected_version` (e.g. from If-Match)."""
        if expected_version is not None and expected_version != aggregate.version:
            raise ConcurrencyConflict(aggregate.stream_id, expected_version, aggregate.version)
        if not events:
            return AppendResult(version=aggregate.version, positions=[])
        new = [
            self.registry.to_new_event(e, actor=actor, correlation_id=correlation_id)
            for e in events
        ]
        return await self.store.append(aggregate.stream_id, aggregate.version, new)
