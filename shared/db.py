"""PostgreSQL connection pools, made the same way everywhere."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg


async def _keep_session(con: asyncpg.Connection) -> None:
    """Connections are returned to the pool as they are: no code here uses session state
    (SET, LISTEN, session advisory locks), and the default reset costs a round trip."""


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        # Tables start empty and grow fast; generic plans made when they were empty would
        # keep choosing sequential scans. Plan each statement with its actual parameters.
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server at `url` unless it exists; returns its URL."""
    con = await asyncpg.connect(url)
    try:
        if not await con.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    return with_database(url, name)
