"""Command handlers: load the aggregates, let one decide, save its events."""

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
from shared.repository import Repository
from shared.store import AppendResult


async def register_street(repo: Repository, command: RegisterStreet, actor: Actor) -> AppendResult:
    street = await repo.load(Street(command.street_id))
    return await repo.save(street, street.register(command), actor=actor)


async def register_community(
    repo: Repository, command: RegisterCommunity, actor: Actor
) -> AppendResult:
    street = await repo.load(Street(command.street_id))
    community = await repo.load(Community(command.community_id))
    return await repo.save(community, community.register(command, street), actor=actor)


async def draw_grid(repo: Repository, command: DrawGrid, actor: Actor) -> AppendResult:
    community = await repo.load(Community(command.community_id))
    grid = await repo.load(Grid(command.grid_id))
    return await repo.save(grid, grid.draw(command, community), actor=actor)


async def recount_households(
    repo: Repository, grid_id: str, command: RecountHouseholds, actor: Actor,
    expected_version: int | None = None,
) -> AppendResult:
    grid = await repo.load(Grid(grid_id))
    return await repo.save(grid, grid.recount(command), actor=actor,
                           expected_version=expected_version)


async def enroll_member(
    repo: Repository, grid_id: str, command: EnrollMember, actor: Actor
) -> AppendResult:
    grid = await repo.load(Grid(grid_id))
    return await repo.save(grid, grid.enroll(command), actor=actor)


async def assign_manager(
    repo: Repository, grid_id: str, command: AssignManager, actor: Actor
) -> AppendResult:
    grid = await repo.load(Grid(grid_id))
    return await repo.save(grid, grid.assign_manager(command), actor=actor)
