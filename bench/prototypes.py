"""Reference and prototype relay pieces, measured next to the shipped Relay. Nothing in the
project uses these; they are not the shipped code.

* `library_message`: the Kafka message as the `cloudevents` library builds it (a validated
  CloudEvent object through `to_binary`), which is what `shared.kafka.to_message` did before
  it was hand-built. `check_same_messages` holds the two equal on the benchmark's events.
* `PipelinedRelay`: the shipped Relay (hand-built messages, one record batch per partition)
  with one change: the next poll of the store runs while the broker acknowledges the
  current batch, instead of after. Same delivery rules: the cursor moves only once the
  broker acknowledged everything up to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.envelope import Envelope
from shared.kafka import CONTENT_TYPE, to_message
from shared.relay import Relay

_FORMAT = JSONFormat()


def library_message(e: Envelope) -> KafkaMessage:
    optional = {
        "streetid": e.scope.street_id,
        "communityid": e.scope.community_id,
        "gridid": e.scope.grid_id,
        "causationid": str(e.causation_id) if e.causation_id else None,
    }
    event = CloudEvent(
        attributes={
            "id": str(e.id), "source": e.source, "type": e.type, "subject": e.subject,
            "time": e.time, "specversion": "1.0", "datacontenttype": CONTENT_TYPE,
            "streamid": e.stream_id,
            "streamversion": str(e.stream_version),
            "position": str(e.position),
            "schemaversion": str(e.schema_version),
            "actorid": e.actor.user_id,
            "actorrole": e.actor.role,
            "correlationid": str(e.correlation_id),
            "hash": e.hash.hex(),
            "prevhash": e.prev_hash.hex(),
            **{name: value for name, value in optional.items() if value is not None},
        },
        data=e.data_bytes(),
    )
    return to_binary(event, _FORMAT, key_mapper=lambda _: e.stream_id.encode())


def check_same_messages(envelopes: list[Envelope]) -> None:
    """Raise unless `to_message` gives what the library gives for every envelope."""
    for e in envelopes:
        ours, theirs = to_message(e), library_message(e)
        if (ours.key, ours.value, ours.headers) != (theirs.key, theirs.value, theirs.headers):
            raise AssertionError(f"to_message differs from the library's message for {e.id}")


class PipelinedRelay(Relay):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next: asyncio.Future[list[Envelope]] | None = None

    async def _poll(self) -> list[Envelope]:
        assert self._follower is not None
        return await self._follower.poll(self.batch)

    async def publish_once(self) -> int:
        if self._follower is None:
            await self.resume()
        assert self._follower is not None
        events = await (self._next or self._poll())
        self._next = None
        if not events:
            return 0
        position = self._follower.position  # the cursor just after `events`
        acks = await self._send(events)
        self._next = asyncio.ensure_future(self._poll())  # read ahead while acks arrive
        await asyncio.gather(*acks)
        self.published += len(events)
        await self.store.pool.execute(
            f"INSERT INTO {self.store.schema}.cursors (name, position, published) "
            "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "published = excluded.published, updated_at = now()",
            self.name, position, self.published,
        )
        return len(events)

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            await asyncio.gather(self._next, return_exceptions=True)
            self._next = None
