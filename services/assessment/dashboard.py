"""The district's live dashboard, served by the assessment API: one static page (zh with
English beside; `?lang=en` all English) that signs in at the token issuer and reads the
services' read APIs with the token, and a server-sent event stream saying "something changed"
whenever one of the assessment read models commits, so the page refetches without reload.

The stream carries a counter and nothing else (no data), so anyone may listen. Its commits are
the ones the API process's one LISTEN connection already hears (shared/freshness.py), fanned
out to every listener. The charts library (Apache ECharts) is fetched at set-up time
(deploy/vendor.py) into `JIEDAO_VENDOR_DIR`; without it the page shows tables only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from shared.auth import public
from shared.errors import NotFound
from shared.freshness import Freshness, FreshnessDep
from shared.settings import Settings

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
Anyone = Annotated[None, public()]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings

STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = {"dashboard.js", "dashboard.css", "i18n.js", "views.js", "api.js"}
ECHARTS = "vendor/echarts.min.js"
PING_SECONDS = 15.0  # a heartbeat keeps proxies from closing an idle stream


def echarts_file(settings: Settings) -> Path:
    return settings.vendor_dir / "echarts" / "echarts.min.js"


def page_policy(settings: Settings) -> str:
    """The page's Content-Security-Policy: its own scripts and styles only, and fetches of
    this service, the other services' APIs and the token issuer."""
    urls = [*settings.service_urls().values(), settings.auth_token_url]
    origins = sorted({f"{u.scheme}://{u.netloc}" for u in map(urlsplit, urls) if u.netloc})
    return "; ".join([
        "default-src 'none'", "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # ECharts positions its tooltip with style attributes
        "img-src 'self' data:", f"connect-src 'self' {' '.join(origins)}".rstrip(),
        "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
    ])


@router.get("", response_class=HTMLResponse)
async def dashboard(_: Anyone, request: Request) -> HTMLResponse:
    """The dashboard page (sign in on it; `?lang=en` for English only)."""
    html = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    policy = page_policy(settings_of(request))
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@router.get("/config.json")
async def config(_: Anyone, request: Request) -> dict[str, Any]:
    """What the page needs to start: where to sign in, the services' base URLs, whether the
    charts library is installed."""
    settings = settings_of(request)
    return {"token_url": settings.auth_token_url, "services": settings.service_urls(),
            "charts": echarts_file(settings).is_file()}


@router.get("/stream", include_in_schema=False)
async def stream(_: Anyone, request: Request, freshness: FreshnessDep) -> EventSourceResponse:
    """Server-sent events: `changed` (data: a counter) after each read-model commit; pings.
    Not in the OpenAPI document: an endless answer no contract test can read to its end."""
    return EventSourceResponse(changes(request, freshness), ping=PING_SECONDS)


async def changes(request: Request, freshness: Freshness) -> AsyncIterator[ServerSentEvent]:
    """The count now (the page loads on it), then the count after each commit; a client gone
    ends it (sse-starlette also cancels it when the connection closes)."""
    seen = freshness.commits
    yield ServerSentEvent(str(seen), event="changed")
    while not await request.is_disconnected():
        seen = await freshness.commit_after(seen)
        yield ServerSentEvent(str(seen), event="changed")


@router.get("/static/{name:path}", include_in_schema=False)
async def static(name: str, _: Anyone, request: Request) -> FileResponse:
    """The page's own files, and the vendored charts library."""
    if name == ECHARTS:
        path = echarts_file(settings_of(request))
        if path.is_file():
            return FileResponse(path, media_type="text/javascript")
    elif name in PAGE_FILES:
        return FileResponse(STATIC / name)
    raise NotFound(f"no dashboard file {name!r}", field="name")
