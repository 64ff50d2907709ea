"""Run services as `jiedao up` does (API, relay, Faust worker), isolated for one test module:
its own database and its own topic namespace on the session's real broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.demo import admit
from deploy.embedded import ensure_database
from deploy.processes import relay_forever
from deploy.registry import services
from shared.envelope import SYSTEM
from shared.service import create_service_app
from shared.settings import Settings
from shared.tokens import TokenSigner, generate_private_key

ROOT = Path(__file__).resolve().parent.parent
ISSUER, AUDIENCE = "https://accounts.test", "jiedao"


@cache
def private_key() -> str:
    """The session's signing key (the accounts service's, in a platform that runs it)."""
    return generate_private_key()


def signer(key: str | None = None, **options: Any) -> TokenSigner:
    """Mints tokens as the platform's issuer would (another `key` to forge one)."""
    return TokenSigner(key or private_key(), issuer=options.pop("issuer", ISSUER),
                       audience=options.pop("audience", AUDIENCE), **options)


def bearer(*grants: str, user: str = "tester", **options: Any) -> dict[str, str]:
    """Headers signing in as `user` holding `grants` (`front_desk_clerk:s1.c1`, `auditor`)."""
    return {"Authorization": f"Bearer {signer().issue(user, grants, **options)}"}


@cache
def other_key() -> str:
    """A key that is not the issuer's."""
    return generate_private_key()


def forged(*grants: str, user: str = "forger") -> str:
    """A token signed by another key that claims to be the issuer's (its key id)."""
    forger = signer(key=other_key())
    forger.kid = signer().kid
    return forger.issue(user, grants)


def auth_env(data_dir: Path) -> dict[str, str]:
    """What the services are told of the issuer: its keys inline, and (for the accounts
    service) the private key to sign with."""
    key_file = data_dir / "signing-key.pem"
    key_file.write_text(private_key())
    return {"JIEDAO_AUTH_ISSUER": ISSUER, "JIEDAO_AUTH_AUDIENCE": AUDIENCE,
            "JIEDAO_AUTH_JWKS": json.dumps(signer().jwks()),
            "JIEDAO_AUTH_PRIVATE_KEY_FILE": str(key_file)}


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.apps: dict[str, Any] = {}
        self.workers: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}  # the settings its processes run with

    def __getitem__(self, service: str) -> httpx.AsyncClient:
        """The service's client, signed in as no one."""
        return self.clients[service]

    def as_(self, service: str, *grants: str, user: str = "tester") -> Signed:
        """The service's client, signed in as `user` holding `grants`."""
        return Signed(self.clients[service], bearer(*grants, user=user))

    @staticmethod
    async def sign_in(grant: str) -> dict[str, str]:
        """deploy.demo's SignIn: headers of someone holding `grant`."""
        return bearer(grant, user=grant.replace(":", "-"))

    async def events_stored(self, service: str) -> int:
        """How many events people's commands stored in the service's store (a refused command
        adds none). The worker's own (the `system` actor's: a target met, found by a periodic
        check) come whenever its check runs, so they are not counted."""
        store = self.apps[service].state.store
        return await store.pool.fetchval(
            f"SELECT count(*) FROM {store.schema}.events WHERE actor_id <> $1", SYSTEM.user_id)

    def assert_workers_alive(self) -> None:
        for worker in self.workers:
            assert worker.poll() is None, f"a Faust worker died: {worker.args}"

    async def handled_past(self, service: str, sent: Any, timeout: float = 60.0) -> None:
        """Until `service`'s worker has committed past `sent` (a produced record's metadata):
        its agents have handled that message and every earlier one of its partition."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.require_kafka())
        await admin.start()
        partition = TopicPartition(sent.topic, sent.partition)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.assert_workers_alive()
                    offsets = await admin.list_consumer_group_offsets(
                        f"{self.settings.namespace}-{service}", partitions=[partition])
                    if partition in offsets and offsets[partition].offset > sent.offset:
                        return
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def eventually(self, service: str, path: str, check: Callable[[Any], bool],
                         timeout: float = 45.0, **params: Any) -> Any:
        """GET `path` (as the auditor, who reads everything) until it answers 200 with a body
        that passes `check`."""
        reader = self.as_(service, "auditor", user="auditor")
        async with asyncio.timeout(timeout):
            while True:
                self.assert_workers_alive()
                response = await reader.get(path, params=params)
                if response.status_code == 200 and check(response.json()):
                    return response.json()
                await asyncio.sleep(0.2)


@asynccontextmanager
async def running(names: list[str], database_url: str, kafka_bootstrap: str,
                  data_dir: Path, env: dict[str, str] | None = None,
                  workers: list[str] | None = None) -> AsyncIterator[Platform]:
    """`env`: settings of this platform's own (e.g. `{"JIEDAO_RATE_LIMIT": "3/minute"}`);
    `workers`: the services whose Faust worker runs (default: all of `names`)."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "DATABASE_URL": await ensure_database(database_url, f"e2e_{suffix}"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "JIEDAO_DATA_DIR": str(data_dir),
        "JIEDAO_NAMESPACE": f"t{suffix}",
        **auth_env(data_dir),
        **(env or {}),
    }
    platform = Platform(Settings(**env))
    platform.env = env
    known = services()
    async with AsyncExitStack() as stack:
        for name in names:
            spec = known[name]
            app = create_service_app(spec, platform.settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            platform.apps[name] = app
            relay = asyncio.create_task(relay_forever(spec, platform.settings))
            stack.push_async_callback(_cancel, relay)
            if workers is None or name in workers:
                worker = subprocess.Popen([sys.executable, "-m", "deploy.cli", "worker", name],
                                          cwd=ROOT, env={**os.environ, **env})
                platform.workers.append(worker)
                stack.callback(_stop, worker)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                       base_url=f"http://{name}")
            platform.clients[name] = await stack.enter_async_context(client)
        yield platform


class Signed:
    """A client whose every request carries a signed-in caller's token."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {})}
        return await self.client.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()


# -- a small district that the intake tests file in ----------------------------------------------

SQUARE = {"type": "Polygon", "coordinates": [[
    [104.10, 30.60], [104.11, 30.60], [104.11, 30.61], [104.10, 30.61], [104.10, 30.60]
]]}
OTHER_SQUARE = {"type": "Polygon", "coordinates": [[
    [104.11, 30.60], [104.12, 30.60], [104.12, 30.61], [104.11, 30.61], [104.11, 30.60]
]]}
DEPT = {"code": "civil_affairs", "name_zh": "区民政局", "name_en": "Civil Affairs Bureau"}
LEGAL = {"code": "legal_affairs", "name_zh": "区法制办", "name_en": "Legal Affairs Office"}


def proposal(code: str, level: str = "community", **terms: Any) -> dict:
    """A new matter proposed by the civil affairs bureau, reviewed by the legal office."""
    return {
        "matter_code": code, "kind": "new", "proposed_by": DEPT, "reviewers": [LEGAL],
        "terms": {
            "name_zh": "居住证明", "name_en": "Certificate of residence",
            "category": {"code": "civil", "name_zh": "民政", "name_en": "Civil affairs"},
            "level": level, "delegation": "entrustment", "department": DEPT,
            "time_limit_days": 3, "sourced": False,
            "materials": [
                {"code": "id_card", "name_zh": "居民身份证", "name_en": "ID card"},
                {"code": "household_register", "name_zh": "户口簿",
                 "name_en": "Household register"},
            ],
            **terms,
        },
    }


async def draw_small_district(platform: Platform) -> None:
    """Street s1 with communities s1.c1 (SQUARE) and s1.c2 (OTHER_SQUARE), one grid each,
    drawn through the grid service; returns once intake, enforcement and assessment (those
    running) have learnt them from Kafka."""
    grid = platform.as_("grid", "civil_affairs")
    await grid.post("/streets", json={"street_id": "s1", "name_zh": "测试街道",
                                      "name_en": "Test", "kind": "urban", "sourced": False})
    for community, square in (("s1.c1", SQUARE), ("s1.c2", OTHER_SQUARE)):
        await grid.post("/communities", json={"community_id": community, "street_id": "s1",
                                              "name_zh": "测试社区", "name_en": "Test",
                                              "sourced": False})
        await grid.post("/grids", json={
            "grid_id": f"{community}.g1", "community_id": community, "name_zh": "网格",
            "name_en": "Grid", "households": 350, "boundary": square, "illustrative": True,
        })
    async with asyncio.timeout(120):  # five workers starting on a loaded 2-core machine
        if "intake" in platform.apps:
            territory = platform.apps["intake"].state.intake.territory
            while await territory.street_of("s1.c2") is None:
                await asyncio.sleep(0.2)
        if "enforcement" in platform.apps:
            replica = platform.apps["enforcement"].state.enforcement.territory
            while await replica.locate(104.115, 30.605) is None \
                    or not await replica.has_street("s1"):
                await asyncio.sleep(0.2)
        if "assessment" in platform.apps:
            units = platform.apps["assessment"].state.assessment.territory
            while not await units.has_street("s1"):
                await asyncio.sleep(0.2)


@asynccontextmanager
async def small_district(names: list[str], database_url: str, kafka_bootstrap: str,
                         data_dir: Path, *matters: str) -> AsyncIterator[Platform]:
    """`running(names)` with the small district drawn and `matters` admitted (as proposed by
    `proposal`), ready to file in."""
    async with running(names, database_url, kafka_bootstrap, data_dir) as platform:
        await draw_small_district(platform)
        await admit_matters(platform, *map(proposal, matters))
        yield platform


async def admit_matters(platform: Platform, *proposals: dict) -> None:
    """Take each proposed matter through the admission procedure; returns once intake's
    catalogue shows them all."""
    for proposed in proposals:
        assert await admit(platform["intake"], proposed, platform.sign_in)
    await platform.eventually("intake", "/catalogue",
                              lambda p: p["total"] >= len(proposals))
