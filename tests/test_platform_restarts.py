"""`jiedao up`'s supervisor with the real processes (API, relay, Faust worker) on real PostgreSQL
and Kafka: a process killed with SIGKILL is restarted and the platform keeps working."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from deploy.embedded import ensure_database, free_port
from deploy.restarts import RestartPolicy
from deploy.supervisor import Supervisor
from deploy.up import process_specs
from tests.platform import auth_env, bearer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def env(database_url, kafka_bootstrap, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    return {"DATABASE_URL": await ensure_database(database_url, f"up_{suffix}"),
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "JIEDAO_DATA_DIR": str(tmp_path),
            "JIEDAO_NAMESPACE": f"u{suffix}", **auth_env(tmp_path)}


def _eventually(check, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _street(client: httpx.Client, street_id: str) -> None:
    response = client.post("/streets", json={"street_id": street_id, "name_zh": "重启街道",
                                             "name_en": "Restart", "kind": "urban",
                                             "sourced": False})
    assert response.status_code in (200, 201), response.text


def _shows(client: httpx.Client, street_id: str) -> bool:
    items = client.get("/territory/streets").json()["items"]
    return any(s["street_id"] == street_id for s in items)


def _ready(client: httpx.Client) -> bool:
    return client.get("/health/ready").status_code == 200


def test_killed_relay_and_worker_are_restarted_and_events_still_flow(env, tmp_path):
    port = free_port()
    specs, urls = process_specs(env, port, names=["grid"])
    out = io.StringIO()
    sup = Supervisor(specs, log_dir=tmp_path / "logs", out=out, stop_grace=5,
                     policy=RestartPolicy(first_backoff=0.2))
    sup.start()  # returns once the API answers and its /health reports relay and worker running
    watching = threading.Thread(target=sup.wait)
    watching.start()
    try:
        client = httpx.Client(base_url=urls["grid"], trust_env=False, timeout=10,
                              headers=bearer("civil_affairs"))
        assert _ready(client)
        checked = subprocess.run([sys.executable, "-m", "deploy.cli", "health", "grid"],
                                 cwd=ROOT, env={**os.environ, **env}, capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        for victim in ("grid-relay", "grid-worker"):
            pid = sup.pids[victim]
            os.kill(pid, signal.SIGKILL)
            _eventually(lambda v=victim, p=pid: sup.pids.get(v, p) != p)
            street = f"after-{victim}"
            _street(client, street)
            _eventually(lambda s=street: _shows(client, s), timeout=60)
            _eventually(lambda: _ready(client), timeout=30)
        assert watching.is_alive(), out.getvalue()  # nothing made it give up
        assert "grid-relay exited unexpectedly with code -9" in out.getvalue()
        assert "restarting grid-worker" in out.getvalue()
        client.close()
    finally:
        sup.request_stop()
        watching.join(15)
        sup.stop()
