"""PostgreSQL connection pools, made the same way everywhere."""

from __future__ import annotations

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

