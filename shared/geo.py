"""Locating a point among polygons stored with their bounding boxes (GB/T 30428.1 unit grids).

A table that stores GeoJSON `boundary` plus `min_lon`, `min_lat`, `max_lon`, `max_lat` can be
searched by bounding box in SQL first, then exactly with shapely.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from shapely.geometry import Point, shape

BBOX_COLUMNS = "min_lon double precision NOT NULL, min_lat double precision NOT NULL, " \
               "max_lon double precision NOT NULL, max_lat double precision NOT NULL"


def bounds(geojson: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a GeoJSON geometry."""
    return shape(geojson).bounds


async def find_containing(
    pool: asyncpg.Pool, table: str, columns: str, lon: float, lat: float
) -> asyncpg.Record | None:
    """The first row (by its first column) of `table` whose boundary covers the point."""
    candidates = await pool.fetch(
        f"SELECT {columns}, boundary::text AS boundary FROM {table} "
        "WHERE min_lon <= $1 AND $1 <= max_lon AND min_lat <= $2 AND $2 <= max_lat "
        "ORDER BY 1",
        lon,
        lat,
    )
    point = Point(lon, lat)
    for row in candidates:
        if shape(orjson.loads(row["boundary"])).covers(point):
            return row
    return None
