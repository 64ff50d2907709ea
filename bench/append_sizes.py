"""What one append transaction costs, by how many events it carries: one writer appending
k events at a time (each append waits for the last), k = 1 … 512, on one PostgreSQL (embedded
unless DATABASE_URL names one). Per event: the client's CPU (this process) and PostgreSQL's
(its server processes). Why a busy store lingers (shared/store.py, JIEDAO_STORE_LINGER_SECONDS).

    .venv/bin/python -m bench.append_sizes     # ~1 minute -> bench/results/append-sizes.json
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime

import uvloop

from bench.filing import write_results
from bench.infra import process_tree_cpu, start_infra
from bench.machine import machine
from bench.run import EVENT_TYPE, event_data
from shared.db import create_pool
from shared.envelope import NewEvent
from shared.store import EventStore

SIZES = (1, 2, 4, 8, 16, 64, 512)
ROUNDS = 3
SECONDS = 1.5


async def one_round(url: str, pid: int | None, size: int, tag: str) -> tuple[float, float]:
    pool = await create_pool(url)
    store = EventStore(pool, f"b_sizes_{tag}", "bench")
    await store.setup()
    try:
        for i in range(20):  # warm-up
            await store.append(f"warm-{i}", 0, [NewEvent(EVENT_TYPE, event_data(0, j))
                                                for j in range(size)])
        events, stream = 0, 0
        client, server = time.process_time(), process_tree_cpu(pid) or 0.0
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            await store.append(f"s-{stream}", 0, [NewEvent(EVENT_TYPE, event_data(0, j))
                                                  for j in range(size)])
            events, stream = events + size, stream + 1
        return ((time.process_time() - client) / events * 1e6,
                ((process_tree_cpu(pid) or 0.0) - server) / events * 1e6)
    finally:
        await store.close()
        await pool.execute(f"DROP SCHEMA b_sizes_{tag} CASCADE")
        await pool.close()


def main() -> None:
    measured_on = machine()
    infra = start_infra()
    rows = []
    try:
        for size in SIZES:
            runs = [uvloop.run(one_round(infra.url, infra.postgres_pid, size, f"{size}_{r}"))
                    for r in range(ROUNDS)]
            row = {"events_per_append": size,
                   "client_us_per_event": round(statistics.median(c for c, _ in runs), 1),
                   "postgres_us_per_event": round(statistics.median(s for _, s in runs), 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        infra.close()
    write_results({"benchmark": __doc__.split("\n\n")[0], "machine": measured_on,
                   "at": datetime.now(UTC).isoformat(), "rows": rows}, "append-sizes.json")


if __name__ == "__main__":
    main()
