"""The assessment service's core end to end over HTTP, on real PostgreSQL and a real broker:
the grid publishes the territory and assessment learns its units from Kafka; the district
government drafts and approves a scheme of each kind and sets targets; a street's investment
sub-centre records projects and visits; every one shows in the read API and in the helpers
the scorer reads (views.scheme_in_force, views.targets); every refusal writes nothing."""

import asyncio
import random
from datetime import date, timedelta

import pytest

from deploy.demo_assessment import SCHEMES, SubCentre
from services.assessment import views
from services.assessment.periods import day_of, periods_of
from tests.platform import draw_small_district, running


def linear(indicator: str, weight: float, target: float, floor: float = 0.0) -> dict:
    return {"indicator": indicator, "weight": weight,
            "rule": {"kind": "linear", "floor": floor}, "default_target": target}


OFFICE_SCHEME = {"kind": "street_office", "name_zh": "街道办事处考核方案",
                 "name_en": "Street office scheme", "indicators": [
                     linear("case_closure_rate", 40, 0.9, 0.5),
                     linear("case_rework_rate", 20, 0.05, 0.3),
                     linear("resident_satisfaction", 20, 4.5, 3.0),
                     {"indicator": "consultations_served", "weight": 20,
                      "rule": {"kind": "threshold", "steps": [[5, 0.5], [10, 1.0]]},
                      "default_target": 10}]}
SUBCENTRE_SCHEME = {"kind": "investment_subcentre", "name_zh": "投资服务分中心考核方案",
                    "name_en": "Sub-centre scheme", "indicators": [
                        linear("investment_signed", 40, 5000),
                        linear("projects_started", 20, 3),
                        linear("fixed_asset_investment", 20, 3000),
                        linear("enterprises_served", 20, 20)]}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "assessment"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        await platform.eventually("assessment", "/units", lambda p: p["total"] == 2)
        yield platform


@pytest.fixture
def government(platform):
    return platform.as_("assessment", "district_government", user="gov-1")


@pytest.fixture
def subcentre(platform):
    return platform.as_("assessment", "investment_staff:s1", user="inv-1")


def today(platform) -> date:
    return day_of(platform.apps["assessment"].state.assessment.clock())


async def test_the_units_are_each_street_s_office_and_sub_centre(platform, government):
    units = (await government.get("/units")).json()["items"]
    assert units == [
        {"unit_id": "office-s1", "kind": "street_office", "street_id": "s1",
         "name_zh": "测试街道街道办事处", "name_en": "Test street office"},
        {"unit_id": "subcentre-s1", "kind": "investment_subcentre", "street_id": "s1",
         "name_zh": "测试街道投资服务分中心", "name_en": "Test investment service sub-centre"}]
    only = (await government.get("/units", params={"kind": "investment_subcentre"})).json()
    assert [u["unit_id"] for u in only["items"]] == ["subcentre-s1"]
    pool = platform.apps["assessment"].state.pool
    assert await views.unit(pool, "subcentre-s1") == units[1]
    assert await views.unit(pool, "office-s9") is None
    assert await views.unit(pool, "s1") is None


async def test_a_scheme_of_each_kind_is_drafted_approved_and_in_force(platform, government):
    pool = platform.apps["assessment"].state.pool
    for body in (OFFICE_SCHEME, SUBCENTRE_SCHEME):
        drafted = await government.post("/schemes", json=body)
        assert drafted.status_code == 201, drafted.text
        scheme_id = drafted.json()["scheme_id"]
        assert scheme_id == f"{body['kind']}-v{drafted.json()['scheme_version']}"
        shown = (await government.get(f"/schemes/{scheme_id}")).json()
        assert (shown["status"], shown["in_force"]) == ("draft", False)
        assert [i["indicator"] for i in shown["indicators"]] == [
            i["indicator"] for i in body["indicators"]]
        approved = await government.post(f"/schemes/{scheme_id}/approve")
        assert approved.status_code == 200, approved.text
        again = await government.post(f"/schemes/{scheme_id}/approve")
        assert again.status_code == 409, again.text
        listed = await government.get("/schemes", params={
            "kind": body["kind"], "after": approved.json()["consistency_token"]})
        [row] = [s for s in listed.json()["items"] if s["scheme_id"] == scheme_id]
        assert (row["status"], row["in_force"]) == ("approved", True)
        in_force = await views.scheme_in_force(pool, body["kind"])
        assert in_force is not None and in_force.scheme_id == scheme_id
        assert in_force.indicators[0].indicator == body["indicators"][0]["indicator"]
        assert in_force.approved_at is not None


async def test_a_new_version_is_in_force_once_approved_and_not_before(platform, government):
    pool = platform.apps["assessment"].state.pool
    first = await government.post("/schemes", json=SUBCENTRE_SCHEME)
    second = await government.post("/schemes", json=SUBCENTRE_SCHEME)
    assert second.json()["scheme_version"] == first.json()["scheme_version"] + 1
    await government.get("/schemes", params={"after": second.json()["consistency_token"]})
    before = await views.scheme_in_force(pool, "investment_subcentre")
    assert before is not None and before.status == "approved"
    assert before.scheme_id not in (first.json()["scheme_id"], second.json()["scheme_id"])
    approved = await government.post(f"/schemes/{second.json()['scheme_id']}/approve")
    await government.get("/schemes", params={"after": approved.json()["consistency_token"]})
    now = await views.scheme_in_force(pool, "investment_subcentre")
    assert now is not None and now.scheme_id == second.json()["scheme_id"]


async def test_a_draft_retried_with_its_idempotency_key_drafts_once(platform, government):
    key = {"Idempotency-Key": "draft-office-42"}
    first = await government.post("/schemes", json=OFFICE_SCHEME, headers=key)
    retry = await government.post("/schemes", json=OFFICE_SCHEME, headers=key)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["scheme_id"] == first.json()["scheme_id"]
    assert retry.json()["positions"] == first.json()["positions"]


async def test_two_drafts_of_a_kind_at_once_take_two_numbers(platform, government):
    answers = await asyncio.gather(*(government.post("/schemes", json=OFFICE_SCHEME)
                                     for _ in range(2)))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    numbers = sorted(a.json()["scheme_version"] for a in answers)
    assert numbers[1] == numbers[0] + 1


async def test_scheme_refusals_name_their_field_and_write_nothing(platform, government):
    before = await platform.events_stored("assessment")
    economic_in_office = {**OFFICE_SCHEME, "indicators": [
        linear("case_closure_rate", 50, 0.9), linear("investment_signed", 50, 5000)]}
    office_in_economic = {**SUBCENTRE_SCHEME, "indicators": [
        linear("enterprises_served", 50, 20), linear("resident_satisfaction", 50, 4.0, 3.0)]}
    refusals = [
        (economic_in_office, "indicators.1.indicator", "cannot take an economic indicator"),
        (office_in_economic, "indicators.1.indicator", "cannot take a street office indicator"),
        ({**OFFICE_SCHEME, "indicators": [linear("nothing_such", 100, 1)]},
         "indicators.0.indicator", "no indicator"),
        ({**OFFICE_SCHEME, "indicators": [linear("case_closure_rate", 50, 0.9)] * 2},
         "indicators.1.indicator", "twice"),
        ({**OFFICE_SCHEME, "indicators": [linear("case_closure_rate", 60, 0.9),
                                          linear("case_on_time_rate", 30, 0.9)]},
         "indicators", "sum to 90"),
        ({**OFFICE_SCHEME, "indicators": [linear("case_closure_rate", 100, 0.9),
                                          linear("case_on_time_rate", 0, 0.9)]},
         "indicators.1.weight", "more than 0"),
        ({**OFFICE_SCHEME, "indicators": [{**linear("case_closure_rate", 100, 0.9),
                                           "rule": {"kind": "linear"}}]},
         "indicators.0.rule.floor", "floor"),
        ({**OFFICE_SCHEME, "indicators": [{**linear("case_closure_rate", 100, 0.9),
                                           "rule": {"kind": "threshold"}}]},
         "indicators.0.rule.steps", "steps"),
        ({**OFFICE_SCHEME, "indicators": [linear("case_closure_rate", 100, 90)]},
         "indicators.0.default_target", "between 0 and 1"),
        ({**OFFICE_SCHEME, "indicators": [linear("resident_satisfaction", 100, 0.9)]},
         "indicators.0.default_target", "between 1 and 5"),
    ]
    for body, field, words in refusals:
        refused = await government.post("/schemes", json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert [f["field"] for f in error["fields"]] == [field]
        assert words in error["message"], error["message"]
    unknown = await government.post("/schemes/street_office-v999/approve")
    assert unknown.status_code == 404, unknown.text
    office = platform.as_("assessment", "street_office_staff:s1", user="office-1")
    assert (await office.post("/schemes", json=OFFICE_SCHEME)).status_code == 403
    assert await platform.events_stored("assessment") == before


async def test_targets_are_set_replaced_and_read_by_period(platform, government):
    pool = platform.apps["assessment"].state.pool
    for unit, indicator, period, target in (
            ("office-s1", "case_closure_rate", "2026-11", 0.85),
            ("office-s1", "case_closure_rate", "2026-11", 0.9),  # replaces the first
            ("office-s1", "resident_satisfaction", "2026-Q4", 4.2),
            ("subcentre-s1", "investment_signed", "2026", 20000)):
        answer = await government.put(f"/units/{unit}/targets/{indicator}/{period}",
                                      json={"target": target})
        assert answer.status_code == 200, answer.text
    listed = await government.get("/targets", params={
        "period": "2026-11", "after": answer.json()["consistency_token"]})
    assert [(t["unit_id"], t["indicator"], t["target"]) for t in listed.json()["items"]] == [
        ("office-s1", "case_closure_rate", 0.9)]
    assert await views.targets(pool, "2026-11") == {("office-s1", "case_closure_rate"): 0.9}
    assert await views.targets(pool, "2026") == {("subcentre-s1", "investment_signed"): 20000}
    bad_period = await government.get("/targets", params={"period": "2026-Q7"})
    assert bad_period.status_code == 422
    assert bad_period.json()["error"]["fields"][0]["field"] == "period"


async def test_target_refusals_name_their_field_and_write_nothing(platform, government):
    before = await platform.events_stored("assessment")
    refusals = [
        ("office-s9", "case_closure_rate", "2026-11", 0.9, "unit_id"),  # no street s9
        ("desk-s1", "case_closure_rate", "2026-11", 0.9, "unit_id"),
        ("office-s1", "investment_signed", "2026-11", 100, "indicator"),
        ("subcentre-s1", "case_closure_rate", "2026-11", 0.9, "indicator"),
        ("office-s1", "case_closure_rate", "2026-11-01", 0.9, "period"),
        ("office-s1", "case_closure_rate", "2026-11", 1.5, "target"),
        ("office-s1", "resident_satisfaction", "2026", 5.5, "target"),
    ]
    for unit, indicator, period, target, field in refusals:
        refused = await government.put(f"/units/{unit}/targets/{indicator}/{period}",
                                       json={"target": target})
        assert refused.status_code == 422, refused.text
        assert [f["field"] for f in refused.json()["error"]["fields"]] == [field]
    not_a_number = await government.put("/units/office-s1/targets/case_closure_rate/2026",
                                        json={"target": "0.9"})
    assert not_a_number.status_code == 422
    assert await platform.events_stored("assessment") == before


async def test_a_project_goes_from_signing_to_completion_and_shows(platform, subcentre):
    day = today(platform)
    signed = await subcentre.post("/projects", json={
        "street_id": "s1", "name": "数字经济产业园", "investor": "成都某科技有限公司",
        "amount_wan": 8000, "signed_on": str(day - timedelta(days=3))})
    assert signed.status_code == 201, signed.text
    project_id = signed.json()["project_id"]
    steps = [
        ("complete", {"fixed_asset_investment_wan": 100, "completed_on": str(day)}, 409),
        ("start", {"started_on": str(day - timedelta(days=1))}, 200),
        ("start", {"started_on": str(day)}, 409),
        ("complete", {"fixed_asset_investment_wan": 6500.5, "completed_on": str(day)}, 200),
    ]
    for step, body, status in steps:
        answer = await subcentre.post(f"/projects/{project_id}/{step}", json=body)
        assert answer.status_code == status, (step, answer.text)
    shown = (await subcentre.get(f"/projects/{project_id}")).json()
    assert shown == {"project_id": project_id, "street_id": "s1", "name": "数字经济产业园",
                     "investor": "成都某科技有限公司", "amount_wan": 8000.0,
                     "signed_on": str(day - timedelta(days=3)),
                     "started_on": str(day - timedelta(days=1)), "completed_on": str(day),
                     "fixed_asset_investment_wan": 6500.5, "status": "completed"}
    listed = await subcentre.get("/projects", params={"status": "completed"})
    assert project_id in [p["project_id"] for p in listed.json()["items"]]


async def test_visits_are_recorded_and_listed_for_their_street_only(platform, subcentre):
    day = today(platform)
    visited = await subcentre.post("/visits", json={
        "street_id": "s1", "enterprise": "成都某制造有限公司",
        "purpose": "政策宣讲 policy briefing", "visited_on": str(day)})
    assert visited.status_code == 201, visited.text
    token = visited.json()["consistency_token"]
    mine = await subcentre.get("/visits", params={"after": token, "since": str(day)})
    assert [v["visit_id"] for v in mine.json()["items"]] == [visited.json()["visit_id"]]
    elsewhere = platform.as_("assessment", "investment_staff:s2", user="inv-2")
    assert (await elsewhere.get("/visits")).json()["items"] == []
    assert (await elsewhere.get("/projects")).json()["items"] == []
    office = platform.as_("assessment", "street_office_staff:s1", user="office-1")
    assert (await office.get("/visits")).json()["total"] == 1


async def test_economic_refusals_name_their_field_and_write_nothing(platform, subcentre):
    day = today(platform)
    signed = await subcentre.post("/projects", json={
        "street_id": "s1", "name": "物流中心", "investor": "某物流公司", "amount_wan": 1200,
        "signed_on": str(day)})
    project_id = signed.json()["project_id"]
    elsewhere = platform.as_("assessment", "investment_staff:s2", user="inv-2")
    nowhere = platform.as_("assessment", "investment_staff:s9", user="inv-9")
    project = {"street_id": "s1", "name": "商业综合体", "investor": "某地产公司",
               "amount_wan": 3000, "signed_on": str(day)}
    before = await platform.events_stored("assessment")
    refusals = [
        (subcentre.post("/projects", json={**project, "amount_wan": 0}), 422, "amount_wan"),
        (subcentre.post("/projects", json={**project, "signed_on": str(day + timedelta(1))}),
         422, "signed_on"),
        (subcentre.post("/projects", json={**project, "street_id": "s9"}), 403, None),
        (elsewhere.post("/projects", json=project), 403, None),
        (nowhere.post("/projects", json={**project, "street_id": "s9"}), 422, "street_id"),
        (elsewhere.post(f"/projects/{project_id}/start", json={"started_on": str(day)}), 403,
         None),
        (subcentre.post(f"/projects/{project_id}/start",
                        json={"started_on": str(day - timedelta(days=1))}), 422, "started_on"),
        (subcentre.post(f"/projects/{project_id}/start",
                        json={"started_on": str(day + timedelta(days=1))}), 422, "started_on"),
        (subcentre.post("/projects/nothing/start", json={"started_on": str(day)}), 404,
         "project_id"),
        (subcentre.post("/visits", json={"street_id": "s1", "enterprise": "某公司",
                                         "purpose": "走访", "visited_on": str(day + timedelta(1))}),
         422, "visited_on"),
    ]
    for call, status, field in refusals:
        response = await call
        assert response.status_code == status, response.text
        if field:
            assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert await platform.events_stored("assessment") == before


class Minter:
    """The demo's sign-in, with the test issuer's tokens."""

    def __init__(self, platform) -> None:
        self.platform = platform

    async def sign_in(self, grant: str) -> dict[str, str]:
        return await self.platform.sign_in(grant)


async def test_the_demo_puts_schemes_and_targets_in_force_once_and_records_results(platform):
    client = platform["assessment"]
    demo = SubCentre(client, Minter(platform), random.Random(7), street="s1")
    await demo.setup()
    pool = platform.apps["assessment"].state.pool
    for kind in SCHEMES:
        await platform.eventually("assessment", "/schemes",
                                  lambda p, k=kind: any(s["in_force"] and s["kind"] == k
                                                        for s in p["items"]))
        assert await views.scheme_in_force(pool, kind) is not None
    for period in periods_of(today(platform)):
        wanted = len(SCHEMES["street_office"]["indicators"]) + len(
            SCHEMES["investment_subcentre"]["indicators"])
        await platform.eventually("assessment", "/targets", lambda p, n=wanted: p["total"] >= n,
                                  period=period)
    stored = await platform.events_stored("assessment")
    await demo.setup()  # a restart sets nothing already set
    assert await platform.events_stored("assessment") == stored
    for _ in range(150):
        await demo.round()
    assert await platform.events_stored("assessment") > stored
    records = await platform.eventually("assessment", "/visits", lambda p: p["total"] > 1)
    assert {v["street_id"] for v in records["items"]} == {"s1"}
