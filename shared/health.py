"""Health of a service's processes, read from the database they all write to.

* relay: its cursor row is its heartbeat (shared/relay.py); lag = the store's last position
  minus the cursor's position (events committed but not yet published).
* workers: each projection agent's consumer progress rows (shared/worker_health.py); lag = the
  partitions' high watermarks minus the offsets applied (events published but not yet applied).

A status is `running` (heartbeat within `STALE_AFTER` seconds), `starting` (a worker that has
not yet fetched from every partition it holds), `stale` (it stopped writing: dead or stuck) or
`not started` (never wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from shared.auth import public
from shared.projection import Projection
from shared.reactions import Agent
from shared.worker_health import setup as setup_progress

STALE_AFTER = 10.0  # seconds; the relay beats every 2 s, the workers every 1 s


async def relay_health(pool: asyncpg.Pool, schema: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        f"SELECT position, extract(epoch FROM now() - updated_at)::float8 AS age "
        f"FROM {schema}.cursors WHERE name = 'relay'")
    last = await pool.fetchval(f"SELECT coalesce(max(position), 0) FROM {schema}.events")
    if row is None:
        return {"status": "not started", "lag": last, "position": None, "store_position": last}
    return {"status": "running" if row["age"] <= STALE_AFTER else "stale",
            "lag": max(0, last - row["position"]), "position": row["position"],
            "store_position": last, "heartbeat_age_s": round(row["age"], 1)}


async def worker_health(pool: asyncpg.Pool, p: Projection | Agent) -> dict[str, Any]:
    rows = await pool.fetch(
        f"SELECT topic, partition, applied, highwater, "
        f"extract(epoch FROM now() - updated_at)::float8 AS age "
        f"FROM {p.schema}.consumer_progress WHERE projection = $1", p.name)
    fresh = [r for r in rows if r["age"] <= STALE_AFTER]
    if not rows:
        status = "not started"
    elif not fresh:
        status = "stale"
    elif any(r["highwater"] is None for r in fresh):
        status = "starting"
    else:
        status = "running"
    lag = sum(max(0, r["highwater"] - r["applied"]) for r in fresh if r["highwater"] is not None)
    return {"projection": f"{p.schema}.{p.name}", "status": status, "lag": lag,
            "partitions": len(fresh),
            "heartbeat_age_s": round(min((r["age"] for r in rows), default=0.0), 1)}


async def service_health(pool: asyncpg.Pool, store_schema: str,
                         projections: Sequence[Projection | Agent]) -> dict[str, Any]:
    """The relay's and every worker projection's status and lag; `ready` when all run."""
    relay = await relay_health(pool, store_schema)
    workers = [await worker_health(pool, p) for p in projections]
    ready = relay["status"] == "running" and all(w["status"] == "running" for w in workers)
    return {"ready": ready, "relay": relay, "workers": workers}


async def setup(pool: asyncpg.Pool, projections: Sequence[Projection | Agent]) -> None:
    """The tables the workers report to, so that health can be read before they start."""
    for schema in sorted({p.schema for p in projections}):
        await setup_progress(pool, schema)


class Readiness(BaseModel):
    """The readiness report (its `relay` and `workers` as `/health` shows them)."""

    model_config = ConfigDict(extra="allow")
    status: Literal["ready", "not ready"]
    service: str
    ready: bool


def health_router(service: str, projections: Sequence[Projection | Agent]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health(request: Request, _: Annotated[None, public()]) -> dict[str, Any]:
        """Liveness: 200 while this API and its database answer; also reports the relay's and
        the workers' status and lag."""
        pool = request.app.state.pool
        return {"status": "ok", "service": service,
                **await service_health(pool, service, projections)}

    @router.get("/health/ready", responses={
        200: {"model": Readiness, "description": "the relay and every worker run"},
        503: {"model": Readiness, "description": "a relay or worker is not running"}})
    async def ready(request: Request, _: Annotated[None, public()]) -> JSONResponse:
        """Readiness of the whole service: 200 when its relay and workers run, else 503."""
        body = await service_health(request.app.state.pool, service, projections)
        body = {"status": "ready" if body["ready"] else "not ready", "service": service, **body}
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    return router
