"""The limits every service inherits, on the real grid service (PostgreSQL, Kafka, its worker):
a request body over JIEDAO_MAX_BODY_BYTES is refused 413 before it is read and writes nothing;
a signed-in user over JIEDAO_RATE_LIMIT gets 429 with Retry-After; every answer carries the
security headers, and /docs still loads under its Content-Security-Policy."""

import json
import re

import pytest

from tests.platform import running

LIMIT = 4096


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    env = {"JIEDAO_MAX_BODY_BYTES": str(LIMIT), "JIEDAO_RATE_LIMIT": "3/minute"}
    async with running(["grid"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao"), env=env) as platform:
        yield platform


def street(street_id: str, name_en: str = "Test") -> dict:
    return {"street_id": street_id, "name_zh": "测试街道", "name_en": name_en, "kind": "urban",
            "sourced": False}


async def stream_version(platform, stream_id: str) -> int:
    return await platform.apps["grid"].state.store.stream_version(stream_id)


async def test_a_body_over_the_limit_is_refused_413_and_nothing_is_written(platform):
    grid = platform.as_("grid", "civil_affairs", user="bulky")
    big = json.dumps({**street("big"), "padding": "x" * LIMIT})
    response = await grid.post("/streets", content=big,
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "too_large" and error["fields"][0]["field"] == "body"
    assert str(LIMIT) in error["message"]
    assert await stream_version(platform, "street-big") == 0
    fits = await grid.post("/streets", json=street("small"))
    assert fits.status_code == 201, fits.text


async def test_a_declared_length_over_the_limit_is_refused_before_any_of_it_is_read(platform):
    sent = []

    async def body():
        for _ in range(10):
            sent.append(1)
            yield b"x" * 1000

    response = await platform["grid"].post(
        "/streets", content=body(),
        headers={"content-type": "application/json", "content-length": "10000"})
    assert response.status_code == 413 and sent == []


async def test_a_chunked_body_is_refused_as_soon_as_it_grows_over_the_limit(platform):
    sent = []

    async def body():
        for _ in range(100):
            sent.append(1)
            yield b" " * 1000

    grid = platform.as_("grid", "civil_affairs", user="chunky")
    response = await grid.post("/streets", content=body(),
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert len(sent) <= LIMIT // 1000 + 1  # stopped reading at the limit, not at the end


async def test_a_user_over_the_rate_limit_gets_429_with_retry_after_and_nothing_is_written(
        platform):
    flooder = platform.as_("grid", "civil_affairs", user="flooder")
    for _ in range(3):
        assert (await flooder.get("/territory/streets")).status_code == 200
    refused = await flooder.post("/streets", json=street("flooded"))
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert await stream_version(platform, "street-flooded") == 0
    other = platform.as_("grid", "civil_affairs", user="someone-else")
    assert (await other.get("/territory/streets")).status_code == 200  # per user


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                    "x-frame-options": "DENY"}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (name, response.status_code)
    assert "content-security-policy" in response.headers


async def test_api_answers_and_refusals_carry_the_security_headers(platform):
    grid = platform.as_("grid", "civil_affairs", user="headers")
    answer = await grid.get("/territory/streets")
    assert answer.status_code == 200
    assert_security_headers(answer)
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert answer.headers["cache-control"] == "no-store"  # signed in: may be personal data
    for refused in [await platform["grid"].get("/territory/streets"),  # 401
                    await platform["grid"].get("/nothing-here"),  # 404
                    await grid.post("/streets", json={**street("bad"), "name_en": "a\x00"}),
                    await grid.post("/streets", content=b"x" * (LIMIT + 1))]:  # 413
        assert refused.status_code >= 400
        assert_security_headers(refused)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_under_their_content_security_policy(platform, page):
    response = await platform["grid"].get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert_security_headers(response)
    policy = dict(part.strip().split(" ", 1)
                  for part in response.headers["content-security-policy"].split(";"))
    assert "'unsafe-inline'" in policy["script-src"]  # the pages' inline start-up script
    for url in re.findall(r'<script src="([^"]+)"', response.text):
        assert url.startswith(tuple(policy["script-src"].split()[1:])), url
    for url in re.findall(r'<link[^>]*href="(https://[^/"]+)', response.text):
        assert url in policy["style-src"] or url.startswith("https://fastapi"), url
    token_url = platform.settings.auth_token_url
    assert token_url.rsplit("/auth/token", 1)[0] in policy["connect-src"]  # sign in from /docs


async def test_the_openapi_declares_413_for_bodies_and_429_for_signed_in_operations(platform):
    document = (await platform["grid"].get("/openapi.json")).json()
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    with_body = [op for op in operations if "requestBody" in op]
    signed_in = [op for op in operations if op.get("security")]
    assert with_body and signed_in
    assert all("413" in op["responses"] for op in with_body)
    assert all("Retry-After" in op["responses"]["429"]["headers"] for op in signed_in)
