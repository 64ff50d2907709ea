"""Run services as `jiedao up` does (API, relay, Faust worker), isolated for one test module:
its own database and its own topic namespace on the session's real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from deploy.embedded import ensure_database
from deploy.processes import relay_forever, services
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.apps: dict[str, Any] = {}
        self.workers: list[subprocess.Popen] = []

    def __getitem__(self, service: str) -> httpx.AsyncClient:
        return self.clients[service]

    def assert_workers_alive(self) -> None:
        for worker in self.workers:
            assert worker.poll() is None, f"a Faust worker died: {worker.args}"

    async def eventually(self, service: str, path: str, check: Callable[[Any], bool],
                         timeout: float = 45.0, **params: Any) -> Any:
        """GET `path` until it answers 200 with a body that passes `check`."""
        async with asyncio.timeout(timeout):
            while True:
                self.assert_workers_alive()
                response = await self.clients[service].get(path, params=params)
                if response.status_code == 200 and check(response.json()):
                    return response.json()
                await asyncio.sleep(0.2)


@asynccontextmanager
async def running(names: list[str], database_url: str, kafka_bootstrap: str,
                  data_dir: Path) -> AsyncIterator[Platform]:
    suffix = uuid.uuid4().hex[:8]
    env = {
        "DATABASE_URL": await ensure_database(database_url, f"e2e_{suffix}"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "JIEDAO_DATA_DIR": str(data_dir),
        "JIEDAO_NAMESPACE": f"t{suffix}",
    }
    platform = Platform(Settings(**env))
    known = services()
    async with AsyncExitStack() as stack:
        for name in names:
            service = known[name]
            app = service.create_app(platform.settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            platform.apps[name] = app
            relay = asyncio.create_task(relay_forever(service, platform.settings))
            stack.push_async_callback(_cancel, relay)
            worker = subprocess.Popen([sys.executable, "-m", "deploy.cli", "worker", name],
                                      cwd=ROOT, env={**os.environ, **env})
            platform.workers.append(worker)
            stack.callback(_stop, worker)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                       base_url=f"http://{name}")
            platform.clients[name] = await stack.enter_async_context(client)
        yield platform


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
