"""Commands of the enforcement service: the API's input for teams and violations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from services.enforcement.events import ActivityKind, Decision, Force, Source
from shared.types import Code, Command, Flag, Identifier, Moment, Name, Note, Number, Text

Reference = Text  # a stored photo's or document's URL or object key


class EnrollOfficer(Command):
    officer_id: Code
    name: Name
    force: Force = Field(description="the force the officer comes from: city_management "
                                     "城管, public_security 治安, traffic_order 交通")


class LogActivity(Command):
    kind: ActivityKind
    summary: Text
    at: Moment = Field(description="when it took place")
    officers: list[Code] = Field(default_factory=list, max_length=50,
                                 description="enrolled officers who took part")


class Location(Command):
    lon: Number = Field(ge=-180, le=180)
    lat: Number = Field(ge=-90, le=90)


class Offender(Command):
    kind: Literal["person", "business"]
    name: Name
    id_number: Identifier | None = Field(None, description="a person's ID number")
    licence: Identifier | None = Field(None, description="a business's licence number")
    phone: Identifier | None = None


class RecordViolation(Command):
    street_id: Code = Field(description="the team's street; the location must lie in it")
    type: Code = Field(description="a violation type code of GET /catalogue")
    location: Location
    address: Text
    evidence: list[Reference] = Field(default_factory=list, max_length=20)
    source: Source
    referral_id: Code | None = None
    case_id: Code | None = None
    offender: Offender

    @model_validator(mode="after")
    def referral_names_its_case(self) -> RecordViolation:
        if (self.referral_id is None) != (self.case_id is None):
            raise ValueError("referral_id and case_id are given together or not at all")
        if self.referral_id is not None and self.source != "referral":
            raise ValueError("a violation with a referral_id has source 'referral'")
        return self


class DecideViolation(Command):
    decision: Decision
    amount: Number | None = Field(None, description="yuan, for a fine: within the type's range")
    rectify: Flag = Field(False, description="also order rectification (implied by "
                                             "rectification_order)")
    deadline: Moment | None = Field(None, description="of the order to rectify; default: "
                                                             "the type's rectification days")
    note: Note = ""

    @model_validator(mode="after")
    def amount_only_for_a_fine(self) -> DecideViolation:
        if (self.amount is None) == (self.decision == "fine"):
            raise ValueError("a fine needs an amount; no other decision takes one")
        if self.deadline is not None and not self.orders_rectification:
            raise ValueError("a deadline comes with an order to rectify only")
        return self

    @property
    def orders_rectification(self) -> bool:
        return self.rectify or self.decision == "rectification_order"


class DismissViolation(Command):
    reason: Text


class ReportRectification(Command):
    note: Note = ""
    evidence: list[Reference] = Field(default_factory=list, max_length=20)


class VerifyRectification(Command):
    passed: Flag
    note: Note = ""
    deadline: Moment | None = Field(None, description="failed: a new deadline (default: "
                                                             "the order's, unchanged)")


class CloseViolation(Command):
    note: Note = ""

