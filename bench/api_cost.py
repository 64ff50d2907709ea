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
    # this code against another checkout's (e.g. `git worktree add /tmp/api-base main`), runs
    # alternated, -> bench/results/api-cost.json:
    PYTHONPATH=$PWD .venv/bin/python -m bench.api_cost --baseline /tmp/api-base --pairs 3
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


async def drive_asgi(app, token: str, count: int,  # noqa: ANN001
                     warm: int = 200) -> tuple[float, int]:
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

    for _ in range(warm):  # the token verified once, code paths hot
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
    before, writes = sum(proc.cpu_times()[:2]), proc.io_counters().write_count
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
    cpu = sum(proc.cpu_times()[:2]) - before
    WRITES.append(round((proc.io_counters().write_count - writes) / count, 2))
    client.close()
    return cpu / count * 1e6, bad


WRITES: list[float] = []  # write system calls per filing of the `http` runs (load-proof)


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


def measure(mode: str, count: int, rounds: int, tmp: Path) -> tuple[list[float], float | None]:
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
        return figures, asyncio.run(calls_per_filing(app, token))
    return http_figures(count, rounds, tmp, sign, token), None


async def calls_per_filing(app, token: str, count: int = 200) -> float:  # noqa: ANN001
    """Function calls (Python and C) per filing: a cost the machine's load cannot blur."""
    await drive_asgi(app, token, 10)
    calls = 0

    def counted(frame, event, arg) -> None:  # noqa: ANN001
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(counted)
    try:
        await drive_asgi(app, token, count, warm=0)
    finally:
        sys.setprofile(None)
    return round(calls / count, 1)


def http_figures(count: int, rounds: int, tmp: Path, sign, token: str) -> list[float]:  # noqa: ANN001
    figures = []
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
    parser.add_argument("--baseline", help="a checkout to compare with, runs alternated")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.jwks)
        return
    if args.baseline:
        compare(args)
        return
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        result = {"label": args.label, "count": args.count,
                  "load": round(os.getloadavg()[0], 2)}
        for mode in args.modes.split(","):
            figures, calls = measure(mode, args.count, args.rounds, Path(tmp))
            result[mode] = {"us_per_filing": figures, "median": statistics.median(figures)}
            if calls is not None:
                result[mode]["calls_per_filing"] = calls
            if mode == "http":
                result[mode]["writes_per_filing"] = statistics.median(WRITES)
    print(json.dumps(result))


def compare(args: argparse.Namespace) -> None:
    """Baseline and this code, alternated (a loaded machine drifts), each in its own checkout
    with this same script; every run kept, medians of all rounds per side."""
    here = Path(__file__).resolve().parent.parent
    script = Path(__file__).read_text()
    Path(args.baseline, "bench", "api_cost.py").write_text(script)
    runs: list[dict] = []
    for _ in range(args.pairs):
        for label, root in (("before", Path(args.baseline)), ("after", here)):
            out = subprocess.run(
                [sys.executable, "-m", "bench.api_cost", "--modes", args.modes, "--count",
                 str(args.count), "--rounds", str(args.rounds), "--label", label],
                cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True,
                capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(runs[-1], flush=True)
    summary = {mode: {label: statistics.median(
        x for r in runs if r["label"] == label for x in r[mode]["us_per_filing"])
        for label in ("before", "after")} for mode in args.modes.split(",")}
    if "asgi" in summary:
        summary["calls_per_filing"] = {r["label"]: r["asgi"]["calls_per_filing"] for r in runs}
    if "http" in summary:
        summary["writes_per_filing"] = {r["label"]: r["http"]["writes_per_filing"] for r in runs}
    result = {"what": "CPU µs per filing of the intake API layer (handler stubbed): asgi = "
                      "in-process, http = the uvicorn process serving it",
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "cpus": os.cpu_count(), "summary_median_us": summary, "runs": runs}
    (here / "bench" / "results" / "api-cost.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
