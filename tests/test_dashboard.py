"""The dashboard's server side: its page (policy, no inline script), its config, its files
(the vendored ECharts included, or a clear 404 without it), the live stream (a `changed`
event after each read-model commit, on a real PostgreSQL NOTIFY) and the set-up's vendoring
(the pinned sha512 refuses any other tarball)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deploy import vendor
from deploy.embedded import ensure_database
from deploy.registry import api_url
from deploy.up import dashboard_env
from services.assessment.app import SPEC
from services.assessment.schema import SCHEMA
from shared.projection import projected_channel
from shared.service import create_service_app
from shared.settings import DEVELOPMENT_URLS, Settings
from tests.platform import auth_env
from tests.served import free_port, served


@pytest.fixture(scope="module")
async def dashboard(database_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dashboard")
    vendor_dir = tmp_path_factory.mktemp("vendor")
    (vendor_dir / "echarts").mkdir()
    (vendor_dir / "echarts" / "echarts.min.js").write_text("/* echarts */")
    settings = Settings(**{
        "DATABASE_URL": await ensure_database(database_url, f"dash_{uuid.uuid4().hex[:8]}"),
        "JIEDAO_DATA_DIR": str(data_dir), "JIEDAO_VENDOR_DIR": str(vendor_dir),
        "JIEDAO_AUTH_TOKEN_URL": "http://127.0.0.1:9102/auth/token",
        "JIEDAO_PUBLIC_URLS": "grid=http://127.0.0.1:9100,enforcement=http://127.0.0.1:9103",
        **auth_env(data_dir)})
    app = create_service_app(SPEC, settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://assessment") as client:
        yield app, client, vendor_dir


async def test_the_page_runs_only_its_own_scripts_and_may_call_the_services(dashboard):
    _, client, _ = dashboard
    answer = await client.get("/dashboard")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline' https" not in policy
    assert ("connect-src 'self' http://127.0.0.1:9100 http://127.0.0.1:9102 "
            "http://127.0.0.1:9103") in policy
    assert "<script>" not in answer.text  # every script has a src: the policy allows no inline
    assert 'src="/dashboard/static/dashboard.js"' in answer.text


async def test_config_names_the_token_endpoint_the_services_and_the_charts(dashboard):
    _, client, _ = dashboard
    assert (await client.get("/dashboard/config.json")).json() == {
        "token_url": "http://127.0.0.1:9102/auth/token",
        "services": {"grid": "http://127.0.0.1:9100", "enforcement": "http://127.0.0.1:9103"},
        "charts": True}


async def test_the_page_files_and_the_vendored_echarts_are_served(dashboard):
    _, client, vendor_dir = dashboard
    script = await client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and "EventSource" in script.text
    charts = await client.get("/dashboard/static/vendor/echarts.min.js")
    assert charts.status_code == 200 and charts.text == "/* echarts */"
    assert "javascript" in charts.headers["content-type"]
    assert (await client.get("/dashboard/static/../app.py")).status_code == 404
    (vendor_dir / "echarts" / "echarts.min.js").rename(vendor_dir / "echarts" / "gone.js")
    try:
        missing = await client.get("/dashboard/static/vendor/echarts.min.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["fields"][0]["field"] == "name"
        assert (await client.get("/dashboard/config.json")).json()["charts"] is False
    finally:
        (vendor_dir / "echarts" / "gone.js").rename(vendor_dir / "echarts" / "echarts.min.js")


async def test_the_stream_says_changed_after_each_read_model_commit(dashboard):
    app, _, _ = dashboard
    async with served(app, free_port()) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/dashboard/stream") as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            lines = answer.aiter_lines()
            first = await next_changed(lines)
            await app.state.pool.execute("SELECT pg_notify($1, '')", projected_channel(SCHEMA))
            second = await next_changed(lines)
            assert second > first


async def next_changed(lines: AsyncIterator[str]) -> int:
    """The counter of the next `changed` event (pings and blank lines passed over)."""
    async with asyncio.timeout(5):
        event = None
        async for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "changed":
                return int(line.split(":", 1)[1])
    raise AssertionError("the stream ended")


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_vendoring_checks_the_pinned_sha512_and_extracts_only_the_named_files(tmp_path: Path):
    data = tarball({"package/dist/echarts.min.js": b"charts", "package/LICENSE": b"Apache",
                    "package/other.js": b"not wanted"})
    pin = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    vendor.check_integrity(data, pin)
    with pytest.raises(vendor.IntegrityError, match="sha512 mismatch"):
        vendor.check_integrity(data + b"tampered", pin)
    with pytest.raises(vendor.IntegrityError, match="only sha512"):
        vendor.check_integrity(data, "sha1-abc")
    vendor.extract(vendor.ECHARTS, data, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LICENSE", "echarts.min.js"]
    assert (tmp_path / "echarts.min.js").read_bytes() == b"charts"


def test_the_default_service_urls_are_the_ports_jiedao_up_gives():
    urls = Settings(JIEDAO_PUBLIC_URLS=DEVELOPMENT_URLS).service_urls()
    assert urls == {name: api_url(name) for name in urls}
    assert set(urls) >= {"grid", "accounts", "enforcement", "assessment"}


def test_jiedao_up_lets_the_dashboard_page_call_the_apis_on_the_ports_it_gives():
    docs = "http://127.0.0.1:9000,http://127.0.0.1:9004"
    env = dashboard_env(Settings(), {"JIEDAO_CORS_ORIGINS": docs}, 9000)
    assert env["JIEDAO_CORS_ORIGINS"].split(",") == [
        "http://127.0.0.1:9000", "http://127.0.0.1:9004", "http://localhost:9004"]
    urls = Settings(JIEDAO_PUBLIC_URLS=env["JIEDAO_PUBLIC_URLS"]).service_urls()
    assert urls["assessment"] == "http://127.0.0.1:9004"
    assert urls["accounts"] == "http://127.0.0.1:9002"
