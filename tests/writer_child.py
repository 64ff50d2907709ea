"""A writer in a process of its own, for the follower stress test:
python -m tests.writer_child URL SCHEMA TAG APPENDS. Appends at full speed from 20 concurrent
writers through a store with several flushers, so transactions commit out of position order
(half of them create a stream, the store's one-statement path; half take the general one);
prints how many appends committed."""

import asyncio
import sys

from shared.db import create_pool
from shared.envelope import NewEvent
from shared.store import EventStore


async def main(url: str, schema: str, tag: str, appends: int) -> None:
    pool = await create_pool(url, max_size=8)
    store = EventStore(pool, schema, "test", flushers=3, max_batch_events=20)
    await store.setup()

    async def writer(w: int) -> None:
        for i in range(w, appends, 20):
            events = [NewEvent("test.thing.happened", {"tag": f"{tag}.{i}.{k}"})
                      for k in range(1 + i % 3)]
            if i % 2:  # a stream of its own, new: written in one statement
                await store.append(f"{tag}-new-{i}", 0, events)
            else:  # one of the writer's five streams, at any version: the general path
                await store.append(f"{tag}-{w}-{i % 5}", None, events)

    await asyncio.gather(*(writer(w) for w in range(20)))
    await store.close()
    await pool.close()
    print(appends, flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4], int(sys.argv[4])))
