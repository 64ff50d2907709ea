"""A service's API as several processes on one port (JIEDAO_API_PROCESSES, deploy/processes.py
`run_api`), on real PostgreSQL and Kafka: they share the port and the store, concurrent
commands through them all land, and a process that dies is replaced without the platform
noticing. Bad settings stop `jiedao` with the variable named."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from pydantic import ValidationError

from deploy.embedded import free_port
from deploy.restarts import RestartPolicy
from deploy.supervisor import Supervisor
from deploy.up import process_specs
from shared.settings import Settings
from tests.platform import bearer
from tests.supervised import add_street, env, eventually, ready, shows  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def _api_processes(pid: int) -> list[psutil.Process]:
    """The processes that serve the API: uvicorn's workers under the `jiedao api` process."""
    serving = []
    for child in psutil.Process(pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                serving.append(child)
        except psutil.Error:  # gone, or dead and not yet reaped
            pass
    return serving


def test_two_api_processes_share_the_port_and_the_store_and_one_that_dies_is_replaced(
        env, tmp_path):  # noqa: F811
    port = free_port()
    specs, urls = process_specs({**env, "JIEDAO_API_PROCESSES": json.dumps({"grid": 2})},
                                port, names=["grid"])
    out = io.StringIO()
    sup = Supervisor(specs, log_dir=tmp_path / "logs", out=out, stop_grace=5,
                     policy=RestartPolicy(first_backoff=0.2))
    sup.start()
    watching = threading.Thread(target=sup.wait)
    watching.start()
    api = sup.pids["grid-api"]
    try:
        client = httpx.Client(base_url=urls["grid"], trust_env=False, timeout=10,
                              headers=bearer("civil_affairs"))
        assert ready(client)
        served_by = eventually(lambda: len(found := _api_processes(api)) == 2 and found)

        streets = [f"together-{i}" for i in range(24)]
        with ThreadPoolExecutor(8) as pool:  # a connection each: the kernel spreads them
            list(pool.map(lambda s: add_street(httpx.Client(
                base_url=urls["grid"], trust_env=False, timeout=10,
                headers=bearer("civil_affairs")), s), streets))
        eventually(lambda: all(shows(client, s) for s in streets), timeout=60)

        victim = served_by[0]
        victim.send_signal(signal.SIGKILL)
        eventually(lambda: victim.pid not in [p.pid for p in _api_processes(api)]
                    and len(_api_processes(api)) == 2, timeout=30)
        add_street(client, "after-one-died")
        eventually(lambda: shows(client, "after-one-died"), timeout=60)
        assert sup.pids["grid-api"] == api  # uvicorn replaced its worker; nothing restarted
        assert watching.is_alive() and "exited unexpectedly" not in out.getvalue()
        client.close()
        serving = _api_processes(api)
    finally:
        sup.request_stop()
        watching.join(15)
        sup.stop()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in serving)


@pytest.mark.parametrize(("value", "said"), [
    ('{"grid": 0}', "JIEDAO_API_PROCESSES.grid: Input should be greater than 0"),
    ("grid=2", "JIEDAO_API_PROCESSES: not JSON"),
    ('{"gird": 2}', "JIEDAO_API_PROCESSES names no service 'gird' (services: grid, intake"),
])
def test_a_bad_api_processes_setting_stops_jiedao_naming_it(value, said):
    done = subprocess.run([sys.executable, "-m", "deploy.cli", "api", "grid"], cwd=ROOT,
                          env={**os.environ, "JIEDAO_API_PROCESSES": value},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert said in done.stderr and "Traceback" not in done.stderr


def test_the_api_processes_setting_reads_the_same_from_the_environment_or_a_dict_of_it(
        monkeypatch):
    monkeypatch.setenv("JIEDAO_API_PROCESSES", '{"grid": 2}')
    assert Settings().api_processes == {"grid": 2}
    # `jiedao up` makes settings from a dict of environment variables (not JSON-decoded)
    assert Settings(**{"JIEDAO_API_PROCESSES": '{"grid": 2}'}).api_processes == {"grid": 2}
    with pytest.raises(ValidationError, match="JIEDAO_API_PROCESSES"):
        Settings(**{"JIEDAO_API_PROCESSES": "grid=2"})
