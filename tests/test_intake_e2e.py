"""The front desk end to end over HTTP, on real PostgreSQL and a real broker: the grid service
publishes the territory, intake learns it from Kafka, a matter is admitted, an application
goes through filing, return, new materials, acceptance and completion, each step on the topic."""

import asyncio
import datetime as dt

import pytest
from aiokafka import AIOKafkaConsumer

from tests.platform import admit_matters, draw_small_district, proposal, running

INSIDE = {"lon": 104.105, "lat": 30.605}
IN_OTHER_COMMUNITY = {"lon": 104.115, "lat": 30.605}


def filing(matter_code: str = "cm.residence_certificate", **changes) -> dict:
    return {"matter_code": matter_code, "community_id": "s1.c1",
            "applicant": {"name": "张秀英", "id_number": "510108198001010000"},
            "address": "建设路1号", "location": INSIDE, "materials": ["id_card"], **changes}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        await admit_matters(
            platform, proposal("cm.residence_certificate"),
            proposal("st.pension", level="street", name_zh="养老保险登记",
                     name_en="Pension enrolment"),
            proposal("dt.business_licence", level="district", name_zh="营业执照",
                     name_en="Business licence"))
        yield platform


@pytest.fixture
def intake(platform):
    """The front-desk clerk of community s1.c1, where the filings are made."""
    return platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")


def department(platform, code: str):
    return platform.as_("intake", f"district_department:{code}", user=f"dept-{code}")


def government(platform):
    return platform.as_("intake", "district_government", user="gov-1")


async def test_an_application_goes_from_filing_to_completion(intake, platform):
    filed = await intake.post("/applications", json=filing())
    assert filed.status_code == 201, filed.text
    app_id = filed.json()["application_id"]
    steps = [
        ("acceptance", {}, 409),  # household register missing: must be returned instead
        ("return", {"missing": ["household_register"]}, 200),
        ("acceptance", {}, 409),
        ("materials", {"materials": ["household_register"]}, 200),
        ("acceptance", {}, 200),
        ("completion", {"result": "证明已开具 certificate issued"}, 200),
        ("refusal", {"reason": "too late"}, 409),
    ]
    for step, body, status in steps:
        response = await intake.post(f"/applications/{app_id}/{step}", json=body)
        assert response.status_code == status, (step, response.text)
    done = await platform.eventually("intake", f"/applications/{app_id}",
                                     lambda a: a["status"] == "completed")
    assert done["handled_at"] == "community" and done["on_time"] is True
    types = await event_types_on_topic(platform, "intake", f"application-{app_id}", 5)
    assert types == ["intake.application.filed", "intake.application.returned",
                     "intake.application.resubmitted", "intake.application.accepted",
                     "intake.application.completed"]


async def test_deadline_counts_working_days(intake, platform):
    filed = await intake.post("/applications", json=filing())
    app = await platform.eventually("intake", f"/applications/{filed.json()['application_id']}",
                                    lambda a: True)
    filed_on = dt.datetime.fromisoformat(app["filed_at"]).date()
    deadline = dt.date.fromisoformat(app["deadline"])
    assert deadline.weekday() < 5 and (deadline - filed_on).days >= 3


async def test_street_matter_goes_to_the_public_service_centre(intake, platform):
    filed = await intake.post("/applications", json=filing("st.pension",
                                                           materials=["id_card",
                                                                      "household_register"]))
    app_id = filed.json()["application_id"]
    accepted = await intake.post(f"/applications/{app_id}/acceptance", json={})
    assert accepted.status_code == 200
    app = await platform.eventually("intake", f"/applications/{app_id}",
                                    lambda a: a["status"] == "accepted")
    assert app["handled_at"] == "street_public_service_centre"
    [request] = (await platform["intake"].get(f"/open311/v2/requests/{app_id}.json")).json()
    assert request["agency_responsible"] == "测试街道公共服务中心 Test public service centre"


async def test_district_matter_is_referred_at_once(intake, platform):
    filed = await intake.post("/applications", json=filing("dt.business_licence"))
    app = await platform.eventually("intake", f"/applications/{filed.json()['application_id']}",
                                    lambda a: a["status"] == "referred")
    assert app["handled_at"] == "district"


@pytest.mark.parametrize("change, field", [
    ({"matter_code": "cm.no_such_matter"}, "matter_code"),
    ({"location": IN_OTHER_COMMUNITY}, "location"),
    ({"location": {"lon": 0, "lat": 0}}, "location"),
    ({"community_id": "s1.nowhere"}, "community_id"),
    ({"applicant": None}, "applicant"),
    ({"applicant": {"name": "", "id_number": "5101"}}, "applicant.name"),
], ids=["unknown-matter", "outside-community", "outside-district", "unknown-community",
        "missing-applicant", "empty-applicant-name"])
async def test_bad_filings_get_a_clear_4xx_and_write_nothing(intake, platform, change, field):
    store = platform.apps["intake"].state.store
    before = await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events")
    response = await intake.post("/applications", json=filing(**change))
    assert 400 <= response.status_code < 500
    assert field in [f["field"] for f in response.json()["error"]["fields"]], response.text
    assert await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events") == before


async def test_a_matter_not_admitted_is_refused_until_it_is(intake, platform):
    pending = proposal("cm.pending_matter")
    assert (await department(platform, "civil_affairs").post(
        "/catalogue/proposals", json=pending)).status_code == 201
    response = await intake.post("/applications", json=filing("cm.pending_matter"))
    assert response.status_code == 422
    assert "not admitted" in response.json()["error"]["message"]
    for reviewer in pending["reviewers"]:
        review = {"department": reviewer["code"], "verdict": "approve"}
        assert (await department(platform, reviewer["code"]).post(
            "/catalogue/cm.pending_matter/reviews", json=review)).status_code == 201
    decision = {"decision": "approve"}
    assert (await government(platform).post("/catalogue/cm.pending_matter/decision",
                                            json=decision)).status_code == 201
    response = await intake.post("/applications", json=filing("cm.pending_matter"))
    assert response.status_code == 201, response.text


async def test_the_acting_person_is_recorded_with_each_event_from_their_token(platform):
    clerk = platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-0042")
    headers = {"X-Actor-Id": "someone-else", "X-Actor-Role": "administrator"}  # ignored
    filed = await clerk.post("/applications", json=filing(), headers=headers)
    assert filed.status_code == 201, filed.text
    store = platform.apps["intake"].state.store
    [event] = await store.read_stream(filed.json()["stream_id"])
    assert (event.actor.user_id, event.actor.role) == ("clerk-0042", "front_desk_clerk")


async def test_admission_steps_out_of_order_get_409_with_a_reason(platform):
    code, gov = "cm.out_of_order", government(platform)
    decision = await gov.post(f"/catalogue/{code}/decision", json={"decision": "approve"})
    assert decision.status_code == 404  # no such matter yet: an unknown id, not a wrong step
    await department(platform, "civil_affairs").post("/catalogue/proposals",
                                                     json=proposal(code))
    early = await gov.post(f"/catalogue/{code}/decision", json={"decision": "approve"})
    assert early.status_code == 409 and "legal_affairs" in early.json()["error"]["message"]
    objection = await department(platform, "legal_affairs").post(
        f"/catalogue/{code}/reviews", json={"department": "legal_affairs", "verdict": "object",
                                            "reason": "overlaps another matter"})
    assert objection.status_code == 201
    over = await gov.post(f"/catalogue/{code}/decision", json={"decision": "approve"})
    assert over.status_code == 409 and "overlaps" in over.json()["error"]["message"]
    rejected = await gov.post(f"/catalogue/{code}/decision", json={"decision": "reject",
                                                                    "reason": "overlap"})
    assert rejected.status_code == 201
    history = await gov.get(f"/catalogue/{code}/history")
    assert [e["type"] for e in history.json()["items"]] == [
        "intake.matter.proposed", "intake.matter.reviewed", "intake.matter.rejected"]


async def test_consultations_are_recorded(intake, platform):
    response = await intake.post("/consultations", json={
        "community_id": "s1.c1", "topic": "养老保险怎么交", "matter_code": "st.pension",
        "answer": "带身份证到街道公共服务中心办理", "answered_by": "窗口 王丽华"})
    assert response.status_code == 201, response.text
    await platform.eventually("intake", "/consultations", lambda p: p["total"] == 1,
                              community_id="s1.c1")


async def event_types_on_topic(platform, service: str, stream_id: str, count: int) -> list[str]:
    consumer = AIOKafkaConsumer(platform.settings.topic(service),
                                bootstrap_servers=platform.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest")
    await consumer.start()
    seen: dict[str, str] = {}
    try:
        async with asyncio.timeout(30):
            while len(seen) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for m in records:
                        headers = dict(m.headers)
                        if headers["ce_streamid"].decode() == stream_id:
                            seen[headers["ce_id"].decode()] = headers["ce_type"].decode()
    finally:
        await consumer.stop()
    return list(seen.values())


async def test_a_filing_retried_with_its_idempotency_key_is_stored_once(intake, platform):
    store = platform.apps["intake"].state.store
    key = {"Idempotency-Key": "station-7/2026-11-25/0042"}
    first = await intake.post("/applications", json=filing(), headers=key)
    again = await intake.post("/applications", json=filing(), headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert len(await store.read_stream(first.json()["stream_id"])) == 1
    twins = await asyncio.gather(*(intake.post("/applications", json=filing(), headers={
        "Idempotency-Key": "station-7/2026-11-25/0043"}) for _ in range(3)))
    assert {t.status_code for t in twins} == {201}
    assert len({t.json()["application_id"] for t in twins}) == 1
    assert len(await store.read_stream(twins[0].json()["stream_id"])) == 1


async def test_an_idempotency_key_reused_for_another_filing_is_refused(intake, platform):
    store = platform.apps["intake"].state.store
    key = {"Idempotency-Key": "station-7/2026-11-25/0050"}
    assert (await intake.post("/applications", json=filing(), headers=key)).status_code == 201
    before = await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events")
    other = await intake.post("/applications", json=filing(address="建设路2号"), headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["fields"][0]["field"] == "Idempotency-Key", other.text
    too_long = await intake.post("/applications", json=filing(),
                                 headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events") == before
