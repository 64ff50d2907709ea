"""A violation, from its record to its closure. Pure Python.

recorded --decide--> decided (a warning or a fine) or ordered (rectification ordered, with a
deadline); ordered --report--> reported --verify passed--> closed, --verify failed--> ordered;
decided --close--> closed; recorded --dismiss--> dismissed (no violation). An order whose
deadline passes unreported is marked overdue once per deadline. A violation referred by a grid
case answers the case (`ReferralConcluded`) in the same append that closes or dismisses it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.enforcement.catalogue import ViolationType, violation_type
from services.enforcement.commands import (
    CloseViolation,
    DecideViolation,
    DismissViolation,
    ReportRectification,
    VerifyRectification,
)
from services.enforcement.events import (
    RectificationOverdue,
    RectificationReported,
    RectificationVerified,
    ReferralConcluded,
    ViolationClosed,
    ViolationDecided,
    ViolationDismissed,
    ViolationRecorded,
)
from shared.access import Place
from shared.errors import DomainError, NotFound, WrongOrder
from shared.events import DomainEvent

STATUSES = ("recorded", "decided", "ordered", "reported", "closed", "dismissed")
OPEN = ("recorded", "decided", "ordered", "reported")


@dataclass(frozen=True)
class Where:
    """The grid a violation lies in, its community and its street."""

    street_id: str
    community_id: str
    grid_id: str

    def ids(self) -> dict[str, str]:
        return {"street_id": self.street_id, "community_id": self.community_id,
                "grid_id": self.grid_id}


@dataclass(frozen=True)
class Finding:
    """What an officer (or a grid case's referral) found: the violation's record."""

    type: ViolationType
    location: dict[str, float]
    address: str
    evidence: list[str]
    source: str
    offender: dict[str, Any] | None  # None: not identified yet (a referral)
    officer_id: str | None
    referral_id: str | None = None
    case_id: str | None = None


def offender_key(offender: dict[str, Any] | None) -> str | None:
    """One offender across violations: their ID or licence number (else their name), as a
    digest so the key itself reveals nothing."""
    if offender is None:
        return None
    marker = offender.get("id_number") or offender.get("licence") or offender["name"]
    return hashlib.sha256(f"{offender['kind']}:{marker}".encode()).hexdigest()[:24]


def require_in_street(where: Where | None, street_id: str) -> Where:
    if where is None or where.street_id != street_id:
        raise DomainError(f"the location is not inside any grid of street {street_id} (the "
                          "team's street)", field="location")
    return where


@dataclass
class Violation:
    violation_id: str
    version: int = 0
    status: str | None = None
    where: Where | None = None
    type_code: str = ""
    decision: str | None = None
    deadline: datetime | None = None
    overdue_for: datetime | None = None  # the deadline it was marked overdue for
    reported_on_time: bool | None = None
    referral_id: str | None = None
    case_id: str | None = None

    @property
    def stream_id(self) -> str:
        return f"violation-{self.violation_id}"

    # -- decisions ------------------------------------------------------------------------

    def record(self, finding: Finding, where: Where, now: datetime) -> list[DomainEvent]:
        if self.status is not None:
            raise WrongOrder(f"violation {self.violation_id} is already recorded")
        kind = finding.type
        return [ViolationRecorded(
            violation_id=self.violation_id, **where.ids(), domain=kind.domain,
            type_code=kind.code, type_name_zh=kind.name_zh, type_name_en=kind.name_en,
            location=finding.location, address=finding.address, evidence=finding.evidence,
            source=finding.source, referral_id=finding.referral_id, case_id=finding.case_id,
            offender=finding.offender, offender_key=offender_key(finding.offender),
            officer_id=finding.officer_id, recorded_at=now)]

    def decide(self, command: DecideViolation, now: datetime) -> list[DomainEvent]:
        self._require_status("recorded", "decided on")
        kind = violation_type(self.type_code)
        if command.decision == "fine" and (why := kind.fine_refusal(command.amount or 0)):
            raise DomainError(why, field="amount")
        deadline = None
        if command.orders_rectification:
            deadline = command.deadline or now + timedelta(days=kind.rectification_days)
            if deadline <= now:
                raise DomainError("the deadline to rectify must be in the future",
                                  field="deadline")
        return [ViolationDecided(**self._ids(), decision=command.decision, amount=command.amount,
                                 rectification_deadline=deadline, note=command.note,
                                 decided_at=now)]

    def dismiss(self, command: DismissViolation, now: datetime) -> list[DomainEvent]:
        self._require_status("recorded", "dismissed")
        dismissed = ViolationDismissed(**self._ids(), reason=command.reason, dismissed_at=now)
        return [dismissed, *self._conclude("no_violation", f"不构成违法 no violation: "
                                                           f"{command.reason}", now)]

    def report_rectification(self, command: ReportRectification,
                             now: datetime) -> list[DomainEvent]:
        self._require_status("ordered", "reported rectified")
        assert self.deadline is not None
        return [RectificationReported(**self._ids(), note=command.note,
                                      evidence=command.evidence, deadline=self.deadline,
                                      on_time=now <= self.deadline, reported_at=now)]

    def verify(self, command: VerifyRectification, now: datetime) -> list[DomainEvent]:
        self._require_status("reported", "verified")
        assert self.deadline is not None
        if command.passed:
            verified = RectificationVerified(**self._ids(), passed=True, note=command.note,
                                             deadline=self.deadline, verified_at=now)
            return [verified, *self._close(now, rectified=True)]
        deadline = command.deadline or self.deadline
        if command.deadline is not None and deadline <= now:
            raise DomainError("a new deadline must be in the future", field="deadline")
        return [RectificationVerified(**self._ids(), passed=False, note=command.note,
                                      deadline=deadline, verified_at=now)]

    def close(self, command: CloseViolation, now: datetime) -> list[DomainEvent]:
        self._require_status("decided", "closed (an order to rectify closes once verified)")
        return self._close(now, rectified=False)

    def overdue(self, now: datetime) -> list[DomainEvent]:
        """Marks an order whose deadline has passed, once per deadline; else nothing."""
        if self.status != "ordered" or self.deadline is None or self.deadline >= now \
                or self.overdue_for == self.deadline:
            return []
        return [RectificationOverdue(**self._ids(), deadline=self.deadline, detected_at=now)]

    def _close(self, now: datetime, *, rectified: bool) -> list[DomainEvent]:
        assert self.decision is not None
        closed = ViolationClosed(**self._ids(), decision=self.decision, rectified=rectified,
                                 on_time=self.reported_on_time if rectified else None,
                                 closed_at=now)
        kind = violation_type(self.type_code)
        outcome, done = ("rectified", "已整改 rectified") if rectified else \
            ("penalized", "已处罚 penalized")
        summary = f"{kind.name_zh} {kind.name_en}: {self.decision}, {done}"
        return [closed, *self._conclude(outcome, summary, now)]

    def _conclude(self, outcome: str, summary: str, now: datetime) -> list[DomainEvent]:
        if self.referral_id is None or self.case_id is None:
            return []
        assert self.where is not None
        return [ReferralConcluded(referral_id=self.referral_id, case_id=self.case_id,
                                  **self.where.ids(), outcome=outcome,  # type: ignore[arg-type]
                                  summary=summary[:200], violation_id=self.violation_id,
                                  concluded_at=now)]

    def _require_status(self, wanted: str, step: str) -> None:
        if self.status is None:
            raise NotFound(f"no violation {self.violation_id!r}", field="violation_id")
        if self.status != wanted:
            raise WrongOrder(f"violation {self.violation_id} is {self.status}: it cannot be "
                             f"{step} (only when {wanted})", field="status")

    def _ids(self) -> dict[str, str]:
        assert self.where is not None
        return {"violation_id": self.violation_id, **self.where.ids()}

    def place(self) -> Place:
        where = self.where
        return Place.of(street=where and where.street_id, community=where and where.community_id,
                        grid=where and where.grid_id)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ViolationRecorded():
                self.status, self.type_code = "recorded", event.type_code
                self.where = Where(event.street_id, event.community_id, event.grid_id)
                self.referral_id, self.case_id = event.referral_id, event.case_id
            case ViolationDecided():
                self.decision, self.deadline = event.decision, event.rectification_deadline
                self.status = "ordered" if event.rectification_deadline else "decided"
            case ViolationDismissed():
                self.status = "dismissed"
            case RectificationReported():
                self.status, self.reported_on_time = "reported", event.on_time
            case RectificationVerified() if not event.passed:
                self.status, self.deadline = "ordered", event.deadline
            case RectificationOverdue():
                self.overdue_for = event.deadline
            case ViolationClosed():
                self.status = "closed"
