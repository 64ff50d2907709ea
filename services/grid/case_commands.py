"""Commands of the grid back desk: the case API's input (README "Grid back desk")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.grid.deadlines import CATEGORIES
from shared.types import Code, Command, Flag, Note, Number, Text, Whole

Satisfaction = Annotated[Whole, Field(ge=1, le=5, description="1 (very unhappy) to 5")]
PhotoRef = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x20\x7f]+$",
                                description="A stored photo's URL or object key")]


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lon: Number = Field(ge=-180, le=180)
    lat: Number = Field(ge=-90, le=90)


class RegisterCase(Command):
    """A case opened on patrol (by the grid's members) or from a complaint (at the front
    desk or the street)."""

    source: Literal["patrol", "complaint"]
    category: str = Field(description="A problem type code, e.g. `problem.streetscape`")
    urgency: Literal["normal", "urgent"] = "normal"
    description: Text
    location: Location
    address: Note = ""
    photos: list[PhotoRef] = Field(default_factory=list, max_length=20)

    @field_validator("category")
    @classmethod
    def is_a_category(cls, category: str) -> str:
        if category not in CATEGORIES:
            raise ValueError(f"no category {category!r}; one of: {', '.join(sorted(CATEGORIES))}")
        return category


class DispatchCase(Command):
    handler_id: Code
    grid_id: Code | None = Field(None, description="Another grid to move the case to")


class AcceptCase(Command):
    pass


class NoteProgress(Command):
    note: Text


class ResolveCase(Command):
    result: Text


class SendBack(Command):
    reason: Literal["wrong_grid", "not_our_matter"]
    note: Note = ""


class RuleOnSendBack(Command):
    upheld: Flag
    note: Note = ""
    grid_id: Code | None = Field(None, description="Upheld: the grid it goes to (default: its own)")
    handler_id: Code | None = Field(None, description="Upheld: the manager it goes to")


class ReferCase(Command):
    domain: Literal["city_management", "public_security", "traffic_order"]
    violation_hint: Text


class VerifyCase(Command):
    passed: Flag
    by: Literal["grid", "resident"]
    satisfaction: Satisfaction | None = None
    comment: Note = ""


class ReopenCase(Command):
    reason: Text


class ReturnVisit(Command):
    satisfaction: Satisfaction
    comment: Note = ""


class PostponeCase(Command):
    deadline: AwareDatetime
    reason: Text


class MergeCase(Command):
    master_id: Code

