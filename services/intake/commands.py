"""Commands of the intake service: the matter catalogue's admission procedure and the
community service station's front desk."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.types import (
    Code,
    Command,
    Flag,
    Identifier,
    LongText,
    Name,
    Note,
    Number,
    Text,
    Whole,
)

Level = Literal["street", "community", "district"]
Delegation = Literal["authorization", "entrustment"]


class Department(Command):
    code: Code = Field(description="e.g. `civil_affairs`")
    name_zh: Text
    name_en: Text


class Category(Command):
    code: Code
    name_zh: Text
    name_en: Text


class Material(Command):
    code: Code = Field(description="e.g. `id_card`")
    name_zh: Text
    name_en: Text


class MatterTerms(Command):
    """What a matter is: the part of the catalogue an admission proposal sets or changes."""

    name_zh: Text
    name_en: Text
    category: Category
    level: Level = Field(description="where it is handled: street, community, or district "
                                     "(the window can only refer it)")
    delegation: Delegation = Field(description="authorization 授权 or entrustment 委托")
    department: Department = Field(description="the district department that hands it down")
    time_limit_days: Whole = Field(ge=1, le=365, description="promised time limit, working days")
    materials: list[Material] = Field(default_factory=list, max_length=30)
    sourced: Flag = Field(description="True where the reform document itself names this "
                                      "matter or category; False for illustrative entries")

    @model_validator(mode="after")
    def materials_are_unique(self) -> MatterTerms:
        codes = [m.code for m in self.materials]
        if len(codes) != len(set(codes)):
            raise ValueError("each required material is listed once")
        return self


class ProposeMatter(Command):
    """A district department submits a matter for admission (new, changed, or withdrawn)."""

    matter_code: Code
    kind: Literal["new", "change", "withdrawal"]
    terms: MatterTerms | None = Field(None, description="required for new and change")
    reviewers: list[Department] = Field(min_length=1, max_length=10,
                                        description="relevant departments that review jointly")
    proposed_by: Department

    @model_validator(mode="after")
    def terms_match_kind(self) -> ProposeMatter:
        if self.kind != "withdrawal" and self.terms is None:
            raise ValueError("a new or changed matter needs its terms")
        if self.kind == "withdrawal" and self.terms is not None:
            raise ValueError("a withdrawal carries no terms")
        return self


class ReviewProposal(Command):
    department: Code
    verdict: Literal["approve", "object"]
    reason: Note = ""

    @model_validator(mode="after")
    def objection_has_reason(self) -> ReviewProposal:
        if self.verdict == "object" and not self.reason.strip():
            raise ValueError("an objection needs a reason")
        return self


class DecideProposal(Command):
    """The district government's decision, after all reviews approve."""

    decision: Literal["approve", "reject"]
    reason: Note = ""


class Applicant(Command):
    name: Name
    id_number: Identifier
    phone: Annotated[Identifier, Field(min_length=5)] | None = None


class Location(Command):
    lon: Number = Field(ge=-180, le=180)
    lat: Number = Field(ge=-90, le=90)


class FileApplication(Command):
    matter_code: Code
    community_id: Code = Field(description="the community service station filed at")
    applicant: Applicant
    address: Text
    location: Location = Field(description="the household's location; must fall in a grid "
                                           "of this community")
    materials: list[Code] = Field(default_factory=list, max_length=30,
                                  description="codes of the materials submitted")


class ReturnApplication(Command):
    """Returned for missing materials (the station lists them)."""

    missing: list[Code] = Field(min_length=1)
    note: Note = ""


class ResubmitMaterials(Command):
    materials: list[Code] = Field(min_length=1)


class AcceptApplication(Command):
    note: Note = ""


class CompleteApplication(Command):
    result: Text


class RefuseApplication(Command):
    reason: Text


class RecordConsultation(Command):
    community_id: Code
    topic: Text
    matter_code: Code | None = None
    answer: LongText
    answered_by: Text


class Holidays(Command):
    days: list[date]
