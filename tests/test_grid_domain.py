"""The territory rules, with no database or broker."""

import pytest

from services.grid.commands import (
    AddManager,
    AssignManager,
    DrawGrid,
    EnrollMember,
    RecountHouseholds,
    RegisterCommunity,
    RegisterStreet,
)
from services.grid.domain import Community, Grid, GridTooSmall, Street
from services.grid.events import GridDrawn, registry
from services.grid.seed import Box, polygon
from shared.errors import DomainError, NotFound

BOUNDARY = polygon(Box(104.1, 30.6, 104.11, 30.61))


def a_street() -> Street:
    street = Street("jianshelu")
    for e in street.register(RegisterStreet(street_id="jianshelu", name_zh="建设路街道",
                                            name_en="Jianshelu Street", kind="urban",
                                            sourced=True)):
        street.apply(e)
    return street


def a_community() -> Community:
    community = Community("jianshelu.dianzikeda")
    command = RegisterCommunity(community_id="jianshelu.dianzikeda", street_id="jianshelu",
                                name_zh="电子科大社区", name_en="Dianzikeda", sourced=True)
    for e in community.register(command, a_street()):
        community.apply(e)
    return community


def draw(households: int) -> DrawGrid:
    return DrawGrid(grid_id="jianshelu.dianzikeda.g01", community_id="jianshelu.dianzikeda",
                    name_zh="第1网格", name_en="Grid 1", households=households,
                    boundary=BOUNDARY, illustrative=True)


def a_grid(households: int = 320) -> Grid:
    grid = Grid("jianshelu.dianzikeda.g01")
    for e in grid.draw(draw(households), a_community()):
        grid.apply(e)
    return grid


def test_grid_under_300_households_is_refused():
    with pytest.raises(GridTooSmall) as refused:
        Grid("g").draw(draw(299), a_community())
    assert refused.value.field == "households" and "300" in refused.value.reason


def test_grid_of_300_households_is_drawn_in_its_street():
    (event,) = Grid("g").draw(draw(300), a_community())
    assert isinstance(event, GridDrawn) and event.street_id == "jianshelu"


def test_recount_under_300_is_refused_too():
    with pytest.raises(GridTooSmall):
        a_grid().recount(RecountHouseholds(households=120))


def test_a_community_needs_a_registered_street():
    command = RegisterCommunity(community_id="x.y", street_id="nowhere", name_zh="某社区",
                                name_en="Y", sourced=False)
    with pytest.raises(NotFound):
        Community("x.y").register(command, Street("nowhere"))


def test_only_a_member_can_be_the_grid_manager():
    grid = a_grid()
    with pytest.raises(DomainError):
        grid.assign_manager(AssignManager(member_id="stranger"))
    for e in grid.enroll(EnrollMember(member_id="m1", name="王秀英", role="coordinator")):
        grid.apply(e)
    (assigned,) = grid.assign_manager(AssignManager(member_id="m1"))
    grid.apply(assigned)
    assert grid.manager_id == "m1"
    assert grid.assign_manager(AssignManager(member_id="m1")) == []


def test_a_grid_has_several_managers_and_the_assigned_one_is_replaced():
    grid = a_grid()
    for member in ("m1", "m2", "m3"):
        for e in grid.enroll(EnrollMember(member_id=member, name="王秀英", role="coordinator")):
            grid.apply(e)
    with pytest.raises(NotFound):
        grid.add_manager(AddManager(member_id="stranger"))
    for e in grid.assign_manager(AssignManager(member_id="m1")):
        grid.apply(e)
    (added,) = grid.add_manager(AddManager(member_id="m2"))
    assert added.TYPE == "grid.grid.manager_added"
    grid.apply(added)
    assert grid.managers == ["m1", "m2"]
    assert grid.add_manager(AddManager(member_id="m2")) == []  # already one
    for e in grid.assign_manager(AssignManager(member_id="m3")):
        grid.apply(e)
    assert grid.managers == ["m2", "m3"] and grid.manager_id == "m3"
    for e in grid.assign_manager(AssignManager(member_id="m2")):  # an added one assigned
        grid.apply(e)
    assert grid.managers == ["m2"]


def test_a_grid_is_drawn_once():
    with pytest.raises(DomainError):
        a_grid().draw(draw(400), a_community())


def test_every_grid_event_type_exports_a_json_schema():
    schemas = registry.json_schemas()
    assert "grid.grid.drawn" in schemas
    assert "households" in schemas["grid.grid.drawn"]["properties"]
