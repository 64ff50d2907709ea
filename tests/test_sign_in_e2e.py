"""Signed in end to end: the administrator makes a clerk and a street service centre staff
member through the accounts API; each signs in at /auth/token; the clerk files and accepts an
application at their community, the street staff completes it; each event in intake's store
names who did it, with the role that allowed it. Real PostgreSQL, real broker, every service."""

import pytest

from services.accounts.bootstrap import ensure_admin
from tests.platform import small_district

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with small_district(["grid", "intake", "accounts"], database_url, kafka_bootstrap,
                              tmp_path_factory.mktemp("jiedao"),
                              "cm.residence_certificate") as platform:
        assert await ensure_admin(platform.settings, "root", PASSWORD)  # as `jiedao up` does
        yield platform


@pytest.fixture
async def admin(platform) -> dict[str, str]:
    return await sign_in(platform, "root")


async def sign_in(platform, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = await platform["accounts"].post(
        "/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def make_user(platform, admin: dict, username: str, grant: str) -> None:
    accounts = platform["accounts"]
    made = await accounts.post("/users", headers=admin, json={
        "username": username, "name": username, "password": PASSWORD})
    assert made.status_code == 201, made.text
    granted = await accounts.post(f"/users/{username}/grants", headers=admin,
                                  json={"grant": grant})
    assert granted.status_code in (200, 201), granted.text


async def test_an_application_is_filed_accepted_and_completed_by_people_who_signed_in(
        platform, admin):
    await make_user(platform, admin, "clerk.li", "front_desk_clerk:s1.c1")
    await make_user(platform, admin, "staff.zhang", "street_service_staff:s1")
    clerk, staff = await sign_in(platform, "clerk.li"), await sign_in(platform, "staff.zhang")
    intake = platform["intake"]

    filed = await intake.post("/applications", headers=clerk, json={
        "matter_code": "cm.residence_certificate", "community_id": "s1.c1",
        "applicant": {"name": "王秀英", "id_number": "510108198001010000"},
        "address": "1号", "location": {"lon": 104.105, "lat": 30.605},
        "materials": ["id_card", "household_register"]})
    assert filed.status_code == 201, filed.text
    app_id = filed.json()["application_id"]
    accepted = await intake.post(f"/applications/{app_id}/acceptance", headers=clerk, json={})
    assert accepted.status_code == 200, accepted.text
    done = await intake.post(f"/applications/{app_id}/completion", headers=staff,
                             json={"result": "证明已开具 certificate issued"})
    assert done.status_code == 200, done.text

    events = await platform.apps["intake"].state.store.read_stream(f"application-{app_id}")
    assert [(e.type, e.actor.user_id, e.actor.role) for e in events] == [
        ("intake.application.filed", "clerk.li", "front_desk_clerk"),
        ("intake.application.accepted", "clerk.li", "front_desk_clerk"),
        ("intake.application.completed", "staff.zhang", "street_service_staff"),
    ]


async def test_a_clerk_signed_in_elsewhere_sees_nothing_of_it_and_a_bad_password_gets_no_token(
        platform, admin):
    await make_user(platform, admin, "clerk.wu", "front_desk_clerk:s1.c2")
    other = await sign_in(platform, "clerk.wu")
    mine = await platform["intake"].get("/applications", headers=other)
    assert mine.status_code == 200 and mine.json()["items"] == []  # nothing of s1.c1
    refused = await platform["accounts"].post(
        "/auth/token", data={"username": "clerk.wu", "password": "wrong password!"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
