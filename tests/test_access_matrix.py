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

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from deploy.registry import services
from services.grid.domain import Grid
from shared.access import Role
from shared.auth import declared_rules, publish_rules
from shared.envelope import Actor
from shared.service import create_service_app
from tests.case_board import reported
from tests.case_stories import Story, append, named
from tests.platform import (
    bearer,
    forged,
    proposal,
    small_district,
)

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
    async with small_district(list(services()), database_url, kafka_bootstrap,
                              tmp_path_factory.mktemp("jiedao"), MATTER) as platform:
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
    return {"no token": {}, "expired": bearer("auditor", minutes=-1),
            "signed by another key": {"Authorization": f"Bearer {forged('auditor')}"},
            "for another audience": bearer("auditor", audience="another-service")}


# -------------------------------------------------------------- inside and outside scope
#
# Each Case makes a fresh request (a new street, an application in the state the step needs)
# for every grant it tries: `inside` grants get their expected status, `outside` ones (roles the
# operation names, granted somewhere else) 403. A grant `role:scope@user` acts as `user`.

MATTER = "cm.residence_certificate"
IN = {"s1.c1": {"lon": 104.105, "lat": 30.605}, "s1.c2": {"lon": 104.115, "lat": 30.605}}
ID_NUMBER = "510108198001011234"
CLERK, STAFF, RESIDENT = "front_desk_clerk:s1.c1", "street_service_staff:s1", "resident@res-1"
ELSEWHERE = ["front_desk_clerk:s1.c2", "street_service_staff:s2"]


def as_(grant: str) -> dict[str, str]:
    text, _, user = grant.partition("@")
    return bearer(text, user=user or text.replace(":", "-"))


class Ctx:
    """Makes what a case acts on, through the APIs, as those allowed to."""

    made = itertools.count(1)  # ids stay fresh across cases (one platform for the module)

    def __init__(self, platform) -> None:
        self.platform, self.n = platform, 0

    def fresh(self, prefix: str) -> str:
        self.n = next(self.made)
        return f"{prefix}{self.n}"

    async def call(self, service: str, grant: str, method: str, path: str,
                   json: dict | None = None) -> dict:
        response = await self.platform[service].request(method, path, json=json,
                                                        headers=as_(grant))
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def application(self, state: str = "filed", by: str = CLERK) -> str:
        materials = ["id_card"] if state == "returned" else ["id_card", "household_register"]
        filed = await self.call("intake", by, "POST", "/applications", {
            "matter_code": MATTER, "community_id": "s1.c1", "address": "1号",
            "applicant": {"name": "张秀英", "id_number": ID_NUMBER}, "location": IN["s1.c1"],
            "materials": materials})
        app = filed["application_id"]
        if state == "returned":
            await self.call("intake", CLERK, "POST", f"/applications/{app}/return",
                            {"missing": ["household_register"]})
        if state == "accepted":
            await self.call("intake", CLERK, "POST", f"/applications/{app}/acceptance", {})
        return app

    async def proposal(self, reviewed: bool = False) -> str:
        code = self.fresh("cm.matrix")
        await self.call("intake", "district_department:civil_affairs", "POST",
                        "/catalogue/proposals", proposal(code))
        if reviewed:
            await self.call("intake", "district_department:legal_affairs", "POST",
                            f"/catalogue/{code}/reviews",
                            {"department": "legal_affairs", "verdict": "approve"})
        return code

    async def violation(self, state: str = "recorded") -> str:
        """A violation in street s1, recorded by its officer and taken to `state`."""
        recorded = await self.call("enforcement", OFFICER, "POST", "/violations", VIOLATION)
        violation = recorded["violation_id"]
        steps = {"decided": [("decision", {"decision": "warning"})],
                 "ordered": [("decision", {"decision": "rectification_order"})],
                 "reported": [("decision", {"decision": "rectification_order"}),
                              ("rectification", {})]}
        for step, body in steps.get(state, []):
            await self.call("enforcement", OFFICER, "POST", f"/violations/{violation}/{step}",
                            body)
        return violation

    async def overdue_case(self) -> str:
        """An overdue case in s1.c1.g1 reported by res-1, appended as the back desk would,
        once the grid's read model shows it (one per Case: reads change nothing)."""
        if not hasattr(self, "case_id"):
            self.case_id = self.fresh("cm")
            events = named(Story(self.case_id, 0, 0, 0, reporter="res-1"), "dispatch",
                           "accept", "overdue")
            await append(self.platform.apps["grid"].state.store, events)
            await self.platform.eventually("grid", f"/cases/{self.case_id}", lambda c: True)
        return self.case_id

    async def member(self) -> str:
        member = self.fresh("m")
        await self.call("grid", "civil_affairs", "POST", "/grids/s1.c1.g1/members",
                        {"member_id": member, "name": "许欣然", "role": "coordinator"})
        return member

    async def case(self, state: str = "dispatched") -> str:
        """A case reported by resident res-1 in grid s1.c1.g1, taken to `state`."""
        grid = self.platform.apps["grid"].state
        if not (await grid.repository.load(Grid("s1.c1.g1"))).managers:
            await self.call("grid", "civil_affairs", "PUT", "/grids/s1.c1.g1/manager",
                            {"member_id": await self.member()})
        case_id = self.fresh("case")
        await grid.case_desk.open_from_report(reported(case_id, Actor(RESIDENT_ID, "resident")))
        steps = {"handling": ["accept"], "resolved": ["accept", "resolve"],
                 "closed": ["accept", "resolve", "verify"], "sent_back": ["send-back"]}
        for step in steps.get(state, []):
            await self.call("grid", MANAGER, "POST", f"/cases/{case_id}/{step}",
                            CASE_STEP_BODIES.get(step, {}))
        return case_id

    async def handler_of(self, case_id: str) -> str:
        stream = await self.platform.apps["grid"].state.store.read_stream(f"case-{case_id}")
        return stream[-1].data["handler_id"]


Request = Callable[[Ctx], Awaitable[tuple[str, dict[str, Any] | None]]]


@dataclass
class Case:
    service: str
    method: str
    template: str  # the operation, as in the OpenAPI document
    request: Request  # the path and body to send, made afresh for each grant tried
    inside: dict[str, int]  # grant -> the status it gets
    outside: list[str] = field(default_factory=list)  # grants that get 403
    # Whether an answer to `grant` holds only what its scope covers (lists, personal data)
    shows_only_its_scope: Callable[[str, dict[str, Any]], bool] | None = None


def at(path: str, body: dict[str, Any] | None = None) -> Request:
    async def request(_: Ctx) -> tuple[str, dict[str, Any] | None]:
        return path, body
    return request


def fresh_body(path: str, make: Callable[[Ctx], dict[str, Any]]) -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return path, make(ctx)
    return request


def on_application(step: str, state: str, body: dict[str, Any] | None = None,
                   by: str = CLERK) -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return f"/applications/{await ctx.application(state, by)}{step}", body
    return request


def on_proposal(step: str, body: dict[str, Any], reviewed: bool = False) -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return f"/catalogue/{await ctx.proposal(reviewed)}{step}", body
    return request


def on_violation(step: str, state: str, body: dict[str, Any] | None = None) -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return f"/violations/{await ctx.violation(state)}{step}", body
    return request


def after_violation(path: str) -> Request:
    """`path`, once a violation of street s1 exists (lists have something to show)."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        await ctx.violation()
        return path, None
    return request


def after_case(path: str = "/cases/{}") -> Request:
    """`path` once a case is in the read model (`{}`: its id)."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return path.format(await ctx.overdue_case()), None
    return request


def new_manager() -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return "/grids/s1.c1.g1/manager", {"member_id": await ctx.member()}
    return request


def on_case(step: str, state: str, body: dict[str, Any] | None = None) -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return f"/cases/{await ctx.case(state)}/{step}", body or {}
    return request


def case_dispatch() -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        case_id = await ctx.case()
        return f"/cases/{case_id}/dispatch", {"handler_id": await ctx.handler_of(case_id)}
    return request


def case_merge() -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        master = await ctx.case()
        return f"/cases/{await ctx.case()}/merge", {"master_id": master}
    return request


def added_manager() -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        return "/grids/s1.c1.g1/managers", {"member_id": await ctx.member()}
    return request


def case_body(source: str) -> dict[str, Any]:
    return {"source": source, "category": "problem.streetscape", "description": "暴露垃圾",
            "location": IN["s1.c1"], "address": "1号", "photos": []}


MANAGER, MEMBER = "grid_manager:s1.c1.g1", "grid_member:s1.c1.g1"
OFFICE, OFFICE_ELSEWHERE = "street_office_staff:s1", "street_office_staff:s2"
RESIDENT_ID = "res-1"
CASE_STEP_BODIES = {"resolve": {"result": "清理完毕"}, "send-back": {"reason": "wrong_grid"},
                    "verify": {"passed": True, "by": "grid", "satisfaction": 5}}
GRID_ELSEWHERE = ["grid_manager:s1.c2.g1"]

PASSWORD = {"password": "correct horse battery staple"}


def on_user(step: str, body: dict[str, Any] | None = None, *, granted: str | None = None,
            disabled: bool = False) -> Request:
    """A new user (with a grant, or disabled) for each try."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        user = ctx.fresh("matrix-user")
        await ctx.call("accounts", "administrator", "POST", "/users",
                       {"username": user, "name": "用户", **PASSWORD})
        if granted:
            await ctx.call("accounts", "administrator", "POST", f"/users/{user}/grants",
                           {"grant": granted})
        if disabled:
            await ctx.call("accounts", "administrator", "POST", f"/users/{user}/disable")
        return f"/users/{user}{step}", body
    return request


def on_api_key() -> Request:
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        issued = await ctx.call("accounts", "administrator", "POST", "/api-keys",
                                {"client_name": "matrix"})
        return f"/api-keys/{issued['key_id']}", None
    return request


def no_password_hashes(_: str, answer: dict[str, Any]) -> bool:
    text = str(answer)
    return "argon2" not in text and "password" not in text and "key_hash" not in text


OFFICER, OFFICE = "enforcement_officer:s1", "street_office_staff:s1"
ENFORCERS_ELSEWHERE = ["enforcement_officer:s2", "street_office_staff:s2"]
STREET_READERS = {OFFICER: 200, OFFICE: 200, "auditor": 200}
VIOLATION = {"street_id": "s1", "type": "ps.noise_nuisance", "location": IN["s1.c1"],
             "address": "1号", "source": "patrol",
             "offender": {"kind": "person", "name": "张三", "id_number": ID_NUMBER}}
EVERY_ROLE = {grant_text(role): 200 for role in Role}
KEEPERS = ("civil_affairs", "street_office_staff", "grid_member", "grid_manager", "auditor")
READERS = {CLERK: 200, STAFF: 200, "auditor": 200}


def members_only_for_keepers(grant: str, grid: dict[str, Any]) -> bool:
    keeps_it = grant.startswith(KEEPERS) and not grant.endswith("s1.c2.g1")
    return ("members" in grid) == keeps_it


def items_of_s1_c1(grant: str, page: dict[str, Any]) -> bool:
    """A list holds only what the grant covers; ID numbers clear only for the station."""
    if grant.startswith("front_desk_clerk"):
        ok = all(i["community_id"] == "s1.c1" for i in page["items"])
    elif grant.startswith("street_service_staff"):
        ok = all(i["street_id"] == "s1" for i in page["items"])
    elif grant.startswith("resident"):
        ok = all(i.get("filed_by") == grant.partition("@")[2] for i in page["items"])
    else:
        ok = True
    clear = not grant.startswith("auditor")
    return ok and all((i.get("applicant_id_number") == ID_NUMBER) == clear
                      for i in page["items"] if "applicant_id_number" in i)


def clear_only_for_its_people(grant: str, app: dict[str, Any]) -> bool:
    return (app["applicant_id_number"] == ID_NUMBER) == (not grant.startswith("auditor"))


def violations_of_s1(grant: str, page: dict[str, Any]) -> bool:
    """A list holds only the grant's street; ID numbers clear only for its officers."""
    street = grant.partition(":")[2] or None
    ok = street is None or all(i["street_id"] == street for i in page["items"])
    clear = grant == OFFICER
    return ok and all((i.get("offender_id_number") == ID_NUMBER) == clear
                      for i in page["items"] if i.get("offender_id_number"))


def violation_clear_for_its_officers(grant: str, violation: dict[str, Any]) -> bool:
    return (violation["offender_id_number"] == ID_NUMBER) == (grant == OFFICER)


SCORE_READERS = {"district_government": 200, "auditor": 200, "street_office_staff:s1": 200,
                 "street_office_staff:s2": 200, "investment_staff:s1": 200,
                 "investment_staff:sc1": 200}


def events_of_its_own_street(grant: str, explanation: dict[str, Any]) -> bool:
    """District roles and the unit's own street see its events; other streets' staff not."""
    own = grant in ("district_government", "auditor", "street_office_staff:s1",
                    "investment_staff:s1")
    return explanation["events_hidden"] == (not own)


async def fresh_period_close(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
    return f"/periods/{2100 + next(ctx.made)}/close", None


CASE_KEEPERS = {"grid_member:s1.c1.g1": 200, "grid_manager:s1.c1.g1": 200, CLERK: 200,
                STAFF: 200, "street_office_staff:s1": 200, "district_government": 200,
                "auditor": 200}
CASE_KEEPERS_ELSEWHERE = ["grid_member:s1.c2.g1", "grid_manager:s1.c2.g1",
                          "front_desk_clerk:s1.c2", "street_service_staff:s2",
                          "street_office_staff:s2"]
CASE_LIST_READERS = CASE_KEEPERS | dict.fromkeys(CASE_KEEPERS_ELSEWHERE, 200)
KIND_COLUMN = {"grid": "grid_id", "community": "community_id", "street": "street_id"}


def within_grant(grant: str, item: dict[str, Any]) -> bool:
    role, _, scope = grant.partition("@")[0].partition(":")
    column = KIND_COLUMN.get(Role(role).scope_kind or "")
    return column is None or item[column] == scope


def cases_in_scope(grant: str, page: dict[str, Any]) -> bool:
    return all(within_grant(grant, item) for item in page["items"])


def features_in_scope(grant: str, collection: dict[str, Any]) -> bool:
    return all(within_grant(grant, f["properties"]) for f in collection["features"])


def street(street_id: str) -> dict[str, Any]:
    return {"street_id": street_id, "name_zh": "街道", "name_en": "Street", "kind": "urban",
            "sourced": False}


def square(lon: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, 30.7], [lon + 0.001, 30.7],
                                                [lon + 0.001, 30.701], [lon, 30.701],
                                                [lon, 30.7]]]}


GOVERNMENT, INVESTMENT, INVESTMENT_ELSEWHERE = ("district_government", "investment_staff:s1",
                                              "investment_staff:s2")
TODAY = str(date.today())  # the machine's (UTC) day is never after the district's
SCHEME = {"kind": "street_office", "name_zh": "考核方案", "name_en": "Scheme", "indicators": [
    {"indicator": "case_closure_rate", "weight": 100, "rule": {"kind": "linear", "floor": 0.5},
     "default_target": 0.9}]}
PROJECT = {"street_id": "s1", "name": "产业园", "investor": "某公司", "amount_wan": 1000,
           "signed_on": TODAY}
VISIT = {"street_id": "s1", "enterprise": "某公司", "purpose": "走访", "visited_on": TODAY}
ASSESSMENT_READERS = {GOVERNMENT: 200, "district_department:civil_affairs": 200, OFFICE: 200,
                      INVESTMENT: 200, "auditor": 200}
RECORD_READERS = {GOVERNMENT: 200, OFFICE: 200, INVESTMENT: 200, "auditor": 200}
RECORD_READERS_ELSEWHERE = [OFFICE_ELSEWHERE, INVESTMENT_ELSEWHERE]


def on_scheme(step: str) -> Request:
    """A scheme freshly drafted by the district government."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        drafted = await ctx.call("assessment", GOVERNMENT, "POST", "/schemes", SCHEME)
        return f"/schemes/{drafted['scheme_id']}{step}", None
    return request


def on_project(step: str, state: str, body: dict[str, Any] | None = None) -> Request:
    """A project of street s1 signed by its sub-centre (and started, for `started`)."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        signed = await ctx.call("assessment", INVESTMENT, "POST", "/projects", PROJECT)
        project = signed["project_id"]
        if state == "started":
            await ctx.call("assessment", INVESTMENT, "POST", f"/projects/{project}/start",
                           {"started_on": TODAY})
        return f"/projects/{project}{step}", body
    return request


def after_records(path: str) -> Request:
    """`path` once street s1's sub-centre has a project and a visit in the read model."""
    async def request(ctx: Ctx) -> tuple[str, dict[str, Any] | None]:
        project = await ctx.call("assessment", INVESTMENT, "POST", "/projects", PROJECT)
        visit = await ctx.call("assessment", INVESTMENT, "POST", "/visits", VISIT)
        tokens = [project["consistency_token"], visit["consistency_token"]]
        return f"{path}?after={tokens[0]}&after={tokens[1]}", None
    return request


def records_of_the_grant_s_street(grant: str, page: dict[str, Any]) -> bool:
    """A list holds only the grant's street (everything for district-wide grants)."""
    street = grant.partition(":")[2] or None
    return street is None or all(i["street_id"] == street for i in page["items"])


SCOPED: list[Case] = [
    # grid: the territory is civil affairs'; a street office keeps its own grids
    Case("grid", "POST", "/streets", fresh_body("/streets", lambda c: street(c.fresh("st"))),
         {"civil_affairs": 201}),
    Case("grid", "POST", "/communities", fresh_body("/communities", lambda c: {
        "community_id": c.fresh("s1.cx"), "street_id": "s1", "name_zh": "社区",
        "name_en": "Community", "sourced": False}), {"civil_affairs": 201}),
    Case("grid", "POST", "/grids", fresh_body("/grids", lambda c: {
        "grid_id": c.fresh("s1.c1.gx"), "community_id": "s1.c1", "name_zh": "网格",
        "name_en": "Grid", "households": 320, "boundary": square(104.2 + c.n / 100),
        "illustrative": True}), {"civil_affairs": 201}),
    Case("grid", "PUT", "/grids/{grid_id}/households",
         at("/grids/s1.c1.g1/households", {"households": 360}),
         {"civil_affairs": 200, "street_office_staff:s1": 200}, ["street_office_staff:s2"]),
    Case("grid", "POST", "/grids/{grid_id}/members",
         fresh_body("/grids/s1.c1.g1/members", lambda c: {
             "member_id": c.fresh("m"), "name": "许欣然", "role": "student_volunteer"}),
         {"civil_affairs": 201, "street_office_staff:s1": 201}, ["street_office_staff:s2"]),
    Case("grid", "PUT", "/grids/{grid_id}/manager", new_manager(),
         {"civil_affairs": 200, "street_office_staff:s1": 200}, ["street_office_staff:s2"]),
    Case("grid", "POST", "/grids/{grid_id}/managers", added_manager(),
         {"civil_affairs": 201, OFFICE: 201}, [OFFICE_ELSEWHERE]),
    # grid: the back desk's cases
    Case("grid", "POST", "/cases", at("/cases", case_body("patrol")),
         {MEMBER: 201, MANAGER: 201}, ["grid_member:s1.c2.g1", *GRID_ELSEWHERE]),
    Case("grid", "POST", "/cases", at("/cases", case_body("complaint")),
         {CLERK: 201, STAFF: 201, OFFICE: 201}, [*ELSEWHERE, OFFICE_ELSEWHERE]),
    Case("grid", "POST", "/cases/{case_id}/dispatch", case_dispatch(), {OFFICE: 200},
         [OFFICE_ELSEWHERE]),
    Case("grid", "POST", "/cases/{case_id}/accept", on_case("accept", "dispatched"),
         {MANAGER: 200}, GRID_ELSEWHERE),
    Case("grid", "POST", "/cases/{case_id}/progress",
         on_case("progress", "handling", {"note": "到场"}), {MANAGER: 200}, GRID_ELSEWHERE),
    Case("grid", "POST", "/cases/{case_id}/resolve",
         on_case("resolve", "handling", {"result": "清理完毕"}), {MANAGER: 200}, GRID_ELSEWHERE),
    Case("grid", "POST", "/cases/{case_id}/send-back",
         on_case("send-back", "dispatched", {"reason": "not_our_matter"}), {MANAGER: 200},
         GRID_ELSEWHERE),
    Case("grid", "POST", "/cases/{case_id}/ruling",
         on_case("ruling", "sent_back", {"upheld": False}), {OFFICE: 200}, [OFFICE_ELSEWHERE]),
    Case("grid", "POST", "/cases/{case_id}/refer",
         on_case("refer", "dispatched", {"domain": "city_management",
                                         "violation_hint": "占道经营"}),
         {MEMBER: 200, MANAGER: 200, OFFICE: 200},
         ["grid_member:s1.c2.g1", *GRID_ELSEWHERE, OFFICE_ELSEWHERE]),
    Case("grid", "POST", "/cases/{case_id}/verify",
         on_case("verify", "resolved", {"passed": True, "by": "resident", "satisfaction": 4}),
         {MEMBER: 200, MANAGER: 200, OFFICE: 200, RESIDENT: 200},
         ["grid_member:s1.c2.g1", *GRID_ELSEWHERE, OFFICE_ELSEWHERE, "resident@res-2"]),
    Case("grid", "POST", "/cases/{case_id}/reopen",
         on_case("reopen", "closed", {"reason": "没修好"}),
         {CLERK: 200, OFFICE: 200, RESIDENT: 200},
         ["front_desk_clerk:s1.c2", OFFICE_ELSEWHERE, "resident@res-2"]),
    Case("grid", "POST", "/cases/{case_id}/return-visit",
         on_case("return-visit", "closed", {"satisfaction": 5, "comment": "满意"}),
         {CLERK: 200, STAFF: 200, OFFICE: 200, RESIDENT: 200},
         [*ELSEWHERE, OFFICE_ELSEWHERE, "resident@res-2"]),
    Case("grid", "POST", "/cases/{case_id}/postpone",
         on_case("postpone", "dispatched", {"deadline": "2030-01-01T09:00:00+08:00",
                                            "reason": "等配件"}), {OFFICE: 200},
         [OFFICE_ELSEWHERE]),
    Case("grid", "POST", "/cases/{case_id}/merge", case_merge(), {OFFICE: 200},
         [OFFICE_ELSEWHERE]),
    Case("grid", "GET", "/territory/streets", at("/territory/streets"), EVERY_ROLE),
    Case("grid", "GET", "/territory/streets/{street_id}", at("/territory/streets/s1"),
         EVERY_ROLE),
    Case("grid", "GET", "/territory/communities/{community_id}",
         at("/territory/communities/s1.c1"), EVERY_ROLE),
    Case("grid", "GET", "/territory/grids/{grid_id}", at("/territory/grids/s1.c1.g1"),
         EVERY_ROLE | {"grid_member:s1.c2.g1": 200},
         shows_only_its_scope=members_only_for_keepers),
    Case("grid", "GET", "/territory/locate", at("/territory/locate?lon=104.105&lat=30.605"),
         EVERY_ROLE),
    # grid: the back desk's reads
    Case("grid", "GET", "/cases/{case_id}", after_case(),
         CASE_KEEPERS | {RESIDENT: 200},
         [*CASE_KEEPERS_ELSEWHERE, "resident@res-2"]),
    Case("grid", "GET", "/grids/{grid_id}/board", after_case("/grids/s1.c1.g1/board"),
         CASE_KEEPERS, CASE_KEEPERS_ELSEWHERE),
    Case("grid", "GET", "/streets/{street_id}/overview", after_case("/streets/s1/overview"),
         {STAFF: 200, "street_office_staff:s1": 200, "district_government": 200,
          "auditor": 200}, ["street_service_staff:s2", "street_office_staff:s2"]),
    Case("grid", "GET", "/indicators",
         after_case("/indicators?level=grid&id=s1.c1.g1&from=2026-01-01&to=2026-12-31"),
         CASE_KEEPERS, CASE_KEEPERS_ELSEWHERE),
    *[Case("grid", "GET", path, after_case(path), CASE_LIST_READERS,
           shows_only_its_scope=cases_in_scope)
      for path in ("/cases/overdue", "/cases/escalated")],
    Case("grid", "GET", "/cases/workload", after_case("/cases/workload"), CASE_LIST_READERS),
    Case("grid", "GET", "/cases/export", after_case("/cases/export?format=csv"),
         CASE_LIST_READERS),
    Case("grid", "GET", "/map/cases.geojson", after_case("/map/cases.geojson"),
         CASE_LIST_READERS, shows_only_its_scope=features_in_scope),
    Case("grid", "GET", "/map/grids.geojson", at("/map/grids.geojson"), EVERY_ROLE),
    # intake: the admission procedure
    Case("intake", "POST", "/catalogue/proposals",
         fresh_body("/catalogue/proposals", lambda c: proposal(c.fresh("cm.new"))),
         {"district_department:civil_affairs": 201}, ["district_department:legal_affairs"]),
    Case("intake", "POST", "/catalogue/{matter_code}/reviews",
         on_proposal("/reviews", {"department": "legal_affairs", "verdict": "approve"}),
         {"district_department:legal_affairs": 201}, ["district_department:health"]),
    Case("intake", "POST", "/catalogue/{matter_code}/decision",
         on_proposal("/decision", {"decision": "approve"}, reviewed=True),
         {"district_government": 201}),
    Case("intake", "GET", "/catalogue/{matter_code}/history", at(f"/catalogue/{MATTER}/history"),
         {"district_department:civil_affairs": 200, "district_government": 200,
          "auditor": 200}),
    # intake: the front desk
    Case("intake", "POST", "/applications", fresh_body("/applications", lambda c: {
            "matter_code": MATTER, "community_id": "s1.c1", "address": "1号",
            "applicant": {"name": "张秀英", "id_number": ID_NUMBER}, "location": IN["s1.c1"],
            "materials": ["id_card"]}),
         {CLERK: 201, STAFF: 201, RESIDENT: 201}, ELSEWHERE),
    Case("intake", "POST", "/applications/{application_id}/return",
         on_application("/return", "filed", {"missing": ["household_register"]}),
         {CLERK: 200, STAFF: 200}, ELSEWHERE),
    Case("intake", "POST", "/applications/{application_id}/materials",
         on_application("/materials", "returned", {"materials": ["household_register"]},
                        by=RESIDENT),
         {CLERK: 200, STAFF: 200, RESIDENT: 200}, [*ELSEWHERE, "resident@res-2"]),
    Case("intake", "POST", "/applications/{application_id}/acceptance",
         on_application("/acceptance", "filed", {}), {CLERK: 200, STAFF: 200}, ELSEWHERE),
    Case("intake", "POST", "/applications/{application_id}/completion",
         on_application("/completion", "accepted", {"result": "证明已开具"}),
         {CLERK: 200, STAFF: 200}, ELSEWHERE),
    Case("intake", "POST", "/applications/{application_id}/refusal",
         on_application("/refusal", "filed", {"reason": "不符合条件"}),
         {CLERK: 200, STAFF: 200}, ELSEWHERE),
    Case("intake", "POST", "/consultations", at("/consultations", {
        "community_id": "s1.c1", "topic": "居住证明怎么办", "answer": "请携带身份证",
        "answered_by": "窗口"}), {CLERK: 201, STAFF: 201}, ELSEWHERE),
    Case("intake", "GET", "/applications", at("/applications"),
         {**READERS, RESIDENT: 200, "front_desk_clerk:s1.c2": 200},
         shows_only_its_scope=items_of_s1_c1),
    Case("intake", "GET", "/applications/{application_id}",
         on_application("", "filed", by=RESIDENT), {**READERS, RESIDENT: 200},
         [*ELSEWHERE, "resident@res-2"], shows_only_its_scope=clear_only_for_its_people),
    Case("intake", "GET", "/stations/{community_id}/queue", at("/stations/s1.c1/queue"),
         READERS, ELSEWHERE),
    Case("intake", "GET", "/consultations", at("/consultations"),
         {**READERS, "front_desk_clerk:s1.c2": 200}, shows_only_its_scope=items_of_s1_c1),
    # accounts: the administrator's (and the auditor reads)
    Case("accounts", "POST", "/users", fresh_body("/users", lambda c: {
        "username": c.fresh("matrix-user"), "name": "用户", **PASSWORD}), {"administrator": 201}),
    Case("accounts", "POST", "/users/{username}/grants", on_user("/grants", {"grant": "auditor"}),
         {"administrator": 200}),
    Case("accounts", "DELETE", "/users/{username}/grants/{grant}",
         on_user("/grants/auditor", granted="auditor"), {"administrator": 200}),
    Case("accounts", "PUT", "/users/{username}/password", on_user("/password", PASSWORD),
         {"administrator": 200}),
    Case("accounts", "POST", "/users/{username}/disable", on_user("/disable"),
         {"administrator": 200}),
    Case("accounts", "POST", "/users/{username}/enable", on_user("/enable", disabled=True),
         {"administrator": 200}),
    Case("accounts", "GET", "/users", at("/users"), {"administrator": 200, "auditor": 200},
         shows_only_its_scope=no_password_hashes),
    Case("accounts", "GET", "/users/{username}", on_user(""),
         {"administrator": 200, "auditor": 200}, shows_only_its_scope=no_password_hashes),
    Case("accounts", "POST", "/api-keys", at("/api-keys", {"client_name": "matrix"}),
         {"administrator": 201}),
    Case("accounts", "DELETE", "/api-keys/{key_id}", on_api_key(), {"administrator": 200}),
    Case("accounts", "GET", "/api-keys", at("/api-keys"), {"administrator": 200, "auditor": 200},
         shows_only_its_scope=no_password_hashes),
    # enforcement: the street office enrols its team; the team's officers work violations
    Case("enforcement", "POST", "/teams/{street_id}/officers",
         fresh_body("/teams/s1/officers", lambda c: {
             "officer_id": c.fresh("officer"), "name": "王警官", "force": "traffic_order"}),
         {OFFICE: 201}, ["street_office_staff:s2"]),
    Case("enforcement", "POST", "/teams/{street_id}/activities",
         at("/teams/s1/activities", {"kind": "joint_operation", "summary": "联合执法",
                                     "at": "2026-11-25T10:00:00+08:00"}),
         {OFFICER: 201}, ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations", at("/violations", VIOLATION), {OFFICER: 201},
         ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations/{violation_id}/decision",
         on_violation("/decision", "recorded", {"decision": "fine", "amount": 300}),
         {OFFICER: 200}, ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations/{violation_id}/dismissal",
         on_violation("/dismissal", "recorded", {"reason": "不构成违法"}), {OFFICER: 200},
         ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations/{violation_id}/rectification",
         on_violation("/rectification", "ordered", {}), {OFFICER: 200},
         ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations/{violation_id}/verification",
         on_violation("/verification", "reported", {"passed": True}), {OFFICER: 200},
         ["enforcement_officer:s2"]),
    Case("enforcement", "POST", "/violations/{violation_id}/closure",
         on_violation("/closure", "decided", {}), {OFFICER: 200}, ["enforcement_officer:s2"]),
    Case("enforcement", "GET", "/teams/{street_id}", at("/teams/s1"), STREET_READERS,
         ENFORCERS_ELSEWHERE),
    Case("enforcement", "GET", "/teams/{street_id}/activities", at("/teams/s1/activities"),
         STREET_READERS, ENFORCERS_ELSEWHERE),
    Case("enforcement", "GET", "/violations", after_violation("/violations"),
         {**STREET_READERS, **dict.fromkeys(ENFORCERS_ELSEWHERE, 200)},
         shows_only_its_scope=violations_of_s1),
    Case("enforcement", "GET", "/violations/export", at("/violations/export"),
         {**STREET_READERS, **dict.fromkeys(ENFORCERS_ELSEWHERE, 200)}),
    Case("enforcement", "GET", "/violations/{violation_id}", on_violation("", "recorded"),
         STREET_READERS, ENFORCERS_ELSEWHERE,
         shows_only_its_scope=violation_clear_for_its_officers),
    *[Case("enforcement", "GET", path, at(path),
           {**STREET_READERS, **dict.fromkeys(ENFORCERS_ELSEWHERE, 200)},
           shows_only_its_scope=violations_of_s1)
      for path in ("/hotspots", "/indicators", "/repeat-offenders")],
    # assessment scores: published inside the district; a unit's events for its own street
    Case("assessment", "GET", "/rankings", at("/rankings?period=2026-11"),
         {**SCORE_READERS, "district_department:civil_affairs": 200}),
    *[Case("assessment", "GET", template, at(path), SCORE_READERS)
      for template, path in (("/units/{unit_id}/scores", "/units/office-s1/scores?period=2026"),
                             ("/scores/export", "/scores/export?period=2026-Q4"),
                             ("/targets-met", "/targets-met?period=2026-11"))],
    Case("assessment", "GET", "/units/{unit_id}/indicators/{indicator}/explanation",
         at("/units/office-s1/indicators/case_closure_rate/explanation?period=2026-11"),
         SCORE_READERS, shows_only_its_scope=events_of_its_own_street),
    Case("assessment", "POST", "/periods/{period}/close",
         fresh_period_close, {"district_government": 200}),
    # assessment: the district government's schemes and targets; the sub-centres' records
    Case("assessment", "POST", "/schemes", at("/schemes", SCHEME), {GOVERNMENT: 201}),
    Case("assessment", "POST", "/schemes/{scheme_id}/approve", on_scheme("/approve"),
         {GOVERNMENT: 200}),
    Case("assessment", "PUT", "/units/{unit_id}/targets/{indicator}/{period}",
         at("/units/office-s1/targets/case_closure_rate/2026-11", {"target": 0.9}),
         {GOVERNMENT: 200}),
    Case("assessment", "POST", "/projects", at("/projects", PROJECT), {INVESTMENT: 201},
         [INVESTMENT_ELSEWHERE]),
    Case("assessment", "POST", "/projects/{project_id}/start",
         on_project("/start", "signed", {"started_on": TODAY}), {INVESTMENT: 200},
         [INVESTMENT_ELSEWHERE]),
    Case("assessment", "POST", "/projects/{project_id}/complete",
         on_project("/complete", "started", {"fixed_asset_investment_wan": 500,
                                             "completed_on": TODAY}),
         {INVESTMENT: 200}, [INVESTMENT_ELSEWHERE]),
    Case("assessment", "POST", "/visits", at("/visits", VISIT), {INVESTMENT: 201},
         [INVESTMENT_ELSEWHERE]),
    *[Case("assessment", "GET", path, at(path), ASSESSMENT_READERS)
      for path in ("/schemes", "/targets", "/units")],
    Case("assessment", "GET", "/schemes/{scheme_id}", on_scheme(""), ASSESSMENT_READERS),
    *[Case("assessment", "GET", path, after_records(path),
           {**RECORD_READERS, **dict.fromkeys(RECORD_READERS_ELSEWHERE, 200)},
           shows_only_its_scope=records_of_the_grant_s_street)
      for path in ("/projects", "/visits")],
    Case("assessment", "GET", "/projects/{project_id}", on_project("", "signed"),
         RECORD_READERS, RECORD_READERS_ELSEWHERE),
    *[Case(name, "GET", "/operations/deadletters", at("/operations/deadletters"),
           {"administrator": 200, "auditor": 200}) for name in services()],
]


def test_every_role_an_operation_names_is_tried_inside_and_outside_its_scope():
    tried: dict[tuple[str, str, str], set[str]] = {}
    for case in SCOPED:  # an operation may have several cases (e.g. a body per kind of caller)
        grants = [*case.inside, *case.outside]
        tried.setdefault((case.service, case.method, case.template), set()).update(
            g.partition("@")[0].partition(":")[0] for g in grants)
    untried = [(n, m, p, sorted(set(roles) - tried.get((n, m, p), set())))
               for n, m, p, roles in signed_in_operations()
               if set(roles) - tried.get((n, m, p), set())]
    assert untried == [], "add the grants to a Case in SCOPED"


@pytest.mark.parametrize("case", SCOPED, ids=lambda c: f"{c.service} {c.method} {c.template}")
async def test_inside_its_scope_a_role_may_and_outside_it_is_403(platform, case):
    ctx = Ctx(platform)
    client = platform[case.service]
    for grant in case.outside:
        path, body = await case.request(ctx)
        response = await client.request(case.method, path, headers=as_(grant), json=body)
        assert response.status_code == 403, f"{grant}: {response.text}"
    for grant, expected in case.inside.items():
        path, body = await case.request(ctx)
        response = await client.request(case.method, path, headers=as_(grant), json=body)
        assert response.status_code == expected, f"{grant}: {response.text}"
        if case.shows_only_its_scope:
            assert case.shows_only_its_scope(grant, response.json()), f"{grant}: {response.text}"
