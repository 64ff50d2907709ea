"""Cases' lives as events, for the read side's tests: a story (where, when, and a list of
choices) is played through the back desk's transitions (backdesk.md) into the `grid.case.*`
events a desk would have appended. Each choice picks the next legal step and how long it
took, so hypothesis can draw stories and shrink them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.grid import case_events as ce
from services.grid.events import registry
from shared.envelope import Actor, NewEvent
from shared.store import EventStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Chengdu, a Monday
PLACES = [("s1", "s1.c1", "s1.c1.g1"), ("s1", "s1.c2", "s1.c2.g1"), ("s2", "s2.c1", "s2.c1.g1")]
CATEGORIES = ["problem.streetscape", "problem.public_utilities"]
HANDLERS = {"s1.c1.g1": ["m1", "m2"], "s1.c2.g1": ["m3"], "s2.c1.g1": ["m4"]}


@dataclass
class Story:
    case_id: str
    place: int  # index into PLACES
    category: int
    registered_day: int  # days after T0
    choices: list[int] = field(default_factory=list)
    reporter: str | None = None


@dataclass
class Life:
    """A case as the desk would hold it while the story is played."""

    story: Story
    now: datetime
    status: str = "registered"
    handler: str | None = None
    deadline: datetime | None = None
    overdue_for: datetime | None = None
    rework: int = 0
    reopens: int = 0
    visited: bool = False
    events: list[ce.CaseEvent] = field(default_factory=list)

    @property
    def where(self) -> dict[str, str]:
        street, community, grid = PLACES[self.story.place]
        return {"case_id": self.story.case_id, "street_id": street, "community_id": community,
                "grid_id": grid}

    def emit(self, cls: type[ce.CaseEvent], **data: Any) -> None:
        self.events.append(cls(**self.where, **data))


def registered(life: Life) -> None:
    s = life.story
    life.emit(ce.CaseRegistered, source="patrol", category=CATEGORIES[s.category],
              urgency="normal", description="路灯不亮", location={"lon": 104.1 + s.place / 100,
                                                                "lat": 30.6 + s.place / 100},
              address="建设路1号", photos=[], problem_id=None, reporter_user_id=s.reporter,
              duplicate_candidates=[], registered_at=life.now)


def dispatch(life: Life, choice: int, by: str = "auto") -> None:
    handlers = HANDLERS[life.where["grid_id"]]
    life.handler = handlers[choice % len(handlers)]
    if life.deadline is None:  # set at the first dispatch, kept by a re-dispatch
        life.deadline = life.now + timedelta(hours=8 + 24 * (choice % 4))
    life.status = "dispatched"
    life.emit(ce.CaseDispatched, handler_id=life.handler, deadline=life.deadline, by=by,
              dispatched_at=life.now)


def step(life: Life, name: str, choice: int) -> None:
    now = life.now
    match name:
        case "dispatch":
            dispatch(life, choice)
        case "accept":
            life.status = "handling"
            life.emit(ce.CaseAccepted, handler_id=life.handler, accepted_at=now)
        case "progress":
            life.emit(ce.ProgressNoted, handler_id=life.handler, note="在修", noted_at=now)
        case "resolve":
            life.status = "resolved"
            life.emit(ce.CaseResolved, handler_id=life.handler, result="已修复", resolved_at=now)
        case "pass":
            satisfaction = 1 + choice % 5
            life.status = "closed"
            life.emit(ce.CaseVerified, passed=True, by="grid", satisfaction=satisfaction,
                      comment="好", rework_count=life.rework, verified_at=now)
            life.emit(ce.CaseClosed, on_time=now <= life.deadline, deadline=life.deadline,
                      registered_at=life.events[0].registered_at, closed_at=now,
                      satisfaction=satisfaction, held_seconds={}, duplicates=[],
                      duplicate_problem_ids=[], problem_id=None)
        case "fail":
            life.rework += 1
            life.status = "handling"
            life.emit(ce.CaseVerified, passed=False, by="resident", satisfaction=None,
                      comment="没修好", rework_count=life.rework, verified_at=now)
        case "reopen":
            life.reopens += 1
            life.status, life.deadline = "dispatched", now + timedelta(hours=24)
            life.emit(ce.CaseReopened, reason="又坏了", handler_id=life.handler,
                      deadline=life.deadline, reopen_count=life.reopens, reopened_at=now)
        case "visit":
            life.visited = True
            life.emit(ce.ReturnVisited, satisfaction=1 + choice % 5, comment="还行",
                      visited_at=now)
        case "send_back":
            life.status = "sent_back"
            life.emit(ce.CaseSentBack, handler_id=life.handler, reason="wrong_grid",
                      note="不是本网格", sent_back_at=now)
        case "uphold":
            life.emit(ce.SendBackRuled, upheld=True, note="改派", ruled_at=now)
            dispatch(life, choice + 1, by="street")
        case "overrule":
            life.status = "dispatched"
            life.emit(ce.SendBackRuled, upheld=False, note="维持", ruled_at=now)
        case "refer":
            life.status = "referred"
            life.emit(ce.CaseReferred, referral_id=f"r-{life.story.case_id}",
                      domain="city_management", violation_hint="占道经营",
                      category=CATEGORIES[life.story.category], description="摊贩",
                      location={"lon": 104.1, "lat": 30.6}, address="建设路1号", photos=[],
                      referred_at=now)
        case "conclude":
            life.status = "resolved"
            life.emit(ce.CaseResolved, handler_id=None, result="已整改", resolved_at=now)
        case "postpone":
            previous, life.deadline = life.deadline, life.deadline + timedelta(hours=48)
            life.emit(ce.CasePostponed, reason="材料未到", deadline=life.deadline,
                      previous_deadline=previous, postponed_at=now)
        case "overdue":
            life.overdue_for = life.deadline
            life.emit(ce.CaseOverdue, handler_id=life.handler, deadline=life.deadline,
                      escalated_to=life.where["street_id"], detected_at=now)
        case "merge":
            life.status = "merged"
            life.emit(ce.CaseMerged, master_id="c-master", problem_id=None, merged_at=now)


def legal(life: Life) -> list[str]:
    """The steps the desk allows from where the case is."""
    steps = {"registered": ["dispatch", "merge"],
             "dispatched": ["accept", "send_back", "refer", "postpone", "merge"],
             "handling": ["progress", "resolve", "send_back", "refer", "postpone"],
             "resolved": ["pass", "fail"],
             "closed": ["reopen"] + ([] if life.visited else ["visit"]),
             "sent_back": ["uphold", "overrule"],
             "referred": ["conclude"],
             "merged": []}[life.status]
    late = life.deadline is not None and life.now > life.deadline
    if late and life.overdue_for != life.deadline and life.status not in ("closed", "merged"):
        steps.append("overdue")
    return steps


def play(story: Story) -> list[ce.CaseEvent]:
    """The events of the story's case, in its stream's order."""
    life = Life(story, T0 + timedelta(days=story.registered_day))
    registered(life)
    for choice in story.choices:
        steps = legal(life)
        if not steps:
            break
        life.now += timedelta(hours=1 + choice % 30)
        step(life, steps[choice % len(steps)], choice)
    return life.events


def named(story: Story, *names: str, hours: float = 2) -> list[ce.CaseEvent]:
    """The events of a case taking exactly these steps, `hours` apart."""
    life = Life(story, T0 + timedelta(days=story.registered_day))
    registered(life)
    for name in names:
        life.now += timedelta(hours=hours)
        step(life, name, 0)
    return life.events


ACTOR = Actor("desk-test", "street_office_staff")


def new_events(events: list[ce.CaseEvent]) -> list[NewEvent]:
    return [registry.to_new_event(e, actor=ACTOR) for e in events]


async def append(store: EventStore, events: list[ce.CaseEvent]) -> None:
    """Append a case's events to its stream (`case-<id>`), after what it holds."""
    stream = f"case-{events[0].case_id}"
    version = await store.stream_version(stream)
    await store.append(stream, version, new_events(events))
