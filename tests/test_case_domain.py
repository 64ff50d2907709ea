"""The case aggregate (services/grid/cases.py): every transition of the back desk's loop and
every step refused in the wrong state, with no I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from services.grid.case_events import (
    CaseClosed,
    CaseDispatched,
    CaseOverdue,
    CaseVerified,
    SendBackRuled,
)
from services.grid.cases import (
    AlreadyReturnVisited,
    BadDeadline,
    BadMerge,
    Case,
    CaseAlreadyRegistered,
    NotAManager,
    UnknownCategory,
    WrongCaseState,
)
from services.grid.deadlines import working_hours
from shared.calendar import WorkCalendar
from shared.errors import NotFound

CALENDAR = WorkCalendar()
MONDAY_9 = datetime(2026, 11, 23, 1, tzinfo=UTC)  # 09:00 in Chengdu
GRID = {"street_id": "s1", "community_id": "s1.c1", "grid_id": "s1.c1.g1"}
OTHER_GRID = {"street_id": "s1", "community_id": "s1.c2", "grid_id": "s1.c2.g1"}
MANAGERS = ["m1", "m2"]


def later(minutes: float) -> datetime:
    return MONDAY_9 + timedelta(minutes=minutes)


def step(case: Case, events: list) -> list:
    for event in events:
        case.apply(event)
        case.version += 1
    return events


def registered(case_id: str = "c1", category: str = "problem.streetscape",
               reporter: str | None = None) -> Case:
    case = Case(case_id)
    step(case, case.register(grid=GRID, source="patrol", category=category, urgency="normal",
                             description="垃圾 rubbish", location={"lon": 104.1, "lat": 30.6},
                             address="1号", photos=["p/1.jpg"], problem_id=None,
                             reporter_user_id=reporter, duplicates=[case_id, "c0"],
                             at=MONDAY_9))
    return case


def dispatched(**kwargs) -> Case:
    case = registered(**kwargs)
    step(case, case.dispatch("m1", MANAGERS, by="auto", at=MONDAY_9, calendar=CALENDAR))
    return case


def handling(**kwargs) -> Case:
    case = dispatched(**kwargs)
    step(case, case.accept(later(10)))
    return case


def resolved(**kwargs) -> Case:
    case = handling(**kwargs)
    step(case, case.resolve("清理完毕 cleaned", later(60)))
    return case


def closed(**kwargs) -> Case:
    case = resolved(**kwargs)
    step(case, case.verify(True, "grid", 5, "", later(90)))
    return case


def test_registration_names_duplicates_but_not_itself_and_happens_once():
    case = registered()
    assert case.status == "registered" and case.place().holds("grid", "s1.c1.g1")
    with pytest.raises(CaseAlreadyRegistered) as refused:
        case.register(grid=GRID, source="patrol", category="problem.streetscape",
                      urgency="normal", description="x", location={}, address="", photos=[],
                      problem_id=None, reporter_user_id=None, duplicates=[], at=MONDAY_9)
    assert refused.value.status == 409 and refused.value.field == "status"


def test_an_unknown_category_is_refused_on_category():
    with pytest.raises(UnknownCategory) as refused:
        registered(category="problem.dragons")
    assert refused.value.status == 422 and refused.value.field == "category"


def test_the_first_dispatch_sets_the_deadline_in_working_hours():
    case = dispatched()
    assert case.status == "dispatched" and case.handler_id == "m1"
    hours = working_hours("problem.streetscape", "normal")
    assert case.deadline == CALENDAR.add_working_hours(MONDAY_9, hours)


def test_a_dispatch_to_someone_not_a_manager_is_refused():
    case = registered()
    with pytest.raises(NotAManager) as refused:
        case.dispatch("stranger", MANAGERS, by="street", at=MONDAY_9, calendar=CALENDAR)
    assert refused.value.field == "handler_id"


def test_a_street_redispatch_to_another_grid_keeps_the_deadline():
    case = handling()
    deadline = case.deadline
    [event] = step(case, case.dispatch("m9", ["m9"], by="street", at=later(200),
                                       calendar=CALENDAR, grid=OTHER_GRID))
    assert isinstance(event, CaseDispatched) and event.deadline == deadline
    assert case.grid_id == "s1.c2.g1" and case.status == "dispatched"
    assert case.held_seconds == {"m1": 200 * 60}


def test_the_handler_loop_accept_progress_resolve_verify_close():
    case = handling()
    assert case.status == "handling"
    step(case, case.note_progress("到场 on site", later(20)))
    step(case, case.resolve("清理完毕", later(60)))
    assert case.status == "resolved"
    verified, closure = step(case, case.verify(True, "resident", 4, "好", later(90)))
    assert isinstance(verified, CaseVerified) and isinstance(closure, CaseClosed)
    assert case.status == "closed" and closure.on_time and closure.satisfaction == 4
    assert closure.held_seconds == {"m1": 60 * 60}


@pytest.mark.parametrize("make,refused_steps", [
    (registered, ["accept", "progress", "resolve", "send_back", "refer", "verify", "reopen",
                  "visit", "rule", "postpone"]),
    (dispatched, ["progress", "resolve", "verify", "reopen", "visit", "rule"]),
    (handling, ["accept", "verify", "reopen", "visit", "rule"]),
    (resolved, ["accept", "progress", "resolve", "send_back", "refer", "reopen", "visit",
                "rule", "merge"]),
    (closed, ["accept", "progress", "resolve", "send_back", "refer", "verify", "rule",
              "postpone", "merge"]),
])
def test_a_step_in_the_wrong_status_is_409_on_status(make, refused_steps):
    steps = {
        "accept": lambda c: c.accept(later(1)),
        "progress": lambda c: c.note_progress("n", later(1)),
        "resolve": lambda c: c.resolve("r", later(1)),
        "send_back": lambda c: c.send_back("wrong_grid", "", later(1)),
        "refer": lambda c: c.refer("r1", "city_management", "摆摊", later(1)),
        "verify": lambda c: c.verify(True, "grid", 5, "", later(1)),
        "reopen": lambda c: c.reopen("没修好", later(1), CALENDAR),
        "visit": lambda c: c.return_visit(5, "", later(1)),
        "rule": lambda c: c.rule(False, "", later(1)),
        "postpone": lambda c: c.postpone(later(10_000), "等材料", later(1)),
        "merge": lambda c: c.merge_into(dispatched(case_id="master"), later(1)),
    }
    for name in refused_steps:
        case = make()
        with pytest.raises(WrongCaseState) as refused:
            steps[name](case)
        assert refused.value.status == 409 and refused.value.field == "status", name
        assert case.status in refused.value.reason or "no deadline" in refused.value.reason


def test_a_step_on_an_unknown_case_is_404():
    with pytest.raises(NotFound):
        Case("nothing").accept(MONDAY_9)


def test_send_back_upheld_goes_elsewhere_keeps_the_deadline_and_charges_the_sender():
    case = handling()
    deadline = case.deadline
    step(case, case.send_back("wrong_grid", "不在本网格", later(30)))
    assert case.status == "sent_back"
    ruled, redispatched = step(case, case.rule(True, "改派", later(90), handler_id="m9",
                                               managers=["m9"], grid=OTHER_GRID))
    assert isinstance(ruled, SendBackRuled) and ruled.upheld
    assert redispatched.by == "street" and redispatched.deadline == deadline
    assert case.status == "dispatched" and case.handler_id == "m9"
    assert case.grid_id == "s1.c2.g1"
    assert case.held_seconds == {"m1": 90 * 60}  # until the ruling, not the send-back


def test_send_back_upheld_needs_a_manager_to_go_to():
    case = handling()
    step(case, case.send_back("not_our_matter", "", later(30)))
    with pytest.raises(Exception) as refused:
        case.rule(True, "", later(40))
    assert refused.value.field == "handler_id"
    with pytest.raises(NotAManager):
        case.rule(True, "", later(40), handler_id="m9", managers=["m1"])


def test_send_back_overruled_returns_it_to_the_same_handler():
    case = handling()
    deadline = case.deadline
    step(case, case.send_back("not_our_matter", "", later(30)))
    [ruled] = step(case, case.rule(False, "属本网格", later(60)))
    assert not ruled.upheld
    assert case.status == "dispatched" and case.handler_id == "m1" and case.deadline == deadline
    step(case, case.accept(later(70)))
    step(case, case.resolve("done", later(100)))
    assert case.held_seconds == {"m1": 100 * 60}


def test_a_failed_verification_is_rework_counted_and_back_to_handling():
    case = resolved()
    [verified] = step(case, case.verify(False, "grid", None, "还有垃圾", later(70)))
    assert verified.rework_count == 1 and case.status == "handling" and case.rework_count == 1
    step(case, case.resolve("again", later(80)))
    [again] = step(case, case.verify(False, "grid", 3, "", later(85)))
    assert again.rework_count == 2 and again.satisfaction is None
    step(case, case.resolve("again", later(95)))
    closure = step(case, case.verify(True, "grid", 4, "", later(100)))[1]
    assert closure.held_seconds == {"m1": (60 + 10 + 10) * 60}


def test_reopen_after_closure_goes_to_the_last_handler_with_a_new_deadline():
    case = closed()
    first_deadline = case.deadline
    [reopened] = step(case, case.reopen("没修好 not fixed", later(24 * 60), CALENDAR))
    assert case.status == "dispatched" and case.handler_id == "m1"
    assert reopened.reopen_count == 1 and reopened.deadline > first_deadline
    assert reopened.deadline == CALENDAR.add_working_hours(later(24 * 60), 8)


def test_one_return_visit_per_case():
    case = closed()
    step(case, case.return_visit(5, "满意", later(200)))
    with pytest.raises(AlreadyReturnVisited) as refused:
        case.return_visit(4, "", later(300))
    assert refused.value.status == 409


def test_overdue_once_per_deadline_and_again_after_a_postponement():
    case = dispatched()
    deadline = case.deadline
    assert case.mark_overdue(deadline) == []  # not past yet
    [overdue] = step(case, case.mark_overdue(deadline + timedelta(minutes=1)))
    assert isinstance(overdue, CaseOverdue) and overdue.escalated_to == "s1"
    assert case.mark_overdue(deadline + timedelta(hours=5)) == []
    new_deadline = deadline + timedelta(days=3)
    step(case, case.postpone(new_deadline, "等配件", deadline + timedelta(hours=1)))
    assert case.mark_overdue(deadline + timedelta(hours=5)) == []
    assert len(case.mark_overdue(new_deadline + timedelta(seconds=1))) == 1


def test_a_closed_or_undispatched_case_is_never_overdue():
    assert closed().mark_overdue(later(10**6)) == []
    assert registered().mark_overdue(later(10**6)) == []


def test_a_postponement_must_move_the_deadline_later():
    case = dispatched()
    with pytest.raises(BadDeadline) as refused:
        case.postpone(case.deadline - timedelta(minutes=1), "r", later(1))
    assert refused.value.status == 422 and refused.value.field == "deadline"
    with pytest.raises(WrongCaseState):
        registered().postpone(later(10_000), "r", later(1))


def test_referral_and_its_conclusion_resolve_once():
    case = handling()
    step(case, case.refer("r1", "city_management", "占道经营", later(20)))
    assert case.status == "referred"
    with pytest.raises(WrongCaseState):
        case.conclude_referral("r-other", "rectified", "", later(30))
    [resolved_event] = step(case, case.conclude_referral("r1", "rectified", "已整改", later(30)))
    assert resolved_event.handler_id is None and case.status == "resolved"
    assert case.conclude_referral("r1", "rectified", "已整改", later(30)) == []


def test_merge_into_an_open_master_of_the_same_category():
    master, duplicate = dispatched(case_id="master"), registered(case_id="dup")
    [merged] = step(duplicate, duplicate.merge_into(master, later(5)))
    assert merged.master_id == "master" and duplicate.status == "merged"
    step(master, master.attach(duplicate, later(5)))
    assert master.attach(duplicate, later(6)) == []  # noted once
    assert master.duplicates == ["dup"]


def test_merge_refusals():
    case = registered(case_id="dup")
    with pytest.raises(BadMerge) as itself:
        case.merge_into(case, later(1))
    assert itself.value.status == 422 and itself.value.field == "master_id"
    with pytest.raises(BadMerge) as other_category:
        case.merge_into(dispatched(case_id="m", category="problem.emergency"), later(1))
    assert other_category.value.status == 422
    with pytest.raises(BadMerge) as master_closed:
        case.merge_into(closed(case_id="m"), later(1))
    assert master_closed.value.status == 409
    with pytest.raises(NotFound):
        case.merge_into(Case("nothing"), later(1))


def test_the_owner_is_the_reporter():
    case = registered(reporter="res-1")
    assert case.place().holds("owner", "res-1")
