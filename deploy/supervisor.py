"""A small process supervisor for `jiedao up`.

Why not an external tool (honcho, supervisord, systemd)? `jiedao up` must work from a
plain virtualenv with no daemon and must leave nothing behind: every child runs in its
own process group so that one SIGTERM/SIGKILL to the group also reaches grandchildren
(uvicorn reloaders, worker pools), and so that a terminal Ctrl-C reaches only us and we
decide the shutdown order.

The process helpers (`spawn`, `stop_process`, `tail`) are also used by
`deploy.embedded` to run the Kafka-protocol broker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Self

__all__ = [
    "ProcessSpec",
    "Started",
    "Supervisor",
    "SupervisorError",
    "spawn",
    "stop_process",
    "tail",
]

_PR_SET_PDEATHSIG = 1


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
    """A supervised process failed to start, to become healthy, or died."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to run and how to know it is ready.

    `env` holds overrides applied on top of the supervisor's own environment (so PATH,
    VIRTUAL_ENV etc. are inherited). `health_url`, when given, must answer HTTP 200
    before the next process is started; `None` means "ready as soon as it is running".
    `log_file` receives the child's stdout and stderr; `None` means `<log_dir>/<name>.log`.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    log_file: Path | None = None
    cwd: Path | None = None
    health_timeout: float = 60.0


def tail(path: Path, lines: int = 30) -> str:
    """Last `lines` lines of a log file, for error messages (never raises)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child when the spawning thread dies.

    This is what keeps a `kill -9` of the parent from orphaning brokers and services.
    Only used when spawning from the main thread: PDEATHSIG fires when the *thread*
    that forked exits, which would kill children spawned from short-lived threads.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (hence its own process group), output to `log_file`.

    `env` overrides are merged over `os.environ`. The log file is appended to, so a
    restart keeps the previous run's output for diagnosis.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    in_main_thread = threading.current_thread() is threading.main_thread()
    use_pdeathsig = sys.platform == "linux" and in_main_thread
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if use_pdeathsig else None,
        )


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(
    proc: subprocess.Popen[bytes], grace: float = 10.0, *, send_term: bool = True
) -> int | None:
    """SIGTERM the child's process group, wait up to `grace` s, then SIGKILL the group.

    The final SIGKILL to the group is sent even when the leader exited in time, so that
    grandchildren which ignored SIGTERM do not survive. `send_term=False` is for callers
    that already sent SIGTERM (a second one makes e.g. uvicorn skip its graceful
    shutdown). Returns the leader's exit code.
    """
    pgid = proc.pid  # start_new_session=True makes the child its own group leader
    if proc.poll() is None:
        if send_term:
            _signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(pgid, signal.SIGKILL)
    try:
        code = proc.wait(5)
    except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
        code = None
    _wait_group_gone(pgid, timeout=2.0)
    return code


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Wait until no process of group `pgid` is left (SIGKILL is delivered asynchronously).

    Zombies still count as group members until init reaps them, hence the timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


class _LogEcho(threading.Thread):
    """Follow a log file and copy new lines to `out` prefixed with the process name."""

    def __init__(self, name: str, path: Path, out: IO[str], width: int) -> None:
        super().__init__(name=f"echo-{name}", daemon=True)
        self._prefix = f"{name:<{width}} | "
        self._path = path
        self._out = out
        self._done = threading.Event()
        try:
            self._offset = path.stat().st_size  # only echo this run's output
        except OSError:
            self._offset = 0

    def run(self) -> None:
        partial = b""
        while not self._done.is_set():
            partial = self._pump(partial)
            self._done.wait(0.2)
        partial = self._pump(partial)
        if partial:
            self._emit(partial)

    def _pump(self, partial: bytes) -> bytes:
        try:
            with open(self._path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return partial
        self._offset += len(chunk)
        *lines, rest = (partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line)
        return rest

    def _emit(self, line: bytes) -> None:
        self._out.write(self._prefix + line.decode("utf-8", errors="replace").rstrip() + "\n")
        self._out.flush()

    def stop(self) -> None:
        self._done.set()
        self.join(2)


@dataclass
class _Child:
    spec: ProcessSpec
    log_file: Path
    proc: subprocess.Popen[bytes]
    echo: _LogEcho | None


class Supervisor(Started):
    """Start processes in order, wait for their health, watch them, stop them all.

    Typical use from a CLI (blocks until Ctrl-C/SIGTERM or until a child dies)::

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
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate process names: {names}")
        self.specs = list(specs)
        self.log_dir = log_dir
        self.echo = echo
        self.out = out if out is not None else sys.stderr
        self.stop_grace = stop_grace
        self._children: list[_Child] = []
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
        """Start every spec in order, waiting for each one's health before the next.

        On any failure everything already started is stopped and `SupervisorError`
        (with the failing process's log tail) is raised.
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

    def _start_one(self, spec: ProcessSpec) -> None:
        log_file = self.log_file(spec)
        self._say(f"starting {spec.name} (log: {log_file})")
        try:
            proc = spawn(spec.argv, log_file=log_file, env=spec.env, cwd=spec.cwd)
        except OSError as exc:
            raise SupervisorError(f"{spec.name}: cannot start {list(spec.argv)}: {exc}") from exc
        echo = _LogEcho(spec.name, log_file, self.out, self._width) if self.echo else None
        if echo is not None:
            echo.start()
        child = _Child(spec, log_file, proc, echo)
        self._children.append(child)
        if spec.health_url is not None:
            self._wait_healthy(child)

    def _wait_healthy(self, child: _Child) -> None:
        spec = child.spec
        assert spec.health_url is not None
        # One line "waiting ... ok (1.2s)", unless echoed child output would split it.
        waiting = f"waiting for {spec.name} at {spec.health_url} ..."
        self._say(waiting, end="\n" if self.echo else "")

        def outcome(text: str) -> None:
            self._say(f"{spec.name}: {text}" if self.echo else f" {text}")

        t0 = time.monotonic()
        deadline = t0 + spec.health_timeout
        while True:
            if self._stop_requested.is_set():
                outcome("interrupted")
                raise SupervisorError("stop requested while starting")
            dead = self._first_dead()  # this one, or one started before it
            if dead is not None:
                outcome("died" if dead is child else f"but {dead.spec.name} died")
                raise SupervisorError(
                    f"{dead.spec.name} exited with code {dead.proc.returncode} while "
                    f"{spec.name} was starting; last lines of {dead.log_file}:\n"
                    f"{tail(dead.log_file)}"
                )
            if _http_ok(spec.health_url):
                outcome(f"ok ({time.monotonic() - t0:.1f}s)")
                return
            if time.monotonic() > deadline:
                outcome("timeout")
                raise SupervisorError(
                    f"{spec.name} did not answer 200 at {spec.health_url} within "
                    f"{spec.health_timeout:.0f}s; last lines of {child.log_file}:\n"
                    f"{tail(child.log_file)}"
                )
            self._stop_requested.wait(0.2)

    @property
    def pids(self) -> dict[str, int]:
        """PID (= process group id) of each started child, by name."""
        return {c.spec.name: c.proc.pid for c in self._children}

    def poll(self) -> str | None:
        """Name of the first child that has exited, if any."""
        dead = self._first_dead()
        return dead.spec.name if dead is not None else None

    def _first_dead(self) -> _Child | None:
        for child in self._children:
            if child.proc.poll() is not None:
                return child
        return None

    def wait(self) -> int:
        """Block until a stop is requested (0) or a child dies (1, with its log tail)."""
        while not self._stop_requested.is_set():
            dead = self._first_dead()
            if dead is not None:
                self._say(
                    f"{dead.spec.name} exited unexpectedly with code {dead.proc.returncode}; "
                    f"last lines of {dead.log_file}:\n{tail(dead.log_file)}"
                )
                return 1
            self._stop_requested.wait(0.5)
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
                _signal_group(child.proc.pid, signal.SIGTERM)
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
