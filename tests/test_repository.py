"""Decisions that read other aggregates: remembered references, checked when saving."""

from typing import ClassVar

import pytest

from shared.envelope import Actor
from shared.errors import DomainError, StaleRead
from shared.events import DomainEvent, EventRegistry
from shared.repository import References, Repository

registry = EventRegistry()
ACTOR = Actor("tester", "operator")


@registry.register
class Opened(DomainEvent):
    TYPE: ClassVar[str] = "test.counter.opened"


@registry.register
class Closed(DomainEvent):
    TYPE: ClassVar[str] = "test.counter.closed"


@registry.register
class Used(DomainEvent):
    TYPE: ClassVar[str] = "test.use.recorded"


class Counter:
    def __init__(self, name: str) -> None:
        self.name, self.version, self.open = name, 0, False

    @property
    def stream_id(self) -> str:
        return f"counter-{self.name}"

    def apply(self, event: DomainEvent) -> None:
        self.open = isinstance(event, Opened)


class Use:
    def __init__(self, name: str) -> None:
        self.name, self.version = name, 0

    @property
    def stream_id(self) -> str:
        return f"use-{self.name}"

    def apply(self, event: DomainEvent) -> None:
        pass


async def use_counter(repo: Repository, use_name: str, counter: str = "a") -> int:
    """The command under test: a use may be recorded only while the counter is open."""
    loads = 0

    async def attempt(references: References) -> int:
        nonlocal loads
        loads += 1
        found = await references.load(Counter(counter))
        if not found.open:
            raise DomainError("the counter is closed", field="counter")
        await repo.save(Use(use_name), [Used()], actor=ACTOR, read=references)
        return loads

    return await repo.decide(attempt)


async def toggle(repo: Repository, event: DomainEvent, counter: str = "a") -> None:
    found = await repo.load(Counter(counter))
    await repo.save(found, [event], actor=ACTOR)


@pytest.fixture
def two_processes(store):
    """Two repositories on one store, as two API processes of one service have."""
    return Repository(store, registry), Repository(store, registry)


async def test_a_remembered_reference_that_moved_on_is_read_again(two_processes, store):
    here, elsewhere = two_processes
    await toggle(elsewhere, Opened())
    assert await use_counter(here, "1") == 1  # loads the counter and remembers it
    await toggle(elsewhere, Closed())  # the other process closes it
    with pytest.raises(DomainError, match="closed"):
        await use_counter(here, "2")  # the save finds it moved, the retry sees it closed
    assert await store.read_stream("use-2") == []


async def test_a_refusal_on_a_remembered_reference_is_checked_before_it_stands(two_processes):
    here, elsewhere = two_processes
    await toggle(elsewhere, Opened())
    await toggle(elsewhere, Closed())
    with pytest.raises(DomainError):
        await use_counter(here, "1")  # remembers the counter closed
    await toggle(elsewhere, Opened())  # reopened elsewhere
    assert await use_counter(here, "2") == 2  # refused on memory, checked, decided again


async def test_an_unchanged_reference_is_not_read_again(two_processes, store):
    here, elsewhere = two_processes
    await toggle(elsewhere, Opened())
    await use_counter(here, "1")
    reads = 0
    original = store.read_stream

    async def counting(stream_id, **kw):
        nonlocal reads
        reads += stream_id.startswith("counter-")
        return await original(stream_id, **kw)

    store.read_stream = counting
    assert await use_counter(here, "2") == 1
    assert reads == 0


async def test_a_reference_that_keeps_moving_ends_in_a_conflict(two_processes, store):
    here, elsewhere = two_processes
    await toggle(elsewhere, Opened())
    attempts = 0

    async def attempt(references: References) -> None:
        nonlocal attempts
        attempts += 1
        await references.load(Counter("a"))
        await toggle(elsewhere, Opened())  # another writer, every time between read and save
        await here.save(Use("1"), [Used()], actor=ACTOR, read=references)

    with pytest.raises(StaleRead):
        await here.decide(attempt)
    assert attempts == 3
    assert await store.read_stream("use-1") == []
