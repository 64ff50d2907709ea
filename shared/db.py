"""PostgreSQL connection pools, made the same way everywhere."""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions._base import DataError as ArgumentError

from shared.errors import CheckpointMoved, StoreUnavailable


async def _keep_session(con: asyncpg.Connection) -> None:
    """Connections are returned to the pool as they are: no code here leaves session state
    behind (SET, LISTEN; a rebuild releases its advisory lock itself), and the default reset
    costs a round trip."""


def client_name(service: str, part: str) -> str:
    """What a part of a service calls its connections (`jiedao intake api`): their
    application_name, so pg_stat_activity, and the benchmarks' CPU split, tell whose they are."""
    return f"jiedao {service} {part}"


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 20,
                      name: str = "jiedao") -> asyncpg.Pool:
    """`name`: the application_name PostgreSQL shows for these connections (pg_stat_activity;
    `client_name`)."""
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        # Tables start empty and grow fast; generic plans made when they were empty would
        # keep choosing sequential scans. Plan each statement with its actual parameters.
        server_settings={"plan_cache_mode": "force_custom_plan", "application_name": name},
    )



# SQLSTATE classes that say "try again": connection (08), transaction rollback such as a
# deadlock or serialization failure (40), resources (53), operator intervention such as a
# shutdown or restart (57), system error (58); and a lock not available now (55P03).
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def transient(exc: BaseException) -> bool:
    """Whether `exc` says PostgreSQL could not run a statement now, rather than that the
    statement itself can never succeed (a batch another applier overtook is tried again)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in _TRANSIENT_CLASSES or state == "55P03"
    if isinstance(exc, ArgumentError):  # asyncpg refused an argument: it never will take it
        return False
    return isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError | StoreUnavailable
                      | CheckpointMoved)
