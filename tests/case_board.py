"""What the case tests need of the read model `grid_view.cases` (the managers' loads, duplicates
nearby, cases past their deadline), before its projection (services/grid/case_projection.py,
built beside this branch) runs in the worker: a row per case, written from the case's own
stream. Once the projection is registered, `show` only waits until it shows the same."""

from __future__ import annotations

import asyncio

from services.grid.app import SPEC
from services.grid.cases import Case
from services.grid.projections import VIEW_SCHEMA

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
