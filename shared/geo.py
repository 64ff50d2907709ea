"""Locating a point among grid boundaries (GB/T 30428.1 unit grids): the one geometry path,
used by the grid service's locate endpoint and by every service's replica of the territory.
Pure: shapely and numpy only; where the boundaries come from is the caller's business."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import numpy
import orjson
from shapely import intersects_xy, prepare
from shapely.geometry import shape

# A read model may keep each boundary's bounding box beside it (grid's does).
BBOX_COLUMNS = "min_lon double precision NOT NULL, min_lat double precision NOT NULL, " \
               "max_lon double precision NOT NULL, max_lat double precision NOT NULL"

P = TypeVar("P")


def bounds(geojson: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a GeoJSON geometry."""
    return shape(geojson).bounds


class BoundaryIndex(Generic[P]):
    """Prepared boundaries, each with what a hit answers (`place`), in the order given.
    A point is tested against all of them in one vectorised call (bounding boxes first):
    ~10 µs for Chenghua's 165 grids, and no geometry object is made per point."""

    def __init__(self, entries: Iterable[tuple[P, dict[str, Any] | str]]) -> None:
        """`entries`: (place, GeoJSON boundary as a dict or as JSON text)."""
        self.places: list[P] = []
        geometries = []
        for place, boundary in entries:
            self.places.append(place)
            geometries.append(shape(orjson.loads(boundary) if isinstance(boundary, str)
                                    else boundary))
        self.shapes = numpy.array(geometries, dtype=object)
        prepare(self.shapes)

    def __len__(self) -> int:
        return len(self.places)

    def locate(self, lon: float, lat: float) -> P | None:
        """The place whose boundary covers the point, edge included (the first one given
        where boundaries share an edge)."""
        hits = numpy.flatnonzero(intersects_xy(self.shapes, lon, lat))
        return self.places[hits[0]] if len(hits) else None
