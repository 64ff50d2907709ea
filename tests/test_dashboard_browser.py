"""The dashboard in a real browser (Playwright driving Debian's chromium) against the real
platform (grid, intake, accounts, enforcement, assessment: APIs over HTTP, relays, Faust
workers, PostgreSQL, the broker): a user made through the accounts API signs in on the page
(the OAuth2 password flow, cross-origin), sees both rankings in zh, sees a score change after
a new event without reloading (server-sent events), drills into the explanation down to the
event, then the English page; screenshots of both go to docs/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from deploy.browser import CHROMIUM_ARGS, ensure_chromium
from deploy.vendor import ensure_vendored
from services.accounts.bootstrap import ensure_admin
from services.assessment.periods import day_of
from tests.platform import ROOT, draw_small_district, running
from tests.served import free_port, served

NAMES = ["grid", "intake", "accounts", "enforcement", "assessment"]
PASSWORD = "correct horse battery staple"
DOCS = ROOT / "docs"


def linear(indicator: str, weight: float, target: float, floor: float = 0.0) -> dict:
    return {"indicator": indicator, "weight": weight,
            "rule": {"kind": "linear", "floor": floor}, "default_target": target}


SCHEMES = [
    {"kind": "street_office", "name_zh": "街道办事处考核方案", "name_en": "Street office scheme",
     "indicators": [linear("case_closure_rate", 40, 0.9, 0.5),
                    linear("case_rework_rate", 20, 0.05, 0.3),
                    linear("resident_satisfaction", 20, 4.5, 3.0),
                    linear("consultations_served", 20, 10)]},
    {"kind": "investment_subcentre", "name_zh": "投资服务分中心考核方案",
     "name_en": "Investment sub-centre scheme",
     "indicators": [linear("investment_signed", 40, 5000), linear("projects_started", 20, 3),
                    linear("fixed_asset_investment", 20, 3000),
                    linear("enterprises_served", 20, 4)]},
]


@pytest.fixture(scope="module")
async def live(database_url, kafka_bootstrap, tmp_path_factory):
    """The platform with its APIs on real ports (the page calls them from the browser), the
    small district, both schemes in force and a user who reads the dashboard."""
    ensure_vendored()
    ensure_chromium()
    ports = {name: free_port() for name in NAMES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {"JIEDAO_AUTH_TOKEN_URL": f"{urls['accounts']}/auth/token",
           "JIEDAO_PUBLIC_URLS": ",".join(f"{n}={u}" for n, u in urls.items()),
           "JIEDAO_CORS_ORIGINS": urls["assessment"]}
    async with running(NAMES, database_url, kafka_bootstrap, tmp_path_factory.mktemp("jiedao"),
                       env=env) as platform:
        async with served(platform.apps["grid"], ports["grid"]), \
                served(platform.apps["intake"], ports["intake"]), \
                served(platform.apps["accounts"], ports["accounts"]), \
                served(platform.apps["enforcement"], ports["enforcement"]), \
                served(platform.apps["assessment"], ports["assessment"]):
            await drawn(platform)
            await ready(platform)
            yield platform, urls


async def drawn(platform, timeout: float = 180.0) -> None:
    """The small district, given longer than its own 45 s to reach intake and enforcement
    (five Faust workers start slowly on a busy machine)."""
    try:
        await draw_small_district(platform)
    except TimeoutError:
        territory = platform.apps["intake"].state.intake.territory
        replica = platform.apps["enforcement"].state.enforcement.territory
        async with asyncio.timeout(timeout):
            while (await territory.street_of("s1.c2") is None
                   or await replica.locate(104.115, 30.605) is None
                   or not await replica.has_street("s1")):
                platform.assert_workers_alive()
                await asyncio.sleep(0.5)


async def ready(platform) -> None:
    assert await ensure_admin(platform.settings, "root", PASSWORD)
    accounts = platform["accounts"]
    token = (await accounts.post("/auth/token", data={"username": "root",
                                                      "password": PASSWORD})).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    made = await accounts.post("/users", headers=admin, json={
        "username": "sun.auditor", "name": "孙建国", "password": PASSWORD})
    assert made.status_code == 201, made.text
    granted = await accounts.post("/users/sun.auditor/grants", headers=admin,
                                  json={"grant": "auditor"})
    assert granted.status_code in (200, 201), granted.text
    government = platform.as_("assessment", "district_government", user="gov-1")
    await platform.eventually("assessment", "/units", lambda p: p["total"] == 2)
    for scheme in SCHEMES:
        drafted = await government.post("/schemes", json=scheme)
        assert drafted.status_code == 201, drafted.text
        approved = await government.post(f"/schemes/{drafted.json()['scheme_id']}/approve")
        assert approved.status_code == 200, approved.text
    office = platform.as_("grid", "street_office_staff:s1", user="office-1")
    for lon, description in ((104.105, "路灯不亮 street light out"),
                             (104.115, "井盖缺失 manhole cover missing")):
        filed = await office.post("/cases", json={
            "source": "complaint", "category": "problem.public_utilities",
            "description": description, "location": {"lon": lon, "lat": 30.605}})
        assert filed.status_code == 201, filed.text
    officer = platform.as_("enforcement", "enforcement_officer:s1", user="officer-1")
    recorded = await officer.post("/violations", json={
        "street_id": "s1", "type": "ps.noise_nuisance", "source": "patrol",
        "location": {"lon": 104.105, "lat": 30.605}, "address": "测试路1号",
        "evidence": ["photos/1.jpg"], "offender": {"kind": "person", "name": "张三",
                                                   "id_number": "510108198001010000"}})
    assert recorded.status_code == 201, recorded.text
    subcentre = platform.as_("assessment", "investment_staff:s1", user="inv-1")
    signed = await subcentre.post("/projects", json={
        "street_id": "s1", "name": "智能制造产业园 smart manufacturing park",
        "investor": "成华智造科技有限公司", "amount_wan": 3200, "signed_on": today()})
    assert signed.status_code == 201, signed.text
    await visit(platform, "招商走访 first visit")
    await platform.eventually("assessment", "/rankings", lambda p: len(p["street_office"]) == 1
                              and p["investment_subcentre"][0]["total"] > 0,
                              period=month())


def today() -> str:
    return day_of(datetime.now(UTC)).isoformat()  # the district's day (Asia/Shanghai)


def month() -> str:
    return today()[:7]


async def visit(platform, purpose: str) -> None:
    subcentre = platform.as_("assessment", "investment_staff:s1", user="inv-1")
    recorded = await subcentre.post("/visits", json={
        "street_id": "s1", "enterprise": "成华智造科技有限公司", "purpose": purpose,
        "visited_on": today()})
    assert recorded.status_code == 201, recorded.text


async def signed_in(page: Page, base: str, lang: str = "") -> None:
    await page.goto(f"{base}/dashboard{lang}")
    await page.wait_for_selector("body[data-ready=true] #sign-in-form")
    await page.fill("input[name=username]", "sun.auditor")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector('#ranking-investment_subcentre tr[data-unit="subcentre-s1"]')
    await page.wait_for_selector("#chart-street_office canvas")  # ECharts drew the ranking


async def score_of(page: Page, indicator: str) -> float:
    cell = page.locator(f'#unit-indicators tr[data-indicator="{indicator}"] td.score')
    return float(await cell.get_attribute("data-score"))


async def test_the_dashboard_signs_in_updates_live_and_explains_in_zh_and_en(live):
    platform, urls = live
    DOCS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(ensure_chromium()),
                                           args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}: {e.stack}"))
            await signed_in(page, urls["assessment"])
            assert "街道办事处排名" in await page.inner_text("section[data-kind=street_office] h2")
            assert "Street office ranking" in await page.inner_text(
                "section[data-kind=street_office] h2")

            await page.click('#ranking-investment_subcentre tr[data-unit="subcentre-s1"]')
            row = '#unit-indicators tr[data-indicator="enterprises_served"]'
            await page.wait_for_selector(row)
            before = await score_of(page, "enterprises_served")
            total_cell = '#ranking-investment_subcentre tr[data-unit="subcentre-s1"] td.total'
            total_before = float(await page.get_attribute(total_cell, "data-total"))
            await page.evaluate("window.notReloaded = true")
            await visit(platform, "跟踪服务 follow-up visit")
            await page.wait_for_function(
                "([sel, before]) => Number(document.querySelector(sel).dataset.score) > before",
                arg=[f"{row} td.score", before], timeout=30_000)
            assert await page.evaluate("window.notReloaded") is True  # updated in place
            assert await score_of(page, "enterprises_served") == pytest.approx(before + 5)
            await page.wait_for_function(
                "([sel, before]) => Number(document.querySelector(sel).dataset.total) > before",
                arg=[total_cell, total_before], timeout=10_000)

            await page.click(row)
            await page.wait_for_selector("#explanation-events tr[data-event]")
            explained = await page.inner_text("#explanation-panel")
            assert "企业服务走访次数" in explained and "enterprise service visits" in explained
            assert "assessment.enterprise.visited" in explained
            assert await page.locator("#explanation-events tr[data-event]").count() == 2
            assert await page.inner_text('#explanation-figures dd[data-figure="value"]') == "2"
            await page.wait_for_selector("#chart-map canvas")
            await asyncio.sleep(0.5)  # the charts' entry animations
            await page.screenshot(path=str(DOCS / "dashboard-zh.png"), full_page=True)

            english = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await signed_in(english, urls["assessment"], "?lang=en")
            heading = await english.inner_text("section[data-kind=investment_subcentre] h2")
            assert heading == "Investment sub-centre ranking"
            assert await english.get_attribute("html", "lang") == "en"
            matrix = '#matrix-investment_subcentre td[data-indicator="enterprises_served"]'
            assert await english.inner_text(matrix) == "2 / 4"  # each unit: value / target
            await english.click(matrix)
            await english.wait_for_selector("#explanation-events tr[data-event]")
            assert "enterprise service visits" in await english.inner_text("#explanation-panel")
            assert "企业服务走访次数" not in await english.inner_text("#explanation-panel")
            await english.wait_for_selector("#chart-map canvas")
            await asyncio.sleep(0.5)
            await english.screenshot(path=str(DOCS / "dashboard-en.png"), full_page=True)
            assert not errors, "\n".join(errors)
        finally:
            await browser.close()
    assert Path(DOCS / "dashboard-zh.png").stat().st_size > 10_000
