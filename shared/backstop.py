"""The last answer to a fault no handler expected: a 500 in the one error shape with a fixed
message and an error id (shared/http.py `server_fault`), the traceback logged under that id,
never sent. Installed around every service's app by shared/service.py, inside the security
headers, so this answer carries them too."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http import server_fault


class Backstop:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # part of an answer is out: nothing else can be said
                raise
            await server_fault(exc)(scope, receive, send)
