"""One writer process of the multi-process batched-append measurement (bench/run.py).

    python -m bench.batched_worker URL SCHEMA WRITERS BATCHES TAG

Builds its events, warms up, prints `ready`, waits for a line on stdin, appends
WRITERS x BATCHES appends of 500 events (each to a new stream), then prints one JSON line
with its latencies and its own CPU seconds."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.run import batched_plan
from shared.db import create_pool
from shared.envelope import NewEvent
from shared.store import EventStore


async def main(url: str, schema: str, writers: int, batches: int, tag: str) -> None:
    pool = await create_pool(url)
    store = EventStore(pool, schema, "bench")
    await store.setup()

    async def writer(work: list[tuple[str, list[NewEvent]]], lat: list[float]) -> None:
        for stream, events in work:
            t = time.perf_counter()
            await store.append(stream, 0, events)
            lat.append(time.perf_counter() - t)

    await asyncio.gather(*(writer(batched_plan(w, 2, f"{tag}-warm"), []) for w in range(writers)))
    work = [batched_plan(w, batches, f"{tag}-run") for w in range(writers)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    latencies: list[float] = []
    cpu = time.process_time()
    await asyncio.gather(*(writer(work[w], latencies) for w in range(writers)))
    print(json.dumps({"latencies": latencies, "cpu_s": time.process_time() - cpu}), flush=True)
    await store.close()
    await pool.close()


if __name__ == "__main__":
    url, schema, writers, batches, tag = sys.argv[1:6]
    asyncio.run(main(url, schema, int(writers), int(batches), tag))
