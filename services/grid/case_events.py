"""Events of the grid back desk: a case's loop, after GB/T 30428 (collect, register, dispatch,
handle, report back, verify, close, evaluate). The contract other services read:

- intake consumes them so a reported problem's Open311 request shows the case's real state;
- enforcement consumes `grid.case.referred` and answers with `enforcement.referral.concluded`
  (its own event, on its own topic), which resolves the case (README: the referral contract);
- assessment computes the street's indicators from them.

Every event of a case carries where the case is (`street_id`, `community_id`, `grid_id`) and
its `case_id`; times are aware datetimes (UTC in the log). A case's stream is `case-<case_id>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from services.grid.events import registry
from shared.events import DomainEvent

Source = Literal["report", "patrol", "complaint"]
Urgency = Literal["normal", "urgent"]
SendBackReason = Literal["wrong_grid", "not_our_matter"]
Verifier = Literal["grid", "resident"]


class CaseEvent(DomainEvent):
    case_id: str
    street_id: str
    community_id: str
    grid_id: str


@registry.register
class CaseRegistered(CaseEvent):
    """案卷建立: a case opened from a resident's report (intake), a patrol or a complaint."""

    TYPE = "grid.case.registered"
    source: Source
    category: str  # a problem type code (services/intake/problem_types.py's, GB/T 30428 classes)
    urgency: Urgency
    description: str
    location: dict[str, float]  # {"lon": ..., "lat": ...}
    address: str
    photos: list[str]  # references to stored photos (URLs or object keys), never the bytes
    problem_id: str | None  # the intake problem report it came from (source "report")
    reporter_user_id: str | None  # the signed-in resident who reported it, if any
    duplicate_candidates: list[str]  # open cases of the same category nearby, suggested
    registered_at: datetime


@registry.register
class CaseDispatched(CaseEvent):
    """任务派遣: to a handler (a grid manager of the case's grid), with the case's deadline.
    `by` "auto" at registration (the least loaded manager), "street" on manual (re-)dispatch.
    The deadline is set at the first dispatch and moves only by postponement: a re-dispatch
    keeps it, so bouncing a case never buys time."""

    TYPE = "grid.case.dispatched"
    handler_id: str
    deadline: datetime
    by: Literal["auto", "street"]
    dispatched_at: datetime


@registry.register
class CaseAccepted(CaseEvent):
    """The handler takes the case on (处置中 handling)."""

    TYPE = "grid.case.accepted"
    handler_id: str
    accepted_at: datetime


@registry.register
class ProgressNoted(CaseEvent):
    TYPE = "grid.case.progress_noted"
    handler_id: str
    note: str
    noted_at: datetime


@registry.register
class CaseResolved(CaseEvent):
    """处理反馈 report back: the handler (or enforcement's outcome) says what was done."""

    TYPE = "grid.case.resolved"
    handler_id: str | None  # None when enforcement's outcome resolved it
    result: str
    resolved_at: datetime


@registry.register
class CaseVerified(CaseEvent):
    """核实: the grid or the resident checks the result. Passed: the case closes (a
    `CaseClosed` follows in the same append). Failed: back to its handler for rework."""

    TYPE = "grid.case.verified"
    passed: bool
    by: Verifier
    satisfaction: int | None  # 1-5 when passed
    comment: str
    rework_count: int  # the case's reworks so far, this one included when it failed
    verified_at: datetime


@registry.register
class CaseClosed(CaseEvent):
    """结案. `on_time`: closed by its deadline (postponements included). `held_seconds`: the
    time each handler held it (time is charged to whoever held it). `duplicates`: the cases
    merged into this one, whose reporters are told of this closure too."""

    TYPE = "grid.case.closed"
    on_time: bool
    deadline: datetime
    registered_at: datetime
    closed_at: datetime
    satisfaction: int | None
    held_seconds: dict[str, float]
    duplicates: list[str]
    duplicate_problem_ids: list[str]
    problem_id: str | None


@registry.register
class CaseReopened(CaseEvent):
    """A resident said "not fixed" after closure: back to its last handler, counted; a new
    deadline is set (the first one was met or missed already)."""

    TYPE = "grid.case.reopened"
    reason: str
    handler_id: str
    deadline: datetime
    reopen_count: int
    reopened_at: datetime


@registry.register
class CaseSentBack(CaseEvent):
    """退单: the handler returns a misrouted case; the street must rule on it. The time until
    the ruling is charged to the handler who sent it back."""

    TYPE = "grid.case.sent_back"
    handler_id: str
    reason: SendBackReason
    note: str
    sent_back_at: datetime


@registry.register
class SendBackRuled(CaseEvent):
    """The street's ruling on a send-back: upheld (the send-back was right: a
    `CaseDispatched` by "street" follows, to another grid or handler) or overruled (back to
    the same handler, counted against them)."""

    TYPE = "grid.case.send_back_ruled"
    upheld: bool
    note: str
    ruled_at: datetime


@registry.register
class CasePostponed(CaseEvent):
    """延期: the street moves the deadline, with a reason; postponed cases leave the
    indicators' denominators."""

    TYPE = "grid.case.postponed"
    reason: str
    deadline: datetime
    previous_deadline: datetime
    postponed_at: datetime


@registry.register
class CaseOverdue(CaseEvent):
    """Its deadline passed unclosed: emitted once per deadline; the case escalates to its
    street (`escalated_to`)."""

    TYPE = "grid.case.overdue"
    handler_id: str | None
    deadline: datetime
    escalated_to: str  # the street id
    detected_at: datetime


@registry.register
class CaseMerged(CaseEvent):
    """This case is a duplicate of `master_id` and leaves the loop; its reporter is told when
    the master closes."""

    TYPE = "grid.case.merged"
    master_id: str
    problem_id: str | None
    merged_at: datetime


@registry.register
class DuplicateAttached(CaseEvent):
    """On the master: a duplicate was merged into it."""

    TYPE = "grid.case.duplicate_attached"
    duplicate_id: str
    problem_id: str | None
    attached_at: datetime


@registry.register
class CaseReferred(CaseEvent):
    """Referral to the street's comprehensive law-enforcement team (the contract enforcement
    consumes): the violation it looks like, where, and the evidence. The case waits for
    `enforcement.referral.concluded` with the same `referral_id`."""

    TYPE = "grid.case.referred"
    referral_id: str
    domain: Literal["city_management", "public_security", "traffic_order"]
    violation_hint: str  # what the grid saw, e.g. "street vending"; enforcement classifies
    category: str
    description: str
    location: dict[str, float]
    address: str
    photos: list[str]
    referred_at: datetime


@registry.register
class ReturnVisited(CaseEvent):
    """回访: after closure the resident was asked; satisfaction 1-5 and a comment."""

    TYPE = "grid.case.return_visited"
    satisfaction: int
    comment: str
    visited_at: datetime


# The answer enforcement publishes on its own topic (`jiedao.enforcement`); the grid consumes
# it and resolves the case. Declared here, where the contract is defined, so both sides test
# against one definition (enforcement registers it in its own registry when it is built).
REFERRAL_CONCLUDED = "enforcement.referral.concluded"


class ReferralConcluded(DomainEvent):
    """`enforcement.referral.concluded`: what the team did about a referral."""

    TYPE = REFERRAL_CONCLUDED
    referral_id: str
    case_id: str
    street_id: str
    community_id: str
    grid_id: str
    outcome: Literal["rectified", "penalized", "no_violation", "not_enforceable"]
    summary: str
    violation_id: str | None
    concluded_at: datetime
