"""Open311 GeoReport v2 representations (http://wiki.open311.org/GeoReport_v2): the one place
that renders JSON or XML, the one place that maps errors, and how catalogue matters, problem
types, applications and problem reports look as Open311 services and service requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, RootModel, ValidationError

from services.intake.problem_types import BY_CODE, GROUP, ProblemType
from shared.errors import DomainError, JiedaoError, NotFound, StoreUnavailable
from shared.http import database_fault

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
TZ = ZoneInfo("Asia/Shanghai")  # the district's local time, as the ±HH:MM offset of w3 dates
MEDIA_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
ITEM_TAGS = {"services": "service", "service_requests": "request", "errors": "error",
             "attributes": "attribute", "values": "value", "endpoints": "endpoint",
             "formats": "format"}
OPEN = ("filed", "returned", "resubmitted", "accepted")
CLOSED = ("completed", "refused", "referred")


# -- rendering -------------------------------------------------------------------------------


class Open311Error(Exception):
    """An Open311 error response: the HTTP status and one description per error."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions


def check_format(fmt: str) -> str:
    if fmt not in MEDIA_TYPES:
        raise Open311Error(404, f"format: .{fmt} is not offered; use .xml or .json")
    return fmt


def render(fmt: str, root: str, payload: Any, status: int = 200) -> Response:
    """JSON as the Spark convention maps the XML: the root element's content, unnamed."""
    if fmt == "json":
        body = orjson.dumps(payload)
    else:
        document = _element(root, payload)
        ET.indent(document)
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, "utf-8")
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        element.extend(_element(name, v) for name, v in value.items())
    elif isinstance(value, list | tuple):
        element.extend(_element(ITEM_TAGS[tag], v) for v in value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


# -- errors ----------------------------------------------------------------------------------

# The commands' field names, as the Open311 parameters a client sent them in.
PARAMETERS = {
    "location": "lat/long", "location.lat": "lat", "location.lon": "long", "lon": "long",
    "matter_code": "service_code", "address": "address_string",
    "community_id": "attribute[community_id]", "materials": "attribute[materials]",
    "applicant": "attribute[applicant_name]", "applicant.name": "attribute[applicant_name]",
    "applicant.id_number": "attribute[applicant_id_number]",
    "applicant.phone": "attribute[applicant_phone]",
}


FOUND_BY_ID = (None, "service_code", "service_request_id", "token")  # Open311's 404s


def described(field: str | None, reason: str) -> str:
    return f"{PARAMETERS.get(field, field)}: {reason}" if field else reason


def validation_descriptions(errors: list[Any]) -> list[str]:
    """pydantic's or FastAPI's validation errors, each naming the Open311 parameter."""
    def name(loc: tuple[Any, ...]) -> str:
        return ".".join(str(p) for p in loc if p not in ("body", "query", "path")) or "request"
    return [described(name(tuple(e["loc"])), e["msg"]) for e in errors]


def as_open311(exc: Exception) -> Open311Error | None:
    """404 for what does not exist, 403 for api_key (raised as such) or a caller refused, 401
    for a caller not signed in, 503 for a dependency down (the database, or a read model that
    stays behind), 400 for the rest (invalid input included: Open311's code for it)."""
    if (fault := database_fault(exc)) is not None:
        return Open311Error(400 if fault[0] == 422 else 503, fault[1])
    match exc:
        case Open311Error():
            return exc
        case StoreUnavailable():
            return Open311Error(503, str(exc))
        case NotFound() if PARAMETERS.get(exc.field, exc.field) in FOUND_BY_ID:
            return Open311Error(404, described(exc.field, exc.reason))
        case DomainError():
            return Open311Error(400, described(exc.field, exc.reason))
        case RequestValidationError() | ValidationError():
            return Open311Error(400, *validation_descriptions(list(exc.errors())))
        case JiedaoError() if getattr(exc, "status", None) in (401, 403, 503):
            return Open311Error(exc.status, str(exc))
        case JiedaoError():  # the spec's "general service error"
            return Open311Error(400, str(exc))
    return None


def error_response(request: Request, error: Open311Error) -> Response:
    """In the format the URL asks for (its suffix); XML, the required format, otherwise."""
    suffix = request.url.path.rpartition(".")[2]
    errors = [{"code": error.status, "description": d} for d in error.descriptions]
    return render(suffix if suffix in MEDIA_TYPES else "xml", "errors", errors, error.status)


def refused(path: str, fields: list[dict[str, str]], status: int = 400) -> Response:
    """A refusal before any endpoint ran, on an Open311 path, as an error array: the input
    gate's (shared/inputs.py; 400, Open311's code for invalid input), or a sign-in's (401,
    403: shared/http.py)."""
    errors = [{"code": status, "description": described(f["field"], f["reason"])}
              for f in fields]
    suffix = path.rpartition(".")[2]
    return render(suffix if suffix in MEDIA_TYPES else "xml", "errors", errors, status)


class Open311ErrorItem(BaseModel):
    code: int
    description: str


class Open311Errors(RootModel[list[Open311ErrorItem]]):
    """Open311's error array (in XML: <errors><error><code/><description/></error></errors>)."""


XML = {"text/xml": {"schema": {"type": "string"}}}
XML_OR_JSON = {200: {"description": "In the format the path's suffix names",
                     "content": {"application/json": {}, **XML}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    meanings = {400: "Invalid input, or a request that cannot be served (Open311's 400)",
                403: "api_key missing or invalid", 404: "No such service, request or format",
                503: "A dependency (the database) is unavailable; try again"}
    return {code: {"model": Open311Errors, "description": meanings[code], "content": {**XML}}
            for code in codes}


class Open311Route(APIRoute):
    """Every Open311 route answers errors in Open311's format, not the project's JSON one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                error = as_open311(exc)
                if error is None:
                    raise
                return error_response(request, error)

        return handle


# -- dates -----------------------------------------------------------------------------------


def w3(moment: datetime | None) -> str | None:
    """ISO 8601 with its UTC offset, in the district's time: 2012-06-08T09:30:00+08:00."""
    return moment.astimezone(TZ).isoformat(timespec="seconds") if moment else None


def end_of(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), TZ).isoformat()


def parse_w3(parameter: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Open311Error(400, f"{parameter}: {value!r} is not a w3 datetime with a time "
                                "zone, e.g. 2012-06-08T00:00:00+08:00 or 2012-06-08T00:00:00Z")
    return moment


# -- discovery and services ------------------------------------------------------------------


def discovery(url: str, changeset: datetime | None) -> dict[str, Any]:
    changed = w3(changeset) or "2012-06-08T00:00:00+08:00"
    return {
        "changeset": changed,
        "contact": "街道综合管理平台 jiedao street governance platform: ask any community service "
                   "station (社区服务站) or street public service centre (街道公共服务中心)",
        "key_service": "API keys for POST requests are issued by the district's platform "
                       "operators (the demo deployment's key is set by JIEDAO_DEMO_API_KEY)",
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": changed,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }


LEVELS = {
    "community": ("由社区服务站办理", "handled at the community service station"),
    "street": ("由街道公共服务中心办理", "handled at the street public service centre"),
    "district": ("区级事项，窗口转介", "a district matter: the window refers you to"),
}


def bilingual(named: Mapping[str, Any]) -> str:
    return f"{named['name_zh']} {named['name_en']}"


def matter_service(matter: Mapping[str, Any]) -> dict[str, Any]:
    """A catalogue matter (as `FrontDeskView.catalogue` lists it) as an Open311 service."""
    department = matter["department"]
    return {
        "service_code": matter["matter_code"], "service_name": bilingual(matter),
        "description": matter_description(matter["level"], department,
                                          matter["time_limit_days"]),
        "metadata": True, "type": "realtime",
        "keywords": ", ".join([matter["name_zh"], matter["category"]["name_zh"],
                               matter["category"]["name_en"], department["name_zh"]]),
        "group": bilingual(matter["category"]),
    }


def matter_description(level: str, department: Mapping[str, Any], days: int) -> str:
    if level == "district":
        return referral(department)
    zh, en = LEVELS[level]
    working_days = "1 working day" if days == 1 else f"{days} working days"
    return (f"{zh}，承诺时限 {days} 个工作日（{department['name_zh']}下放）— {en}; promised "
            f"within {working_days} (delegated by the {department['name_en']})")


def referral(department: Mapping[str, Any] | None) -> str:
    zh, en = LEVELS["district"]
    name = department or {"name_zh": "区级部门", "name_en": "district department"}
    return f"{zh}{name['name_zh']} — {en} the {name['name_en']}"


def problem_service(kind: ProblemType) -> dict[str, Any]:
    return {"service_code": kind.code, "service_name": kind.name, "description": kind.description,
            "metadata": False, "type": "realtime", "keywords": ", ".join(kind.keywords),
            "group": GROUP}


# -- service definitions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    required: bool
    description: str
    datatype_description: str | None = None


APPLICANT_ATTRIBUTES = (
    Attribute("applicant_name", "string", True,
              "申请人姓名 the applicant's full name (first_name and last_name are used if this "
              "is not sent)"),
    Attribute("applicant_id_number", "string", True, "申请人居民身份证号码 the applicant's "
              "resident ID card number", "18 位身份证号码 the 18-character ID number"),
    Attribute("applicant_phone", "string", False,
              "联系电话 the applicant's phone number (phone is used if this is not sent)"),
    Attribute("community_id", "string", True,
              "办理的社区服务站 the community service station to file at, by community id "
              "(e.g. mengzhuiwan.wangping); lat/long must lie inside one of its grids",
              "社区编码 a community id"),
)
MATERIALS = Attribute("materials", "multivaluelist", False,
                      "已带齐的申请材料 the required materials the applicant brings; the station "
                      "returns an application that lacks some")


def application_attributes(terms: Mapping[str, Any]) -> tuple[Attribute, ...]:
    return APPLICANT_ATTRIBUTES + ((MATERIALS,) if terms["materials"] else ())


def matter_definition(code: str, terms: Mapping[str, Any]) -> dict[str, Any]:
    values = [{"key": m["code"], "name": bilingual(m)} for m in terms["materials"]]
    attributes = []
    for order, a in enumerate(application_attributes(terms), start=1):
        attribute = {"variable": True, "code": a.code, "datatype": a.datatype,
                     "required": a.required, "datatype_description": a.datatype_description,
                     "order": order, "description": a.description}
        if a.datatype == "multivaluelist":
            attribute["values"] = values
        attributes.append(attribute)
    return {"service_code": code, "attributes": attributes}


# -- service requests ------------------------------------------------------------------------


def application_notice(level: str, department: Mapping[str, Any] | None,
                       deadline: date) -> str:
    if level == "district":
        return referral(department)
    zh, en = LEVELS[level]
    return f"{zh}，承诺 {deadline.isoformat()} 前办结 — {en}; promised by {deadline.isoformat()}"


def material_names(codes: list[str], materials: list[Mapping[str, Any]]) -> str:
    names = {m["code"]: bilingual(m) for m in materials}
    return "；".join(names.get(code, code) for code in codes)


def problem_notice(grid_id: str) -> str:
    return (f"已转网格 {grid_id} 核实处置 — passed to grid {grid_id}, whose grid workers check "
            "it on site and see it handled")


def station(row: Mapping[str, Any]) -> str:
    if row["community_zh"] is None:
        return f"社区服务站 community service station {row['community_id']}"
    return f"{row['community_zh']}服务站 {row['community_en']} Service Station"


def application_request(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of `intake_view.applications` (with its matter's department and materials and its
    community's names) as an Open311 service request. The household's address and position
    are personal data and the GET methods need no api_key: the station stands in for them."""
    department = orjson.loads(row["department"]) if row["department"] else None
    return {
        "service_request_id": row["application_id"],
        "status": "closed" if row["status"] in CLOSED else "open",
        "status_notes": application_notes(row, department),
        "service_name": f"{row['matter_name_zh']} {row['matter_name_en']}",
        "service_code": row["matter_code"], "description": None,
        "agency_responsible": application_agency(row, department),
        "service_notice": application_notice(row["level"], department, row["deadline"]),
        "requested_datetime": w3(row["filed_at"]), "updated_datetime": w3(row["updated_at"]),
        "expected_datetime": None if row["status"] == "referred" else end_of(row["deadline"]),
        "address": station(row), "address_id": None, "zipcode": None, "lat": None,
        "long": None, "media_url": None,
    }


def application_notes(row: Mapping[str, Any], department: Mapping[str, Any] | None) -> str:
    materials = orjson.loads(row["materials"]) if row["materials"] else []
    match row["status"]:
        case "filed":
            return "已登记，待窗口核验材料 — filed; the station checks the materials"
        case "returned":
            missing = material_names(list(row["missing"]), materials)
            return f"退回补正 — returned for missing materials: {missing}"
        case "resubmitted":
            return "已补交材料，待受理 — the missing materials were brought; awaiting acceptance"
        case "accepted":
            return f"已受理 — accepted; {application_agency(row, department)}"
        case "completed":
            timing = "按时办结 on time" if row["on_time"] else "超期办结 late"
            return f"已办结（{timing}）— completed: {row['result']}"
        case "refused":
            return f"不予受理 — refused: {row['reason']}"
    return f"已转介 — referred: {application_agency(row, department)}"


def application_agency(row: Mapping[str, Any], department: Mapping[str, Any] | None) -> str:
    if row["handled_at"] == "district" and department:
        return bilingual(department)
    if row["handled_at"] == "street_public_service_centre":
        if row.get("street_zh") is None:
            return f"街道公共服务中心 street public service centre ({row['street_id']})"
        return (f"{row['street_zh']}公共服务中心 {row['street_en']} public service centre")
    return station(row)


def problem_request(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of `intake_view.problems` as an Open311 service request (the reporter is not
    shown)."""
    kind = BY_CODE.get(row["problem_type"])
    return {
        "service_request_id": row["problem_id"], "status": "open",
        "status_notes": "已上报，待网格核实处置 — reported; the grid checks and handles it",
        "service_name": kind.name if kind else row["problem_type"],
        "service_code": row["problem_type"], "description": row["description"] or None,
        "agency_responsible": f"网格 {row['grid_id']} grid, {station(row)}",
        "service_notice": problem_notice(row["grid_id"]),
        "requested_datetime": w3(row["reported_at"]), "updated_datetime": w3(row["reported_at"]),
        "expected_datetime": None, "address": row["address"] or None, "address_id": None,
        "zipcode": None, "lat": row["lat"], "long": row["lon"], "media_url": None,
    }
