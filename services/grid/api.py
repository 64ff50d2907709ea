"""Command endpoints of the grid service (territory registry)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from services.grid import handlers
from services.grid.commands import (
    AssignManager,
    DrawGrid,
    EnrollMember,
    RecountHouseholds,
    RegisterCommunity,
    RegisterStreet,
)
from shared.auth import ActorDep
from shared.http import IdempotencyKey, accepted
from shared.idempotency import Idempotency
from shared.repository import Repository

router = APIRouter(tags=["territory (commands)"])


async def get_repository(request: Request) -> Repository:
    return request.app.state.repository


RepoDep = Annotated[Repository, Depends(get_repository)]
IfMatch = Annotated[int | None, Header(description="The grid version the caller last read")]


@router.post("/streets", status_code=201)
async def register_street(command: RegisterStreet, repo: RepoDep, actor: ActorDep,
                          idempotency_key: IdempotencyKey = None) -> dict:
    result = await handlers.register_street(
        repo, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"street-{command.street_id}", result)


@router.post("/communities", status_code=201)
async def register_community(command: RegisterCommunity, repo: RepoDep, actor: ActorDep,
                             idempotency_key: IdempotencyKey = None) -> dict:
    result = await handlers.register_community(
        repo, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"community-{command.community_id}", result)


@router.post("/grids", status_code=201)
async def draw_grid(command: DrawGrid, repo: RepoDep, actor: ActorDep,
                    idempotency_key: IdempotencyKey = None) -> dict:
    """Draw a grid of at least 300 households inside a community."""
    result = await handlers.draw_grid(
        repo, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"grid-{command.grid_id}", result)


@router.put("/grids/{grid_id}/households")
async def recount_households(
    grid_id: str, command: RecountHouseholds, repo: RepoDep, actor: ActorDep,
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
) -> dict:
    result = await handlers.recount_households(
        repo, grid_id, command, actor, if_match,
        Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"grid-{grid_id}", result)


@router.post("/grids/{grid_id}/members", status_code=201)
async def enroll_member(
    grid_id: str, command: EnrollMember, repo: RepoDep, actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    result = await handlers.enroll_member(
        repo, grid_id, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"grid-{grid_id}", result)


@router.put("/grids/{grid_id}/manager")
async def assign_manager(
    grid_id: str, command: AssignManager, repo: RepoDep, actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    result = await handlers.assign_manager(
        repo, grid_id, command, actor, Idempotency.of(idempotency_key, command, actor.user_id))
    return accepted(f"grid-{grid_id}", result)
