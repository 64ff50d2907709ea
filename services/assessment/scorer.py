"""The scorer's facts (schema `assessment_view`): what the indicators count, learnt from the
intake, grid, enforcement and assessment topics by `ScoreFacts` (one instance per topic, so each
keeps its own checkpoints).

- `subjects`: one row per thing counted (a case, a violation, a completed application, a
  consultation, a return visit, a project step, an enterprise visit), with the street and the
  day it counts in (services/assessment/indicators.py) and the flags its later events set;
- `evidence`: each event behind a subject (the explanation lists them), keyed by event id;
- `target_met`: the `assessment.target.met` events, one per (unit, indicator, period);
- `closed_periods`: each `assessment.period.closed`, its frozen scores.

Every write is keyed (an insert of the same key does nothing, an update sets the same flags),
so an event applied twice changes nothing, on top of the checkpoints that skip it.
Values per (unit, indicator, period) are aggregates over `subjects` (services/assessment/
score_view.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import orjson

from services.assessment.periods import day_of
from services.assessment.schema import SCHEMA
from shared.envelope import Envelope
from shared.projection import Rows, Statement, Write

# Stream prefixes kept, by the topic they come from.
STREAMS: dict[str, tuple[str, ...]] = {
    "intake": ("application-", "consultation-"),
    "grid": ("case-",),
    "enforcement": ("violation-",),
    "assessment": ("project-", "visit-", "target-met-", "period-"),
}


class ScoreFacts:
    """Projection of the events the indicators count, from one service's topic."""

    def __init__(self, source: str, schema: str = SCHEMA) -> None:
        self.source = source
        self.schema = schema
        self.name = f"score_facts_{source}"
        self.streams = STREAMS[source]
        # Each event writes its own subject (keyed by its stream or its own id) and evidence.
        self.independent_streams = True

    def tables(self) -> list[str]:
        # A rebuild replays the assessment store only: the other topics' facts stay (its own
        # subject rows are keyed upserts, rewritten alike by the replay).
        return ["target_met", "closed_periods"] if self.source == "assessment" else []

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.subjects (
            subject_id text PRIMARY KEY, kind text NOT NULL, street_id text NOT NULL,
            day date NOT NULL, source text NOT NULL,
            closed boolean NOT NULL DEFAULT false, on_time boolean NOT NULL DEFAULT false,
            postponed boolean NOT NULL DEFAULT false, reworked boolean NOT NULL DEFAULT false,
            merged boolean NOT NULL DEFAULT false, satisfaction integer,
            amount double precision);
        CREATE INDEX IF NOT EXISTS subjects_counted ON {s}.subjects (kind, day, street_id);
        CREATE TABLE IF NOT EXISTS {s}.evidence (
            event_id uuid PRIMARY KEY, subject_id text NOT NULL, type text NOT NULL,
            source text NOT NULL, stream_id text NOT NULL, version integer NOT NULL,
            time timestamptz NOT NULL);
        CREATE INDEX IF NOT EXISTS evidence_subject ON {s}.evidence (subject_id, time);
        CREATE TABLE IF NOT EXISTS {s}.target_met (
            unit_id text NOT NULL, indicator text NOT NULL, period text NOT NULL,
            street_id text NOT NULL, kind text NOT NULL, value double precision NOT NULL,
            target double precision NOT NULL, met_at timestamptz NOT NULL,
            event_id uuid NOT NULL, PRIMARY KEY (unit_id, indicator, period));
        CREATE TABLE IF NOT EXISTS {s}.closed_periods (
            period text PRIMARY KEY, closed_by text NOT NULL, closed_at timestamptz NOT NULL,
            scores jsonb NOT NULL, event_id uuid NOT NULL);
        """

    def statements(self, event: Envelope) -> Iterator[Write]:
        fact = facts(event)
        if fact is None:
            yield from self._results(event)
            return
        subject_id, kind, street_id, day, flags = fact
        # Set-based (shared/projection.py `Rows`): a batch's evidence is one INSERT, its new
        # subjects another, their changes a third, however many events it holds.
        s = self.schema
        yield Rows(f"INSERT INTO {s}.evidence SELECT * FROM unnest($1::uuid[], $2::text[], "
                   "$3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[]) "
                   "ON CONFLICT (event_id) DO NOTHING",
                   (event.id, subject_id, event.type, event.source, event.stream_id,
                    event.stream_version, event.time), str(event.id))
        if day is not None:  # the event that makes the subject
            yield Rows(f"INSERT INTO {s}.subjects (subject_id, kind, street_id, day, source, "
                       "on_time, satisfaction, amount) SELECT * FROM unnest($1::text[], "
                       "$2::text[], $3::text[], $4::date[], $5::text[], $6::boolean[], "
                       "$7::int[], $8::float8[]) ON CONFLICT (subject_id) DO NOTHING",
                       (subject_id, kind, street_id, day, event.source,
                        flags.get("on_time", False), flags.get("satisfaction"),
                        flags.get("amount")), subject_id)
        else:
            yield Rows(f"UPDATE {s}.subjects AS t SET closed = coalesce(v.closed, t.closed), "
                       "on_time = coalesce(v.on_time, t.on_time), "
                       "postponed = coalesce(v.postponed, t.postponed), "
                       "reworked = coalesce(v.reworked, t.reworked), "
                       "merged = coalesce(v.merged, t.merged) "
                       "FROM unnest($1::text[], $2::boolean[], $3::boolean[], $4::boolean[], "
                       "$5::boolean[], $6::boolean[]) "
                       "AS v(subject_id, closed, on_time, postponed, reworked, merged) "
                       "WHERE t.subject_id = v.subject_id",
                       (subject_id, flags.get("closed"), flags.get("on_time"),
                        flags.get("postponed"), flags.get("reworked"), flags.get("merged")),
                       subject_id)

    def _results(self, event: Envelope) -> Iterator[Statement]:
        s, d = self.schema, event.data
        if event.type == "assessment.target.met":
            yield (f"INSERT INTO {s}.target_met VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                   "ON CONFLICT (unit_id, indicator, period) DO NOTHING",
                   (d["unit_id"], d["indicator"], d["period"], d["street_id"], d["kind"],
                    d["value"], d["target"], _moment(d["met_at"]), event.id))
        elif event.type == "assessment.period.closed":
            yield (f"INSERT INTO {s}.closed_periods VALUES ($1, $2, $3, $4::jsonb, $5) "
                   "ON CONFLICT (period) DO NOTHING",
                   (d["period"], d["closed_by"], _moment(d["closed_at"]),
                    orjson.dumps(d["scores"]).decode(), event.id))


Fact = tuple[str, str, str, date | None, dict[str, Any]]


def facts(event: Envelope) -> Fact | None:
    """(subject id, kind, street, the day it counts in — None when the event only changes an
    existing subject —, its flags) of an event an indicator counts; None for any other."""
    d, t = event.data, event.type
    match t:
        case "grid.case.registered":
            return f"case:{d['case_id']}", "case", d["street_id"], _day(d["registered_at"]), {}
        case "grid.case.postponed":
            return f"case:{d['case_id']}", "case", d["street_id"], None, {"postponed": True}
        case "grid.case.verified" if not d["passed"]:
            return f"case:{d['case_id']}", "case", d["street_id"], None, {"reworked": True}
        case "grid.case.closed":
            return (f"case:{d['case_id']}", "case", d["street_id"], None,
                    {"closed": True, "on_time": d["on_time"]})
        case "grid.case.reopened":
            return f"case:{d['case_id']}", "case", d["street_id"], None, {"closed": False}
        case "grid.case.merged":
            return f"case:{d['case_id']}", "case", d["street_id"], None, {"merged": True}
        case "grid.case.return_visited":
            return (f"return_visit:{event.id}", "return_visit", d["street_id"],
                    _day(d["visited_at"]), {"satisfaction": d["satisfaction"]})
        case "enforcement.violation.recorded":
            return (f"violation:{d['violation_id']}", "violation", d["street_id"],
                    _day(d["recorded_at"]), {})
        case "enforcement.violation.closed":
            # Closed rectified = it had an order to rectify (an order closes once verified).
            return (f"violation:{d['violation_id']}", "violation", d["street_id"], None,
                    {"closed": d["rectified"], "on_time": bool(d["on_time"])})
        case "intake.application.completed":
            return (f"application:{d['application_id']}", "application", d["street_id"],
                    day_of(event.time), {"on_time": d["on_time"]})
        case "intake.consultation.recorded":
            return (f"consultation:{d['consultation_id']}", "consultation", d["street_id"],
                    day_of(event.time), {})
        case "assessment.project.signed":
            return (f"project_signed:{d['project_id']}", "project_signed", d["street_id"],
                    date.fromisoformat(d["signed_on"]), {"amount": d["amount_wan"]})
        case "assessment.project.started":
            return (f"project_started:{d['project_id']}", "project_started", d["street_id"],
                    date.fromisoformat(d["started_on"]), {})
        case "assessment.project.completed":
            return (f"project_completed:{d['project_id']}", "project_completed",
                    d["street_id"], date.fromisoformat(d["completed_on"]),
                    {"amount": d["fixed_asset_investment_wan"]})
        case "assessment.enterprise.visited":
            return (f"visit:{d['visit_id']}", "visit", d["street_id"],
                    date.fromisoformat(d["visited_on"]), {})
    return None


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _day(text: str) -> date:
    return day_of(_moment(text))
