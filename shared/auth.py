"""Who is acting. Until real sign-in exists, callers name themselves in two headers.

Dependencies here and in the routers are `async def`: FastAPI runs a plain `def` dependency
in a worker thread, which costs more than the dependency itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from shared.envelope import Actor


async def current_actor(
    x_actor_id: Annotated[str, Header(min_length=1, max_length=64)] = "anonymous",
    x_actor_role: Annotated[str, Header(min_length=1, max_length=64)] = "operator",
) -> Actor:
    return Actor(user_id=x_actor_id, role=x_actor_role)


ActorDep = Annotated[Actor, Depends(current_actor)]
