"""The assessment service (目标考核), declared: schemes of two kinds that never mix, targets per
unit, indicator and period, the sub-centres' economic results, its read model, and its copy
of the territory (the units: each street's office and sub-centre) learnt from the grid.

The scorer and the dashboard add their routers, read models and tasks to these lists."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.assessment import api, dashboard, periods_api, read_api, score_api
from services.assessment.events import registry
from services.assessment.handlers import make_assessment
from services.assessment.projections import AssessmentProjection
from services.assessment.schema import SCHEMA
from services.assessment.score_view import ScoreView
from services.assessment.scorer import ScoreFacts
from services.assessment.target_check import TARGET_CHECK
from services.assessment.views import AssessmentView
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.territory import TerritoryReplica


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.assessment = make_assessment(state.repository, pool, settings)
    state.assessment_view = AssessmentView(pool)
    state.score_view = ScoreView(pool)


SPEC = ServiceSpec(
    name="assessment",
    title="jiedao assessment service (目标考核: street offices and investment sub-centres)",
    registry=registry,
    routers=[api.router, read_api.router, score_api.router, periods_api.router,
             dashboard.router],
    projections=[AssessmentProjection(), ScoreFacts("assessment")],
    consumes={"grid": [TerritoryReplica(SCHEMA), ScoreFacts("grid")],
              "intake": [ScoreFacts("intake")], "enforcement": [ScoreFacts("enforcement")]},
    periodic=[TARGET_CHECK],
    handler=make_assessment,
    domain=["services.assessment.events", "services.assessment.indicators",
            "services.assessment.periods", "services.assessment.units",
            "services.assessment.scoring", "services.assessment.commands",
            "services.assessment.schemes", "services.assessment.targets",
            "services.assessment.economy", "services.assessment.measures",
            "services.assessment.ranking", "services.assessment.closing"],
    attach=_attach,
)
