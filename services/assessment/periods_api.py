"""Closing a period (tag `assessment`): `POST /periods/{period}/close`, by the district
government, freezes the period's scores of every unit of both schemes as a `PeriodClosed`
(409 if it is closed already, 422 for a bad period). Events that arrive later for it show as
adjustments in the explanation, never change the frozen figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from services.assessment.closing import PeriodClose
from services.assessment.events import FrozenScore
from services.assessment.score_api import ViewDep, period_of
from services.assessment.score_view import ScoreView
from shared.access import Role
from shared.commands import RepoDep, Sender, act, by
from shared.http import Accepted

router = APIRouter(tags=["assessment"])


class PeriodClosedAnswer(Accepted):
    period: str


class ClosePeriod(BaseModel):
    """The command (from the path: closing takes no body)."""

    period: str


async def frozen_scores(view: ScoreView, period_code: str) -> list[FrozenScore]:
    """Every unit's scores of both schemes in the period, as they stand now."""
    async with view.pool.acquire() as con:
        scored = await view.live(con, period_of(period_code))
    return [FrozenScore(unit_id=u["unit_id"], kind=u["kind"], scheme_id=u["scheme_id"],
                        indicator=i["indicator"], value=i["value"], target=i["target"],
                        score=i["score"])
            for units in scored.values() for u in units for i in u["indicators"]]


@router.post("/periods/{period}/close", response_model=PeriodClosedAnswer)
async def close_period(period: Annotated[str, Path(description="2026-11, 2026-Q4 or 2026")],
                       repo: RepoDep, view: ViewDep,
                       sender: Annotated[Sender, by(Role.DISTRICT_GOVERNMENT)]
                       ) -> dict[str, Any]:
    """Freeze the period's scores (both schemes, every unit) as they stand now."""
    code = period_of(period).code
    scores = await frozen_scores(view, code)
    now = datetime.now(UTC)
    return await act(repo, PeriodClose(code),
                     lambda p: p.close(scores, sender.caller.user_id, now),
                     ClosePeriod(period=code), sender, period=code)

