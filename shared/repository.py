"""Load an aggregate from its stream, save the events it decided: the one way handlers do it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar
from uuid import UUID

from shared.access import Place
from shared.envelope import Actor, Envelope
from shared.errors import ConcurrencyConflict, DomainError, StaleRead
from shared.events import DomainEvent, EventRegistry
from shared.idempotency import Idempotency
from shared.store import AppendResult, EventStore


class Aggregate(Protocol):
    version: int

    @property
    def stream_id(self) -> str: ...

    def apply(self, event: DomainEvent) -> None: ...

    def place(self) -> Place:
        """Where it lives (its street, community, grid, owner...): whose grants cover it."""
        ...


A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

REFERENCE_CACHE_SIZE = 10_000
DECIDE_TRIES = 3


class Repository:
    def __init__(self, store: EventStore, registry: EventRegistry) -> None:
        self.store = store
        self.registry = registry
        self.references = ReferenceCache()

    async def load(self, aggregate: A) -> A:
        """`aggregate` (freshly made, empty) with its stream's events applied."""
        return self._replayed(aggregate, await self.store.read_stream(aggregate.stream_id))

    def _replayed(self, aggregate: A, envelopes: list[Envelope]) -> A:
        for envelope in envelopes:
            aggregate.apply(self.registry.from_envelope(envelope))
            aggregate.version = envelope.stream_version
        return aggregate

    async def act(
        self,
        aggregate: A,
        decide: Callable[[A], list[DomainEvent]],
        *,
        authorize: Callable[[A], Actor],
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> AppendResult:
        """The one shape of a command on one aggregate: load it, let `decide` choose, save.
        `authorize` (the caller's scope check: the actor to record, or Forbidden) sees the
        aggregate as loaded, if it exists, and as the command leaves it, so no one acts on,
        creates or moves something outside their scope.
        A retry under an Idempotency-Key already used on this stream gets the first answer
        without deciding again (the step may no longer be allowed now that it was taken)."""
        envelopes = await self.store.read_stream(aggregate.stream_id)
        if idempotency and (done := idempotency.earlier(aggregate.stream_id, envelopes)):
            return done
        aggregate = self._replayed(aggregate, envelopes)
        loaded_at = aggregate.version
        if loaded_at:
            authorize(aggregate)
        events = decide(aggregate)
        for event in events:
            aggregate.apply(event)
        actor = authorize(aggregate)
        aggregate.version = loaded_at  # the events are appended on top of what was loaded
        return await self.save(aggregate, events, actor=actor,
                               expected_version=expected_version, idempotency=idempotency)

    async def decide(self, attempt: Callable[[References], Awaitable[T]]) -> T:
        """Run a command whose decision reads other aggregates (e.g. a filing reads the
        catalogue matter) through `References`: they come from memory when known, and the
        save checks that they have not moved on. If one had, or if the command was refused
        on one that has, the command is decided again on fresh ones."""
        for tries_left in range(DECIDE_TRIES - 1, -1, -1):
            references = References(self)
            try:
                return await attempt(references)
            except StaleRead:
                if not tries_left:
                    raise
            except DomainError:
                if not tries_left or await references.current():
                    raise
        raise AssertionError("unreachable")

    async def save(
        self,
        aggregate: Aggregate,
        events: list[DomainEvent],
        *,
        actor: Actor,
        expected_version: int | None = None,
        correlation_id: UUID | None = None,
        read: References | None = None,
        idempotency: Idempotency | None = None,
    ) -> AppendResult:
        """Append `events` on top of the version `aggregate` was loaded at. A caller that read
        the aggregate earlier passes that `expected_version` (e.g. from If-Match); a decision
        that read other aggregates passes them as `read`; a command sent with an
        Idempotency-Key passes its `idempotency` (the events' ids then come from it)."""
        if expected_version is not None and expected_version != aggregate.version:
            raise ConcurrencyConflict(aggregate.stream_id, expected_version, aggregate.version)
        if not events:
            return AppendResult(version=aggregate.version, positions=[])
        if idempotency is not None:
            correlation_id = idempotency.correlation_id(aggregate.stream_id)
        new = [
            self.registry.to_new_event(e, actor=actor, correlation_id=correlation_id)
            for e in events
        ]
        if idempotency is not None:
            for event, event_id in zip(
                    new, idempotency.event_ids(aggregate.stream_id, len(new)), strict=True):
                event.id = event_id
        self.references.forget([aggregate.stream_id])

        try:
            return await self.store.append(aggregate.stream_id, aggregate.version, new,
                                           read=read.versions() if read else None)
        except StaleRead as stale:
            self.references.forget(stale.moved)
            raise
        except ConcurrencyConflict:
            if idempotency is None:
                raise
            # With a key: a twin of this request may have stored it a moment ago (the first
            # answer), or the key was used for another request (422); else a real conflict.
            stored = await self.store.read_stream(aggregate.stream_id)
            if (done := idempotency.earlier(aggregate.stream_id, stored)) is None:
                raise
            return done


class ReferenceCache:
    """Aggregates that decisions read, as last loaded (oldest first, at most `size`)."""

    def __init__(self, size: int = REFERENCE_CACHE_SIZE) -> None:
        self.size = size
        self._aggregates: dict[str, Aggregate] = {}

    def get(self, stream_id: str) -> Aggregate | None:
        return self._aggregates.get(stream_id)

    def remember(self, aggregate: Aggregate) -> None:
        if not aggregate.version:  # never remember streams that do not exist (any id a
            return  # client sends)
        self._aggregates.pop(aggregate.stream_id, None)
        self._aggregates[aggregate.stream_id] = aggregate
        if len(self._aggregates) > self.size:
            del self._aggregates[next(iter(self._aggregates))]

    def forget(self, stream_ids: Iterable[str]) -> None:
        for stream_id in stream_ids:
            self._aggregates.pop(stream_id, None)


class References:
    """The aggregates one decision reads besides the one it writes, at the versions it read."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._read: dict[str, Aggregate] = {}
        self._from_memory: set[str] = set()

    async def load(self, aggregate: A) -> A:
        """`aggregate` as last known (never change what this returns), else loaded."""
        cached = self._repository.references.get(aggregate.stream_id)
        if cached is not None:
            self._from_memory.add(aggregate.stream_id)
            aggregate = cached  # type: ignore[assignment]
        else:
            aggregate = await self._repository.load(aggregate)
            self._repository.references.remember(aggregate)
        self._read[aggregate.stream_id] = aggregate
        return aggregate

    def versions(self) -> dict[str, int]:
        return {stream_id: a.version for stream_id, a in self._read.items()}

    async def current(self) -> bool:
        """Whether what came from memory is still current (forgetting what is not)."""
        if not self._from_memory:
            return True
        now = await self._repository.store.stream_versions(sorted(self._from_memory))
        moved = [s for s in self._from_memory if now.get(s, 0) != self._read[s].version]
        self._repository.references.forget(moved)
        return not moved
