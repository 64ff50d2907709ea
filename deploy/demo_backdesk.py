"""Demo traffic at the grid back desk for `jiedao up`: now and then a resident reports a street
problem in 猛追湾街道's demo grid through Open311; the grid's manager (the demo grid manager)
accepts and resolves the cases on the grid's board, and the demo grid member checks them on
site: most pass and close, some fail and go back for rework. Everyone acts signed in."""

from __future__ import annotations

import random
from typing import Any

import httpx
from shapely.geometry import shape

from deploy.demo_users import GRID, Accounts

KEY = "jiedao-demo-key"  # Settings.demo_api_key: accepted in development only
PROBLEMS = (
    ("problem.streetscape", "垃圾桶满溢 overflowing bins"),
    ("problem.street_order", "占道经营 stalls on the pavement"),
    ("problem.public_utilities", "路灯不亮 street light out"),
    ("problem.advertising", "小广告 flyers on the lamp posts"),
    ("problem.landscaping", "行道树倒伏 a fallen street tree"),
)


class BackDesk:
    """The demo grid's people: its manager works the board, its member verifies."""

    def __init__(self, grid: httpx.AsyncClient, intake: httpx.AsyncClient,
                 accounts: Accounts, rng: random.Random) -> None:
        self.grid, self.intake, self.accounts, self.rng = grid, intake, accounts, rng
        self.point: tuple[float, float] | None = None

    async def round(self) -> None:
        if self.rng.random() < 0.3:
            await self.report()
        manager = await self.accounts.sign_in(f"grid_manager:{GRID}")
        member = await self.accounts.sign_in(f"grid_member:{GRID}")
        board = await self.grid.get(f"/grids/{GRID}/board", headers=manager)
        if board.status_code != 200:
            return
        for handler in board.json()["handlers"]:
            for case in handler["cases"][:3]:
                await self.work(case, manager, member)

    async def report(self) -> None:
        lon, lat = await self._somewhere()
        code, description = self.rng.choice(PROBLEMS)
        await self.intake.post("/open311/v2/requests.json", data={
            "api_key": KEY, "service_code": code, "description": description,
            "long": f"{lon + self.rng.uniform(-3e-4, 3e-4):.6f}",
            "lat": f"{lat + self.rng.uniform(-3e-4, 3e-4):.6f}",
            "address_string": f"望平街{self.rng.randint(1, 120)}号"})

    async def work(self, case: dict[str, Any], manager: dict[str, str],
                   member: dict[str, str]) -> None:
        path = f"/cases/{case['case_id']}"
        if case["status"] == "dispatched":
            await self.grid.post(f"{path}/accept", json={}, headers=manager)
        elif case["status"] == "handling" and self.rng.random() < 0.5:
            await self.grid.post(f"{path}/resolve", json={"result": "已处置 dealt with"},
                                 headers=manager)
        elif case["status"] == "resolved":
            passed = self.rng.random() < 0.85
            await self.grid.post(f"{path}/verify", headers=member, json={
                "passed": passed, "by": "grid", "comment": "现场核实 checked on site",
                **({"satisfaction": self.rng.randint(3, 5)} if passed else {})})

    async def _somewhere(self) -> tuple[float, float]:
        if self.point is None:
            headers = await self.accounts.sign_in(f"grid_member:{GRID}")
            boundary = (await self.grid.get(f"/territory/grids/{GRID}",
                                            headers=headers)).json()["boundary"]
            point = shape(boundary).representative_point()
            self.point = (point.x, point.y)
        return self.point
