"""Every operation's OpenAPI `responses` names each error code it can answer, with the body
actually sent (shared/http.py's ErrorBody), in place of FastAPI's `{"detail"}` 422:

- every operation: 422 invalid input (the input gate runs before any of them), 503 the
  database down;
- an operation with an id in its path, and every command: 404 unknown id;
- every command (POST, PUT): 409 wrong state for this step, or a concurrent change.

An operation may declare one of these codes itself (e.g. a 404 on a search): it gets the
error body too, unless it declares a body model of its own for it (a readiness report).
An operation that needs sign-in (the `signin` scheme, shared/auth.py): 401 without a valid
token, 403 when the caller's roles or scope do not allow it, 429 over the caller's rate limit
(shared/ratelimit.py). An operation that takes a body: 413 when it is over the size limit
(shared/inputs.py).

Paths under a prefix with its own error format (Open311) keep the responses their router
declares, lose FastAPI's 422 (they never send it) and gain the 413 (in their format)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from shared.http import ErrorBody

COMMANDS = frozenset({"post", "put", "patch", "delete"})
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
RETRY_AFTER = {"description": "Seconds until the caller may ask again",
               "schema": {"type": "integer", "minimum": 1}}
MEANINGS = {
    401: "Not signed in: no token, or one that is expired, wrongly signed or not for this "
         "service (see WWW-Authenticate)",
    403: "Forbidden: the caller's roles, or where their grants apply, do not allow this",
    404: "Not found: an id in the path or the body names nothing",
    409: "Conflict: the step is not allowed in the current state, or another writer changed "
         "it first",
    413: "The request body is over the size limit (JIEDAO_MAX_BODY_BYTES; nothing was read "
         "further, nothing written)",
    422: "Invalid input: the field at fault and the reason (nothing was written)",
    429: "Too many requests from this caller: retry after the Retry-After header's seconds",
    503: "A dependency (the database) is unavailable; try again",
}


def document_errors(app: FastAPI, own_format_prefixes: Iterable[str] = ()) -> None:
    """Make `app.openapi()` declare the error responses above (computed once, then cached)."""
    build = app.openapi
    prefixes = tuple(own_format_prefixes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method in COMMANDS | {"get"}:
                    declare(operation, method, path, own_format=path.startswith(prefixes))
        add_error_schemas(schema.setdefault("components", {}).setdefault("schemas", {}))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare(operation: dict[str, Any], method: str, path: str, *, own_format: bool) -> None:
    responses = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    if own_format:
        responses.pop("422", None)
        if has_body:
            responses.setdefault("413", {"description": MEANINGS[413]})
        return
    declared = {int(c) for c in responses if c.isdigit() and int(c) in MEANINGS}
    signed_in = any("signin" in requirement for requirement in operation.get("security", []))
    found = codes(method, path, signed_in=signed_in) + ([413] if has_body else [])
    for code in sorted(declared | set(found)):
        if declares_its_own_body(responses.get(str(code), {})):
            continue
        description = responses.get(str(code), {}).get("description")
        if description == "Validation Error":  # FastAPI's, for its own body
            description = None
        responses[str(code)] = {"description": description or MEANINGS[code],
                                "content": {"application/json": {"schema": ERROR_REF}}}
        if code == 429:
            responses["429"]["headers"] = {"Retry-After": RETRY_AFTER}


def declares_its_own_body(response: dict[str, Any]) -> bool:
    """A response the operation declared with a model of its own (e.g. a readiness report
    sent with its 503), not FastAPI's validation error."""
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return bool(schema) and schema != {"$ref": "#/components/schemas/HTTPValidationError"}


def add_error_schemas(components: dict[str, Any]) -> None:
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBody"] = body


def codes(method: str, path: str, *, signed_in: bool = False) -> list[int]:
    found = [422, 503] + ([401, 403, 429] if signed_in else [])
    if method in COMMANDS or "{" in path:
        found.append(404)
    if method in COMMANDS:
        found.append(409)
    return sorted(found)
