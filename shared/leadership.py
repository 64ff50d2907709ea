"""One active process per role (e.g. one relay per store): a PostgreSQL session advisory lock.

The lock lives as long as the connection that took it, so a process that dies (even `kill -9`)
releases it when PostgreSQL notices the closed socket, and a standby takes over. A process that
loses its connection loses the lock too: it must stop acting at once (`lost` is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

log = logging.getLogger(__name__)

_ROLE_CLASS = "jiedao.leader"  # the lock's first key: keeps these apart from other advisory locks


@contextlib.asynccontextmanager
async def leadership(
    database_url: str, role: str, *, retry_seconds: float = 1.0, ping_seconds: float = 2.0
) -> AsyncIterator[asyncio.Event]:
    """Wait (as a standby) until this process holds `role`, then hold it while the context is
    open. Yields an event that is set when the lock's connection is lost."""
    con = await asyncpg.connect(database_url)
    lost = asyncio.Event()
    con.add_termination_listener(lambda *_: lost.set())
    pinging: asyncio.Task[None] | None = None
    try:
        await _acquire(con, role, retry_seconds)
        pinging = asyncio.create_task(_ping(con, lost, ping_seconds))
        yield lost
    finally:
        if pinging is not None:
            pinging.cancel()
            await asyncio.gather(pinging, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await con.close()  # releases the lock
        con.terminate()


async def _acquire(con: asyncpg.Connection, role: str, retry_seconds: float) -> None:
    standby = False
    while not await con.fetchval(
        "SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))", _ROLE_CLASS, role
    ):
        if not standby:
            log.info("%s: standby (another process holds the lock); waiting to take over", role)
            standby = True
        await asyncio.sleep(retry_seconds)
    log.info("%s: active%s", role, " (took over)" if standby else "")


async def _ping(con: asyncpg.Connection, lost: asyncio.Event, every: float) -> None:
    """A connection that died silently is found out by using it."""
    while not lost.is_set():
        await asyncio.sleep(every)
        try:
            async with asyncio.timeout(every * 2):
                await con.fetchval("SELECT 1")
        except Exception:
            lost.set()
