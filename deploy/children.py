"""Child processes in process groups of their own: spawn, stop (leaving nothing behind), read
their logs. Used by the supervisor (deploy/supervisor.py) and by deploy/embedded.py.

Every child runs in its own session (hence its own process group), so that one SIGTERM/SIGKILL
to the group also reaches grandchildren (uvicorn reloaders, worker pools).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["LogEcho", "signal_group", "spawn", "stop_process", "tail"]

_PR_SET_PDEATHSIG = 1


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


def signal_group(pgid: int, sig: int) -> None:
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
            signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    signal_group(pgid, signal.SIGKILL)
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


class LogEcho(threading.Thread):
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
