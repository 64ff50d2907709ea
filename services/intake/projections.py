"""Intake's read models: the catalogue, the applications, consultations and problem reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import orjson

from services.intake.events import (
    ApplicationAccepted,
    ApplicationCompleted,
    ApplicationFiled,
    ApplicationReferred,
    ApplicationRefused,
    ApplicationReturned,
    ConsultationRecorded,
    MaterialsResubmitted,
    MatterAdmitted,
    MatterChanged,
    MatterProposed,
    MatterWithdrawn,
    ProblemReported,
    ProposalRejected,
    registry,
)
from services.intake.territory import SCHEMA
from shared.envelope import Envelope
from shared.projection import Statement, Write
from shared.write_runs import insert


class FrontDeskProjection:
    name = "front_desk"

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["matters", "applications", "consultations", "problems"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.matters (
            matter_code text PRIMARY KEY, status text NOT NULL, terms jsonb,
            level text, category_code text, pending_proposal integer,
            updated_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.applications (
            application_id text PRIMARY KEY, matter_code text NOT NULL,
            matter_name_zh text NOT NULL, matter_name_en text NOT NULL, level text NOT NULL,
            street_id text NOT NULL, community_id text NOT NULL, grid_id text NOT NULL,
            applicant_name text NOT NULL, address text NOT NULL,
            lon double precision NOT NULL, lat double precision NOT NULL,
            status text NOT NULL, handled_at text, missing text[] NOT NULL DEFAULT '{{}}',
            result text, reason text, on_time boolean,
            filed_at timestamptz NOT NULL, deadline date NOT NULL,
            updated_at timestamptz NOT NULL);
        -- Added by issue 9 (a read model built before has them empty until `jiedao rebuild`).
        ALTER TABLE {s}.applications ADD COLUMN IF NOT EXISTS applicant_id_number text,
            ADD COLUMN IF NOT EXISTS applicant_phone text,
            ADD COLUMN IF NOT EXISTS filed_by text;
        CREATE INDEX IF NOT EXISTS applications_filed_by ON {s}.applications (filed_by)
            WHERE filed_by IS NOT NULL;
        CREATE INDEX IF NOT EXISTS applications_station
            ON {s}.applications (community_id, filed_at);
        CREATE INDEX IF NOT EXISTS applications_status ON {s}.applications (status, deadline);
        CREATE TABLE IF NOT EXISTS {s}.consultations (
            consultation_id text PRIMARY KEY, street_id text NOT NULL,
            community_id text NOT NULL, topic text NOT NULL, matter_code text,
            answer text NOT NULL, answered_by text NOT NULL, recorded_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.problems (
            problem_id text PRIMARY KEY, problem_type text NOT NULL, description text NOT NULL,
            street_id text NOT NULL, community_id text NOT NULL, grid_id text NOT NULL,
            lon double precision NOT NULL, lat double precision NOT NULL,
            address text NOT NULL, reported_at timestamptz NOT NULL);
        """

    def statements(self, envelope: Envelope) -> Iterator[Write]:
        if not registry.knows(envelope.type):
            return
        s, event, at = self.schema, registry.from_envelope(envelope), envelope.time
        match event:
            case MatterProposed() | ProposalRejected() | MatterAdmitted() | MatterChanged() \
                    | MatterWithdrawn():
                yield from self._matter(event, at)
            case ApplicationFiled():
                # Set-based: a batch's filings are one INSERT (a problem's too, below).
                yield insert(f"{s}.applications", {
                    "application_id": ("text", event.application_id),
                    "matter_code": ("text", event.matter_code),
                    "matter_name_zh": ("text", event.matter_name_zh),
                    "matter_name_en": ("text", event.matter_name_en),
                    "level": ("text", event.level), "street_id": ("text", event.street_id),
                    "community_id": ("text", event.community_id),
                    "grid_id": ("text", event.grid_id),
                    "applicant_name": ("text", event.applicant["name"]),
                    "address": ("text", event.address),
                    "lon": ("float8", event.location["lon"]),
                    "lat": ("float8", event.location["lat"]), "status": ("text", "filed"),
                    "filed_at": ("timestamptz", event.filed_at),
                    "deadline": ("date", event.deadline),
                    "updated_at": ("timestamptz", event.filed_at),
                    "applicant_id_number": ("text", event.applicant.get("id_number")),
                    "applicant_phone": ("text", event.applicant.get("phone")),
                    "filed_by": ("text", event.filed_by),
                }, key=event.application_id, conflict="(application_id)")
            case ApplicationReturned():
                yield self._status(event.application_id, "returned", at, missing=event.missing)
            case MaterialsResubmitted():
                yield self._status(event.application_id, "resubmitted", at, missing=[])
            case ApplicationAccepted():
                yield self._status(event.application_id, "accepted", at,
                                   handled_at=event.handled_at)
            case ApplicationReferred():
                yield self._status(event.application_id, "referred", at, handled_at="district")
            case ApplicationCompleted():
                yield self._status(event.application_id, "completed", at,
                                   result=event.result, on_time=event.on_time)
            case ApplicationRefused():
                yield self._status(event.application_id, "refused", at, reason=event.reason)
            case ConsultationRecorded():
                yield (f"INSERT INTO {s}.consultations VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                       "ON CONFLICT DO NOTHING",
                       (event.consultation_id, event.street_id, event.community_id, event.topic,
                        event.matter_code, event.answer, event.answered_by, at))
            case ProblemReported():
                yield insert(f"{s}.problems", {
                    "problem_id": ("text", event.problem_id),
                    "problem_type": ("text", event.problem_type),
                    "description": ("text", event.description),
                    "street_id": ("text", event.street_id),
                    "community_id": ("text", event.community_id),
                    "grid_id": ("text", event.grid_id), "lon": ("float8", event.location["lon"]),
                    "lat": ("float8", event.location["lat"]), "address": ("text", event.address),
                    "reported_at": ("timestamptz", at),
                }, key=event.problem_id, conflict="(problem_id)")

    def _matter(self, event, at: datetime) -> Iterator[Statement]:
        s = self.schema
        match event:
            case MatterProposed():
                yield (f"INSERT INTO {s}.matters (matter_code, status, pending_proposal, "
                       "updated_at) VALUES ($1, 'proposed', $2, $3) ON CONFLICT (matter_code) "
                       "DO UPDATE SET pending_proposal = $2, updated_at = $3",
                       (event.matter_code, event.proposal_no, at))
            case ProposalRejected():
                yield (f"UPDATE {s}.matters SET pending_proposal = NULL, updated_at = $2, "
                       "status = CASE WHEN status = 'proposed' THEN 'rejected' ELSE status END "
                       "WHERE matter_code = $1",
                       (event.matter_code, at))
            case MatterAdmitted() | MatterChanged():
                terms = event.terms
                yield (f"UPDATE {s}.matters SET status = 'admitted', terms = $2::jsonb, "
                       "level = $3, category_code = $4, pending_proposal = NULL, "
                       "updated_at = $5 WHERE matter_code = $1",
                       (event.matter_code, orjson.dumps(terms).decode(), terms["level"],
                        terms["category"]["code"], at))
            case MatterWithdrawn():
                yield (f"UPDATE {s}.matters SET status = 'withdrawn', pending_proposal = NULL, "
                       "updated_at = $2 WHERE matter_code = $1",
                       (event.matter_code, at))

    def _status(self, application_id: str, status: str, at: datetime, *,
                missing: list[str] | None = None, handled_at: str | None = None,
                result: str | None = None, on_time: bool | None = None,
                reason: str | None = None) -> Statement:
        """One SQL for every change of status, so a batch's changes run as one executemany;
        a column given None keeps its value."""
        return (f"UPDATE {self.schema}.applications SET status = $2, updated_at = $3, "
                "missing = coalesce($4::text[], missing), "
                "handled_at = coalesce($5::text, handled_at), "
                "result = coalesce($6::text, result), on_time = coalesce($7::boolean, on_time), "
                "reason = coalesce($8::text, reason) WHERE application_id = $1",
                (application_id, status, at, missing, handled_at, result, on_time, reason))
