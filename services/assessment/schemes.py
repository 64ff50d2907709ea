"""An assessment scheme (考核方案), one version of one kind: drafted, then approved by the
district government, after which it is immutable (a change is a new version). Pure Python.

A scheme never mixes kinds: a street office scheme takes social management and public service
indicators only, an investment sub-centre scheme economic ones only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.assessment.commands import DraftScheme, SchemeIndicatorInput
from services.assessment.events import (
    Rule,
    SchemeApproved,
    SchemeDrafted,
    SchemeIndicator,
    SchemeKind,
)
from services.assessment.indicators import CATALOGUE, Indicator
from shared.access import Place
from shared.errors import DomainError, NotFound, WrongOrder
from shared.events import DomainEvent

WEIGHT_TOTAL, WEIGHT_TOLERANCE = 100.0, 0.01
KIND_NAMES = {"street_office": "a street office scheme",
              "investment_subcentre": "an investment sub-centre scheme"}
INDICATOR_KINDS = {"street_office": "a street office indicator (social management and public "
                                    "service)",
                   "investment_subcentre": "an economic indicator"}


def scheme_id(kind: SchemeKind, version: int) -> str:
    return f"{kind}-v{version}"


def scheme_number(scheme_id_: str) -> int:
    """The version number a scheme id carries (`street_office-v2`: 2)."""
    return int(scheme_id_.rsplit("-v", 1)[1])


def target_refusal(indicator: Indicator, target: float) -> str | None:
    """Why `target` cannot be a target of `indicator` (None: it can)."""
    if indicator.measure == "ratio" and not 0 <= target <= 1:
        return f"{indicator.code} is a ratio: its target lies between 0 and 1 ({target} given)"
    if indicator.measure == "mean" and not 1 <= target <= 5:
        return (f"{indicator.code} is a satisfaction score: its target lies between 1 and 5 "
                f"({target} given)")
    if indicator.measure in ("count", "sum") and target < 0:
        return f"{indicator.code} counts or sums: its target is 0 or more ({target} given)"
    return None


def indicator_of_kind(code: str, kind: SchemeKind, field: str) -> Indicator:
    """The catalogue's indicator `code`, refused (422 on `field`) if it is unknown or of the
    other kind."""
    indicator = CATALOGUE.get(code)
    if indicator is None:
        raise DomainError(f"no indicator {code!r} in the catalogue", field=field)
    if indicator.kind != kind:
        raise DomainError(f"{KIND_NAMES[kind]} cannot take {INDICATOR_KINDS[indicator.kind]}: "
                          f"{indicator.code} ({indicator.name_zh} {indicator.name_en})",
                          field=field)
    return indicator


def scheme_indicators(command: DraftScheme) -> list[SchemeIndicator]:
    """The command's indicators, each checked against the catalogue and its rule; refused
    with the field at fault (`indicators.2.weight`) otherwise."""
    seen: set[str] = set()
    found = []
    for i, given in enumerate(command.indicators):
        at = f"indicators.{i}"
        indicator = indicator_of_kind(given.indicator, command.kind, f"{at}.indicator")
        if given.indicator in seen:
            raise DomainError(f"{given.indicator} is listed twice", field=f"{at}.indicator")
        seen.add(given.indicator)
        found.append(_checked(indicator, given, at))
    total = sum(i.weight for i in found)
    if abs(total - WEIGHT_TOTAL) > WEIGHT_TOLERANCE + 1e-9:  # 33.33 × 3 is 99.99 exactly
        raise DomainError(f"the weights sum to {total:g}, not 100", field="indicators")
    return found


def _checked(indicator: Indicator, given: SchemeIndicatorInput, at: str) -> SchemeIndicator:
    if given.weight <= 0:
        raise DomainError(f"a weight is more than 0 ({given.weight:g} given)",
                          field=f"{at}.weight")
    rule = given.rule
    if rule.kind == "linear" and rule.floor is None:
        raise DomainError("a linear rule needs its floor (the value that scores 0)",
                          field=f"{at}.rule.floor")
    if rule.kind == "threshold" and not rule.steps:
        raise DomainError("a threshold rule needs its steps ([value, fraction], ...)",
                          field=f"{at}.rule.steps")
    if rule.kind == "threshold" and any(not 0 <= share <= 1 for _, share in rule.steps or []):
        raise DomainError("a step's fraction of the weight lies between 0 and 1",
                          field=f"{at}.rule.steps")
    if why := target_refusal(indicator, given.default_target):
        raise DomainError(why, field=f"{at}.default_target")
    kept = Rule(kind="linear", floor=rule.floor) if rule.kind == "linear" \
        else Rule(kind="threshold", steps=rule.steps)
    return SchemeIndicator(indicator=indicator.code, weight=given.weight, rule=kept,
                           default_target=given.default_target)


class AlreadyDrafted(WrongOrder):
    """The version number was taken by another draft meanwhile (the drafter takes the next)."""


@dataclass
class Scheme:
    scheme_id: str
    version: int = 0
    status: str | None = None  # 'draft' | 'approved'
    kind: SchemeKind | None = None
    number: int = 0  # the scheme's own version (1 + the kind's latest at drafting)

    @property
    def stream_id(self) -> str:
        return f"scheme-{self.scheme_id}"

    def draft(self, command: DraftScheme, *, number: int, by: str,
              now: datetime) -> list[DomainEvent]:
        if self.status is not None:
            raise AlreadyDrafted(f"scheme {self.scheme_id} is drafted already", field="kind")
        return [SchemeDrafted(scheme_id=self.scheme_id, kind=command.kind, version=number,
                              name_zh=command.name_zh, name_en=command.name_en,
                              indicators=scheme_indicators(command), drafted_by=by,
                              drafted_at=now)]

    def approve(self, *, by: str, now: datetime) -> list[DomainEvent]:
        if self.status is None or self.kind is None:
            raise NotFound(f"no scheme {self.scheme_id!r}", field="scheme_id")
        if self.status == "approved":
            raise WrongOrder(f"scheme {self.scheme_id} is approved already (an approved "
                             "version never changes: draft a new one)", field="status")
        return [SchemeApproved(scheme_id=self.scheme_id, kind=self.kind, version=self.number,
                               approved_by=by, approved_at=now)]

    def place(self) -> Place:
        return Place.of()  # the district's: only district-wide grants cover it

    def apply(self, event: DomainEvent) -> None:
        match event:
            case SchemeDrafted():
                self.status, self.kind, self.number = "draft", event.kind, event.version
            case SchemeApproved():
                self.status = "approved"
