"""`jiedao up`'s supervisor with the real processes (API, relay, Faust worker) on real PostgreSQL
and Kafka: a process killed with SIGKILL is restarted and the platform keeps working."""

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from deploy.embedded import free_port
from deploy.restarts import RestartPolicy
from deploy.supervisor import Supervisor
from deploy.up import process_specs
from tests.platform import bearer
from tests.supervised import add_street, env, eventually, ready, shows  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def test_killed_relay_and_worker_are_restarted_and_events_still_flow(env, tmp_path):  # noqa: F811
    port = free_port()
    specs, urls = process_specs(env, port, names=["grid"])
    out = io.StringIO()
    sup = Supervisor(specs, log_dir=tmp_path / "logs", out=out, stop_grace=5,
                     policy=RestartPolicy(first_backoff=0.2))
    sup.start()  # returns once the API answers and its /health reports relay and worker running
    watching = threading.Thread(target=sup.wait)
    watching.start()
    try:
        client = httpx.Client(base_url=urls["grid"], trust_env=False, timeout=10,
                              headers=bearer("civil_affairs"))
        assert ready(client)
        checked = subprocess.run([sys.executable, "-m", "deploy.cli", "health", "grid"],
                                 cwd=ROOT, env={**os.environ, **env}, capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        for victim in ("grid-relay", "grid-worker"):
            pid = sup.pids[victim]
            os.kill(pid, signal.SIGKILL)
            eventually(lambda v=victim, p=pid: sup.pids.get(v, p) != p)
            street = f"after-{victim}"
            add_street(client, street)
            eventually(lambda s=street: shows(client, s), timeout=60)
            eventually(lambda: ready(client), timeout=30)
        assert watching.is_alive(), out.getvalue()  # nothing made it give up
        assert "grid-relay exited unexpectedly with code -9" in out.getvalue()
        assert "restarting grid-worker" in out.getvalue()
        client.close()
    finally:
        sup.request_stop()
        watching.join(15)
        sup.stop()
