"""A reported problem's Open311 request follows its case in the grid, across services and over
the real broker: the grid's case events (appended to the grid's store, relayed to its topic)
reach intake's case replica, and a GET given the grid command's consistency token as `?after=`
shows that step at once (read your writes across services). The grid's worker does not run
here: the case's steps are the test's, not the back desk's."""

from __future__ import annotations

import time
import uuid

import pytest

from services.intake.events import ProblemReported
from services.intake.events import registry as intake_registry
from shared.freshness import WAIT_SECONDS, consistency_token
from tests import case_steps as step
from tests.platform import draw_small_district, running

BASE = "/open311/v2"


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao"), workers=["intake"]) as platform:
        await draw_small_district(platform)
        yield platform


async def report(platform) -> str:
    """A problem report in intake's store (as if Open311's POST had let it in)."""
    problem_id = uuid.uuid4().hex
    event = ProblemReported(problem_id=problem_id, problem_type="problem.public_utilities",
                            description="路灯不亮 street light out", **step.WHERE,
                            location={"lon": 104.105, "lat": 30.605}, address="建设路1号",
                            reporter={"name": "王芳"})
    await platform.apps["intake"].state.store.append(
        f"problem-{problem_id}", 0, [intake_registry.to_new_event(event)])
    return problem_id


async def grid_does(platform, case_id: str, events) -> str:
    """A step of the case, written to the grid's store; its consistency token."""
    store = platform.apps["grid"].state.store
    result = await store.append(f"case-{case_id}", None, events)
    return consistency_token(f"case-{case_id}", result.version)


async def request(platform, problem_id: str, token: str | None = None) -> dict:
    params = {"after": token} if token else {}
    response = await platform["intake"].get(f"{BASE}/requests/{problem_id}.json", params=params)
    assert response.status_code == 200, response.text
    [found] = response.json()
    return found


async def test_the_open311_request_follows_its_case_step_by_step(platform):
    pid = await report(platform)
    before = await request(platform, pid)
    assert before["status"] == "open" and before["expected_datetime"] is None
    assert before["status_notes"].startswith("已上报")

    token = await grid_does(platform, pid, step.registered(pid, pid))
    shown = await request(platform, pid, token)  # no polling: `after` waits for the replica
    assert shown["status"] == "open" and shown["status_notes"].startswith("已立案")

    token = await grid_does(platform, pid, step.dispatched(pid))
    shown = await request(platform, pid, token)
    assert shown["status"] == "open"
    assert shown["status_notes"].startswith("已派遣 — dispatched to grid s1.c1.g1")
    assert shown["expected_datetime"] == "2026-11-30T16:00:00+08:00"
    assert shown["agency_responsible"] == "网格 Grid"  # the grid, by its name

    token = await grid_does(platform, pid, step.sent_back(pid))
    shown = await request(platform, pid, token)
    assert shown["agency_responsible"] == "测试街道办事处 Test office"  # the street's office

    for events in (step.ruled(pid, upheld=False), step.accepted(pid), step.resolved(pid)):
        token = await grid_does(platform, pid, events)
    shown = await request(platform, pid, token)
    assert shown["status"] == "open" and "换了灯泡 bulb replaced" in shown["status_notes"]

    token = await grid_does(platform, pid, step.verified_and_closed(pid, pid))
    listed = await platform["intake"].get(f"{BASE}/requests.json", params={
        "service_request_id": pid, "after": token})
    assert listed.status_code == 200, listed.text
    [closed] = listed.json()
    assert "status" in closed, closed
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已结案 — closed: 换了灯泡 bulb replaced"
    assert closed["updated_datetime"] >= closed["requested_datetime"]
    closed_ones = await platform["intake"].get(f"{BASE}/requests.json",
                                               params={"status": "closed"})
    assert pid in {r["service_request_id"] for r in closed_ones.json()}


async def test_a_merged_duplicates_request_closes_with_its_master(platform):
    master, duplicate = await report(platform), await report(platform)
    await grid_does(platform, master, step.registered(master, master))
    await grid_does(platform, duplicate, step.registered(duplicate, duplicate))
    token = await grid_does(platform, duplicate, step.merged(duplicate, master, duplicate))
    assert (await request(platform, duplicate, token))["status"] == "open"
    await grid_does(platform, master, step.attached(master, duplicate, duplicate))
    token = await grid_does(platform, master, step.verified_and_closed(
        master, master, duplicates={duplicate: duplicate}))
    shown = await request(platform, duplicate, token)
    assert shown["status"] == "closed"
    assert shown["status_notes"] == f"已结案 — closed: handled together with case {master}"


async def test_after_takes_only_consistency_tokens_and_waits_at_most_its_bound(platform):
    pid = await report(platform)
    bad = await platform["intake"].get(f"{BASE}/requests/{pid}.json",
                                       params={"after": "not-a-token"})
    assert bad.status_code == 400 and bad.json()[0]["description"].startswith("after:")
    started = time.monotonic()
    never = await platform["intake"].get(f"{BASE}/requests/{pid}.json",
                                         params={"after": f"case-{pid}@7"})  # never written
    assert never.status_code == 503 and time.monotonic() - started >= WAIT_SECONDS
    assert f"case-{pid} (at v0, written up to v7)" in never.json()[0]["description"]
