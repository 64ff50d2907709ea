"""The scorer end to end, on real PostgreSQL and a real broker: a day of activity (schemes
approved and a target set through the assessment API, applications filed and completed and
consultations recorded through intake's, cases worked in the grid's store, projects and
enterprise visits recorded by the sub-centre) reaches the assessment worker over Kafka; every
indicator and every score of /rankings equals what a second, plain implementation here
computes from the same events, read from the services' own event stores. Redelivering every
event, or killing the worker mid-stream and starting it again, changes no score and no count
of target.met."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.grid.case_events import ReturnVisited
from services.grid.events import registry as grid_registry
from shared.follower import LogFollower
from shared.kafka import to_message
from tests import case_steps as steps
from tests.platform import ROOT, small_district

CHENGDU = ZoneInfo("Asia/Shanghai")
MATTER = "cm.residence_certificate"
LINEAR = {"kind": "linear", "floor": 0.5}
OFFICE = [("case_closure_rate", 25, LINEAR, 0.9),
          ("case_rework_rate", 15, {"kind": "linear", "floor": 0.8}, 0.1),
          ("applications_on_time", 20, LINEAR, 1.0),
          ("consultations_served", 20, {"kind": "threshold", "steps": [[1, 0.5], [3, 1.0]]}, 3),
          ("resident_satisfaction", 20, {"kind": "linear", "floor": 1.0}, 4.5)]
SUBCENTRE = [("investment_signed", 40, {"kind": "linear", "floor": 0}, 1000),
             ("projects_started", 20, {"kind": "linear", "floor": 0}, 2),
             ("fixed_asset_investment", 20, {"kind": "linear", "floor": 0}, 500),
             ("enterprises_served", 20, {"kind": "linear", "floor": 0}, 2)]
MEASURE = {"case_closure_rate": "ratio", "case_rework_rate": "ratio",
           "applications_on_time": "ratio", "consultations_served": "count",
           "resident_satisfaction": "mean", "investment_signed": "sum",
           "projects_started": "count", "fixed_asset_investment": "sum",
           "enterprises_served": "count"}
LOWER = {"case_rework_rate"}
RESTARTED: list[subprocess.Popen] = []  # assessment workers this module started again


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with small_district(["grid", "intake", "enforcement", "assessment"], database_url,
                              kafka_bootstrap, tmp_path_factory.mktemp("jiedao"),
                              MATTER) as platform:
        try:
            yield platform
        finally:
            for worker in RESTARTED:  # the platform stops only the workers it started
                worker.terminate()
                try:
                    worker.wait(10)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(10)


def today() -> str:
    return datetime.now(CHENGDU).date().isoformat()


def month() -> str:
    return today()[:7]


# -- the day of activity --------------------------------------------------------------------


async def approve(gov, kind: str, indicators: list[tuple]) -> None:
    drafted = await gov.post("/schemes", json={
        "kind": kind, "name_zh": "考核方案", "name_en": "scheme", "indicators": [
            {"indicator": i, "weight": w, "rule": r, "default_target": t}
            for i, w, r, t in indicators]})
    assert drafted.status_code == 201, drafted.text
    approved = await gov.post(f"/schemes/{drafted.json()['scheme_id']}/approve")
    assert approved.status_code == 200, approved.text


async def intake_day(platform) -> None:
    clerk = platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")
    for _ in range(2):
        filed = await clerk.post("/applications", json={
            "matter_code": MATTER, "community_id": "s1.c1", "address": "1号",
            "applicant": {"name": "张秀英", "id_number": "510108198001011234"},
            "location": {"lon": 104.105, "lat": 30.605},
            "materials": ["id_card", "household_register"]})
        assert filed.status_code == 201, filed.text
        app_id = filed.json()["application_id"]
        for step, body in (("acceptance", {}), ("completion", {"result": "证明已开具"})):
            done = await clerk.post(f"/applications/{app_id}/{step}", json=body)
            assert done.status_code == 200, done.text
    for n in range(3):
        asked = await clerk.post("/consultations", json={
            "community_id": "s1.c1", "topic": f"问题{n}", "matter_code": None,
            "answer": "已答复", "answered_by": "窗口"})
        assert asked.status_code == 201, asked.text


async def grid_day(platform) -> None:
    """Cases as the grid emits them, appended to its store (its relay publishes them)."""
    store = platform.apps["grid"].state.store
    now = datetime.now(UTC)
    visit = grid_registry.to_new_event(ReturnVisited(
        case_id="e2e-1", **steps.WHERE, satisfaction=4, comment="满意", visited_at=now))
    cases = {
        "e2e-1": [*steps.registered("e2e-1"), *steps.dispatched("e2e-1"),
                  *steps.accepted("e2e-1"), *steps.resolved("e2e-1"),
                  *steps.verified_and_closed("e2e-1"), visit],
        "e2e-2": [*steps.registered("e2e-2"), *steps.dispatched("e2e-2"),
                  *steps.accepted("e2e-2"), *steps.resolved("e2e-2"),
                  *steps.failed_verification("e2e-2")],
        "e2e-3": [*steps.registered("e2e-3")],
    }
    for case_id, events in cases.items():
        for e in events:  # the district's day of the test, whatever steps.NOW says
            if "registered_at" in e.data:
                e.data["registered_at"] = now.isoformat()
        await store.append(f"case-{case_id}", 0, [
            type(e)(type=e.type, data=e.data, time=now) for e in events])


async def subcentre_day(platform) -> None:
    staff = platform.as_("assessment", "investment_staff:s1", user="sub-1")
    signed = await staff.post("/projects", json={
        "street_id": "s1", "name": "新材料产业园", "investor": "某公司", "amount_wan": 800.0,
        "signed_on": today()})
    assert signed.status_code == 201, signed.text
    project = signed.json()["project_id"]
    for step, body in (("start", {"started_on": today()}),
                       ("complete", {"fixed_asset_investment_wan": 600.0,
                                     "completed_on": today()})):
        done = await staff.post(f"/projects/{project}/{step}", json=body)
        assert done.status_code == 200, done.text
    visited = await staff.post("/visits", json={"street_id": "s1", "enterprise": "某企业",
                                                 "purpose": "政策解读", "visited_on": today()})
    assert visited.status_code == 201, visited.text


# -- the second, plain implementation -------------------------------------------------------


async def stored_events(platform) -> list[tuple[str, dict, datetime]]:
    pool = platform.apps["assessment"].state.pool
    found = []
    for service in ("grid", "intake", "assessment"):
        for row in await pool.fetch(f"SELECT type, data::text AS data, time FROM {service}."
                                    "events ORDER BY position"):
            found.append((row["type"], orjson.loads(row["data"]), row["time"]))
    return found


def local_day(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(CHENGDU).date().isoformat()


def plain_values(events: list[tuple[str, dict, datetime]], period: str) -> dict[str, Any]:
    """Street s1's indicators in a month, straight from the events."""
    cases: dict[str, dict] = {}
    apps, consultations, visits, satisfaction = [], 0, 0, []
    signed = started = completed = 0.0
    for t, d, at in events:
        if d.get("street_id") != "s1":
            continue
        if t == "grid.case.registered" and local_day(d["registered_at"])[:7] == period:
            cases[d["case_id"]] = {"closed": False, "reworked": False, "postponed": False}
        elif t == "grid.case.closed" and d["case_id"] in cases:
            cases[d["case_id"]]["closed"] = True
        elif t == "grid.case.verified" and not d["passed"] and d["case_id"] in cases:
            cases[d["case_id"]]["reworked"] = True
        elif t == "grid.case.return_visited" and local_day(d["visited_at"])[:7] == period:
            satisfaction.append(d["satisfaction"])
        elif t == "intake.application.completed" and local_day(at)[:7] == period:
            apps.append(d["on_time"])
        elif t == "intake.consultation.recorded" and local_day(at)[:7] == period:
            consultations += 1
        elif t == "assessment.project.signed" and d["signed_on"][:7] == period:
            signed += d["amount_wan"]
        elif t == "assessment.project.started" and d["started_on"][:7] == period:
            started += 1
        elif t == "assessment.project.completed" and d["completed_on"][:7] == period:
            completed += d["fixed_asset_investment_wan"]
        elif t == "assessment.enterprise.visited" and d["visited_on"][:7] == period:
            visits += 1
    assessed = [c for c in cases.values() if not c["postponed"]]
    return {
        "case_closure_rate": sum(c["closed"] for c in assessed) / len(assessed),
        "case_rework_rate": sum(c["reworked"] for c in assessed) / len(assessed),
        "applications_on_time": sum(apps) / len(apps),
        "consultations_served": float(consultations),
        "resident_satisfaction": sum(satisfaction) / len(satisfaction),
        "investment_signed": signed, "projects_started": started,
        "fixed_asset_investment": completed, "enterprises_served": float(visits),
    }


def plain_points(indicator: str, weight: float, rule: dict, value: float,
                 target: float) -> float:
    better = (lambda v, m: v <= m) if indicator in LOWER else (lambda v, m: v >= m)
    if rule["kind"] == "threshold":
        return weight * max([s for at, s in rule["steps"] if better(value, at)], default=0.0)
    share = (value - rule["floor"]) / (target - rule["floor"])
    return round(weight * min(1.0, max(0.0, share)), 4)


def plain_scores(values: dict[str, Any], targets: dict[str, float]) -> dict[str, Any]:
    out = {}
    for kind, scheme in (("office-s1", OFFICE), ("subcentre-s1", SUBCENTRE)):
        points = {i: plain_points(i, w, r, values[i], targets.get(i, t)) for i, w, r, t in scheme}
        out[kind] = (round(sum(points.values()), 4),
                     {i: (values[i], points[i]) for i, *_ in scheme})
    return out


def served(rankings: dict[str, Any]) -> dict[str, Any]:
    return {u["unit_id"]: (u["total"], {i["indicator"]: (i["value"], i["score"])
                                        for i in u["indicators"]})
            for kind in ("street_office", "investment_subcentre") for u in rankings[kind]}


async def agreed(platform, targets: dict[str, float], timeout: float = 60.0) -> dict:
    """Until the scorer's rankings equal the plain implementation's over the stored events."""
    gov = platform.as_("assessment", "district_government", user="gov")
    async with asyncio.timeout(timeout):
        while True:
            platform.assert_workers_alive()
            expected = plain_scores(plain_values(await stored_events(platform), month()),
                                    targets)
            found = (await gov.get("/rankings", params={"period": month()})).json()
            if served(found) == expected:
                return found
            await asyncio.sleep(0.5)


async def met_counts(platform) -> dict[tuple[str, str, str], int]:
    pool = platform.apps["assessment"].state.pool
    rows = await pool.fetch("SELECT data::text AS data FROM assessment.events "
                            "WHERE type = 'assessment.target.met'")
    counts: dict[tuple[str, str, str], int] = {}
    for row in rows:
        d = orjson.loads(row["data"])
        key = (d["unit_id"], d["indicator"], d["period"])
        counts[key] = counts.get(key, 0) + 1
    return counts


async def settled_met(platform, seconds: float = 4.0) -> dict:
    """target.met counts once they stop changing for a while (the check runs every second)."""
    last = await met_counts(platform)
    while True:
        await asyncio.sleep(seconds)
        now = await met_counts(platform)
        if now == last:
            return now
        last = now


async def test_a_day_of_activity_scores_as_a_plain_reading_of_its_events(platform):
    gov = platform.as_("assessment", "district_government", user="gov")
    await approve(gov, "street_office", OFFICE)
    await approve(gov, "investment_subcentre", SUBCENTRE)
    target = await gov.put(f"/units/office-s1/targets/consultations_served/{month()}",
                           json={"target": 2})
    assert target.status_code == 200, target.text
    await intake_day(platform)
    await grid_day(platform)
    await subcentre_day(platform)
    targets = {"consultations_served": 2.0}
    found = await agreed(platform, targets)
    assert [u["rank"] for u in found["street_office"]] == [1]
    explained = (await gov.get("/units/office-s1/indicators/case_closure_rate/explanation",
                               params={"period": month()})).json()
    assert {e["stream_id"] for e in explained["events"]["items"]} == {
        "case-e2e-1", "case-e2e-2", "case-e2e-3"}
    met = await settled_met(platform)
    assert met and set(met.values()) == {1}
    assert ("office-s1", "consultations_served", month()) in met

    # every event redelivered: nothing changes
    for sent in await republish(platform):
        await platform.handled_past("assessment", sent)
    assert served(await agreed(platform, targets)) == served(found)
    assert await settled_met(platform) == met

    # the worker killed mid-stream (more consultations arriving) and started again
    clerk = platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")
    for n in range(5):
        await clerk.post("/consultations", json={
            "community_id": "s1.c1", "topic": f"追问{n}", "matter_code": None,
            "answer": "已答复", "answered_by": "窗口"})
    restart_worker(platform)
    after = await agreed(platform, targets, timeout=90.0)
    assert served(after)["office-s1"][1]["consultations_served"][0] == 8.0
    assert await settled_met(platform) == met


async def republish(platform) -> list[Any]:
    """Every stored event of the three services produced again onto its topic; the last
    record sent to each partition."""
    producer = AIOKafkaProducer(bootstrap_servers=platform.settings.require_kafka())
    await producer.start()
    last: dict[tuple[str, int], Any] = {}
    try:
        for service in ("grid", "intake", "assessment"):
            follower = LogFollower(platform.apps[service].state.store)
            while not follower.caught_up:
                for e in await follower.poll():
                    m = to_message(e)
                    sent = await producer.send_and_wait(
                        platform.settings.topic(service), m.value, key=m.key,
                        headers=list(m.headers.items()))
                    last[(sent.topic, sent.partition)] = sent
    finally:
        await producer.stop()
    return list(last.values())


def restart_worker(platform) -> None:
    """Kill the assessment worker (SIGKILL: no clean shutdown) and start another."""
    old = next(w for w in platform.workers if w.args[-1] == "assessment")
    old.kill()
    old.wait(10)
    platform.workers.remove(old)
    env = {**os.environ, **{k: str(v) for k, v in platform_env(platform).items()}}
    worker = subprocess.Popen([sys.executable, "-m", "deploy.cli", "worker", "assessment"],
                              cwd=ROOT, env=env)
    RESTARTED.append(worker)
    platform.workers.append(worker)


def platform_env(platform) -> dict[str, str]:
    return platform.env



async def test_bad_reads_are_refused_with_the_field_at_fault(platform):
    gov = platform.as_("assessment", "district_government", user="gov")
    for path, params, status, field in (
            ("/rankings", {"period": "2026-13"}, 422, "period"),
            ("/units/office-s1/scores", {"period": "26-11"}, 422, "period"),
            ("/units/mayor-s1/scores", {"period": month()}, 422, "unit_id"),
            ("/units/office-s9/scores", {"period": month()}, 404, "unit_id"),
            ("/units/office-s1/indicators/happiness/explanation", {"period": month()}, 422,
             "indicator")):
        response = await gov.get(path, params=params)
        assert response.status_code == status, response.text
        assert response.json()["error"]["fields"][0]["field"] == field


async def test_a_closed_period_is_frozen_and_late_events_show_as_adjustments(platform):
    gov = platform.as_("assessment", "district_government", user="gov")
    before = (await gov.get("/rankings", params={"period": month()})).json()
    closed = await gov.post(f"/periods/{month()}/close")
    assert closed.status_code == 200, closed.text
    assert (await gov.post(f"/periods/{month()}/close")).status_code == 409
    assert (await gov.post("/periods/2026-Q5/close")).status_code == 422
    frozen = await platform.eventually("assessment", "/rankings", lambda r: r["closed"],
                                       period=month())
    assert served(frozen) == served(before)
    staff = platform.as_("assessment", "investment_staff:s1", user="sub-1")
    late = await staff.post("/visits", json={"street_id": "s1", "enterprise": "迟到的企业",
                                             "purpose": "回访", "visited_on": today()})
    assert late.status_code == 201, late.text
    path = "/units/subcentre-s1/indicators/enterprises_served/explanation"
    explained = await platform.eventually(
        "assessment", path, lambda e: e["adjustments"]["events"]["total"] == 1, period=month())
    assert explained["value"] == served(before)["subcentre-s1"][1]["enterprises_served"][0]
    assert explained["adjustments"]["live"]["value"] == explained["value"] + 1
    assert served((await gov.get("/rankings", params={"period": month()})).json()) == \
        served(before)
