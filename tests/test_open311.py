"""Open311 GeoReport v2 end to end, driven as an Open311 client drives it (form-encoded POSTs,
.json and .xml resources), on real PostgreSQL and a real broker: the grid service publishes
the territory, intake learns it from Kafka, matters are admitted, requests are filed."""

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.demo import admit
from services.intake.open311_format import as_open311
from services.intake.problem_types import PROBLEM_TYPES
from shared.access import Forbidden
from shared.kafka import from_message
from shared.tokens import Unauthenticated
from tests.platform import draw_small_district, proposal, running

BASE = "/open311/v2"
KEY = "jiedao-demo-key"  # Settings.demo_api_key's default
MATTER = "cm.residence_certificate"
DISTRICT_MATTER = "dt.business_licence"
PENDING_MATTER = "cm.pending_matter"
INSIDE = {"lat": "30.605", "long": "104.105"}  # in grid s1.c1.g1 of community s1.c1
IN_OTHER_COMMUNITY = {"lat": "30.605", "long": "104.115"}
OUTSIDE = {"lat": "30.5", "long": "104.0"}


def filing(**changes) -> dict:
    """A form-encoded filing for MATTER, as an Open311 client sends it."""
    form = {
        "api_key": KEY, "service_code": MATTER, **INSIDE, "address_string": "建设路1号",
        "attribute[applicant_name]": "张秀英", "attribute[applicant_id_number]":
        "510108198001010000", "attribute[community_id]": "s1.c1",
        "attribute[materials][]": ["id_card", "household_register"],
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def problem(**changes) -> dict:
    form = {"api_key": KEY, "service_code": "problem.streetscape", **INSIDE,
            "address_string": "建设路与府青路交叉口", "description": "垃圾桶满溢 overflowing bins",
            "email": "resident@example.com", "device_id": "phone-1"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        intake = platform["intake"]
        assert await admit(intake, proposal(MATTER), platform.sign_in)
        assert await admit(intake, proposal(DISTRICT_MATTER, level="district",
                                            name_zh="营业执照", name_en="Business licence"),
                           platform.sign_in)
        pending = await intake.post("/catalogue/proposals", json=proposal(PENDING_MATTER),
                                    headers=await platform.sign_in(
                                        "district_department:civil_affairs"))
        assert pending.status_code == 201  # proposed, never decided: not a service
        await platform.eventually("intake", "/catalogue", lambda p: p["total"] == 2)
        yield platform


@pytest.fixture
def client(platform):
    """An Open311 client: signed in as no one (its POSTs carry an api_key)."""
    return platform["intake"]


def xml_of(response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


async def eventually(client, path: str, check, timeout: float = 45.0, **params):
    async with asyncio.timeout(timeout):
        while True:
            response = await client.get(path, params=params)
            if response.status_code == 200 and check(response.json()):
                return response.json()
            await asyncio.sleep(0.2)


async def event_count(platform) -> int:
    store = platform.apps["intake"].state.store
    return await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events")


# -- discovery and services ------------------------------------------------------------------


async def test_discovery_names_this_endpoint_in_both_formats(client):
    doc = (await client.get(f"{BASE}/discovery.json")).json()
    assert doc["endpoints"] == [{
        "specification": "http://wiki.open311.org/GeoReport_v2", "url": "http://intake/open311/v2",
        "changeset": doc["changeset"], "type": "production",
        "formats": ["text/xml", "application/json"]}]
    assert doc["contact"] and doc["key_service"] and KEY not in doc["key_service"]
    root = xml_of(await client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/url") == "http://intake/open311/v2"


async def test_services_are_the_admitted_matters_and_the_problem_types(client):
    response = await client.get(f"{BASE}/services.json", params={"jurisdiction_id": "x.gov"})
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in response.json()}
    assert set(services) == {MATTER, DISTRICT_MATTER} | {t.code for t in PROBLEM_TYPES}
    matter = services[MATTER]
    assert matter["service_name"] == "居住证明 Certificate of residence"
    assert matter["metadata"] is True and matter["type"] == "realtime"
    assert matter["group"] == "民政 Civil affairs" and "3 working days" in matter["description"]
    assert services["problem.streetscape"]["metadata"] is False
    assert services["problem.streetscape"]["group"] == "问题上报 problem reports"

    root = xml_of(await client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    by_code = {s.findtext("service_code"): s for s in root.findall("service")}
    assert set(by_code) == set(services)
    assert by_code[MATTER].findtext("metadata") == "true"
    assert by_code["problem.landscaping"].findtext("metadata") == "false"
    assert by_code[MATTER].findtext("service_name") == "居住证明 Certificate of residence"


async def test_a_matters_definition_lists_applicant_station_and_materials(client):
    definition = (await client.get(f"{BASE}/services/{MATTER}.json")).json()
    assert definition["service_code"] == MATTER
    attributes = definition["attributes"]
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in attributes] == [
        ("applicant_name", "string", True, 1), ("applicant_id_number", "string", True, 2),
        ("applicant_phone", "string", False, 3), ("community_id", "string", True, 4),
        ("materials", "multivaluelist", False, 5)]
    assert attributes[4]["values"] == [
        {"key": "id_card", "name": "居民身份证 ID card"},
        {"key": "household_register", "name": "户口簿 Household register"}]

    root = xml_of(await client.get(f"{BASE}/services/{MATTER}.xml"))
    assert root.tag == "service_definition"
    materials = root.find("attributes/attribute[code='materials']")
    assert materials.findtext("variable") == "true"
    assert [v.findtext("key") for v in materials.findall("values/value")] == [
        "id_card", "household_register"]

    problem_type = (await client.get(f"{BASE}/services/problem.streetscape.json")).json()
    assert problem_type == {"service_code": "problem.streetscape", "attributes": []}


# -- POST and GET requests -------------------------------------------------------------------


async def test_a_form_encoded_filing_is_an_application_at_the_station(client, platform):
    response = await client.post(f"{BASE}/requests.json", data=filing(
        **{"attribute[materials][]": ["id_card"], "attribute[applicant_name]": None},
        first_name="秀英", last_name="张", phone="13800000000", account_id="resident-7"))
    assert response.status_code == 200, response.text
    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    [created] = response.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] is None  # no personal data in an Open311 response
    assert "community service station" in created["service_notice"]
    assert "still missing: 户口簿 Household register" in created["service_notice"]
    request_id = created["service_request_id"]

    [filed] = await platform.apps["intake"].state.store.read_stream(f"application-{request_id}")
    assert filed.type == "intake.application.filed"
    assert filed.data["applicant"] == {"name": "张秀英", "id_number": "510108198001010000",
                                       "phone": "13800000000"}
    assert filed.data["materials"] == ["id_card"] and filed.data["grid_id"] == "s1.c1.g1"
    assert filed.actor.user_id == "open311:resident-7"

    [request] = await eventually(client, f"{BASE}/requests/{request_id}.json", lambda r: True)
    assert request["status"] == "open" and request["service_code"] == MATTER
    assert request["agency_responsible"] == "测试社区服务站 Test Service Station"
    assert request["expected_datetime"].endswith("T23:59:59+08:00")
    assert dt.datetime.fromisoformat(request["requested_datetime"]).utcoffset()
    assert "张" not in str(request) and "5101" not in str(request)  # no personal data

    token = await client.get(f"{BASE}/tokens/{request_id}.xml")
    request_xml = xml_of(token).find("request")
    assert request_xml.findtext("service_request_id") == request_xml.findtext("token")


async def test_a_returned_application_says_what_is_missing(client, platform):
    response = await client.post(f"{BASE}/requests.xml", data=filing(
        **{"attribute[materials][]": "id_card"}))
    assert response.status_code == 200, response.text
    request_id = xml_of(response).findtext("request/service_request_id")
    clerk = platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")
    back = await clerk.post(f"/applications/{request_id}/return",
                            json={"missing": ["household_register"]})
    assert back.status_code == 200
    [request] = await eventually(client, f"{BASE}/requests/{request_id}.json",
                                 lambda r: "returned" in r[0]["status_notes"])
    assert request["status"] == "open"
    assert request["status_notes"].endswith("户口簿 Household register")


async def test_a_problem_report_lands_in_a_grid_and_on_the_topic(client, platform):
    response = await client.post(f"{BASE}/requests.json", data=problem())
    assert response.status_code == 200, response.text
    [created] = response.json()
    assert "s1.c1.g1" in created["service_notice"] and created["account_id"] is None
    problem_id = created["service_request_id"]

    event = await event_on_topic(platform, f"problem-{problem_id}")
    assert event.type == "intake.problem.reported"
    assert event.data["grid_id"] == "s1.c1.g1" and event.scope.grid_id == "s1.c1.g1"
    assert event.data["reporter"] == {"email": "resident@example.com", "device_id": "phone-1"}

    found = await eventually(client, f"{BASE}/requests.json", lambda r: len(r) == 1,
                             service_code="problem.streetscape")
    assert found[0]["lat"] == 30.605 and found[0]["long"] == 104.105
    assert found[0]["status"] == "open" and found[0]["address"] == "建设路与府青路交叉口"
    assert "resident@example.com" not in str(found)


PERSONAL = {"first_name": "秀英", "last_name": "张", "email": "xiuying@example.com",
            "phone": "13912345678", "device_id": "device-4711", "account_id": "account-0815"}


async def test_no_open311_response_carries_personal_data(client, platform):
    """Open311 is public (no sign-in on GET): neither the applicant's name, ID or phone
    number nor a reporter's name, email, phone, device or account id is ever answered."""
    application = filing(**PERSONAL, **{"attribute[applicant_name]": "王秀兰",
                                        "attribute[applicant_phone]": "13787654321",
                                        "attribute[applicant_id_number]": "510108197002021234"})
    posted = [await client.post(f"{BASE}/requests.json", data=application),
              await client.post(f"{BASE}/requests.xml", data=problem(**PERSONAL))]
    assert [p.status_code for p in posted] == [200, 200], [p.text for p in posted]
    ids = [posted[0].json()[0]["service_request_id"],
           xml_of(posted[1]).findtext("request/service_request_id")]
    answers = posted + [await client.get(f"{BASE}/requests/{i}.{fmt}")
                        for i in ids for fmt in ("json", "xml")]
    answers += [await client.get(f"{BASE}/tokens/{i}.json") for i in ids]
    answers.append(await client.get(f"{BASE}/requests.json",
                                    params={"service_request_id": ",".join(ids)}))
    answers.append(await client.get(f"{BASE}/requests.xml"))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    personal = [*PERSONAL.values(), "王秀兰", "13787654321", "510108197002021234"]
    for answer in answers:
        assert not [value for value in personal if value in answer.text], answer.text


async def test_open311_reads_need_no_sign_in_and_a_signed_in_caller_may_read_too(
        client, platform):
    anyone = await client.get(f"{BASE}/services.json")
    signed_in = await platform.as_("intake", "resident", user="r-1").get(f"{BASE}/services.json")
    assert anyone.status_code == signed_in.status_code == 200
    assert anyone.json() == signed_in.json()


async def test_requests_filter_by_id_code_status_and_dates(client):
    [district] = (await client.post(f"{BASE}/requests.json", data=filing(
        service_code=DISTRICT_MATTER))).json()
    [matter] = (await client.post(f"{BASE}/requests.json", data=filing())).json()
    ids = [district["service_request_id"], matter["service_request_id"]]
    both = await eventually(client, f"{BASE}/requests.json", lambda r: len(r) == 2,
                            service_request_id=",".join(ids), status="closed")  # ids win
    assert {r["service_request_id"] for r in both} == set(ids)

    closed = await eventually(client, f"{BASE}/requests.json", lambda r: len(r) == 1,
                              status="closed")
    assert [r["service_request_id"] for r in closed] == [ids[0]]
    assert "referred" in closed[0]["status_notes"] and closed[0]["expected_datetime"] is None
    opened = (await client.get(f"{BASE}/requests.json", params=[
        ("status", "open"), ("service_code", MATTER)])).json()
    assert ids[1] in {r["service_request_id"] for r in opened}
    assert {r["service_code"] for r in opened} == {MATTER}
    assert all(r["status"] == "open" for r in opened)

    now = dt.datetime.now(dt.UTC)
    future = {"start_date": (now + dt.timedelta(days=1)).isoformat(timespec="seconds")}
    assert (await client.get(f"{BASE}/requests.json", params=future)).json() == []
    recent = {"start_date": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end_date": (now + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    root = xml_of(await client.get(f"{BASE}/requests.xml", params=recent))
    assert root.tag == "service_requests"
    assert set(ids) <= {r.findtext("service_request_id") for r in root.findall("request")}


@pytest.mark.parametrize("params, fragment", [
    ({"status": "pending"}, "status:"),
    ({"start_date": "2012-01-01T00:00:00Z", "end_date": "2012-06-01T00:00:00Z"}, "90 days"),
    ({"start_date": "2012-01-01"}, "start_date:"),
    ({"start_date": "2012-02-01T00:00:00Z", "end_date": "2012-01-01T00:00:00Z"}, "end_date:"),
], ids=["bad-status", "over-90-days", "no-time-zone", "end-before-start"])
async def test_bad_request_queries_get_400(client, params, fragment):
    response = await client.get(f"{BASE}/requests.json", params=params)
    assert response.status_code == 400
    assert fragment in response.json()[0]["description"]


# -- errors, in Open311's format, with nothing written ---------------------------------------


@pytest.mark.parametrize("form, status, fragment", [
    (filing(api_key=None), 403, "api_key"),
    (filing(api_key="not-a-key"), 403, "api_key"),
    (filing(service_code="cm.no_such_matter"), 404, "service_code"),
    (filing(service_code=PENDING_MATTER), 404, "service_code"),
    (filing(service_code=None), 400, "service_code"),
    (filing(**OUTSIDE), 400, "lat/long"),
    (filing(**IN_OTHER_COMMUNITY), 400, "lat/long"),
    (filing(lat=None, long=None), 400, "address_string or address_id alone"),
    (filing(lat="north"), 400, "lat"),
    (filing(**{"attribute[applicant_id_number]": None}), 400, "attribute[applicant_id_number]"),
    (filing(**{"attribute[community_id]": "s1.nowhere"}), 400, "attribute[community_id]"),
    (filing(**{"attribute[materials][]": ["id_card", "passport"]}), 400, "passport"),
    (filing(**{"attribute[colour]": "red"}), 400, "attribute[colour]"),
    (filing(address_string=None), 400, "address_string"),
    (problem(**OUTSIDE), 400, "lat/long"),
    (problem(description="x" * 4001), 400, "description"),
], ids=["missing-api-key", "bad-api-key", "unknown-service", "matter-not-admitted",
        "no-service-code",
        "outside-district", "outside-community", "address-only", "lat-not-a-number",
        "missing-attribute", "unknown-community", "unknown-material", "unknown-attribute",
        "no-address", "problem-outside-district", "description-too-long"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_bad_posts_get_open311_errors_and_write_nothing(client, platform, form, status,
                                                              fragment, fmt):
    before = await event_count(platform)
    response = await client.post(f"{BASE}/requests.{fmt}", data=form)
    assert response.status_code == status, response.text
    if fmt == "json":
        errors = [(e["code"], e["description"]) for e in response.json()]
    else:
        root = xml_of(response)
        assert root.tag == "errors"
        errors = [(int(e.findtext("code")), e.findtext("description"))
                  for e in root.findall("error")]
    assert errors and all(code == status for code, _ in errors)
    assert any(fragment in description for _, description in errors), errors
    assert await event_count(platform) == before


async def test_all_missing_attributes_are_reported_at_once(client):
    response = await client.post(f"{BASE}/requests.json", data=filing(**{
        "attribute[applicant_name]": None, "attribute[community_id]": None}))
    described = [e["description"].split(":")[0] for e in response.json()]
    assert described == ["attribute[applicant_name]", "attribute[community_id]"]


async def test_a_json_body_is_refused(client):
    response = await client.post(f"{BASE}/requests.json", json={"api_key": KEY})
    assert response.status_code == 400 and "x-www-form-urlencoded" in response.text


@pytest.mark.parametrize("path, fragment", [
    ("/services/cm.no_such_matter.json", "service_code"),
    (f"/services/{PENDING_MATTER}.xml", "service_code"),
    ("/requests/0123456789abcdef.json", "service_request_id"),
    ("/tokens/0123456789abcdef.json", "token"),
    ("/services.html", "format"),
    ("/services", "no such Open311 resource"),
], ids=["service", "pending-matter", "request", "token", "format", "no-format"])
async def test_what_does_not_exist_is_404_in_open311_format(client, path, fragment):
    response = await client.get(BASE + path)
    assert response.status_code == 404
    if path.endswith(".json"):
        [error] = response.json()
    else:
        error = {e.tag: e.text for e in xml_of(response).find("error")}
        error["code"] = int(error["code"])
    assert error["code"] == 404 and fragment in error["description"]


def test_a_caller_refused_on_an_open311_route_gets_open311s_401_or_403():
    assert (as_open311(Unauthenticated("sign in")).status, as_open311(Forbidden("no")).status) \
        == (401, 403)


async def event_on_topic(platform, stream_id: str):
    consumer = AIOKafkaConsumer(platform.settings.topic("intake"),
                                bootstrap_servers=platform.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for m in records:
                        if dict(m.headers)["ce_streamid"].decode() == stream_id:
                            return from_message(m.headers, m.key, m.value)
    finally:
        await consumer.stop()

