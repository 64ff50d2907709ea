"""The territory slice end to end: HTTP commands -> event store -> relay -> Kafka -> Faust
worker -> read model -> read API. Real PostgreSQL, real broker, the worker in its own process."""

import asyncio

import pytest

from deploy.demo import load_territory
from deploy.processes import rebuild_read_models
from deploy.registry import services
from tests.platform import running

POINT_IN_FIRST_GRID = {"lon": 104.1002, "lat": 30.6002}
SQUARE = {"type": "Polygon", "coordinates": [[
    [104.1, 30.6], [104.101, 30.6], [104.101, 30.601], [104.1, 30.601], [104.1, 30.6]
]]}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        yield platform


@pytest.fixture
def grid(platform):
    return platform.as_("grid", "civil_affairs")


async def register_street_and_community(client):
    await client.post("/streets", json={"street_id": "teststreet", "name_zh": "测试街道",
                                        "name_en": "Test Street", "kind": "urban",
                                        "sourced": False})
    await client.post("/communities", json={"community_id": "teststreet.c1",
                                            "street_id": "teststreet", "name_zh": "测试社区",
                                            "name_en": "Test Community", "sourced": False})


def grid_command(grid_id: str, households: int) -> dict:
    return {"grid_id": grid_id, "community_id": "teststreet.c1", "name_zh": "测试网格",
            "name_en": "Test Grid", "households": households, "boundary": SQUARE,
            "illustrative": True}


async def test_a_grid_of_299_households_is_refused_and_nothing_is_written(grid, platform):
    await register_street_and_community(grid)
    response = await grid.post("/grids", json=grid_command("teststreet.c1.small", 299))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["fields"] == [{"field": "households", "reason": error["message"]}]
    assert "300" in error["message"]
    assert (await grid.get("/territory/grids/teststreet.c1.small")).status_code == 404
    app_store = platform.apps["grid"].state.store
    assert await app_store.stream_version("grid-teststreet.c1.small") == 0


async def test_bad_input_names_the_field(grid):
    response = await grid.post("/grids", json={**grid_command("teststreet.c1.bad", 400),
                                               "households": "many"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "households"


async def test_a_grid_reaches_the_read_model_and_locates_points(grid, platform):
    await register_street_and_community(grid)
    drawn = await grid.post("/grids", json=grid_command("teststreet.c1.g1", 320))
    assert drawn.status_code == 201, drawn.text
    community = await platform.eventually("grid", "/territory/communities/teststreet.c1",
                                 lambda c: len(c["grids"]) == 1)
    assert community["grids"][0]["households"] == 320
    located = await platform.eventually("grid", "/territory/locate", lambda _: True,
                                        **POINT_IN_FIRST_GRID)
    assert located["grid_id"] == "teststreet.c1.g1"
    outside = await grid.get("/territory/locate", params={"lon": 0, "lat": 0})
    assert outside.status_code == 404


async def test_concurrent_recounts_from_the_same_version_one_gets_409(grid):
    await register_street_and_community(grid)
    await grid.post("/grids", json=grid_command("teststreet.c1.g2", 320))
    responses = await asyncio.gather(*(
        grid.put("/grids/teststreet.c1.g2/households", json={"households": n},
                 headers={"If-Match": "1"})
        for n in (330, 340)
    ))
    assert sorted(r.status_code for r in responses) == [200, 409]


async def test_the_chenghua_seed_loads_through_the_commands(grid, platform):
    applied = await load_territory(platform["grid"], platform.sign_in, progress=False)
    assert applied > 700
    streets = await platform.eventually("grid", "/territory/streets", lambda p: p["total"] == 15)
    names = {s["name_zh"] for s in streets["items"]}
    assert {"建设路街道", "保和街道", "圣灯街道"} <= names
    kinds = [s["kind"] for s in streets["items"] if s["street_id"] != "teststreet"]
    assert kinds.count("agriculture_related") == 4
    again = await load_territory(platform["grid"], platform.sign_in, progress=False)
    assert again == 0  # a second start adds nothing


async def test_the_read_model_rebuilds_from_the_store_to_the_same_answers(grid, platform):
    before = await platform.eventually("grid", "/territory/streets", lambda p: p["total"] >= 1)
    replayed = await rebuild_read_models(services()["grid"], platform.settings)
    assert replayed["grid_view.territory"] > 0
    assert (await grid.get("/territory/streets")).json() == before
