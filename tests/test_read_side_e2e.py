"""The read side against its failures, with real Faust workers, PostgreSQL and Kafka: a poison
event does not stop a read model, lost connections lose and double nothing, a rebuild keeps
the replica it cannot refill and does not race the worker."""

import asyncio
import os
import sys
import uuid

import pytest

from deploy.processes import rebuild_read_models
from deploy.registry import services
from services.intake.events import ProblemReported, registry
from shared.db import client_name
from shared.envelope import NewEvent
from tests.platform import ROOT, draw_small_district, running

INSIDE = {"lon": 104.105, "lat": 30.605}


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "intake"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        yield platform


def operator(platform):
    """The district's administrator, who reads the dead letters."""
    return platform.as_("intake", "administrator", user="admin-1")


async def report(platform, description: str = "路灯不亮 street light out") -> str:
    """A problem report appended straight into intake's store (as if the API had let it in)."""
    problem_id = uuid.uuid4().hex
    event = ProblemReported(problem_id=problem_id, problem_type="problem.public_utilities",
                            description=description, street_id="s1", community_id="s1.c1",
                            grid_id="s1.c1.g1", location=INSIDE, address="建设路1号",
                            reporter={"name": "王芳"})
    store = platform.apps["intake"].state.store
    await store.append(f"problem-{problem_id}", 0, [registry.to_new_event(event)])
    return problem_id


async def problems_seen(platform) -> set[str]:
    rows = await platform.apps["intake"].state.pool.fetch(
        "SELECT problem_id FROM intake_view.problems")
    return {row["problem_id"] for row in rows}


async def until_seen(platform, problem_ids: set[str], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not problem_ids <= await problems_seen(platform):
            platform.assert_workers_alive()
            await asyncio.sleep(0.2)


async def jiedao(platform, *args: str) -> tuple[int, str]:
    """Run the `jiedao` command as an operator would, against this platform."""
    env = {**os.environ, "DATABASE_URL": platform.settings.require_database(),
           "KAFKA_BOOTSTRAP_SERVERS": platform.settings.require_kafka(),
           "JIEDAO_NAMESPACE": platform.settings.namespace}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode, output.decode()


async def unreadable_report(platform) -> str:
    """A problem report whose data the read model cannot read (as an event of a schema the
    worker does not know yet would be), appended straight into intake's store."""
    problem_id = uuid.uuid4().hex
    store = platform.apps["intake"].state.store
    await store.append(f"problem-{problem_id}", 0, [
        NewEvent("intake.problem.reported", {"problem_id": problem_id, "lamp": "out"})])
    return problem_id


async def test_poison_event_is_dead_lettered_and_later_events_still_appear(platform):
    poison = await unreadable_report(platform)
    later = {await report(platform, f"第{i}号 report {i}") for i in range(5)}
    await until_seen(platform, later)
    assert poison not in await problems_seen(platform)
    listed = await platform.eventually("intake", "/operations/deadletters",
                                       lambda p: p["total"] >= 1, stream_id=f"problem-{poison}")
    [letter] = listed["items"]
    assert letter["read_model"] == "intake_view.front_desk" and letter["reason"] == "failed"
    assert letter["error"].startswith("ValidationError")  # the event class refuses the data
    assert letter["type"] == "intake.problem.reported" and letter["version"] == 1

    bad = await operator(platform).get("/operations/deadletters", params={"stream_id": "a\x00"})
    assert bad.status_code == 422

    code, output = await jiedao(platform, "deadletters", "intake")
    assert code == 0, output
    assert f"problem-{poison} v1 intake.problem.reported" in output
    assert "ValidationError" in output
    assert "intake_view.territory_replica: no dead letters" in output
    code, output = await jiedao(platform, "deadletters", "intake", "--retry", letter["event_id"])
    assert code == 1 and "applied 0 events; 1 still dead" in output, output


async def test_each_part_of_a_service_names_its_database_connections(platform):
    """What an operator reads in pg_stat_activity (and the benchmarks split PostgreSQL's CPU
    by): whose each connection is."""
    pool = platform.apps["intake"].state.pool
    await report(platform)  # the worker has opened its pool
    names = await eventually_names(pool, {client_name("intake", "api"),
                                          client_name("intake", "worker")})
    assert {"jiedao intake api", "jiedao intake worker"} <= names


async def eventually_names(pool, wanted: set[str]) -> set[str]:  # noqa: ANN001
    for _ in range(100):
        names = {row["application_name"] for row in await pool.fetch(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database()")}
        if wanted <= names:
            break
        await asyncio.sleep(0.1)
    return names


async def test_worker_connections_terminated_mid_stream_lose_and_double_nothing(platform):
    """pg_terminate_backend on the worker's busy connections is what a PostgreSQL restart does
    to it: every batch in flight fails with its connection."""
    pool = platform.apps["intake"].state.pool
    reported: set[str] = set()
    killed_mid_batch = 0
    for round_ in range(100):
        reported |= set(await asyncio.gather(*(report(platform) for _ in range(10))))
        for _ in range(10):
            killed_mid_batch += await pool.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = $1 "
                "AND state <> 'idle'", client_name("intake", "worker"))
            await asyncio.sleep(0.003)
        if killed_mid_batch >= 3 and round_ >= 10:
            break
    assert killed_mid_batch >= 3
    await until_seen(platform, reported)
    versions = await pool.fetch(
        "SELECT stream_id, version FROM intake_view.checkpoints "
        "WHERE projection = 'front_desk' AND stream_id = ANY($1::text[])",
        [f"problem-{p}" for p in reported])
    assert len(versions) == len(reported) and {r["version"] for r in versions} == {1}
    dead = (await operator(platform).get("/operations/deadletters")).json()["items"]
    assert not {d["stream_id"] for d in dead} & {f"problem-{p}" for p in reported}


async def test_rebuild_keeps_the_territory_replica_and_races_no_worker(platform):
    pool = platform.apps["intake"].state.pool
    territory = await pool.fetchval("SELECT count(*) FROM intake_view.grids")
    before = {await report(platform) for _ in range(20)}
    await until_seen(platform, before)

    async def keep_reporting() -> set[str]:
        ids = set()
        for _ in range(40):
            ids.add(await report(platform))
            await asyncio.sleep(0.01)
        return ids

    said: list[str] = []
    during, _ = await asyncio.gather(
        keep_reporting(), rebuild_read_models(services()["intake"], platform.settings,
                                              say=said.append))
    assert territory > 0
    assert await pool.fetchval("SELECT count(*) FROM intake_view.grids") == territory
    assert any("intake_view.territory_replica: kept" in line for line in said), said
    assert any(line.startswith("intake_view.front_desk: rebuilt from") for line in said), said
    await until_seen(platform, before | during)
    stored = await pool.fetchval("SELECT count(*) FROM intake.streams "
                                 "WHERE stream_id LIKE 'problem-%' AND version > 0")
    dead = (await operator(platform).get("/operations/deadletters")).json()["total"]
    assert len(await problems_seen(platform)) + dead == stored


async def test_a_message_that_is_not_an_event_is_dead_lettered_not_skipped(platform, producer):
    await producer.send_and_wait(platform.settings.topic("intake"), b"not an event",
                                 key=b"junk", headers=[("ce_id", b"\xff\xfe")])
    later = await report(platform)
    await until_seen(platform, {later})
    listed = await platform.eventually(
        "intake", "/operations/deadletters",
        lambda p: any(d["reason"] == "malformed" for d in p["items"]))
    [junk] = [d for d in listed["items"] if d["reason"] == "malformed"]
    assert junk["read_model"] == "intake_view.front_desk" and junk["stream_id"] is None
    assert junk["event_id"].startswith(platform.settings.topic("intake") + "[")
