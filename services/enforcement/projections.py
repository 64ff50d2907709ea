"""Enforcement's read model (schema `enforcement_view`): the teams' officers and activities,
violations as they stand and every step each one took. The read API's figures (open
violations, hot spots, rectification rates, repeat offenders, caseloads) are queries on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from services.enforcement.events import (
    ActivityLogged,
    OfficerEnrolled,
    RectificationOverdue,
    RectificationReported,
    RectificationVerified,
    ReferralConcluded,
    ViolationClosed,
    ViolationDecided,
    ViolationDismissed,
    ViolationRecorded,
    registry,
)
from services.enforcement.handlers import SCHEMA
from shared.envelope import Envelope
from shared.events import DomainEvent
from shared.projection import Statement


class EnforcementProjection:
    name = "enforcement"

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["officers", "activities", "violations", "violation_steps"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.officers (
            street_id text NOT NULL, officer_id text NOT NULL, name text NOT NULL,
            force text NOT NULL, enrolled_at timestamptz NOT NULL,
            PRIMARY KEY (street_id, officer_id));
        CREATE TABLE IF NOT EXISTS {s}.activities (
            activity_id text PRIMARY KEY, street_id text NOT NULL, kind text NOT NULL,
            summary text NOT NULL, at timestamptz NOT NULL, officers text[] NOT NULL,
            logged_by text NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.violations (
            violation_id text PRIMARY KEY, street_id text NOT NULL, community_id text NOT NULL,
            grid_id text NOT NULL, domain text NOT NULL, type_code text NOT NULL,
            type_name_zh text NOT NULL, type_name_en text NOT NULL,
            lon double precision NOT NULL, lat double precision NOT NULL, address text NOT NULL,
            evidence jsonb NOT NULL, source text NOT NULL, referral_id text, case_id text,
            offender_kind text, offender_name text, offender_id_number text,
            offender_licence text, offender_phone text, offender_key text, officer_id text,
            status text NOT NULL, decision text, amount double precision, deadline timestamptz,
            rectification_ordered boolean NOT NULL DEFAULT false,
            overdue boolean NOT NULL DEFAULT false, rectified boolean, on_time boolean,
            outcome text, recorded_at timestamptz NOT NULL, decided_at timestamptz,
            closed_at timestamptz, updated_at timestamptz NOT NULL);
        CREATE INDEX IF NOT EXISTS violations_street
            ON {s}.violations (street_id, domain, status);
        CREATE INDEX IF NOT EXISTS violations_ordered ON {s}.violations (deadline)
            WHERE status = 'ordered';
        CREATE INDEX IF NOT EXISTS violations_offender ON {s}.violations (offender_key)
            WHERE offender_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS {s}.violation_steps (
            violation_id text NOT NULL, version integer NOT NULL, type text NOT NULL,
            at timestamptz NOT NULL, actor text NOT NULL, role text NOT NULL,
            data jsonb NOT NULL, PRIMARY KEY (violation_id, version));
        """

    def statements(self, envelope: Envelope) -> Iterator[Statement]:
        if not registry.knows(envelope.type):
            return
        s, event = self.schema, registry.from_envelope(envelope)
        match event:
            case OfficerEnrolled():
                yield (f"INSERT INTO {s}.officers VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT DO NOTHING",
                       (event.street_id, event.officer_id, event.name, event.force,
                        event.enrolled_at))
            case ActivityLogged():
                yield (f"INSERT INTO {s}.activities VALUES ($1, $2, $3, $4, $5, $6, $7) "
                       "ON CONFLICT DO NOTHING",
                       (event.activity_id, event.street_id, event.kind, event.summary,
                        event.at, event.officers, event.logged_by))
            case ViolationRecorded():
                yield self._recorded(event)
            case _:
                if (change := self._change(event)) is not None:
                    yield self._update(envelope.data["violation_id"], envelope.time, **change)
        if "violation_id" in envelope.data:
            yield (f"INSERT INTO {s}.violation_steps VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) "
                   "ON CONFLICT DO NOTHING",
                   (envelope.data["violation_id"], envelope.stream_version, envelope.type,
                    envelope.time, envelope.actor.user_id, envelope.actor.role,
                    orjson.dumps(_without_personal_data(envelope.data)).decode()))

    def _recorded(self, event: ViolationRecorded) -> Statement:
        offender = event.offender or {}
        return (f"INSERT INTO {self.schema}.violations (violation_id, street_id, community_id, "
                "grid_id, domain, type_code, type_name_zh, type_name_en, lon, lat, address, "
                "evidence, source, referral_id, case_id, offender_kind, offender_name, "
                "offender_id_number, offender_licence, offender_phone, offender_key, "
                "officer_id, status, recorded_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
                "$7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16, $17, $18, $19, $20, $21, "
                "$22, 'recorded', $23, $23) ON CONFLICT (violation_id) DO NOTHING",
                (event.violation_id, event.street_id, event.community_id, event.grid_id,
                 event.domain, event.type_code, event.type_name_zh, event.type_name_en,
                 event.location["lon"], event.location["lat"], event.address,
                 orjson.dumps(event.evidence).decode(), event.source, event.referral_id,
                 event.case_id, offender.get("kind"), offender.get("name"),
                 offender.get("id_number"), offender.get("licence"), offender.get("phone"),
                 event.offender_key, event.officer_id, event.recorded_at))

    @staticmethod
    def _change(event: DomainEvent) -> dict[str, Any] | None:
        """The columns an event of a violation's lifecycle sets (None: it sets none)."""
        match event:
            case ViolationDecided():
                ordered = event.rectification_deadline is not None
                return {"status": "ordered" if ordered else "decided",
                        "decision": event.decision, "amount": event.amount,
                        "deadline": event.rectification_deadline,
                        "rectification_ordered": ordered, "decided_at": event.decided_at}
            case ViolationDismissed():
                return {"status": "dismissed", "closed_at": event.dismissed_at}
            case RectificationReported():
                return {"status": "reported", "on_time": event.on_time}
            case RectificationVerified() if not event.passed:
                return {"status": "ordered", "deadline": event.deadline}
            case RectificationOverdue():
                return {"overdue": True}
            case ViolationClosed():
                return {"status": "closed", "rectified": event.rectified,
                        "closed_at": event.closed_at}
            case ReferralConcluded():
                return {"outcome": event.outcome}
        return None

    def _update(self, violation_id: str, at: datetime, *, status: str | None = None,
                decision: str | None = None, amount: float | None = None,
                deadline: datetime | None = None, rectification_ordered: bool | None = None,
                decided_at: datetime | None = None, closed_at: datetime | None = None,
                on_time: bool | None = None, overdue: bool | None = None,
                rectified: bool | None = None, outcome: str | None = None) -> Statement:
        """One SQL for every change, so a batch's changes run as one executemany; a column
        given None keeps its value."""
        return (f"UPDATE {self.schema}.violations SET updated_at = $2, "
                "status = coalesce($3::text, status), decision = coalesce($4::text, decision), "
                "amount = coalesce($5::double precision, amount), "
                "deadline = coalesce($6::timestamptz, deadline), "
                "rectification_ordered = coalesce($7::boolean, rectification_ordered), "
                "decided_at = coalesce($8::timestamptz, decided_at), "
                "closed_at = coalesce($9::timestamptz, closed_at), "
                "on_time = coalesce($10::boolean, on_time), "
                "overdue = coalesce($11::boolean, overdue), "
                "rectified = coalesce($12::boolean, rectified), "
                "outcome = coalesce($13::text, outcome) WHERE violation_id = $1",
                (violation_id, at, status, decision, amount, deadline, rectification_ordered,
                 decided_at, closed_at, on_time, overdue, rectified, outcome))


def _without_personal_data(data: dict[str, Any]) -> dict[str, Any]:
    """A step's data as the history shows it: the offender is in the violation's row."""
    return {k: v for k, v in data.items() if k not in ("offender", "offender_key")}
