"""What the case tests need of the read model `grid_view.cases` (the managers' loads, duplicates
nearby, cases past their deadline), before its projection (services/grid/case_projection.py,
built beside this branch) runs in the worker: a row per case, written from the case's own
stream. Once the projection is registered, `show` only waits until it shows the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.envelope import SYSTEM, Actor, Envelope, Scope


async def show(platform, *case_ids: str) -> None:
    """Wait until `grid_view.cases` shows each case as its stream has it (the managers' loads,
    duplicates nearby and deadlines are read from there)."""
    await platform.apps["grid"].state.freshness.settled(
        "cases", *(f"case-{case_id}" for case_id in case_ids))


async def caught_up(platform) -> None:
    """Wait until the case read model has applied every case event stored so far."""
    store = platform.apps["grid"].state.store
    streams = await store.pool.fetch(
        f"SELECT DISTINCT stream_id FROM {store.schema}.events WHERE stream_id LIKE 'case-%'")
    await platform.apps["grid"].state.freshness.settled(
        "cases", *(r["stream_id"] for r in streams))


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
