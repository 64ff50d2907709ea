"""Domain events as explicit pydantic classes, and the registry that maps them to the log.

Each event class names its stable type (`grid.grid.drawn`) and schema version; the log stores
those, never a Python class path. An event stored under an older version is upcast on read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.envelope import SYSTEM, Actor, Envelope, NewEvent, Scope

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound="type[DomainEvent]")


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def scope(self) -> Scope:
        """The territory this event concerns; events that carry ids say so."""
        fields = self.__dict__
        return Scope(fields.get("street_id"), fields.get("community_id"), fields.get("grid_id"))


class UnknownEventType(LookupError):
    pass


class EventRegistry:
    def __init__(self) -> None:
        self._classes: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: E) -> E:
        """Class decorator: makes `cls` known under its TYPE."""
        if cls.TYPE in self._classes:
            raise ValueError(f"event type {cls.TYPE} registered twice")
        self._classes[cls.TYPE] = cls
        return cls

    def upcaster(self, type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator for a function that turns version `from_version` data into the next."""
        def add(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_, from_version)] = fn
            return fn
        return add

    def knows(self, type_: str) -> bool:
        return type_ in self._classes

    def to_new_event(
        self,
        event: DomainEvent,
        *,
        actor: Actor = SYSTEM,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> NewEvent:
        return NewEvent(
            type=event.TYPE,
            data=event.model_dump(mode="json"),
            schema_version=event.VERSION,
            actor=actor,
            scope=event.scope(),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    def from_envelope(self, envelope: Envelope) -> DomainEvent:
        cls = self._classes.get(envelope.type)
        if cls is None:
            raise UnknownEventType(envelope.type)
        data, version = envelope.data, envelope.schema_version
        while version < cls.VERSION:
            data = self._upcasters[(envelope.type, version)](data)
            version += 1
        return cls.model_validate(data)

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """JSON Schema of every registered event type, keyed by type name."""
        return {
            name: {**cls.model_json_schema(), "x-event-version": cls.VERSION}
            for name, cls in sorted(self._classes.items())
        }
