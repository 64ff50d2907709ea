"""A case of the grid back desk (案卷): its loop from registration to closure, after
GB/T 30428 (register, dispatch, handle, report back, verify, close, evaluate). Pure Python.

Each command method checks the rule and returns events; `apply` is the only place the state
changes. Every method takes the moment it happens (`at`): the desk's clock, never read here.
Statuses, transitions and clock rules: README "Grid back desk (commands)"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.grid.case_events import (
    CaseAccepted,
    CaseClosed,
    CaseDispatched,
    CaseEvent,
    CaseMerged,
    CaseOverdue,
    CasePostponed,
    CaseReferred,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseSentBack,
    CaseVerified,
    DuplicateAttached,
    ProgressNoted,
    ReturnVisited,
    SendBackRuled,
)
from services.grid.deadlines import CATEGORIES, working_hours
from shared.access import Place
from shared.calendar import WorkCalendar
from shared.errors import DomainError, NotFound
from shared.events import DomainEvent

STATUS_ZH = {
    "registered": "已立案", "dispatched": "已派遣", "handling": "处置中",
    "resolved": "已处置待核实", "closed": "已结案", "sent_back": "退单待裁定",
    "referred": "已移交执法", "merged": "已合并",
}
MERGEABLE = ("registered", "dispatched", "handling", "sent_back")
ENDED = ("closed", "merged")


class WrongCaseState(DomainError):
    """The step is not allowed in the case's status (409, field `status`)."""

    status = 409

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="status")


class CaseAlreadyRegistered(WrongCaseState):
    pass


class AlreadyReturnVisited(WrongCaseState):
    pass


class UnknownCategory(DomainError):
    def __init__(self, category: str) -> None:
        super().__init__(f"no category {category!r}; one of: {', '.join(sorted(CATEGORIES))}",
                         field="category")


class NotAManager(DomainError):
    def __init__(self, handler_id: str, grid_id: str) -> None:
        super().__init__(f"{handler_id} is not a manager of grid {grid_id}", field="handler_id")


class BadMerge(DomainError):
    """The master named cannot take this case (itself, another category: 422; not open: 409)."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason, field="master_id")
        self.status = status


class BadDeadline(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="deadline")


@dataclass
class Case:
    case_id: str
    version: int = 0
    status: str | None = None
    street_id: str = ""
    community_id: str = ""
    grid_id: str = ""
    category: str = ""
    urgency: str = "normal"
    facts: dict[str, Any] = field(default_factory=dict)  # description, location, address...
    problem_id: str | None = None
    reporter_user_id: str | None = None
    registered_at: datetime | None = None
    handler_id: str | None = None
    deadline: datetime | None = None
    overdue_for: datetime | None = None  # the deadline an overdue was emitted for
    rework_count: int = 0
    reopen_count: int = 0
    referral_id: str | None = None
    concluded_referrals: set[str] = field(default_factory=set)
    master_id: str | None = None
    duplicates: list[str] = field(default_factory=list)
    duplicate_problem_ids: list[str] = field(default_factory=list)
    return_visited: bool = False
    held_seconds: dict[str, float] = field(default_factory=dict)  # handler -> time held
    holder: str | None = None  # who holds it now (charged until released), since when
    held_since: datetime | None = None

    @property
    def stream_id(self) -> str:
        return f"case-{self.case_id}"

    def place(self) -> Place:
        return Place.of(street=self.street_id, community=self.community_id, grid=self.grid_id,
                        owner=self.reporter_user_id)

    def where(self, grid: dict[str, str] | None = None) -> dict[str, str]:
        """The ids every event of it carries (`grid`: where a dispatch moves it)."""
        place = grid or {"street_id": self.street_id, "community_id": self.community_id,
                         "grid_id": self.grid_id}
        return {"case_id": self.case_id, **place}

    # -- registration and dispatch ---------------------------------------------------------

    def register(self, *, grid: dict[str, str], source: str, category: str, urgency: str,
                 description: str, location: dict[str, float], address: str,
                 photos: list[str], problem_id: str | None, reporter_user_id: str | None,
                 duplicates: list[str], at: datetime) -> list[DomainEvent]:
        if self.status is not None:
            raise CaseAlreadyRegistered(f"case {self.case_id} is already registered")
        if source != "report" and category not in CATEGORIES:
            raise UnknownCategory(category)
        return [CaseRegistered(
            **self.where(grid), source=source, category=category, urgency=urgency,
            description=description, location=location, address=address, photos=photos,
            problem_id=problem_id, reporter_user_id=reporter_user_id,
            duplicate_candidates=[d for d in duplicates if d != self.case_id],
            registered_at=at)]

    def dispatch(self, handler_id: str, managers: Sequence[str], *, by: str, at: datetime,
                 calendar: WorkCalendar, grid: dict[str, str] | None = None,
                 ) -> list[DomainEvent]:
        """To `handler_id`, a manager (of `managers`) of the case's grid, or of `grid` when
        the street moves it there. The first dispatch sets the deadline; later ones keep it."""
        allowed = ("registered",) if by == "auto" else ("registered", "dispatched", "handling")
        self._require(*allowed, step="dispatch")
        target = grid or self.where()
        if handler_id not in managers:
            raise NotAManager(handler_id, target["grid_id"])
        deadline = self.deadline or calendar.add_working_hours(
            at, working_hours(self.category, self.urgency))
        return [CaseDispatched(**self.where(grid), handler_id=handler_id, deadline=deadline,
                               by=by, dispatched_at=at)]

    # -- the handler's steps ---------------------------------------------------------------

    def accept(self, at: datetime) -> list[DomainEvent]:
        self._require("dispatched", step="accept")
        return [CaseAccepted(**self.where(), handler_id=self.handler_id, accepted_at=at)]

    def note_progress(self, note: str, at: datetime) -> list[DomainEvent]:
        self._require("handling", step="note progress on")
        return [ProgressNoted(**self.where(), handler_id=self.handler_id, note=note,
                              noted_at=at)]

    def resolve(self, result: str, at: datetime) -> list[DomainEvent]:
        self._require("handling", step="resolve")
        return [CaseResolved(**self.where(), handler_id=self.handler_id, result=result,
                             resolved_at=at)]

    def send_back(self, reason: str, note: str, at: datetime) -> list[DomainEvent]:
        self._require("dispatched", "handling", step="send back")
        return [CaseSentBack(**self.where(), handler_id=self.handler_id, reason=reason,
                             note=note, sent_back_at=at)]

    def refer(self, referral_id: str, domain: str, violation_hint: str,
              at: datetime) -> list[DomainEvent]:
        self._require("dispatched", "handling", step="refer")
        f = self.facts
        return [CaseReferred(**self.where(), referral_id=referral_id, domain=domain,
                             violation_hint=violation_hint, category=self.category,
                             description=f["description"], location=f["location"],
                             address=f["address"], photos=f["photos"], referred_at=at)]

    def conclude_referral(self, referral_id: str, outcome: str, summary: str,
                          at: datetime) -> list[DomainEvent]:
        """Enforcement's answer resolves the case; the same answer again changes nothing."""
        if referral_id in self.concluded_referrals:
            return []
        self._require("referred", step="conclude a referral of")
        if referral_id != self.referral_id:
            raise WrongCaseState(f"case {self.case_id} waits for referral {self.referral_id}, "
                                 f"not {referral_id}")
        return [CaseResolved(**self.where(), handler_id=None,
                             result=f"执法 enforcement: {outcome}. {summary}".strip(),
                             resolved_at=at)]

    # -- the street's steps ----------------------------------------------------------------

    def rule(self, upheld: bool, note: str, at: datetime, *, handler_id: str | None = None,
             managers: Sequence[str] = (), grid: dict[str, str] | None = None,
             ) -> list[DomainEvent]:
        """The street's ruling on a send-back. Upheld: dispatched by the street to
        `handler_id`, a manager (of `managers`) of the case's grid or of `grid`, deadline
        kept. Overruled: back to the handler who sent it back."""
        self._require("sent_back", step="rule on")
        ruled = SendBackRuled(**self.where(), upheld=upheld, note=note, ruled_at=at)
        if not upheld:
            return [ruled]
        if handler_id is None:
            raise DomainError("an upheld send-back names the handler it goes to now",
                              field="handler_id")
        target = grid or self.where()
        if handler_id not in managers:
            raise NotAManager(handler_id, target["grid_id"])
        assert self.deadline is not None  # a sent-back case was dispatched
        return [ruled, CaseDispatched(**self.where(grid), handler_id=handler_id,
                                      deadline=self.deadline, by="street", dispatched_at=at)]

    def postpone(self, deadline: datetime, reason: str, at: datetime) -> list[DomainEvent]:
        self._require_open("postpone")
        if self.deadline is None:
            raise WrongCaseState(f"case {self.case_id} has no deadline yet (not dispatched)")
        if deadline <= max(self.deadline, at):
            raise BadDeadline(f"a postponement must move the deadline later than "
                              f"{max(self.deadline, at).isoformat()}")
        return [CasePostponed(**self.where(), reason=reason, deadline=deadline,
                              previous_deadline=self.deadline, postponed_at=at)]

    def mark_overdue(self, now: datetime) -> list[DomainEvent]:
        """Once per deadline, when it has passed with the case still open."""
        if (self.status in (None, *ENDED) or self.deadline is None or self.deadline >= now
                or self.overdue_for == self.deadline):
            return []
        return [CaseOverdue(**self.where(), handler_id=self.handler_id, deadline=self.deadline,
                            escalated_to=self.street_id, detected_at=now)]

    def merge_into(self, master: Case, at: datetime) -> list[DomainEvent]:
        self._require(*MERGEABLE, step="merge")
        master.require("master_id")
        if master.case_id == self.case_id:
            raise BadMerge("a case cannot be merged into itself")
        if master.category != self.category:
            raise BadMerge(f"master {master.case_id} is a {master.category} case, this one "
                           f"a {self.category} case")
        if master.status in ENDED:
            raise BadMerge(f"master {master.case_id} is {master.status}", status=409)
        return [CaseMerged(**self.where(), master_id=master.case_id, problem_id=self.problem_id,
                           merged_at=at)]

    def attach(self, duplicate: Case, at: datetime) -> list[DomainEvent]:
        """On the master: note the merged duplicate (once)."""
        if duplicate.case_id in self.duplicates:
            return []
        return [DuplicateAttached(**self.where(), duplicate_id=duplicate.case_id,
                                  problem_id=duplicate.problem_id, attached_at=at)]

    # -- verification, closure and after ---------------------------------------------------

    def verify(self, passed: bool, by: str, satisfaction: int | None, comment: str,
               at: datetime) -> list[DomainEvent]:
        self._require("resolved", step="verify")
        rework = self.rework_count + (0 if passed else 1)
        verified = CaseVerified(**self.where(), passed=passed, by=by,
                                satisfaction=satisfaction if passed else None, comment=comment,
                                rework_count=rework, verified_at=at)
        if not passed:
            return [verified]
        assert self.deadline is not None and self.registered_at is not None  # was dispatched
        return [verified, CaseClosed(
            **self.where(), on_time=at <= self.deadline, deadline=self.deadline,
            registered_at=self.registered_at, closed_at=at, satisfaction=satisfaction,
            held_seconds=dict(self.held_seconds), duplicates=list(self.duplicates),
            duplicate_problem_ids=list(self.duplicate_problem_ids),
            problem_id=self.problem_id)]

    def reopen(self, reason: str, at: datetime, calendar: WorkCalendar) -> list[DomainEvent]:
        self._require("closed", step="reopen")
        assert self.handler_id is not None  # a closed case was dispatched
        deadline = calendar.add_working_hours(at, working_hours(self.category, self.urgency))
        return [CaseReopened(**self.where(), reason=reason, handler_id=self.handler_id,
                             deadline=deadline, reopen_count=self.reopen_count + 1,
                             reopened_at=at)]

    def return_visit(self, satisfaction: int, comment: str, at: datetime) -> list[DomainEvent]:
        self._require("closed", step="return-visit")
        if self.return_visited:
            raise AlreadyReturnVisited(f"case {self.case_id} has had its return visit")
        return [ReturnVisited(**self.where(), satisfaction=satisfaction, comment=comment,
                              visited_at=at)]

    # -- rules -----------------------------------------------------------------------------

    def require(self, field_name: str = "case_id") -> Case:
        if self.status is None:
            raise NotFound(f"no case {self.case_id!r}", field=field_name)
        return self

    def _require(self, *statuses: str, step: str) -> None:
        self.require()
        if self.status not in statuses:
            raise WrongCaseState(
                f"cannot {step} case {self.case_id}: it is {self.status} "
                f"({STATUS_ZH.get(self.status or '')}); only when {' or '.join(statuses)}")

    def _require_open(self, step: str) -> None:
        self.require()
        if self.status in ENDED:
            raise WrongCaseState(f"cannot {step} case {self.case_id}: it is {self.status} "
                                 f"({STATUS_ZH.get(self.status or '')})")

    # -- state -----------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        assert isinstance(event, CaseEvent)
        self.street_id, self.community_id = event.street_id, event.community_id
        self.grid_id = event.grid_id
        match event:
            case CaseRegistered():
                self.status, self.category, self.urgency = "registered", event.category, \
                    event.urgency
                self.facts = {"description": event.description, "location": event.location,
                              "address": event.address, "photos": event.photos}
                self.problem_id, self.reporter_user_id = event.problem_id, event.reporter_user_id
                self.registered_at = event.registered_at
            case CaseDispatched():
                self.status, self.deadline = "dispatched", event.deadline
                self._hold(event.handler_id, event.dispatched_at)
            case CaseAccepted():
                self.status = "handling"
            case CaseSentBack():
                self.status = "sent_back"  # still charged to its handler until the ruling
            case SendBackRuled():
                self._release(event.ruled_at)
                if not event.upheld:
                    self.status = "dispatched"
                    self._hold(self.handler_id, event.ruled_at)
            case CaseResolved():
                if self.status == "referred" and self.referral_id:  # enforcement's answer
                    self.concluded_referrals.add(self.referral_id)
                self.status = "resolved"
                self._release(event.resolved_at)
            case CaseReferred():
                self.status, self.referral_id = "referred", event.referral_id
                self._release(event.referred_at)
            case CaseVerified() if not event.passed:
                self.status, self.rework_count = "handling", event.rework_count
                self._hold(self.handler_id, event.verified_at)
            case CaseClosed():
                self.status = "closed"
            case CaseReopened():
                self.status, self.deadline = "dispatched", event.deadline
                self.reopen_count = event.reopen_count
                self._hold(event.handler_id, event.reopened_at)
            case CasePostponed():
                self.deadline = event.deadline
            case CaseOverdue():
                self.overdue_for = event.deadline
            case CaseMerged():
                self.status, self.master_id = "merged", event.master_id
                self._release(event.merged_at)
            case DuplicateAttached():
                self.duplicates.append(event.duplicate_id)
                if event.problem_id:
                    self.duplicate_problem_ids.append(event.problem_id)
            case ReturnVisited():
                self.return_visited = True

    def _hold(self, handler_id: str | None, since: datetime) -> None:
        self._release(since)
        self.handler_id = self.holder = handler_id
        self.held_since = since

    def _release(self, at: datetime) -> None:
        """Charge the time since `held_since` to whoever held the case."""
        if self.holder is not None and self.held_since is not None:
            seconds = max((at - self.held_since).total_seconds(), 0.0)
            self.held_seconds[self.holder] = self.held_seconds.get(self.holder, 0.0) + seconds
        self.holder = self.held_since = None
