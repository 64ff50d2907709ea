"""The one layer of our own around every service's app (installed by shared/service.py): the
input gate (shared/inputs.py) refuses what no service may store, the security headers
(shared/headers.py) go on every answer, the gate's and the backstop's too, and the backstop
answers a fault no handler expected with a 500 in the one error shape with a fixed message and
an error id (shared/http.py `server_fault`: the traceback logged under that id, never sent).

One ASGI layer with one `send` wrapper rather than three: each layer cost every request its
own calls and closures."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.headers import SecurityHeaders
from shared.http import server_fault
from shared.inputs import InputGuard, Refusal


class Edge:
    def __init__(self, app: ASGIApp, *, refusals: Mapping[str, Refusal] | None = None,
                 max_body_bytes: int = 1_048_576, token_url: str = "") -> None:
        self.app = app
        self.guard = InputGuard(refusals, max_body_bytes)
        self.headers = SecurityHeaders(token_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        signed_in = any(name == b"authorization" for name, _ in scope["headers"])
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = self.headers.added(list(message.get("headers", [])),
                                                        signed_in)
            await send(message)

        try:
            refusal, receive = await self.guard.check(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, answer)
                return
            await self.app(scope, receive, answer)
        except Exception as exc:
            if started:  # part of an answer is out: nothing else can be said
                raise
            await server_fault(exc)(scope, receive, answer)
