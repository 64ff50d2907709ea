"""Who is acting. Until real sign-in exists, callers name themselves in two headers:
`X-Actor-Id` (documented as the API's security scheme) and `X-Actor-Role`.

One dependency that reads both headers itself: declaring them as FastAPI `Header` parameters
costs a validation pass per header on every command (measured: a third of FastAPI's share of
a filing), and a plain `def` dependency would run in a worker thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader

from shared.envelope import Actor

MAX_LENGTH = 64


class ActorHeaders(APIKeyHeader):
    def __init__(self) -> None:
        super().__init__(
            name="X-Actor-Id", scheme_name="actor", auto_error=False,
            description="Who is acting (user id; default `anonymous`). `X-Actor-Role` names "
                        "their role (default `operator`). Both at most 64 characters.",
        )

    async def __call__(self, request: Request) -> Actor:  # type: ignore[override]
        headers = request.headers
        return Actor(user_id=_header(headers.get("x-actor-id"), "X-Actor-Id", "anonymous"),
                     role=_header(headers.get("x-actor-role"), "X-Actor-Role", "operator"))


def _header(value: str | None, name: str, default: str) -> str:
    if value is None:
        return default
    if not 1 <= len(value) <= MAX_LENGTH:
        raise RequestValidationError([{
            "loc": ("header", name), "type": "string_length",
            "msg": f"must be 1 to {MAX_LENGTH} characters", "input": value,
        }])
    return value


current_actor = ActorHeaders()
ActorDep = Annotated[Actor, Depends(current_actor)]
