"""A relay in a process of its own, for the kill test: python -m tests.relay_child URL SCHEMA
BOOTSTRAP TOPIC. It pauses between batches so the test can kill it mid-stream."""

import asyncio
import sys

from aiokafka import AIOKafkaProducer

from shared.db import create_pool
from shared.relay import Relay
from shared.store import EventStore


async def main(url: str, schema: str, bootstrap: str, topic: str) -> None:
    pool = await create_pool(url, max_size=2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    relay = Relay(EventStore(pool, schema, "test"), producer, topic, batch=50)
    while True:
        await relay.publish_once()
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
