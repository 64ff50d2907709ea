"""Read your own writes over HTTP, on the whole platform (APIs, relays, Faust workers, real
PostgreSQL and broker): a GET by id right after the command that wrote it sees the write, an
unknown id is still a quick 404, a list given the command's consistency token shows the write,
and a read model that stays behind (its worker stopped) gives a 503 within the bound."""

import time

import pytest

from tests.platform import (
    SQUARE,
    small_district,
)

MATTER = "cm.residence_certificate"
BASE = "/open311/v2"
KEY = "jiedao-demo-key"
INSIDE = {"lon": 104.105, "lat": 30.605}
ROUNDS = 15


def filing(i: int = 0) -> dict:
    return {"matter_code": MATTER, "community_id": "s1.c1",
            "applicant": {"name": "张秀英", "id_number": f"5101081980{i:08d}"},
            "address": f"建设路{i}号", "location": INSIDE, "materials": ["id_card"]}


def open311_filing() -> dict:
    return {"api_key": KEY, "service_code": MATTER, "lat": "30.605", "long": "104.105",
            "address_string": "建设路1号", "attribute[applicant_name]": "张秀英",
            "attribute[applicant_id_number]": "510108198001010000",
            "attribute[community_id]": "s1.c1", "attribute[materials][]": ["id_card"]}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with small_district(["grid", "intake"], database_url, kafka_bootstrap,
                              tmp_path_factory.mktemp("jiedao"), MATTER) as platform:
        yield platform


@pytest.fixture
def intake(platform):
    """The front-desk clerk of community s1.c1, where the filings are made."""
    return platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")


@pytest.fixture
def open311(platform):
    """An Open311 client: its api_key, no sign-in."""
    return platform["intake"]


async def test_an_open311_request_is_found_right_after_its_post(open311):
    for _ in range(ROUNDS):
        posted = await open311.post(f"{BASE}/requests.json", data=open311_filing())
        assert posted.status_code == 200, posted.text
        request_id = posted.json()[0]["service_request_id"]
        found = await open311.get(f"{BASE}/requests/{request_id}.json")
        assert found.status_code == 200, found.text
        assert found.json()[0]["service_request_id"] == request_id
        by_id = await open311.get(f"{BASE}/requests.json",
                                 params={"service_request_id": request_id})
        assert [r["service_request_id"] for r in by_id.json()] == [request_id]


async def test_an_application_is_found_right_after_its_filing_and_each_step(intake):
    for i in range(ROUNDS):
        filed = await intake.post("/applications", json=filing(i))
        assert filed.status_code == 201, filed.text
        app_id = filed.json()["application_id"]
        found = await intake.get(f"/applications/{app_id}")
        assert found.status_code == 200, found.text
        assert found.json()["status"] == "filed"
        returned = await intake.post(f"/applications/{app_id}/return",
                                     json={"missing": ["household_register"]})
        assert returned.status_code == 200, returned.text
        assert (await intake.get(f"/applications/{app_id}")).json()["status"] == "returned"


async def test_a_grid_is_found_right_after_it_is_drawn(platform):
    grid = platform.as_("grid", "civil_affairs")
    for i in range(5):
        drawn = await grid.post("/grids", json={
            "grid_id": f"s1.c1.x{i}", "community_id": "s1.c1", "name_zh": "网格",
            "name_en": "Grid", "households": 400, "boundary": SQUARE, "illustrative": True})
        assert drawn.status_code == 201, drawn.text
        found = await grid.get(f"/territory/grids/s1.c1.x{i}")
        assert found.status_code == 200, found.text
        assert found.json()["households"] == 400


async def test_a_point_is_located_in_a_grid_right_after_it_is_drawn(platform):
    grid = platform.as_("grid", "civil_affairs")
    for i in range(3):
        west = 105.0 + i * 0.01  # away from the district's other grids
        ring = [[west, 30.0], [west + 0.01, 30.0], [west + 0.01, 30.01], [west, 30.01],
                [west, 30.0]]
        drawn = await grid.post("/grids", json={
            "grid_id": f"s1.c1.far{i}", "community_id": "s1.c1", "name_zh": "网格",
            "name_en": "Grid", "households": 400, "illustrative": True,
            "boundary": {"type": "Polygon", "coordinates": [ring]}})
        assert drawn.status_code == 201, drawn.text
        located = await grid.get("/territory/locate", params={
            "lon": west + 0.005, "lat": 30.005, "after": drawn.json()["consistency_token"]})
        assert located.status_code == 200, located.text
        assert located.json()["grid_id"] == f"s1.c1.far{i}"


@pytest.mark.parametrize("service, path", [
    ("intake", "/applications/never-filed"),
    ("intake", f"{BASE}/requests/never-filed.json"),
    ("intake", "/catalogue/cm.never_proposed"),
    ("grid", "/territory/grids/never.drawn"),
    ("grid", "/territory/streets/never-registered"),
])
async def test_an_unknown_id_is_a_404_at_once(platform, service, path):
    started = time.perf_counter()
    response = await platform.as_(service, "auditor").get(path)
    assert response.status_code == 404, response.text
    assert time.perf_counter() - started < 1.0  # not after the read-your-writes wait


async def test_a_list_after_the_commands_token_includes_the_filing(intake):
    for i in range(ROUNDS):
        filed = (await intake.post("/applications", json=filing(100 + i))).json()
        assert filed["consistency_token"] == f"{filed['stream_id']}@{filed['version']}"
        listed = await intake.get("/applications", params={
            "community_id": "s1.c1", "after": filed["consistency_token"]})
        assert listed.status_code == 200, listed.text
        assert filed["application_id"] in [a["application_id"] for a in listed.json()["items"]]


@pytest.mark.parametrize("token", ["nonsense", "application-never-filed@1", "matter-x@0"])
async def test_a_token_this_service_never_gave_is_a_422(intake, token):
    response = await intake.get("/applications", params={"after": token})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"] == "after"


async def test_a_read_waits_no_longer_than_its_bound_when_the_worker_is_stopped(platform):
    """(Last in this module: it stops intake's worker.)"""
    intake = platform.as_("intake", "front_desk_clerk:s1.c1", user="clerk-1")
    freshness = platform.apps["intake"].state.freshness
    freshness.wait_seconds = 1.5
    worker = platform.workers[1]
    assert "intake" in worker.args
    worker.terminate()
    worker.wait(15)
    filed = (await intake.post("/applications", json=filing(999))).json()
    checks = [
        (f"/applications/{filed['application_id']}", {}),
        ("/applications", {"after": filed["consistency_token"]}),
        (f"{BASE}/requests/{filed['application_id']}.json", {}),
    ]
    for path, params in checks:
        started = time.perf_counter()
        response = await intake.get(path, params=params)
        waited = time.perf_counter() - started
        assert response.status_code == 503, response.text
        assert 1.5 <= waited < 4.0
        assert "has not applied" in response.text and "retry later" in response.text
