"""Health of relays and workers, not only APIs: status and lag, read from the database."""

import asyncio
import signal

from shared import health
from shared.envelope import NewEvent
from shared.relay import Relay
from tests.platform import running


async def test_relay_health_counts_unpublished_events_as_lag(store, pg_pool, producer, topic):
    for i in range(5):
        await store.append("s", i, [NewEvent("test.thing.happened", {"i": i})])
    assert await health.relay_health(pg_pool, store.schema) == {
        "status": "not started", "lag": 5, "position": None, "store_position": 5}
    relay = Relay(store, producer, topic)
    while await relay.publish_once():
        pass
    published = await health.relay_health(pg_pool, store.schema)
    assert (published["status"], published["lag"], published["position"]) == ("running", 0, 5)
    for i in range(5, 8):
        await store.append("s", i, [NewEvent("test.thing.happened", {"i": i})])
    assert (await health.relay_health(pg_pool, store.schema))["lag"] == 3
    await pg_pool.execute(
        f"UPDATE {store.schema}.cursors SET updated_at = now() - '1 min'::interval")
    assert (await health.relay_health(pg_pool, store.schema))["status"] == "stale"


async def test_service_health_reports_relay_and_worker_lag_and_a_dead_worker_is_not_ready(
    database_url, kafka_bootstrap, tmp_path, monkeypatch
):
    monkeypatch.setattr(health, "STALE_AFTER", 3.0)
    async with running(["grid"], database_url, kafka_bootstrap, tmp_path) as platform:
        grid = platform["grid"]
        async with asyncio.timeout(45):
            while (await grid.get("/health/ready")).status_code != 200:
                await asyncio.sleep(0.2)
        ready = (await grid.get("/health/ready")).json()
        assert ready["status"] == "ready" and ready["relay"]["status"] == "running"
        # its read models, then its reactions (to intake's and enforcement's topics, which its
        # worker created: neither service runs here)
        assert [w["projection"] for w in ready["workers"]] == [
            "grid_view.territory", "grid_view.cases", "grid.open_cases",
            "grid.conclude_referrals"]
        assert [w["partitions"] for w in ready["workers"]] == [4, 4, 4, 4]

        civil_affairs = platform.as_("grid", "civil_affairs")
        await civil_affairs.post("/streets", json={"street_id": "hs", "name_zh": "健康街道",
                                                   "name_en": "Health", "kind": "urban",
                                                   "sourced": False})
        await platform.eventually("grid", "/territory/streets",
                                  lambda body: any(s["street_id"] == "hs" for s in body["items"]))
        async with asyncio.timeout(10):  # the worker reports its progress every second
            while True:
                body = (await grid.get("/health")).json()
                if body["relay"]["lag"] == 0 and body["workers"][0]["lag"] == 0:
                    break
                await asyncio.sleep(0.2)
        assert body["relay"]["position"] >= 1

        worker = platform.workers[0]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        platform.workers.clear()
        async with asyncio.timeout(15):
            while (await grid.get("/health/ready")).status_code != 503:
                await asyncio.sleep(0.2)
        not_ready = (await grid.get("/health/ready")).json()
        assert not_ready["status"] == "not ready"
        assert not_ready["workers"][0]["status"] == "stale"
        assert not_ready["relay"]["status"] == "running"
        assert (await grid.get("/health")).status_code == 200  # the API itself is alive
