"""A unit's targets (目标值), per indicator and period, set by the district government; a later
target for the same indicator and period replaces the earlier one. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.assessment.events import TargetSet
from services.assessment.periods import Period
from services.assessment.schemes import indicator_of_kind, target_refusal
from services.assessment.units import parse_unit
from shared.access import Place
from shared.errors import DomainError
from shared.events import DomainEvent


@dataclass(frozen=True)
class TargetRequest:
    indicator: str
    period: str
    target: float


@dataclass
class Targets:
    unit_id: str
    version: int = 0

    @property
    def stream_id(self) -> str:
        return f"targets-{self.unit_id}"

    def set(self, request: TargetRequest, *, street_known: bool, by: str,
            now: datetime) -> list[DomainEvent]:
        try:
            kind, street_id = parse_unit(self.unit_id)
        except ValueError as exc:
            raise DomainError(str(exc), field="unit_id") from exc
        if not street_known:
            raise DomainError(f"no unit {self.unit_id!r}: {street_id!r} is not a street of the "
                              "territory", field="unit_id")
        indicator = indicator_of_kind(request.indicator, kind, "indicator")
        try:
            Period.parse(request.period)
        except ValueError as exc:
            raise DomainError(str(exc), field="period") from exc
        if why := target_refusal(indicator, request.target):
            raise DomainError(why, field="target")
        return [TargetSet(unit_id=self.unit_id, street_id=street_id, kind=kind,
                          indicator=indicator.code, period=request.period,
                          target=request.target, set_by=by, set_at=now)]

    def place(self) -> Place:
        return Place.of()  # the district's: only district-wide grants cover it

    def apply(self, event: DomainEvent) -> None:
        pass  # each target stands alone: nothing earlier bears on the next decision
