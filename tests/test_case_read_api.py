"""The back desk's read endpoints over HTTP, on the grid service's own app and a real
PostgreSQL: the territory drawn through its API, cases' events appended to its event store and
projected (shared/projection.py), as its worker would. Lists, maps and exports hold only what
the caller's grants cover; bad query input is a 422 naming the field."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from shapely.geometry import shape

from deploy.embedded import ensure_database
from services.grid.app import SPEC
from services.grid.case_view import EXPORT_COLUMNS
from services.grid.indicators import indicators
from shared import projection
from shared.follower import LogFollower
from shared.service import create_service_app
from shared.settings import Settings
from tests.case_stories import Story, append, named
from tests.platform import auth_env, bearer

SQUARES = {
    f"{street}.c{c}.g1": {"type": "Polygon", "coordinates": [[
        [lon, 30.60], [lon + 0.01, 30.60], [lon + 0.01, 30.61], [lon, 30.61], [lon, 30.60]]]}
    for street, c, lon in (("s1", 1, 104.10), ("s1", 2, 104.11), ("s2", 1, 104.12))}
# The cases: (story, steps); places index tests/case_stories.py's PLACES.
CASES = {
    "ca": (Story("ca", 0, 0, 0, reporter="res-1"), ("dispatch", "accept", "resolve", "pass")),
    "cb": (Story("cb", 0, 0, 1), ("dispatch", "accept", "overdue")),
    "cc": (Story("cc", 1, 1, 2), ("dispatch", "send_back", "overdue")),
    "cd": (Story("cd", 2, 0, 3), ("dispatch", "accept", "overdue")),
    "ce": (Story("ce", 0, 1, 40), ()),
}
S1 = {"ca", "cb", "cc", "ce"}


class Desk:
    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client
        self.follower = LogFollower(app.state.store)

    async def get(self, path: str, grant: str, user: str = "tester",
                  **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=bearer(grant, user=user))

    async def ok(self, path: str, grant: str, **params: Any) -> Any:
        response = await self.get(path, grant, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def catch_up(self) -> None:
        """What the worker does: project the store's new events into the read models."""
        while True:
            events = await self.follower.poll()
            for view in SPEC.projections:
                await projection.project(self.app.state.pool, view, events)
            if not events and self.follower.caught_up:
                return

    async def draw(self) -> None:
        grants = bearer("civil_affairs")
        for street in ("s1", "s2"):
            await self.client.post("/streets", headers=grants, json={
                "street_id": street, "name_zh": "街道", "name_en": "Street", "kind": "urban",
                "sourced": False})
        for grid_id, square in SQUARES.items():
            community = grid_id.rsplit(".", 1)[0]
            await self.client.post("/communities", headers=grants, json={
                "community_id": community, "street_id": community.split(".")[0],
                "name_zh": "社区", "name_en": "Community", "sourced": False})
            response = await self.client.post("/grids", headers=grants, json={
                "grid_id": grid_id, "community_id": community, "name_zh": "网格",
                "name_en": "Grid", "households": 350, "boundary": square,
                "illustrative": True})
            assert response.status_code == 201, response.text
        for story, steps in CASES.values():
            await append(self.app.state.store, named(story, *steps))
        await self.catch_up()


@pytest.fixture(scope="module")
async def desk(database_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("views")
    settings = Settings(**{
        "DATABASE_URL": await ensure_database(database_url, f"views_{uuid.uuid4().hex[:8]}"),
        "JIEDAO_DATA_DIR": str(data_dir), **auth_env(data_dir)})
    app = create_service_app(SPEC, settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://grid") as client:
        desk = Desk(app, client)
        await desk.draw()
        yield desk


def ids(page: dict[str, Any]) -> set[str]:
    return {item["case_id"] for item in page["items"]}


# ------------------------------------------------------------------------ one case


async def test_a_case_reads_with_its_steps_and_holds_for_those_who_keep_it(desk):
    case = await desk.ok("/cases/ca", "grid_manager:s1.c1.g1")
    assert case["status"] == "closed" and case["satisfaction"] == 1
    assert [s["type"] for s in case["steps"]] == [
        "grid.case.registered", "grid.case.dispatched", "grid.case.accepted",
        "grid.case.resolved", "grid.case.verified", "grid.case.closed"]
    assert [(h["handler_id"], h["held_until"] is not None) for h in case["holds"]] == [
        ("m1", True)]
    assert "reporter_user_id" not in case
    assert (await desk.get("/cases/ca", "resident", user="res-1")).status_code == 200
    for grant, user in (("grid_manager:s1.c2.g1", "t"), ("street_office_staff:s2", "t"),
                        ("resident", "res-2")):
        assert (await desk.get("/cases/ca", grant, user=user)).status_code == 403, grant
    missing = await desk.get("/cases/nope", "auditor")
    assert missing.status_code == 404 and missing.json()["error"]["fields"][0]["field"] == \
        "case_id"


async def test_a_case_read_right_after_a_step_shows_that_step(desk):
    await append(desk.app.state.store, named(Story("cf", 2, 0, 50), "dispatch", "accept",
                                             "resolve", "pass"))

    async def worker_later() -> None:
        await asyncio.sleep(0.3)
        await desk.catch_up()

    pool = desk.app.state.pool
    assert await pool.fetchval("SELECT count(*) FROM grid_view.cases WHERE case_id = 'cf'") == 0
    later = asyncio.create_task(worker_later())
    case = await desk.ok("/cases/cf", "street_office_staff:s2")  # waits for the worker
    await later
    assert case["status"] == "closed" and len(case["steps"]) == 6


# ------------------------------------------------------------------------ lists


@pytest.mark.parametrize("grant,seen", [
    ("district_government", {"cb", "cc", "cd"}), ("auditor", {"cb", "cc", "cd"}),
    ("street_office_staff:s1", {"cb", "cc"}), ("front_desk_clerk:s1.c2", {"cc"}),
    ("grid_member:s1.c1.g1", {"cb"}), ("grid_manager:s2.c1.g1", {"cd"}),
])
async def test_overdue_and_escalated_lists_hold_only_the_callers_scope(desk, grant, seen):
    assert ids(await desk.ok("/cases/overdue", grant)) == seen
    assert ids(await desk.ok("/cases/escalated", grant)) == seen
    features = (await desk.ok("/map/cases.geojson", grant))["features"]
    assert {f["properties"]["case_id"] for f in features} <= seen | {"ce"}


async def test_lists_filter_by_area_within_the_scope(desk):
    assert ids(await desk.ok("/cases/escalated", "auditor", street_id="s2")) == {"cd"}
    assert ids(await desk.ok("/cases/escalated", "auditor", community_id="s1.c2")) == {"cc"}
    assert ids(await desk.ok("/cases/escalated", "street_office_staff:s1",
                             street_id="s2")) == set()


async def test_workload_counts_open_cases_and_hours_held_per_handler(desk):
    page = await desk.ok("/cases/workload", "street_office_staff:s1")
    handlers = {item["handler_id"]: item for item in page["items"]}
    assert set(handlers) == {"m1", "m3"}
    assert (handlers["m1"]["open"], handlers["m1"]["overdue"]) == (1, 1)
    assert handlers["m3"]["open"] == 1
    assert handlers["m1"]["held_hours"] > 4  # ca: 4 h closed, cb: still held since March
    everyone = await desk.ok("/cases/workload", "district_government", street_id="s2")
    assert [i["handler_id"] for i in everyone["items"]] == ["m4"]


async def test_a_grid_board_groups_open_cases_per_handler(desk):
    board = await desk.ok("/grids/s1.c1.g1/board", "grid_manager:s1.c1.g1")
    groups = {g["handler_id"]: [c["case_id"] for c in g["cases"]] for g in board["handlers"]}
    assert groups == {"m1": ["cb"], None: ["ce"]}
    assert board["handlers"][0]["cases"][0]["age_hours"] > 0
    assert (await desk.get("/grids/s1.c1.g1/board",
                           "grid_manager:s1.c2.g1")).status_code == 403
    assert (await desk.get("/grids/nope/board", "auditor")).status_code == 404


async def test_a_street_overview_counts_by_status_and_per_community(desk):
    overview = await desk.ok("/streets/s1/overview", "street_office_staff:s1")
    assert overview["by_status"]["closed"] == 1 and overview["escalated"] == 2
    communities = {c["community_id"]: c for c in overview["communities"]}
    assert communities["s1.c2"]["by_status"] == {"sent_back": 1}
    assert (await desk.get("/streets/s1/overview", "street_office_staff:s2")).status_code == 403


# ------------------------------------------------------------------------ maps, exports


async def test_map_layers_are_valid_geojson(desk):
    grids = await desk.ok("/map/grids.geojson", "resident", street_id="s1")
    assert grids["type"] == "FeatureCollection"
    assert {f["properties"]["grid_id"] for f in grids["features"]} == {"s1.c1.g1", "s1.c2.g1"}
    cases = await desk.ok("/map/cases.geojson", "auditor")
    for feature in grids["features"] + cases["features"]:
        assert feature["type"] == "Feature" and shape(feature["geometry"]).is_valid
    assert {f["geometry"]["type"] for f in cases["features"]} == {"Point"}
    assert "ca" not in {f["properties"]["case_id"] for f in cases["features"]}  # closed
    response = await desk.get("/map/cases.geojson", "auditor")
    assert response.headers["content-type"] == "application/geo+json"


async def test_csv_export_holds_the_filtered_cases_in_the_callers_scope(desk):
    response = await desk.get("/cases/export", "street_office_staff:s1", format="csv",
                              month="2026-03")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == list(EXPORT_COLUMNS)
    found = list(reader)
    assert {r["case_id"] for r in found} == {"ca", "cb", "cc"}  # ce: April; cd: street s2
    ca = next(r for r in found if r["case_id"] == "ca")
    assert (ca["status"], ca["on_time"], ca["satisfaction"]) == ("closed", "True", "1")
    assert ca["closed_at"].startswith("2026-03-02T")
    only = await desk.get("/cases/export", "auditor", format="csv",
                          category="problem.public_utilities")
    assert {r["case_id"] for r in csv.DictReader(io.StringIO(only.text))} == {"cc", "ce"}


async def test_jsonl_export_is_one_case_per_line(desk):
    response = await desk.get("/cases/export", "grid_member:s1.c1.g1", format="jsonl")
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert [c["case_id"] for c in lines] == ["ca", "cb", "ce"]
    assert set(lines[0]) == set(EXPORT_COLUMNS)
    assert lines[0]["deadline"] == "2026-03-02T11:00:00+00:00"


# ------------------------------------------------------------------------ indicators


async def test_indicators_answer_what_the_read_model_computes(desk):
    found = await desk.ok("/indicators", "street_office_staff:s1", level="street", id="s1",
                          **{"from": "2026-03-01", "to": "2026-03-31"})
    want = await indicators(desk.app.state.pool, "grid_view", "street", "s1",
                            date(2026, 3, 1), date(2026, 3, 31))
    assert (found["registered"], found["closed"]) == (want["registered"], want["closed"]) == \
        (3, 1)
    assert found["closure_rate"] == pytest.approx(want["closure_rate"])
    grid = await desk.ok("/indicators", "grid_member:s1.c1.g1", level="grid", id="s1.c1.g1",
                         **{"from": "2026-03-01", "to": "2026-03-31"})
    assert grid["registered"] == 2
    refused = await desk.get("/indicators", "street_office_staff:s2", level="street",
                             id="s1", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert refused.status_code == 403
    unknown = await desk.get("/indicators", "auditor", level="community", id="s9.c9",
                             **{"from": "2026-03-01", "to": "2026-03-31"})
    assert unknown.status_code == 404


@pytest.mark.parametrize("path,params,field", [
    ("/cases/export", {"month": "2026-13"}, "month"),
    ("/cases/export", {"month": "March"}, "month"),
    ("/cases/export", {"month": "0000-01"}, "month"),
    ("/cases/export", {"format": "xml"}, "format"),
    ("/indicators", {"level": "grid", "id": "s1.c1.g1", "from": "0001-01-01",
                     "to": "2026-03-31"}, "from"),
    ("/indicators", {"level": "grid", "id": "s1.c1.g1", "from": "2026-03-01",
                     "to": "9999-12-31"}, "to"),
    ("/indicators", {"level": "district", "id": "s1", "from": "2026-03-01",
                     "to": "2026-03-31"}, "level"),
    ("/indicators", {"level": "street", "id": "s1", "from": "2026-04-01",
                     "to": "2026-03-31"}, "from"),
    ("/indicators", {"level": "street", "id": "s1", "from": "1 March", "to": "2026-03-31"},
     "from"),
    ("/indicators", {"level": "street", "from": "2026-03-01", "to": "2026-03-31"}, "id"),
])
async def test_bad_query_input_is_422_naming_the_field(desk, path, params, field):
    response = await desk.get(path, "auditor", **params)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
