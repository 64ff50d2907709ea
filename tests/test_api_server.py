"""How every service's API is served (deploy/http_server.py): each answer's writes go out as
one, streamed and keep-alive answers stay whole, and X-Forwarded-* is read only from the
proxies JIEDAO_FORWARDED_ALLOW_IPS names."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from deploy.http_server import JoinedWrites, api_server_options
from shared.settings import Settings
from tests.served import free_port


class Recorded:
    """Stands in for a socket's transport: what was sent, in which sends."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def test_writes_of_one_loop_turn_are_sent_as_one() -> None:
    transport = Recorded()
    joined = JoinedWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
    joined.write(b"body")
    assert transport.sends == []
    await asyncio.sleep(0)
    assert transport.sends == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert joined.get_extra_info("peername") == "info peername"


async def test_closing_sends_what_was_written_first() -> None:
    transport = Recorded()
    joined = JoinedWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    joined.write(b"last words")
    joined.close()
    assert transport.sends == [b"last words"] and transport.closed
    await asyncio.sleep(0)
    assert transport.sends == [b"last words"]  # not sent twice


async def client_host(request: Request) -> JSONResponse:
    return JSONResponse({"client": request.client.host if request.client else None})


async def streamed(_: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0.01)
            yield f"chunk {i};".encode()

    return StreamingResponse(chunks())


@contextlib.asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/client", client_host), Route("/stream", streamed)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", **api_server_options(settings)))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_keep_alive_and_streamed_answers_arrive_whole_without_a_server_header() -> None:
    async with api(Settings()) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):  # one connection, kept alive
            answer = await client.get("/client")
            assert answer.json() == {"client": "127.0.0.1"}
            assert "server" not in answer.headers
        stream = await client.get("/stream")
        assert stream.text == "".join(f"chunk {i};" for i in range(5))


async def test_forwarded_for_is_read_only_from_configured_proxies() -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    async with api(Settings()) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/client", headers=forwarded)).json() == {"client": "127.0.0.1"}
    trusting = Settings(JIEDAO_FORWARDED_ALLOW_IPS="127.0.0.1")
    async with api(trusting) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/client", headers=forwarded)).json() == {
            "client": "203.0.113.9"}
