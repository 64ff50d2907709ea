"""Referrals from the grid's back desk: a `grid.case.referred` event becomes a recorded
violation of the street's team (the contract: services/grid/case_events.py).

Idempotent by construction: the violation's id is derived from the referral's id, so a
redelivered referral finds its violation already recorded and opens nothing new. The
violation's place is the case's (street, community, grid), so the answer the team publishes
when it concludes (`enforcement.referral.concluded`) names the case where it is."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid5

from services.enforcement.catalogue import classify
from services.enforcement.violation import Finding, Violation, Where
from shared.envelope import SYSTEM, Envelope
from shared.errors import ConcurrencyConflict
from shared.repository import Repository
from shared.store import AppendResult

REFERRED = "grid.case.referred"
NAMESPACE = UUID("0b7d4a52-3c1e-5f08-9a6d-e4c2b1f39a75")


def referral_violation_id(referral_id: str) -> str:
    """The id of the violation a referral opens: the same for every delivery of it."""
    return uuid5(NAMESPACE, f"referral:{referral_id}").hex


async def take_referral(repo: Repository, envelope: Envelope, *,
                        now: datetime | None = None) -> AppendResult | None:
    """Record the violation `envelope` (a `grid.case.referred`) refers; None if it was
    recorded already (a redelivery) or the envelope is another event."""
    if envelope.type != REFERRED:
        return None
    d = envelope.data
    violation = await repo.load(Violation(referral_violation_id(d["referral_id"])))
    if violation.version:
        return None
    finding = Finding(type=classify(d["domain"], d["violation_hint"]),
                      location=d["location"], address=d["address"], evidence=d["photos"],
                      source="referral", offender=None, officer_id=None,
                      referral_id=d["referral_id"], case_id=d["case_id"])
    where = Where(d["street_id"], d["community_id"], d["grid_id"])
    events = violation.record(finding, where, now or datetime.now(UTC))
    try:
        return await repo.save(violation, events, actor=SYSTEM,
                               correlation_id=envelope.correlation_id)
    except ConcurrencyConflict:
        return None  # a twin delivery recorded it a moment ago
