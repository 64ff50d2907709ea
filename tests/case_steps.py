"""A case's steps as the grid emits them (services/grid/case_events.py, the contract), for the
tests of what other services make of them: each function gives the events of one step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.grid.case_events import (
    CaseAccepted,
    CaseClosed,
    CaseDispatched,
    CaseEvent,
    CaseMerged,
    CaseOverdue,
    CaseReferred,
    CaseRegistered,
    CaseResolved,
    CaseSentBack,
    CaseVerified,
    DuplicateAttached,
    SendBackRuled,
)
from services.grid.events import registry
from shared.envelope import NewEvent

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Chengdu
DEADLINE = NOW + timedelta(hours=6)  # 16:00 in Chengdu
WHERE = {"street_id": "s1", "community_id": "s1.c1", "grid_id": "s1.c1.g1"}


def new(*events: CaseEvent) -> list[NewEvent]:
    return [registry.to_new_event(e) for e in events]


def registered(case_id: str, problem_id: str | None = None, **where: str) -> list[NewEvent]:
    return new(CaseRegistered(
        case_id=case_id, **{**WHERE, **where}, source="report" if problem_id else "patrol",
        category="problem.public_utilities", urgency="normal", description="路灯不亮",
        location={"lon": 104.105, "lat": 30.605}, address="建设路1号", photos=[],
        problem_id=problem_id, reporter_user_id=None, duplicate_candidates=[],
        registered_at=NOW))


def dispatched(case_id: str, by: str = "auto", grid_id: str = "s1.c1.g1") -> list[NewEvent]:
    return new(CaseDispatched(case_id=case_id, **{**WHERE, "grid_id": grid_id},
                              handler_id="m1", deadline=DEADLINE, by=by, dispatched_at=NOW))


def accepted(case_id: str) -> list[NewEvent]:
    return new(CaseAccepted(case_id=case_id, **WHERE, handler_id="m1", accepted_at=NOW))


def resolved(case_id: str, result: str = "换了灯泡 bulb replaced") -> list[NewEvent]:
    return new(CaseResolved(case_id=case_id, **WHERE, handler_id="m1", result=result,
                            resolved_at=NOW))


def verified_and_closed(case_id: str, problem_id: str | None = None,
                        duplicates: dict[str, str | None] | None = None) -> list[NewEvent]:
    """`duplicates`: case id -> problem id of the cases merged into this one."""
    duplicates = duplicates or {}
    return new(
        CaseVerified(case_id=case_id, **WHERE, passed=True, by="resident", satisfaction=5,
                     comment="好", rework_count=0, verified_at=NOW),
        CaseClosed(case_id=case_id, **WHERE, on_time=True, deadline=DEADLINE,
                   registered_at=NOW, closed_at=NOW, satisfaction=5, held_seconds={"m1": 60.0},
                   duplicates=list(duplicates),
                   duplicate_problem_ids=[p for p in duplicates.values() if p],
                   problem_id=problem_id))


def failed_verification(case_id: str) -> list[NewEvent]:
    return new(CaseVerified(case_id=case_id, **WHERE, passed=False, by="grid", satisfaction=None,
                            comment="还是不亮", rework_count=1, verified_at=NOW))


def sent_back(case_id: str) -> list[NewEvent]:
    return new(CaseSentBack(case_id=case_id, **WHERE, handler_id="m1", reason="wrong_grid",
                            note="不在本网格", sent_back_at=NOW))


def ruled(case_id: str, upheld: bool) -> list[NewEvent]:
    return new(SendBackRuled(case_id=case_id, **WHERE, upheld=upheld, note="", ruled_at=NOW))


def overdue(case_id: str) -> list[NewEvent]:
    return new(CaseOverdue(case_id=case_id, **WHERE, handler_id="m1", deadline=DEADLINE,
                           escalated_to="s1", detected_at=NOW))


def merged(case_id: str, master_id: str, problem_id: str | None) -> list[NewEvent]:
    return new(CaseMerged(case_id=case_id, **WHERE, master_id=master_id, problem_id=problem_id,
                          merged_at=NOW))


def attached(master_id: str, duplicate_id: str, problem_id: str | None) -> list[NewEvent]:
    return new(DuplicateAttached(case_id=master_id, **WHERE, duplicate_id=duplicate_id,
                                 problem_id=problem_id, attached_at=NOW))


def referred(case_id: str) -> list[NewEvent]:
    return new(CaseReferred(case_id=case_id, **WHERE, referral_id=f"r-{case_id}",
                            domain="city_management", violation_hint="占道经营 street vending",
                            category="problem.street_order", description="占道摆摊",
                            location={"lon": 104.105, "lat": 30.605}, address="建设路1号",
                            photos=[], referred_at=NOW))
