"""The enforcement service end to end over HTTP, on real PostgreSQL and a real broker: the grid
service publishes the territory, enforcement learns it from Kafka; a street's team enrols
officers, logs activities, and takes violations from record to closure; every refusal writes
nothing; an overdue order is marked once; a grid case's referral is taken once and answered."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.enforcement.referrals import referral_violation_id, take_referral
from services.grid.case_events import CaseReferred
from services.grid.events import registry as grid_registry
from shared.envelope import GENESIS_HASH, seal
from tests.platform import draw_small_district, running

IN_S1 = {"lon": 104.105, "lat": 30.605}
NOWHERE = {"lon": 104.5, "lat": 30.9}
ID_NUMBER = "510108198001011234"
PHONE = "13800001234"


def finding(**changes) -> dict:
    return {"street_id": "s1", "type": "ps.noise_nuisance", "location": IN_S1,
            "address": "测试路1号", "evidence": ["photos/1.jpg"], "source": "patrol",
            "offender": {"kind": "person", "name": "张三", "id_number": ID_NUMBER,
                         "phone": PHONE}, **changes}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "enforcement"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        yield platform


@pytest.fixture
def officer(platform):
    return platform.as_("enforcement", "enforcement_officer:s1", user="officer-1")


@pytest.fixture
def office(platform):
    return platform.as_("enforcement", "street_office_staff:s1", user="office-1")


async def record(officer, **changes) -> str:
    recorded = await officer.post("/violations", json=finding(**changes))
    assert recorded.status_code == 201, recorded.text
    return recorded.json()["violation_id"]


async def test_the_street_office_enrols_officers_and_officers_log_activities(platform, officer,
                                                                            office):
    enrolled = await office.post("/teams/s1/officers", json={
        "officer_id": "officer-1", "name": "王警官", "force": "public_security"})
    assert enrolled.status_code == 201, enrolled.text
    again = await office.post("/teams/s1/officers", json={
        "officer_id": "officer-1", "name": "王警官", "force": "public_security"})
    assert again.status_code == 409
    logged = await officer.post("/teams/s1/activities", json={
        "kind": "patrol", "summary": "夜间巡逻 night patrol", "at": "2026-11-25T21:00:00+08:00",
        "officers": ["officer-1"]})
    assert logged.status_code == 201, logged.text
    token = logged.json()["consistency_token"]
    team = (await office.get("/teams/s1", params={"after": token})).json()
    assert [o["officer_id"] for o in team["officers"]] == ["officer-1"]
    activities = (await office.get("/teams/s1/activities")).json()
    assert activities["items"][0]["kind"] == "patrol"
    unknown = await office.post("/teams/s9/officers", json={
        "officer_id": "x1", "name": "某", "force": "traffic_order"})
    assert unknown.status_code == 403  # the street office of s1 is not s9's


async def test_a_violation_goes_from_record_to_closure(platform, officer):
    violation_id = await record(officer)
    steps = [
        ("rectification", {}, 409),  # nothing ordered yet
        ("decision", {"decision": "fine", "amount": 300, "rectify": True}, 200),
        ("decision", {"decision": "warning"}, 409),
        ("closure", {}, 409),  # an order closes only once verified
        ("rectification", {"note": "已降低音量"}, 200),
        ("verification", {"passed": False, "note": "仍有噪声"}, 200),
        ("rectification", {"note": "已拆除音箱"}, 200),
        ("verification", {"passed": True}, 200),
        ("dismissal", {"reason": "too late"}, 409),
    ]
    for step, body, status in steps:
        response = await officer.post(f"/violations/{violation_id}/{step}", json=body)
        assert response.status_code == status, (step, response.text)
    done = await officer.get(f"/violations/{violation_id}")
    assert done.status_code == 200, done.text
    shown = done.json()
    assert (shown["status"], shown["decision"], shown["amount"]) == ("closed", "fine", 300)
    assert shown["rectified"] is True and shown["on_time"] is True
    assert [s["type"].rsplit(".", 2)[-2:] for s in shown["steps"]] == [
        ["violation", "recorded"], ["violation", "decided"], ["rectification", "reported"],
        ["rectification", "verified"], ["rectification", "reported"],
        ["rectification", "verified"], ["violation", "closed"]]
    assert shown["grid_id"] == "s1.c1.g1" and shown["offender_id_number"] == ID_NUMBER


async def test_every_refusal_answers_its_field_and_writes_nothing(platform, officer):
    violation_id = await record(officer, type="to.illegal_parking")  # 20-200 yuan
    other_street = platform.as_("enforcement", "enforcement_officer:s2", user="officer-9")
    before = await platform.events_stored("enforcement")
    refusals = [
        (officer.post("/violations", json=finding(type="cm.no_such_type")), 422, "type"),
        (officer.post("/violations", json=finding(location=NOWHERE)), 422, "location"),
        (other_street.post("/violations", json=finding()), 403, None),
        (officer.post(f"/violations/{violation_id}/decision",
                      json={"decision": "fine", "amount": 201}), 422, "amount"),
        (officer.post(f"/violations/{violation_id}/decision",
                      json={"decision": "fine", "amount": 19}), 422, "amount"),
        (other_street.post(f"/violations/{violation_id}/decision",
                           json={"decision": "warning"}), 403, None),
        (officer.post(f"/violations/{violation_id}/verification", json={"passed": True}),
         409, "status"),
        (officer.post("/violations/nothing/decision", json={"decision": "warning"}), 404,
         "violation_id"),
    ]
    for call, status, field in refusals:
        response = await call
        assert response.status_code == status, response.text
        if field:
            assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert await platform.events_stored("enforcement") == before


async def test_an_overdue_order_is_marked_once_by_two_checks_at_once(platform, officer):
    violation_id = await record(officer, type="cm.street_vending")
    decided = await officer.post(f"/violations/{violation_id}/decision",
                                 json={"decision": "rectification_order"})
    assert decided.status_code == 200, decided.text
    await officer.get("/violations", params={"after": decided.json()["consistency_token"]})
    enforcement = platform.apps["enforcement"].state.enforcement
    late = datetime.now(UTC) + timedelta(days=3)
    assert await enforcement.check_overdue(datetime.now(UTC)) == 0
    first, second = await asyncio.gather(enforcement.check_overdue(late),
                                         enforcement.check_overdue(late))
    assert first + second == 1
    assert await enforcement.check_overdue(late + timedelta(days=1)) == 0
    stream = await platform.apps["enforcement"].state.store.read_stream(
        f"violation-{violation_id}")
    assert [e.type for e in stream].count("enforcement.rectification.overdue") == 1


def referred(referral_id: str) -> object:
    event = CaseReferred(
        case_id="c0123456789abcdef", street_id="s1", community_id="s1.c1", grid_id="s1.c1.g1",
        referral_id=referral_id, domain="city_management", violation_hint="占道经营 street stall",
        category="problem.street_order", description="门口摆摊", location=IN_S1,
        address="测试路2号", photos=["photos/2.jpg"], referred_at=datetime.now(UTC))
    return seal(grid_registry.to_new_event(event), source="grid",
                stream_id="case-c0123456789abcdef", stream_version=3, prev_hash=GENESIS_HASH)


async def test_a_referral_taken_twice_records_one_violation_and_its_closure_answers_the_case(
        platform, officer):
    repo = platform.apps["enforcement"].state.repository
    envelope = referred("r-e2e-1")
    results = await asyncio.gather(take_referral(repo, envelope), take_referral(repo, envelope))
    assert await take_referral(repo, envelope) is None
    assert sum(r is not None for r in results) == 1
    violation_id = referral_violation_id("r-e2e-1")
    stream = await repo.store.read_stream(f"violation-{violation_id}")
    assert [e.type for e in stream] == ["enforcement.violation.recorded"]
    assert stream[0].data["type_code"] == "cm.street_vending"
    assert stream[0].data["source"] == "referral"
    await officer.post(f"/violations/{violation_id}/decision",
                       json={"decision": "fine", "amount": 100})
    closed = await officer.post(f"/violations/{violation_id}/closure", json={})
    assert closed.status_code == 200, closed.text
    stream = await repo.store.read_stream(f"violation-{violation_id}")
    concluded = stream[-1]
    assert concluded.type == "enforcement.referral.concluded"
    assert concluded.data | {"concluded_at": None, "summary": None} == {
        "referral_id": "r-e2e-1", "case_id": "c0123456789abcdef", "street_id": "s1",
        "community_id": "s1.c1", "grid_id": "s1.c1.g1", "outcome": "penalized",
        "violation_id": violation_id, "concluded_at": None, "summary": None}
    assert stream[-2].type == "enforcement.violation.closed"
    assert len(closed.json()["positions"]) == 2  # both in the closing append


async def test_personal_data_is_clear_only_to_the_streets_officers(platform, officer, office):
    violation_id = await record(officer)
    clear = (await officer.get(f"/violations/{violation_id}")).json()
    hidden = (await office.get(f"/violations/{violation_id}")).json()
    assert (clear["offender_id_number"], clear["offender_phone"]) == (ID_NUMBER, PHONE)
    assert hidden["offender_id_number"] == "5101**********1234"
    assert hidden["offender_phone"] == "1380***1234"
    exported = await office.get("/violations/export", params={"format": "jsonl"})
    assert exported.status_code == 200 and ID_NUMBER not in exported.text
    assert exported.headers["content-type"].startswith("application/x-ndjson")


async def test_hot_spots_rates_and_repeat_offenders_follow_the_violations(platform, officer):
    first = await record(officer, offender={"kind": "business", "name": "某餐馆",
                                            "licence": "91510108MA0000001X"})
    second = await record(officer, type="cm.open_air_barbecue",
                          offender={"kind": "business", "name": "某餐馆",
                                    "licence": "91510108MA0000001X"})
    token = (await officer.post(f"/violations/{second}/decision",
                                json={"decision": "warning"})).json()["consistency_token"]
    repeat = (await officer.get("/repeat-offenders", params={"after": token})).json()
    mine = [r for r in repeat["items"] if r["offender_name"] == "某餐馆"]
    assert len(mine) == 1 and mine[0]["violation_ids"] == [first, second]
    spots = (await officer.get("/hotspots", params={"format": "geojson"})).json()
    grid = next(f for f in spots["features"] if f["properties"]["grid_id"] == "s1.c1.g1")
    assert grid["geometry"]["type"] == "Polygon"
    assert grid["properties"]["by_type"]["cm.open_air_barbecue"] >= 1
    rates = (await officer.get("/indicators")).json()["items"]
    s1 = next(r for r in rates if r["street_id"] == "s1")
    assert s1["violations"] >= 2 and s1["ordered"] >= 1
    assert s1["open_by_domain"]["city_management"] >= 2
    csv_text = (await officer.get("/violations/export", params={"open": "true"})).text
    assert csv_text.splitlines()[0].startswith("violation_id,") and first in csv_text


async def test_a_recording_retried_with_its_idempotency_key_is_stored_once(platform, officer):
    key = {"Idempotency-Key": "patrol-7/2026-11-25/0001"}
    first = await officer.post("/violations", json=finding(), headers=key)
    again = await officer.post("/violations", json=finding(), headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    stream = await platform.apps["enforcement"].state.store.read_stream(
        f"violation-{first.json()['violation_id']}")
    assert len(stream) == 1
