"""Demo traffic for `jiedao up`: residents keep filing at the community service stations of
猛追湾街道, and its public service centre keeps working their queues; residents report street
problems that the grid's back desk works to closure (deploy/demo_backdesk.py); the district's
assessment has its schemes and targets, and 猛追湾街道's investment sub-centre records projects
and enterprise visits (deploy/demo_assessment.py); so every read model has something
happening. Everyone acts signed in as a demo user (deploy/demo_users.py)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
from shapely.geometry import shape

from deploy.demo_assessment import SubCentre
from deploy.demo_backdesk import BackDesk
from deploy.demo_users import STREET, Accounts, people_with_passwords

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("秀英", "建国", "丽华", "志强", "晓燕", "海涛", "玉兰", "文杰", "红梅", "德明")


async def _places(grid: httpx.AsyncClient, staff: dict[str, str]) -> list[dict[str, Any]]:
    """Grids of the demo street to file from: their community and a point inside each."""
    places = []
    detail = (await grid.get(f"/territory/streets/{STREET}", headers=staff)).json()
    for community in detail["communities"]:
        info = (await grid.get(f"/territory/communities/{community['community_id']}",
                               headers=staff)).json()
        for g in info["grids"][:2]:
            boundary = (await grid.get(f"/territory/grids/{g['grid_id']}",
                                       headers=staff)).json()["boundary"]
            point = shape(boundary).representative_point()
            places.append({"community_id": community["community_id"],
                           "grid_id": g["grid_id"], "lon": point.x, "lat": point.y})
    return places


def _filing(place: dict[str, Any], matter: dict[str, Any], rng: random.Random) -> dict:
    required = [m["code"] for m in matter["materials"]]
    brought = [m for m in required if rng.random() < 0.85]
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    return {"matter_code": matter["matter_code"], "community_id": place["community_id"],
            "applicant": {"name": name, "id_number": f"5101{rng.randrange(10**14):014d}"},
            "address": f"{place['grid_id']} {rng.randint(1, 120)}号",
            "location": {"lon": place["lon"], "lat": place["lat"]}, "materials": brought}


class Station:
    """The demo's window staff: remembers what each applicant left at home."""

    def __init__(self, intake: httpx.AsyncClient, rng: random.Random,
                 staff: dict[str, str]) -> None:
        self.intake, self.rng, self.staff = intake, rng, staff
        self.missing: dict[str, list[str]] = {}

    async def file(self, place: dict[str, Any], matter: dict[str, Any]) -> None:
        body = _filing(place, matter, self.rng)
        response = await self.intake.post("/applications", json=body, headers=self.staff)
        if response.status_code == 201:
            required = [m["code"] for m in matter["materials"]]
            missing = [m for m in required if m not in body["materials"]]
            self.missing[response.json()["application_id"]] = missing

    async def work(self, app: dict[str, Any]) -> None:
        """The next step on one open application."""
        app_id = app["application_id"]
        path, missing = f"/applications/{app_id}", self.missing.pop(app_id, [])
        if app["status"] == "filed" and missing:
            await self.intake.post(f"{path}/return", json={"missing": missing},
                                   headers=self.staff)
        elif app["status"] == "returned":
            await self.intake.post(f"{path}/materials", json={"materials": app["missing"]},
                                   headers=self.staff)
        elif app["status"] in ("filed", "resubmitted"):
            await self.intake.post(f"{path}/acceptance", json={}, headers=self.staff)
        elif app["status"] == "accepted" and self.rng.random() < 0.9:
            await self.intake.post(f"{path}/completion", json={"result": "已办结 done"},
                                   headers=self.staff)
        elif app["status"] == "accepted":
            await self.intake.post(f"{path}/refusal", json={"reason": "不符合条件 not eligible"},
                                   headers=self.staff)

    async def open_applications(self) -> list[dict[str, Any]]:
        items = []
        for status in ("filed", "returned", "resubmitted", "accepted"):
            page = await self.intake.get("/applications", params={"status": status},
                                         headers=self.staff)
            items += page.json()["items"][:2]
        return items


async def keep_flowing(grid_url: str, intake_url: str, accounts_url: str, data_dir: Path, *,
                       assessment_url: str, every: float = 1.0) -> None:
    rng = random.Random(2012)
    users = people_with_passwords(data_dir)
    async with httpx.AsyncClient(base_url=grid_url, timeout=30) as grid, \
            httpx.AsyncClient(base_url=intake_url, timeout=30) as intake, \
            httpx.AsyncClient(base_url=accounts_url, timeout=30) as accounts_client, \
            httpx.AsyncClient(base_url=assessment_url, timeout=30) as assessment:
        accounts = Accounts(accounts_client, users)
        staff = await accounts.sign_in(f"street_service_staff:{STREET}")
        places = await _places(grid, staff)
        matters = [m for m in (await intake.get("/catalogue")).json()["items"]
                   if m["level"] != "district" or rng.random() < 0.2]
        print(f"demo: {len(places)} stations, {len(matters)} matters; filing every {every}s "
              f"as {STREET} street service centre staff", flush=True)
        station = Station(intake, rng, staff)
        back_desk = BackDesk(grid, intake, accounts, rng)
        sub_centre = SubCentre(assessment, accounts, rng)
        await sub_centre.setup()
        while True:
            if rng.random() < 0.05:  # tokens last minutes: sign in afresh now and then
                accounts.tokens.clear()
                station.staff = await accounts.sign_in(f"street_service_staff:{STREET}")
            try:
                await _one_round(station, rng.choice(places), rng.choice(matters))
                await back_desk.round()
                await sub_centre.round()
            except (httpx.HTTPError, ValueError, KeyError) as exc:  # e.g. an API restarting
                print(f"demo: {type(exc).__name__}: {exc}; carrying on", flush=True)
            await asyncio.sleep(every)


async def _one_round(station: Station, place: dict[str, Any], matter: dict[str, Any]) -> None:
    await station.file(place, matter)
    if station.rng.random() < 0.2:
        await station.intake.post("/consultations", headers=station.staff, json={
            "community_id": place["community_id"], "topic": f"{matter['name_zh']}怎么办",
            "matter_code": matter["matter_code"], "answered_by": "窗口工作人员",
            "answer": "请携带" + "、".join(m["name_zh"] for m in matter["materials"])})
    for app in await station.open_applications():
        await station.work(app)
