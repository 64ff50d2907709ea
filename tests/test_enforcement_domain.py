"""The enforcement domain without I/O: the catalogue, a violation's lifecycle, overdue once per
deadline, and the answer to a referral (the grid's contract)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.enforcement.catalogue import CATALOGUE, DOMAINS, GENERIC, classify, violation_type
from services.enforcement.commands import (
    CloseViolation,
    DecideViolation,
    DismissViolation,
    RecordViolation,
    ReportRectification,
    VerifyRectification,
)
from services.enforcement.events import ReferralConcluded, registry
from services.enforcement.violation import Finding, Violation, Where, offender_key
from services.grid import case_events
from shared.errors import DomainError, NotFound, WrongOrder

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WHERE = Where("s1", "s1.c1", "s1.c1.g1")
PERSON = {"kind": "person", "name": "张三", "id_number": "510108198001011234"}


def recorded(type_code: str = "ps.noise_nuisance", referral: bool = False) -> Violation:
    violation = Violation("v1")
    finding = Finding(type=violation_type(type_code), location={"lon": 104.105, "lat": 30.605},
                      address="1号", evidence=["photo-1"], source="referral" if referral
                      else "patrol", offender=None if referral else PERSON,
                      officer_id=None if referral else "officer-1",
                      referral_id="r1" if referral else None, case_id="c1" if referral else None)
    return step(violation, violation.record(finding, WHERE, NOW))


def step(violation: Violation, events: list) -> Violation:
    for event in events:
        violation.apply(event)
    violation.version += len(events)
    return violation


def test_the_concluded_event_is_exactly_the_grids_contract():
    assert ReferralConcluded.TYPE == case_events.REFERRAL_CONCLUDED
    assert ReferralConcluded.model_json_schema() == \
        case_events.ReferralConcluded.model_json_schema()
    assert registry.knows(case_events.REFERRAL_CONCLUDED)


def test_the_catalogue_covers_three_domains_each_with_a_catch_all_and_sane_ranges():
    assert {t.domain for t in CATALOGUE} == set(DOMAINS)
    assert len({t.code for t in CATALOGUE}) == len(CATALOGUE)
    for entry in CATALOGUE:
        assert 0 <= entry.min_yuan <= entry.max_yuan and entry.rectification_days >= 1
        assert entry.law and entry.article and entry.name_zh and entry.name_en
    assert all(g.max_yuan == 0 and not g.sourced for g in GENERIC.values())


def test_a_hint_is_classified_by_keyword_else_the_domains_catch_all():
    assert classify("city_management", "street vending at the gate").code == "cm.street_vending"
    assert classify("traffic_order", "车辆乱停放").code == "to.illegal_parking"
    assert classify("public_security", "something odd").code == "ps.other"


def test_an_unknown_type_is_refused_on_type():
    with pytest.raises(DomainError) as refused:
        violation_type("cm.nothing")
    assert refused.value.field == "type"


@pytest.mark.parametrize("amount", [100, 199.99, 500.01, 0])
def test_a_fine_outside_the_legal_range_is_refused_on_amount(amount):
    violation = recorded("ps.noise_nuisance")  # 200-500 yuan
    with pytest.raises(DomainError) as refused:
        violation.decide(DecideViolation(decision="fine", amount=amount), NOW)
    assert refused.value.field == "amount"


def test_a_type_without_a_fine_takes_no_fine():
    with pytest.raises(DomainError, match="carries no fine"):
        recorded("ps.other").decide(DecideViolation(decision="fine", amount=50), NOW)


def test_fine_and_order_then_rectified_verified_closed():
    violation = recorded()
    step(violation, violation.decide(DecideViolation(decision="fine", amount=300, rectify=True),
                                     NOW))
    assert violation.status == "ordered"
    assert violation.deadline == NOW + timedelta(days=1)  # the type's default period
    step(violation, violation.report_rectification(ReportRectification(), NOW))
    events = violation.verify(VerifyRectification(passed=True), NOW + timedelta(hours=1))
    assert [e.TYPE for e in events] == ["enforcement.rectification.verified",
                                        "enforcement.violation.closed"]
    assert events[1].rectified and events[1].on_time
    assert step(violation, events).status == "closed"


def test_a_failed_verification_goes_back_to_the_order_with_a_new_deadline():
    violation = recorded()
    step(violation, violation.decide(DecideViolation(decision="rectification_order"), NOW))
    step(violation, violation.report_rectification(ReportRectification(), NOW))
    later = NOW + timedelta(days=5)
    step(violation, violation.verify(VerifyRectification(passed=False, deadline=later), NOW))
    assert (violation.status, violation.deadline) == ("ordered", later)


def test_wrong_state_steps_are_409_and_an_unknown_violation_404():
    violation = recorded()
    with pytest.raises(WrongOrder):
        violation.report_rectification(ReportRectification(), NOW)
    with pytest.raises(WrongOrder):
        violation.close(CloseViolation(), NOW)
    step(violation, violation.decide(DecideViolation(decision="warning"), NOW))
    for wrong in (lambda: violation.decide(DecideViolation(decision="warning"), NOW),
                  lambda: violation.verify(VerifyRectification(passed=True), NOW),
                  lambda: violation.dismiss(DismissViolation(reason="x"), NOW)):
        with pytest.raises(WrongOrder):
            wrong()
    with pytest.raises(NotFound):
        Violation("none").close(CloseViolation(), NOW)


def test_overdue_is_marked_once_per_deadline():
    violation = recorded()
    step(violation, violation.decide(DecideViolation(decision="rectification_order"), NOW))
    assert violation.overdue(NOW) == []
    late = NOW + timedelta(days=2)
    marked = violation.overdue(late)
    assert [e.TYPE for e in marked] == ["enforcement.rectification.overdue"]
    step(violation, marked)
    assert violation.overdue(late + timedelta(days=1)) == []


def test_closing_a_referred_violation_answers_the_case_and_a_patrols_does_not():
    referred = recorded(referral=True)
    step(referred, referred.decide(DecideViolation(decision="warning"), NOW))
    events = referred.close(CloseViolation(), NOW)
    concluded = events[-1]
    assert isinstance(concluded, ReferralConcluded)
    assert (concluded.outcome, concluded.case_id, concluded.grid_id) == \
        ("penalized", "c1", "s1.c1.g1")
    patrol = recorded()
    step(patrol, patrol.decide(DecideViolation(decision="warning"), NOW))
    assert [e.TYPE for e in patrol.close(CloseViolation(), NOW)] == \
        ["enforcement.violation.closed"]


def test_dismissing_a_referred_violation_answers_no_violation():
    events = recorded(referral=True).dismiss(DismissViolation(reason="已自行离开"), NOW)
    assert events[-1].outcome == "no_violation"


def test_an_offender_key_is_a_digest_of_their_id_not_the_id():
    key = offender_key(PERSON)
    assert key == offender_key({**PERSON, "name": "张三丰", "phone": "13800000000"})
    assert PERSON["id_number"] not in key
    assert key != offender_key({**PERSON, "kind": "business"})


@pytest.mark.parametrize("body", [
    {"decision": "fine"},  # a fine needs its amount
    {"decision": "warning", "amount": 100},
    {"decision": "warning", "deadline": "2026-12-01T17:00:00+08:00"},  # no order, no deadline
    {"decision": "rectification_order", "deadline": "2026-12-01"},  # a day is no moment
    {"decision": "rectification_order", "deadline": 1700000000},
])
def test_a_decision_that_does_not_hold_together_is_refused(body):
    with pytest.raises(ValueError):
        DecideViolation.model_validate(body)


def test_a_referral_id_comes_with_its_case_and_source_referral():
    base = {"street_id": "s1", "type": "cm.other", "location": {"lon": 104.1, "lat": 30.6},
            "address": "1号", "offender": {"kind": "person", "name": "某"}}
    with pytest.raises(ValueError):
        RecordViolation.model_validate({**base, "source": "referral", "referral_id": "r1"})
    with pytest.raises(ValueError):
        RecordViolation.model_validate({**base, "source": "patrol", "referral_id": "r1",
                                        "case_id": "c1"})
    assert RecordViolation.model_validate({**base, "source": "referral", "referral_id": "r1",
                                           "case_id": "c1"}).case_id == "c1"
