"""A read model applies each event once, however often Kafka or Faust delivers it, and writes a
batch in as few round trips as its statements allow, in event order."""

import json
from datetime import UTC, date, datetime

import pytest

from services.grid import events as grid
from services.grid.projections import TerritoryProjection
from services.intake import events as intake
from services.intake.projections import FrontDeskProjection
from shared import projection
from shared.envelope import GENESIS_HASH, seal
from shared.events import DomainEvent, EventRegistry
from shared.projection import Run

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
PLACE = {"street_id": "s1", "community_id": "c1", "grid_id": "g1"}


def sealed(registry: EventRegistry, event: DomainEvent, stream_id: str, version: int):
    return seal(registry.to_new_event(event), source="test", stream_id=stream_id,
                stream_version=version, prev_hash=GENESIS_HASH)


def recount(version: int, households: int):
    event = grid.HouseholdsRecounted(grid_id="g1", community_id="c1", street_id="s1",
                                     households=households, previous=households - 1)
    return sealed(grid.registry, event, "grid-g1", version)


@pytest.fixture
async def view(pg_pool, schema):
    p = TerritoryProjection(schema)
    await projection.setup(pg_pool, p)
    await pg_pool.execute(
        f"INSERT INTO {schema}.grids VALUES ('g1', 'c1', 's1', '网格', 'Grid', 300, "
        "'{}'::jsonb, true, NULL, 0, 0, 1, 1)"
    )
    return p


async def households(pg_pool, schema) -> int:
    return await pg_pool.fetchval(f"SELECT households FROM {schema}.grids WHERE grid_id = 'g1'")


async def test_a_redelivered_batch_changes_nothing(pg_pool, schema, view):
    batch = [recount(1, 310), recount(2, 320)]
    assert await projection.project(pg_pool, view, batch) == 2
    assert await projection.project(pg_pool, view, batch) == 0
    assert await households(pg_pool, schema) == 320


async def test_an_old_event_redelivered_after_a_newer_one_is_skipped(pg_pool, schema, view):
    await projection.project(pg_pool, view, [recount(1, 310), recount(2, 320)])
    assert await projection.project(pg_pool, view, [recount(1, 310), recount(3, 330)]) == 1
    assert await households(pg_pool, schema) == 330


async def test_streams_a_projection_does_not_keep_cost_it_no_write_not_even_a_checkpoint(
        pg_pool, schema, view):
    """The territory shares the grid's topic with the cases: their events are passed over."""
    case = sealed(grid.registry, grid.HouseholdsRecounted(
        grid_id="g1", community_id="c1", street_id="s1", households=999, previous=1),
        "case-c1", 1)  # any event: the stream is what is not kept
    assert await projection.project(pg_pool, view, [case, recount(1, 310)]) == 1
    assert await households(pg_pool, schema) == 310
    streams = await pg_pool.fetch(f"SELECT stream_id FROM {schema}.checkpoints")
    assert [r["stream_id"] for r in streams] == ["grid-g1"]
    assert await projection.project(pg_pool, view, [case]) == 0


async def test_a_batch_reads_only_its_own_checkpoints_however_stale_the_statistics(
        pg_pool, schema, view):
    """The projection's checkpoints all written since the table was last analyzed (a new or
    rebuilt projection): PostgreSQL believes it has none, and must still not read them all
    to find a batch's."""
    await pg_pool.execute(f"INSERT INTO {schema}.checkpoints SELECT 'another', 's' || i, 1 "
                          "FROM generate_series(1, 300) AS i")
    await pg_pool.execute(f"ANALYZE {schema}.checkpoints")
    await pg_pool.execute(f"INSERT INTO {schema}.checkpoints SELECT $1, 's' || i, 1 "
                          "FROM generate_series(1, 20000) AS i", view.name)
    batch = [f"s{i}" for i in range(1, 31)]
    plan = json.loads(await pg_pool.fetchval(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + projection.checkpoints_query(schema), view.name,
        batch))
    read = sum(node["Actual Rows"] * node["Actual Loops"] for node in nodes(plan[0]["Plan"])
               if node.get("Relation Name") == "checkpoints")
    assert read == len(batch), plan
    rows = await pg_pool.fetch(projection.checkpoints_query(schema), view.name, ["s1", "x"])
    assert {(r["stream_id"], r["version"], r["held"]) for r in rows} == {
        ("s1", 1, False), ("x", None, False)}


def nodes(plan: dict) -> list[dict]:
    """A plan node and every node below it."""
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


def test_runs_group_only_consecutive_statements_with_the_same_sql():
    statements = [("A", (1,)), ("A", (2,)), ("B", (3,)), ("A", (4,)), ("C", ()), ("C", ())]
    assert projection.runs(statements) == [
        Run("A", [(1,), (2,)]), Run("B", [(3,)]), Run("A", [(4,)]), Run("C", [(), ()]),
    ]
    assert projection.runs([]) == []


def test_writes_of_independent_streams_run_once_per_kind_each_stream_in_its_order():
    def event(stream_id: str):
        return sealed(grid.registry, grid.HouseholdsRecounted(
            **PLACE, households=1, previous=0), stream_id, 1)

    writes = [(event("a"), [("A", (1,)), ("B", (2,))]), (event("b"), [("A", (3,))]),
              (event("a"), [("C", (4,)), ("A", (5,))]), (event("b"), [("B", (6,))])]
    assert projection.stream_runs(writes) == [
        Run("A", [(1,), (3,)]), Run("B", [(2,), (6,)]), Run("C", [(4,)]), Run("A", [(5,)]),
    ]
    assert projection.stream_runs([(event("a"), [])]) == []


async def test_a_batch_is_written_in_event_order(pg_pool, schema):
    p = TerritoryProjection(schema)
    await projection.setup(pg_pool, p)
    events = [
        grid.GridDrawn(**PLACE, name_zh="二号网格", name_en="Grid 2", households=300,
                       boundary=SQUARE, illustrative=True),
        grid.HouseholdsRecounted(**PLACE, households=310, previous=300),
        grid.MemberEnrolled(**PLACE, member_id="m1", name="李华", role="coordinator"),
        grid.ManagerAssigned(**PLACE, member_id="m1"),
        grid.HouseholdsRecounted(**PLACE, households=320, previous=310),
    ]
    batch = [sealed(grid.registry, e, "grid-g1", v) for v, e in enumerate(events, start=1)]
    assert await projection.project(pg_pool, p, batch) == 5
    row = await pg_pool.fetchrow(f"SELECT households, manager_id FROM {schema}.grids")
    assert dict(row) == {"households": 320, "manager_id": "m1"}


def filed(application_id: str):
    return intake.ApplicationFiled(
        application_id=application_id, matter_code="cm.x", matter_name_zh="事项",
        matter_name_en="Matter", level="community", **PLACE, applicant={"name": "张秀英"},
        address="建设北路二段4号", location={"lon": 0.5, "lat": 0.5}, materials=[],
        required_materials=["id_card"], filed_at=datetime(2012, 5, 2, tzinfo=UTC),
        deadline=date(2012, 5, 9),
    )


STATUS_CHANGES = {
    "returned": intake.ApplicationReturned(application_id="a1", **PLACE, missing=["id_card"],
                                           note=""),
    "resubmitted": intake.MaterialsResubmitted(application_id="a1", **PLACE,
                                               materials=["id_card"]),
    "accepted": intake.ApplicationAccepted(application_id="a2", **PLACE,
                                           handled_at="community", note=""),
    "referred": intake.ApplicationReferred(application_id="a3", **PLACE,
                                           department={"name_en": "Civil Affairs"}),
    "completed": intake.ApplicationCompleted(application_id="a2", **PLACE, result="issued",
                                             on_time=True),
    "refused": intake.ApplicationRefused(application_id="a1", **PLACE, reason="not eligible"),
}


def test_every_change_of_status_is_one_statement_so_a_batch_of_them_is_one_run():
    p = FrontDeskProjection("v")
    writes = [w for e in STATUS_CHANGES.values()
              for w in p.statements(sealed(intake.registry, e, "application-x", 2))]
    assert len(projection.runs(writes)) == 1


async def test_changes_of_status_keep_what_earlier_changes_wrote(pg_pool, schema):
    p = FrontDeskProjection(schema)
    await projection.setup(pg_pool, p)
    c = STATUS_CHANGES
    a1 = [filed("a1"), c["returned"], c["resubmitted"]]
    a2 = [filed("a2"), c["accepted"], c["completed"]]
    batch = []  # interleaved: each pair of changes runs as one executemany
    for v, (e1, e2) in enumerate(zip(a1, a2, strict=True), start=1):
        batch += [sealed(intake.registry, e1, "application-a1", v),
                  sealed(intake.registry, e2, "application-a2", v)]
    assert await projection.project(pg_pool, p, batch) == 6
    rows = await pg_pool.fetch(
        f"SELECT application_id, status, missing, handled_at, result, on_time, reason "
        f"FROM {schema}.applications ORDER BY application_id"
    )
    assert [dict(r) for r in rows] == [
        {"application_id": "a1", "status": "resubmitted", "missing": [], "handled_at": None,
         "result": None, "on_time": None, "reason": None},
        {"application_id": "a2", "status": "completed", "missing": [],
         "handled_at": "community", "result": "issued", "on_time": True, "reason": None},
    ]
