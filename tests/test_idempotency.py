"""Ids derived from an Idempotency-Key (pure: no database)."""

from uuid import uuid4

import pytest
from pydantic import BaseModel

from shared.envelope import Envelope, NewEvent, seal
from shared.errors import DomainError
from shared.idempotency import Idempotency


class Command(BaseModel):
    what: str


def test_no_key_means_no_derived_ids():
    assert Idempotency.of(None, Command(what="a"), "clerk-1") is None


def test_the_same_key_and_request_give_the_same_ids():
    first, again = (Idempotency.of("k-1", Command(what="a"), "clerk-1") for _ in range(2))
    assert first.new_id() == again.new_id()
    assert first.event_ids("application-x", 2) == again.event_ids("application-x", 2)
    assert len(set(first.event_ids("application-x", 2))) == 2


def test_another_request_under_the_same_key_gets_other_event_ids():
    first = Idempotency.of("k-1", Command(what="a"), "clerk-1")
    other = Idempotency.of("k-1", Command(what="b"), "clerk-1")
    assert first.new_id() == other.new_id()  # it aims at the same new stream ...
    assert not set(first.event_ids("s", 1)) & set(other.event_ids("s", 1))  # ... as another
    assert Idempotency.of("k-2", Command(what="a"), "clerk-1").new_id() != first.new_id()


def test_the_same_key_from_two_callers_derives_nothing_in_common():
    station_7 = Idempotency.of("0042", Command(what="a"), "station-7")
    station_8 = Idempotency.of("0042", Command(what="a"), "station-8")
    assert station_7.new_id() != station_8.new_id()
    assert not set(station_7.event_ids("s", 2)) & set(station_8.event_ids("s", 2))
    assert station_7.correlation_id("s") != station_8.correlation_id("s")


def stored(idempotency: Idempotency | None, stream_id: str, version: int) -> Envelope:
    event = NewEvent("test.x", {"n": version},
                     id=idempotency.event_ids(stream_id, 1)[0] if idempotency else uuid4(),
                     correlation_id=idempotency.correlation_id(stream_id) if idempotency
                     else None)
    envelope = seal(event, source="test", stream_id=stream_id, stream_version=version,
                    prev_hash=bytes(32))
    envelope.position = 100 + version
    return envelope


def test_a_key_already_used_on_a_stream_gives_the_first_answer_or_a_422():
    first = Idempotency.of("k-1", Command(what="a"), "clerk-1")
    history = [stored(None, "s", 1), stored(first, "s", 2), stored(None, "s", 3)]
    replay = first.earlier("s", history)
    assert (replay.version, replay.positions, replay.replayed) == (2, [102], True)
    assert Idempotency.of("k-2", Command(what="a"), "clerk-1").earlier("s", history) is None
    with pytest.raises(DomainError) as refused:
        Idempotency.of("k-1", Command(what="b"), "clerk-1").earlier("s", history)
    assert refused.value.field == "Idempotency-Key"
