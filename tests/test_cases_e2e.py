"""The grid back desk's write side over HTTP and through the CaseDesk, on real PostgreSQL and
the real broker (the territory read model built by the worker): every step, every refusal,
the clock rules, overdue once, redelivery, merge and least-loaded dispatch."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.grid.case_desk import make_case_desk
from services.grid.case_events import REFERRAL_CONCLUDED
from shared.envelope import SYSTEM, Actor, Envelope
from tests import case_board
from tests.platform import OTHER_SQUARE, SQUARE, running

MONDAY_9 = datetime(2026, 11, 23, 1, tzinfo=UTC)  # 09:00 in Chengdu, a working day
IN_G1 = {"lon": 104.105, "lat": 30.605}
IN_G2 = {"lon": 104.115, "lat": 30.605}
MEMBER, MANAGER = "grid_member:s1.c1.g1", "grid_manager:s1.c1.g1"
STREET = "street_office_staff:s1"


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY_9

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_district(platform)
        yield platform


async def draw_district(platform) -> None:
    """Street s1: grid s1.c1.g1 managed by m1 (assigned) and m2 (added), s1.c2.g1 by m9."""
    civil = platform.as_("grid", "civil_affairs")
    await civil.post("/streets", json={"street_id": "s1", "name_zh": "测试街道",
                                       "name_en": "Test", "kind": "urban", "sourced": False})
    for community, square, managers in (("s1.c1", SQUARE, ["m1", "m2"]),
                                        ("s1.c2", OTHER_SQUARE, ["m9"])):
        await civil.post("/communities", json={"community_id": community, "street_id": "s1",
                                               "name_zh": "社区", "name_en": "Community",
                                               "sourced": False})
        grid_id = f"{community}.g1"
        drawn = await civil.post("/grids", json={
            "grid_id": grid_id, "community_id": community, "name_zh": "网格",
            "name_en": "Grid", "households": 350, "boundary": square, "illustrative": True})
        assert drawn.status_code == 201, drawn.text
        for member in managers:
            await civil.post(f"/grids/{grid_id}/members", json={
                "member_id": member, "name": "网格员", "role": "coordinator"})
        await civil.put(f"/grids/{grid_id}/manager", json={"member_id": managers[0]})
        for member in managers[1:]:
            added = await civil.post(f"/grids/{grid_id}/managers", json={"member_id": member})
            assert added.status_code == 201, added.text
    for point in (IN_G1, IN_G2):
        await platform.eventually("grid", "/territory/locate", lambda _: True, **point)


@pytest.fixture
def clock(platform):
    clock = Clock()
    platform.apps["grid"].state.case_desk.clock = clock
    return clock


@pytest.fixture
def desk(platform):
    return platform.apps["grid"].state.case_desk


def patrol(**changes) -> dict:
    return {"source": "patrol", "category": "problem.streetscape", "urgency": "normal",
            "description": "暴露垃圾 exposed rubbish", "location": IN_G1, "address": "1号",
            "photos": ["photos/1.jpg"], **changes}


async def events(platform, case_id: str) -> list[Envelope]:
    return await platform.apps["grid"].state.store.read_stream(f"case-{case_id}")


async def types(platform, case_id: str) -> list[str]:
    return [e.type.removeprefix("grid.case.") for e in await events(platform, case_id)]


async def case_events_stored(platform) -> int:
    return await platform.apps["grid"].state.pool.fetchval(
        "SELECT count(*) FROM grid.events WHERE type LIKE 'grid.case.%'")


async def open_case(platform, **changes) -> str:
    response = await platform.as_("grid", MEMBER).post("/cases", json=patrol(**changes))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    await case_board.show(platform, case_id)
    return case_id


async def post(platform, grant: str, case_id: str, step: str, body: dict | None = None,
               expected: int = 200) -> dict:
    response = await platform.as_("grid", grant).post(f"/cases/{case_id}/{step}",
                                                      json=body or {})
    assert response.status_code == expected, response.text
    return response.json()


async def test_a_patrol_case_goes_round_the_loop_to_closure(platform, clock):
    response = await platform.as_("grid", MEMBER).post("/cases", json=patrol())
    assert response.status_code == 201, response.text
    answer = response.json()
    case_id = answer["case_id"]
    assert case_id.startswith("c") and len(case_id) == 17
    assert answer["consistency_token"] == f"case-{case_id}@2"
    registered, dispatched = await events(platform, case_id)
    assert registered.data["source"] == "patrol" and registered.actor.role == "grid_member"
    assert dispatched.data["by"] == "auto" and dispatched.data["handler_id"] == "m1"
    clock.advance(minutes=10)
    await post(platform, MANAGER, case_id, "accept")
    await post(platform, MANAGER, case_id, "progress", {"note": "到场 on site"})
    clock.advance(minutes=50)
    await post(platform, MANAGER, case_id, "resolve", {"result": "清理完毕 cleaned"})
    clock.advance(minutes=30)
    verified = await post(platform, MEMBER, case_id, "verify",
                          {"passed": True, "by": "grid", "satisfaction": 5, "comment": "好"})
    assert verified["version"] == 7
    *_, closure = await events(platform, case_id)
    assert closure.type == "grid.case.closed" and closure.data["on_time"] is True
    assert closure.data["held_seconds"] == {"m1": 3600.0}
    await post(platform, STREET, case_id, "return-visit", {"satisfaction": 4, "comment": "满意"})
    await post(platform, STREET, case_id, "return-visit", {"satisfaction": 4, "comment": ""},
               expected=409)


async def test_a_registration_retried_with_its_idempotency_key_registers_once(platform, clock):
    member = platform.as_("grid", MEMBER)
    key = {"Idempotency-Key": f"patrol-{uuid.uuid4().hex}"}
    first = await member.post("/cases", json=patrol(), headers=key)
    again = await member.post("/cases", json=patrol(), headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json()
    assert await types(platform, first.json()["case_id"]) == ["registered", "dispatched"]
    other_body = await member.post("/cases", json=patrol(description="另一处"), headers=key)
    assert other_body.status_code == 422


async def test_dispatch_goes_to_the_least_loaded_manager_ties_to_the_lowest_id(
        platform, clock, desk):
    await case_board.caught_up(platform)  # the earlier tests' cases count in the loads
    loads = await desk.loads(["m1", "m2"])
    chosen = []
    for _ in range(abs(loads.get("m1", 0) - loads.get("m2", 0)) + 3):  # reaches a tie
        expected = min(("m1", "m2"), key=lambda m: (loads.get(m, 0), m))
        case_id = await open_case(platform)
        chosen.append((await events(platform, case_id))[1].data["handler_id"])
        assert chosen[-1] == expected, (loads, chosen)
        loads[expected] = loads.get(expected, 0) + 1
    assert set(chosen) == {"m1", "m2"}


async def test_a_wrong_state_step_is_409_naming_the_status(platform, clock):
    case_id = await open_case(platform)
    await post(platform, MANAGER, case_id, "accept")
    refused = await post(platform, MANAGER, case_id, "accept", expected=409)
    assert refused["error"]["fields"] == [{"field": "status",
                                           "reason": refused["error"]["message"]}]
    assert "handling" in refused["error"]["message"]
    await post(platform, MEMBER, case_id, "verify", {"passed": True, "by": "grid"}, expected=409)


async def test_acting_outside_ones_grid_or_street_is_403_and_writes_nothing(platform, clock):
    case_id = await open_case(platform)
    before = await case_events_stored(platform)
    await post(platform, "grid_manager:s1.c2.g1", case_id, "accept", expected=403)
    await post(platform, "street_office_staff:s2", case_id, "dispatch",
               {"handler_id": "m2"}, expected=403)
    elsewhere = await platform.as_("grid", "grid_member:s1.c2.g1").post("/cases", json=patrol())
    assert elsewhere.status_code == 403
    clerk_patrols = await platform.as_("grid", "front_desk_clerk:s1.c1").post(
        "/cases", json=patrol())
    assert clerk_patrols.status_code == 403  # a patrol is the grid's; a clerk files complaints
    complaint = await platform.as_("grid", "front_desk_clerk:s1.c1").post(
        "/cases", json=patrol(source="complaint"))
    assert complaint.status_code == 201, complaint.text
    assert await case_events_stored(platform) == before + 2


async def test_bad_input_is_422_on_its_field_and_writes_nothing(platform, clock):
    member = platform.as_("grid", MEMBER)
    before = await case_events_stored(platform)
    bad_category = await member.post("/cases", json=patrol(category="problem.dragons"))
    assert bad_category.status_code == 422
    assert bad_category.json()["error"]["fields"][0]["field"] == "category"
    nowhere = await member.post("/cases", json=patrol(location={"lon": 10.0, "lat": 10.0}))
    assert nowhere.status_code == 422, nowhere.text
    assert nowhere.json()["error"]["fields"][0]["field"] == "location"
    assert await case_events_stored(platform) == before
    case_id = await open_case(platform)
    await post(platform, MANAGER, case_id, "accept")
    await post(platform, MANAGER, case_id, "resolve", {"result": "done"})
    for satisfaction in (0, 6):
        refused = await post(platform, MEMBER, case_id, "verify",
                             {"passed": True, "by": "grid", "satisfaction": satisfaction},
                             expected=422)
        assert refused["error"]["fields"][0]["field"] == "satisfaction"
    assert await types(platform, case_id) == ["registered", "dispatched", "accepted",
                                              "resolved"]


async def test_send_back_upheld_keeps_the_deadline_and_charges_the_sender(platform, clock):
    case_id = await open_case(platform)
    dispatched = (await events(platform, case_id))[1].data
    deadline, first = dispatched["deadline"], dispatched["handler_id"]
    clock.advance(minutes=20)
    await post(platform, MANAGER, case_id, "send-back", {"reason": "wrong_grid", "note": "隔壁"})
    clock.advance(minutes=40)
    await post(platform, "street_office_staff:s1", case_id, "ruling",
               {"upheld": True, "note": "改派", "grid_id": "s1.c2.g1", "handler_id": "m9"})
    *_, ruled, redispatched = await events(platform, case_id)
    assert ruled.data["upheld"] is True
    assert redispatched.data["by"] == "street" and redispatched.data["handler_id"] == "m9"
    assert redispatched.data["grid_id"] == "s1.c2.g1" and redispatched.data["deadline"] == deadline
    # the new grid's manager takes it from here; the old one no longer may
    await post(platform, MANAGER, case_id, "accept", expected=403)
    await post(platform, "grid_manager:s1.c2.g1", case_id, "accept")
    clock.advance(minutes=30)
    await post(platform, "grid_manager:s1.c2.g1", case_id, "resolve", {"result": "done"})
    await post(platform, "grid_member:s1.c2.g1", case_id, "verify",
               {"passed": True, "by": "grid", "satisfaction": 4})
    closure = (await events(platform, case_id))[-1].data
    assert closure["held_seconds"] == {first: 3600.0, "m9": 1800.0}


async def test_send_back_overruled_goes_back_to_the_same_handler(platform, clock):
    case_id = await open_case(platform)
    await post(platform, MANAGER, case_id, "send-back", {"reason": "not_our_matter"})
    await post(platform, STREET, case_id, "ruling", {"upheld": True}, expected=422)
    await post(platform, STREET, case_id, "ruling", {"upheld": False, "note": "属本网格"})
    assert (await types(platform, case_id))[-1] == "send_back_ruled"
    await post(platform, MANAGER, case_id, "accept")
    await post(platform, STREET, case_id, "ruling", {"upheld": False}, expected=409)


async def test_failed_verification_is_rework_and_a_closed_case_reopens(platform, clock):
    case_id = await open_case(platform)
    await post(platform, MANAGER, case_id, "accept")
    await post(platform, MANAGER, case_id, "resolve", {"result": "done"})
    await post(platform, MEMBER, case_id, "verify",
               {"passed": False, "by": "grid", "comment": "还有垃圾"})
    verified = (await events(platform, case_id))[-1]
    assert verified.data["rework_count"] == 1
    await post(platform, MANAGER, case_id, "resolve", {"result": "done again"})
    await post(platform, STREET, case_id, "verify", {"passed": True, "by": "grid",
                                                     "satisfaction": 3})
    clock.advance(days=1)
    await post(platform, "front_desk_clerk:s1.c1", case_id, "reopen",
               {"reason": "没修好 not fixed"})
    reopened = (await events(platform, case_id))[-1]
    assert reopened.type == "grid.case.reopened" and reopened.data["reopen_count"] == 1
    assert reopened.data["handler_id"] == (await events(platform, case_id))[1].data["handler_id"]
    assert datetime.fromisoformat(reopened.data["deadline"]) > clock.now
    await post(platform, MANAGER, case_id, "accept")


async def overdue_stored(platform) -> int:
    return await platform.apps["grid"].state.pool.fetchval(
        "SELECT count(*) FROM grid.events WHERE type = 'grid.case.overdue'")


async def test_overdue_is_emitted_once_even_by_two_checks_at_once(platform, clock, desk):
    case_id = await open_case(platform, category="problem.emergency")  # 2 working hours
    deadline = datetime.fromisoformat((await events(platform, case_id))[1].data["deadline"])
    await desk.check_overdue(deadline)
    assert "overdue" not in await types(platform, case_id)  # not past yet
    past = deadline + timedelta(minutes=1)
    before = await overdue_stored(platform)
    marked = await asyncio.gather(desk.check_overdue(past), desk.check_overdue(past))
    assert sum(marked) == await overdue_stored(platform) - before >= 1  # none twice
    assert (await types(platform, case_id)).count("overdue") == 1
    overdue = (await events(platform, case_id))[-1].data
    assert overdue["escalated_to"] == "s1" and overdue["handler_id"] in ("m1", "m2")
    await desk.check_overdue(past + timedelta(hours=3))
    assert (await types(platform, case_id)).count("overdue") == 1
    clock.now = past
    new_deadline = deadline + timedelta(days=2)
    await post(platform, STREET, case_id, "postpone",
               {"deadline": new_deadline.isoformat(), "reason": "等配件 waiting for parts"})
    await post(platform, STREET, case_id, "postpone",
               {"deadline": deadline.isoformat(), "reason": "earlier"}, expected=422)
    await case_board.show(platform, case_id)
    await desk.check_overdue(new_deadline)
    assert (await types(platform, case_id)).count("overdue") == 1
    await desk.check_overdue(new_deadline + timedelta(seconds=1))
    assert (await types(platform, case_id)).count("overdue") == 2


async def test_a_report_delivered_again_and_twice_at_once_opens_one_case(platform, clock, desk):
    problem_id = uuid.uuid4().hex
    reported = case_board.reported(problem_id, Actor("res-1", "resident"))
    await asyncio.gather(desk.open_from_report(reported), desk.open_from_report(reported))
    await desk.open_from_report(reported)
    registered, dispatched = await events(platform, problem_id)
    assert registered.data["source"] == "report" and registered.data["urgency"] == "urgent"
    assert registered.data["problem_id"] == problem_id
    assert registered.data["reporter_user_id"] == "res-1" and registered.actor == SYSTEM
    assert dispatched.data["handler_id"] in ("m1", "m2")
    await case_board.show(platform, problem_id)
    # its reporter may verify it; another resident may not
    await post(platform, MANAGER, problem_id, "accept")
    await post(platform, MANAGER, problem_id, "resolve", {"result": "已抢修 repaired"})
    response = await platform.as_("grid", "resident", user="res-2").post(
        f"/cases/{problem_id}/verify", json={"passed": True, "by": "resident"})
    assert response.status_code == 403
    response = await platform.as_("grid", "resident", user="res-1").post(
        f"/cases/{problem_id}/verify", json={"passed": True, "by": "resident",
                                             "satisfaction": 5})
    assert response.status_code == 200, response.text


async def test_a_prepared_batch_of_reports_opens_each_once_as_one_by_one_would(
        platform, clock, desk):
    """The worker's reaction reads a batch's facts at once (`prepare_reports`): redeliveries,
    in the batch or of a case opened before, open nothing; candidates are as one by one."""
    before = case_board.reported(uuid.uuid4().hex)
    await desk.open_from_report(before)
    await case_board.caught_up(platform)
    batch_desk = make_case_desk(desk.repo, desk.pool, platform.settings, clock=clock)
    a, b = (case_board.reported(uuid.uuid4().hex) for _ in range(2))
    ids = [r.data["problem_id"] for r in (a, b)]
    expected = await desk.duplicate_candidates("problem.emergency", 104.105, 30.605)
    assert before.data["problem_id"] in expected
    batch = [a, b, b, before]
    await batch_desk.prepare_reports(batch)
    prepared = batch_desk.prepared
    assert prepared.opened == {before.data["problem_id"]}
    assert prepared.duplicates == {i: expected for i in ids}
    held = sum(prepared.loads.values())
    await asyncio.gather(*(batch_desk.open_from_report(r) for r in batch))
    for problem_id in [*ids, before.data["problem_id"]]:
        assert await types(platform, problem_id) == ["registered", "dispatched"]
    for problem_id in ids:
        assert (await events(platform, problem_id))[0].data["duplicate_candidates"] == expected
    # each dispatch decided counts in the loads at once (the losing twin's too: a heuristic)
    assert held + 2 <= sum(prepared.loads.values()) <= held + 3


async def test_a_referral_is_resolved_by_enforcements_answer_once(platform, clock, desk):
    case_id = await open_case(platform, category="problem.street_order")
    await post(platform, MANAGER, case_id, "refer",
               {"domain": "city_management", "violation_hint": "占道经营 street stall"})
    referred = (await events(platform, case_id))[-1]
    assert referred.type == "grid.case.referred"
    answer = case_board.envelope(REFERRAL_CONCLUDED, "referral-x", {
        "referral_id": referred.data["referral_id"], "case_id": case_id, "street_id": "s1",
        "community_id": "s1.c1", "grid_id": "s1.c1.g1", "outcome": "rectified",
        "summary": "已劝离 moved on", "violation_id": None,
        "concluded_at": clock.now.isoformat()})
    await desk.conclude_referral(answer)
    await desk.conclude_referral(answer)
    assert (await types(platform, case_id))[-2:] == ["referred", "resolved"]
    resolved = (await events(platform, case_id))[-1].data
    assert resolved["handler_id"] is None and "rectified" in resolved["result"]


async def test_duplicates_are_suggested_and_merged_into_their_master(platform, clock):
    here = {"lon": 104.108, "lat": 30.608}  # no other test's case is within 50 m
    master = await open_case(platform, location=here)
    near = {"lon": here["lon"] + 0.0002, "lat": here["lat"]}  # ~19 m east
    duplicate = await open_case(platform, location=near)
    far = await open_case(platform, location={"lon": here["lon"], "lat": here["lat"] + 0.0018})
    other_kind = await open_case(platform, category="problem.advertising", location=near)
    candidates = {c: (await events(platform, c))[0].data["duplicate_candidates"]
                  for c in (duplicate, far, other_kind)}
    assert candidates == {duplicate: [master], far: [], other_kind: []}
    await post(platform, STREET, duplicate, "merge", {"master_id": duplicate}, expected=422)
    await post(platform, STREET, duplicate, "merge", {"master_id": other_kind}, expected=422)
    await post(platform, "street_office_staff:s2", duplicate, "merge", {"master_id": master},
               expected=403)
    await post(platform, STREET, duplicate, "merge", {"master_id": master})
    assert (await types(platform, duplicate))[-1] == "merged"
    assert (await types(platform, master))[-1] == "duplicate_attached"
    await post(platform, STREET, duplicate, "merge", {"master_id": master})  # again: no change
    assert (await types(platform, master)).count("duplicate_attached") == 1
    await post(platform, STREET, duplicate, "merge", {"master_id": far}, expected=409)
    await post(platform, MANAGER, duplicate, "accept", expected=409)
    handler = platform.as_("grid", MANAGER)
    for step, body in (("accept", {}), ("resolve", {"result": "done"})):
        assert (await handler.post(f"/cases/{master}/{step}", json=body)).status_code == 200
    await post(platform, MEMBER, master, "verify", {"passed": True, "by": "grid"})
    closure = (await events(platform, master))[-1].data
    assert closure["duplicates"] == [duplicate]


async def test_only_the_nearest_ten_open_cases_are_named_nearest_first(platform, clock, desk):
    """However many open cases crowd a spot, a registration names the nearest ten."""
    here = {"lon": 104.102, "lat": 30.602}  # no other test's case is within 50 m
    steps = [5, 1, 12, 3, 8, 2, 11, 6, 9, 4, 10, 7]  # ~3.6 m each, east, in a shuffled order
    opened = {step: await open_case(platform, category="problem.public_utilities", location={
        "lon": here["lon"] + step * 0.0000375, "lat": here["lat"]}) for step in steps}
    named = await desk.duplicate_candidates("problem.public_utilities", **here)
    assert named == [opened[step] for step in range(1, 11)]


async def test_a_case_in_a_grid_without_managers_waits_for_the_street(platform, clock):
    civil = platform.as_("grid", "civil_affairs")
    square = {"type": "Polygon", "coordinates": [[[104.2, 30.6], [104.21, 30.6], [104.21, 30.61],
                                                  [104.2, 30.61], [104.2, 30.6]]]}
    await civil.post("/grids", json={
        "grid_id": "s1.c1.g2", "community_id": "s1.c1", "name_zh": "网格", "name_en": "Grid",
        "households": 320, "boundary": square, "illustrative": True})
    point = {"lon": 104.205, "lat": 30.605}
    await platform.eventually("grid", "/territory/locate",
                              lambda g: g["grid_id"] == "s1.c1.g2", **point)
    response = await platform.as_("grid", "street_service_staff:s1").post(
        "/cases", json=patrol(source="complaint", location=point))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    assert await types(platform, case_id) == ["registered"]
    await post(platform, MANAGER, case_id, "accept", expected=403)  # not its grid
    await post(platform, STREET, case_id, "postpone",
               {"deadline": "2027-01-01T00:00:00+08:00", "reason": "r"}, expected=409)
    await post(platform, STREET, case_id, "dispatch", {"handler_id": "m9"}, expected=422)
    await post(platform, STREET, case_id, "dispatch", {"handler_id": "m9",
                                                       "grid_id": "s1.c2.g1"})
    assert await types(platform, case_id) == ["registered", "dispatched"]


async def test_managers_show_in_the_territory_read_model(platform):
    grid = await platform.eventually("grid", "/territory/grids/s1.c1.g1",
                                     lambda g: g["managers"] == ["m1", "m2"])
    assert grid["manager_id"] == "m1"
