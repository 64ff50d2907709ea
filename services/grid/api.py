"""Command endpoints of the grid service (territory registry): each one loads an aggregate,
lets it decide and saves its events (shared/commands.py's `act`).

The district civil affairs bureau (区民政局) keeps the territory; a street office (街道办事处)
also keeps its own grids' households, members and managers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from services.grid.commands import (
    AddManager,
    AssignManager,
    DrawGrid,
    EnrollMember,
    RecountHouseholds,
    RegisterCommunity,
    RegisterStreet,
)
from services.grid.domain import Community, Grid, Street
from shared.access import Role
from shared.commands import RepoDep, Sender, act, by
from shared.http import Accepted

router = APIRouter(tags=["territory (commands)"])
Territory = Annotated[Sender, by(Role.CIVIL_AFFAIRS)]
ItsGrids = Annotated[Sender, by(Role.CIVIL_AFFAIRS, Role.STREET_OFFICE_STAFF)]
IfMatch = Annotated[int | None, Header(description="The grid version the caller last read")]


@router.post("/streets", status_code=201, response_model=Accepted)
async def register_street(command: RegisterStreet, repo: RepoDep, sender: Territory) -> dict:
    return await act(repo, Street(command.street_id), lambda s: s.register(command),
                     command, sender)


@router.post("/communities", status_code=201, response_model=Accepted)
async def register_community(command: RegisterCommunity, repo: RepoDep,
                             sender: Territory) -> dict:
    street = await repo.load(Street(command.street_id))
    return await act(repo, Community(command.community_id),
                     lambda c: c.register(command, street), command, sender)


@router.post("/grids", status_code=201, response_model=Accepted)
async def draw_grid(command: DrawGrid, repo: RepoDep, sender: Territory) -> dict:
    """Draw a grid of at least 300 households inside a community."""
    community = await repo.load(Community(command.community_id))
    return await act(repo, Grid(command.grid_id), lambda g: g.draw(command, community),
                     command, sender)


@router.put("/grids/{grid_id}/households", response_model=Accepted)
async def recount_households(grid_id: str, command: RecountHouseholds, repo: RepoDep,
                             sender: ItsGrids, if_match: IfMatch = None) -> dict:
    return await act(repo, Grid(grid_id), lambda g: g.recount(command), command, sender,
                     expected_version=if_match)


@router.post("/grids/{grid_id}/members", status_code=201, response_model=Accepted)
async def enroll_member(grid_id: str, command: EnrollMember, repo: RepoDep,
                        sender: ItsGrids) -> dict:
    return await act(repo, Grid(grid_id), lambda g: g.enroll(command), command, sender)


@router.put("/grids/{grid_id}/manager", response_model=Accepted)
async def assign_manager(grid_id: str, command: AssignManager, repo: RepoDep,
                         sender: ItsGrids) -> dict:
    return await act(repo, Grid(grid_id), lambda g: g.assign_manager(command), command, sender)


@router.post("/grids/{grid_id}/managers", status_code=201, response_model=Accepted)
async def add_manager(grid_id: str, command: AddManager, repo: RepoDep,
                      sender: ItsGrids) -> dict:
    """Another manager for the grid, from its members: new cases go to the least loaded."""
    return await act(repo, Grid(grid_id), lambda g: g.add_manager(command), command, sender)
