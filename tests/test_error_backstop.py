"""What no handler expects still gets a clear answer: a value PostgreSQL refuses is a 422, a
lost database connection a 503 (shared/http.py), on any service built by create_service_app;
a caller not signed in or refused gets 401 / 403 in the error format of the path (its own,
where the service declares one, as Open311's); and the store refuses event data no read model
could hold (shared/envelope.py)."""

import uuid
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError

from deploy.embedded import ensure_database
from services.intake.open311_format import refused
from shared.access import Forbidden, Role
from shared.auth import Caller, readable_by
from shared.envelope import NewEvent
from shared.errors import DomainError
from shared.events import EventRegistry
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings
from shared.types import Code, Day, Text
from tests.platform import auth_env, bearer

probe = APIRouter()
OWN = "/own-format/"  # a prefix whose errors have their own format (here Open311's)
Auditor = Annotated[Caller, readable_by(Role.AUDITOR)]


@probe.get("/signed-in")
@probe.get(OWN + "signed-in.json")
async def signed_in(_: Auditor) -> dict:
    return {}


@probe.get(OWN + "refused.json")
async def refused_here(_: Auditor) -> dict:
    raise Forbidden("not here")


@probe.get("/as-number")
async def as_number(value: str, request: Request) -> dict:
    """Hands the value to PostgreSQL unchecked, as a forgotten validation would."""
    return {"n": await request.app.state.pool.fetchval("SELECT $1::text::int", value)}


@probe.get("/drop-connection")
async def drop_connection(request: Request) -> dict:
    async with request.app.state.pool.acquire() as con:
        await con.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    return {}


@pytest.fixture(scope="module")
async def client(database_url, tmp_path_factory):
    url = await ensure_database(database_url, f"backstop_{uuid.uuid4().hex[:8]}")
    spec = ServiceSpec(name="probe", title="probe", registry=EventRegistry(), routers=[probe],
                       error_formats={OWN: refused})
    settings = Settings(DATABASE_URL=url, **auth_env(tmp_path_factory.mktemp("keys")))
    app = create_service_app(spec, settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://probe") as client:
        yield client


async def test_a_value_postgresql_refuses_is_a_422_not_a_500(client):
    response = await client.get("/as-number", params={"value": "not a number"})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_input"
    too_big = await client.get("/as-number", params={"value": "99999999999"})
    assert too_big.status_code == 422
    assert (await client.get("/as-number", params={"value": "7"})).json() == {"n": 7}


async def test_a_lost_database_connection_is_a_503(client):
    response = await client.get("/drop-connection")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "unavailable"
    assert (await client.get("/health")).status_code == 200  # the pool recovers


async def test_an_unknown_path_and_method_answer_in_the_error_shape(client):
    missing = await client.get("/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "http_error"
    wrong = await client.post("/health")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"


async def test_no_token_is_a_401_naming_bearer_and_a_refusal_a_403_in_the_error_shape(client):
    anonymous = await client.get("/signed-in")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["type"] == "Unauthenticated"
    other_role = await client.get("/signed-in", headers=bearer("resident"))
    assert other_role.status_code == 403 and other_role.json()["error"]["type"] == "Forbidden"
    assert (await client.get("/signed-in", headers=bearer("auditor"))).status_code == 200


async def test_a_401_and_a_403_under_a_prefix_with_its_own_format_come_in_that_format(client):
    anonymous = await client.get(OWN + "signed-in.json")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    [error] = anonymous.json()
    assert error["code"] == 401 and error["description"].startswith("Authorization: sign in")
    forbidden = await client.get(OWN + "refused.json", headers=bearer("auditor"))
    assert forbidden.status_code == 403 and forbidden.json() == [
        {"code": 403, "description": "not here"}]


async def test_the_openapi_declares_the_error_body_not_fastapis(client):
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/as-number"]["get"]["responses"]
    assert {"200", "422", "503"} <= set(responses)
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize("data, field", [
    ({"name": "a\x00b"}, "name"),
    ({"items": [{"note": "ok"}, {"note": "\x00"}]}, "items.1.note"),
    ({"k\x00": 1}, "k\x00"),
])
def test_event_data_with_a_nul_is_refused_before_it_reaches_the_store(data, field):
    with pytest.raises(DomainError) as refused:
        NewEvent("test.thing.happened", data)
    assert refused.value.status == 422 and refused.value.field == field


def test_event_data_with_a_lone_surrogate_is_refused():
    with pytest.raises(DomainError):
        NewEvent("test.thing.happened", {"name": "\ud800"})
    assert NewEvent("test.thing.happened", {"name": "😀 \\u0000 literal"}).data_json


@pytest.mark.parametrize("value", ["a\x00b", "a\x07b", "a\rb", "a\x85b", "", "x" * 201])
def test_text_refuses_control_characters_and_overlong_values(value):
    with pytest.raises(ValidationError):
        TypeAdapter(Text).validate_python(value)


def test_text_keeps_tab_and_newline_and_codes_are_lowercase():
    assert TypeAdapter(Text).validate_python("一\t二\n三") == "一\t二\n三"
    with pytest.raises(ValidationError):
        TypeAdapter(Code).validate_python("Jianshelu")


def test_a_day_is_written_as_a_date_not_a_number():
    assert str(TypeAdapter(Day).validate_python("2026-11-25")) == "2026-11-25"
    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_python("0")
