"""Recording violations over HTTP (issue 11's benchmark): throughput, and recorded → visible.

Starts the platform as `jiedao up` does, loads the demo territory, waits until enforcement has
learnt it from Kafka, then offers `POST /violations` at fixed rates (open loop), signed in as
each street's enforcement officer. Per rate: offered and achieved recordings/s, the POST's
p50/p99, and recorded → visible in enforcement's read model (`enforcement_view.violations`,
watched every 20 ms) p50/p99. Results: bench/results/recording.json.

    .venv/bin/python -m bench.recording               # 250, 500, 1000 /s, 20 s each
    .venv/bin/python -m bench.recording --quick       # 50/s for 3 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
from contextlib import ExitStack
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson
import uvloop
from shapely.geometry import shape

from bench.filing import (
    RESULTS,
    KeepAliveClient,
    Tokens,
    cpu_seconds,
    cpu_used,
    header_lines,
    whole_platform,
)

POLL_SECONDS = 0.02
SETTLE_SECONDS = 60.0
TYPES = ("cm.street_vending", "ps.noise_nuisance", "cm.other", "ps.other", "to.other")


async def findings(grid_url: str, reader: dict[str, str], count: int) -> list[dict]:
    """Valid recordings: points inside the demo's grids, in their streets."""
    async with httpx.AsyncClient(base_url=grid_url, timeout=30, headers=reader) as grid:
        places = []
        for street in (await grid.get("/territory/streets")).json()["items"][:6]:
            detail = (await grid.get(f"/territory/streets/{street['street_id']}")).json()
            for c in detail["communities"][:2]:
                info = (await grid.get(f"/territory/communities/{c['community_id']}")).json()
                g = info["grids"][0]
                boundary = (await grid.get(f"/territory/grids/{g['grid_id']}")).json()["boundary"]
                point = shape(boundary).representative_point()
                places.append((street["street_id"], point.x, point.y))
    rng = random.Random(11)
    bodies = []
    for i in range(count):
        street, lon, lat = rng.choice(places)
        bodies.append({"street_id": street, "type": rng.choice(TYPES),
                       "location": {"lon": lon, "lat": lat}, "address": f"测试路{i % 300}号",
                       "evidence": [f"photos/{i}.jpg"], "source": "patrol",
                       "offender": {"kind": "business", "name": f"商户{i % 97}"}})
    return bodies


async def wait_for_team(url: str, body: dict, officer: dict[str, str],
                        timeout: float = 120) -> None:
    """Until enforcement's copy of the territory (learnt from Kafka) takes a recording."""
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=officer) as client:
        async with asyncio.timeout(timeout):
            while (await client.post("/violations", json=body)).status_code != 201:
                await asyncio.sleep(0.5)


async def offer(url: str, bodies: list[dict], headers: list[dict[str, str]], rate: float,
                seconds: float, database_url: str) -> dict:
    total = int(rate * seconds)
    payloads = [orjson.dumps(b) for b in bodies]
    lines = [header_lines(h) for h in headers]
    client = KeepAliveClient(url)
    due_of: dict[str, float] = {}
    seen: dict[str, float] = {}
    posted: list[float] = []
    errors: dict[str, int] = {}
    done = asyncio.Event()

    async def watch() -> None:
        con = await asyncpg.connect(database_url)
        try:
            while not done.is_set():
                if pending := [v for v in due_of if v not in seen]:
                    rows = await con.fetch("SELECT violation_id FROM enforcement_view.violations "
                                           "WHERE violation_id = ANY($1::text[])", pending)
                    now = time.perf_counter()
                    for row in rows:
                        seen[row["violation_id"]] = now
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await con.close()

    async def one(i: int, due: float) -> None:
        try:
            status, body = await client.exchange(payloads[i % len(payloads)],
                                                 lines[i % len(lines)])
            if status == 201:
                due_of[orjson.loads(body)["violation_id"]] = due
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        posted.append(time.perf_counter() - due)

    watcher = asyncio.create_task(watch())
    start = time.perf_counter() + 0.2
    in_flight: set[asyncio.Task[None]] = set()
    for i in range(total):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    elapsed = time.perf_counter() - start
    settle_until = time.perf_counter() + SETTLE_SECONDS
    while len(seen) < len(due_of) and time.perf_counter() < settle_until:
        await asyncio.sleep(0.1)
    done.set()
    await watcher
    client.close()
    visible = sorted(seen[v] - due for v, due in due_of.items() if v in seen)
    posted.sort()
    return {"offered_per_s": rate, "seconds": seconds, "recordings": total,
            "achieved_per_s": round(total / elapsed, 1),
            "post_p50_ms": _ms(posted, 0.5), "post_p99_ms": _ms(posted, 0.99),
            "visible": len(visible), "never_visible": len(due_of) - len(visible),
            "visible_p50_ms": _ms(visible, 0.5), "visible_p99_ms": _ms(visible, 0.99),
            "errors": errors}


def _ms(sorted_seconds: list[float], quantile: float) -> float | None:
    if not sorted_seconds:
        return None
    return round(sorted_seconds[min(len(sorted_seconds) - 1,
                                    int(len(sorted_seconds) * quantile))] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    rates = [50.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    with ExitStack() as stack:
        env, tokens, urls, supervisor = whole_platform(stack, "jiedao-recording-")
        bodies = asyncio.run(findings(urls["grid"], tokens.headers("auditor"), 5000))
        headers = officers(tokens, bodies)
        asyncio.run(wait_for_team(urls["enforcement"], bodies[0], headers[0]))
        url = f"{urls['enforcement']}/violations"
        runs = []
        for rate in rates:
            before = cpu_seconds(supervisor.pids)
            result = uvloop.run(offer(url, bodies, headers, rate, seconds, env["DATABASE_URL"]))
            result["cpu_seconds"] = cpu_used(before, cpu_seconds(supervisor.pids))
            print(json.dumps(result), flush=True)
            runs.append(result)
    report = {"benchmark": "recording violations over HTTP (POST /violations) and recorded -> "
                           "visible in enforcement's read model",
              "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
              "at": datetime.now(UTC).isoformat(), "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    name = "recording-quick.json" if args.quick else "recording.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to bench/results/{name}")


def officers(tokens: Tokens, bodies: list[dict]) -> list[dict[str, str]]:
    """Each recording signed in as an enforcement officer of its street."""
    by_street = {b["street_id"]: tokens.headers(f"enforcement_officer:{b['street_id']}")
                 for b in bodies}
    return [by_street[b["street_id"]] for b in bodies]


if __name__ == "__main__":
    main()
