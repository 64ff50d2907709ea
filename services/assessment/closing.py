"""Closing a period (pure): the district government freezes a period's scores, once."""

from __future__ import annotations

from datetime import datetime

from services.assessment.events import FrozenScore, PeriodClosed
from shared.access import Place
from shared.errors import WrongOrder
from shared.events import DomainEvent


class PeriodClose:
    """The stream `period-<period>`: empty while the period is open, then its PeriodClosed."""

    def __init__(self, period: str) -> None:
        self.period = period
        self.version = 0
        self.closed = False

    @property
    def stream_id(self) -> str:
        return f"period-{self.period}"

    def place(self) -> Place:
        return Place.of()  # the district's: only district-wide grants cover it

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, PeriodClosed):
            self.closed = True

    def close(self, scores: list[FrozenScore], by: str, now: datetime) -> list[DomainEvent]:
        if self.closed:
            raise WrongOrder(f"period {self.period} is closed already", field="period")
        return [PeriodClosed(period=self.period, scores=scores, closed_by=by, closed_at=now)]
