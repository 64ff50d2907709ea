"""The embedded infrastructure (deploy.embedded) and the process supervisor really work.

These start real PostgreSQL and Tansu processes of their own (independent of the
session fixtures, which may be Docker or external services) and check that they
serve requests, keep data where promised, and leave no process behind.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.embedded import (
    EmbeddedKafka,
    EmbeddedPostgres,
    EmbeddedServiceError,
    ensure_database,
    postgres_processes,
)
from deploy.supervisor import ProcessSpec, RestartPolicy, Supervisor, SupervisorError


def _alive(pid: int) -> bool:
    """Running and not a zombie (dead, merely not yet reaped by init)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ------------------------------------------------------------------------- PostgreSQL


async def test_postgres_keeps_data_across_restart_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    # Deeper than a unix socket path allows (~107 bytes): the socket must go elsewhere.
    data_dir = tmp_path / ("deep" * 20) / "pg"
    data_dir.parent.mkdir(parents=True)
    assert len(str(data_dir / ".s.PGSQL.5432")) > 107

    pg = EmbeddedPostgres(data_dir)
    with pg:
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT 6 * 7") == 42
            await conn.execute("CREATE TABLE kept (v text)")
            await conn.execute("INSERT INTO kept VALUES ('still here')")
        finally:
            await conn.close()
        first_pid = pg.pid
    assert first_pid is not None and not _alive(first_pid)
    assert postgres_processes(data_dir) == []

    with pg:  # same object, same dir: a real restart
        conn = await asyncpg.connect(pg.url)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == "still here"
        finally:
            await conn.close()
        assert pg.pid != first_pid
        socket_dir = Path(pg.url.split("host=")[1])
        assert socket_dir != data_dir  # the path was too long for a socket in it
    assert postgres_processes(data_dir) == []
    assert not socket_dir.exists()


async def test_ensure_database_creates_once_and_returns_its_url(database_url: str) -> None:
    name = f"db_{uuid.uuid4().hex[:12]}"
    url = await ensure_database(database_url, name)
    assert await ensure_database(database_url, name) == url  # second call: no error
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT current_database()") == name
    finally:
        await conn.close()
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}"')
    finally:
        await admin.close()


async def test_schema_fixture_gives_an_existing_empty_schema(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    assert schema.startswith("t_")
    exists = await pg_pool.fetchval(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema
    )
    assert exists == 1
    tables = await pg_pool.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
    )
    assert tables == 0


# ------------------------------------------------------------------------------ Kafka


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    """A broker owned by this module, so these tests exercise Tansu whatever the session uses."""
    kafka = EmbeddedKafka(log_file=tmp_path_factory.mktemp("own-kafka") / "tansu.log")
    kafka.start()
    yield kafka
    kafka.stop()


async def _create_topic(bootstrap: str, partitions: int = 4) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, partitions, 1)])
        assert all(code == 0 for _, code, _ in response.topic_errors), response
    finally:
        await admin.close()
    return name


async def _consume(consumer: AIOKafkaConsumer, count: int, timeout: float = 10.0) -> list:
    records: list = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        for batch in (await consumer.getmany(timeout_ms=200)).values():
            records.extend(batch)
    return records


async def test_broker_round_trip_with_headers(own_broker: EmbeddedKafka) -> None:
    bootstrap = own_broker.bootstrap_servers
    name = await _create_topic(bootstrap)
    count = 1000

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # default batching: many records per request
        sends = [
            await producer.send(
                name,
                key=f"k{i % 37}".encode(),
                value=f"v{i}".encode(),
                headers=[("ce_id", f"id-{i}".encode()), ("ce_type", b"test")],
            )
            for i in range(count)
        ]
        metadata = await asyncio.gather(*sends)
    finally:
        await producer.stop()
    assert {m.partition for m in metadata} == {0, 1, 2, 3}

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in range(4)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = await _consume(consumer, count)
        # The high watermark seen by fetches is exact (unlike Tansu's end_offsets()).
        assert sum(consumer.highwater(tp) for tp in partitions) == count
    finally:
        await consumer.stop()

    assert len(records) == count
    by_value = {r.value: r for r in records}
    assert len(by_value) == count
    assert dict(by_value[b"v123"].headers) == {"ce_id": b"id-123", "ce_type": b"test"}
    assert by_value[b"v123"].key == b"k12"
    # Keys keep their partition: all records of one key land in one partition.
    partitions_of_key = {r.partition for r in records if r.key == b"k5"}
    assert len(partitions_of_key) == 1


async def test_broker_consumer_group_gets_all_partitions(own_broker: EmbeddedKafka) -> None:
    bootstrap = own_broker.bootstrap_servers
    name = await _create_topic(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(name, f"m{i}".encode()) for i in range(20)])
    finally:
        await producer.stop()

    # Tansu delays a join by about session_timeout_ms / 2: keep it short in tests.
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=bootstrap,
        group_id=f"g_{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        records = await _consume(consumer, 20)
        assert len(records) == 20
        assert {tp.partition for tp in consumer.assignment()} == {0, 1, 2, 3}
        await consumer.commit()
        committed = [await consumer.committed(tp) for tp in consumer.assignment()]
        assert sum(committed) == 20
    finally:
        await consumer.stop()


async def test_topic_fixture_has_four_partitions(kafka_bootstrap: str, topic: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        assert topic in await consumer.topics()  # refreshes the metadata cache
        assert consumer.partitions_for_topic(topic) == {0, 1, 2, 3}
    finally:
        await consumer.stop()


def test_broker_stop_leaves_nothing_running(tmp_path: Path) -> None:
    kafka = EmbeddedKafka(log_file=tmp_path / "tansu.log")
    bootstrap = kafka.start()
    pid, port = kafka.pid, kafka.port
    assert pid is not None and port is not None
    kafka.stop()
    assert not _alive(pid)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        _ = kafka.bootstrap_servers
    assert bootstrap == f"127.0.0.1:{port}"


def test_broker_failing_to_start_reports_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        kafka = EmbeddedKafka(port=port, log_file=tmp_path / "tansu.log", start_timeout=10)
        with pytest.raises(EmbeddedServiceError, match="Address in use"):
            kafka.start()
    assert kafka.pid is None


# ------------------------------------------------------------------------- supervisor

# A tiny HTTP server whose /health answers 200, and which spawns a grandchild that
# ignores SIGTERM: stopping must still leave nothing behind.
_SERVER = """
import http.server, os, signal, subprocess, sys
subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
print("serving", os.environ["GREETING"], flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_members(pid: int) -> list[int]:
    """Live processes in process group `pid`."""
    return [p.pid for p in psutil.process_iter() if _pgid(p.pid) == pid and _alive(p.pid)]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_supervisor_waits_for_health_and_stops_the_whole_group(tmp_path: Path) -> None:
    port = _free_port()
    spec = ProcessSpec(
        name="web",
        argv=[sys.executable, "-c", _SERVER, str(port)],
        env={"GREETING": "hello"},
        health_url=f"http://127.0.0.1:{port}/health",
        health_timeout=15,
    )
    out = io.StringIO()
    sup = Supervisor([spec], log_dir=tmp_path, out=out, stop_grace=1.0)
    with sup:
        leader = sup.pids["web"]
        deadline = time.monotonic() + 5
        while len(_group_members(leader)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_group_members(leader)) == 2  # server + SIGTERM-ignoring grandchild
        assert sup.poll() is None
    assert _group_members(leader) == []
    assert "waiting for web" in out.getvalue() and " ok (" in out.getvalue()
    assert "serving hello" in (tmp_path / "web.log").read_text()


def test_supervisor_gives_up_on_a_child_that_keeps_crashing(tmp_path: Path) -> None:
    specs = [
        ProcessSpec(name="sleeper", argv=[sys.executable, "-c", "import time; time.sleep(600)"]),
        ProcessSpec(
            name="crasher",
            argv=[sys.executable, "-c", "import time; print('boom', flush=True); time.sleep(0.3)"],
        ),
    ]
    out = io.StringIO()
    policy = RestartPolicy(first_backoff=0.1, max_crashes=3, window=30)
    sup = Supervisor(specs, log_dir=tmp_path, out=out, stop_grace=1.0, policy=policy)
    sup.start()
    sleeper = sup.pids["sleeper"]
    try:
        assert sup.wait() == 1
    finally:
        sup.stop()
    text = out.getvalue()
    assert text.count("crasher exited unexpectedly with code 0") == 3
    assert text.count("restarting crasher") == 2
    assert "giving up: crasher exited unexpectedly with code 0, 3 crashes within 30s" in text
    assert "boom" in text.split("giving up")[1]  # the log tail is shown
    assert _group_members(sleeper) == []


def test_supervisor_health_timeout_shows_the_log_and_stops_everything(tmp_path: Path) -> None:
    spec = ProcessSpec(
        name="mute",
        argv=[
            sys.executable,
            "-c",
            "import time; print('no http here', flush=True); time.sleep(600)",
        ],
        health_url=f"http://127.0.0.1:{_free_port()}/health",
        health_timeout=1.0,
    )
    sup = Supervisor([spec], log_dir=tmp_path, out=io.StringIO(), stop_grace=1.0)
    with pytest.raises(SupervisorError, match="no http here"):
        sup.start()
    assert sup.pids == {}
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if "no http here" in str(p.info["cmdline"])
    ]


_RUN_SUPERVISOR = """
import sys
from pathlib import Path
from deploy.supervisor import ProcessSpec, Supervisor
sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
specs = [ProcessSpec("a", sleep), ProcessSpec("b", sleep)]
sys.exit(Supervisor(specs, log_dir=Path(sys.argv[1]), out=sys.stdout, stop_grace=2).run())
"""


def test_supervisor_run_stops_everything_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_SUPERVISOR, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until both children are up
        lines.append(line)
        if "all processes up" in line:
            break
    children = [c.pid for c in psutil.Process(proc.pid).children()]
    assert len(children) == 2
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, "".join(lines) + out
    assert "received SIGTERM" in out and "stopping b, a" in out
    assert not any(_alive(pid) for pid in children)
