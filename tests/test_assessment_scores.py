"""The scorer on real PostgreSQL: events of the four topics projected by `ScoreFacts`
(shared/projection.py), then scored, ranked and explained by the score view. Values checked
against figures worked out by hand here; redelivery (even with the checkpoints gone) changes
nothing; a closed period keeps its frozen scores and lists late events as adjustments.

(The schemes, targets and streets tables are the core's and the grid replica's: made here with
the contract's DDL and filled as their projections would.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from services.assessment.events import Rule, SchemeIndicator
from services.assessment.measures import Figures, value
from services.assessment.periods import Period
from services.assessment.ranking import ranked
from services.assessment.score_view import ScoreView
from services.assessment.scorer import ScoreFacts
from shared import projection
from shared.envelope import Envelope, NewEvent, seal

NOV = Period.parse("2026-11")
T = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in the district

CORE_DDL = """
CREATE TABLE {s}.schemes (scheme_id text PRIMARY KEY, kind text NOT NULL, version int NOT NULL,
    name_zh text NOT NULL, name_en text NOT NULL, indicators jsonb NOT NULL,
    status text NOT NULL, drafted_at timestamptz NOT NULL, approved_at timestamptz);
CREATE TABLE {s}.targets (unit_id text, indicator text, period text, target float8 NOT NULL,
    set_at timestamptz NOT NULL, PRIMARY KEY (unit_id, indicator, period));
CREATE TABLE {s}.streets (street_id text PRIMARY KEY, name_zh text NOT NULL,
    name_en text NOT NULL);
"""
OFFICE = [SchemeIndicator(indicator="case_closure_rate", weight=40,
                          rule=Rule(kind="linear", floor=0.5), default_target=0.9),
          SchemeIndicator(indicator="applications_on_time", weight=30,
                          rule=Rule(kind="linear", floor=0.5), default_target=1.0),
          SchemeIndicator(indicator="consultations_served", weight=30,
                          rule=Rule(kind="threshold", steps=[(1, 0.5), (3, 1.0)]),
                          default_target=3)]
SUBCENTRE = [SchemeIndicator(indicator="investment_signed", weight=60,
                             rule=Rule(kind="linear", floor=0), default_target=1000),
             SchemeIndicator(indicator="enterprises_served", weight=40,
                             rule=Rule(kind="linear", floor=0), default_target=4)]


class Streams:
    """Envelopes of made-up streams, each versioned in order, as a service's store makes them."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def event(self, source: str, stream_id: str, type_: str, data: dict[str, Any],
              at: datetime = T) -> Envelope:
        version = self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        return seal(NewEvent(type=type_, data=data, time=at), source=source,
                    stream_id=stream_id, stream_version=version, prev_hash=bytes(32))

    def case(self, case_id: str, street: str, *steps: str) -> list[Envelope]:
        ids = {"case_id": case_id, "street_id": street}
        out = [self.event("grid", f"case-{case_id}", "grid.case.registered",
                          {**ids, "registered_at": T.isoformat()})]
        for step in steps:
            if step == "postponed":
                out.append(self.event("grid", f"case-{case_id}", "grid.case.postponed", ids))
            elif step == "reworked":
                out.append(self.event("grid", f"case-{case_id}", "grid.case.verified",
                                      {**ids, "passed": False}))
            else:
                out.append(self.event("grid", f"case-{case_id}", "grid.case.closed",
                                      {**ids, "on_time": step == "closed_on_time"}))
        return out

    def application(self, app_id: str, street: str, on_time: bool) -> Envelope:
        return self.event("intake", f"application-{app_id}", "intake.application.completed",
                          {"application_id": app_id, "street_id": street, "on_time": on_time})

    def consultation(self, c_id: str, street: str) -> Envelope:
        return self.event("intake", f"consultation-{c_id}", "intake.consultation.recorded",
                          {"consultation_id": c_id, "street_id": street})

    def signed(self, p_id: str, street: str, amount: float, on: date) -> Envelope:
        return self.event("assessment", f"project-{p_id}", "assessment.project.signed",
                          {"project_id": p_id, "street_id": street, "amount_wan": amount,
                           "signed_on": on.isoformat()})

    def visit(self, v_id: str, street: str, on: date) -> Envelope:
        return self.event("assessment", f"visit-{v_id}", "assessment.enterprise.visited",
                          {"visit_id": v_id, "street_id": street, "visited_on": on.isoformat()})


@pytest.fixture
async def view(pg_pool: asyncpg.Pool, schema: str) -> ScoreView:
    await pg_pool.execute(CORE_DDL.format(s=schema))
    await pg_pool.executemany(f"INSERT INTO {schema}.streets VALUES ($1, $2, $3)",
                              [("s1", "东街", "East"), ("s2", "西街", "West")])
    for kind, indicators in (("street_office", OFFICE), ("investment_subcentre", SUBCENTRE)):
        await pg_pool.execute(
            f"INSERT INTO {schema}.schemes VALUES ($1, $2, 1, '方案', 'scheme', $3::jsonb, "
            "'approved', now(), now())", f"{kind}-v1", kind,
            orjson.dumps([i.model_dump() for i in indicators]).decode())
    for source in ("grid", "intake", "enforcement", "assessment"):
        await projection.setup(pg_pool, ScoreFacts(source, schema))
    return ScoreView(pg_pool, schema)


async def feed(pool: asyncpg.Pool, schema: str, events: list[Envelope]) -> None:
    for source in ("grid", "intake", "enforcement", "assessment"):
        await projection.project(pool, ScoreFacts(source, schema),
                                 [e for e in events if e.source == source])


def day_of_activity(streams: Streams) -> list[Envelope]:
    s1_cases = [*streams.case("c1", "s1", "closed_on_time"), *streams.case("c2", "s1", "closed"),
                *streams.case("c3", "s1"), *streams.case("c4", "s1", "postponed")]
    s2_cases = [*streams.case("c5", "s2", "reworked", "closed_on_time")]
    return [*s1_cases, *s2_cases,
            streams.application("a1", "s1", True), streams.application("a2", "s1", False),
            streams.application("a3", "s2", True),
            streams.consultation("q1", "s1"), streams.consultation("q2", "s1"),
            streams.consultation("q3", "s1"), streams.consultation("q4", "s2"),
            streams.signed("p1", "s1", 400.0, date(2026, 11, 3)),
            streams.signed("p2", "s2", 1500.0, date(2026, 11, 4)),
            streams.signed("p3", "s2", 99.0, date(2026, 10, 30)),  # October's
            streams.visit("v1", "s1", date(2026, 11, 5))]


def scores(found: dict[str, Any], kind: str) -> dict[str, tuple[float, int, dict]]:
    return {u["unit_id"]: (u["total"], u["rank"], {i["indicator"]: (i["value"], i["score"])
                                                   for i in u["indicators"]})
            for u in found[kind]}


async def test_scores_and_ranks_follow_the_events_of_every_topic(pg_pool, schema, view):
    await feed(pg_pool, schema, day_of_activity(Streams()))
    await pg_pool.execute(f"INSERT INTO {schema}.targets VALUES ('office-s1', "
                          "'case_closure_rate', '2026-11', 0.6, now())")
    found = await view.rankings(NOV)
    # s1: cases c1..c3 assessed (c4 postponed), 2 closed: 2/3 against its own target 0.6 -> 40
    # applications 1/2 (floor 0.5 -> 0); consultations 3 -> 30.  s2: 1/1 -> 40; 1/1 -> 30;
    # 1 consultation -> 15.
    assert scores(found, "street_office") == {
        "office-s2": (85.0, 1, {"case_closure_rate": (1.0, 40.0),
                                "applications_on_time": (1.0, 30.0),
                                "consultations_served": (1.0, 15.0)}),
        "office-s1": (70.0, 2, {"case_closure_rate": (2 / 3, 40.0),
                                "applications_on_time": (0.5, 0.0),
                                "consultations_served": (3.0, 30.0)}),
    }
    # s1: 400 of 1000 -> 24, 1 visit of 4 -> 10; s2: 1500 -> 60, none -> 0 (October's p3 out).
    assert scores(found, "investment_subcentre") == {
        "subcentre-s2": (60.0, 1, {"investment_signed": (1500.0, 60.0),
                                   "enterprises_served": (0.0, 0.0)}),
        "subcentre-s1": (34.0, 2, {"investment_signed": (400.0, 24.0),
                                   "enterprises_served": (1.0, 10.0)}),
    }
    s1_closure = found["street_office"][1]["indicators"][0]
    assert (s1_closure["numerator"], s1_closure["denominator"], s1_closure["target"],
            s1_closure["met"]) == (2, 3, 0.6, True)


async def test_redelivered_events_change_nothing_even_past_the_checkpoints(pg_pool, schema,
                                                                          view):
    events = day_of_activity(Streams())
    await feed(pg_pool, schema, events)
    before = await view.rankings(NOV)
    await feed(pg_pool, schema, events)  # redelivered: skipped by the checkpoints
    await pg_pool.execute(f"DELETE FROM {schema}.checkpoints")
    await feed(pg_pool, schema, events)  # applied again: every row is keyed
    assert await view.rankings(NOV) == before
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.evidence") == len(events)


async def test_the_explanation_lists_the_events_behind_a_value_paged(pg_pool, schema, view):
    events = day_of_activity(Streams())
    await feed(pg_pool, schema, events)
    found = await view.explanation("office-s1", "case_closure_rate", NOV, limit=4, offset=0,
                                   with_events=True)
    assert (found["value"], found["numerator"], found["denominator"]) == (2 / 3, 2, 3)
    assert found["formula_en"] == "closed / (registered − postponed)"
    assert found["rule"] == {"kind": "linear", "floor": 0.5, "steps": None}
    # c1..c3 registered, c1 and c2 closed; the postponed c4 is not behind the value
    assert found["events"]["total"] == 5
    assert [e["type"] for e in found["events"]["items"]].count("grid.case.closed") <= 2
    assert all(e["stream"].startswith("grid:case-c") and e["stream_id"] != "case-c4"
               for e in found["events"]["items"])
    rest = await view.explanation("office-s1", "case_closure_rate", NOV, limit=4, offset=4,
                                  with_events=True)
    assert len(rest["events"]["items"]) == 1
    hidden = await view.explanation("office-s1", "case_closure_rate", NOV, limit=4, offset=0,
                                    with_events=False)
    assert hidden["events"] is None and hidden["events_hidden"]


async def test_a_closed_period_keeps_its_scores_and_shows_late_events_as_adjustments(
        pg_pool, schema, view):
    streams = Streams()
    await feed(pg_pool, schema, day_of_activity(streams))
    live = await view.rankings(NOV)
    frozen = [{"unit_id": u["unit_id"], "kind": kind, "scheme_id": u["scheme_id"],
               "indicator": i["indicator"], "value": i["value"], "target": i["target"],
               "score": i["score"]}
              for kind in ("street_office", "investment_subcentre") for u in live[kind]
              for i in u["indicators"]]
    closed_at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    await feed(pg_pool, schema, [streams.event(
        "assessment", "period-2026-11", "assessment.period.closed",
        {"period": "2026-11", "scores": frozen, "closed_by": "gov",
         "closed_at": closed_at.isoformat()}, at=closed_at)])
    late = streams.event("assessment", "visit-v9", "assessment.enterprise.visited",
                         {"visit_id": "v9", "street_id": "s1", "visited_on": "2026-11-30"},
                         at=datetime(2026, 12, 2, tzinfo=UTC))
    await feed(pg_pool, schema, [late])
    found = await view.rankings(NOV)
    assert found["closed"] and scores(found, "investment_subcentre") == scores(
        live, "investment_subcentre")
    explained = await view.explanation("subcentre-s1", "enterprises_served", NOV, limit=100,
                                       offset=0, with_events=True)
    assert (explained["value"], explained["score"]) == (1.0, 10.0)  # frozen
    assert [e["event_id"] for e in explained["adjustments"]["events"]["items"]] == [
        str(late.id)]
    assert explained["adjustments"]["live"]["value"] == 2.0


async def test_target_met_events_are_kept_once_per_unit_indicator_and_period(pg_pool, schema,
                                                                            view):
    streams = Streams()
    met = [streams.event("assessment", f"target-met-office-s1-consultations_served-2026-11-{n}",
                         "assessment.target.met",
                         {"unit_id": "office-s1", "street_id": "s1", "kind": "street_office",
                          "indicator": "consultations_served", "period": "2026-11",
                          "value": 3.0, "target": 3.0, "met_at": T.isoformat()})
           for n in range(2)]
    await feed(pg_pool, schema, met)
    assert [r["event_id"] for r in await view.targets_met("2026-11")] == [str(met[0].id)]


def test_equal_totals_share_a_rank():
    units = [{"unit_id": u, "total": t} for u, t in (("a", 50), ("b", 80), ("c", 50), ("d", 1))]
    assert [(u["unit_id"], u["rank"]) for u in ranked(units)] == [
        ("b", 1), ("a", 2), ("c", 2), ("d", 4)]


def test_a_ratio_or_mean_with_nothing_counted_has_no_value_and_a_count_is_zero():
    assert value("case_closure_rate", Figures()) is None
    assert value("resident_satisfaction", Figures()) is None
    assert value("consultations_served", Figures()) == 0.0
    assert value("investment_signed", Figures()) == 0.0


def test_the_subject_ids_of_a_return_visit_are_its_event_ids():
    from services.assessment.scorer import facts
    e = Streams().event("grid", "case-x", "grid.case.return_visited",
                        {"case_id": "x", "street_id": "s1", "satisfaction": 4,
                         "visited_at": T.isoformat()})
    assert facts(e) == (f"return_visit:{e.id}", "return_visit", "s1", date(2026, 11, 10),
                        {"satisfaction": 4})
    assert uuid.UUID(str(e.id))


async def test_target_met_is_emitted_once_whatever_runs_the_check(pg_pool, schema, view):
    from services.assessment.target_check import emit_met
    from shared.follower import LogFollower
    from shared.store import EventStore

    await feed(pg_pool, schema, day_of_activity(Streams()))
    store = EventStore(pg_pool, schema, "assessment")
    await store.setup()
    try:
        now = datetime(2026, 11, 20, tzinfo=UTC)
        # two checks at once, then one more (a restarted worker: its table not caught up)
        first = await asyncio.gather(emit_met(view, store, now), emit_met(view, store, now))
        again = await emit_met(view, store, now)
        follower, stored = LogFollower(store), []
        while not follower.caught_up:
            stored.extend(await follower.poll())
    finally:
        await store.close()
    met = [(e.data["unit_id"], e.data["indicator"], e.data["period"]) for e in stored]
    assert sum(first) == len(met) and again == 0
    assert len(met) == len(set(met))
    # met in every period holding November: s2's closure 1/1 of 0.9, s1's 3 consultations...
    assert {m for m in met if m[2] == "2026-11"} == {
        ("office-s2", "case_closure_rate", "2026-11"),
        ("office-s2", "applications_on_time", "2026-11"),
        ("office-s1", "consultations_served", "2026-11"),
        ("subcentre-s2", "investment_signed", "2026-11")}
    assert {m[2] for m in met} == {"2026-11", "2026-Q4", "2026"}  # October: 99 of 1000
