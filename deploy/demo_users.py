"""The embedded default's people: the first administrator and one demo user per role, made
through the accounts service, with generated passwords kept in the data directory (0600) so a
restart prints the same ones. Demo only: production creates its administrator with
`jiedao accounts create-admin` and its users through the accounts API."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from shared.access import Grant, Role

ADMIN = "admin"
STREET, COMMUNITY = "mengzhuiwan", "mengzhuiwan.wangping"  # 猛追湾街道 望平社区 (the seed's)
GRID = f"{COMMUNITY}.g01"
DEPARTMENTS = (  # every department that proposes or reviews in the reform's catalogue
    "ageing_office", "civil_affairs", "comprehensive_governance", "culture_sports",
    "disabled_federation", "education", "establishment", "finance", "health", "housing_admin",
    "hrss", "industry_commerce", "justice", "legal_affairs", "petitions", "planning",
    "population_fp", "public_security", "urban_management", "work_safety")


@dataclass
class DemoUser:
    username: str
    name: str
    grants: list[str]
    password: str = ""


def people() -> list[DemoUser]:
    """One demo user per role, placed in 猛追湾街道 (its 望平社区, its first grid)."""
    return [
        DemoUser("demo-resident", "王秀英 (居民 resident)", [Role.RESIDENT]),
        DemoUser("demo-clerk", "李丽华 (社区服务站前台 front desk)",
                 [f"{Role.FRONT_DESK_CLERK}:{COMMUNITY}"]),
        DemoUser("demo-street-service", "张建国 (街道公共服务中心 street service centre)",
                 [f"{Role.STREET_SERVICE_STAFF}:{STREET}"]),
        DemoUser("demo-grid-member", "刘志强 (网格员 grid member)", [f"{Role.GRID_MEMBER}:{GRID}"]),
        DemoUser("demo-grid-manager", "陈晓燕 (网格管理员 grid manager)",
                 [f"{Role.GRID_MANAGER}:{GRID}"]),
        DemoUser("demo-enforcement", "杨海涛 (综合执法队员 enforcement officer)",
                 [f"{Role.ENFORCEMENT_OFFICER}:{STREET}"]),
        DemoUser("demo-street-office", "黄玉兰 (街道办事处 street office)",
                 [f"{Role.STREET_OFFICE_STAFF}:{STREET}"]),
        DemoUser("demo-investment", "赵文杰 (投资服务分中心 investment sub-centre)",
                 [f"{Role.INVESTMENT_STAFF}:{STREET}"]),
        DemoUser("demo-departments", "吴红梅 (区级部门 district departments)",
                 [f"{Role.DISTRICT_DEPARTMENT}:{code}" for code in DEPARTMENTS]),
        DemoUser("demo-government", "周德明 (区政府 district government)",
                 [Role.DISTRICT_GOVERNMENT]),
        DemoUser("demo-civil-affairs", "徐秀英 (区民政局 civil affairs)", [Role.CIVIL_AFFAIRS]),
        DemoUser("demo-auditor", "孙建国 (审计 auditor)", [Role.AUDITOR]),
    ]


def passwords(data_dir: Path) -> dict[str, str]:
    """The demo passwords, generated on the first start and kept (0600) for the next."""
    path = data_dir / "auth" / "demo-users.json"
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {u: secrets.token_urlsafe(12) for u in [ADMIN, *(p.username for p in people())]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(made, file, indent=1)
    return made


class Accounts:
    """Signs in at the accounts service (OAuth2 password flow) and keeps the tokens."""

    def __init__(self, client: httpx.AsyncClient, users: list[DemoUser]) -> None:
        self.client, self.users = client, users
        self.tokens: dict[str, str] = {}

    async def headers(self, username: str, password: str) -> dict[str, str]:
        if username not in self.tokens:
            response = await self.client.post("/auth/token", data={
                "username": username, "password": password, "grant_type": "password"})
            if response.status_code != 200:
                raise RuntimeError(f"signing in as {username} failed: {response.text}")
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def sign_in(self, grant: str) -> dict[str, str]:
        """deploy.demo's SignIn: as the demo user holding `grant`."""
        wanted = str(Grant.parse(grant))
        for user in self.users:
            if wanted in map(str, user.grants):
                return await self.headers(user.username, user.password)
        raise LookupError(f"no demo user holds {grant}")

    async def ensure(self, admin: dict[str, str], user: DemoUser) -> None:
        """Register `user` with their grants (what exists already is left as it is)."""
        made = await self.client.post("/users", headers=admin, json={
            "username": user.username, "name": user.name, "password": user.password})
        if made.status_code not in (201, 409):
            raise RuntimeError(f"creating {user.username} failed: {made.text}")
        for grant in user.grants:
            given = await self.client.post(f"/users/{user.username}/grants", headers=admin,
                                           json={"grant": str(grant)})
            if given.status_code not in (200, 201, 409):
                raise RuntimeError(f"granting {grant} to {user.username} failed: {given.text}")


def people_with_passwords(data_dir: Path) -> list[DemoUser]:
    secret = passwords(data_dir)
    return [DemoUser(**{**asdict(p), "password": secret[p.username]}) for p in people()]


async def create_people(accounts_url: str, data_dir: Path) -> tuple[str, list[DemoUser]]:
    """Every demo user, made by the administrator (whom `jiedao up` bootstrapped); returns the
    administrator's password and the users with theirs."""
    admin_password, users = passwords(data_dir)[ADMIN], people_with_passwords(data_dir)
    async with httpx.AsyncClient(base_url=accounts_url, timeout=30) as client:
        accounts = Accounts(client, users)
        admin = await accounts.headers(ADMIN, admin_password)
        for user in users:
            await accounts.ensure(admin, user)
    return admin_password, users


def print_people(admin_password: str, users: list[DemoUser]) -> None:
    print("\nSign in (POST /auth/token, or Authorize in any /docs) as — DEMO ACCOUNTS, "
          "passwords generated for this data directory:")
    print(f"  {ADMIN:<20} {admin_password:<18} 系统管理员 administrator")
    for user in users:
        print(f"  {user.username:<20} {user.password:<18} {user.name}")
