"""HTTP edges: one error shape for every service, the list shape, the Idempotency-Key header.

No error body carries a stack trace, SQL or a database's own message: a 5xx answers a fixed
message and an error id, and the log has the traceback under that id; a value the database
refused is a 422 naming the kind of fault (PostgreSQL's condition name), not its message."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from shared.access import Forbidden
from shared.errors import ConcurrencyConflict, DomainError, JiedaoError
from shared.freshness import consistency_token
from shared.inputs import Refusal
from shared.ratelimit import RateLimited
from shared.store import AppendResult
from shared.tokens import Unauthenticated

log = logging.getLogger("jiedao.http")

# Database faults no handler expects: a value PostgreSQL cannot take is the caller's input
# (422), a lost or refused connection is the dependency down (503).
DATA_FAULTS = (asyncpg.DataError, asyncpg.ProgramLimitExceededError)
DATABASE_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                 asyncpg.OperatorInterventionError, asyncpg.TooManyConnectionsError)

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Makes a retry of this command safe: a repeat with the same key and the same "
                "body returns the first answer and writes nothing; the same key with another "
                "body is refused (422). See shared/idempotency.py.",
)]


class FieldFault(BaseModel):
    field: str
    reason: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    fields: list[FieldFault]
    current_version: int | None = None  # a concurrency conflict's stream version now
    error_id: str | None = None  # a 5xx's: the server's log has the fault under it


class ErrorBody(BaseModel):
    """The one error body of every service (Open311 paths answer in Open311's format)."""

    error: ErrorDetail


def error_body(kind: str, message: str, fields: list[dict[str, str]] | None = None) -> dict:
    return {"error": {"type": kind, "message": message, "fields": fields or []}}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _invalid_input(_: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {"field": _field_name(tuple(err["loc"])), "reason": err["msg"]} for err in exc.errors()
    ]
    message = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    return JSONResponse(status_code=422, content=error_body("invalid_input", message, fields))


async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
    fields = [{"field": exc.field, "reason": exc.reason}] if exc.field else []
    kind = type(exc).__name__
    return JSONResponse(status_code=exc.status, content=error_body(kind, exc.reason, fields))


async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
    body = error_body("concurrency_conflict", str(exc))
    body["error"]["current_version"] = exc.actual
    return JSONResponse(status_code=409, content=body)


async def _jiedao_error(_: Request, exc: JiedaoError) -> JSONResponse:
    status = getattr(exc, "status", 500)
    if status >= 500:
        return server_fault(exc, status)
    return JSONResponse(status_code=status, content=error_body(type(exc).__name__, str(exc)))


# What a 5xx says (nothing of the fault itself: that is in the log, under the error id).
UNAVAILABLE = ("a dependency (the database, the event store or the token issuer) is "
               "unavailable; try again (a command retried with its Idempotency-Key is safe)")
INTERNAL = "the service failed to answer this request"


def server_fault(exc: BaseException, status: int = 500) -> JSONResponse:
    """A 5xx: a fixed message (an error's own `public_message` if it has one) and a new error
    id; the traceback is logged under that id."""
    error_id = uuid.uuid4().hex[:16]
    log.log(logging.WARNING if status == 503 else logging.ERROR, "error %s: %s answered %d",
            error_id, type(exc).__name__, status, exc_info=exc)
    message = getattr(exc, "public_message", UNAVAILABLE if status == 503 else INTERNAL)
    body = error_body("unavailable" if status == 503 else "internal_error",
                      f"{message} (error id {error_id})")
    body["error"]["error_id"] = error_id
    return JSONResponse(status_code=status, content=body)


def database_fault(exc: Exception) -> tuple[int, str] | None:
    """The status and message of an unexpected database fault, or None if it is not one."""
    if isinstance(exc, DATA_FAULTS):
        return 422, f"a value was refused by the database ({condition(exc)})"
    if isinstance(exc, DATABASE_DOWN):
        return 503, UNAVAILABLE
    return None


def condition(exc: Exception) -> str:
    """PostgreSQL's condition name (`NumericValueOutOfRangeError`: numeric value out of range),
    never its message, which may quote SQL, values or table names."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__.removesuffix("Error"))
    return words.lower()


async def _database_fault(_: Request, exc: Exception) -> JSONResponse:
    fault = database_fault(exc)
    if fault is None or fault[0] >= 500:
        return server_fault(exc, fault[0] if fault else 500)
    log.warning("a value was refused by the database: %s: %s", type(exc).__name__, exc)
    return JSONResponse(status_code=fault[0], content=error_body("invalid_input", fault[1]))


async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
    return JSONResponse(status_code=429, headers=exc.headers,
                        content=error_body("rate_limited", str(exc.detail)))


HTTP_METHODS = frozenset({"delete", "get", "head", "options", "patch", "post", "put"})


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the path this request names (the most specific
    template that matches it: `/catalogue/proposals` over `/catalogue/{matter_code}`)."""
    app = request.app
    if not hasattr(app.state, "documented_paths"):
        app.state.documented_paths = [
            (compile_path(template)[0], template.count("{"),
             [m.upper() for m in operations if m in HTTP_METHODS])
            for template, operations in app.openapi().get("paths", {}).items()]
    matching = [(params, methods) for regex, params, methods in app.state.documented_paths
                if regex.match(request.url.path)]
    fewest = min((params for params, _ in matching), default=0)
    return sorted({m for params, methods in matching if params == fewest for m in methods})


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such path, method not allowed) in the one error shape."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every route at this path, not only the first one matched
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(status_code=exc.status_code, headers=headers,
                        content=error_body("http_error", str(exc.detail)))


def _refused_caller(own_formats: Mapping[str, Refusal]) -> Callable[..., Awaitable[Response]]:
    """401 (with WWW-Authenticate) and 403, in the path's own error format where the service
    declares one (Open311's): such a format is called with the status as a third argument."""

    async def refuse(request: Request, exc: JiedaoError) -> Response:
        status = getattr(exc, "status", 403)
        headers = dict(getattr(exc, "headers", None) or {})
        path = request.url.path
        for prefix, refusal in own_formats.items():
            if path.startswith(prefix):
                field = "Authorization" if status == 401 else ""
                response = refusal(path, [{"field": field, "reason": str(exc)}], status)
                response.headers.update(headers)
                return response
        return JSONResponse(status_code=status, headers=headers,
                            content=error_body(type(exc).__name__, str(exc)))

    return refuse


def install_error_handlers(app: FastAPI,
                           own_formats: Mapping[str, Refusal] | None = None) -> None:
    """`own_formats`: path prefixes whose errors have their own format (ServiceSpec's
    `error_formats`)."""
    refused_caller = _refused_caller(dict(own_formats or {}))
    for refusal in (Unauthenticated, Forbidden):
        app.add_exception_handler(refusal, refused_caller)
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RateLimited, _rate_limited)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_input)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(ConcurrencyConflict, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(JiedaoError, _jiedao_error)  # type: ignore[arg-type]
    for fault in (*DATA_FAULTS, *DATABASE_DOWN):
        app.add_exception_handler(fault, _database_fault)  # type: ignore[arg-type]


class Accepted(BaseModel):
    """The one answer of every command (an endpoint declares it as its `response_model`; one
    that creates an id the caller did not choose declares a subclass naming it)."""

    stream_id: str = Field(description="The stream the command moved")
    version: int = Field(description="The stream's version after the command")
    positions: list[int] = Field(description="The event store positions of its events")
    consistency_token: str = Field(description="Give it as `?after=` to a list read to see "
                                               "this write (shared/freshness.py)")


def accepted(stream_id: str, result: AppendResult, **ids: str) -> dict[str, Any]:
    """The one answer shape of every command: which stream moved, to what version, and the
    token a list read takes (`?after=`) to show this write (shared/freshness.py)."""
    return {**ids, "stream_id": stream_id, "version": result.version,
            "positions": result.positions,
            "consistency_token": consistency_token(stream_id, result.version)}


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering what the composition root put on `app.state` as `name` (a
    view, a handler context): `Annotated[View, Depends(app_state("view"))]`."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The one list shape of every read API."""
    return {"items": items, "total": len(items)}
