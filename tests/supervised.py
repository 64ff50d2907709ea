"""For tests that run a service's real processes under `jiedao up`'s supervisor: their
environment (a database and namespace of their own on the suite's servers) and the grid
steps they take and wait for."""

import time
import uuid

import httpx
import pytest

from deploy.embedded import ensure_database
from tests.platform import auth_env


@pytest.fixture
async def env(database_url, kafka_bootstrap, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    return {"DATABASE_URL": await ensure_database(database_url, f"up_{suffix}"),
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "JIEDAO_DATA_DIR": str(tmp_path),
            "JIEDAO_NAMESPACE": f"u{suffix}", **auth_env(tmp_path)}


def eventually(check, timeout: float = 45.0):
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


def add_street(client: httpx.Client, street_id: str) -> None:
    response = client.post("/streets", json={"street_id": street_id, "name_zh": "重启街道",
                                             "name_en": "Restart", "kind": "urban",
                                             "sourced": False})
    assert response.status_code in (200, 201), response.text


def shows(client: httpx.Client, street_id: str) -> bool:
    items = client.get("/territory/streets").json()["items"]
    return any(s["street_id"] == street_id for s in items)


def ready(client: httpx.Client) -> bool:
    return client.get("/health/ready").status_code == 200
