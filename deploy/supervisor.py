"""A small process supervisor for `jiedao up`.

Why not an external tool (honcho, supervisord, systemd)? `jiedao up` must work from a
plain virtualenv with no daemon and must leave nothing behind: every child runs in its
own process group so that one SIGTERM/SIGKILL to the group also reaches grandchildren
(uvicorn reloaders, worker pools), and so that a terminal Ctrl-C reaches only us and we
decide the shutdown order.

The process helpers (`spawn`, `stop_process`, `tail`, in deploy/children.py) are also used
by `deploy.embedded` to run the Kafka-protocol broker.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Self

from deploy.children import LogEcho, signal_group, spawn, stop_process, tail
from deploy.restarts import CrashHistory, RestartPolicy

__all__ = [
    "ProcessSpec",
    "RestartPolicy",
    "Started",
    "Supervisor",
    "SupervisorError",
    "spawn",
    "stop_process",
    "tail",
]


class Started:
    """`with thing:` starts it and stops it, whatever happens in between."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SupervisorError(RuntimeError):
    """A supervised process failed to start, to become healthy, or crashed too often."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to run and how to know it is ready.

    `env` holds overrides applied on top of the supervisor's own environment (so PATH,
    VIRTUAL_ENV etc. are inherited). `health_url`, when given, must answer HTTP 200
    before the next process is started; `ready`, when given, must return True (a readiness
    probe for processes that serve no HTTP); with neither, "ready as soon as it is running".
    `log_file` receives the child's stdout and stderr; `None` means `<log_dir>/<name>.log`.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    log_file: Path | None = None
    cwd: Path | None = None
    health_timeout: float = 60.0
    ready: Callable[[], bool] | None = None
    ready_means: str = "its readiness probe"  # what `ready` checks, for messages

    def is_ready(self) -> bool:
        if self.health_url is not None and not _http_ok(self.health_url):
            return False
        return self.ready is None or self.ready()

    @property
    def probe(self) -> str | None:
        """What readiness waits for, in words (None: nothing)."""
        if self.health_url is not None:
            return self.health_url
        return self.ready_means if self.ready is not None else None


@dataclass
class _Child:
    """A started process; while `restart_at` is set it is dead and waits for its restart."""

    spec: ProcessSpec
    log_file: Path
    proc: subprocess.Popen[bytes]
    echo: LogEcho | None
    history: CrashHistory
    started_at: float = field(default_factory=time.monotonic)
    restart_at: float | None = None


@dataclass
class _Watched:
    """Something the supervisor did not spawn but restarts alike (the embedded PostgreSQL
    and broker): `alive()` says whether it runs, `restart()` starts it again (blocking)."""

    name: str
    alive: Callable[[], bool]
    restart: Callable[[], object]
    log_file: Path
    history: CrashHistory
    started_at: float = field(default_factory=time.monotonic)
    restart_at: float | None = None


class Supervisor(Started):
    """Start processes in order, wait for their readiness, restart what crashes, stop them all.

    A crashed process is restarted after a backoff (`RestartPolicy`); only a process that keeps
    crashing (`max_crashes` within `window` seconds) makes the supervisor give up and stop
    everything, naming it and showing its log tail.

    Typical use from a CLI (blocks until Ctrl-C/SIGTERM or until it gives up)::

        exit_code = Supervisor(specs, log_dir=Path(".jiedao/logs")).run()

    Or, from code that manages its own lifetime::

        with Supervisor(specs, log_dir=...) as sup:   # start() on enter, stop() on exit
            ...
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        log_dir: Path,
        echo: bool = False,
        out: IO[str] | None = None,
        stop_grace: float = 10.0,
        policy: RestartPolicy | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate process names: {names}")
        self.specs = list(specs)
        self.log_dir = log_dir
        self.echo = echo
        self.out = out if out is not None else sys.stderr
        self.stop_grace = stop_grace
        self.policy = policy or RestartPolicy()
        self._children: list[_Child] = []
        self._watched: list[_Watched] = []
        self._stop_requested = threading.Event()
        self._width = max((len(n) for n in names), default=0)

    # -- output -----------------------------------------------------------------------

    def _say(self, msg: str, end: str = "\n") -> None:
        self.out.write(msg + end)
        self.out.flush()

    # -- lifecycle --------------------------------------------------------------------

    def log_file(self, spec: ProcessSpec) -> Path:
        """Where `spec`'s output goes."""
        return spec.log_file if spec.log_file is not None else self.log_dir / f"{spec.name}.log"

    def start(self) -> None:
        """Start every spec in order, waiting for each one's readiness before the next.

        A process that crashes meanwhile is restarted; on a failure (a readiness timeout, a
        process that keeps crashing) everything already started is stopped and
        `SupervisorError` (with the failing process's log tail) is raised.
        """
        try:
            for spec in self.specs:
                self._start_one(spec)
        except BaseException:
            self.stop()
            raise

    def add(self, spec: ProcessSpec) -> None:
        """Start one more process after `start()` (e.g. one that needs the others' data)."""
        self.specs.append(spec)
        self._width = max(self._width, len(spec.name))
        try:
            self._start_one(spec)
        except BaseException:
            self.stop()
            raise

    def watch(self, name: str, alive: Callable[[], bool], restart: Callable[[], object],
              log_file: Path) -> None:
        """Restart something started elsewhere (e.g. the embedded broker) when it dies."""
        self._watched.append(_Watched(name, alive, restart, log_file, CrashHistory(self.policy)))

    def _spawn(self, spec: ProcessSpec, log_file: Path) -> subprocess.Popen[bytes]:
        try:
            return spawn(spec.argv, log_file=log_file, env=spec.env, cwd=spec.cwd)
        except OSError as exc:
            raise SupervisorError(f"{spec.name}: cannot start {list(spec.argv)}: {exc}") from exc

    def _start_one(self, spec: ProcessSpec) -> None:
        log_file = self.log_file(spec)
        self._say(f"starting {spec.name} (log: {log_file})")
        proc = self._spawn(spec, log_file)
        echo = LogEcho(spec.name, log_file, self.out, self._width) if self.echo else None
        if echo is not None:
            echo.start()
        child = _Child(spec, log_file, proc, echo, CrashHistory(self.policy))
        self._children.append(child)
        if spec.probe is not None:
            self._wait_ready(child)

    def _wait_ready(self, child: _Child) -> None:
        spec = child.spec
        # One line "waiting ... ok (1.2s)", unless echoed child output would split it.
        waiting = f"waiting for {spec.name} at {spec.probe} ..."
        self._say(waiting, end="\n" if self.echo else "")

        def outcome(text: str) -> None:
            self._say(f"{spec.name}: {text}" if self.echo else f" {text}")

        t0 = time.monotonic()
        deadline = t0 + spec.health_timeout
        while True:
            if self._stop_requested.is_set():
                outcome("interrupted")
                raise SupervisorError("stop requested while starting")
            try:
                self._tend()  # restarts this one, or one started before it, if it crashed
            except SupervisorError:
                outcome("gave up")
                raise
            if child.restart_at is None and child.proc.poll() is None and spec.is_ready():
                outcome(f"ok ({time.monotonic() - t0:.1f}s)")
                return
            if time.monotonic() > deadline:
                outcome("timeout")
                raise SupervisorError(
                    f"{spec.name} was not ready at {spec.probe} within "
                    f"{spec.health_timeout:.0f}s; last lines of {child.log_file}:\n"
                    f"{tail(child.log_file)}"
                )
            self._stop_requested.wait(0.2)

    # -- crashes ----------------------------------------------------------------------

    def _tend(self) -> None:
        """Notice crashes and restart what is due; SupervisorError when giving up."""
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._say(f"restarting {child.spec.name}")
                    child.restart_at, child.started_at = None, now
                    child.proc = self._spawn(child.spec, child.log_file)
            elif child.proc.poll() is not None:
                signal_group(child.proc.pid, signal.SIGKILL)  # what it left behind in its group
                child.restart_at = self._crashed(
                    child.spec.name, f"exited unexpectedly with code {child.proc.returncode}",
                    child.history, now - child.started_at, child.log_file)
        for watched in self._watched:
            if watched.restart_at is not None:
                if now >= watched.restart_at:
                    self._restart_watched(watched)
            elif not watched.alive():
                watched.restart_at = self._crashed(
                    watched.name, "died", watched.history, now - watched.started_at,
                    watched.log_file)

    def _restart_watched(self, watched: _Watched) -> None:
        self._say(f"restarting {watched.name}")
        watched.restart_at, watched.started_at = None, time.monotonic()
        try:
            watched.restart()
        except Exception as exc:  # counts as one more crash
            watched.restart_at = self._crashed(
                watched.name, f"failed to restart ({exc})", watched.history, 0.0,
                watched.log_file)

    def _crashed(self, name: str, how: str, history: CrashHistory, ran_for: float,
                 log_file: Path) -> float:
        """Record a crash and say so; when to restart (monotonic), or raise to give up."""
        now = time.monotonic()
        delay = history.crashed(now, ran_for)
        if delay is None:
            raise SupervisorError(
                f"giving up: {name} {how}, {history.summary()}; stopping everything. "
                f"Last lines of {log_file}:\n{tail(log_file)}"
            )
        last = tail(log_file, 3)
        self._say(f"{name} {how} after {ran_for:.1f}s; restarting in {delay:.1f}s "
                  f"({history.summary()}; log: {log_file})\n{last}")
        return now + delay

    @property
    def pids(self) -> dict[str, int]:
        """PID (= process group id) of each started child that is running, by name."""
        return {c.spec.name: c.proc.pid for c in self._children if c.proc.poll() is None}

    def poll(self) -> str | None:
        """Name of the first child that is not running (crashed, waiting for its restart)."""
        for child in self._children:
            if child.proc.poll() is not None:
                return child.spec.name
        return None

    def wait(self) -> int:
        """Block until a stop is requested (0), restarting what crashes, or until a process
        crashed too often (1, with its log tail)."""
        while not self._stop_requested.is_set():
            try:
                self._tend()
            except SupervisorError as exc:
                self._say(f"error: {exc}")
                return 1
            self._stop_requested.wait(0.2)
        return 0

    def request_stop(self) -> None:
        """Make `wait()`/`start()` return; safe from signal handlers and other threads."""
        self._stop_requested.set()

    def stop(self) -> None:
        """Stop all children, last started first, leaving no process behind.

        All groups get SIGTERM at once (so shutdown takes one grace period, not one per
        child); stragglers get SIGKILL when the grace period is over.
        """
        children, self._children = self._children, []
        if not children:
            return
        self._say("stopping " + ", ".join(c.spec.name for c in reversed(children)) + " ...", end="")
        t0 = time.monotonic()
        for child in reversed(children):
            if child.proc.poll() is None:
                signal_group(child.proc.pid, signal.SIGTERM)
        deadline = t0 + self.stop_grace
        for child in reversed(children):
            remaining = max(0.0, deadline - time.monotonic())
            stop_process(child.proc, grace=remaining, send_term=False)
            if child.echo is not None:
                child.echo.stop()
        self._say(f" done ({time.monotonic() - t0:.1f}s)")

    def run(self) -> int:
        """Start all, wait until Ctrl-C/SIGTERM or a child dies, stop all; exit code."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self._say(f"\nreceived {signal.Signals(signum).name}")
            self.request_stop()

        for sig in previous:
            signal.signal(sig, on_signal)
        try:
            try:
                self.start()
            except SupervisorError as exc:
                self._say(f"error: {exc}")
                return 0 if self._stop_requested.is_set() else 1
            self._say("all processes up; press Ctrl-C to stop")
            return self.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)



# Health URLs are local: never route them through an HTTP(S)_PROXY from the environment.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_ok(url: str) -> bool:
    try:
        with _NO_PROXY_OPENER.open(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
