"""The back desk's read model: every case as it stands, its steps and who held it when.

Built from every `grid.case.*` event (services/grid/case_events.py). Each statement is safe to
apply again: inserts do nothing on conflict, updates set values the event carries (counts
are recounted from the steps, never incremented), and a hold is closed only by an event later
than the one that opened it.

Holds (time charged to whoever held the case): a dispatch (or a reopen, or a failed
verification's rework) starts one for the handler; it ends at the next dispatch, the resolve,
a referral, a merge or an upheld send-back's ruling. A send-back does not end it: the time
until the street rules is charged to the handler who sent it back.

Every write is a `Rows` (shared/write_runs.py): a batch's writes of one kind, across its cases,
are one set-based statement (`... FROM unnest(...)`), not one statement a case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache
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
from services.grid.events import registry
from services.grid.projections import VIEW_SCHEMA
from shared.envelope import Envelope
from shared.projection import Rows, Write
from shared.write_runs import insert, unnest

OPEN = "status NOT IN ('closed', 'merged')"  # an open case: still in the loop
TYPES = {  # of the cases table's columns, for the arrays of set-based writes
    **dict.fromkeys(("case_id", "source", "category", "urgency", "description", "address",
                     "street_id", "community_id", "grid_id", "problem_id", "reporter_user_id",
                     "status", "handler_id", "return_comment", "master_id", "referral_id",
                     "last_note"), "text"),
    **dict.fromkeys(("deadline", "registered_at", "dispatched_at", "accepted_at",
                     "resolved_at", "closed_at", "updated_at"), "timestamptz"),
    **dict.fromkeys(("on_time", "overdue", "escalated", "postponed"), "boolean"),
    **dict.fromkeys(("rework_count", "reopen_count", "send_back_count", "satisfaction",
                     "return_satisfaction"), "integer"),
    "lon": "float8", "lat": "float8",
}
DAY = "%Y-%m-%d %H:%M %Z"

# Each event's own time: when the step happened (the step's `at`).
AT = {CaseRegistered: "registered_at", CaseDispatched: "dispatched_at",
      CaseAccepted: "accepted_at", ProgressNoted: "noted_at", CaseResolved: "resolved_at",
      CaseVerified: "verified_at", CaseClosed: "closed_at", CaseReopened: "reopened_at",
      CaseSentBack: "sent_back_at", SendBackRuled: "ruled_at", CasePostponed: "postponed_at",
      CaseOverdue: "detected_at", CaseMerged: "merged_at", DuplicateAttached: "attached_at",
      CaseReferred: "referred_at", ReturnVisited: "visited_at"}


def summary(event: CaseEvent) -> str:
    """One line of a case's history."""
    match event:
        case CaseRegistered():
            return f"registered from {event.source}: {event.category} ({event.urgency})"
        case CaseDispatched():
            return f"dispatched ({event.by}) to {event.handler_id}, due {event.deadline:{DAY}}"
        case CaseAccepted():
            return f"accepted by {event.handler_id}"
        case ProgressNoted():
            return f"progress: {event.note}"
        case CaseResolved():
            return f"resolved: {event.result}"
        case CaseVerified():
            verdict = f"passed, satisfaction {event.satisfaction}" if event.passed else \
                f"failed, rework {event.rework_count}"
            return f"verified by {event.by}: {verdict}"
        case CaseClosed():
            return "closed on time" if event.on_time else "closed late"
        case CaseReopened():
            return f"reopened: {event.reason}"
        case CaseSentBack():
            return f"sent back ({event.reason}) by {event.handler_id}: {event.note}"
        case SendBackRuled():
            return f"send-back {'upheld' if event.upheld else 'overruled'}: {event.note}"
        case CasePostponed():
            return f"postponed to {event.deadline:{DAY}}: {event.reason}"
        case CaseOverdue():
            return f"overdue, escalated to {event.escalated_to}"
        case CaseMerged():
            return f"merged into {event.master_id}"
        case DuplicateAttached():
            return f"duplicate {event.duplicate_id} attached"
        case CaseReferred():
            return f"referred to enforcement ({event.domain}): {event.violation_hint}"
        case ReturnVisited():
            return f"return visit: satisfaction {event.satisfaction}"
    return event.TYPE


class CaseProjection:
    name = "cases"
    streams = ("case-",)
    independent_streams = True  # every statement is on its own case's rows

    def __init__(self, schema: str = VIEW_SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["cases", "case_steps", "case_holds"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.cases (
            case_id text PRIMARY KEY, source text NOT NULL, category text NOT NULL,
            urgency text NOT NULL, description text NOT NULL, address text NOT NULL,
            lon double precision NOT NULL, lat double precision NOT NULL,
            street_id text NOT NULL, community_id text NOT NULL, grid_id text NOT NULL,
            problem_id text, reporter_user_id text, status text NOT NULL, handler_id text,
            deadline timestamptz, registered_at timestamptz NOT NULL,
            dispatched_at timestamptz, accepted_at timestamptz, resolved_at timestamptz,
            closed_at timestamptz, updated_at timestamptz NOT NULL, on_time boolean,
            overdue boolean NOT NULL DEFAULT false, escalated boolean NOT NULL DEFAULT false,
            postponed boolean NOT NULL DEFAULT false, rework_count integer NOT NULL DEFAULT 0,
            reopen_count integer NOT NULL DEFAULT 0,
            send_back_count integer NOT NULL DEFAULT 0, satisfaction integer,
            return_satisfaction integer, return_comment text, master_id text,
            referral_id text, last_note text);
        CREATE INDEX IF NOT EXISTS cases_grid_status ON {s}.cases (grid_id, status);
        CREATE INDEX IF NOT EXISTS cases_open_handler ON {s}.cases (handler_id) WHERE {OPEN};
        CREATE INDEX IF NOT EXISTS cases_category_place ON {s}.cases (category, lon, lat);
        CREATE INDEX IF NOT EXISTS cases_street_registered ON {s}.cases
            (street_id, registered_at);
        CREATE TABLE IF NOT EXISTS {s}.case_steps (
            case_id text NOT NULL, version integer NOT NULL, type text NOT NULL,
            at timestamptz NOT NULL, actor text NOT NULL, summary text NOT NULL,
            PRIMARY KEY (case_id, version));
        CREATE TABLE IF NOT EXISTS {s}.case_holds (
            case_id text NOT NULL, version integer NOT NULL, handler_id text NOT NULL,
            held_from timestamptz NOT NULL, held_until timestamptz,
            PRIMARY KEY (case_id, version));
        CREATE INDEX IF NOT EXISTS case_holds_handler ON {s}.case_holds (handler_id);
        """

    def statements(self, envelope: Envelope) -> Iterator[Write]:
        if not envelope.type.startswith("grid.case.") or not registry.knows(envelope.type):
            return
        event = registry.from_envelope(envelope)
        assert isinstance(event, CaseEvent)
        at: datetime = getattr(event, AT[type(event)])
        s, v = self.schema, envelope.stream_version
        yield Rows(f"INSERT INTO {s}.case_steps SELECT * FROM unnest($1::text[], $2::int[], "
                   "$3::text[], $4::timestamptz[], $5::text[], $6::text[]) "
                   "ON CONFLICT (case_id, version) DO NOTHING",
                   (event.case_id, v, event.TYPE, at, envelope.actor.user_id, summary(event)),
                   event.case_id)
        yield from self._changes(event, at, v)

    def _changes(self, event: CaseEvent, at: datetime, v: int) -> Iterator[Write]:
        case_id = event.case_id
        match event:
            case CaseRegistered():
                yield self._register(event)
            case CaseDispatched():
                yield self._end_hold(case_id, at, v)
                yield self._start_hold(case_id, event.handler_id, at, v)
                yield self._set(case_id, at, status="dispatched", handler_id=event.handler_id,
                                deadline=event.deadline, grid_id=event.grid_id,
                                community_id=event.community_id, street_id=event.street_id,
                                dispatched_at=at)
            case CaseAccepted():
                yield self._set(case_id, at, status="handling", handler_id=event.handler_id,
                                accepted_at=at)
            case ProgressNoted():
                yield self._set(case_id, at, last_note=event.note)
            case CaseResolved():
                yield self._end_hold(case_id, at, v)
                yield self._set(case_id, at, status="resolved", resolved_at=at,
                                last_note=event.result)
            case CaseVerified() if event.passed:
                yield self._set(case_id, at, satisfaction=event.satisfaction)
            case CaseVerified():
                yield self._set(case_id, at, status="handling", rework_count=event.rework_count,
                                last_note=event.comment)
                yield self._start_hold(case_id, None, at, v)
            case CaseClosed():
                yield self._set(case_id, at, status="closed", closed_at=at,
                                on_time=event.on_time, deadline=event.deadline)
            case CaseReopened():
                yield self._set(case_id, at, status="dispatched", handler_id=event.handler_id,
                                deadline=event.deadline, reopen_count=event.reopen_count,
                                closed_at=None, on_time=None, overdue=False,
                                last_note=event.reason)
                yield self._start_hold(case_id, event.handler_id, at, v)
            case CaseSentBack():
                yield self._set(case_id, at, status="sent_back", last_note=event.note)
                yield Rows(f"UPDATE {self.schema}.cases AS c SET send_back_count = (SELECT "
                           f"count(*) FROM {self.schema}.case_steps AS s WHERE s.case_id = "
                           "c.case_id AND s.type = v.type) FROM unnest($1::text[], $2::text[]) "
                           "AS v(case_id, type) WHERE c.case_id = v.case_id",
                           (case_id, CaseSentBack.TYPE), case_id)
            case SendBackRuled() if event.upheld:
                yield self._end_hold(case_id, at, v)
                yield self._set(case_id, at, last_note=event.note)
            case SendBackRuled():
                yield self._set(case_id, at, status="dispatched", last_note=event.note)
            case CasePostponed():
                yield self._set(case_id, at, deadline=event.deadline, postponed=True,
                                overdue=False)
            case CaseOverdue():
                yield self._set(case_id, at, overdue=True, escalated=True)
            case CaseMerged():
                yield self._end_hold(case_id, at, v)
                yield self._set(case_id, at, status="merged", master_id=event.master_id)
            case CaseReferred():
                yield self._end_hold(case_id, at, v)
                yield self._set(case_id, at, status="referred", referral_id=event.referral_id)
            case ReturnVisited():
                yield self._set(case_id, at, return_satisfaction=event.satisfaction,
                                return_comment=event.comment)
            case DuplicateAttached():
                yield self._set(case_id, at)

    def _register(self, event: CaseRegistered) -> Rows:
        columns: dict[str, Any] = {
            "case_id": event.case_id, "source": event.source, "category": event.category,
            "urgency": event.urgency, "description": event.description,
            "address": event.address, "lon": event.location["lon"],
            "lat": event.location["lat"], "street_id": event.street_id,
            "community_id": event.community_id, "grid_id": event.grid_id,
            "problem_id": event.problem_id, "reporter_user_id": event.reporter_user_id,
            "status": "registered", "registered_at": event.registered_at,
            "updated_at": event.registered_at,
        }
        return insert(f"{self.schema}.cases", {c: (TYPES[c], v) for c, v in columns.items()},
                      key=event.case_id, conflict="(case_id)")

    def _set(self, case_id: str, at: datetime, **columns: Any) -> Rows:
        """Set these columns (and `updated_at`) on the case: the same values however often."""
        columns["updated_at"] = at
        return Rows(_update_sql(self.schema, tuple(columns)), (case_id, *columns.values()),
                    case_id)

    def _start_hold(self, case_id: str, handler_id: str | None, at: datetime, v: int) -> Rows:
        """A hold for `handler_id` (None: the case's handler now) from `at`."""
        s = self.schema
        return Rows(f"INSERT INTO {s}.case_holds (case_id, version, handler_id, held_from) "
                    "SELECT c.case_id, v.version, coalesce(v.handler_id, c.handler_id), v.at "
                    "FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[]) AS "
                    f"v(case_id, version, handler_id, at) JOIN {s}.cases AS c ON c.case_id = "
                    "v.case_id WHERE coalesce(v.handler_id, c.handler_id) IS NOT NULL "
                    "ON CONFLICT (case_id, version) DO NOTHING",
                    (case_id, v, handler_id, at), case_id)

    def _end_hold(self, case_id: str, at: datetime, v: int) -> Rows:
        """Ends the hold an earlier event started (never one this event or a later started)."""
        return Rows(f"UPDATE {self.schema}.case_holds AS h SET held_until = v.at FROM "
                    "unnest($1::text[], $2::timestamptz[], $3::int[]) AS v(case_id, at, "
                    "version) WHERE h.case_id = v.case_id AND h.held_until IS NULL AND "
                    "h.version < v.version", (case_id, at, v), case_id)


FIRST_ONLY = {"dispatched_at"}  # columns that keep their first value (a re-dispatch's is not)


@cache
def _update_sql(schema: str, columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{name} = coalesce(c.{name}, v.{name})" if name in FIRST_ONLY
                     else f"{name} = v.{name}" for name in columns)
    arrays = unnest((c, TYPES[c]) for c in ("case_id", *columns))
    return f"UPDATE {schema}.cases AS c SET {sets} FROM {arrays} WHERE c.case_id = v.case_id"
