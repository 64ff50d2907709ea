"""Real infrastructure for the test suite: PostgreSQL and a Kafka-protocol broker.

Nothing here is mocked. Where the services come from, in order of preference:

1. `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` from the environment (CI services, a
   developer's own stack);
2. testcontainers, when a Docker engine answers (`postgres:16`, Confluent Kafka);
3. the embedded services of `deploy.embedded` (pgserver's PostgreSQL, Tansu), which
   need nothing but the virtualenv.

`JIEDAO_TEST_INFRA=embedded|docker` forces 2 or 3 (default `auto`).

The run fails if any test was skipped or if no test ran: a silently skipped
integration test must never look like a green build.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import cache

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.embedded import EmbeddedKafka, EmbeddedPostgres
from shared.store import EventStore

TOPIC_PARTITIONS = 4


# ----------------------------------------------------------------------- infra choice


@cache
def _docker_available() -> bool:
    """True if a Docker engine answers quickly (the same client testcontainers uses)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _infra_mode() -> str:
    mode = os.environ.get("JIEDAO_TEST_INFRA", "auto")
    if mode not in ("auto", "docker", "embedded"):
        raise pytest.UsageError(f"JIEDAO_TEST_INFRA must be auto, docker or embedded, not {mode!r}")
    if mode == "auto":
        return "docker" if _docker_available() else "embedded"
    return mode


# ------------------------------------------------------------------ session services


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server for the whole session (superuser, database `postgres`)."""
    from_env = os.environ.get("DATABASE_URL")
    if from_env:
        yield from_env
    elif _infra_mode() == "docker":
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield container.get_connection_url()
    else:
        # tmp_path_factory paths are short, so the socket lives in the data dir.
        with EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data") as pg:
            yield pg.url


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a Kafka-protocol broker for the whole session."""
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if from_env:
        yield from_env
    elif _infra_mode() == "docker":
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
    else:
        log_file = tmp_path_factory.mktemp("kafka") / "tansu.log"
        with EmbeddedKafka(log_file=log_file) as kafka:
            yield kafka.bootstrap_servers


# ------------------------------------------------------------------------ per-test data


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """One asyncpg pool for the session; tests isolate themselves with `schema`."""
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def schema(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A fresh, empty schema name (`t_<hex>`) for this test, dropped with CASCADE after."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    await pg_pool.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def store(pg_pool: asyncpg.Pool, schema: str) -> AsyncIterator[EventStore]:
    """An event store of its own (in this test's schema)."""
    store = EventStore(pg_pool, schema, "test")
    await store.setup()
    yield store
    await store.close()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh topic with 4 partitions for this test, deleted after."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=TOPIC_PARTITIONS, replication_factor=1)]
        )
        # aiokafka reports per-topic failures in the response instead of raising.
        errors = [(t, code, msg) for t, code, msg in response.topic_errors if code != 0]
        if errors:
            raise RuntimeError(f"cannot create topic {name}: {errors}")
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


# ---------------------------------------------------------------------------- the guard


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test was skipped or no test ran at all.

    Why: integration tests skip themselves when infrastructure is missing in many
    projects; here a skip would hide exactly the failures CI exists to catch.
    """
    config = session.config
    if config.option.collectonly or exitstatus not in (0, 5):
        return  # nothing was meant to run, or the run already failed / was interrupted
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    ran = sum(len(reporter.stats.get(k, [])) for k in ("passed", "failed", "error", "xfailed"))
    problem = None
    if skipped:
        problem = f"{len(skipped)} test(s) skipped; skips are not allowed in this suite"
    elif ran == 0:
        problem = "no test ran"
    if problem is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", f"FAILING THE RUN: {problem}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
