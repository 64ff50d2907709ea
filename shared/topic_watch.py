"""Notice when the broker lost a topic the relay published to, so it publishes the store again.

A broker can lose a topic while the relay runs (Tansu keeps topics in memory: a restart empties
it) and the topic can come back empty at once, since the broker creates a topic that a client
merely asks about. So existence proves nothing; offsets do: a partition's offsets never go back.
The relay is told the topic was lost when
  * an acknowledged batch starts at or below an offset it was acknowledged before, or
  * a partition's end offset is below the last offset acknowledged to it, or
  * the topic is empty (all end offsets 0) while the store cursor says events were published.
(Tansu's end offsets are too low after batched produce, but never 0 for a partition holding a
record, nor below the last batch's base offset + 1, which is all these checks need.)
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata


async def ensure_topic(bootstrap: str, topic: str, partitions: int) -> bool:
    """Create `topic` if the broker lacks it; True when it had to be created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return False
        await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
        return True
    finally:
        await admin.close()


class TopicWatch:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap,
                                          enable_auto_commit=False)
        self._acked: dict[int, int] = {}  # partition -> base offset of the last acked batch

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    def forget(self) -> None:
        """The relay starts the topic over: offsets acknowledged so far no longer count."""
        self._acked.clear()

    def went_back(self, acks: list[RecordMetadata]) -> bool:
        """Record acknowledged batches; True if one starts where an earlier one already did."""
        back = False
        for ack in acks:
            previous = self._acked.get(ack.partition)
            back = back or (previous is not None and ack.offset <= previous)
            self._acked[ack.partition] = ack.offset
        return back

    async def lost(self, *, published_before: bool) -> bool:
        """Whether the topic lacks what was published to it (see the module's docstring)."""
        await self._consumer.topics()  # refreshes the metadata
        partitions = self._consumer.partitions_for_topic(self.topic)
        if not partitions:
            return published_before
        ends = await self._consumer.end_offsets(
            [TopicPartition(self.topic, p) for p in partitions])
        by_partition = {tp.partition: offset for tp, offset in ends.items()}
        if published_before and not any(by_partition.values()):
            return True
        return any(by_partition.get(p, 0) < last + 1 for p, last in self._acked.items())
