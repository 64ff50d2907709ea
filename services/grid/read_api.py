"""Read endpoints over the territory read model (built by the Faust worker).

The district's map is for everyone signed in; who a grid's members are only for those who
keep that grid (civil affairs, its street office, its members and manager, the auditor)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query

from services.grid.projections import TerritoryProjection
from shared.access import Place, Role
from shared.auth import Caller, readable_by
from shared.errors import NotFound
from shared.freshness import FreshnessDep, after_tokens
from shared.geo import BoundaryIndex
from shared.http import app_state, page
from shared.snapshot import Snapshot

router = APIRouter(prefix="/territory", tags=["territory (read)"])


class TerritoryView:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.s = schema
        # Checked on every locate (one cheap query): a read after a drawing finds the grid.
        self.boundaries = Snapshot(pool, schema, TerritoryProjection.name,
                                   self._boundaries, max_age=0)

    async def streets(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT st.*, count(DISTINCT c.community_id) AS communities, "
            f"count(g.grid_id) AS grids, coalesce(sum(g.households), 0) AS households "
            f"FROM {self.s}.streets st LEFT JOIN {self.s}.communities c USING (street_id) "
            f"LEFT JOIN {self.s}.grids g USING (community_id) "
            "GROUP BY st.street_id ORDER BY st.kind DESC, st.street_id"
        )
        return [dict(r) for r in rows]

    async def street(self, street_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.s}.streets WHERE street_id = $1", street_id
        )
        if row is None:
            raise NotFound(f"no street {street_id!r}", field="street_id")
        communities = await self.pool.fetch(
            f"SELECT c.*, count(g.grid_id) AS grids, coalesce(sum(g.households), 0) AS households "
            f"FROM {self.s}.communities c LEFT JOIN {self.s}.grids g USING (community_id) "
            "WHERE c.street_id = $1 GROUP BY c.community_id ORDER BY c.community_id",
            street_id,
        )
        return {**dict(row), "communities": [dict(c) for c in communities]}

    async def community(self, community_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.s}.communities WHERE community_id = $1", community_id
        )
        if row is None:
            raise NotFound(f"no community {community_id!r}", field="community_id")
        grids = await self.pool.fetch(
            f"SELECT grid_id, name_zh, name_en, households, illustrative, manager_id, managers "
            f"FROM {self.s}.grids WHERE community_id = $1 ORDER BY grid_id",
            community_id,
        )
        return {**dict(row), "grids": [dict(g) for g in grids]}

    async def grid(self, grid_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT grid_id, community_id, street_id, name_zh, name_en, households, "
            f"illustrative, manager_id, managers, boundary::text AS boundary FROM {self.s}.grids "
            "WHERE grid_id = $1",
            grid_id,
        )
        if row is None:
            raise NotFound(f"no grid {grid_id!r}", field="grid_id")
        members = await self.pool.fetch(
            f"SELECT member_id, name, role FROM {self.s}.members WHERE grid_id = $1 "
            "ORDER BY member_id",
            grid_id,
        )
        grid = dict(row)
        grid["boundary"] = orjson.loads(grid["boundary"])
        return {**grid, "members": [dict(m) for m in members]}

    async def locate(self, lon: float, lat: float) -> dict[str, Any]:
        """The grid whose boundary covers the point (the lowest grid id on a shared edge)."""
        place = await self.boundaries.ask(lambda index: index.locate(lon, lat))
        if place is None:
            raise NotFound(f"no grid contains ({lon}, {lat})", field="lon")
        return place

    async def _boundaries(self) -> BoundaryIndex[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT grid_id, community_id, street_id, boundary::text AS boundary "
            f"FROM {self.s}.grids ORDER BY grid_id"
        )
        return BoundaryIndex(({"grid_id": r["grid_id"], "community_id": r["community_id"],
                               "street_id": r["street_id"]}, r["boundary"]) for r in rows)


Anyone = Annotated[Caller, readable_by(*Role)]
GRID_KEEPERS = (Role.CIVIL_AFFAIRS, Role.STREET_OFFICE_STAFF, Role.GRID_MEMBER,
                Role.GRID_MANAGER, Role.AUDITOR)
ViewDep = Annotated[TerritoryView, Depends(app_state("territory_view"))]
TERRITORY = TerritoryProjection.name
# A list waits for the consistency tokens it is given (`?after=`): shared/freshness.py.
Consistent = Annotated[None, Depends(after_tokens(TERRITORY))]


@router.get("/streets")
async def list_streets(view: ViewDep, _: Consistent, __: Anyone) -> dict[str, Any]:
    """The district's streets with their community, grid and household counts."""
    return page(await view.streets())


@router.get("/streets/{street_id}")
async def get_street(street_id: str, view: ViewDep, freshness: FreshnessDep,
                     _: Anyone) -> dict[str, Any]:
    await freshness.settled(TERRITORY, f"street-{street_id}")  # every step taken shows
    return await view.street(street_id)


@router.get("/communities/{community_id}")
async def get_community(community_id: str, view: ViewDep, freshness: FreshnessDep,
                        _: Anyone) -> dict[str, Any]:
    await freshness.settled(TERRITORY, f"community-{community_id}")  # every step taken shows
    return await view.community(community_id)


@router.get("/grids/{grid_id}")
async def get_grid(grid_id: str, view: ViewDep, freshness: FreshnessDep,
                   caller: Anyone) -> dict[str, Any]:
    """A grid, its boundary and manager; its members for those who keep it."""
    await freshness.settled(TERRITORY, f"grid-{grid_id}")  # every step taken shows
    grid = await view.grid(grid_id)
    place = Place.of(street=grid["street_id"], community=grid["community_id"], grid=grid_id)
    if caller.principal.covering(GRID_KEEPERS, place) is None:
        grid.pop("members")
    return grid


@router.get("/locate", responses={404: {"description": "No grid contains the point"}})
async def locate(
    view: ViewDep, _: Consistent, __: Anyone,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude")],
) -> dict[str, Any]:
    """Which grid (and community, street) a location falls in."""
    return await view.locate(lon, lat)
