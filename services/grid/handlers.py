"""Command handlers: load the aggregates, let one decide, save its events. A command sent
with an Idempotency-Key passes its `idempotency` (see shared/idempotency.py)."""

from __future__ import annotations

from services.grid.commands import (
    AssignManager,
    DrawGrid,
    EnrollMember,
    RecountHouseholds,
    RegisterCommunity,
    RegisterStreet,
)
from services.grid.domain import Community, Grid, Street
from shared.envelope import Actor
from shared.idempotency import Idempotency
from shared.repository import Repository
from shared.store import AppendResult


async def register_street(repo: Repository, command: RegisterStreet, actor: Actor,
                          idempotency: Idempotency | None = None) -> AppendResult:
    return await repo.act(Street(command.street_id), lambda street: street.register(command),
                          actor=actor, idempotency=idempotency)


async def register_community(repo: Repository, command: RegisterCommunity, actor: Actor,
                             idempotency: Idempotency | None = None) -> AppendResult:
    street = await repo.load(Street(command.street_id))
    return await repo.act(Community(command.community_id),
                          lambda community: community.register(command, street),
                          actor=actor, idempotency=idempotency)


async def draw_grid(repo: Repository, command: DrawGrid, actor: Actor,
                    idempotency: Idempotency | None = None) -> AppendResult:
    community = await repo.load(Community(command.community_id))
    return await repo.act(Grid(command.grid_id), lambda grid: grid.draw(command, community),
                          actor=actor, idempotency=idempotency)


async def recount_households(
    repo: Repository, grid_id: str, command: RecountHouseholds, actor: Actor,
    expected_version: int | None = None, idempotency: Idempotency | None = None,
) -> AppendResult:
    return await repo.act(Grid(grid_id), lambda grid: grid.recount(command), actor=actor,
                          expected_version=expected_version, idempotency=idempotency)


async def enroll_member(repo: Repository, grid_id: str, command: EnrollMember, actor: Actor,
                        idempotency: Idempotency | None = None) -> AppendResult:
    return await repo.act(Grid(grid_id), lambda grid: grid.enroll(command), actor=actor,
                          idempotency=idempotency)


async def assign_manager(repo: Repository, grid_id: str, command: AssignManager, actor: Actor,
                         idempotency: Idempotency | None = None) -> AppendResult:
    return await repo.act(Grid(grid_id), lambda grid: grid.assign_manager(command), actor=actor,
                          idempotency=idempotency)
