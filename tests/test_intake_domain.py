"""The admission procedure, the application's steps and working days, with no I/O."""

from datetime import UTC, date, datetime

import pytest

from services.intake.catalogue import Matter
from services.intake.commands import (
    AcceptApplication,
    CompleteApplication,
    DecideProposal,
    FileApplication,
    ProposeMatter,
    ResubmitMaterials,
    ReturnApplication,
    ReviewProposal,
)
from services.intake.events import ApplicationReferred, MatterAdmitted, MatterWithdrawn
from services.intake.front_desk import Application, Place
from shared.calendar import WorkCalendar
from shared.errors import DomainError, NotFound, WrongOrder
from tests.platform import proposal
from tests.test_intake_e2e import filing

PLACE = Place("s1", "s1.c1", "s1.c1.g1")
MONDAY = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def applied(aggregate, events):
    for event in events:
        aggregate.apply(event)
    return aggregate


def admitted(code="cm.residence_certificate", **terms) -> Matter:
    matter = Matter(code)
    applied(matter, matter.propose(ProposeMatter(**proposal(code, **terms))))
    applied(matter, matter.review(ReviewProposal(department="legal_affairs", verdict="approve")))
    return applied(matter, matter.decide(DecideProposal(decision="approve")))


def filed(matter=None, materials=("id_card",)) -> Application:
    application = Application("a1")
    command = FileApplication(**filing(materials=list(materials)))
    return applied(application, application.file(
        command, matter=matter or admitted(), place=PLACE, filed_at=MONDAY,
        calendar=WorkCalendar()))


def test_the_government_cannot_approve_before_every_review_is_in():
    matter = Matter("cm.m")
    applied(matter, matter.propose(ProposeMatter(**proposal("cm.m"))))
    with pytest.raises(WrongOrder, match="legal_affairs"):
        matter.decide(DecideProposal(decision="approve"))


def test_only_named_reviewers_review_and_each_once():
    matter = Matter("cm.m")
    applied(matter, matter.propose(ProposeMatter(**proposal("cm.m"))))
    with pytest.raises(DomainError, match="not a reviewer"):
        matter.review(ReviewProposal(department="finance", verdict="approve"))
    applied(matter, matter.review(ReviewProposal(department="legal_affairs", verdict="approve")))
    with pytest.raises(WrongOrder):
        matter.review(ReviewProposal(department="legal_affairs", verdict="approve"))


def test_approval_admits_and_withdrawal_takes_it_out():
    matter = admitted()
    assert matter.admitted
    withdrawal = {**proposal("cm.residence_certificate"), "kind": "withdrawal", "terms": None}
    applied(matter, matter.propose(ProposeMatter(**withdrawal)))
    applied(matter, matter.review(ReviewProposal(department="legal_affairs", verdict="approve")))
    (event,) = matter.decide(DecideProposal(decision="approve"))
    assert isinstance(event, MatterWithdrawn)
    applied(matter, [event])
    with pytest.raises(DomainError, match="not admitted"):
        matter.require_admitted()


def test_a_new_proposal_waits_for_the_open_one():
    matter = Matter("cm.m")
    applied(matter, matter.propose(ProposeMatter(**proposal("cm.m"))))
    with pytest.raises(WrongOrder, match="still under review"):
        matter.propose(ProposeMatter(**proposal("cm.m")))


def test_admitted_event_carries_the_terms():
    matter = Matter("cm.m")
    applied(matter, matter.propose(ProposeMatter(**proposal("cm.m"))))
    applied(matter, matter.review(ReviewProposal(department="legal_affairs", verdict="approve")))
    (event,) = matter.decide(DecideProposal(decision="approve"))
    assert isinstance(event, MatterAdmitted) and event.terms["time_limit_days"] == 3


def test_filing_an_unknown_matter_names_the_field():
    with pytest.raises(NotFound) as refused:
        filed(matter=Matter("cm.none"))
    assert refused.value.field == "matter_code"


def test_filing_outside_the_community_is_refused():
    application = Application("a1")
    command = FileApplication(**filing())
    with pytest.raises(DomainError) as refused:
        application.file(command, matter=admitted(), place=Place("s1", "s1.c2", "g"),
                         filed_at=MONDAY, calendar=WorkCalendar())
    assert refused.value.field == "location"


def test_the_deadline_skips_weekends_and_holidays():
    calendar = WorkCalendar([date(2026, 11, 25)])
    assert calendar.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    assert calendar.add_working_days(date(2026, 11, 23), 3) == date(2026, 11, 27)  # skips Wed
    assert filed().deadline == date(2026, 11, 26)


def test_accepting_with_materials_missing_is_refused_until_they_come():
    application = filed()
    with pytest.raises(WrongOrder, match="household_register"):
        application.accept(AcceptApplication())
    applied(application, application.return_for(ReturnApplication(missing=["household_register"])))
    applied(application, application.resubmit(ResubmitMaterials(materials=["household_register"])))
    applied(application, application.accept(AcceptApplication()))
    (done,) = application.complete(CompleteApplication(result="issued"), MONDAY)
    assert done.on_time


def test_returning_for_a_material_the_matter_does_not_require_is_refused():
    with pytest.raises(DomainError) as refused:
        filed().return_for(ReturnApplication(missing=["passport"]))
    assert refused.value.field == "missing"


def test_a_district_matter_is_referred_when_filed():
    application = Application("a1")
    events = application.file(FileApplication(**filing()), matter=admitted(level="district"),
                              place=PLACE, filed_at=MONDAY, calendar=WorkCalendar())
    assert isinstance(events[-1], ApplicationReferred)


def test_a_street_matter_is_handled_by_the_public_service_centre():
    application = filed(matter=admitted(level="street"),
                        materials=("id_card", "household_register"))
    (accepted,) = application.accept(AcceptApplication())
    assert accepted.handled_at == "street_public_service_centre"


def test_days_are_chengdu_days():
    early_tuesday_in_chengdu = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Tue 07:30 +08:00
    application = Application("a1")
    (event,) = application.file(FileApplication(**filing()), matter=admitted(), place=PLACE,
                                filed_at=early_tuesday_in_chengdu, calendar=WorkCalendar())
    assert event.deadline == date(2026, 11, 27)  # three working days after Tuesday


# -- where each aggregate lives: whose grants cover it (issue 9) --------------------------------


def test_an_application_lives_at_its_station_and_with_the_resident_who_filed_it():
    application = Application("a1")
    assert application.place().ids == {}  # not filed: no grant covers it
    applied(application, application.file(FileApplication(**filing()), matter=admitted(),
                                          place=PLACE, filed_at=MONDAY,
                                          calendar=WorkCalendar(), filed_by="resident-1"))
    place = application.place()
    assert place.holds("community", "s1.c1") and place.holds("street", "s1")
    assert place.holds("grid", "s1.c1.g1") and place.holds("owner", "resident-1")
    assert not filed().place().ids.get("owner")  # filed at the window for them


def test_a_filing_stored_before_filed_by_existed_still_loads():
    (event,) = Application("a1").file(FileApplication(**filing()), matter=admitted(),
                                      place=PLACE, filed_at=MONDAY, calendar=WorkCalendar())
    old = event.model_dump(mode="json")
    old.pop("filed_by")
    assert type(event).model_validate(old).filed_by is None


def test_a_matter_lives_with_its_proposer_its_reviewers_and_its_department():
    matter = Matter("cm.m")
    applied(matter, matter.propose(ProposeMatter(**proposal("cm.m"))))
    assert matter.place().ids == {"department": frozenset({"civil_affairs", "legal_affairs"})}
    assert admitted().place().holds("department", "civil_affairs")
