"""Demo assessment for `jiedao up`: the district government (the demo government user) has
one scheme of each kind in force and targets for every street's two units for the current
month, quarter and year; now and then 猛追湾街道's investment service sub-centre (the demo
investment user) signs, starts or completes a project, or records an enterprise visit. Each
start sets only what is missing (a restart adds the new month's targets)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from deploy.demo_users import STREET
from services.assessment.indicators import CATALOGUE
from services.assessment.periods import day_of, periods_of


def _linear(indicator: str, weight: float, target: float, floor: float = 0.0) -> dict:
    return {"indicator": indicator, "weight": weight,
            "rule": {"kind": "linear", "floor": floor}, "default_target": target}


# Monthly targets; a quarter's and a year's counts and sums are 3 and 12 times as much.
SCHEMES: dict[str, dict[str, Any]] = {
    "street_office": {
        "kind": "street_office", "name_zh": "街道办事处目标考核方案（社会管理和公共服务）",
        "name_en": "Street office assessment (social management and public service)",
        "indicators": [
            _linear("applications_on_time", 15, 0.95, 0.6),
            {"indicator": "consultations_served", "weight": 10, "default_target": 30,
             "rule": {"kind": "threshold", "steps": [[10, 0.5], [20, 0.8], [30, 1.0]]}},
            _linear("case_closure_rate", 20, 0.9, 0.5),
            _linear("case_on_time_rate", 15, 0.85, 0.4),
            _linear("case_rework_rate", 10, 0.05, 0.3),
            _linear("resident_satisfaction", 15, 4.5, 3.0),
            _linear("violations_rectified_on_time", 15, 0.9, 0.5)]},
    "investment_subcentre": {
        "kind": "investment_subcentre", "name_zh": "投资服务分中心目标考核方案（经济发展）",
        "name_en": "Investment sub-centre assessment (economic development)",
        "indicators": [
            _linear("investment_signed", 35, 5000),
            _linear("projects_started", 20, 2),
            _linear("fixed_asset_investment", 30, 3000),
            _linear("enterprises_served", 15, 20)]},
}
PERIOD_SCALE = (1, 3, 12)  # month, quarter, year (periods_of's order)
INVESTORS = ("成都某科技有限公司", "四川某物流集团", "某商业地产公司", "某智能制造有限公司",
             "某文创传媒公司")
PROJECTS = ("数字经济产业园", "冷链物流中心", "社区商业综合体", "智能装备生产线",
            "文创街区改造")
PURPOSES = ("政策宣讲 policy briefing", "用地协调 land coordination",
            "融资对接 financing match-making", "证照办理 licences")


class SignsIn(Protocol):
    """deploy.demo_users.Accounts, or a test's token minter: headers of a grant's holder."""

    async def sign_in(self, grant: str) -> dict[str, str]: ...


def target_for(indicator: str, monthly: float, scale: int, rng: random.Random) -> float:
    """The demo's target of one unit: the monthly default, varied a little per unit; counts
    and sums grow with the period's length."""
    measure = CATALOGUE[indicator].measure
    if measure in ("count", "sum"):
        return round(monthly * scale * rng.uniform(0.8, 1.2))
    if measure == "mean":
        return round(min(5.0, monthly * rng.uniform(0.95, 1.05)), 2)
    return round(min(1.0, monthly * rng.uniform(0.95, 1.05)), 3)


class SubCentre:
    """The district's assessment in the demo: its schemes and targets, and 猛追湾街道's
    sub-centre recording its economic results."""

    def __init__(self, assessment: httpx.AsyncClient, accounts: SignsIn,
                 rng: random.Random, street: str = STREET) -> None:
        self.assessment, self.accounts, self.rng = assessment, accounts, rng
        self.street = street

    async def setup(self) -> None:
        government = await self.accounts.sign_in("district_government")
        approved = (await self.assessment.get("/schemes", params={"status": "approved"},
                                              headers=government)).json()["items"]
        for kind, body in SCHEMES.items():
            if not any(s["kind"] == kind for s in approved):
                await self._in_force(body, government)
        set_now = await self._set_targets(government)
        print(f"demo assessment: schemes in force, {set_now} targets set", flush=True)

    async def _in_force(self, body: dict[str, Any], government: dict[str, str]) -> None:
        drafted = await self.assessment.post("/schemes", json=body, headers=government)
        drafted.raise_for_status()
        approved = await self.assessment.post(
            f"/schemes/{drafted.json()['scheme_id']}/approve", headers=government)
        approved.raise_for_status()

    async def _set_targets(self, government: dict[str, str]) -> int:
        units = (await self.assessment.get("/units", headers=government)).json()["items"]
        set_now = 0
        for period, scale in zip(periods_of(day_of(datetime.now(UTC))), PERIOD_SCALE,
                                 strict=True):
            have = {(t["unit_id"], t["indicator"]) for t in (await self.assessment.get(
                "/targets", params={"period": period}, headers=government)).json()["items"]}
            for unit in units:
                for item in SCHEMES[unit["kind"]]["indicators"]:
                    if (unit["unit_id"], item["indicator"]) in have:
                        continue
                    target = target_for(item["indicator"], item["default_target"], scale,
                                        self.rng)
                    path = f"/units/{unit['unit_id']}/targets/{item['indicator']}/{period}"
                    answer = await self.assessment.put(path, json={"target": target},
                                                       headers=government)
                    set_now += answer.status_code == 200
        return set_now

    async def round(self) -> None:
        """Now and then, one record of 猛追湾街道's sub-centre."""
        if self.rng.random() >= 0.1:
            return
        staff = await self.accounts.sign_in(f"investment_staff:{self.street}")
        today = str(day_of(datetime.now(UTC)))
        open_projects = (await self.assessment.get(
            "/projects", params={"street_id": self.street}, headers=staff)).json()["items"]
        signed = [p for p in open_projects if p["status"] == "signed"]
        started = [p for p in open_projects if p["status"] == "started"]
        choice = self.rng.random()
        if choice < 0.3:
            await self.assessment.post("/projects", headers=staff, json={
                "street_id": self.street, "name": self.rng.choice(PROJECTS),
                "investor": self.rng.choice(INVESTORS),
                "amount_wan": self.rng.randrange(300, 3000, 50), "signed_on": today})
        elif choice < 0.45 and signed:
            await self.assessment.post(f"/projects/{signed[0]['project_id']}/start",
                                       headers=staff, json={"started_on": today})
        elif choice < 0.6 and started:
            await self.assessment.post(
                f"/projects/{started[0]['project_id']}/complete", headers=staff, json={
                    "fixed_asset_investment_wan": round(started[0]["amount_wan"]
                                                        * self.rng.uniform(0.5, 0.9)),
                    "completed_on": today})
        else:
            await self.assessment.post("/visits", headers=staff, json={
                "street_id": self.street, "enterprise": self.rng.choice(INVESTORS),
                "purpose": self.rng.choice(PURPOSES), "visited_on": today})
