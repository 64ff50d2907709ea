"""Pure unit tests of the Chenghua 2012 demo territory (services/grid/seed.py); no database."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from services.grid.commands import (
    AssignManager,
    DrawGrid,
    EnrollMember,
    RegisterCommunity,
    RegisterStreet,
)
from services.grid.seed import (
    DISTRICT_BOX,
    SeedStep,
    chenghua_territory,
    community_boundaries,
    street_boundaries,
)

AREA_TOLERANCE = 1e-12  # square degrees; a 6-decimal sliver would be ~1e-8


@pytest.fixture(scope="module")
def steps() -> list[SeedStep]:
    return chenghua_territory()


def _commands(steps: list[SeedStep], kind: str) -> list:
    return [step.command for step in steps if step.kind == kind]


def _grids_by_community(steps: list[SeedStep]) -> dict[str, list[DrawGrid]]:
    grouped: dict[str, list[DrawGrid]] = defaultdict(list)
    for grid in _commands(steps, "grid"):
        grouped[grid.community_id].append(grid)
    return grouped


def test_is_deterministic(steps):
    assert chenghua_territory() == steps


def test_step_kinds_match_command_types(steps):
    types = {"street": RegisterStreet, "community": RegisterCommunity, "grid": DrawGrid,
             "member": EnrollMember, "manager": AssignManager}
    for step in steps:
        assert isinstance(step.command, types[step.kind])
        if step.kind in ("member", "manager"):
            assert step.grid_id is not None


def test_commands_revalidate(steps):
    for step in steps:
        again = type(step.command).model_validate(step.command.model_dump())
        assert again == step.command


def test_fourteen_streets_ten_urban_four_agriculture_related(steps):
    streets = _commands(steps, "street")
    assert len(streets) == 14
    kinds = Counter(street.kind for street in streets)
    assert kinds == {"urban": 10, "agriculture_related": 4}
    rural = {s.street_id for s in streets if s.kind == "agriculture_related"}
    assert rural == {"baohe", "qinglong", "longtan", "shengdeng"}


def test_unconfirmed_streets_are_not_sourced(steps):
    sourced = {s.street_id: s.sourced for s in _commands(steps, "street")}
    assert sourced["simaqiao"] is False and sourced["shengdeng"] is False
    confirmed = ("jianshelu", "xinhonglu", "wannianchang", "baohe", "qinglong", "longtan")
    assert all(sourced[code] for code in confirmed)
    assert sum(sourced.values()) == 12


def test_known_communities_are_present_and_sourced(steps):
    communities = {c.community_id: c for c in _commands(steps, "community")}
    known = {
        "jianshelu": {"电子科大", "培华路", "建设中路", "建兴路"},
        "wannianchang": {"长天路", "双庆路", "万年路", "槐树店", "红桥", "联合", "双福路"},
    }
    for street_id, names in known.items():
        of_street = [c for c in communities.values() if c.street_id == street_id]
        assert {c.name_zh.removesuffix("社区") for c in of_street} == names
        assert all(c.sourced for c in of_street)
    assert communities["jianshelu.dianzikeda"].name_zh == "电子科大社区"
    others = [c for c in communities.values() if c.street_id not in known]
    assert others and not any(c.sourced for c in others)


def test_generated_streets_have_three_to_five_communities(steps):
    per_street = Counter(c.street_id for c in _commands(steps, "community"))
    for street_id, count in per_street.items():
        if street_id not in ("jianshelu", "wannianchang"):
            assert 3 <= count <= 5, street_id
    assert per_street["jianshelu"] == 4 and per_street["wannianchang"] == 7


def test_grids_meet_household_floor_and_are_illustrative(steps):
    grids = _commands(steps, "grid")
    assert grids
    for grid in grids:
        assert grid.households >= 300
        assert grid.illustrative is True
    for community_id, of_community in _grids_by_community(steps).items():
        assert 2 <= len(of_community) <= 4, community_id


def test_codes_are_unique_and_nested(steps):
    codes = []
    for step in steps:
        cmd = step.command
        if step.kind == "community":
            assert cmd.community_id.startswith(cmd.street_id + ".")
        if step.kind == "grid":
            assert cmd.grid_id.startswith(cmd.community_id + ".g")
        if step.kind == "member":
            assert cmd.member_id.startswith(step.grid_id + ".m")
        if step.kind != "manager":
            codes.append(next(v for k, v in cmd.model_dump().items() if k.endswith("_id")))
    assert len(codes) == len(set(codes))


def test_parents_come_before_children(steps):
    seen: set[str] = set()
    for step in steps:
        cmd = step.command
        if step.kind == "street":
            seen.add(cmd.street_id)
        elif step.kind == "community":
            assert cmd.street_id in seen
            seen.add(cmd.community_id)
        elif step.kind == "grid":
            assert cmd.community_id in seen
            seen.add(cmd.grid_id)
        elif step.kind == "member":
            assert step.grid_id in seen
            seen.add(cmd.member_id)
        else:
            assert step.grid_id in seen and cmd.member_id in seen


def test_each_grid_has_one_to_three_members_and_a_manager_among_them(steps):
    members: dict[str, set[str]] = defaultdict(set)
    managers: dict[str, list[str]] = defaultdict(list)
    for step in steps:
        if step.kind == "member":
            members[step.grid_id].add(step.command.member_id)
        elif step.kind == "manager":
            managers[step.grid_id].append(step.command.member_id)
    grid_ids = {g.grid_id for g in _commands(steps, "grid")}
    assert set(members) == grid_ids and set(managers) == grid_ids
    for grid_id in grid_ids:
        assert 1 <= len(members[grid_id]) <= 3
        assert len(managers[grid_id]) == 1 and managers[grid_id][0] in members[grid_id]


def test_coordinates_have_at_most_six_decimals(steps):
    polygons = [g.boundary for g in _commands(steps, "grid")]
    polygons += [*street_boundaries().values(), *community_boundaries().values()]
    for polygon in polygons:
        for lon, lat in polygon.coordinates[0]:
            assert round(lon, 6) == lon and round(lat, 6) == lat
            assert 104.0 < lon < 104.3 and 30.5 < lat < 30.8


def _assert_exact_tiling(parent, children) -> None:
    pieces = [shape(child.model_dump()) for child in children]
    whole = shape(parent.model_dump())
    for i, a in enumerate(pieces):
        assert a.is_valid and a.area > 0
        for b in pieces[i + 1:]:
            assert a.intersection(b).area <= AREA_TOLERANCE
    assert unary_union(pieces).symmetric_difference(whole).area <= AREA_TOLERANCE


def test_grids_tile_their_community(steps):
    boundaries = community_boundaries()
    grouped = _grids_by_community(steps)
    assert set(grouped) == set(boundaries)
    for community_id, grids in grouped.items():
        _assert_exact_tiling(boundaries[community_id], [g.boundary for g in grids])


def test_communities_tile_their_street(steps):
    communities = community_boundaries()
    streets = street_boundaries()
    for street_id, boundary in streets.items():
        parts = [b for cid, b in communities.items() if cid.split(".")[0] == street_id]
        _assert_exact_tiling(boundary, parts)


def test_streets_tile_the_district():
    boxes = list(street_boundaries().values())
    pieces = [shape(b.model_dump()) for b in boxes]
    for i, a in enumerate(pieces):
        for b in pieces[i + 1:]:
            assert a.intersection(b).area <= AREA_TOLERANCE
    w, s, e, n = DISTRICT_BOX
    assert unary_union(pieces).area == pytest.approx((e - w) * (n - s), abs=AREA_TOLERANCE)


def test_every_point_in_a_street_lies_in_exactly_one_grid(steps):
    grids = [(g.grid_id, shape(g.boundary.model_dump())) for g in _commands(steps, "grid")]
    rng = random.Random(2012)
    for street_id, boundary in street_boundaries().items():
        west, south, east, north = shape(boundary.model_dump()).bounds
        for _ in range(50):
            point = Point(rng.uniform(west, east), rng.uniform(south, north))
            hits = [gid for gid, poly in grids if poly.covers(point)]
            assert len(hits) == 1, (street_id, point, hits)
            assert hits[0].split(".")[0] == street_id
