"""The units assessed: each street's office (street_office scheme) and its investment service
sub-centre (investment_subcentre scheme), one of each per street, learnt from the grid's
territory (`grid.street.registered`)."""

from __future__ import annotations

from services.assessment.indicators import Kind

PREFIX: dict[Kind, str] = {"street_office": "office", "investment_subcentre": "subcentre"}
NAMES: dict[Kind, tuple[str, str]] = {
    "street_office": ("街道办事处", "street office"),
    "investment_subcentre": ("投资服务分中心", "investment service sub-centre"),
}


def unit_id(kind: Kind, street_id: str) -> str:
    return f"{PREFIX[kind]}-{street_id}"


def parse_unit(unit: str) -> tuple[Kind, str]:
    """(kind, street_id) of a unit id; ValueError if it names no unit."""
    prefix, _, street_id = unit.partition("-")
    for kind, p in PREFIX.items():
        if prefix == p and street_id:
            return kind, street_id
    raise ValueError("a unit is office-<street_id> or subcentre-<street_id>")
