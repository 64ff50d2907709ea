"""The back desk's read model on real PostgreSQL: cases' events appended to a real event store,
projected (shared/projection.py), then read. Redelivery changes nothing; the indicators match
values computed here, in plain Python, from the same events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.grid import case_events as ce
from services.grid.case_projection import CaseProjection
from services.grid.indicators import indicators, period
from shared import projection
from shared.envelope import Envelope
from shared.follower import LogFollower
from shared.store import EventStore
from tests.case_stories import PLACES, T0, Story, append, named, play

CHENGDU = ZoneInfo("Asia/Shanghai")
NOW = T0 + timedelta(days=12)
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 11)
LEVELS = {"street": 0, "community": 1, "grid": 2}
TABLES = {"cases": "case_id", "case_steps": "case_id, version", "case_holds": "case_id, version"}


@asynccontextmanager
async def fresh_schema(pool: asyncpg.Pool) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    await pool.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def stored(pool: asyncpg.Pool, schema: str, cases: list[list[ce.CaseEvent]]
                 ) -> list[Envelope]:
    """The cases' events as appended to a real store, in the store's order."""
    store = EventStore(pool, schema, "grid")
    await store.setup()
    try:
        for events in cases:
            await append(store, events)
        follower, found = LogFollower(store), []
        while not follower.caught_up:
            found.extend(await follower.poll())
        return found
    finally:
        await store.close()


async def projected(pool: asyncpg.Pool, schema: str, batches: list[list[Envelope]],
                    view: Any = None) -> None:
    view = view or CaseProjection(schema)
    await projection.setup(pool, view)
    for batch in batches:
        await projection.project(pool, view, batch)


async def rows(pool: asyncpg.Pool, schema: str) -> dict[str, list[tuple]]:
    return {table: [tuple(r) for r in await pool.fetch(
        f"SELECT * FROM {schema}.{table} ORDER BY {order}")]
        for table, order in TABLES.items()}


async def all_indicators(pool: asyncpg.Pool, schema: str) -> list[dict[str, Any]]:
    return [await indicators(pool, schema, level, place[i], FIRST, LAST, now=NOW)
            for level, i in LEVELS.items() for place in PLACES]


# ------------------------------------------------------- the indicators, computed apart


def fold(events: list[ce.CaseEvent]) -> dict[str, Any]:
    """A case as its events leave it: what the indicators need."""
    case: dict[str, Any] = {"postponed": False, "rework": 0, "deadline": None,
                            "dispatched": None, "satisfaction": None, "returned": None}
    for e in events:
        match e:
            case ce.CaseRegistered():
                case.update(status="registered", registered=e.registered_at,
                            street=e.street_id, community=e.community_id, grid=e.grid_id)
            case ce.CaseDispatched():
                case.update(status="dispatched", deadline=e.deadline)
                case["dispatched"] = case["dispatched"] or e.dispatched_at
            case ce.CaseAccepted():
                case["status"] = "handling"
            case ce.CaseResolved():
                case["status"] = "resolved"
            case ce.CaseVerified() if e.passed:
                case["satisfaction"] = e.satisfaction
            case ce.CaseVerified():
                case.update(status="handling", rework=e.rework_count)
            case ce.CaseClosed():
                case.update(status="closed", on_time=e.on_time, closed=e.closed_at)
            case ce.CaseReopened():
                case.update(status="dispatched", deadline=e.deadline)
            case ce.CaseSentBack():
                case["status"] = "sent_back"
            case ce.SendBackRuled() if not e.upheld:
                case["status"] = "dispatched"
            case ce.CasePostponed():
                case.update(postponed=True, deadline=e.deadline)
            case ce.CaseMerged():
                case["status"] = "merged"
            case ce.CaseReferred():
                case["status"] = "referred"
            case ce.ReturnVisited():
                case["returned"] = e.satisfaction
    return case


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def expected(cases: list[list[ce.CaseEvent]], level: str, unit: str) -> dict[str, Any]:
    folded = [fold(events) for events in cases]
    counted = [c for c in folded if c[level] == unit and c["status"] != "merged"
               and FIRST <= c["registered"].astimezone(CHENGDU).date() <= LAST]
    due = [c for c in counted
           if c["status"] == "closed" or (c["deadline"] is not None and c["deadline"] < NOW)]
    assessed = [c for c in due if not c["postponed"]]
    closed = [c for c in assessed if c["status"] == "closed"]
    on_time = [c for c in closed if c["on_time"]]
    reworked = [c for c in assessed if c["rework"] > 0]
    n = len(assessed)
    return {
        "registered": len(counted), "due": len(due), "postponed": len(due) - n,
        "assessed": n, "closed": len(closed), "closed_on_time": len(on_time),
        "reworked": len(reworked),
        "overdue": sum(1 for c in counted if c["status"] != "closed"
                       and c["deadline"] is not None and c["deadline"] < NOW),
        "closure_rate": len(closed) / n if n else None,
        "on_time_closure_rate": len(on_time) / n if n else None,
        "rework_rate": len(reworked) / n if n else None,
        "average_handling_hours": mean([(c["closed"] - c["dispatched"]).total_seconds() / 3600
                                        for c in closed]),
        "satisfaction": mean([c["satisfaction"] for c in closed
                              if c["satisfaction"] is not None]),
        "return_satisfaction": mean([c["returned"] for c in closed
                                     if c["returned"] is not None]),
    }


def assert_indicators_match(found: list[dict[str, Any]], cases: list[list[ce.CaseEvent]]):
    for got in found:
        want = expected(cases, got["level"], got["id"])
        for name, value in want.items():
            assert got[name] == pytest.approx(value), (got["level"], got["id"], name)


# ---------------------------------------------------------------------- the property


stories = st.lists(st.tuples(st.integers(0, len(PLACES) - 1), st.integers(0, 1),
                             st.integers(0, 14), st.lists(st.integers(0, 59), max_size=12)),
                   min_size=1, max_size=6)


def interleaved(data: st.DataObject, events: list[Envelope], every: bool) -> list[Envelope]:
    """A redelivery: some of the events (all of them at least once when `every`), some
    twice or more, streams interleaved in any way that keeps each stream's order."""
    streams: dict[str, list[Envelope]] = {}
    for e in events:
        streams.setdefault(e.stream_id, []).append(e)
    sequences = {}
    for sid, evs in streams.items():
        picked = data.draw(st.lists(st.integers(0, len(evs) - 1), max_size=2 * len(evs)))
        sequences[sid] = [evs[i] for i in sorted(picked + (list(range(len(evs))) if every
                                                           else []))]
    labels = data.draw(st.permutations([sid for sid, seq in sequences.items() for _ in seq]))
    queues = {sid: iter(seq) for sid, seq in sequences.items()}
    return [next(queues[sid]) for sid in labels]


def batches(data: st.DataObject, events: list[Envelope]) -> list[list[Envelope]]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=3)))
    bounds = [0, *cuts, len(events)]
    return [events[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


class Twice:
    """The case projection writing each event's statements twice over (as if applied again)."""

    def __init__(self, schema: str) -> None:
        self.inner = CaseProjection(schema)
        self.name, self.schema = self.inner.name, schema

    def ddl(self) -> str:
        return self.inner.ddl()

    def tables(self) -> list[str]:
        return self.inner.tables()

    def statements(self, event: Envelope):
        statements = list(self.inner.statements(event))
        yield from statements + statements


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=stories, data=st.data())
async def test_redelivering_any_events_changes_no_case_row_and_no_indicator(pg_pool, drawn,
                                                                          data):
    cases = [play(Story(f"c{i:03d}", *story)) for i, story in enumerate(drawn)]
    async with fresh_schema(pg_pool) as once, fresh_schema(pg_pool) as redelivered, \
            fresh_schema(pg_pool) as doubled:
        events = await stored(pg_pool, once, cases)
        await projected(pg_pool, once, [events])
        before, measured = await rows(pg_pool, once), await all_indicators(pg_pool, once)
        assert_indicators_match(measured, cases)
        # Again, after everything was applied: a subset, duplicated, interleaved, in batches.
        await projected(pg_pool, once, batches(data, interleaved(data, events, every=False)))
        assert await rows(pg_pool, once) == before
        assert await all_indicators(pg_pool, once) == measured
        # From nothing, every event at least once among duplicates: the same rows.
        await projected(pg_pool, redelivered,
                        batches(data, interleaved(data, events, every=True)))
        assert await rows(pg_pool, redelivered) == before
        # Each statement applied twice in a row: the same rows.
        await projected(pg_pool, doubled, [events], Twice(doubled))
        assert await rows(pg_pool, doubled) == before


# ---------------------------------------------------------------------- examples


async def project_cases(pg_pool, schema, *cases: list[ce.CaseEvent]) -> None:
    await projected(pg_pool, schema, [await stored(pg_pool, schema, list(cases))])


async def case_row(pg_pool, schema, case_id: str) -> dict[str, Any]:
    return dict(await pg_pool.fetchrow(f"SELECT * FROM {schema}.cases WHERE case_id = $1",
                                       case_id))


async def holds(pg_pool, schema, case_id: str) -> list[tuple[str, float | None]]:
    found = await pg_pool.fetch(
        f"SELECT handler_id, extract(epoch FROM held_until - held_from) / 3600 AS hours "
        f"FROM {schema}.case_holds WHERE case_id = $1 ORDER BY version", case_id)
    return [(r["handler_id"], r["hours"] and float(r["hours"])) for r in found]


async def test_a_closed_case_shows_its_loop_steps_and_times(pg_pool, schema):
    events = named(Story("c1", 0, 0, 0), "dispatch", "accept", "progress", "resolve", "pass")
    await project_cases(pg_pool, schema, events)
    case = await case_row(pg_pool, schema, "c1")
    assert case["status"] == "closed" and case["on_time"] is True
    assert case["handler_id"] == "m1" and case["satisfaction"] == 1
    assert case["dispatched_at"] == T0 + timedelta(hours=2)
    assert case["closed_at"] == T0 + timedelta(hours=10)
    steps = await pg_pool.fetch(f"SELECT type, actor FROM {schema}.case_steps ORDER BY version")
    assert [s["type"] for s in steps] == [e.TYPE for e in events]
    assert {s["actor"] for s in steps} == {"desk-test"}
    assert await holds(pg_pool, schema, "c1") == [("m1", 6.0)]


async def test_a_send_back_is_charged_to_its_sender_until_the_ruling(pg_pool, schema):
    events = named(Story("c1", 0, 0, 0), "dispatch", "send_back", "uphold", "resolve")
    await project_cases(pg_pool, schema, events)
    # m1 held it from dispatch until the ruling (4 h), m2 from the re-dispatch to resolve.
    assert await holds(pg_pool, schema, "c1") == [("m1", 4.0), ("m2", 2.0)]
    case = await case_row(pg_pool, schema, "c1")
    assert case["send_back_count"] == 1 and case["handler_id"] == "m2"
    assert case["deadline"] == T0 + timedelta(hours=10)  # kept by the re-dispatch
    assert case["dispatched_at"] == T0 + timedelta(hours=2)  # the first dispatch's


async def test_rework_reopen_postpone_overdue_and_merge_show_on_the_case(pg_pool, schema):
    reworked = named(Story("c1", 0, 0, 0), "dispatch", "accept", "resolve", "fail",
                     "resolve", "pass", "reopen")
    late = named(Story("c2", 0, 0, 0), "dispatch", "accept", "postpone", hours=20)
    merged = named(Story("c3", 0, 0, 0), "merge")
    await project_cases(pg_pool, schema, reworked, late, merged)
    c1 = await case_row(pg_pool, schema, "c1")
    assert (c1["status"], c1["rework_count"], c1["reopen_count"]) == ("dispatched", 1, 1)
    assert c1["closed_at"] is None and c1["on_time"] is None
    assert [h for h, _ in await holds(pg_pool, schema, "c1")] == ["m1", "m1", "m1"]
    c2 = await case_row(pg_pool, schema, "c2")
    assert c2["postponed"] and c2["deadline"] == T0 + timedelta(hours=20 + 8 + 48)
    c3 = await case_row(pg_pool, schema, "c3")
    assert (c3["status"], c3["master_id"]) == ("merged", "c-master")


async def test_overdue_escalates_and_a_postponement_clears_overdue(pg_pool, schema):
    late = named(Story("c1", 0, 0, 0), "dispatch", "accept", "overdue", hours=20)
    postponed = named(Story("c2", 0, 0, 0), "dispatch", "accept", "overdue", "postpone",
                      hours=20)
    await project_cases(pg_pool, schema, late, postponed)
    c1, c2 = await case_row(pg_pool, schema, "c1"), await case_row(pg_pool, schema, "c2")
    assert (c1["overdue"], c1["escalated"], c1["postponed"]) == (True, True, False)
    assert (c2["overdue"], c2["escalated"], c2["postponed"]) == (False, True, True)


async def test_indicators_of_a_known_street(pg_pool, schema):
    on_time = named(Story("c1", 0, 0, 0), "dispatch", "accept", "resolve", "pass")
    reworked = named(Story("c2", 0, 0, 1), "dispatch", "accept", "resolve", "fail",
                     "resolve", "pass", hours=3)
    postponed = named(Story("c3", 1, 0, 1), "dispatch", "postpone", hours=60)
    open_late = named(Story("c4", 1, 0, 2), "dispatch", "accept", hours=1)
    merged = named(Story("c5", 0, 0, 2), "merge")
    later = named(Story("c6", 0, 0, 11), "dispatch")  # registered after the period
    cases = [on_time, reworked, postponed, open_late, merged, later]
    await project_cases(pg_pool, schema, *cases)
    found = await indicators(pg_pool, schema, "street", "s1", FIRST, LAST, now=NOW)
    assert (found["registered"], found["due"], found["postponed"], found["assessed"]) == \
        (4, 4, 1, 3)
    assert (found["closed"], found["closed_on_time"], found["reworked"], found["overdue"]) == \
        (2, 1, 1, 2)
    assert found["closure_rate"] == pytest.approx(2 / 3)
    assert found["on_time_closure_rate"] == pytest.approx(1 / 3)
    assert found["rework_rate"] == pytest.approx(1 / 3)
    assert found["average_handling_hours"] == pytest.approx((6 + 15) / 2)
    assert_indicators_match([found], cases)


def test_a_period_is_whole_days_in_chengdu():
    start, end = period(date(2026, 3, 1), date(2026, 3, 1))
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)
