"""The supervisor restarts what crashes, with backoff, and gives up only on repeated crashes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import asyncpg

from deploy.embedded import EmbeddedKafka, EmbeddedPostgres
from deploy.restarts import CrashHistory, RestartPolicy
from deploy.supervisor import ProcessSpec, Supervisor


def test_backoff_doubles_up_to_its_cap_and_resets_after_a_healthy_run() -> None:
    history = CrashHistory(RestartPolicy(max_crashes=100, window=60))
    delays = [history.crashed(at=float(i), ran_for=1.0) for i in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert history.crashed(at=10.0, ran_for=45.0) == 0.5  # it had run healthily for a while


def test_five_crashes_within_a_minute_give_up_but_spread_out_ones_do_not() -> None:
    history = CrashHistory(RestartPolicy())
    assert [history.crashed(at=t, ran_for=1.0) for t in (0, 10, 20, 30)] != [None] * 4
    assert history.crashed(at=40.0, ran_for=1.0) is None
    spread = CrashHistory(RestartPolicy())
    assert all(spread.crashed(at=t * 20.0, ran_for=1.0) is not None for t in range(10))


def _wait_for(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_process_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    sleep = [sys.executable, "-c", "print('up', flush=True); import time; time.sleep(600)"]
    specs = [ProcessSpec("steady", sleep), ProcessSpec("victim", sleep)]
    out = io.StringIO()
    sup = Supervisor(specs, log_dir=tmp_path, out=out, stop_grace=1.0,
                     policy=RestartPolicy(first_backoff=0.1))
    sup.start()
    waiting = threading.Thread(target=sup.wait)
    waiting.start()
    try:
        steady, victim = sup.pids["steady"], sup.pids["victim"]
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: sup.pids.get("victim", victim) != victim)
        assert sup.pids["steady"] == steady
        os.kill(sup.pids["victim"], signal.SIGKILL)  # a second crash: still restarted
        _wait_for(lambda: len(sup.pids) == 2 and "victim exited" in out.getvalue()
                  and out.getvalue().count("restarting victim") == 2)
        assert waiting.is_alive()  # the supervisor did not give up
    finally:
        sup.request_stop()
        waiting.join(10)
        sup.stop()
    assert "victim exited unexpectedly with code -9" in out.getvalue()


def test_a_killed_broker_is_restarted_on_the_same_address(tmp_path: Path) -> None:
    kafka = EmbeddedKafka(log_file=tmp_path / "tansu.log")
    bootstrap = kafka.start()
    out = io.StringIO()
    sup = Supervisor([], log_dir=tmp_path, out=out, policy=RestartPolicy(first_backoff=0.1))
    sup.watch("kafka", kafka.alive, kafka.restart, kafka.log_file)
    waiting = threading.Thread(target=sup.wait)
    waiting.start()
    try:
        first = kafka.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: kafka.alive() and kafka.pid != first)
        assert kafka.bootstrap_servers == bootstrap
        assert "kafka died" in out.getvalue() and "restarting kafka" in out.getvalue()
    finally:
        sup.request_stop()
        waiting.join(10)
        kafka.stop()


async def test_a_killed_postgres_is_restarted_with_its_data_and_url(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg")
    url = pg.start()
    out = io.StringIO()
    sup = Supervisor([], log_dir=tmp_path, out=out, policy=RestartPolicy(first_backoff=0.1))
    sup.watch("postgres", pg.alive, pg.restart, pg.log_file)
    waiting = threading.Thread(target=sup.wait)
    waiting.start()
    try:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept AS SELECT 'still here' AS v")
        await conn.close()
        first = pg.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await asyncio.to_thread(_wait_for, lambda: pg.alive() and pg.pid != first, 60.0)
        assert pg.url == url
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT v FROM kept") == "still here"
        await conn.close()
        assert "postgres died" in out.getvalue()
    finally:
        sup.request_stop()
        await asyncio.to_thread(waiting.join, 10)
        pg.stop()
