"""Event types are stored by name and version; older versions are upcast on read."""

from shared.envelope import GENESIS_HASH, NewEvent, seal
from shared.events import DomainEvent, EventRegistry


def test_an_old_version_is_upcast_on_read():
    registry = EventRegistry()

    @registry.register
    class Renamed(DomainEvent):
        TYPE = "test.thing.renamed"
        VERSION = 2
        name_zh: str
        name_en: str

    @registry.upcaster("test.thing.renamed", from_version=1)
    def split_name(data):
        return {"name_zh": data["name"], "name_en": ""}

    stored = seal(NewEvent("test.thing.renamed", {"name": "猛追湾"}, schema_version=1),
                  source="test", stream_id="s", stream_version=1, prev_hash=GENESIS_HASH)
    event = registry.from_envelope(stored)
    assert event == Renamed(name_zh="猛追湾", name_en="")
    assert registry.to_new_event(event).schema_version == 2
