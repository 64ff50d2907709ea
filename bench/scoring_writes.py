"""The scorer's fact writes alone: `project()` of `ScoreFacts` (one per topic, concurrently, as
a worker's agents do) over the scoring benchmark's events, in batches, with no Faust and no
broker: events/s and CPU per event of PostgreSQL and of this process. Run it in two checkouts,
alternated, to compare two versions of the write path (bench/README.md, scorer section).

    .venv/bin/python -m bench.scoring_writes               # 30,000 events in batches of 1,000
    .venv/bin/python -m bench.scoring_writes --batch 100
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from bench.infra import Infra, process_tree_cpu, start_infra
from bench.scoring_feed import event
from services.assessment.scorer import ScoreFacts
from shared import projection
from shared.db import create_pool

SOURCES = ("intake", "grid", "assessment")
WARM = 300


async def measure(infra: Infra, count: int, batch: int) -> dict[str, float]:
    pool = await create_pool(infra.url)
    try:
        facts = {source: ScoreFacts(source) for source in SOURCES}
        for p in facts.values():
            await projection.setup(pool, p)
        tag = uuid.uuid4().hex[:6]
        events = [event(n % 3, tag, n) for n in range(count + WARM)]
        await apply(pool, facts, events[:WARM])
        events = events[WARM:]
        pg, me = process_tree_cpu(infra.postgres_pid) or 0.0, time.process_time()
        wall = time.perf_counter()
        for first in range(0, len(events), batch):
            await apply(pool, facts, events[first:first + batch])
        wall = time.perf_counter() - wall
        pg = (process_tree_cpu(infra.postgres_pid) or 0.0) - pg
        me = time.process_time() - me
    finally:
        await pool.close()
    return {"events": count, "batch": batch, "events_per_s": round(count / wall),
            "postgres_ms_per_event": round(1000 * pg / count, 3),
            "python_ms_per_event": round(1000 * me / count, 3)}


async def apply(pool: asyncpg.Pool, facts: dict[str, ScoreFacts], events: list) -> None:
    await asyncio.gather(*(projection.project(pool, p, [e for s, e in events if s == source])
                           for source, p in facts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    infra = start_infra()
    try:
        print(asyncio.run(measure(infra, args.events, args.batch)))
    finally:
        infra.close()


if __name__ == "__main__":
    main()
