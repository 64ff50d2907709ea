"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the front desk.

Services are the catalogue's admitted matters (filing one is an application at a community
service station) and the problem types of `problem_types` (reporting one is a problem report
that lands in a grid). Requests are filed synchronously, so every service is `realtime`: the
response carries the service_request_id, and a token is simply that id. One jurisdiction is
served, so `jurisdiction_id` is accepted and ignored. Representations and error mapping live
in `open311_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from services.intake import case_replica, handlers
from services.intake.api import IntakeDep
from services.intake.case_replica import CaseReplica, reported
from services.intake.catalogue import Matter
from services.intake.commands import FileApplication, Location
from services.intake.front_desk import Application
from services.intake.handlers import Authorize, Intake
from services.intake.open311_form import FORM_BODY, REPORTER, Form, check_api_key, parse_form
from services.intake.open311_format import (
    CLOSED,
    OPEN,
    XML_OR_JSON,
    Open311Error,
    Open311Route,
    application_attributes,
    application_notice,
    application_request,
    check_format,
    discovery,
    error_responses,
    material_names,
    matter_definition,
    matter_service,
    parse_w3,
    problem_notice,
    problem_service,
    render,
    validation_descriptions,
)
from services.intake.problem_types import BY_CODE, PROBLEM_TYPES, ProblemType
from services.intake.read_api import FRONT_DESK, Consistent, FrontDeskView, ViewDep
from shared.auth import public
from shared.envelope import Actor
from shared.freshness import Freshness, FreshnessDep, after_tokens
from shared.http import ErrorBody, IdempotencyKey
from shared.idempotency import Idempotency

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"],
                   route_class=Open311Route,
                   responses={**XML_OR_JSON, **error_responses(400, 404, 503)})

WINDOW = timedelta(days=90)  # the spec's default and largest range of GET requests
LIMIT = 1000  # the spec's default number of requests returned
Listed = Annotated[list[str] | None, Query(description="comma-separated, or repeated")]
Jurisdiction = Annotated[str | None, Query(description="ignored: one jurisdiction is served")]
# `?after=`: this service's tokens, or the grid's (`case-<id>@<version>`: a step of the case
# of a reported problem), waited for in intake's copy of the cases.
CasesConsistent = Annotated[None, Depends(after_tokens(FRONT_DESK, replica=CaseReplica.name))]
# Open311 is public: every GET answers anyone and carries no personal data; a POST is let in
# by its api_key (checked in the endpoint).
Anyone = Annotated[None, public()]


# -- discovery and services ------------------------------------------------------------------


@router.get("/discovery.{format}")
async def get_discovery(format: str, request: Request, view: ViewDep, _: Anyone) -> Response:
    """Service discovery: this endpoint, its formats, and when the services last changed."""
    fmt = check_format(format)
    changed = await view.pool.fetchval(f"SELECT max(updated_at) FROM {view.s}.matters")
    url = str(request.base_url).rstrip("/") + router.prefix
    return render(fmt, "discovery", discovery(url, changed))


@router.get("/services.{format}")
async def get_services(format: str, view: ViewDep, _: Consistent, __: Anyone,
                       jurisdiction_id: Jurisdiction = None) -> Response:
    """The admitted matters of the catalogue, then the problem types."""
    fmt = check_format(format)
    matters = [matter_service(m) for m in await view.catalogue(None, None)]
    return render(fmt, "services", matters + [problem_service(t) for t in PROBLEM_TYPES])


@router.get("/services/{service_code}.{format}")
async def get_service_definition(service_code: str, format: str, view: ViewDep,
                                 freshness: FreshnessDep, _: Anyone,
                                 jurisdiction_id: Jurisdiction = None) -> Response:
    """A matter's attributes: the applicant, the station, the materials brought. A problem
    type has none (its metadata is false): its definition lists no attributes."""
    fmt = check_format(format)
    if service_code in BY_CODE:
        return render(fmt, "service_definition", {"service_code": service_code,
                                                  "attributes": []})
    await freshness.settled(FRONT_DESK, f"matter-{service_code}")
    matter = await view.matter(service_code)
    if matter["status"] != "admitted":
        raise Open311Error(404, f"service_code: {service_code!r} is not in the catalogue")
    return render(fmt, "service_definition", matter_definition(service_code, matter["terms"]))


# -- POST a service request ------------------------------------------------------------------

@router.post("/requests.{format}", openapi_extra=FORM_BODY, responses={
    **error_responses(403), 429: {"model": ErrorBody, "description": "Too many requests with "
                                  "this api_key (JIEDAO_OPEN311_RATE_LIMIT); see Retry-After"}})
async def post_request(format: str, request: Request, intake: IntakeDep, _: Anyone,
                       idempotency_key: IdempotencyKey = None) -> Response:
    """File an application for a matter, or report a problem; nothing is written on error.
    An Idempotency-Key belongs to the api_key that sends it."""
    fmt = check_format(format)
    form = parse_form(request.headers.get("content-type", ""), await request.body())
    await check_api_key(form.get("api_key"), request.app.state.open311_api_keys)
    request.app.state.rate_limits.api_key(form.get("api_key"))  # 429 over JIEDAO_OPEN311_RATE_LIMIT
    code = form.get("service_code")
    if code is None:
        raise Open311Error(400, "service_code: required (see services.xml)")
    key = Idempotency.of(idempotency_key, form.request(), f"open311:{form.get('api_key')}")
    if code in BY_CODE:
        created = await post_problem(intake, form, BY_CODE[code], key)
    else:
        created = await post_application(intake, form, code, key)
    return render(fmt, "service_requests", [created])


async def post_application(intake: Intake, form: Form, code: str,
                           idempotency: Idempotency | None) -> dict[str, Any]:
    matter = await intake.repo.load(Matter(code))
    if matter.terms is None:  # never proposed, still under review, or withdrawn
        raise Open311Error(404, f"service_code: {code!r} is not a service (see services.xml)")
    terms = matter.terms
    errors = check_common(form)
    location = read_location(form, errors)
    command = filing(form, code, terms, location, errors)
    if errors or command is None:
        raise Open311Error(400, *errors)
    application_id, _ = await handlers.file_application(intake, command, anywhere(form),
                                                        idempotency)
    filed = await intake.repo.load(Application(application_id))
    assert filed.deadline is not None
    notice = application_notice(terms["level"], terms["department"], filed.deadline)
    if missing := [m for m in filed.required if m not in filed.materials]:
        notice += f"；尚缺材料 still missing: {material_names(missing, terms['materials'])}"
    return created(application_id, notice)


async def post_problem(intake: Intake, form: Form, kind: ProblemType,
                       idempotency: Idempotency | None) -> dict[str, Any]:
    errors = check_common(form)
    location = read_location(form, errors)
    errors += [f"attribute[{code}]: {kind.code} has no attributes" for code in form.attributes]
    if errors or location is None:
        raise Open311Error(400, *errors)
    reporter = {name: value for name in REPORTER if (value := form.get(name))}
    problem_id, _ = await handlers.report_problem(
        intake, problem_type=kind.code, description=form.get("description") or "",
        lon=location.lon, lat=location.lat, address=form.get("address_string") or "",
        reporter=reporter, authorize=anywhere(form), idempotency=idempotency,
    )
    place = await intake.territory.locate(location.lon, location.lat)
    assert place is not None  # the report was accepted, so it lies in a grid
    return created(problem_id, problem_notice(place.grid_id))


def created(service_request_id: str, notice: str) -> dict[str, Any]:
    """The spec's answer; its `account_id` stays empty: no personal data in a response."""
    return {"service_request_id": service_request_id, "service_notice": notice,
            "account_id": None}


def actor_of(form: Form) -> Actor:
    return Actor(user_id=f"open311:{form.get('account_id') or 'anonymous'}", role="resident")


def anywhere(form: Form) -> Authorize:
    """An Open311 client, let in by its API key, files anywhere in the district."""
    return lambda _place: actor_of(form)


def check_common(form: Form) -> list[str]:
    limits = {"description": 4000, "address_string": 200, "account_id": 64,
              **{name: 200 for name in REPORTER if name != "account_id"}}
    return [f"{name}: at most {limit:,} characters" for name, limit in limits.items()
            if len(form.get(name) or "") > limit]


def read_location(form: Form, errors: list[str]) -> Location | None:
    lat, lon = form.get("lat"), form.get("long")
    if lat is None and lon is None:
        located = form.get("address_string") or form.get("address_id")
        errors.append("lat/long: required here: " + (
            "this server places a request in a grid by lat and long, and cannot locate "
            "address_string or address_id alone" if located else "no location was sent"))
        return None
    if lat is None or lon is None:
        errors.append("lat/long: send both lat and long (WGS84)")
        return None
    try:
        return Location(lat=degrees(lat, "lat"), lon=degrees(lon, "long"))
    except ValidationError as exc:
        errors.extend(validation_descriptions(list(exc.errors())))
    except ValueError as exc:  # not a number at all
        errors.append(str(exc))
    return None


def degrees(value: str, name: str) -> float:
    """A form's text as a number (the JSON API takes JSON numbers only)."""
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}: must be a number (WGS84 degrees), not {value!r}") from None


def filing(form: Form, code: str, terms: dict[str, Any], location: Location | None,
           errors: list[str]) -> FileApplication | None:
    """The application the form describes, or None with `errors` saying why not."""
    values = attribute_values(form, code, terms, errors)
    materials = form.attributes.get("materials", [])
    allowed = [m["code"] for m in terms["materials"]]
    if unknown := [m for m in materials if m not in allowed]:
        errors.append(f"attribute[materials]: not a material of {code}: {', '.join(unknown)} "
                      f"(its materials: {', '.join(allowed) or 'none'})")
    if form.get("address_string") is None:
        errors.append("address_string: required for an application: the applicant's address")
    if errors or location is None:
        return None
    try:
        return FileApplication(
            matter_code=code, community_id=values["community_id"],
            applicant={"name": values["applicant_name"], "id_number":
                       values["applicant_id_number"], "phone": values["applicant_phone"]},
            address=form.get("address_string"), location=location, materials=materials,
        )
    except ValidationError as exc:
        errors.extend(validation_descriptions(list(exc.errors())))
        return None


def attribute_values(form: Form, code: str, terms: dict[str, Any],
                     errors: list[str]) -> dict[str, str | None]:
    """The single-valued attributes, with the standard fields that stand in for them."""
    offered = {a.code: a for a in application_attributes(terms)}
    errors.extend(f"attribute[{name}]: not an attribute of {code} (its attributes: "
                  f"{', '.join(offered)})" for name in sorted(form.attributes.keys() - offered))
    values: dict[str, str | None] = {}
    for a in offered.values():
        sent = form.attributes.get(a.code, [])
        if a.datatype != "multivaluelist" and len(sent) > 1:
            errors.append(f"attribute[{a.code}]: one value expected, {len(sent)} were sent")
        values[a.code] = sent[-1] if sent else None
    values["applicant_name"] = values["applicant_name"] or full_name(form)
    values["applicant_phone"] = values["applicant_phone"] or form.get("phone")
    errors.extend(f"attribute[{a.code}]: required: {a.description}"
                  for a in offered.values() if a.required and not values[a.code])
    return values


def full_name(form: Form) -> str | None:
    given, family = form.get("first_name"), form.get("last_name")
    if not given or not family:
        return given or family
    if any("\u4e00" <= ch <= "\u9fff" for ch in given + family):
        return family + given  # a Chinese name: family name first, no space
    return f"{given} {family}"


# -- GET service requests --------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str] | None = None
    codes: list[str] | None = None
    statuses: list[str] | None = None  # Open311 statuses: open, closed
    start: datetime | None = None
    end: datetime | None = None
    limit: int = LIMIT


@router.get("/requests.{format}")
async def get_requests(
    format: str, view: ViewDep, freshness: FreshnessDep, _: CasesConsistent, __: Anyone,
    service_request_id: Listed = None, service_code: Listed = None,
    start_date: str | None = None, end_date: str | None = None, status: Listed = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Requests by id (overriding the other filters), or by service, status and a window of
    at most 90 days (by default the last 90), newest first, at most 1000."""
    fmt = check_format(format)
    if ids := split(service_request_id):
        await requests_settled(freshness, ids)
        query = RequestQuery(ids=ids)
    else:
        start, end = window(parse_w3("start_date", start_date), parse_w3("end_date", end_date))
        query = RequestQuery(codes=split(service_code) or None, statuses=statuses(status),
                             start=start, end=end)
    return render(fmt, "service_requests", await find_requests(view, query))


@router.get("/requests/{service_request_id}.{format}")
async def get_request(service_request_id: str, format: str, view: ViewDep,
                      freshness: FreshnessDep, _: Anyone, __: CasesConsistent,
                      jurisdiction_id: Jurisdiction = None) -> Response:
    """A request as it stands, every step already taken included (right after its POST too:
    this waits briefly for the read model); an id never filed is a 404 at once."""
    fmt = check_format(format)
    await requests_settled(freshness, [service_request_id])
    found = await find_requests(view, RequestQuery(ids=[service_request_id]))
    if not found:
        raise Open311Error(404, f"service_request_id: no request {service_request_id!r}")
    return render(fmt, "service_requests", found)


@router.get("/tokens/{token}.{format}")
async def get_token(token: str, format: str, intake: IntakeDep, _: Anyone,
                    jurisdiction_id: Jurisdiction = None) -> Response:
    """Filing is synchronous, so a token is the service_request_id (known from the store at
    once, before the read model has it)."""
    fmt = check_format(format)
    for stream in (f"application-{token}", f"problem-{token}"):
        if await intake.repo.store.stream_version(stream) > 0:
            return render(fmt, "service_requests",
                          [{"service_request_id": token, "token": token}])
    raise Open311Error(404, f"token: no token {token!r}")


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def unknown_resource(path: str, request: Request, _: Anyone) -> Response:
    raise Open311Error(404, f"{request.method} /open311/v2/{path}: no such Open311 resource "
                            "(see discovery.xml)")


async def requests_settled(freshness: Freshness, ids: list[str]) -> None:
    """Until the read model shows every step the store holds of these requests (each is an
    application or a problem report)."""
    streams = [f"{kind}-{i}" for i in ids for kind in ("application", "problem")]
    await freshness.settled(FRONT_DESK, *streams)


def split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def statuses(values: list[str] | None) -> list[str] | None:
    wanted = split(values)
    if unknown := [s for s in wanted if s not in ("open", "closed")]:
        raise Open311Error(400, f"status: {', '.join(unknown)} is not open or closed")
    return wanted or None


def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime | None]:
    if start and end:
        if end < start:
            raise Open311Error(400, "end_date: earlier than start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date/end_date: the range may span at most 90 days")
        return start, end
    if start:
        return start, start + WINDOW
    if end:
        return end - WINDOW, end
    return datetime.now(UTC) - WINDOW, None


async def find_requests(view: FrontDeskView, query: RequestQuery) -> list[dict[str, Any]]:
    found = [(r["filed_at"], application_request(r)) for r in await applications(view, query)]
    found += [(r["reported_at"], reported(r)) for r in await problems(view, query)]
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [request for _, request in found[:query.limit]]


async def applications(view: FrontDeskView, query: RequestQuery) -> list[Any]:
    states = None
    if query.statuses is not None:
        states = [s for status in query.statuses for s in (OPEN if status == "open" else CLOSED)]
    return await view.pool.fetch(
        "SELECT a.*, m.terms->'department' AS department, m.terms->'materials' AS materials, "
        "c.name_zh AS community_zh, c.name_en AS community_en, "
        "st.name_zh AS street_zh, st.name_en AS street_en "
        f"FROM {view.s}.applications a LEFT JOIN {view.s}.matters m USING (matter_code) "
        f"LEFT JOIN {view.s}.communities c USING (community_id) "
        f"LEFT JOIN {view.s}.streets st ON st.street_id = a.street_id "
        "WHERE ($1::text[] IS NULL OR a.application_id = ANY($1)) "
        "AND ($2::text[] IS NULL OR a.matter_code = ANY($2)) "
        "AND ($3::text[] IS NULL OR a.status = ANY($3)) "
        "AND ($4::timestamptz IS NULL OR a.filed_at >= $4) "
        "AND ($5::timestamptz IS NULL OR a.filed_at <= $5) ORDER BY a.filed_at DESC LIMIT $6",
        query.ids, query.codes, states, query.start, query.end, query.limit,
    )


async def problems(view: FrontDeskView, query: RequestQuery) -> list[Any]:
    return await view.pool.fetch(
        "SELECT p.*, c.name_zh AS community_zh, c.name_en AS community_en, "
        f"{case_replica.SELECTED} FROM {view.s}.problems p "
        f"LEFT JOIN {view.s}.communities c USING (community_id) {case_replica.joined(view.s)} "
        "WHERE ($1::text[] IS NULL OR p.problem_id = ANY($1)) "
        "AND ($2::text[] IS NULL OR p.problem_type = ANY($2)) "
        "AND ($3::timestamptz IS NULL OR p.reported_at >= $3) "
        "AND ($4::timestamptz IS NULL OR p.reported_at <= $4) "
        f"AND ($6::text[] IS NULL OR {case_replica.OPEN311_STATUS} = ANY($6)) "
        "ORDER BY p.reported_at DESC LIMIT $5",
        query.ids, query.codes, query.start, query.end, query.limit, query.statuses,
    )
