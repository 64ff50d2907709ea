"""Filing applications over HTTP at fixed rates (issue 3's benchmark).

Starts the platform as `jiedao up` does (embedded PostgreSQL and broker; every service as its
own processes), loads the demo territory and catalogue, then offers filings to the intake API
at fixed rates (open loop: each request is due at its own time, and its latency counts from
that time, so a slow server cannot hide queueing). Reports per rate: offered and achieved
filings/s, p50/p99/max latency, errors. Results: bench/results/filing.json.

    .venv/bin/python -m bench.filing            # rates 250, 500, 1000, 1500 /s, 10 s each
    .venv/bin/python -m bench.filing --quick    # a short smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import psutil
from shapely.geometry import shape

from deploy.demo import load_catalogue, load_territory
from deploy.supervisor import Supervisor
from deploy.up import infrastructure, process_specs
from shared.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


async def filing_bodies(grid_url: str, intake_url: str, count: int) -> list[dict]:
    """Valid filings: community-level matters at random grids, points inside them."""
    async with httpx.AsyncClient(base_url=grid_url, timeout=30) as grid, \
            httpx.AsyncClient(base_url=intake_url, timeout=30) as intake:
        places = []
        for street in (await grid.get("/territory/streets")).json()["items"][:6]:
            for c in (await grid.get(f"/territory/streets/{street['street_id']}")).json()[
                    "communities"][:2]:
                info = (await grid.get(f"/territory/communities/{c['community_id']}")).json()
                g = info["grids"][0]
                boundary = (await grid.get(f"/territory/grids/{g['grid_id']}")).json()["boundary"]
                point = shape(boundary).representative_point()
                places.append((c["community_id"], point.x, point.y))
        matters = (await intake.get("/catalogue", params={"level": "community"})).json()["items"]
    rng = random.Random(7)
    bodies = []
    for i in range(count):
        community, lon, lat = rng.choice(places)
        matter = rng.choice(matters)
        bodies.append({
            "matter_code": matter["matter_code"], "community_id": community,
            "applicant": {"name": "张秀英", "id_number": f"5101{i:013d}"},
            "address": f"{community} {i}号", "location": {"lon": lon, "lat": lat},
            "materials": [m["code"] for m in matter["materials"]],
        })
    return bodies


async def wait_for_replica(intake_url: str, body: dict, timeout: float = 120) -> None:
    """Until intake's copy of the territory (learnt from Kafka) accepts a filing."""
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as intake:
        async with asyncio.timeout(timeout):
            while (await intake.post("/applications", json=body)).status_code != 201:
                await asyncio.sleep(0.5)


async def offer(url: str, bodies: list[dict], rate: float, seconds: float) -> dict:
    """Open-loop load: request i is due at start + i / rate."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                async with session.post(url, json=bodies[i % len(bodies)]) as response:
                    await response.read()
                    if response.status != 201:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "offered_per_s": rate, "seconds": seconds, "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="250,500,1000,1500")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rates = [100.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    data_dir = Path(tempfile.mkdtemp(prefix="jiedao-filing-"))
    with ExitStack() as stack:
        settings = Settings(JIEDAO_DATA_DIR=str(data_dir),
                            DATABASE_URL=os.environ.get("DATABASE_URL"),
                            KAFKA_BOOTSTRAP_SERVERS=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
        env = infrastructure(settings, data_dir, stack)
        specs, urls = process_specs(env, first_port=18100)
        supervisor = stack.enter_context(Supervisor(specs, log_dir=data_dir / "logs"))
        asyncio.run(_seed(urls))
        bodies = asyncio.run(filing_bodies(urls["grid"], urls["intake"], 5000))
        asyncio.run(wait_for_replica(urls["intake"], bodies[0]))
        runs = []
        for rate in rates:
            before = cpu_seconds(supervisor.pids)
            result = asyncio.run(offer(f"{urls['intake']}/applications", bodies, rate, seconds))
            result["cpu_seconds"] = {name: round(after - before.get(name, 0.0), 2)
                                     for name, after in cpu_seconds(supervisor.pids).items()}
            print(json.dumps(result), flush=True)
            runs.append(result)
    report = {"benchmark": "filing over HTTP (POST /applications)", "machine": {
        "cores": os.cpu_count(), "python": platform.python_version()},
        "at": datetime.now(UTC).isoformat(), "runs": runs,
        "floor": "1,000 filings/s sustained with p99 under 100 ms"}
    RESULTS.mkdir(exist_ok=True)
    name = "filing-quick.json" if args.quick else "filing.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to bench/results/{name}")


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time so far of each platform process (with its children), of PostgreSQL's server
    processes together, of the broker, and of this load generator."""
    seconds: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            process = psutil.Process(pid)
            seconds[name] = sum(_cpu(p) for p in [process, *process.children(recursive=True)])
        except psutil.NoSuchProcess:
            pass
    for process in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(process.info["cmdline"] or [])
        kind = "postgres" if "postgres" in (process.info["name"] or "") else (
            "broker" if "tansu" in cmd else None)
        if kind:
            seconds[kind] = seconds.get(kind, 0.0) + _cpu(process)
    seconds["load generator"] = _cpu(psutil.Process())
    return seconds


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


async def _seed(urls: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=urls["grid"], timeout=30) as client:
        await load_territory(client, progress=False)
    async with httpx.AsyncClient(base_url=urls["intake"], timeout=30) as client:
        await load_catalogue(client, progress=False)


if __name__ == "__main__":
    main()
