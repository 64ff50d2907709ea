"""Commands of the assessment service: the API's input for schemes, targets and the
sub-centres' economic results (projects, enterprise visits)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.assessment.events import SchemeKind
from shared.types import Code, Command, Day, Name, NameEn, Text

# A number JSON can carry (no NaN or infinity), strictly a number ("5" or true is refused).
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Wan = Annotated[float, Field(strict=True, allow_inf_nan=False, le=100_000_000,
                             description="万元 (10k CNY)")]


class RuleInput(Command):
    """`linear`: 0 at `floor`, full weight at the target; `threshold`: `steps` of
    [value, fraction of the weight] (the best step reached counts)."""

    kind: Literal["linear", "threshold"]
    floor: Finite | None = None
    steps: list[tuple[Finite, Finite]] | None = Field(None, max_length=20)


class SchemeIndicatorInput(Command):
    indicator: Code = Field(description="an indicator of the scheme's kind (GET /indicators)")
    weight: Finite = Field(description="points out of 100; the weights sum to 100")
    rule: RuleInput
    default_target: Finite = Field(description="a unit's target when none was set for it")


class DraftScheme(Command):
    kind: SchemeKind = Field(description="street_office 街道办事处 or investment_subcentre "
                                         "投资服务分中心: a scheme never mixes the two")
    name_zh: Name
    name_en: NameEn
    indicators: list[SchemeIndicatorInput] = Field(min_length=1, max_length=30)


class ApproveScheme(Command):
    pass


class SetTarget(Command):
    target: Finite = Field(description="a ratio 0..1, a satisfaction 1..5, a count or sum ≥ 0")


class SignProject(Command):
    street_id: Code = Field(description="the sub-centre's street")
    name: Text
    investor: Text
    amount_wan: Wan = Field(gt=0, description="the agreed amount, 万元 (10k CNY)")
    signed_on: Day


class StartProject(Command):
    started_on: Day


class CompleteProject(Command):
    fixed_asset_investment_wan: Wan = Field(ge=0, description="固定资产投资完成额, 万元")
    completed_on: Day


class RecordVisit(Command):
    street_id: Code = Field(description="the sub-centre's street")
    enterprise: Text
    purpose: Text
    visited_on: Day
