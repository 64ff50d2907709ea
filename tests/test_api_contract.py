"""schemathesis against each service's OpenAPI, in process (ASGI) on real PostgreSQL: every
check in every phase (examples, coverage, fuzzing, stateful); no server error, no status
code, content type or body the document does not declare."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
import schemathesis
from schemathesis.engine import Status, events
from schemathesis.python import asgi

from deploy.embedded import ensure_database
from deploy.processes import services
from shared.settings import Settings

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


def run(app) -> tuple[list[str], Counter[str]]:
    """Run schemathesis's engine over the app's OpenAPI: each failure (`operation: title`),
    and how many scenarios each phase ran."""
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
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


async def app_on_fresh_database(name: str, database_url: str):
    url = await ensure_database(database_url, f"contract_{name}_{uuid.uuid4().hex[:8]}")
    return services()[name].create_app(Settings(DATABASE_URL=url))


@pytest.mark.parametrize("service", ["grid", "intake"])
async def test_the_api_answers_every_request_as_its_openapi_says(service, database_url):
    app = await app_on_fresh_database(service, database_url)
    failures, scenarios = await asyncio.to_thread(run, app)
    print(service, dict(scenarios))
    assert not failures, "\n".join(sorted(set(failures)))
    assert scenarios["FUZZING"] > 0 and scenarios["STATEFUL_TESTING"] > 0
