"""How every service's API is served (deploy/processes.py `run_api`): uvicorn with httptools,
each answer written to the socket at once. uvicorn writes an answer's head and body with two
writes, so two sends and two wake-ups of the client: the head's send alone was ~30 % of an
API process's CPU per filing. Here the writes one turn of the event loop makes go out as one."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.settings import Settings


class JoinedWrites:
    """A connection's transport whose writes within one loop iteration are sent as one (the
    rest of the transport as it is)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(data)

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending.clear()
            self.transport.write(data)

    def close(self) -> None:
        self.flush()  # what was written goes out before the connection closes
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HttpToolsJoinedWrites(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport, self.loop))  # type: ignore[arg-type]


def api_server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for a service's API: answers written at once; X-Forwarded-* read only
    from configured proxies (its proxy-header layer costs every request, and nothing reads the
    client's address); no `server: uvicorn` header (it tells an attacker what runs here)."""
    proxies = settings.forwarded_allow_ips.strip()
    return {"http": HttpToolsJoinedWrites,  # the loop: uvicorn's "auto", uvloop when installed
            "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None,
            "server_header": False}
