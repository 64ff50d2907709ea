"""No error body carries a stack trace, SQL or a database's own message (shared/http.py,
shared/edge.py), on a service built by create_service_app on a real PostgreSQL: a value
PostgreSQL refuses is a 422 naming the kind of fault; an unexpected fault is a 500 with a
fixed message and an error id, under which the log has the traceback. Also: an Open311 API
key over its rate limit gets 429 through an Open311 route, and a body over the limit there
is refused in Open311's format."""

import logging
import re
import uuid

import httpx
import pytest
from fastapi import APIRouter, Request

from deploy.embedded import ensure_database
from services.intake.open311_format import Open311Route, refused
from shared.events import EventRegistry
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings
from tests.platform import auth_env

SECRET_SCHEMA = "payroll_secret"
probe = APIRouter()


@probe.get("/as-number")
async def as_number(value: str, request: Request) -> dict:
    """Hands the value to PostgreSQL unchecked, as a forgotten validation would."""
    return {"n": await request.app.state.pool.fetchval("SELECT $1::text::int", value)}


@probe.get("/as-date")
async def as_date(value: str, request: Request) -> dict:
    return {"d": await request.app.state.pool.fetchval("SELECT $1::text::date", value)}


@probe.get("/missing-table")
async def missing_table(request: Request) -> dict:
    """A fault no handler expects, whose PostgreSQL message names a schema and quotes SQL."""
    return {"rows": await request.app.state.pool.fetch(
        f"SELECT id FROM {SECRET_SCHEMA}.salaries WHERE id = $1", 1)}


@probe.get("/drop-connection")
async def drop_connection(request: Request) -> dict:
    async with request.app.state.pool.acquire() as con:
        await con.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    return {}


@probe.get("/bug")
async def bug() -> dict:
    raise RuntimeError(f"internal detail: SELECT * FROM {SECRET_SCHEMA}.salaries")


open311 = APIRouter(prefix="/open311", route_class=Open311Route)


@open311.post("/requests.json")
async def post_request(request: Request) -> dict:
    """What intake's key check does: one line, the rate limiter's, before anything else."""
    request.app.state.rate_limits.api_key(request.query_params["api_key"])
    return {"ok": True}


@pytest.fixture(scope="module")
async def client(database_url, tmp_path_factory):
    url = await ensure_database(database_url, f"bodies_{uuid.uuid4().hex[:8]}")
    spec = ServiceSpec(name="probe", title="probe", registry=EventRegistry(),
                       routers=[probe, open311], error_formats={"/open311/": refused})
    settings = Settings(DATABASE_URL=url, JIEDAO_OPEN311_RATE_LIMIT="2/minute",
                        JIEDAO_MAX_BODY_BYTES="2048", **auth_env(tmp_path_factory.mktemp("k")))
    app = create_service_app(spec, settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://probe") as client:
        yield client


LEAKS = re.compile(r"SELECT|FROM|WHERE|::|\$1|varchar|character varying|relation|syntax|"
                   rf"{SECRET_SCHEMA}|salaries|Traceback|File \"|line \d+|asyncpg", re.I)


def assert_no_leak(response: httpx.Response) -> None:
    assert not LEAKS.search(response.text), response.text


@pytest.mark.parametrize("path, value, reason", [
    ("/as-number", "not a number", "invalid text representation"),
    ("/as-number", "99999999999", "numeric value out of range"),
    ("/as-date", "2026-13-45", "datetime field overflow"),
])
async def test_a_value_postgresql_refuses_is_a_422_without_sql_or_its_message(
        client, path, value, reason):
    response = await client.get(path, params={"value": value})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"a value was refused by the database ({reason})"
    assert value not in response.text
    assert_no_leak(response)


@pytest.mark.parametrize("path", ["/missing-table", "/bug"])
async def test_an_unexpected_fault_is_a_500_with_an_error_id_and_the_traceback_only_in_the_log(
        client, path, caplog):
    with caplog.at_level(logging.ERROR, logger="jiedao.http"):
        response = await client.get(path)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "internal_error" and re.fullmatch(r"[0-9a-f]{16}", error["error_id"])
    assert error["message"] == f"the service failed to answer this request (error id " \
                               f"{error['error_id']})"
    assert_no_leak(response)
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if error["error_id"] in r.getMessage()]
    assert logged and logged[0].exc_info and SECRET_SCHEMA in caplog.text


async def test_a_lost_database_connection_is_a_503_with_a_fixed_message(client):
    response = await client.get("/drop-connection")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "unavailable" and error["error_id"] in error["message"]
    assert_no_leak(response)


async def test_an_api_key_over_its_rate_limit_gets_429_on_an_open311_route(client):
    for _ in range(2):
        assert (await client.post("/open311/requests.json?api_key=k1")).status_code == 200
    limited = await client.post("/open311/requests.json?api_key=k1")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["type"] == "rate_limited"
    assert (await client.post("/open311/requests.json?api_key=k2")).status_code == 200


async def test_a_body_over_the_limit_on_an_open311_path_is_refused_in_open311s_format(client):
    response = await client.post("/open311/requests.json?api_key=k3", content=b"a=" * 2000,
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    [error] = response.json()
    assert error["description"].startswith("body: is over 2048 bytes")
