"""Events of the enforcement service (综合执法): each street's team, its officers and
activities (stream `team-<street_id>`), and violations from record to closure (stream
`violation-<violation_id>`). Every event carries where it happened (`street_id`, and for a
violation its `community_id` and `grid_id`); times are aware datetimes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shared.events import DomainEvent, EventRegistry

registry = EventRegistry()

Force = Literal["city_management", "public_security", "traffic_order"]
ActivityKind = Literal["patrol", "traffic_assistance", "joint_operation"]
Source = Literal["patrol", "complaint", "referral"]
Decision = Literal["warning", "fine", "rectification_order"]


# -- the team (stream: team-<street_id>) ---------------------------------------------------


@registry.register
class OfficerEnrolled(DomainEvent):
    """An officer joins the street's team, from one of the three merged forces."""

    TYPE = "enforcement.officer.enrolled"
    street_id: str
    officer_id: str
    name: str
    force: Force
    enrolled_at: datetime


@registry.register
class ActivityLogged(DomainEvent):
    """巡逻、交通协勤、联合执法: a patrol, traffic-order assistance or a joint operation."""

    TYPE = "enforcement.activity.logged"
    street_id: str
    activity_id: str
    kind: ActivityKind
    summary: str
    at: datetime
    officers: list[str]
    logged_by: str


# -- violations (stream: violation-<violation_id>) ------------------------------------------


class ViolationEvent(DomainEvent):
    violation_id: str
    street_id: str
    community_id: str
    grid_id: str


@registry.register
class ViolationRecorded(ViolationEvent):
    """立案: a violation found on patrol, from a complaint or referred by a grid case.
    `offender_key` identifies the offender across violations (a digest, never the id itself)."""

    TYPE = "enforcement.violation.recorded"
    domain: Force
    type_code: str
    type_name_zh: str
    type_name_en: str
    location: dict[str, float]
    address: str
    evidence: list[str]  # references to stored photos or documents, never the bytes
    source: Source
    referral_id: str | None
    case_id: str | None
    offender: dict[str, Any] | None  # kind, name, id_number?, licence?, phone?; None: not
    offender_key: str | None  # identified yet (a referral)
    officer_id: str | None  # who holds it (the recording officer; None: a referral's)
    recorded_at: datetime


@registry.register
class ViolationDecided(ViolationEvent):
    """处理决定: a warning, a fine within the type's legal range, or an order to rectify
    (a fine may order rectification too: `rectification_deadline` set)."""

    TYPE = "enforcement.violation.decided"
    decision: Decision
    amount: float | None
    rectification_deadline: datetime | None
    note: str
    decided_at: datetime


@registry.register
class ViolationDismissed(ViolationEvent):
    """No violation after all (不予处罚/不构成违法): the violation ends here."""

    TYPE = "enforcement.violation.dismissed"
    reason: str
    dismissed_at: datetime


@registry.register
class RectificationReported(ViolationEvent):
    """整改完成报告: the offender says it is put right. `on_time`: by the deadline."""

    TYPE = "enforcement.rectification.reported"
    note: str
    evidence: list[str]
    deadline: datetime
    on_time: bool
    reported_at: datetime


@registry.register
class RectificationVerified(ViolationEvent):
    """复查: passed (a `ViolationClosed` follows in the same append) or failed (back to the
    order; `deadline` is the order's deadline from now on, kept or extended)."""

    TYPE = "enforcement.rectification.verified"
    passed: bool
    note: str
    deadline: datetime
    verified_at: datetime


@registry.register
class RectificationOverdue(ViolationEvent):
    """The order's deadline passed unrectified: emitted once per deadline."""

    TYPE = "enforcement.rectification.overdue"
    deadline: datetime
    detected_at: datetime


@registry.register
class ViolationClosed(ViolationEvent):
    """结案. `rectified`: an order to rectify was verified; `on_time`: reported by its
    deadline (None when no rectification was ordered)."""

    TYPE = "enforcement.violation.closed"
    decision: Decision
    rectified: bool
    on_time: bool | None
    closed_at: datetime


# -- the answer to a grid case's referral (the contract: services/grid/case_events.py) --------


@registry.register
class ReferralConcluded(DomainEvent):
    """`enforcement.referral.concluded`: what the team did about a referral."""

    TYPE = "enforcement.referral.concluded"
    referral_id: str
    case_id: str
    street_id: str
    community_id: str
    grid_id: str
    outcome: Literal["rectified", "penalized", "no_violation", "not_enforceable"]
    summary: str
    violation_id: str | None
    concluded_at: datetime
