"""Open311 API keys end to end: the administrator issues one at the accounts service (shown
once, stored as its sha256), intake learns it from the accounts topic and takes filings made
with it; once revoked, intake refuses it in Open311's error format."""

import asyncio
import hashlib

import httpx
import pytest

from tests.platform import draw_small_district, running

BASE = "/open311/v2"
INSIDE = {"lat": "30.605", "long": "104.105"}  # in grid s1.c1.g1
PER_KEY = 4  # filings a minute one api_key may make here


def problem(api_key: str) -> dict:
    return {"api_key": api_key, "service_code": "problem.streetscape", **INSIDE,
            "address_string": "建设路1号", "description": "垃圾桶满溢 overflowing bins"}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake", "accounts"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao"),
                       env={"JIEDAO_OPEN311_RATE_LIMIT": f"{PER_KEY}/minute"}) as platform:
        await draw_small_district(platform)
        yield platform


@pytest.fixture
def admin(platform):
    return platform.as_("accounts", "administrator", user="admin")


async def intake_takes(platform, key: str, wanted: bool) -> None:
    """Wait until intake's replica of the keys says `wanted` about `key`."""
    keys = platform.apps["intake"].state.open311_api_keys
    async with asyncio.timeout(45):
        while await keys.accepts(key) != wanted:
            platform.assert_workers_alive()
            await asyncio.sleep(0.1)


async def test_an_issued_key_files_on_open311_and_a_revoked_one_is_refused(admin, platform):
    issued = await admin.post("/api-keys", json={"client_name": "城市管家 app"})
    assert issued.status_code == 201, issued.text
    key, key_id = issued.json()["api_key"], issued.json()["key_id"]
    assert key.startswith("jd_")
    await intake_takes(platform, key, True)
    filed = await platform["intake"].post(f"{BASE}/requests.json", data=problem(key))
    assert filed.status_code == 200, filed.text
    assert filed.json()[0]["service_request_id"]

    revoked = await admin.delete(f"/api-keys/{key_id}")
    assert revoked.status_code == 200, revoked.text
    await intake_takes(platform, key, False)
    refused = await platform["intake"].post(f"{BASE}/requests.json", data=problem(key))
    assert refused.status_code == 403
    assert refused.json() == [{"code": 403, "description": "api_key: invalid api_key received "
                                                          "-- can't proceed with create_request"}]


async def test_a_key_never_issued_is_refused_in_open311_format(platform):
    refused = await platform["intake"].post(f"{BASE}/requests.xml", data=problem("jd_forged"))
    assert refused.status_code == 403
    assert "<errors>" in refused.text and "api_key" in refused.text


async def test_only_the_key_s_sha256_is_kept_and_listed_keys_show_neither(admin, platform):
    issued = (await admin.post("/api-keys", json={"client_name": "kept"})).json()
    [event] = await platform.apps["accounts"].state.store.read_stream(issued["stream_id"])
    assert event.data["key_hash"] == hashlib.sha256(issued["api_key"].encode()).hexdigest()
    assert issued["api_key"] not in str(event.data)
    listed = await platform.eventually("accounts", "/api-keys", lambda p: any(
        k["key_id"] == issued["key_id"] for k in p["items"]), after=issued["consistency_token"])
    [mine] = [k for k in listed["items"] if k["key_id"] == issued["key_id"]]
    assert set(mine) == {"key_id", "client_name", "revoked", "issued_at"}


async def test_a_retried_issue_cannot_show_the_key_again(admin):
    headers = {"Idempotency-Key": "issue-once"}
    first = await admin.post("/api-keys", json={"client_name": "retry"}, headers=headers)
    assert first.status_code == 201, first.text
    again = await admin.post("/api-keys", json={"client_name": "retry"}, headers=headers)
    assert again.status_code == 409
    assert first.json()["api_key"] not in again.text
    assert first.json()["key_id"] in again.json()["error"]["message"]


async def test_a_key_over_its_rate_limit_gets_429_and_another_key_still_files(admin, platform):
    keys = []
    for client in ("街道通 app", "社区助手 app"):
        issued = await admin.post("/api-keys", json={"client_name": client})
        keys.append(issued.json()["api_key"])
        await intake_takes(platform, keys[-1], True)
    async def file(key: str) -> httpx.Response:
        return await platform["intake"].post(f"{BASE}/requests.json", data=problem(key))

    for _ in range(PER_KEY):
        assert (await file(keys[0])).status_code == 200
    limited = await file(keys[0])
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert (await file(keys[1])).status_code == 200
