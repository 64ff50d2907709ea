"""Intake's rules (issue 9), end to end over HTTP on real PostgreSQL and a real broker: who may
call each endpoint and where, lists filtered to the caller's scope, ID and phone numbers masked
for those who do not need them, and each event's actor taken from the token."""

import pytest

from tests.platform import proposal, small_district

MATTER = "cm.residence_certificate"
IN = {"s1.c1": {"lon": 104.105, "lat": 30.605}, "s1.c2": {"lon": 104.115, "lat": 30.605}}
ID_NUMBER, PHONE = "510108198001011234", "13812345678"


def filing(community: str = "s1.c1", **changes) -> dict:
    return {"matter_code": MATTER, "community_id": community,
            "applicant": {"name": "张秀英", "id_number": ID_NUMBER, "phone": PHONE},
            "address": "建设路1号", "location": IN[community],
            "materials": ["id_card", "household_register"], **changes}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with small_district(["grid", "intake"], database_url, kafka_bootstrap,
                              tmp_path_factory.mktemp("jiedao"), MATTER) as platform:
        yield platform


def clerk(platform, community: str = "s1.c1"):
    return platform.as_("intake", f"front_desk_clerk:{community}", user=f"clerk-{community}")


def street_staff(platform):
    return platform.as_("intake", "street_service_staff:s1", user="staff-s1")


def resident(platform, user: str):
    return platform.as_("intake", "resident", user=user)


def auditor(platform):
    return platform.as_("intake", "auditor", user="auditor-1")


async def file(client, community: str = "s1.c1", **changes) -> dict:
    filed = await client.post("/applications", json=filing(community, **changes))
    assert filed.status_code == 201, filed.text
    return filed.json()


async def stored(platform) -> int:
    store = platform.apps["intake"].state.store
    return await store.pool.fetchval(f"SELECT count(*) FROM {store.schema}.events")


async def actors(platform, stream_id: str) -> list[tuple[str, str]]:
    events = await platform.apps["intake"].state.store.read_stream(stream_id)
    return [(e.actor.user_id, e.actor.role) for e in events]


async def listed(client, *filed: dict, **params) -> list[dict]:
    """GET /applications once the read model shows `filed` (their consistency tokens)."""
    after = [f["consistency_token"] for f in filed]
    response = await client.get("/applications", params={"after": after, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# -- the front desk: each step in its community or street --------------------------------------


async def test_a_clerk_of_another_community_cannot_accept_and_nothing_is_written(platform):
    filed = await file(clerk(platform, "s1.c2"), "s1.c2")
    before = await stored(platform)
    refused = await clerk(platform, "s1.c1").post(
        f"/applications/{filed['application_id']}/acceptance", json={})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "Forbidden"
    assert await stored(platform) == before
    accepted = await street_staff(platform).post(
        f"/applications/{filed['application_id']}/acceptance", json={})
    assert accepted.status_code == 200, accepted.text
    assert await actors(platform, filed["stream_id"]) == [
        ("clerk-s1.c2", "front_desk_clerk"), ("staff-s1", "street_service_staff")]


async def test_a_clerk_cannot_file_or_answer_a_consultation_at_another_community(platform):
    before = await stored(platform)
    at_other = await clerk(platform, "s1.c1").post("/applications", json=filing("s1.c2"))
    assert at_other.status_code == 403, at_other.text
    consultation = {"community_id": "s1.c2", "topic": "低保", "answer": "带身份证来",
                    "answered_by": "窗口"}
    asked = await clerk(platform, "s1.c1").post("/consultations", json=consultation)
    assert asked.status_code == 403, asked.text
    assert await stored(platform) == before
    recorded = await clerk(platform, "s1.c2").post("/consultations", json=consultation)
    assert recorded.status_code == 201, recorded.text
    token = recorded.json()["consistency_token"]
    mine = await clerk(platform, "s1.c2").get("/consultations", params={"after": token})
    theirs = await clerk(platform, "s1.c1").get("/consultations", params={"after": token})
    assert recorded.json()["consultation_id"] in [
        c["consultation_id"] for c in mine.json()["items"]]
    assert {c["community_id"] for c in theirs.json()["items"]} <= {"s1.c1"}


async def test_a_resident_files_for_themselves_and_sees_only_their_own(platform):
    mine = await file(resident(platform, "resident-1"), materials=["id_card"])
    theirs = await file(resident(platform, "resident-2"))
    at_station = await file(clerk(platform))
    assert await actors(platform, mine["stream_id"]) == [("resident-1", "resident")]

    seen = await listed(resident(platform, "resident-1"), mine, theirs, at_station)
    assert [a["application_id"] for a in seen] == [mine["application_id"]]
    assert seen[0]["filed_by"] == "resident-1" and seen[0]["applicant_id_number"] == ID_NUMBER
    other = await resident(platform, "resident-1").get(
        f"/applications/{theirs['application_id']}")
    assert other.status_code == 403, other.text

    # they bring the missing materials to their own application only, and never accept it
    returned = await clerk(platform).post(f"/applications/{mine['application_id']}/return",
                                          json={"missing": ["household_register"]})
    assert returned.status_code == 200, returned.text
    materials = {"materials": ["household_register"]}
    path = f"/applications/{mine['application_id']}"
    assert (await resident(platform, "resident-2").post(
        f"{path}/materials", json=materials)).status_code == 403
    assert (await resident(platform, "resident-1").post(
        f"{path}/materials", json=materials)).status_code == 200
    assert (await resident(platform, "resident-1").post(
        f"{path}/acceptance", json={})).status_code == 403


async def test_a_clerks_list_shows_only_their_community_and_street_staff_their_street(
        platform):
    here = await file(clerk(platform, "s1.c1"))
    there = await file(clerk(platform, "s1.c2"), "s1.c2")
    seen = await listed(clerk(platform, "s1.c1"), here, there)
    assert here["application_id"] in [a["application_id"] for a in seen]
    assert {a["community_id"] for a in seen} == {"s1.c1"}
    asked_for_there = await listed(clerk(platform, "s1.c1"), community_id="s1.c2")
    assert asked_for_there == []
    street = {a["application_id"] for a in await listed(street_staff(platform), here, there)}
    assert {here["application_id"], there["application_id"]} <= street
    queue = await clerk(platform, "s1.c1").get("/stations/s1.c2/queue")
    assert queue.status_code == 403, queue.text


# -- personal data -------------------------------------------------------------------------------


async def test_id_and_phone_numbers_are_clear_for_the_clerk_in_scope_and_masked_for_others(
        platform):
    filed = await file(clerk(platform))
    path = f"/applications/{filed['application_id']}"
    for_clerk = (await clerk(platform).get(path)).json()
    assert (for_clerk["applicant_id_number"], for_clerk["applicant_phone"]) == (ID_NUMBER, PHONE)
    for_auditor = (await auditor(platform).get(path)).json()
    assert for_auditor["applicant_id_number"] == "5101**********1234"
    assert for_auditor["applicant_phone"] == "1381***5678"
    in_list = [a for a in await listed(auditor(platform), filed)
               if a["application_id"] == filed["application_id"]]
    assert in_list[0]["applicant_id_number"] == "5101**********1234"
    queue = (await clerk(platform).get("/stations/s1.c1/queue")).json()["items"]
    assert ID_NUMBER in [a["applicant_id_number"] for a in queue]
    audited_queue = (await auditor(platform).get("/stations/s1.c1/queue")).json()["items"]
    assert ID_NUMBER not in [a["applicant_id_number"] for a in audited_queue]
    assert (await resident(platform, "resident-9").get(path)).status_code == 403
    assert (await clerk(platform, "s1.c2").get(path)).status_code == 403


# -- the catalogue -------------------------------------------------------------------------------


async def test_departments_act_only_as_themselves_and_only_the_government_decides(platform):
    code = "cm.access_matter"
    civil = platform.as_("intake", "district_department:civil_affairs", user="dept-civil")
    legal = platform.as_("intake", "district_department:legal_affairs", user="dept-legal")
    government = platform.as_("intake", "district_government", user="gov-1")
    before = await stored(platform)
    assert (await legal.post("/catalogue/proposals", json=proposal(code))).status_code == 403
    assert await stored(platform) == before
    assert (await civil.post("/catalogue/proposals", json=proposal(code))).status_code == 201
    review = {"department": "legal_affairs", "verdict": "approve"}
    assert (await civil.post(f"/catalogue/{code}/reviews", json=review)).status_code == 403
    assert (await clerk(platform).post(f"/catalogue/{code}/decision",
                                       json={"decision": "approve"})).status_code == 403
    assert (await legal.post(f"/catalogue/{code}/reviews", json=review)).status_code == 201
    assert (await government.post(f"/catalogue/{code}/decision",
                                  json={"decision": "approve"})).status_code == 201
    assert await actors(platform, f"matter-{code}") == [
        ("dept-civil", "district_department"), ("dept-legal", "district_department"),
        ("gov-1", "district_government")]
    assert (await clerk(platform).get(f"/catalogue/{code}/history")).status_code == 403
    history = await legal.get(f"/catalogue/{code}/history")
    assert [e["actor"]["role"] for e in history.json()["items"]] == [
        "district_department", "district_department", "district_government"]


async def test_each_event_records_the_user_and_the_role_of_the_grant_that_covers_it(platform):
    both = platform.as_("intake", "front_desk_clerk:s1.c2", "street_service_staff:s1",
                        user="both-1")
    here = await file(both, "s1.c1")  # only the street grant covers s1.c1
    there = await file(both, "s1.c2")  # the clerk grant, first in the token, covers s1.c2
    assert await actors(platform, here["stream_id"]) == [("both-1", "street_service_staff")]
    assert await actors(platform, there["stream_id"]) == [("both-1", "front_desk_clerk")]


# -- not signed in -------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("POST", "/applications"), ("GET", "/applications"), ("GET", "/applications/x"),
    ("POST", "/applications/x/acceptance"), ("POST", "/catalogue/proposals"),
    ("POST", f"/catalogue/{MATTER}/decision"), ("GET", f"/catalogue/{MATTER}/history"),
    ("GET", "/stations/s1.c1/queue"), ("GET", "/consultations"), ("POST", "/consultations"),
])
async def test_no_token_is_a_401_on_every_protected_endpoint(platform, method, path):
    response = await platform["intake"].request(method, path, json={})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "Unauthenticated"


@pytest.mark.parametrize("path", ["/catalogue", "/catalogue/categories",
                                  f"/catalogue/{MATTER}", "/open311/v2/services.json"])
async def test_the_public_catalogue_answers_anyone(platform, path):
    response = await platform["intake"].get(path)
    assert response.status_code == 200, response.text
