"""The territory registry: streets, communities, grids and their members. Pure Python.

Each aggregate decides (a command method checks the rules and returns new events) and
changes state only by `apply`ing events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.grid.commands import (
    AddManager,
    AssignManager,
    DrawGrid,
    EnrollMember,
    RecountHouseholds,
    RegisterCommunity,
    RegisterStreet,
)
from services.grid.events import (
    CommunityRegistered,
    GridDrawn,
    HouseholdsRecounted,
    ManagerAdded,
    ManagerAssigned,
    MemberEnrolled,
    StreetRegistered,
)
from shared.access import Place
from shared.errors import DomainError, NotFound
from shared.events import DomainEvent

MIN_GRID_HOUSEHOLDS = 300


class GridTooSmall(DomainError):
    def __init__(self, households: int) -> None:
        super().__init__(
            f"a grid must have at least {MIN_GRID_HOUSEHOLDS} households; {households} given",
            field="households",
        )


class AlreadyRegistered(DomainError):
    status = 409


@dataclass
class Street:
    street_id: str
    version: int = 0
    kind: str | None = None

    @property
    def stream_id(self) -> str:
        return f"street-{self.street_id}"

    def register(self, command: RegisterStreet) -> list[DomainEvent]:
        if self.kind is not None:
            raise AlreadyRegistered(f"street {self.street_id} is already registered",
                                    field="street_id")
        return [StreetRegistered(**command.model_dump())]

    def require(self, field_name: str = "street_id") -> Street:
        if self.kind is None:
            raise NotFound(f"no street {self.street_id!r}", field=field_name)
        return self

    def place(self) -> Place:
        return Place.of(street=self.street_id)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, StreetRegistered):
            self.kind = event.kind


@dataclass
class Community:
    community_id: str
    version: int = 0
    street_id: str | None = None

    @property
    def stream_id(self) -> str:
        return f"community-{self.community_id}"

    def register(self, command: RegisterCommunity, street: Street) -> list[DomainEvent]:
        street.require()
        if self.street_id is not None:
            raise AlreadyRegistered(f"community {self.community_id} is already registered",
                                    field="community_id")
        return [CommunityRegistered(**command.model_dump())]

    def require(self, field_name: str = "community_id") -> Community:
        if self.street_id is None:
            raise NotFound(f"no community {self.community_id!r}", field=field_name)
        return self

    def place(self) -> Place:
        return Place.of(street=self.street_id, community=self.community_id)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, CommunityRegistered):
            self.street_id = event.street_id


@dataclass
class Grid:
    grid_id: str
    version: int = 0
    community_id: str | None = None
    street_id: str | None = None
    households: int = 0
    members: dict[str, str] = field(default_factory=dict)  # member id -> role
    manager_id: str | None = None  # the one `PUT /grids/{id}/manager` assigns
    added_managers: list[str] = field(default_factory=list)  # those added besides

    @property
    def stream_id(self) -> str:
        return f"grid-{self.grid_id}"

    @property
    def managers(self) -> list[str]:
        """Every manager of the grid, sorted: the assigned one and those added."""
        return sorted({*self.added_managers, *([self.manager_id] if self.manager_id else [])})

    def draw(self, command: DrawGrid, community: Community) -> list[DomainEvent]:
        community.require()
        if self.community_id is not None:
            raise AlreadyRegistered(f"grid {self.grid_id} is already drawn", field="grid_id")
        if command.households < MIN_GRID_HOUSEHOLDS:
            raise GridTooSmall(command.households)
        return [GridDrawn(
            **command.model_dump(exclude={"boundary"}),
            street_id=community.street_id,
            boundary=command.boundary.model_dump(),
        )]

    def recount(self, command: RecountHouseholds) -> list[DomainEvent]:
        self._require()
        if command.households < MIN_GRID_HOUSEHOLDS:
            raise GridTooSmall(command.households)
        return [HouseholdsRecounted(**self._where(), households=command.households,
                                    previous=self.households)]

    def enroll(self, command: EnrollMember) -> list[DomainEvent]:
        self._require()
        if command.member_id in self.members:
            raise AlreadyRegistered(f"{command.member_id} is already a member of {self.grid_id}",
                                    field="member_id")
        return [MemberEnrolled(**self._where(), **command.model_dump())]

    def assign_manager(self, command: AssignManager) -> list[DomainEvent]:
        self._require()
        if command.member_id not in self.members:
            raise NotFound(f"{command.member_id} is not a member of grid {self.grid_id}",
                              field="member_id")
        if command.member_id == self.manager_id:
            return []  # already the manager: nothing changes
        return [ManagerAssigned(**self._where(), member_id=command.member_id)]

    def add_manager(self, command: AddManager) -> list[DomainEvent]:
        self._require()
        if command.member_id not in self.members:
            raise NotFound(f"{command.member_id} is not a member of grid {self.grid_id}",
                           field="member_id")
        if command.member_id in self.managers:
            return []  # already a manager: nothing changes
        return [ManagerAdded(**self._where(), member_id=command.member_id)]

    def _require(self) -> None:
        if self.community_id is None:
            raise NotFound(f"no grid {self.grid_id!r}", field="grid_id")

    def _where(self) -> dict[str, str | None]:
        return {"grid_id": self.grid_id, "community_id": self.community_id,
                "street_id": self.street_id}

    def place(self) -> Place:
        return Place.of(street=self.street_id, community=self.community_id, grid=self.grid_id)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case GridDrawn():
                self.community_id, self.street_id = event.community_id, event.street_id
                self.households = event.households
            case HouseholdsRecounted():
                self.households = event.households
            case MemberEnrolled():
                self.members[event.member_id] = event.role
            case ManagerAssigned():
                # the assigned manager replaces the assigned one (those added stay)
                if event.member_id in self.added_managers:
                    self.added_managers.remove(event.member_id)
                self.manager_id = event.member_id
            case ManagerAdded():
                self.added_managers.append(event.member_id)
