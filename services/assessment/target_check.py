"""`assessment.target.met`, exactly once: every `JIEDAO_TARGET_CHECK_SECONDS` the worker scores
the open periods (those containing today, and any period with facts that is not closed) and
appends a `TargetMet` for each unit's indicator that meets its target (scoring.met: a ratio or
a mean needs something counted) to the stream `target-met-<unit>-<indicator>-<period>`,
expecting version 0. A conflict means it was emitted before (by an earlier tick, a worker
since restarted, or one running at the same time): skipped. So a redelivered or replayed event
can never emit it twice: the event store is the guard, not a table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.assessment.events import TargetMet, registry
from services.assessment.periods import Period, day_of, periods_of
from services.assessment.score_view import ScoreView
from shared.errors import ConcurrencyConflict
from shared.reactions import Periodic, ReactionContext
from shared.store import EventStore


def met_stream(unit_id: str, indicator: str, period: str) -> str:
    return f"target-met-{unit_id}-{indicator}-{period}"


async def open_periods(view: ScoreView, today: Any) -> list[Period]:
    """The periods containing today and those any fact counts in, less the closed ones."""
    days = await view.pool.fetch(f"SELECT DISTINCT day FROM {view.schema}.subjects")
    codes = set(periods_of(today)).union(*(periods_of(r["day"]) for r in days))
    closed = {r["period"] for r in await view.pool.fetch(
        f"SELECT period FROM {view.schema}.closed_periods")}
    return [Period.parse(code) for code in sorted(codes - closed)]


class TargetCheck:
    """The periodic task: a tick does nothing unless the day changed or the read model moved
    since this worker's last tick (the sum of its checkpoints: every fact, target, scheme and
    close is committed with its stream's checkpoint, and versions only grow)."""

    def __init__(self) -> None:
        self.last: tuple[Any, ...] | None = None

    async def run(self, context: ReactionContext) -> int:
        view, now = ScoreView(context.pool), datetime.now(UTC)
        moved = await context.pool.fetchval(
            f"SELECT coalesce(sum(version), 0) FROM {view.schema}.checkpoints")
        fingerprint = (day_of(now), moved)
        if fingerprint == self.last:
            return 0
        emitted = await emit_met(view, context.repository.store, now)
        self.last = fingerprint
        return emitted


async def emit_met(view: ScoreView, store: EventStore, now: datetime) -> int:
    """Append a TargetMet for each met indicator of the open periods not emitted yet."""
    emitted = 0
    for period in await open_periods(view, day_of(now)):
        known = {(r["unit_id"], r["indicator"]) for r in await view.pool.fetch(
            f"SELECT unit_id, indicator FROM {view.schema}.target_met WHERE period = $1",
            period.code)}
        async with view.pool.acquire() as con:
            scored = await view.live(con, period)
        for units in scored.values():
            for unit in units:
                for i in unit["indicators"]:
                    if i["met"] and (unit["unit_id"], i["indicator"]) not in known:
                        emitted += await _emit(store, unit, i, period.code, now)
    return emitted


async def _emit(store: EventStore, unit: dict[str, Any], i: dict[str, Any], period: str,
                now: datetime) -> int:
    event = TargetMet(unit_id=unit["unit_id"], street_id=unit["street_id"], kind=unit["kind"],
                      indicator=i["indicator"], period=period, value=i["value"],
                      target=i["target"], met_at=now)
    try:
        await store.append(met_stream(unit["unit_id"], i["indicator"], period), 0,
                           [registry.to_new_event(event)])
    except ConcurrencyConflict:
        return 0  # emitted before: exactly once
    return 1


TARGET_CHECK = Periodic("target_check", "target_check_seconds", TargetCheck().run)
