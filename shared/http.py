"""HTTP edges: one error shape for every service, the list shape, the Idempotency-Key header."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shared.errors import ConcurrencyConflict, DomainError, JiedaoError
from shared.freshness import consistency_token
from shared.store import AppendResult

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Makes a retry of this command safe: a repeat with the same key and the same "
                "body returns the first answer and writes nothing; the same key with another "
                "body is refused (422). See shared/idempotency.py.",
)]


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
    return JSONResponse(status_code=status, content=error_body(type(exc).__name__, str(exc)))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_input)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(ConcurrencyConflict, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(JiedaoError, _jiedao_error)  # type: ignore[arg-type]


def accepted(stream_id: str, result: AppendResult, **ids: str) -> dict[str, Any]:
    """The one answer shape of every command: which stream moved, to what version, and the
    token a list read takes (`?after=`) to show this write (shared/freshness.py)."""
    return {**ids, "stream_id": stream_id, "version": result.version,
            "positions": result.positions,
            "consistency_token": consistency_token(stream_id, result.version)}


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The one list shape of every read API."""
    return {"items": items, "total": len(items)}
