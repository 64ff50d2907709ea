"""Read endpoints over the accounts read model, for the administrator (and the auditor).
What they show of a user: username, name, grants, disabled; never a password hash."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends

from services.accounts.projections import AccountsProjection
from shared.access import Role
from shared.auth import Caller, readable_by
from shared.errors import NotFound
from shared.freshness import FreshnessDep, after_tokens
from shared.http import app_state, page

router = APIRouter(tags=["accounts (read)"])
USER_COLUMNS = "username, name, grants, disabled, registered_at"


class AccountsView:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.s = schema

    async def users(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(f"SELECT {USER_COLUMNS} FROM {self.s}.users "
                                     "ORDER BY username")
        return [dict(r) for r in rows]

    async def user(self, username: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(f"SELECT {USER_COLUMNS} FROM {self.s}.users "
                                       "WHERE username = $1", username)
        if row is None:
            raise NotFound(f"no user {username!r}", field="username")
        return dict(row)

    async def api_keys(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(f"SELECT key_id, client_name, revoked, issued_at "
                                     f"FROM {self.s}.api_keys ORDER BY issued_at, key_id")
        return [dict(r) for r in rows]


Administrator = Annotated[Caller, readable_by(Role.ADMINISTRATOR)]
ViewDep = Annotated[AccountsView, Depends(app_state("accounts_view"))]
ACCOUNTS = AccountsProjection.name
Consistent = Annotated[None, Depends(after_tokens(ACCOUNTS))]


@router.get("/users")
async def list_users(view: ViewDep, _: Consistent, __: Administrator) -> dict[str, Any]:
    """Every user: username, name, grants, whether disabled."""
    return page(await view.users())


@router.get("/users/{username}")
async def get_user(username: str, view: ViewDep, freshness: FreshnessDep,
                   _: Administrator) -> dict[str, Any]:
    await freshness.settled(ACCOUNTS, f"user-{username}")  # every step taken shows
    return await view.user(username)


@router.get("/api-keys")
async def list_api_keys(view: ViewDep, _: Consistent, __: Administrator) -> dict[str, Any]:
    """Every Open311 API key issued: its id, client and whether revoked (never the key)."""
    return page(await view.api_keys())
