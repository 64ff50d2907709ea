"""Read endpoints for operators, the same on every service: the read models' dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from shared import deadletters
from shared.access import Role
from shared.auth import Caller, readable_by
from shared.http import page

router = APIRouter(prefix="/operations", tags=["operations"])


class DeadLetterOut(BaseModel):
    read_model: str  # schema.projection (or schema.reaction)
    event_id: str  # or, for a message that is not an event, where it was read
    stream_id: str | None
    version: int | None
    type: str | None
    position: int | None
    reason: str  # failed | gap | held | malformed
    error: str
    recorded_at: datetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    total: int


@router.get("/deadletters", response_model=DeadLetterPage)
async def dead_letters(
    request: Request,
    _: Annotated[Caller, readable_by(Role.ADMINISTRATOR)],
    stream_id: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f]*$",
                                          description="only this stream's")]
    = None,
) -> dict[str, Any]:
    """Events the read models could not apply (and those held behind them), and events the
    reactions could not turn into commands, oldest first.
    Retry them after a fix with `jiedao deadletters SERVICE --retry`."""
    items = []
    for p in request.app.state.agents:
        for row in await deadletters.listing(request.app.state.pool, p.schema, p.name,
                                             stream_id):
            items.append({"read_model": f"{p.schema}.{p.name}", **row})
    return page(items)
