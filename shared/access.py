"""Who may do what, and where: roles, their grants and the places data lives. Pure Python.

A user holds grants: a role, and for most roles the one place it covers (`front_desk_clerk`
of community `s1.c1`, `street_office_staff` of street `s1`). Written as text in tokens and in
the accounts service's events: `role` or `role:scope` (`front_desk_clerk:s1.c1`).

Every aggregate says where it lives (`place()`: its street, community, grid, owner, ...), and
a grant covers a place when the place holds the grant's scope under the role's kind: a clerk
of `s1.c1` covers an application filed at community `s1.c1`; a resident covers what they own.
District-wide roles (government, civil affairs, administrator, auditor) cover every place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shared.errors import JiedaoError


class Role(StrEnum):
    """The platform's roles. `zh` is the people-facing name; `scope_kind` what one grant of it
    covers (None: the whole district)."""

    RESIDENT = "resident"
    FRONT_DESK_CLERK = "front_desk_clerk"
    STREET_SERVICE_STAFF = "street_service_staff"
    GRID_MEMBER = "grid_member"
    GRID_MANAGER = "grid_manager"
    ENFORCEMENT_OFFICER = "enforcement_officer"
    STREET_OFFICE_STAFF = "street_office_staff"
    INVESTMENT_STAFF = "investment_staff"
    DISTRICT_DEPARTMENT = "district_department"
    DISTRICT_GOVERNMENT = "district_government"
    CIVIL_AFFAIRS = "civil_affairs"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def scope_kind(self) -> str | None:
        return _SCOPE_KIND[self]


_ZH = {
    Role.RESIDENT: "居民", Role.FRONT_DESK_CLERK: "社区服务站前台",
    Role.STREET_SERVICE_STAFF: "街道公共服务中心", Role.GRID_MEMBER: "网格员",
    Role.GRID_MANAGER: "网格管理员", Role.ENFORCEMENT_OFFICER: "综合执法队员",
    Role.STREET_OFFICE_STAFF: "街道办事处", Role.INVESTMENT_STAFF: "投资服务分中心",
    Role.DISTRICT_DEPARTMENT: "区级部门", Role.DISTRICT_GOVERNMENT: "区政府",
    Role.CIVIL_AFFAIRS: "区民政局", Role.ADMINISTRATOR: "系统管理员", Role.AUDITOR: "审计",
}
# The kind of place one grant of the role covers; a resident's is what they own.
_SCOPE_KIND: dict[Role, str | None] = {
    Role.RESIDENT: "owner", Role.FRONT_DESK_CLERK: "community",
    Role.STREET_SERVICE_STAFF: "street", Role.GRID_MEMBER: "grid", Role.GRID_MANAGER: "grid",
    Role.ENFORCEMENT_OFFICER: "street", Role.STREET_OFFICE_STAFF: "street",
    Role.INVESTMENT_STAFF: "subcentre", Role.DISTRICT_DEPARTMENT: "department",
    Role.DISTRICT_GOVERNMENT: None, Role.CIVIL_AFFAIRS: None, Role.ADMINISTRATOR: None,
    Role.AUDITOR: None,
}
SCOPE_KINDS = frozenset(k for k in _SCOPE_KIND.values() if k)


class Forbidden(JiedaoError):
    """The caller is signed in, but no grant of theirs allows this here."""

    status = 403


class InvalidGrant(ValueError):
    """A grant's text names no role, or gives a scope the role does not take (or none where it
    needs one)."""


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    scope: str | None = None  # the id of the place it covers; None for district-wide roles

    def __post_init__(self) -> None:
        kind = self.role.scope_kind
        if kind in (None, "owner") and self.scope is not None:
            raise InvalidGrant(f"role {self.role} takes no scope")
        if kind not in (None, "owner") and not self.scope:
            raise InvalidGrant(f"role {self.role} needs the id of its {kind}")

    @classmethod
    def parse(cls, text: str) -> Grant:
        role, _, scope = text.partition(":")
        try:
            return cls(Role(role), scope or None)
        except ValueError as exc:
            raise InvalidGrant(f"{text!r}: {exc}") from exc

    def __str__(self) -> str:
        return f"{self.role}:{self.scope}" if self.scope else str(self.role)


@dataclass(frozen=True, slots=True)
class Place:
    """Where something lives: by scope kind (street, community, grid, owner, department,
    subcentre), the ids it is in. `Place.of(street="s1", community="s1.c1")`."""

    ids: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, **ids: str | Iterable[str] | None) -> Place:
        unknown = set(ids) - SCOPE_KINDS
        if unknown:
            raise ValueError(f"no such scope kind: {sorted(unknown)}")
        return cls({kind: frozenset([v] if isinstance(v, str) else v)
                    for kind, v in ids.items() if v})

    def holds(self, kind: str, scope_id: str) -> bool:
        return scope_id in self.ids.get(kind, ())


EVERYWHERE = None  # what `Principal.scopes` answers for a grant that covers the district


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user: their id, display name and grants (from a verified token)."""

    user_id: str
    name: str = ""
    grants: tuple[Grant, ...] = ()

    def holding(self, roles: Iterable[Role]) -> list[Grant]:
        wanted = set(roles)
        return [g for g in self.grants if g.role in wanted]

    def covering(self, roles: Iterable[Role], place: Place) -> Grant | None:
        """The first of the caller's grants of `roles` that covers `place`, if any."""
        for grant in self.holding(roles):
            kind = grant.role.scope_kind
            if kind is None or place.holds(kind, grant.scope or self.user_id):
                return grant
        return None

    def scopes(self, roles: Iterable[Role], kind: str) -> set[str] | None:
        """The ids of places of `kind` the caller's grants of `roles` cover: None if one of
        them covers the whole district (filter nothing), else the set (possibly empty).
        A resident's grant covers `owner` = their own user id."""
        found: set[str] = set()
        for grant in self.holding(roles):
            grant_kind = grant.role.scope_kind
            if grant_kind is None:
                return EVERYWHERE
            if grant_kind == kind:
                found.add(grant.scope or self.user_id)
        return found


def parse_grants(texts: Iterable[object]) -> tuple[Grant, ...]:
    """The grants among a token's role strings; others (an external provider's own roles such
    as `offline_access`) are not jiedao's and are left out."""
    grants = []
    for text in texts:
        if isinstance(text, str):
            try:
                grants.append(Grant.parse(text))
            except InvalidGrant:
                continue
    return tuple(grants)
