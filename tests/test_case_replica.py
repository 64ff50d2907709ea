"""Intake's view of the grid's cases (services/intake/case_replica.py) on real PostgreSQL: each
step of a reported problem's case shows as the resident should read it, a merged duplicate
closes with its master (whatever order the two streams arrive in), a patrol case leaves no
row, and redelivery changes nothing."""

from __future__ import annotations

import pytest

from services.intake.case_replica import CaseReplica, case_fields, reported
from shared import projection
from tests import case_steps as step
from tests.case_steps import DEADLINE


@pytest.fixture
async def replica(pg_pool, schema):
    p = CaseReplica(schema)
    await projection.setup(pg_pool, p)
    return p


async def happen(pg_pool, store, replica, case_id: str, *steps) -> None:
    """Append each step to the case's stream and apply what the stream holds (every event
    again: redelivery must not matter)."""
    for events in steps:
        await store.append(f"case-{case_id}", None, events)
        await projection.project(pg_pool, replica, await store.read_stream(f"case-{case_id}"))


async def row(pg_pool, schema, problem_id):
    return await pg_pool.fetchrow(f"SELECT * FROM {schema}.problem_cases "
                                  "WHERE problem_id = $1", problem_id)


async def test_each_step_of_a_reported_problems_case_shows_in_its_row(pg_pool, schema, store,
                                                                        replica):
    await happen(pg_pool, store, replica, "p1", step.registered("p1", "p1"))
    r = await row(pg_pool, schema, "p1")
    assert (r["case_id"], r["status"], r["agency"]) == ("p1", "registered", "grid")
    assert r["expected_datetime"] is None and "已立案" in r["status_notes"]

    await happen(pg_pool, store, replica, "p1", step.dispatched("p1"))
    r = await row(pg_pool, schema, "p1")
    assert r["status"] == "dispatched" and r["expected_datetime"] == DEADLINE
    assert r["status_notes"] == ("已派遣 — dispatched to grid s1.c1.g1; to be handled by "
                                 "2026-11-30 16:00")

    await happen(pg_pool, store, replica, "p1", step.accepted("p1"), step.resolved("p1"))
    r = await row(pg_pool, schema, "p1")
    assert r["status"] == "resolved" and r["result"] == "换了灯泡 bulb replaced"

    await happen(pg_pool, store, replica, "p1", step.verified_and_closed("p1", "p1"))
    r = await row(pg_pool, schema, "p1")
    assert r["status"] == "closed"
    assert r["status_notes"] == "已结案 — closed: 换了灯泡 bulb replaced"
    assert r["expected_datetime"] == DEADLINE


async def test_send_back_overdue_and_rework_show_who_holds_the_case(pg_pool, schema, store,
                                                                    replica):
    await happen(pg_pool, store, replica, "p2", step.registered("p2", "p2"),
                 step.dispatched("p2"), step.sent_back("p2"))
    r = await row(pg_pool, schema, "p2")
    assert (r["status"], r["agency"]) == ("sent_back", "street")
    assert "sent back to the street: 不属本网格 not this grid's" in r["status_notes"]
    await happen(pg_pool, store, replica, "p2", step.ruled("p2", upheld=True),
                 step.dispatched("p2", by="street", grid_id="s1.c2.g1"))
    r = await row(pg_pool, schema, "p2")
    assert (r["status"], r["agency"], r["grid_id"]) == ("dispatched", "grid", "s1.c2.g1")
    assert r["status_notes"].startswith("已派遣 — dispatched by the street to grid s1.c2.g1")
    await happen(pg_pool, store, replica, "p2", step.overdue("p2"))
    r = await row(pg_pool, schema, "p2")
    assert (r["status"], r["agency"]) == ("dispatched", "street")
    assert "escalated to the street" in r["status_notes"]
    await happen(pg_pool, store, replica, "p2", step.accepted("p2"), step.resolved("p2"),
                 step.failed_verification("p2"))
    r = await row(pg_pool, schema, "p2")
    assert r["status"] == "handling" and "rework 1" in r["status_notes"]


async def test_a_merged_duplicate_closes_when_its_master_closes(pg_pool, schema, store,
                                                                replica):
    await happen(pg_pool, store, replica, "p3", step.registered("p3", "p3"))
    await happen(pg_pool, store, replica, "p4", step.registered("p4", "p4"),
                 step.merged("p4", "p3", "p4"))
    r = await row(pg_pool, schema, "p4")
    assert (r["status"], r["master_id"]) == ("merged", "p3")
    await happen(pg_pool, store, replica, "p3", step.attached("p3", "p4", "p4"),
                 step.dispatched("p3"), step.resolved("p3"),
                 step.verified_and_closed("p3", "p3", duplicates={"p4": "p4"}))
    r = await row(pg_pool, schema, "p4")
    assert r["status"] == "closed"
    assert r["status_notes"] == "已结案 — closed: handled together with case p3"


async def test_a_merge_that_arrives_after_its_masters_closure_does_not_reopen_it(
        pg_pool, schema, store, replica):
    """The two cases' streams may sit in different partitions: the master's closure can be
    applied before the duplicate's merge."""
    await happen(pg_pool, store, replica, "p6", step.registered("p6", "p6"))
    await happen(pg_pool, store, replica, "p5", step.registered("p5", "p5"),
                 step.verified_and_closed("p5", "p5", duplicates={"p6": "p6"}))
    await happen(pg_pool, store, replica, "p6", step.merged("p6", "p5", "p6"))
    r = await row(pg_pool, schema, "p6")
    assert (r["status"], r["master_id"]) == ("closed", "p5")


@pytest.mark.parametrize("master", ["p7", "c7"])  # a reported problem's case, a patrol case
async def test_a_duplicate_registered_after_its_masters_closure_shows_closed(
        pg_pool, schema, store, replica, master):
    """The master's closure reached intake before the duplicate's registration (another
    partition): the closure had no row to close, so the duplicate's merge closes it."""
    problem = master if master.startswith("p") else None
    await happen(pg_pool, store, replica, master, step.registered(master, problem),
                 step.attached(master, "p8", "p8"), step.dispatched(master),
                 step.verified_and_closed(master, problem, duplicates={"p8": "p8"}))
    await happen(pg_pool, store, replica, "p8", step.registered("p8", "p8"),
                 step.merged("p8", master, "p8"))
    r = await row(pg_pool, schema, "p8")
    assert (r["status"], r["master_id"]) == ("closed", master)
    assert r["status_notes"] == f"已结案 — closed: handled together with case {master}"


@pytest.mark.parametrize("master_first", [True, False])
async def test_many_cases_in_one_batch_end_as_they_do_one_by_one(pg_pool, schema, store,
                                                                 replica, master_first):
    """A batch's writes are taken across cases (set-based, `independent_streams`): a master
    closing its merged duplicate in the same batch as the duplicate's own steps, in either
    order of the two streams, ends as applying each case alone does."""
    master, duplicate, other = (f"m{master_first}", f"d{master_first}", f"o{master_first}")
    steps = {
        master: [step.registered(master, master), step.attached(master, duplicate, duplicate),
                 step.dispatched(master), step.resolved(master),
                 step.verified_and_closed(master, master, duplicates={duplicate: duplicate})],
        duplicate: [step.registered(duplicate, duplicate),
                    step.merged(duplicate, master, duplicate)],
        other: [step.registered(other, other), step.dispatched(other), step.accepted(other)],
    }
    for case_id, events in steps.items():
        for new_events in events:
            await store.append(f"case-{case_id}", None, new_events)
    order = [master, duplicate, other] if master_first else [other, duplicate, master]
    batch = [e for case_id in order for e in await store.read_stream(f"case-{case_id}")]
    await projection.project(pg_pool, replica, batch)
    rows = {case_id: await row(pg_pool, schema, case_id) for case_id in steps}
    assert (rows[master]["status"], rows[duplicate]["status"]) == ("closed", "closed")
    assert rows[duplicate]["master_id"] == master
    assert rows[duplicate]["status_notes"] == ("已结案 — closed: handled together with case "
                                               f"{master}")
    assert rows[other]["status"] == "handling"


async def test_a_patrol_case_has_no_row_and_its_steps_touch_none(pg_pool, schema, store,
                                                                 replica):
    await happen(pg_pool, store, replica, "c0123456789abcdef", step.registered("c0123456789abcdef"),
                 step.dispatched("c0123456789abcdef"))
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.problem_cases") == 0
    checkpoint = await pg_pool.fetchval(
        f"SELECT version FROM {schema}.checkpoints WHERE stream_id = 'case-c0123456789abcdef'")
    assert checkpoint == 2  # an ?after= token of a patrol case is honoured all the same


async def test_a_referred_case_shows_the_streets_enforcement_team_until_resolved(
        pg_pool, schema, store, replica):
    await happen(pg_pool, store, replica, "p7", step.registered("p7", "p7"),
                 step.dispatched("p7"), step.referred("p7"))
    r = await row(pg_pool, schema, "p7")
    assert (r["status"], r["agency"]) == ("referred", "enforcement")
    assert r["status_notes"].endswith("law enforcement team: 占道经营 street vending")
    shown = reported({"problem_id": "p7", "problem_type": "problem.street_order",
                      "description": "", "grid_id": "s1.c1.g1", "street_id": "s1",
                      "community_id": "s1.c1", "community_zh": None, "address": "",
                      "reported_at": r["updated_at"], "lat": 30.6, "lon": 104.1,
                      "street_zh": "猛追湾街道", "street_en": "Mengzhuiwan Street",
                      "grid_zh": "猛追湾社区第1网格", "grid_en": "Mengzhuiwan Community Grid 1",
                      **{f"case_{k}": r[k] for k in ("status", "status_notes", "agency",
                                                     "grid_id", "expected_datetime",
                                                     "updated_at")}})
    assert shown["agency_responsible"] == "猛追湾街道综合执法队 Mengzhuiwan Street law " \
                                          "enforcement team"
    assert shown["status"] == "open" and shown["expected_datetime"].endswith("+08:00")
    await happen(pg_pool, store, replica, "p7", step.resolved("p7", "已取缔 vendor removed"))
    r = await row(pg_pool, schema, "p7")
    assert r["status"] == "resolved" and r["result"] == "已取缔 vendor removed"


def test_a_case_with_its_grid_names_the_grid_and_falls_back_to_its_id() -> None:
    row = {"case_status": "dispatched", "case_status_notes": "", "case_agency": "grid",
           "case_grid_id": "s1.c1.g1", "case_expected_datetime": None, "case_updated_at": None,
           "street_zh": "猛追湾街道", "street_en": "Mengzhuiwan Street",
           "grid_zh": "猛追湾社区第1网格", "grid_en": "Mengzhuiwan Community Grid 1"}
    assert case_fields(row)["agency_responsible"] == \
        "猛追湾社区第1网格 Mengzhuiwan Community Grid 1"
    # a replica made before grids had names here has '' for them
    assert case_fields({**row, "grid_zh": "", "grid_en": ""})["agency_responsible"] == \
        "网格 s1.c1.g1 grid"
