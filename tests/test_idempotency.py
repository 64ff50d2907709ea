"""Ids derived from an Idempotency-Key (pure: no database)."""

from pydantic import BaseModel

from shared.idempotency import Idempotency


class Command(BaseModel):
    what: str


def test_no_key_means_no_derived_ids():
    assert Idempotency.of(None, Command(what="a")) is None


def test_the_same_key_and_request_give_the_same_ids():
    first, again = (Idempotency.of("k-1", Command(what="a")) for _ in range(2))
    assert first.new_id() == again.new_id()
    assert first.event_ids("application-x", 2) == again.event_ids("application-x", 2)
    assert len(set(first.event_ids("application-x", 2))) == 2


def test_another_request_under_the_same_key_gets_other_event_ids():
    first = Idempotency.of("k-1", Command(what="a"))
    other = Idempotency.of("k-1", Command(what="b"))
    assert first.new_id() == other.new_id()  # it aims at the same new stream ...
    assert not set(first.event_ids("s", 1)) & set(other.event_ids("s", 1))  # ... as another
    assert Idempotency.of("k-2", Command(what="a")).new_id() != first.new_id()
