"""Events of the grid service (territory registry)."""

from __future__ import annotations

from typing import Any, Literal

from shared.events import DomainEvent, EventRegistry

registry = EventRegistry()


@registry.register
class StreetRegistered(DomainEvent):
    TYPE = "grid.street.registered"
    street_id: str
    name_zh: str
    name_en: str
    kind: Literal["urban", "agriculture_related"]
    sourced: bool


@registry.register
class CommunityRegistered(DomainEvent):
    TYPE = "grid.community.registered"
    community_id: str
    street_id: str
    name_zh: str
    name_en: str
    sourced: bool


@registry.register
class GridDrawn(DomainEvent):
    TYPE = "grid.grid.drawn"
    grid_id: str
    community_id: str
    street_id: str
    name_zh: str
    name_en: str
    households: int
    boundary: dict[str, Any]
    illustrative: bool


@registry.register
class HouseholdsRecounted(DomainEvent):
    TYPE = "grid.grid.households_recounted"
    grid_id: str
    community_id: str
    street_id: str
    households: int
    previous: int


@registry.register
class MemberEnrolled(DomainEvent):
    TYPE = "grid.member.enrolled"
    grid_id: str
    community_id: str
    street_id: str
    member_id: str
    name: str
    role: Literal["coordinator", "student_volunteer", "two_committees_member"]


@registry.register
class ManagerAssigned(DomainEvent):
    TYPE = "grid.grid.manager_assigned"
    grid_id: str
    community_id: str
    street_id: str
    member_id: str


@registry.register
class ManagerAdded(DomainEvent):
    """Another manager for the grid (a grid may have several; cases go to the least loaded)."""

    TYPE = "grid.grid.manager_added"
    grid_id: str
    community_id: str
    street_id: str
    member_id: str
