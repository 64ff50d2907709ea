"""The back-desk loop end to end, over HTTP and the real broker: a resident reports a problem
through Open311 → intake's event reaches the grid worker, which registers the case in the right
grid and dispatches it to the grid's manager → the manager accepts and resolves it → the grid
verifies it → closed, and the Open311 request reads `closed` with its notes. After every step
the grid's read model and the Open311 request show it at once (read-your-writes: the grid
command's consistency token given to intake as `?after=`)."""

from __future__ import annotations

import asyncio

import pytest

from shared.kafka import to_message
from tests.platform import draw_small_district, running

BASE = "/open311/v2"
KEY = "jiedao-demo-key"
INSIDE = {"lat": "30.605", "long": "104.105"}  # in grid s1.c1.g1
MANAGER = "s1.c1.g1.m1"


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        keeper = platform.as_("grid", "civil_affairs")
        for grid_id in ("s1.c1.g1", "s1.c2.g1"):
            member = f"{grid_id}.m1"
            assert (await keeper.post(f"/grids/{grid_id}/members", json={
                "member_id": member, "name": "王芳", "role": "coordinator"})).status_code == 201
            assert (await keeper.put(f"/grids/{grid_id}/manager",
                                     json={"member_id": member})).status_code == 200
        yield platform


async def report(platform, **changes) -> str:
    form = {"api_key": KEY, "service_code": "problem.streetscape", **INSIDE,
            "address_string": "建设路与府青路交叉口", "description": "垃圾桶满溢 overflowing bins",
            "email": "resident@example.com", **changes}
    answer = await platform["intake"].post(f"{BASE}/requests.json", data=form)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()[0]["service_request_id"]


async def open311(platform, request_id: str, after: str | None = None) -> dict:
    params = {"after": after} if after else {}
    answer = await platform["intake"].get(f"{BASE}/requests/{request_id}.json", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()[0]


async def step(platform, case_id: str, verb: str, grant: str, **body) -> str:
    """A command on the case as the holder of `grant`; its consistency token."""
    answer = await platform.as_("grid", grant).post(f"/cases/{case_id}/{verb}", json=body)
    assert answer.status_code in (200, 201), f"{verb}: {answer.status_code} {answer.text}"
    return answer.json()["consistency_token"]


async def case(platform, case_id: str) -> dict:
    """The case as the grid's read model shows it (the read waits for the case's writes)."""
    answer = await platform.as_("grid", "auditor").get(f"/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_reported_problem_goes_round_the_loop_and_open311_follows_each_step(platform):
    problem_id = await report(platform)
    # The case opens from intake's event, over Kafka: wait until the grid has it.
    dispatched = await platform.eventually(
        "grid", f"/cases/{problem_id}", lambda c: c["status"] == "dispatched", timeout=60)
    assert dispatched["grid_id"] == "s1.c1.g1" and dispatched["street_id"] == "s1"
    assert dispatched["handler_id"] == MANAGER and dispatched["source"] == "report"
    assert dispatched["deadline"] is not None
    request = await _settled(platform, problem_id, lambda r: "派遣" in (r["status_notes"] or ""))
    assert request["status"] == "open"
    assert request["agency_responsible"] == "网格 Grid"  # the grid by its name
    assert request["expected_datetime"] is not None

    manager = "grid_manager:s1.c1.g1"
    token = await step(platform, problem_id, "accept", manager)
    assert (await case(platform, problem_id))["status"] == "handling"
    assert (await open311(platform, problem_id, token))["status"] == "open"

    token = await step(platform, problem_id, "resolve", manager, result="已清运 bins emptied")
    assert (await case(platform, problem_id))["status"] == "resolved"
    request = await open311(platform, problem_id, token)
    assert request["status"] == "open" and "bins emptied" in request["status_notes"]

    token = await step(platform, problem_id, "verify", "grid_member:s1.c1.g1", passed=True,
                       by="grid", satisfaction=5, comment="checked on site")
    closed = await case(platform, problem_id)
    assert closed["status"] == "closed" and closed["satisfaction"] == 5
    assert closed["on_time"] is True
    request = await open311(platform, problem_id, token)
    assert request["status"] == "closed"
    assert "bins emptied" in request["status_notes"]
    steps = [s["type"] for s in closed["steps"]]
    assert steps == ["grid.case.registered", "grid.case.dispatched", "grid.case.accepted",
                     "grid.case.resolved", "grid.case.verified", "grid.case.closed"]


async def test_intake_event_redelivered_opens_no_second_case(platform, producer):
    """Kafka delivers at least once: intake's `problem.reported` published again (as a relay
    that crashed before committing would) leaves the grid with one case, one registration."""
    problem_id = await report(platform, description="路灯不亮 street light out",
                              service_code="problem.public_utilities")
    await platform.eventually("grid", f"/cases/{problem_id}",
                              lambda c: c["status"] == "dispatched", timeout=60)
    intake_store = platform.apps["intake"].state.store
    [reported] = await intake_store.read_stream(f"problem-{problem_id}")
    message = to_message(reported)
    for _ in range(2):
        sent = await producer.send_and_wait(platform.settings.topic("intake"), message.value,
                                            key=message.key,
                                            headers=list(message.headers.items()))
    await platform.handled_past("grid", sent)
    store = platform.apps["grid"].state.store
    events = await store.read_stream(f"case-{problem_id}")
    assert [e.type for e in events] == ["grid.case.registered", "grid.case.dispatched"]


async def _settled(platform, problem_id: str, check, timeout: float = 45.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            request = await open311(platform, problem_id)
            if check(request):
                return request
            await asyncio.sleep(0.2)
