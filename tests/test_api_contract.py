"""schemathesis against each service's OpenAPI, in process (ASGI) on real PostgreSQL: every
check in every phase (examples, coverage, fuzzing, stateful); no server error, no status
code, content type or body the document does not declare."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events
from schemathesis.python import asgi

from deploy.embedded import ensure_database
from deploy.registry import SERVICES, services
from shared import projection
from shared.db import create_pool
from shared.follower import LogFollower
from shared.service import create_service_app
from shared.settings import Settings
from shared.store import EventStore
from tests.platform import auth_env, bearer

CONFIG = {
    "generation": {"max-examples": 8},
    "phases": {"stateful": {"max-steps": 6}},
    "max-time": 40,
    "checks": {
        # A request valid by the schema may still break a business rule (a grid of 299
        # households, a point outside every grid): refusing it (422, Open311's 400) is right.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "403", "404", "409",
                                                           "422"]},
    },
}


# Signed in with broad grants, so the fuzzing reaches past sign-in into every endpoint.
GRANTS = ("civil_affairs", "district_government", "auditor", "administrator",
          "district_department:civil_affairs", "district_department:legal_affairs",
          "front_desk_clerk:s1.c1", "front_desk_clerk:s1.c2", "street_service_staff:s1",
          "street_office_staff:s1", "investment_staff:s1", "resident")


def run(app) -> tuple[list[str], Counter[str]]:
    """Run schemathesis's engine over the app's OpenAPI: each failure (`operation: title`),
    and how many scenarios each phase ran."""
    config = schemathesis.Config.from_dict(
        {**CONFIG, "headers": bearer(*GRANTS, user="contract-tester")})
    # Readiness is 503 by design here: no relay or worker runs (tests/test_health.py has it).
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config).exclude(
        path="/health/ready")
    found: list[str] = []
    scenarios: Counter[str] = Counter()
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                scenarios[getattr(event, "phase", None) and event.phase.name or "FUZZING"] += 1
                found += failed_checks(event.recorder)
            elif isinstance(event, events.FatalError):
                found.append(f"fatal: {event.exception!r}")
            elif isinstance(event, events.NonFatalError):
                found.append(f"error: {event.label}: {event.value!r}")
            elif isinstance(event, events.EngineFinished):
                found += [f"{f.operation}: {f.title}: {f.message}" for f in event.failures]
    finally:
        asgi.shutdown_lifespans()
    return found, scenarios


def failed_checks(recorder) -> list[str]:
    return [f"{recorder.label}: {check.name}: {check.failure_info.failure.title}: "
            f"{check.failure_info.failure.message[:300]}\n{check.failure_info.code_sample}"
            for checks in recorder.checks.values() for check in checks
            if check.status == Status.FAILURE and check.failure_info is not None]


async def app_on_fresh_database(name: str, database_url: str, data_dir) -> tuple[Any, str]:
    url = await ensure_database(database_url, f"contract_{name}_{uuid.uuid4().hex[:8]}")
    settings = Settings(DATABASE_URL=url, **auth_env(data_dir))
    return create_service_app(services()[name], settings), url


async def read_models_following_the_store(name: str, url: str) -> None:
    """The service's read models kept up with its store, as its worker would (without
    Kafka: the path a rebuild takes), so reads of what a command wrote find it."""
    pool = await create_pool(url, max_size=2)
    try:
        store = EventStore(pool, name, name)
        await store.setup()
        own = services()[name].projections
        for p in own:
            await projection.setup(pool, p)
        follower = LogFollower(store)
        while True:
            events = await follower.poll()
            for p in own:
                await projection.project(pool, p, events, store=store)
            await asyncio.sleep(0 if events else 0.02)
    finally:
        await pool.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_api_answers_every_request_as_its_openapi_says(service, database_url,
                                                                 tmp_path):
    app, url = await app_on_fresh_database(service, database_url, tmp_path)
    following = asyncio.create_task(read_models_following_the_store(service, url))
    try:
        failures, scenarios = await asyncio.to_thread(run, app)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
    print(service, dict(scenarios))
    assert not failures, "\n".join(sorted(set(failures)))
    assert scenarios["FUZZING"] > 0 and scenarios["STATEFUL_TESTING"] > 0
