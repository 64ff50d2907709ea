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
import random
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import orjson
import uvloop

from bench.filing import (
    KeepAliveClient,
    Tokens,
    cpu_seconds,
    cpu_used,
    header_lines,
    whole_platform,
    write_results,
)
from bench.machine import machine
from bench.watched import grid_points, offer_watched

POLL_SECONDS = 0.02
SETTLE_SECONDS = 60.0
TYPES = ("cm.street_vending", "ps.noise_nuisance", "cm.other", "ps.other", "to.other")


async def findings(grid_url: str, reader: dict[str, str], count: int) -> list[dict]:
    """Valid recordings: points inside the demo's grids, in their streets."""
    points = await grid_points(grid_url, reader)
    rng = random.Random(11)
    bodies = []
    for i in range(count):
        point = rng.choice(points)
        bodies.append({"street_id": point.street_id, "type": rng.choice(TYPES),
                       "location": {"lon": point.lon, "lat": point.lat},
                       "address": f"测试路{i % 300}号", "evidence": [f"photos/{i}.jpg"],
                       "source": "patrol",
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
    """Recordings at `rate`, each watched until enforcement's read model shows it."""
    return await offer_watched(
        KeepAliveClient(url), [orjson.dumps(b) for b in bodies],
        [header_lines(h) for h in headers], rate, seconds, database_url=database_url,
        created_id=lambda body: orjson.loads(body)["violation_id"],
        shown="SELECT violation_id FROM enforcement_view.violations "
              "WHERE violation_id = ANY($1::text[])")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    rates = [50.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    measured_on = machine()
    with ExitStack() as stack:
        env, tokens, urls, supervisor = whole_platform(stack, "jiedao-recording-")
        bodies = asyncio.run(findings(urls["grid"], tokens.headers("auditor"), 5000))
        headers = officers(tokens, bodies)
        asyncio.run(wait_for_team(urls["enforcement"], bodies[0], headers[0]))
        url = f"{urls['enforcement']}/violations"
        runs = []
        for rate in rates:
            before = cpu_seconds(supervisor.pids, env)
            result = uvloop.run(offer(url, bodies, headers, rate, seconds, env["DATABASE_URL"]))
            result["cpu_seconds"] = cpu_used(before, cpu_seconds(supervisor.pids, env))
            print(json.dumps(result), flush=True)
            runs.append(result)
    report = {"benchmark": "recording violations over HTTP (POST /violations) and recorded -> "
                           "visible in enforcement's read model",
              "machine": measured_on,
              "at": datetime.now(UTC).isoformat(), "runs": runs}
    write_results(report, "recording-quick.json" if args.quick else "recording.json")


def officers(tokens: Tokens, bodies: list[dict]) -> list[dict[str, str]]:
    """Each recording signed in as an enforcement officer of its street."""
    by_street = {b["street_id"]: tokens.headers(f"enforcement_officer:{b['street_id']}")
                 for b in bodies}
    return [by_street[b["street_id"]] for b in bodies]


if __name__ == "__main__":
    main()
