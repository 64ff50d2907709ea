"""The assessment read model fed from its own topic (schema `assessment_view`): schemes,
targets, projects and enterprise visits. The scorer and the dashboard read these tables by
name (the contract in /work/assessment.md): keep their names and columns."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from services.assessment.events import (
    EnterpriseVisited,
    ProjectCompleted,
    ProjectSigned,
    ProjectStarted,
    SchemeApproved,
    SchemeDrafted,
    TargetSet,
    registry,
)
from services.assessment.schema import SCHEMA
from shared.envelope import Envelope
from shared.projection import Statement


class AssessmentProjection:
    name = "assessment"
    streams = ("scheme-", "targets-", "project-", "visit-")

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["schemes", "targets", "projects", "visits"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.schemes (
            scheme_id text PRIMARY KEY, kind text NOT NULL, version integer NOT NULL,
            name_zh text NOT NULL, name_en text NOT NULL, indicators jsonb NOT NULL,
            status text NOT NULL, drafted_at timestamptz NOT NULL, approved_at timestamptz);
        CREATE INDEX IF NOT EXISTS schemes_kind ON {s}.schemes (kind, status, version);
        CREATE TABLE IF NOT EXISTS {s}.targets (
            unit_id text NOT NULL, indicator text NOT NULL, period text NOT NULL,
            target double precision NOT NULL, set_at timestamptz NOT NULL,
            PRIMARY KEY (unit_id, indicator, period));
        CREATE INDEX IF NOT EXISTS targets_period ON {s}.targets (period);
        CREATE TABLE IF NOT EXISTS {s}.projects (
            project_id text PRIMARY KEY, street_id text NOT NULL, name text NOT NULL,
            investor text NOT NULL, amount_wan double precision NOT NULL,
            signed_on date NOT NULL, started_on date, completed_on date,
            fixed_asset_investment_wan double precision, status text NOT NULL);
        CREATE INDEX IF NOT EXISTS projects_street ON {s}.projects (street_id, status);
        CREATE TABLE IF NOT EXISTS {s}.visits (
            visit_id text PRIMARY KEY, street_id text NOT NULL, enterprise text NOT NULL,
            purpose text NOT NULL, visited_on date NOT NULL);
        CREATE INDEX IF NOT EXISTS visits_street ON {s}.visits (street_id, visited_on);
        """

    def statements(self, envelope: Envelope) -> Iterator[Statement]:
        if not registry.knows(envelope.type):
            return
        s, event = self.schema, registry.from_envelope(envelope)
        match event:
            case SchemeDrafted():
                indicators = orjson.dumps([i.model_dump() for i in event.indicators]).decode()
                yield (f"INSERT INTO {s}.schemes VALUES ($1, $2, $3, $4, $5, $6::jsonb, "
                       "'draft', $7, NULL) ON CONFLICT (scheme_id) DO NOTHING",
                       (event.scheme_id, event.kind, event.version, event.name_zh,
                        event.name_en, indicators, event.drafted_at))
            case SchemeApproved():
                yield (f"UPDATE {s}.schemes SET status = 'approved', approved_at = $2 "
                       "WHERE scheme_id = $1", (event.scheme_id, event.approved_at))
            case TargetSet():
                yield (f"INSERT INTO {s}.targets VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (unit_id, indicator, period) DO UPDATE "
                       "SET target = excluded.target, set_at = excluded.set_at",
                       (event.unit_id, event.indicator, event.period, event.target,
                        event.set_at))
            case ProjectSigned():
                yield (f"INSERT INTO {s}.projects (project_id, street_id, name, investor, "
                       "amount_wan, signed_on, status) VALUES ($1, $2, $3, $4, $5, $6, "
                       "'signed') ON CONFLICT (project_id) DO NOTHING",
                       (event.project_id, event.street_id, event.name, event.investor,
                        event.amount_wan, event.signed_on))
            case ProjectStarted():
                yield (f"UPDATE {s}.projects SET status = 'started', started_on = $2 "
                       "WHERE project_id = $1", (event.project_id, event.started_on))
            case ProjectCompleted():
                yield (f"UPDATE {s}.projects SET status = 'completed', completed_on = $2, "
                       "fixed_asset_investment_wan = $3 WHERE project_id = $1",
                       (event.project_id, event.completed_on, event.fixed_asset_investment_wan))
            case EnterpriseVisited():
                yield (f"INSERT INTO {s}.visits VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (visit_id) DO NOTHING",
                       (event.visit_id, event.street_id, event.enterprise, event.purpose,
                        event.visited_on))
