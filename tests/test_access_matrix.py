"""Who may call what, generated from every service's OpenAPI document (`x-roles` on each
operation, published from the rule its endpoint declares: shared/auth.py).

For every operation of every registered service:
- it declares a rule (an endpoint without one fails here);
- signed-in operations answer 401 to no token, an expired token, a token signed by another
  key and a token for another audience;
- every role the operation does not name answers 403;
- every role it names is tried inside and outside its scope (the `SCOPED` table below, which
  must cover each such operation): 2xx inside, 403 outside, and lists hold nothing from
  outside the caller's scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from deploy.registry import services
from shared.access import Role
from shared.auth import declared_rules, publish_rules
from shared.service import create_service_app
from shared.tokens import generate_private_key
from tests.platform import bearer, draw_small_district, running, signer

SCOPE_OF = {"community": "s1.c1", "street": "s1", "grid": "s1.c1.g1", "subcentre": "sc1",
            "department": "civil_affairs", "owner": None, None: None}


def grant_text(role: Role) -> str:
    """A grant of `role` in the test district (scoped roles get a place of it)."""
    scope = SCOPE_OF[role.scope_kind]
    return f"{role}:{scope}" if scope else str(role)


def apps() -> dict[str, FastAPI]:
    return {name: create_service_app(spec) for name, spec in services().items()}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in app.openapi()["paths"].items()
            for method, op in ops.items()]


def undeclared(app: FastAPI) -> list[str]:
    """Routes in the API that declare no rule (shared/auth.py: allow, readable_by, public)."""
    return [f"{sorted(methods)} {path}" for path, methods, rules in declared_rules(app)
            if not rules]


def concrete(path: str) -> str:
    """The template with each `{param}` filled (`format` as json): rules are checked before
    anything is looked up, so any id will do."""
    return re.sub(r"\{(\w+)\}", lambda m: "json" if m[1] == "format" else "s1", path)


# ------------------------------------------------------------------ the rules are declared


@pytest.mark.parametrize("name", list(services()))
def test_every_endpoint_declares_who_may_call_it(name):
    app = apps()[name]
    assert undeclared(app) == []
    missing = [f"{m} {p}" for m, p, op in operations(app) if "x-roles" not in op]
    assert missing == []


def test_an_endpoint_without_a_rule_is_found():
    app = FastAPI()
    router = APIRouter()

    @router.get("/open-door")
    async def open_door() -> dict:
        return {}

    app.include_router(router)
    publish_rules(app, "http://issuer/auth/token")
    assert undeclared(app) == ["['GET'] /open-door"]
    assert "x-roles" not in app.openapi()["paths"]["/open-door"]["get"]


# ------------------------------------------------------------------ the rules are enforced


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(list(services()), database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao")) as platform:
        await draw_small_district(platform)
        yield platform


def signed_in_operations() -> list[tuple[str, str, str, list[str]]]:
    return [(name, method, path, op["x-roles"]) for name, app in apps().items()
            for method, path, op in operations(app) if op.get("x-roles")]


@pytest.mark.parametrize("name,method,path,roles", signed_in_operations(),
                         ids=lambda v: v if isinstance(v, str) else None)
async def test_no_valid_token_is_401_and_a_role_not_named_is_403(platform, name, method, path,
                                                                    roles):
    client = platform[name]
    for why, headers in bad_tokens().items():
        response = await client.request(method, concrete(path), headers=headers)
        assert response.status_code == 401, f"{why}: {response.status_code} {response.text}"
        assert response.headers["www-authenticate"].startswith("Bearer")
    for role in set(Role) - {Role(r) for r in roles}:
        response = await client.request(method, concrete(path), headers=bearer(grant_text(role)))
        assert response.status_code == 403, f"{role}: {response.status_code} {response.text}"


def bad_tokens() -> dict[str, dict[str, str]]:
    forged = signer(key=other_key())
    forged.kid = signer().kid  # claims to be signed by the issuer's key
    return {"no token": {}, "expired": bearer("auditor", minutes=-1),
            "signed by another key": {"Authorization": f"Bearer {forged.issue('u', ['auditor'])}"},
            "for another audience": bearer("auditor", audience="another-service")}


@cache
def other_key() -> str:
    return generate_private_key()


# -------------------------------------------------------------- inside and outside scope


@dataclass
class Case:
    """One operation tried by a grant inside its scope (expect `inside`) and one outside."""

    service: str
    method: str
    path: str  # concrete
    template: str  # as in the OpenAPI document
    inside: str
    outside: str | None  # None for district-wide roles: no outside
    body: Callable[[], dict[str, Any]] | None = None
    expect: int = 200
    # For a list: every item it returns to `inside` lies in the scope
    items_within: Callable[[dict[str, Any]], bool] | None = None
    setup: Callable[[Any], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def street(street_id: str) -> dict[str, Any]:
    return {"street_id": street_id, "name_zh": "街道", "name_en": "Street", "kind": "urban",
            "sourced": False}


SCOPED: list[Case] = [
    Case("grid", "POST", "/streets", "/streets", "civil_affairs", None,
         body=lambda: street("s9"), expect=201),
    Case("grid", "PUT", "/grids/s1.c1.g1/households", "/grids/{grid_id}/households",
         "street_office_staff:s1", "street_office_staff:s2",
         body=lambda: {"households": 360}),
]


def test_every_operation_a_scoped_or_district_role_may_call_is_tried():
    tried = {(c.service, c.method, c.template) for c in SCOPED}
    untried = [(n, m, p) for n, m, p, _ in signed_in_operations() if (n, m, p) not in tried]
    assert untried == [], "add a Case to SCOPED for each"


@pytest.mark.parametrize("case", SCOPED, ids=lambda c: f"{c.service} {c.method} {c.template}")
async def test_inside_its_scope_a_role_may_and_outside_it_is_403(platform, case):
    client = platform[case.service]
    if case.outside:
        response = await client.request(case.method, case.path, headers=bearer(case.outside),
                                        json=case.body() if case.body else None)
        assert response.status_code == 403, response.text
    response = await client.request(case.method, case.path, headers=bearer(case.inside),
                                    json=case.body() if case.body else None)
    assert response.status_code == case.expect, response.text
    if case.items_within:
        assert all(case.items_within(item) for item in response.json()["items"])
