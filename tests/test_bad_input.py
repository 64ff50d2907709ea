"""Bad input gets a clear 4xx, never a 500, and nothing is written; an Idempotency-Key works on
every command and belongs to its caller. Over HTTP, on real PostgreSQL and a real broker."""

import asyncio
import json

import pytest

from tests.platform import small_district

MATTER = "cm.residence_certificate"
INSIDE = {"lon": 104.105, "lat": 30.605}
OPEN311 = "/open311/v2/requests.json"


def filing(**changes) -> dict:
    return {"matter_code": MATTER, "community_id": "s1.c1",
            "applicant": {"name": "张秀英", "id_number": "510108198001010000"},
            "address": "建设路1号", "location": INSIDE,
            "materials": ["id_card", "household_register"], **changes}


def problem_form(**changes) -> dict:
    return {"api_key": "jiedao-demo-key", "service_code": "problem.streetscape",
            "lat": "30.605", "long": "104.105", "description": "垃圾桶满溢", **changes}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with small_district(["grid", "intake"], database_url, kafka_bootstrap,
                              tmp_path_factory.mktemp("jiedao"), MATTER) as platform:
        yield platform


@pytest.fixture
def intake(platform):
    """The front-desk clerk of community s1.c1, where the filings are made."""
    return platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")


# Who sends each service's commands here.
SENDER = {"intake": "front_desk_clerk:s1.c1", "grid": "civil_affairs"}


async def stored_events(platform, service: str = "intake") -> int:
    store = platform.apps[service].state.store
    return await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events")


def fields_of(response) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


# -- control characters and lone surrogates: 422, nothing written ---------------------------


@pytest.mark.parametrize("service, path, params, field", [
    ("grid", "/territory/locate", {"lon": "104\x00", "lat": "30"}, "lon"),
    ("grid", "/territory/streets/s1%00", {}, "path"),
    ("intake", "/catalogue", {"category": "civil\x00"}, "category"),
    ("intake", "/applications", {"community_id": "s1.c1\x1b"}, "community_id"),
])
async def test_a_control_character_in_the_query_or_path_is_a_422_not_a_500(
        platform, service, path, params, field):
    response = await platform.as_(service, "auditor").get(path, params=params)
    assert response.status_code == 422, response.text
    assert fields_of(response) == [field]
    assert "U+00" in response.json()["error"]["fields"][0]["reason"]


@pytest.mark.parametrize("body", [
    filing(applicant={"name": "张\x00秀英", "id_number": "510108198001010000"}),
    filing(address="建设路\ud800 1号"),  # a lone surrogate: PostgreSQL cannot store it
    filing(address="建设路\x7f1号"),
])
async def test_a_json_body_with_a_nul_or_lone_surrogate_is_refused_and_nothing_stored(
        intake, platform, body):
    before = await stored_events(platform)
    raw = json.dumps(body).encode()  # escapes: \u0000, \ud800, \u007f
    response = await intake.post("/applications", content=raw,
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert fields_of(response)[0] in ("applicant.name", "address")
    assert await stored_events(platform) == before


async def test_a_raw_control_byte_in_a_json_body_is_refused(intake, platform):
    before = await stored_events(platform)
    raw = b'{"matter_code": "cm.residence_certificate\x01"}'
    response = await intake.post("/applications", content=raw,
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert await stored_events(platform) == before


async def test_tab_and_newline_in_free_text_are_kept(intake):
    body = filing(address="建设路1号\n2单元\t3楼")
    response = await intake.post("/applications", json=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("service, path, body, field", [
    ("intake", "/applications", filing(location={"lon": "104.105", "lat": 30.605}),
     "location.lon"),
    ("intake", "/applications", filing(location={"lon": 104.105, "lat": True}), "location.lat"),
    ("grid", "/streets", {"street_id": "laxstreet", "name_zh": "街道", "name_en": "Street",
                          "kind": "urban", "sourced": 0}, "sourced"),
    ("grid", "/grids/s1.c1.g1/households", {"households": "400"}, "households"),
])
async def test_a_value_of_another_json_type_is_refused_not_converted(
        platform, service, path, body, field):
    before = await stored_events(platform, service)
    sender = platform.as_(service, SENDER[service])
    send = sender.put if path.endswith("households") else sender.post
    response = await send(path, json=body)
    assert response.status_code == 422, response.text
    assert fields_of(response) == [field]
    assert await stored_events(platform, service) == before


@pytest.mark.parametrize("form", [
    problem_form(description="路灯不亮\x00"),
    problem_form(email="a\x00@example.com"),
    problem_form(**{"attribute\x00": "x"}),
])
async def test_a_nul_in_an_open311_form_is_refused_in_open311_format_and_nothing_stored(
        platform, form):
    intake = platform["intake"]  # an Open311 client: its api_key, no sign-in
    before = await stored_events(platform)
    response = await intake.post(OPEN311, data=form)
    assert response.status_code == 400, response.text
    [error] = response.json()
    assert error["code"] == 400 and "U+0000" in error["description"]
    assert await stored_events(platform) == before
    xml = await intake.post("/open311/v2/requests.xml", data=form)
    assert xml.status_code == 400 and b"<errors>" in xml.content


@pytest.mark.parametrize("headers, field", [
    ({"X-Station": "window\x01"}, "X-Station"),
    ({"Authorization": "Bearer to\x00ken"}, "Authorization"),
    ({"Idempotency-Key": "k\x1b1"}, "Idempotency-Key"),
])
async def test_a_control_character_in_a_header_is_a_422_and_nothing_stored(
        intake, platform, headers, field):
    before = await stored_events(platform)
    response = await intake.post("/applications", json=filing(), headers=headers)
    assert response.status_code == 422, response.text
    assert fields_of(response) == [field]
    assert await stored_events(platform) == before


async def test_a_body_that_is_not_utf8_is_a_422(intake):
    response = await intake.post("/applications", content=b'{"address": "\xff\xfe"}',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert fields_of(response) == ["body"]


# -- unknown ids 404, wrong state 409 ---------------------------------------------------------


async def test_a_step_on_an_unknown_application_is_404_and_a_wrong_step_409(intake):
    unknown = await intake.post("/applications/no-such-id/acceptance", json={})
    assert unknown.status_code == 404
    assert fields_of(unknown) == ["application_id"]
    filed = (await intake.post("/applications", json=filing())).json()["application_id"]
    assert (await intake.post(f"/applications/{filed}/acceptance", json={})).status_code == 200
    again = await intake.post(f"/applications/{filed}/acceptance", json={})
    assert again.status_code == 409


async def test_a_filing_for_an_unknown_community_is_404(intake):
    response = await intake.post("/applications", json=filing(community_id="s1.nowhere"))
    assert response.status_code == 404
    assert fields_of(response) == ["community_id"]


# -- Idempotency-Key on every command, per caller ---------------------------------------------


async def test_a_step_retried_with_its_idempotency_key_answers_first_and_writes_once(
        intake, platform):
    filed = (await intake.post("/applications", json=filing())).json()["application_id"]
    store = platform.apps["intake"].state.store
    key = {"Idempotency-Key": "clerk-1/accept/0001"}
    first = await intake.post(f"/applications/{filed}/acceptance", json={}, headers=key)
    again = await intake.post(f"/applications/{filed}/acceptance", json={}, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert len(await store.read_stream(f"application-{filed}")) == 2
    other = await intake.post(f"/applications/{filed}/acceptance", json={"note": "again"},
                              headers=key)
    assert other.status_code == 422
    assert fields_of(other) == ["Idempotency-Key"]
    # a later step moves the stream on: the retry still gets the first answer
    done = await intake.post(f"/applications/{filed}/completion", json={"result": "已办结"})
    assert done.status_code == 200
    late = await intake.post(f"/applications/{filed}/acceptance", json={}, headers=key)
    assert late.status_code == 200 and late.json() == first.json()
    assert len(await store.read_stream(f"application-{filed}")) == 3


async def test_concurrent_retries_of_a_step_are_stored_once(intake, platform):
    filed = (await intake.post("/applications", json=filing())).json()["application_id"]
    key = {"Idempotency-Key": "clerk-1/accept/0002"}
    answers = await asyncio.gather(*(intake.post(f"/applications/{filed}/acceptance",
                                                 json={}, headers=key) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.json()["version"] for a in answers}) == 1
    store = platform.apps["intake"].state.store
    assert len(await store.read_stream(f"application-{filed}")) == 2


async def test_the_same_key_from_two_clerks_files_two_applications(platform):
    key = {"Idempotency-Key": "2026-11-25/0001"}
    clerk_7, clerk_8 = (platform.as_("intake", "front_desk_clerk:s1.c1", user=f"station-{n}")
                        for n in (7, 8))
    seven = await clerk_7.post("/applications", json=filing(), headers=key)
    eight = await clerk_8.post("/applications", json=filing(address="建设路2号"), headers=key)
    assert seven.status_code == eight.status_code == 201, eight.text
    assert seven.json()["application_id"] != eight.json()["application_id"]
    again = await clerk_7.post("/applications", json=filing(), headers=key)
    assert again.json() == seven.json()


async def test_an_open311_post_retried_with_its_idempotency_key_is_stored_once(platform):
    intake = platform["intake"]  # an Open311 client: its api_key, no sign-in
    key = {"Idempotency-Key": "app-42/report/0001"}
    first = await intake.post(OPEN311, data=problem_form(), headers=key)
    again = await intake.post(OPEN311, data=problem_form(), headers=key)
    assert first.status_code == again.status_code == 200, again.text
    request_id = first.json()[0]["service_request_id"]
    assert again.json()[0]["service_request_id"] == request_id
    store = platform.apps["intake"].state.store
    assert len(await store.read_stream(f"problem-{request_id}")) == 1
    other = await intake.post(OPEN311, data=problem_form(description="另一个"), headers=key)
    assert other.status_code == 400
    assert "Idempotency-Key" in other.json()[0]["description"]


async def test_a_grid_command_retried_with_its_idempotency_key_answers_first(platform):
    grid = platform.as_("grid", "civil_affairs", user="registrar")
    key = {"Idempotency-Key": "registrar/streets/s9"}
    street = {"street_id": "s9", "name_zh": "九街", "name_en": "Ninth", "kind": "urban",
              "sourced": False}
    first = await grid.post("/streets", json=street, headers=key)
    again = await grid.post("/streets", json=street, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    without_key = await grid.post("/streets", json=street)
    assert without_key.status_code == 409


async def test_a_review_of_an_unknown_matter_is_404(platform):
    review = {"department": "legal_affairs", "verdict": "approve"}
    legal = platform.as_("intake", "district_department:legal_affairs")
    response = await legal.post("/catalogue/cm.no_such_matter/reviews", json=review)
    assert response.status_code == 404
    assert fields_of(response) == ["matter_code"]
