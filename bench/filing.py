"""Filing applications over HTTP at fixed rates (issue 3's benchmark).

Starts the platform as `jiedao up` does (embedded PostgreSQL and broker; every service as its
own processes), loads the demo territory and catalogue, then offers filings to the intake API
at fixed rates (bench/load.py: open loop, each request due at its own time and its latency
counted from that time, so a slow server cannot hide queueing; each rate's first 3 s not
measured).
Reports per rate: offered and achieved filings/s, p50/p99/max latency, errors. Results:
bench/results/filing.json.

    .venv/bin/python -m bench.filing            # 250, 500, 1000, 1200, 1500 /s, 20 s each
    .venv/bin/python -m bench.filing --quick    # a short smoke run
    .venv/bin/python -m bench.filing --profile 800   # py-spy on the intake processes at 800/s
                                                   # -> bench/results/filing-profile.txt
    .venv/bin/python -m bench.filing --api-processes 1,2   # one intake API process, then two
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psutil
import uvloop

from bench.infra import code_version, fetch_once
from bench.load import RAMP_SECONDS, open_loop
from bench.machine import machine
from bench.watched import grid_points
from deploy.demo import load_catalogue, load_territory
from deploy.supervisor import Supervisor
from deploy.up import infrastructure, process_specs, token_issuer
from shared.settings import Settings
from shared.tokens import TokenSigner

RESULTS = Path(__file__).resolve().parent / "results"
FLOOR_RATE, FLOOR_P99_MS = 1000.0, 100


async def filing_bodies(grid_url: str, intake_url: str, count: int,
                        reader: dict[str, str]) -> list[dict]:
    """Valid filings: community-level matters at random grids, points inside them."""
    places = await grid_points(grid_url, reader)
    async with httpx.AsyncClient(base_url=intake_url, timeout=30) as intake:
        matters = (await intake.get("/catalogue", params={"level": "community"})).json()["items"]
    rng = random.Random(7)
    bodies = []
    for i in range(count):
        community, lon, lat = (place := rng.choice(places)).community_id, place.lon, place.lat
        matter = rng.choice(matters)
        bodies.append({
            "matter_code": matter["matter_code"], "community_id": community,
            "applicant": {"name": "张秀英", "id_number": f"5101{i:013d}"},
            "address": f"{community} {i}号", "location": {"lon": lon, "lat": lat},
            "materials": [m["code"] for m in matter["materials"]],
        })
    return bodies


async def wait_for_replica(intake_url: str, body: dict, clerk: dict[str, str],
                           timeout: float = 120) -> None:
    """Until intake's copy of the territory (learnt from Kafka) accepts a filing."""
    async with httpx.AsyncClient(base_url=intake_url, timeout=30, headers=clerk) as intake:
        async with asyncio.timeout(timeout):
            while (await intake.post("/applications", json=body)).status_code != 201:
                await asyncio.sleep(0.5)


class Tokens:
    """Tokens as the accounts service issues them (same key, issuer, claims): the clerk of
    each community files there, so every filing's token is verified and its scope checked."""

    def __init__(self, env: dict[str, str], settings: Settings) -> None:
        self.signer = TokenSigner(Path(env["JIEDAO_AUTH_PRIVATE_KEY_FILE"]).read_text(),
                                  issuer=env["JIEDAO_AUTH_ISSUER"],
                                  audience=settings.auth_audience, minutes=180)
        self.clerks: dict[str, dict[str, str]] = {}

    def headers(self, grant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.signer.issue(grant, [grant])}"}

    async def sign_in(self, grant: str) -> dict[str, str]:  # deploy.demo's SignIn
        return self.headers(grant)

    def clerk(self, body: dict) -> dict[str, str]:
        community = body["community_id"]
        if community not in self.clerks:
            self.clerks[community] = self.headers(f"front_desk_clerk:{community}")
        return self.clerks[community]


class KeepAliveClient:
    """Just enough HTTP/1.1 to POST JSON over keep-alive connections. The load generator
    shares the two cores with the platform it measures, so it must cost far less than the
    server: aiohttp took ~0.35 ms of CPU per request here, this takes a small fraction."""

    def __init__(self, url: str, content_type: str = "application/json") -> None:
        parts = urlsplit(url)
        self.url = url
        self.content_type = content_type.encode()
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path.encode()
        # (reader, writer, idle since), the most recently used last
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def post(self, body: bytes, headers: bytes = b"") -> int:
        return (await self.exchange(body, headers))[0]

    async def exchange(self, body: bytes, headers: bytes = b"") -> tuple[int, bytes]:
        """POST `body` (with `headers`: `Name: value\r\n` lines); the answer's status and
        body."""
        # Not reused: one the server closed, or one so long idle that the server may be
        # closing it as we send (uvicorn closes a connection idle for 5 s: the race resets it).
        stale = time.perf_counter() - REUSE_IDLE_SECONDS
        while self.idle and self.idle[0][2] < stale:
            self.idle.pop(0)[1].close()
        while self.idle and self.idle[-1][0].at_eof():
            self.idle.pop()[1].close()
        if self.idle:
            reader, writer, _ = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened.append(writer)
        writer.write(b"POST %b HTTP/1.1\r\nHost: %b:%d\r\nContent-Type: %b\r\n"
                     b"%bContent-Length: %d\r\n\r\n%b" % (
                         self.path, self.host.encode(), self.port, self.content_type, headers,
                         len(body), body))
        head = await reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(head)
        answer = await reader.readexactly(int(length[1]) if length else 0)
        self.idle.append((reader, writer, time.perf_counter()))
        return int(head[9:12]), answer

    def close(self) -> None:
        for writer in self.opened:
            writer.close()


def header_lines(headers: dict[str, str]) -> bytes:
    return b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items())


CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
REUSE_IDLE_SECONDS = 4.0  # under uvicorn's keep-alive timeout (5 s)


async def offer(url: str, bodies: list[dict], rate: float, seconds: float,
                headers: list[dict[str, str]] | None = None) -> dict:
    """Open-loop load (bench/load.py) of filings at `rate` for `seconds` after its ramp
    (on a new connection when every open one is busy). `headers[i]` go with `bodies[i]`
    (a token)."""
    latencies: list[float] = []
    slowest_by_second = [0.0] * (int(seconds) + 1)
    errors: dict[str, int] = {}
    payloads = [orjson.dumps(body) for body in bodies]
    lines = [header_lines(h) for h in headers or [{}]]
    client = KeepAliveClient(url)

    async def one(i: int, due: float, measured: bool) -> None:
        try:
            status = await client.post(payloads[i % len(payloads)], lines[i % len(lines)])
            if status != 201:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        if measured:
            latency = time.perf_counter() - due
            latencies.append(latency)
            second = int(i / rate)
            slowest_by_second[second] = max(slowest_by_second[second], latency)

    answered_per_s = await open_loop(rate, seconds, one)
    client.close()
    latencies.sort()
    return {
        "offered_per_s": rate, "seconds": seconds, "requests": len(latencies),
        "achieved_per_s": round(answered_per_s, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "connections": len(client.opened),
        "slowest_ms_by_second": [round(x * 1000, 1) for x in slowest_by_second],
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", default="250,500,1000,1200,1500")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--api-processes", default="1", metavar="N[,N...]",
                        help="intake API processes (JIEDAO_API_PROCESSES); several: the rates "
                             "are offered to a fresh platform with each, side by side")
    parser.add_argument("--output", help="results file (default: bench/results/filing.json)")
    parser.add_argument("--profile", type=float, metavar="RATE",
                        help="sample the intake processes with py-spy at this rate instead")
    parser.add_argument("--processes", default="intake-api,intake-worker,intake-relay",
                        help="with --profile: the processes to sample (comma-separated)")
    args = parser.parse_args()
    rates = [100.0] if args.quick else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    measured_on = machine()
    runs = []
    for count in [int(n) for n in args.api_processes.split(",")]:
        print(f"-- the platform with {count} intake API process(es)", flush=True)
        with ExitStack() as stack:
            env, tokens, urls, supervisor = whole_platform(
                stack, "jiedao-filing-", JIEDAO_API_PROCESSES=json.dumps({"intake": count}))
            bodies = asyncio.run(filing_bodies(urls["grid"], urls["intake"], 5000,
                                               tokens.headers("auditor")))
            headers = [tokens.clerk(body) for body in bodies]
            asyncio.run(wait_for_replica(urls["intake"], bodies[0], headers[0]))
            if args.profile:
                profile(supervisor.pids, f"{urls['intake']}/applications", bodies, headers,
                        args.profile, seconds, args.processes.split(","))
                return
            for rate in rates:
                before = cpu_seconds(supervisor.pids, env)
                result = {"intake_api_processes": count, **uvloop.run(offer(
                    f"{urls['intake']}/applications", bodies, rate, seconds, headers))}
                after = cpu_seconds(supervisor.pids, env)
                result["cpu_seconds"] = cpu_used(before, after)
                result["postgres_by_client"] = postgres_by_client(before, after, env)
                print(json.dumps(result), flush=True)
                runs.append(result)
    report = {"benchmark": "filing over HTTP (POST /applications)", "machine": measured_on,
              "code": code_version(),
              "at": datetime.now(UTC).isoformat(), "runs": runs,
        "floor": f"{FLOOR_RATE:,} filings/s sustained with p99 under {FLOOR_P99_MS} ms",
        "floor_met_with_api_processes": [
            count for count in sorted({r["intake_api_processes"] for r in runs})
            if floor_met([r for r in runs if r["intake_api_processes"] == count])]}
    report["floor_met"] = bool(report["floor_met_with_api_processes"])
    print(f"floor ({report['floor']}): {'MET' if report['floor_met'] else 'NOT MET'}")
    write_results(report, "filing-quick.json" if args.quick else "filing.json", args.output)


def write_results(report: dict, name: str, output: str | None = None) -> None:
    """`report` as JSON: at `output` (an --output given), else bench/results/`name`."""
    RESULTS.mkdir(exist_ok=True)
    path = Path(output) if output else RESULTS / name
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {path}")


def floor_met(runs: list[dict]) -> bool:
    """Whether the runs at the floor's rate (there is one) all sustained it under the p99."""
    at_floor = [r for r in runs if r["offered_per_s"] == FLOOR_RATE]
    return bool(at_floor) and all(
        r["achieved_per_s"] >= 0.99 * FLOOR_RATE and r["p99_ms"] < FLOOR_P99_MS
        and not r["errors"] for r in at_floor)


def profile(pids: dict[str, int], url: str, bodies: list[dict],
            headers: list[dict[str, str]], rate: float, seconds: float, names: list[str]
            ) -> None:
    """Offer `rate` filings/s (after the ramp) while py-spy samples each of the processes
    `names`; write each one's heaviest functions (own samples, and samples with callees)."""
    unknown = sorted(set(names).difference(pids))
    if unknown:
        raise SystemExit(f"--processes: no process {', '.join(unknown)}; "
                         f"there are {', '.join(pids)}")
    out = {name: Path(tempfile.mkdtemp()) / f"{name}.txt" for name in names}
    # --subprocesses: with several API processes, uvicorn's workers are the children
    spies = [subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                               str(pids[name]), "--subprocesses",
                               "-d", str(int(RAMP_SECONDS + seconds)), "-f", "raw",
                               "--nolineno", "-r", "200", "-o", str(out[name])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name in names]
    result = uvloop.run(offer(url, bodies, rate, seconds, headers))
    for spy in spies:
        spy.wait()
    lines = [f"filing profile at {rate:g}/s for {seconds:g} s: {json.dumps(result)}", ""]
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        lines += [f"== {name} (py-spy's raw stacks: {out[name]})",
                  *summarise_stacks(out[name].read_text()), ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "filing-profile.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print("written to bench/results/filing-profile.txt")


def summarise_stacks(raw: str, top: int = 40) -> list[str]:
    """py-spy's raw (collapsed) stacks -> the top functions by own and by inclusive samples."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n, frames = int(count), stack.split(";")
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    lines = [f"{total} samples (idle threads excluded)", "-- own"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:6.1f}%  {frame}")
    lines.append("-- with callees")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:6.1f}%  {frame}")
    return lines


def tree_cpu(roots: Iterable[tuple[str, int]]) -> dict[tuple[str, int], float]:
    """CPU time so far of each named process and its children, keyed by (name, pid)."""
    seconds: dict[tuple[str, int], float] = {}
    for name, pid in roots:
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                seconds[name, p.pid] = _cpu(p)
        except psutil.NoSuchProcess:
            pass
    return seconds


def cpu_seconds(pids: dict[str, int], env: dict[str, str] | None = None
                ) -> dict[tuple[str, int], float]:
    """CPU time so far of every process that matters, keyed by (what it is, pid): each
    platform process and its children, PostgreSQL's server processes, the broker, and this
    load generator. `env` (the platform's): only its own PostgreSQL (its data directory) and
    broker (its port) count, not those of tests running on the machine meanwhile."""
    seconds = tree_cpu(pids.items())
    ours = _infrastructure(env) if env else None
    for process in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmd = " ".join(process.info["cmdline"] or [])
        kind = "postgres" if "postgres" in (process.info["name"] or "") else (
            "broker" if "tansu" in cmd else None)
        if kind and (ours is None or process.pid in ours or process.info["ppid"] in ours):
            seconds[kind, process.pid] = _cpu(process)
    seconds["load generator", os.getpid()] = _cpu(psutil.Process())
    return seconds


def _infrastructure(env: dict[str, str]) -> set[int]:
    """The pids of the platform's PostgreSQL server (its children are its backends) and
    broker, told by the data directory and the port in their command lines."""
    marks = [env["JIEDAO_DATA_DIR"], *(f":{b.rpartition(':')[2]}"
                                       for b in env["KAFKA_BOOTSTRAP_SERVERS"].split(","))]
    found = set()
    for process in psutil.process_iter(["cmdline"]):
        cmd = " ".join(process.info["cmdline"] or [])
        if ("postgres" in cmd or "tansu" in cmd) and any(m in cmd for m in marks):
            found.add(process.pid)
    return found


def cpu_used(before: dict[tuple[str, int], float],
             after: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU seconds each kind of process used in between (a process that ended in between,
    e.g. a PostgreSQL backend, is not counted)."""
    used: dict[str, float] = {}
    for (name, pid), seconds in after.items():
        used[name] = used.get(name, 0.0) + seconds - before.get((name, pid), 0.0)
    return {name: round(seconds, 2) for name, seconds in used.items()}


def postgres_by_client(before: dict[tuple[str, int], float],
                       after: dict[tuple[str, int], float], env: dict[str, str]
                       ) -> dict[str, float]:
    """PostgreSQL's CPU seconds in between (of `cpu_seconds`' two readings) by whose
    connections its backends serve: their application_name (shared/db.py `client_name`, e.g.
    `jiedao grid worker`), read now from pg_stat_activity."""
    names = asyncio.run(_backend_names(env["DATABASE_URL"]))
    used: dict[str, float] = {}
    for (kind, pid), seconds in after.items():
        if kind == "postgres" and pid in names:
            used[names[pid]] = used.get(names[pid], 0.0) + seconds - before.get((kind, pid), 0.0)
    return {name: round(seconds, 2) for name, seconds in
            sorted(used.items(), key=lambda item: -item[1]) if seconds >= 0.01}


async def _backend_names(database_url: str) -> dict[int, str]:
    rows = await fetch_once(database_url, "SELECT pid, coalesce(nullif(application_name, ''), "
                                          "backend_type) AS name FROM pg_stat_activity")
    return {row["pid"]: row["name"] for row in rows}


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def whole_platform(stack: ExitStack, prefix: str, **settings: str
                   ) -> tuple[dict[str, str], Tokens, dict[str, str], Supervisor]:
    """The platform as `jiedao up` starts it (embedded servers unless the environment names
    others; `settings`: extra environment for its processes), the demo territory and
    catalogue loaded: its environment, tokens, service URLs and supervisor."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    config = Settings(JIEDAO_DATA_DIR=str(data_dir), DATABASE_URL=os.environ.get("DATABASE_URL"),
                      KAFKA_BOOTSTRAP_SERVERS=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    env = infrastructure(config, data_dir, stack)
    env |= token_issuer(config, data_dir, first_port=18100) | settings
    tokens = Tokens(env, config)
    specs, urls = process_specs(env, first_port=18100)
    supervisor = stack.enter_context(Supervisor(specs, log_dir=data_dir / "logs"))
    asyncio.run(_seed(urls, tokens))
    return env, tokens, urls, supervisor


async def _seed(urls: dict[str, str], tokens: Tokens) -> None:
    async with httpx.AsyncClient(base_url=urls["grid"], timeout=30) as client:
        await load_territory(client, tokens.sign_in, progress=False)
    async with httpx.AsyncClient(base_url=urls["intake"], timeout=30) as client:
        await load_catalogue(client, tokens.sign_in, progress=False)


if __name__ == "__main__":
    main()
