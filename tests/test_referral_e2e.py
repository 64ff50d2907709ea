"""The referral contract tested from both sides at once, over HTTP and the real broker: a grid
member finds street vending on patrol and refers the case → enforcement's
worker records the violation from `grid.case.referred` → the officer fines and orders it
rectified → rectified → verified (closed) → `enforcement.referral.concluded` reaches the grid's
worker → the case is resolved, and the grid verifies and closes it. The referral delivered
again records nothing new."""

from __future__ import annotations

import asyncio

import pytest

from services.enforcement.referrals import referral_violation_id
from shared.kafka import to_message
from tests.platform import draw_small_district, running

IN_GRID = {"lon": 104.105, "lat": 30.605}  # s1.c1.g1


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "enforcement"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        keeper = platform.as_("grid", "civil_affairs")
        assert (await keeper.post("/grids/s1.c1.g1/members", json={
            "member_id": "s1.c1.g1.m1", "name": "王芳", "role": "coordinator"})).status_code == 201
        assert (await keeper.put("/grids/s1.c1.g1/manager",
                                 json={"member_id": "s1.c1.g1.m1"})).status_code == 200
        yield platform


async def stream_types(platform, service: str, stream_id: str) -> list[str]:
    store = platform.apps[service].state.store
    return [e.type for e in await store.read_stream(stream_id)]


async def until(platform, check, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            platform.assert_workers_alive()
            await asyncio.sleep(0.2)


async def test_a_referred_case_is_resolved_by_enforcement_and_closed_by_the_grid(platform,
                                                                                 producer):
    grid_store = platform.apps["grid"].state.store
    found = await platform.as_("grid", "grid_member:s1.c1.g1").post("/cases", json={
        "source": "patrol", "category": "problem.street_order", "description": "占道经营 stalls",
        "location": IN_GRID, "address": "建设路88号", "photos": ["photos/stall.jpg"]})
    assert found.status_code == 201, found.text
    case_id = found.json()["case_id"]
    assert (await stream_types(platform, "grid", f"case-{case_id}"))[-1] == "grid.case.dispatched"

    member = platform.as_("grid", "grid_member:s1.c1.g1")  # who found it refers it
    referred = await member.post(f"/cases/{case_id}/refer", json={
        "domain": "city_management", "violation_hint": "street vending"})
    assert referred.status_code == 200, referred.text
    [referral] = [e for e in await grid_store.read_stream(f"case-{case_id}")
                  if e.type == "grid.case.referred"]
    violation_id = referral_violation_id(referral.data["referral_id"])

    # Enforcement's worker takes the referral from the grid's topic.
    enforcement_store = platform.apps["enforcement"].state.store

    async def recorded() -> bool:
        return bool(await enforcement_store.read_stream(f"violation-{violation_id}"))
    await until(platform, recorded)
    officer = platform.as_("enforcement", "enforcement_officer:s1", user="officer-1")
    shown = await officer.get(f"/violations/{violation_id}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["source"] == "referral" and shown.json()["grid_id"] == "s1.c1.g1"

    # The referral delivered again (at-least-once): nothing new is recorded.
    message = to_message(referral)
    sent = await producer.send_and_wait(platform.settings.topic("grid"), message.value,
                                        key=message.key, headers=list(message.headers.items()))

    for step, body in (("decision", {"decision": "fine", "amount": 100, "rectify": True}),
                       ("rectification", {"note": "摊位已撤 stall removed"}),
                       ("verification", {"passed": True})):
        answer = await officer.post(f"/violations/{violation_id}/{step}", json=body)
        assert answer.status_code == 200, (step, answer.text)
    assert (await stream_types(platform, "enforcement", f"violation-{violation_id}"))[-1] == \
        "enforcement.referral.concluded"
    shown = (await officer.get(f"/violations/{violation_id}")).json()  # waits for the writes
    assert shown["status"] == "closed" and shown["rectified"] is True
    assert [s["type"] for s in shown["steps"]][:2] == ["enforcement.violation.recorded",
                                                      "enforcement.violation.decided"]

    # The grid's worker takes the answer from enforcement's topic: the case is resolved.
    async def resolved() -> bool:
        return (await stream_types(platform, "grid", f"case-{case_id}"))[-1] == \
            "grid.case.resolved"
    await until(platform, resolved)
    [resolution] = [e for e in await grid_store.read_stream(f"case-{case_id}")
                    if e.type == "grid.case.resolved"]
    assert resolution.data["handler_id"] is None and resolution.data["result"]
    auditor = platform.as_("grid", "auditor")
    assert (await auditor.get(f"/cases/{case_id}")).json()["status"] == "resolved"

    verified = await platform.as_("grid", "grid_member:s1.c1.g1").post(
        f"/cases/{case_id}/verify", json={"passed": True, "by": "grid", "satisfaction": 4,
                                          "comment": "摊位已撤"})
    assert verified.status_code == 200, verified.text
    assert (await stream_types(platform, "grid", f"case-{case_id}"))[-1] == "grid.case.closed"
    closed = (await auditor.get(f"/cases/{case_id}")).json()
    assert closed["status"] == "closed" and closed["referral_id"] == referral.data["referral_id"]
    await platform.handled_past("enforcement", sent)
    types = await stream_types(platform, "enforcement", f"violation-{violation_id}")
    assert types.count("enforcement.violation.recorded") == 1
