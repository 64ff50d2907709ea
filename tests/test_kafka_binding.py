"""Our Kafka messages are exactly what the CloudEvents library's Kafka binding makes and reads."""

from uuid import uuid4

from cloudevents.core.bindings.kafka import from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import GENESIS_HASH, Actor, NewEvent, Scope, seal
from shared.kafka import from_message, to_message

# What the store accepts (shared/envelope.py): no NUL, no lone surrogate.
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
ids = st.none() | st.text("abcdefghijklmnopqrstuvwxyz.0123456789", max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(storable, max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(storable, max_size=8),
                                                                  inner, max_size=3),
    max_leaves=8,
)


def envelope(data, street, community, grid, caused):
    event = NewEvent("test.thing.happened", data, actor=Actor("u1", "resident"),
                     scope=Scope(street, community, grid), causation_id=uuid4() if caused else None)
    e = seal(event, source="test", stream_id="s-1", stream_version=3, prev_hash=GENESIS_HASH)
    e.position = 42
    return e


def library_message(e):
    extensions = {name[3:]: value.decode() for name, value in to_message(e).headers.items()
                  if name.startswith("ce_") and name[3:] not in
                  ("id", "source", "type", "subject", "time", "specversion")}
    event = CloudEvent(attributes={"id": str(e.id), "source": e.source, "type": e.type,
                                   "subject": e.subject, "time": e.time, "specversion": "1.0",
                                   "datacontenttype": "application/json", **extensions},
                       data=e.data_bytes())
    return to_binary(event, JSONFormat(), key_mapper=lambda _: e.stream_id.encode())


@given(st.dictionaries(st.text(storable, max_size=10), json_values, max_size=4), ids, ids, ids,
       st.booleans())
def test_our_message_is_the_librarys_and_reads_back(data, street, community, grid, caused):
    e = envelope(data, street, community, grid, caused)
    ours, theirs = to_message(e), library_message(e)
    assert (ours.key, ours.value, ours.headers) == (theirs.key, theirs.value, theirs.headers)
    read = from_binary(ours, JSONFormat(), CloudEvent)
    assert read.get_id() == str(e.id) and read.get_type() == e.type
    assert read.get_time() == e.time
    back = from_message(ours.headers, ours.key, ours.value)
    assert back == e and back.computed_hash() == e.hash
