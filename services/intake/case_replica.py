"""Intake's view of the grid's cases: what became of each reported problem, learnt from the grid
service's `grid.case.*` events (the contract: services/grid/case_events.py), so that Open311
shows a reported problem's real state. Intake imports nothing of the grid: it reads the events'
data as published.

A case opened from a report has the report's id (`case_id == problem_id`); cases opened on
patrol or from a complaint have no problem and no row here. A duplicate merged into another
case shows closed when its master closes (`CaseClosed.duplicate_problem_ids`), whichever of the
two arrives first: the two cases' streams may sit in different partitions, so a master's closure
can be applied before its duplicate is even registered here. A closure with duplicates is
therefore remembered (`closed_masters`), and a merge into a closed master closes the row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.intake.open311_format import problem_request, w3
from services.intake.territory import SCHEMA
from shared.envelope import Envelope
from shared.projection import Rows, Statement, Write
from shared.write_runs import insert

TZ = ZoneInfo("Asia/Shanghai")
HANDLED_TOGETHER = "已结案 — closed: handled together with case "
SEND_BACK_REASONS = {"wrong_grid": "不属本网格 not this grid's",
                     "not_our_matter": "不属网格职责 not a matter for the grid"}


def local(moment: str) -> str:
    """An event's ISO time as the resident reads it: 2012-06-08 17:30 (Chengdu time)."""
    return datetime.fromisoformat(moment).astimezone(TZ).strftime("%Y-%m-%d %H:%M")


class CaseReplica:
    """Projection of grid.case.* events into `problem_cases`, one row per reported problem.

    Its steps are set-based writes (`Rows`: a batch's registrations are one INSERT, its
    changes one UPDATE), taken across cases (`independent_streams`). A closure also writes its
    merged duplicates' rows, so the order across cases matters there; but that order was never
    given (two cases' streams may sit in different partitions): a merge applied after its
    master's closure closes its row, and never reopens one the closure closed."""

    name = "case_replica"
    streams = ("case-",)
    independent_streams = True

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["problem_cases", "closed_masters"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.problem_cases (
            problem_id text PRIMARY KEY,
            case_id text NOT NULL UNIQUE,
            status text NOT NULL,         -- the case's status: registered ... closed, merged
            status_notes text NOT NULL,
            agency text NOT NULL,         -- who holds it: grid, street or enforcement
            street_id text NOT NULL, community_id text NOT NULL, grid_id text NOT NULL,
            expected_datetime timestamptz,  -- the case's deadline
            result text,                  -- what its handler (or enforcement) reported back
            master_id text,               -- the case it was merged into
            updated_at timestamptz NOT NULL);
        -- the cases closed with duplicates merged into them, for a merge applied after it
        CREATE TABLE IF NOT EXISTS {s}.closed_masters (
            case_id text PRIMARY KEY, closed_at timestamptz NOT NULL);
        """

    def statements(self, event: Envelope) -> Iterator[Write]:
        d = event.data
        if event.type == "grid.case.registered":
            if d.get("problem_id"):
                yield insert(f"{self.schema}.problem_cases", {
                    "problem_id": ("text", d["problem_id"]), "case_id": ("text", d["case_id"]),
                    "status": ("text", "registered"),
                    "status_notes": ("text", f"已立案 — registered as case {d['case_id']}; "
                                             "waiting to be dispatched"),
                    "agency": ("text", "grid"), "street_id": ("text", d["street_id"]),
                    "community_id": ("text", d["community_id"]),
                    "grid_id": ("text", d["grid_id"]), "updated_at": ("timestamptz", event.time),
                }, key=d["case_id"], conflict="(problem_id)")
        elif event.type == "grid.case.closed":
            yield from self._closed(d, event.time)
        elif (change := CHANGES.get(event.type)) is not None:
            status, notes, agency = change(d)
            yield self._changed(d, status, notes, agency, event.time)

    def _changed(self, d: Mapping[str, Any], status: str | None, notes: str,
                 agency: str | None, at: datetime) -> Rows:
        """One SQL for every step, so a batch's steps are one UPDATE; a None keeps the
        column. A merge into a master closed already closes the row; a late merge never
        reopens a duplicate its master's closure closed."""
        s = self.schema
        return Rows(f"UPDATE {s}.problem_cases AS p SET "
                    "status = CASE WHEN m.case_id IS NULL THEN coalesce(v.status, p.status) "
                    "ELSE 'closed' END, "
                    "status_notes = CASE WHEN m.case_id IS NULL THEN v.notes "
                    f"ELSE '{HANDLED_TOGETHER}' || v.master_id END, "
                    "agency = coalesce(v.agency, p.agency), "
                    "grid_id = coalesce(v.grid_id, p.grid_id), "
                    "expected_datetime = coalesce(v.expected, p.expected_datetime), "
                    "result = coalesce(v.result, p.result), "
                    "master_id = coalesce(v.master_id, p.master_id), "
                    "updated_at = greatest(v.at, m.closed_at) "
                    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
                    "$6::timestamptz[], $7::text[], $8::text[], $9::timestamptz[]) AS "
                    "v(case_id, status, notes, agency, grid_id, expected, result, master_id, "
                    f"at) LEFT JOIN {s}.closed_masters m ON v.status = 'merged' "
                    "AND m.case_id = v.master_id WHERE p.case_id = v.case_id "
                    "AND NOT (p.status = 'closed' AND v.status IS NOT DISTINCT FROM 'merged')",
                    (d["case_id"], status, notes, agency, d.get("grid_id"),
                     _moment(d.get("deadline")), d.get("result"), d.get("master_id"), at),
                    d["case_id"])

    def _closed(self, d: Mapping[str, Any], at: datetime) -> Iterator[Statement]:
        s = self.schema
        yield (f"UPDATE {s}.problem_cases SET status = 'closed', agency = 'grid', "
               "status_notes = '已结案 — closed: ' || coalesce(result, 'handled'), "
               "updated_at = $2 WHERE case_id = $1", (d["case_id"], at))
        if d["duplicate_problem_ids"]:
            yield (f"UPDATE {s}.problem_cases SET status = 'closed', status_notes = $3, "
                   "master_id = coalesce(master_id, $1), updated_at = $4 "
                   "WHERE problem_id = ANY($2::text[])",
                   (d["case_id"], d["duplicate_problem_ids"],
                    f"{HANDLED_TOGETHER}{d['case_id']}", at))
            yield (f"INSERT INTO {s}.closed_masters VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   (d["case_id"], at))


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


Change = tuple[str | None, str, str | None]  # status (None: kept), notes, agency (None: kept)


def _dispatched(d: Mapping[str, Any]) -> Change:
    who = "by the street " if d["by"] == "street" else ""
    return ("dispatched", f"已派遣 — dispatched {who}to grid {d['grid_id']}; to be handled by "
                          f"{local(d['deadline'])}", "grid")


def _verified(d: Mapping[str, Any]) -> Change:
    if d["passed"]:
        return None, "已核实 — verified; closing", None
    return ("handling", f"核实未通过，返工 — not fixed on checking; being reworked "
                        f"(rework {d['rework_count']})", "grid")


def _ruled(d: Mapping[str, Any]) -> Change:
    if d["upheld"]:
        return None, "街道同意退单，重新派遣 — the street agreed; dispatching it again", "street"
    return ("dispatched", "街道裁定原派遣有效 — the street kept the dispatch: back to its grid",
            "grid")


CHANGES = {
    "grid.case.dispatched": _dispatched,
    "grid.case.accepted": lambda d: ("handling", "处置中 — the grid manager is handling it",
                                     "grid"),
    "grid.case.progress_noted": lambda d: ("handling", f"处置中 — handling: {d['note']}", "grid"),
    "grid.case.resolved": lambda d: ("resolved", f"已处置待核实 — handled, to be checked: "
                                                 f"{d['result']}", None),
    "grid.case.verified": _verified,
    "grid.case.reopened": lambda d: ("dispatched", f"已重新派遣 — reopened: {d['reason']}; "
                                                   f"to be handled by {local(d['deadline'])}",
                                     "grid"),
    "grid.case.sent_back": lambda d: ("sent_back", "退单待街道裁定 — sent back to the street: "
                                                   f"{SEND_BACK_REASONS[d['reason']]}", "street"),
    "grid.case.send_back_ruled": _ruled,
    "grid.case.postponed": lambda d: (None, f"已延期 — postponed to {local(d['deadline'])}: "
                                            f"{d['reason']}", None),
    "grid.case.overdue": lambda d: (None, "已超期，已上报街道 — past its deadline; escalated to "
                                          "the street", "street"),
    "grid.case.merged": lambda d: ("merged", f"已合并 — the same problem as case "
                                             f"{d['master_id']}, handled there", None),
    "grid.case.referred": lambda d: ("referred", "已移交执法 — referred to the street's law "
                                                 f"enforcement team: {d['violation_hint']}",
                                     "enforcement"),
}

# After the street's name (猛追湾街道 Mengzhuiwan Street): its office, its enforcement team.
AGENCIES = {"street": ("办事处", "office"), "enforcement": ("综合执法队", "law enforcement team")}


def reported(row: Mapping[str, Any]) -> dict[str, Any]:
    """A problem report as an Open311 request, as its case stands once the grid opened one."""
    request = problem_request(row)
    return {**request, **case_fields(row)} if row["case_status"] else request


def case_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a reported problem's Open311 request shows of its case (`row`: a problems row
    joined with its `problem_cases` row as case_*, and the street's names as street_*)."""
    if row["case_agency"] == "grid":
        agency = (f"{row['grid_zh']} {row['grid_en']}" if row["grid_zh"]
                  else f"网格 {row['case_grid_id']} grid")
    else:
        zh, en = AGENCIES[row["case_agency"]]
        street_zh, street_en = row["street_zh"], row["street_en"]
        if street_zh is None:  # the territory replica lacks it: its id stands in
            street_zh, street_en = "街道", f"street {row['street_id']}"
        agency = f"{street_zh}{zh} {street_en} {en}"
    return {"status": "closed" if row["case_status"] == "closed" else "open",
            "status_notes": row["case_status_notes"], "agency_responsible": agency,
            "expected_datetime": w3(row["case_expected_datetime"]),
            "updated_datetime": w3(row["case_updated_at"])}


SELECTED = ("pc.status AS case_status, pc.status_notes AS case_status_notes, "
            "pc.agency AS case_agency, pc.grid_id AS case_grid_id, "
            "pc.expected_datetime AS case_expected_datetime, pc.updated_at AS case_updated_at, "
            "st.name_zh AS street_zh, st.name_en AS street_en, "
            "g.name_zh AS grid_zh, g.name_en AS grid_en")


def joined(s: str) -> str:
    """The joins that bring a problems row (`p`) its case, its street's and its case's grid's
    names (a replica made before grids had names has '' there: the grid's id stands in)."""
    return (f"LEFT JOIN {s}.problem_cases pc USING (problem_id) "
            f"LEFT JOIN {s}.streets st ON st.street_id = p.street_id "
            f"LEFT JOIN {s}.grids g ON g.grid_id = pc.grid_id")


# SQL: a problems row's Open311 status (open until its case closes).
OPEN311_STATUS = "CASE WHEN pc.status = 'closed' THEN 'closed' ELSE 'open' END"
