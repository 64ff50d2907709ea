"""Both hash chains catch an edited, deleted or inserted row."""

import pytest

from shared.audit import audit
from shared.envelope import GENESIS_HASH, NewEvent, seal
from shared.event_table import COPY_COLUMNS, event_row
from shared.sealer import Sealer
from shared.store import EventStore


@pytest.fixture
async def sealed_store(pg_pool, schema):
    store = EventStore(pg_pool, schema, "test")
    await store.setup()
    for s in range(3):
        await store.append(f"s-{s}", 0, [NewEvent("test.x", {"s": s, "i": i}) for i in range(4)])
        if s == 0:  # a position left unused, as a rolled-back append leaves one
            await pg_pool.execute(f"SELECT nextval('{schema}.event_position')")
    sealer = Sealer(store, batch=5)
    while await sealer.seal_once():
        pass
    yield store
    await store.close()


async def test_an_untouched_store_is_intact(sealed_store, pg_pool, schema):
    report = await audit(sealed_store)
    assert report.intact, report.problems
    assert report.events == 12 and report.seals == 3
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.events WHERE position = 5") == 0


async def test_an_edited_event_is_detected(sealed_store, pg_pool, schema):
    await pg_pool.execute(
        f"UPDATE {schema}.events SET data = '{{\"s\": 1, \"i\": 99}}' WHERE position = 7"
    )
    report = await audit(sealed_store)
    assert any("position 7" in p and "content" in p for p in report.problems)


async def test_a_deleted_event_is_detected(sealed_store, pg_pool, schema):
    await pg_pool.execute(f"DELETE FROM {schema}.events WHERE position = 13")  # last of its stream
    report = await audit(sealed_store)
    assert not report.intact


async def test_an_event_forged_into_an_unused_position_is_detected(sealed_store, pg_pool, schema):
    forged = seal(
        NewEvent("test.x", {"forged": True}), source="test", stream_id="forged",
        stream_version=1, prev_hash=GENESIS_HASH,
    )
    async with pg_pool.acquire() as con:  # a valid stream chain of its own, at position 5
        await con.copy_records_to_table(
            "events", schema_name=schema, columns=COPY_COLUMNS, records=[event_row(5, forged)]
        )
    report = await audit(sealed_store)
    assert any("store chain broken" in p for p in report.problems), report.problems
