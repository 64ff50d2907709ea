"""Events of the assessment service: the contract its scorer, its dashboard and the district read.

Streams:
- `scheme-<scheme_id>`: a scheme version drafted, then approved by the district government
  (`scheme_id` = `<kind>-v<version>`, e.g. `street_office-v2`); an approved version is immutable,
  a change is a new version; the latest approved version of a kind is the one in force.
- `targets-<unit_id>`: the unit's targets, per indicator and period (a later `TargetSet` for the
  same indicator and period replaces the earlier one).
- `project-<project_id>`: an investment project of a street's sub-centre, signed → started →
  completed; `visit-<visit_id>`: an enterprise service visit.
- `target-met-<unit_id>-<indicator>-<period>`: `TargetMet`, at most one, ever (the stream's
  version 1 is the guard: appending it again is a conflict, so it is emitted exactly once).
- `period-<period>`: `PeriodClosed`, the period's frozen scores of every unit of both schemes.

Units are `office-<street_id>` (kind `street_office`) and `subcentre-<street_id>` (kind
`investment_subcentre`), one of each per street (services/assessment/units.py).
Periods are `2026-11` (month), `2026-Q4` (quarter), `2026` (year) (services/assessment/periods.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import DomainEvent, EventRegistry

registry = EventRegistry()

SchemeKind = Literal["street_office", "investment_subcentre"]


class Rule(BaseModel):
    """How an indicator's value scores against its target, as a fraction 0..1 of its weight.

    - `linear`: 0 at `floor`, 1 at the target, straight in between, clamped (for a
      lower-is-better indicator the floor lies above the target, e.g. rework rate floor 0.2);
    - `threshold`: `steps` of [value, fraction]: the fraction of the best step reached
      (reached: value >= step for higher-is-better, value <= step for lower-is-better);
      the target itself is not used except for `target.met`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["linear", "threshold"]
    floor: float | None = None  # linear
    steps: list[tuple[float, float]] | None = None  # threshold


class SchemeIndicator(BaseModel):
    """One indicator of a scheme: its weight (the weights of a scheme sum to 100), its rule and
    the target a unit has when none was set for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    indicator: str  # a code of services/assessment/indicators.py CATALOGUE, of the scheme's kind
    weight: float
    rule: Rule
    default_target: float


@registry.register
class SchemeDrafted(DomainEvent):
    TYPE = "assessment.scheme.drafted"
    scheme_id: str
    kind: SchemeKind
    version: int
    name_zh: str
    name_en: str
    indicators: list[SchemeIndicator]
    drafted_by: str
    drafted_at: datetime


@registry.register
class SchemeApproved(DomainEvent):
    """The district government approves a drafted version: in force from now for its kind."""

    TYPE = "assessment.scheme.approved"
    scheme_id: str
    kind: SchemeKind
    version: int
    approved_by: str
    approved_at: datetime


@registry.register
class TargetSet(DomainEvent):
    TYPE = "assessment.target.set"
    unit_id: str
    street_id: str
    kind: SchemeKind
    indicator: str
    period: str
    target: float
    set_by: str
    set_at: datetime


# -- economic results, recorded by a street's investment service sub-centre ------------------


@registry.register
class ProjectSigned(DomainEvent):
    """招商引资签约: an investment project signed, with its agreed amount in 万元 (10k CNY)."""

    TYPE = "assessment.project.signed"
    project_id: str
    street_id: str
    name: str
    investor: str
    amount_wan: float
    signed_on: date
    recorded_by: str


@registry.register
class ProjectStarted(DomainEvent):
    """项目开工."""

    TYPE = "assessment.project.started"
    project_id: str
    street_id: str
    started_on: date
    recorded_by: str


@registry.register
class ProjectCompleted(DomainEvent):
    """项目竣工, with the fixed-asset investment it completed (固定资产投资完成额, 万元)."""

    TYPE = "assessment.project.completed"
    project_id: str
    street_id: str
    fixed_asset_investment_wan: float
    completed_on: date
    recorded_by: str


@registry.register
class EnterpriseVisited(DomainEvent):
    """企业服务: a sub-centre visit serving an enterprise (a request handled, policy explained)."""

    TYPE = "assessment.enterprise.visited"
    visit_id: str
    street_id: str
    enterprise: str
    purpose: str
    visited_on: date
    recorded_by: str


# -- results of the assessment itself ---------------------------------------------------------


@registry.register
class TargetMet(DomainEvent):
    """An indicator of a unit first reached its target in a period (once per unit, indicator
    and period, whatever happens after)."""

    TYPE = "assessment.target.met"
    unit_id: str
    street_id: str
    kind: SchemeKind
    indicator: str
    period: str
    value: float
    target: float
    met_at: datetime


class FrozenScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    unit_id: str
    kind: SchemeKind
    scheme_id: str
    indicator: str
    value: float | None  # None: nothing to measure yet (an empty denominator)
    target: float
    score: float  # points out of the indicator's weight


@registry.register
class PeriodClosed(DomainEvent):
    """The district closes a period: its scores are frozen as they stand. Events that arrive
    later for it are shown as adjustments, never change these figures."""

    TYPE = "assessment.period.closed"
    period: str
    scores: list[FrozenScore]
    closed_by: str
    closed_at: datetime
