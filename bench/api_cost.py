"""CPU of a service's API layer per filing: what `create_service_app` and the layers it adds
(uvicorn, middleware, token check, rate limit, dependencies, validation, response) cost, the
handler and store left out, so the figure is repeatable on a loaded machine.

The intake app is built as the platform builds it (`create_service_app(intake SPEC)`), its
state set as its lifespan would (a real token verifier and rate limits; the filing handler
replaced by one that authorizes the caller and answers at once). Two ways to drive it:

- `asgi`: N filings called straight into the app in this process (CPU: process_time deltas);
- `http`: the app served by uvicorn in a child process with `deploy.processes.run_api`'s
  options; N filings over keep-alive sockets; CPU of the child (psutil) per filing.

    PYTHONPATH=$PWD .venv/bin/python -m bench.api_cost              # both, 5 rounds
    PYTHONPATH=$PWD .venv/bin/python -m bench.api_cost --label base --out x.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psutil

from bench.filing import KeepAliveClient, header_lines
from tests.served import free_port

ISSUER, AUDIENCE = "https://accounts.bench", "jiedao"
COMMUNITY = "s1.c1"
BODY = {
    "matter_code": "community.residence-permit", "community_id": COMMUNITY,
    "applicant": {"name": "张秀英", "id_number": "5101000000000001"},
    "address": f"{COMMUNITY} 1号", "location": {"lon": 104.06, "lat": 30.67},
    "materials": ["id_card", "application_form"],
}


def signer():  # noqa: ANN201
    from shared.tokens import TokenSigner, generate_private_key
    return TokenSigner(generate_private_key(), issuer=ISSUER, audience=AUDIENCE, minutes=180)


def build_app(jwks: dict):  # noqa: ANN201
    """The intake API as `jiedao up` builds it, with its lifespan's state set by hand."""
    from services.intake import handlers
    from services.intake.app import SPEC
    from shared.access import Place
    from shared.ratelimit import RateLimits
    from shared.service import create_service_app
    from shared.settings import Settings
    from shared.store import AppendResult

    async def file_application(intake, command, authorize, idempotency=None, *, filer=None):
        authorize(Place.of(street="s1", community=command.community_id, owner=filer))
        return "0193a0b0-0000-7000-8000-000000000001", AppendResult(1, [1])

    handlers.file_application = file_application
    settings = Settings(JIEDAO_AUTH_ISSUER=ISSUER, JIEDAO_AUTH_AUDIENCE=AUDIENCE,
                        JIEDAO_AUTH_JWKS=json.dumps(jwks), JIEDAO_RATE_LIMIT="1000000/second")
    app = create_service_app(SPEC, settings)
    state = app.state
    state.settings = settings
    state.token_verifier = settings.token_verifier()
    state.rate_limits = RateLimits(settings.rate_limit, settings.open311_rate_limit,
                                   settings.sign_in_rate_limit)
    state.intake = object()
    state.repository = object()
    gc.collect()
    gc.freeze()
    return app


async def drive_asgi(app, token: str, count: int) -> tuple[float, int]:  # noqa: ANN001
    body = orjson.dumps(BODY)
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {token}".encode()),
               (b"content-length", str(len(body)).encode())]
    statuses: list[int] = []

    async def one() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "server": ("127.0.0.1", 8000),
                 "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST",
                 "root_path": "", "path": "/applications", "raw_path": b"/applications",
                 "query_string": b"", "headers": headers, "state": {}}
        await app(scope, receive, send)

    for _ in range(200):  # warm: the token verified once, code paths hot
        await one()
    statuses.clear()
    start = time.process_time()
    for _ in range(count):
        await one()
    cpu = time.process_time() - start
    bad = sum(1 for s in statuses if s != 201)
    return cpu / count * 1e6, bad


def serve(port: int, jwks_file: str) -> None:
    """The child of `http` mode: run_api's uvicorn options, lifespan off (state set above)."""
    import uvicorn
    app = build_app(json.loads(Path(jwks_file).read_text()))
    try:
        from deploy.http_server import api_server_options
        options = api_server_options(app.state.settings)
    except ImportError:  # the code before it (a baseline run): uvicorn's defaults
        options = {}
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                lifespan="off", **options)


async def drive_http(url: str, token: str, count: int, pid: int,
                     concurrency: int = 8) -> tuple[float, int]:
    client = KeepAliveClient(url + "/applications")
    body = orjson.dumps(BODY)
    lines = header_lines({"Authorization": f"Bearer {token}"})
    bad = 0

    async def worker(n: int) -> None:
        nonlocal bad
        for _ in range(n):
            if await client.post(body, lines) != 201:
                bad += 1

    await asyncio.gather(*(worker(50) for _ in range(concurrency)))
    bad = 0
    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
    cpu = sum(proc.cpu_times()[:2]) - before
    client.close()
    return cpu / count * 1e6, bad


async def wait_up(url: str) -> None:
    client = KeepAliveClient(url + "/nowhere")
    for _ in range(200):
        try:
            await client.post(b"{}")
            client.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("the API did not start")


def measure(mode: str, count: int, rounds: int, tmp: Path) -> list[float]:
    sign = signer()
    token = sign.issue("clerk", [f"front_desk_clerk:{COMMUNITY}"])
    figures = []
    if mode == "asgi":
        app = build_app(sign.jwks())
        for _ in range(rounds):
            us, bad = asyncio.run(drive_asgi(app, token, count))
            if bad:
                raise SystemExit(f"{bad} filings were not answered 201")
            figures.append(round(us, 1))
        return figures
    jwks_file = tmp / "jwks.json"
    jwks_file.write_text(json.dumps(sign.jwks()))
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "bench.api_cost", "--serve", str(port),
                              "--jwks", str(jwks_file)], env=os.environ.copy())
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_up(url))
        for _ in range(rounds):
            us, bad = asyncio.run(drive_http(url, token, count, child.pid))
            if bad:
                raise SystemExit(f"{bad} filings were not answered 201")
            figures.append(round(us, 1))
    finally:
        child.terminate()
        child.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="asgi,http")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label", default="")
    parser.add_argument("--serve", type=int)
    parser.add_argument("--jwks")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.jwks)
        return
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        result = {"label": args.label, "count": args.count,
                  "load": round(os.getloadavg()[0], 2)}
        for mode in args.modes.split(","):
            figures = measure(mode, args.count, args.rounds, Path(tmp))
            result[mode] = {"us_per_filing": figures, "median": statistics.median(figures)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
