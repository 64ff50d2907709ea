"""The assessment service's rules, pure (no I/O): a scheme's indicators, weights, rules and
default targets; a scheme never mixes kinds (both ways); targets per unit, indicator and
period; a project's steps in order and on days not in the future."""

from datetime import UTC, date, datetime

import pytest

from services.assessment.commands import (
    CompleteProject,
    DraftScheme,
    RecordVisit,
    SignProject,
    StartProject,
)
from services.assessment.economy import Project, Visit
from services.assessment.events import ProjectCompleted, SchemeApproved, SchemeDrafted, TargetSet
from services.assessment.schemes import Scheme, scheme_number
from services.assessment.targets import TargetRequest, Targets
from shared.errors import DomainError, NotFound, WrongOrder

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Chengdu
TODAY = date(2026, 11, 25)


def linear(indicator: str, weight: float, target: float, floor: float = 0.0) -> dict:
    return {"indicator": indicator, "weight": weight,
            "rule": {"kind": "linear", "floor": floor}, "default_target": target}


def office_scheme(*indicators: dict) -> DraftScheme:
    return DraftScheme(kind="street_office", name_zh="街道考核", name_en="Street office scheme",
                       indicators=list(indicators) or [
                           linear("case_closure_rate", 40, 0.9, 0.5),
                           linear("resident_satisfaction", 30, 4.5, 3.0),
                           {"indicator": "consultations_served", "weight": 30,
                            "rule": {"kind": "threshold", "steps": [[10, 0.5], [20, 1.0]]},
                            "default_target": 20}])


def economic_scheme(*indicators: dict) -> DraftScheme:
    return DraftScheme(kind="investment_subcentre", name_zh="分中心考核",
                       name_en="Sub-centre scheme", indicators=list(indicators) or [
                           linear("investment_signed", 60, 5000),
                           linear("enterprises_served", 40, 30)])


def drafted(command: DraftScheme, number: int = 1) -> list:
    return Scheme(f"{command.kind}-v{number}").draft(command, number=number, by="gov", now=NOW)


def refusal(command: DraftScheme) -> DomainError:
    with pytest.raises(DomainError) as refused:
        drafted(command)
    assert refused.value.status == 422
    return refused.value


def test_a_scheme_of_each_kind_is_drafted_with_its_indicators():
    for command in (office_scheme(), economic_scheme()):
        [event] = drafted(command, 3)
        assert isinstance(event, SchemeDrafted)
        assert (event.scheme_id, event.version) == (f"{command.kind}-v3", 3)
        assert [i.indicator for i in event.indicators] == [
            i.indicator for i in command.indicators]
        assert sum(i.weight for i in event.indicators) == 100


def test_a_street_office_scheme_cannot_take_an_economic_indicator():
    error = refusal(office_scheme(linear("case_closure_rate", 50, 0.9),
                                  linear("investment_signed", 50, 5000)))
    assert error.field == "indicators.1.indicator"
    assert error.reason.startswith(
        "a street office scheme cannot take an economic indicator: investment_signed")


def test_an_investment_sub_centre_scheme_cannot_take_a_street_office_indicator():
    error = refusal(economic_scheme(linear("resident_satisfaction", 50, 4.0, 3.0),
                                    linear("projects_started", 50, 5)))
    assert error.field == "indicators.0.indicator"
    assert error.reason.startswith(
        "an investment sub-centre scheme cannot take a street office indicator")


@pytest.mark.parametrize("indicators,field", [
    ([linear("no_such_indicator", 100, 1)], "indicators.0.indicator"),
    ([linear("case_closure_rate", 50, 0.9), linear("case_closure_rate", 50, 0.9)],
     "indicators.1.indicator"),
    ([linear("case_closure_rate", 50, 0.9), linear("case_on_time_rate", 49.9, 0.9)],
     "indicators"),
    ([linear("case_closure_rate", 100.5, 0.9), linear("case_on_time_rate", 0, 0.9)],
     "indicators.1.weight"),
    ([linear("case_closure_rate", 110, 0.9), linear("case_on_time_rate", -10, 0.9)],
     "indicators.1.weight"),
    ([{**linear("case_closure_rate", 100, 0.9), "rule": {"kind": "linear"}}],
     "indicators.0.rule.floor"),
    ([{**linear("case_closure_rate", 100, 0.9), "rule": {"kind": "threshold"}}],
     "indicators.0.rule.steps"),
    ([{**linear("case_closure_rate", 100, 0.9), "rule": {"kind": "threshold", "steps": []}}],
     "indicators.0.rule.steps"),
    ([linear("case_closure_rate", 100, 1.2)], "indicators.0.default_target"),
    ([linear("case_rework_rate", 100, -0.1)], "indicators.0.default_target"),
    ([linear("resident_satisfaction", 100, 5.5)], "indicators.0.default_target"),
    ([linear("resident_satisfaction", 100, 0.9)], "indicators.0.default_target"),
    ([linear("consultations_served", 100, -1)], "indicators.0.default_target"),
])
def test_a_scheme_is_refused_with_the_field_at_fault(indicators, field):
    assert refusal(office_scheme(*indicators)).field == field


def test_weights_may_miss_100_by_a_hundredth_at_most():
    [event] = drafted(office_scheme(linear("case_closure_rate", 33.33, 0.9),
                                    linear("case_on_time_rate", 33.33, 0.8),
                                    linear("case_rework_rate", 33.33, 0.05, 0.2)))
    assert len(event.indicators) == 3


def test_a_drafted_scheme_is_approved_once():
    scheme = Scheme("street_office-v1")
    for event in drafted(office_scheme()):
        scheme.apply(event)
    [approved] = scheme.approve(by="gov", now=NOW)
    assert isinstance(approved, SchemeApproved) and approved.version == 1
    scheme.apply(approved)
    with pytest.raises(WrongOrder):
        scheme.approve(by="gov", now=NOW)
    with pytest.raises(NotFound):
        Scheme("street_office-v9").approve(by="gov", now=NOW)
    assert scheme_number("investment_subcentre-v12") == 12


def set_target(unit: str, indicator: str, period: str, target: float, known: bool = True):
    return Targets(unit).set(TargetRequest(indicator, period, target), street_known=known,
                             by="gov", now=NOW)


def test_a_target_is_set_for_a_unit_indicator_and_period():
    [event] = set_target("office-s1", "case_closure_rate", "2026-Q4", 0.9)
    assert isinstance(event, TargetSet)
    assert (event.street_id, event.kind, event.period) == ("s1", "street_office", "2026-Q4")
    [event] = set_target("subcentre-s1", "investment_signed", "2026", 12000)
    assert event.kind == "investment_subcentre"


@pytest.mark.parametrize("unit,indicator,period,target,known,field", [
    ("office-s9", "case_closure_rate", "2026-11", 0.9, False, "unit_id"),
    ("bureau-s1", "case_closure_rate", "2026-11", 0.9, True, "unit_id"),
    ("office-s1", "investment_signed", "2026-11", 100, True, "indicator"),
    ("subcentre-s1", "case_closure_rate", "2026-11", 0.9, True, "indicator"),
    ("office-s1", "nothing", "2026-11", 0.9, True, "indicator"),
    ("office-s1", "case_closure_rate", "2026-13", 0.9, True, "period"),
    ("office-s1", "case_closure_rate", "2026-Q5", 0.9, True, "period"),
    ("office-s1", "case_closure_rate", "2026-11", 1.5, True, "target"),
    ("office-s1", "resident_satisfaction", "2026-11", 6, True, "target"),
    ("subcentre-s1", "projects_started", "2026-11", -2, True, "target"),
])
def test_a_target_is_refused_with_the_field_at_fault(unit, indicator, period, target, known,
                                                      field):
    with pytest.raises(DomainError) as refused:
        set_target(unit, indicator, period, target, known)
    assert refused.value.field == field and refused.value.status == 422


def signed(on: date = date(2026, 11, 2)) -> Project:
    project = Project("p1")
    command = SignProject(street_id="s1", name="数字产业园", investor="成都某科技有限公司",
                          amount_wan=8000, signed_on=on)
    for event in project.sign(command, street_known=True, by="inv", today=TODAY):
        project.apply(event)
    return project


def test_a_project_is_signed_started_and_completed_in_order():
    project = signed()
    with pytest.raises(WrongOrder):  # not started yet
        project.complete(CompleteProject(fixed_asset_investment_wan=10,
                                         completed_on=TODAY), by="inv", today=TODAY)
    for event in project.start(StartProject(started_on=date(2026, 11, 10)), by="inv",
                               today=TODAY):
        project.apply(event)
    with pytest.raises(WrongOrder):
        project.start(StartProject(started_on=TODAY), by="inv", today=TODAY)
    [done] = project.complete(CompleteProject(fixed_asset_investment_wan=6500,
                                              completed_on=TODAY), by="inv", today=TODAY)
    assert isinstance(done, ProjectCompleted) and done.street_id == "s1"
    project.apply(done)
    assert project.status == "completed"
    with pytest.raises(NotFound):
        Project("p9").start(StartProject(started_on=TODAY), by="inv", today=TODAY)


@pytest.mark.parametrize("step,field", [
    (lambda p: p.start(StartProject(started_on=date(2026, 11, 26)), by="i", today=TODAY),
     "started_on"),
    (lambda p: p.start(StartProject(started_on=date(2026, 11, 1)), by="i", today=TODAY),
     "started_on"),
])
def test_a_project_step_in_the_future_or_before_its_signing_is_refused(step, field):
    with pytest.raises(DomainError) as refused:
        step(signed())
    assert (refused.value.field, refused.value.status) == (field, 422)


def test_a_completion_before_the_start_or_a_signing_in_the_future_is_refused():
    project = signed()
    for event in project.start(StartProject(started_on=date(2026, 11, 10)), by="i",
                               today=TODAY):
        project.apply(event)
    with pytest.raises(DomainError) as refused:
        project.complete(CompleteProject(fixed_asset_investment_wan=1,
                                         completed_on=date(2026, 11, 9)), by="i", today=TODAY)
    assert refused.value.field == "completed_on"
    with pytest.raises(DomainError) as refused:
        signed(on=date(2026, 11, 26))
    assert refused.value.field == "signed_on"
    with pytest.raises(DomainError) as refused:
        Project("p2").sign(SignProject(street_id="s9", name="x", investor="y", amount_wan=1,
                                       signed_on=TODAY), street_known=False, by="i",
                           today=TODAY)
    assert refused.value.field == "street_id"


def test_a_visit_is_recorded_on_a_day_not_in_the_future():
    visit = RecordVisit(street_id="s1", enterprise="某企业", purpose="政策宣讲",
                        visited_on=TODAY)
    [event] = Visit("v1").record(visit, street_known=True, by="inv", today=TODAY)
    assert event.visit_id == "v1"
    with pytest.raises(DomainError) as refused:
        Visit("v2").record(visit.model_copy(update={"visited_on": date(2026, 12, 1)}),
                           street_known=True, by="inv", today=TODAY)
    assert refused.value.field == "visited_on"


@pytest.mark.parametrize("body", [
    {"amount_wan": 0}, {"amount_wan": -5}, {"amount_wan": "100"}, {"signed_on": "2026/11/01"},
])
def test_a_signing_s_amount_is_a_number_over_0_and_its_day_iso(body):
    with pytest.raises(ValueError):
        SignProject(**{"street_id": "s1", "name": "x", "investor": "y", "amount_wan": 1,
                       "signed_on": "2026-11-01", **body})
