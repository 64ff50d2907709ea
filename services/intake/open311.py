"""Open311 GeoReport v2 (placeholder; being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
