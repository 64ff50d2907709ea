"""Commands of the grid service: the API's input for the territory registry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.types import Code, Command, Flag, Name, NameEn, Number, Whole

NameZh = Name
MAX_HOUSEHOLDS = 1_000_000  # far above any grid; keeps the count an SQL integer
StreetKind = Literal["urban", "agriculture_related"]
MemberRole = Literal["coordinator", "student_volunteer", "two_committees_member"]


class RegisterStreet(Command):
    street_id: Code
    name_zh: NameZh
    name_en: NameEn
    kind: StreetKind
    sourced: Flag = Field(description="True where public sources confirm this street")


class RegisterCommunity(Command):
    community_id: Code
    street_id: Code
    name_zh: NameZh
    name_en: NameEn
    sourced: Flag = Field(description="True where public sources confirm this community")


class GeoJsonPolygon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["Polygon"]
    coordinates: list[list[tuple[Number, Number]]] = Field(
        min_length=1, description="Rings of [longitude, latitude]; the first is the outer ring"
    )

    @field_validator("coordinates")
    @classmethod
    def rings_are_closed(cls, rings: list[list[tuple[float, float]]]) -> Any:
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError(
                    "each ring needs at least 4 positions, the last equal to the first"
                )
            for lon, lat in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError(f"position ({lon}, {lat}) is not a longitude, latitude pair")
        return rings


class DrawGrid(Command):
    grid_id: Code
    community_id: Code
    name_zh: NameZh
    name_en: NameEn
    households: Whole = Field(ge=0, le=MAX_HOUSEHOLDS,
                            description="Households in the grid; at least 300")
    boundary: GeoJsonPolygon
    illustrative: Flag = Field(description="True for generated (not surveyed) grids")


class RecountHouseholds(Command):
    households: Whole = Field(ge=0, le=MAX_HOUSEHOLDS)


class EnrollMember(Command):
    member_id: Code
    name: Name
    role: MemberRole


class AssignManager(Command):
    member_id: Code


class AddManager(Command):
    member_id: Code
