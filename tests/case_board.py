"""What the case tests need of the read model `grid_view.cases` (the managers' loads, duplicates
nearby, cases past their deadline), before its projection (services/grid/case_projection.py,
built beside this branch) runs in the worker: a row per case, written from the case's own
stream. Once the projection is registered, `show` only waits until it shows the same."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from services.grid.app import SPEC
from services.grid.cases import Case
from services.grid.projections import VIEW_SCHEMA
from shared.envelope import SYSTEM, Actor, Envelope, Scope

COLUMNS = """case_id text PRIMARY KEY, category text, lon double precision,
    lat double precision, street_id text, community_id text, grid_id text, status text,
    handler_id text, deadline timestamptz"""


def projected() -> bool:
    return any(p.name == "cases" for p in SPEC.projections)


async def show(platform, *case_ids: str) -> None:
    """Make (or wait until) `grid_view.cases` show each case as its stream has it."""
    app = platform.apps["grid"]
    pool, repo = app.state.pool, app.state.repository
    for case_id in case_ids:
        case = await repo.load(Case(case_id))
        if projected():
            await _until_shown(pool, case)
            continue
        await pool.execute(f"CREATE TABLE IF NOT EXISTS {VIEW_SCHEMA}.cases ({COLUMNS})")
        location = case.facts.get("location", {})
        await pool.execute(
            f"INSERT INTO {VIEW_SCHEMA}.cases VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (case_id) DO UPDATE SET status = $8, handler_id = $9, deadline = $10, "
            "street_id = $5, community_id = $6, grid_id = $7",
            case.case_id, case.category, location.get("lon"), location.get("lat"),
            case.street_id, case.community_id, case.grid_id, case.status, case.handler_id,
            case.deadline)


async def _until_shown(pool, case: Case) -> None:
    async with asyncio.timeout(30):
        while True:
            row = await pool.fetchrow(f"SELECT status, handler_id FROM {VIEW_SCHEMA}.cases "
                                      "WHERE case_id = $1", case.case_id)
            if row and (row["status"], row["handler_id"]) == (case.status, case.handler_id):
                return
            await asyncio.sleep(0.1)


def reported(problem_id: str, actor: Actor = SYSTEM, **changes: object) -> Envelope:
    """An `intake.problem.reported` as the grid receives it (a problem in grid s1.c1.g1)."""
    data = {"problem_id": problem_id, "problem_type": "problem.emergency",
            "description": "水管爆裂 burst water main", "street_id": "s1",
            "community_id": "s1.c1", "grid_id": "s1.c1.g1",
            "location": {"lon": 104.105, "lat": 30.605}, "address": "建设路1号",
            "reporter": {"first_name": "秀英"}, **changes}
    return envelope("intake.problem.reported", f"problem-{problem_id}", data, actor)


def envelope(kind: str, stream_id: str, data: dict, actor: Actor = SYSTEM) -> Envelope:
    """An envelope as another service's relay publishes it."""
    return Envelope(id=uuid.uuid4(), source=kind.split(".")[0], type=kind, subject=stream_id,
                    time=datetime.now(UTC), stream_id=stream_id, stream_version=1,
                    schema_version=1, actor=actor, scope=Scope(), correlation_id=uuid.uuid4(),
                    causation_id=None, data=data)
