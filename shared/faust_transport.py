"""Faust's Kafka transport as jiedao's workers use it: the consumer's fetch wait is a setting,
its consumer runs on the worker's own event loop, and each fetched batch goes whole to its
topic's reader.

Faust runs its aiokafka consumer in a thread of its own and reaches it through a method queue:
each fetch (`getmany`) and commit costs two cross-thread wake-ups and queue hops, ~35 % of an
idle-to-moderately-busy worker's CPU (measured with a no-op reader at 20, 200 and 800
messages/s: 3.7, 0.39 and 0.13 ms a message with the thread, 2.45, 0.28 and 0.095 without).
Nothing in a worker blocks its loop for long (database work is awaited), so the consumer
shares it: `_ConsumerThread` starts Faust's consumer service as a task instead of a thread,
and its calls into the consumer are plain awaits.

Faust delivers a message to an agent through a task, a lock, an event object, a queue and a
stream iteration of its own: ~300 µs of CPU a message, measured on a no-op agent. A worker
here keeps read models that apply a batch at a time, so the consumer's drain loop hands a
topic's messages of a fetch (in chunks of at most `CHUNK`) to that topic's reader in one
call: ~45 µs a message. Faust still runs everything else: the consumer group, assignment and
rebalances, offsets, commits, timers.

Delivery is at least once, as with Faust's agents: a chunk's messages are tracked before
their reader runs and acked only after it returns, so a rebalance (Faust's `wait_empty`)
waits for a chunk being applied, the committed offset never passes an unapplied message, and
a worker stopped midway reads the chunk again when it comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import Message
from mode.utils.futures import maybe_async

Reader = Callable[[list[Message]], Awaitable[None]]
CHUNK = 2000  # messages per reader call: a backlog is applied in bounded transactions


def transport(app: faust.App, fetch_max_wait_ms: int) -> faust_aiokafka.Transport:
    """The app's transport: its consumer waits at most `fetch_max_wait_ms` for a fetch (Faust
    hard-codes 1,500 ms, and Tansu holds every fetch that long even when data arrives; a real
    Kafka answers at once) and hands fetched batches to `add_reader`'s readers."""
    made = _Transport(app.conf.broker_consumer, app)
    made.fetch_max_wait_ms = fetch_max_wait_ms
    made.readers = {}
    return made


def add_reader(app: faust.App, topic_name: str, reader: Reader) -> None:
    """Subscribe the worker to `topic_name`, its fetched messages going to `reader` (raw
    bytes: decoding is the reader's)."""
    app.transport.readers[topic_name] = reader
    app.topics.add(app.topic(topic_name, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw"))


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer "thread", run on the worker's own event loop: no thread, and each
    call into it (a fetch's `getmany`, a commit) a plain await instead of a hop through a
    method queue and two cross-thread wake-ups."""

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, thread_loop=kwargs["loop"], **kwargs)

    async def start(self) -> None:  # mode.threads.ServiceThread.start, less the thread
        assert not self._thread_started.is_set()
        self._thread_started.set()
        self._thread_running = asyncio.Future(loop=self.parent_loop)
        self.add_future(self._keepalive2())
        self._serving = asyncio.ensure_future(self._serve())
        try:
            if not self.should_stop:
                await self._thread_running
        finally:
            self._thread_running = None

    async def call_thread(self, fun: Callable[..., Awaitable[Any]], *args: Any,
                          **kwargs: Any) -> Any:
        return await maybe_async(fun(*args, **kwargs))  # some are plain functions

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms  # read when it starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's drain loop (`faust.transport.consumer.Consumer._drain_messages`), a fetch
        at a time instead of a message at a time."""
        readers: dict[str, Reader] = self.transport.readers
        stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        try:
            while not (stopped() or fetcher_stopped()):
                fetched: dict[str, list[Message]] = {}
                async for tp, message in self.getmany(timeout=1.0):
                    if await self._unread(tp, message):
                        fetched.setdefault(tp.topic, []).append(message)
                for topic, messages in fetched.items():
                    for start in range(0, len(messages), CHUNK):
                        await self._deliver(readers[topic], messages[start:start + CHUNK])
                await asyncio.sleep(0)  # a fetch may come back at once: let the others run
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise

    async def _unread(self, tp: Any, message: Message) -> bool:
        """Whether the message is past the partition's read offset (an earlier one comes
        again after a seek), noting an offset gap for the committer as Faust does."""
        read = self._read_offset[tp]
        if read is not None and message.offset < read:
            return False
        if read and message.offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read + 1, message.offset)
        self._read_offset[tp] = message.offset
        return True

    async def _deliver(self, reader: Reader, messages: list[Message]) -> None:
        # Tracked as Faust's `track_message` does, less its per-message sensor calls (the
        # monitor's statistics, which nothing here reads: 7 % of a busy worker's CPU).
        self._unacked_messages.update(messages)
        try:
            await reader(messages)
        except BaseException:
            # Unapplied: not acked, so not committed; untracked, so a stop or a rebalance
            # does not wait for it (it is read again from the committed offset).
            for message in messages:
                self._unacked_messages.discard(message)
            raise
        for message in messages:
            self.ack(message)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    fetch_max_wait_ms = 1500  # Faust's own
    readers: dict[str, Reader]
