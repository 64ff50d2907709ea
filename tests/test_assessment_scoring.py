"""Periods, units and the scoring rules of the assessment (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.assessment.events import Rule
from services.assessment.indicators import CATALOGUE, of_kind
from services.assessment.periods import Period, day_of, periods_of
from services.assessment.scoring import fraction, met, points
from services.assessment.units import parse_unit, unit_id

LINEAR = Rule(kind="linear", floor=0.0)
STEPS = Rule(kind="threshold", steps=[(0.9, 1.0), (0.8, 0.6), (0.7, 0.3)])


def test_periods_are_months_quarters_and_years_of_whole_days() -> None:
    assert Period.parse("2026-02") == Period("2026-02", date(2026, 2, 1), date(2026, 2, 28))
    assert Period.parse("2024-02").last == date(2024, 2, 29)
    assert Period.parse("2026-12").last == date(2026, 12, 31)
    assert Period.parse("2026-Q4") == Period("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    assert Period.parse("2026") == Period("2026", date(2026, 1, 1), date(2026, 12, 31))
    assert date(2026, 11, 30) in Period.parse("2026-Q4")
    assert date(2027, 1, 1) not in Period.parse("2026")


@pytest.mark.parametrize("code", ["2026-13", "2026-00", "2026-Q5", "26", "2026-1", "Q4", ""])
def test_a_malformed_period_says_the_accepted_forms(code: str) -> None:
    with pytest.raises(ValueError, match="a month"):
        Period.parse(code)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_every_day_falls_in_its_month_quarter_and_year(day: date) -> None:
    for code in periods_of(day):
        assert day in Period.parse(code)


def test_the_district_day_begins_at_midnight_in_chengdu() -> None:
    assert day_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert periods_of(day_of(datetime(2026, 12, 31, 16, 0, tzinfo=UTC))) == [
        "2027-01", "2027-Q1", "2027"]


def test_each_street_has_an_office_and_a_subcentre() -> None:
    assert unit_id("street_office", "mengzhuiwan") == "office-mengzhuiwan"
    assert unit_id("investment_subcentre", "mengzhuiwan") == "subcentre-mengzhuiwan"
    assert parse_unit("subcentre-baohe") == ("investment_subcentre", "baohe")
    for bad in ("office-", "street-baohe", "baohe"):
        with pytest.raises(ValueError):
            parse_unit(bad)


def test_the_catalogue_keeps_the_two_kinds_apart() -> None:
    office = {i.code for i in of_kind("street_office")}
    subcentre = {i.code for i in of_kind("investment_subcentre")}
    assert office and subcentre and not office & subcentre
    assert office | subcentre == set(CATALOGUE)
    economic = {"investment_signed", "projects_started", "fixed_asset_investment",
                "enterprises_served"}
    assert subcentre == economic


def test_linear_rule_scores_straight_from_floor_to_target() -> None:
    assert points(LINEAR, "higher", 20, 0.45, 0.9) == 10.0
    assert points(LINEAR, "higher", 20, 1.0, 0.9) == 20.0  # beyond the target: full weight
    assert points(LINEAR, "higher", 20, None, 0.9) == 0.0  # nothing measured yet
    rework = Rule(kind="linear", floor=0.2)  # lower is better: 20 % rework earns nothing
    assert points(rework, "lower", 20, 0.05, 0.0) == 15.0
    assert points(rework, "lower", 20, 0.3, 0.0) == 0.0


def test_threshold_rule_gives_the_best_step_reached() -> None:
    assert fraction(STEPS, "higher", 0.95, 0.9) == 1.0
    assert fraction(STEPS, "higher", 0.85, 0.9) == 0.6
    assert fraction(STEPS, "higher", 0.5, 0.9) == 0.0
    lower = Rule(kind="threshold", steps=[(0.05, 1.0), (0.1, 0.5)])
    assert fraction(lower, "lower", 0.07, 0.05) == 0.5


@given(st.floats(0, 1), st.floats(0.01, 1))
def test_a_score_never_leaves_zero_to_its_weight(value: float, target: float) -> None:
    for rule in (LINEAR, STEPS):
        assert 0.0 <= points(rule, "higher", 30, value, target) <= 30


def test_a_target_is_met_when_reached_in_the_indicators_direction() -> None:
    assert met("higher", 0.9, 0.9) and not met("higher", 0.89, 0.9)
    assert met("lower", 0.02, 0.05) and not met("lower", 0.06, 0.05)
    assert not met("higher", None, 0.0)
