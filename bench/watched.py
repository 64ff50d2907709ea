"""What the end-to-end benchmarks share: points inside the demo's grids to send from, and
open-loop load whose every accepted write is then watched until a read model shows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import asyncpg
import httpx
from shapely.geometry import shape

from bench.load import open_loop

if TYPE_CHECKING:
    from bench.filing import KeepAliveClient

POLL_SECONDS = 0.02  # how often the read model is looked at, at most
IDS_PER_POLL_SECOND = 10000  # a poll for more pending ids than this x POLL_SECONDS waits longer
SETTLE_SECONDS = 60.0  # how long after the last write its row may take to show


class Point(NamedTuple):
    street_id: str
    community_id: str
    grid_id: str
    lon: float
    lat: float


async def grid_points(grid_url: str, reader: dict[str, str], *, streets: int = 6,
                      communities: int = 2, grids: int = 1) -> list[Point]:
    """A point inside each of the first `grids` grids of the first `communities` communities
    of the first `streets` streets of the territory."""
    points = []
    async with httpx.AsyncClient(base_url=grid_url, timeout=30, headers=reader) as grid:
        for street in (await grid.get("/territory/streets")).json()["items"][:streets]:
            detail = (await grid.get(f"/territory/streets/{street['street_id']}")).json()
            for c in detail["communities"][:communities]:
                info = (await grid.get(f"/territory/communities/{c['community_id']}")).json()
                for g in info["grids"][:grids]:
                    boundary = (await grid.get(f"/territory/grids/{g['grid_id']}")).json()[
                        "boundary"]
                    point = shape(boundary).representative_point()
                    points.append(Point(street["street_id"], c["community_id"], g["grid_id"],
                                        point.x, point.y))
    return points


async def offer_watched(client: KeepAliveClient, payloads: list[bytes], headers: list[bytes],
                        rate: float, seconds: float, *, database_url: str,
                        created_id: Callable[[bytes], str], shown: str) -> dict:
    """Open-loop load (bench/load.py; the ramp's requests not measured); each accepted
    write's id (`created_id(answer body)`) is then watched until the query `shown` (`$1`:
    the ids still pending; answers the ids it finds) returns it. Latencies count from when a
    request was due."""
    due_of: dict[str, float] = {}
    seen: dict[str, float] = {}
    pending: set[str] = set()  # accepted, not yet seen
    posted: list[float] = []
    errors: dict[str, int] = {}
    done = asyncio.Event()

    async def watch() -> None:
        # A plan for the ids at hand each time: a generic plan, made while the table was
        # small, can stay a sequential scan as it grows (measured: 7.7 ms a poll at 5,000
        # cases, half the database's time in the back-desk bench, against 0.3 ms).
        # A poll costs the database and this process in proportion to the ids still pending;
        # with a backlog of thousands, polling them all every 20 ms took a tenth of a core
        # from the platform measured, so the pause grows with the backlog (a latency of
        # seconds is then read to within a few per cent).
        con = await asyncpg.connect(database_url,
                                    server_settings={"plan_cache_mode": "force_custom_plan",
                                                     "application_name": "bench watcher"})
        try:
            while not done.is_set():
                if pending:
                    found = await con.fetch(shown, list(pending))
                    now = time.perf_counter()
                    for row in found:
                        seen[row[0]] = now
                        pending.discard(row[0])
                await asyncio.sleep(max(POLL_SECONDS, len(pending) / IDS_PER_POLL_SECOND))
        finally:
            await con.close()

    async def one(i: int, due: float, measured: bool) -> None:
        try:
            status, body = await client.exchange(payloads[i % len(payloads)],
                                                 headers[i % len(headers)])
            if status not in (200, 201):
                errors[str(status)] = errors.get(str(status), 0) + 1
            elif measured:
                due_of[created := created_id(body)] = due
                pending.add(created)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        if measured:
            posted.append(time.perf_counter() - due)

    watcher = asyncio.create_task(watch())
    answered_per_s = await open_loop(rate, seconds, one)
    settle_until = time.perf_counter() + SETTLE_SECONDS
    while len(seen) < len(due_of) and time.perf_counter() < settle_until:
        await asyncio.sleep(0.1)
    done.set()
    await watcher
    client.close()
    visible = sorted(seen[i] - due for i, due in due_of.items() if i in seen)
    posted.sort()
    return {"offered_per_s": rate, "seconds": seconds, "requests": len(posted),
            "achieved_per_s": round(answered_per_s, 1),
            "post_p50_ms": quantile_ms(posted, 0.5), "post_p99_ms": quantile_ms(posted, 0.99),
            "visible": len(visible), "never_visible": len(due_of) - len(visible),
            "p50_ms": quantile_ms(visible, 0.5), "p99_ms": quantile_ms(visible, 0.99),
            "max_ms": quantile_ms(visible, 1.0), "errors": errors}


def quantile_ms(sorted_seconds: list[float], quantile: float) -> float | None:
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, int(len(sorted_seconds) * quantile))
    return round(sorted_seconds[index] * 1000, 1)
