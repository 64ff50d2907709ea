"""Demo territory of Chenghua District (成华区) as it stood in 2012, as grid-service commands.

`chenghua_territory()` returns the ordered list of `SeedStep`s that registers the 14 streets,
their communities, the service grids of each community, the grid members and one grid manager
per grid. The function is pure and deterministic: no I/O, no randomness, no clock; every
"random-looking" choice (counts, households, names) is derived from a CRC-32 of the entity's
code, so the same code always gets the same values on every machine and Python version.

Provenance: what is sourced and what is illustrative
----------------------------------------------------
Sourced (public sources as summarised in the project's domain guide, DOMAIN.md §3):

* Chenghua had 14 streets in 2012; the list, urban first: 猛追湾, 双桥子, 府青路, 二仙桥, 跳蹬河,
  建设路, 万年场, 双水碾, 新鸿路, 驷马桥; agriculture-related (涉农): 保和, 青龙, 龙潭, 圣灯.
* Individually confirmed: 建设路, 新鸿路, 万年场; 保和, 青龙, 龙潭 as former townships (hence
  agriculture-related).
* Not confirmed: 驷马桥 and 圣灯 as the last two names -> `sourced=False` for those two streets.
  The remaining six names (猛追湾, 双桥子, 府青路, 二仙桥, 跳蹬河, 双水碾) come from the same
  sourced 2012 list without an individual check; they are `sourced=True`, and the `basis`
  column of `STREETS` keeps the finer distinction.
* 建设路 has 4 communities: 电子科大, 培华路, 建设中路, 建兴路 (`sourced=True`; no others added).
* 万年场's communities as listed in 2016: 长天路, 双庆路, 万年路, 槐树店, 红桥, 联合, 双福路
  (`sourced=True`; that they already existed in this form in 2012 is an assumption).
* The reform rule that a service grid has no fewer than 300 households, and the member roles
  (coordinators, college-student volunteers, "two committees" members).

Illustrative (generated here, `sourced=False` / `illustrative=True`):

* every community of the other 12 streets (3-5 plausible names per street);
* every grid (2-4 per community), its household count (300-900) and its name;
* all geometry: streets are rectangles that tile the box lon 104.07-104.20, lat 30.62-30.74,
  placed loosely after the streets' relative positions, not surveyed boundaries; communities
  tile their street and grids tile their community exactly (shared edges use identical
  coordinates, rounded to 6 decimals);
* all grid members, their names and roles, and which member manages each grid.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from services.grid.commands import (
    AssignManager,
    Command,
    DrawGrid,
    EnrollMember,
    GeoJsonPolygon,
    MemberRole,
    RegisterCommunity,
    RegisterStreet,
    StreetKind,
)

# --------------------------------------------------------------------------------------------
# Data tables
# --------------------------------------------------------------------------------------------

Basis = Literal["confirmed", "listed", "not_confirmed"]


class Box(NamedTuple):
    """An axis-aligned rectangle in degrees (WGS 84 longitude/latitude)."""

    west: float
    south: float
    east: float
    north: float


class StreetRow(NamedTuple):
    code: str
    name_zh: str  # the place name; the street's full name is name_zh + 街道
    name_en: str
    kind: StreetKind
    basis: Basis  # confirmed individually / in the sourced 2012 list / not confirmed
    box: Box  # illustrative


class CommunityRow(NamedTuple):
    code: str  # the part after "<street>."
    name_zh: str  # the place name; the community's full name is name_zh + 社区
    name_en: str


#: The district's extent used for the demo geometry (illustrative).
DISTRICT_BOX = Box(104.07, 30.62, 104.20, 30.74)

#: The 14 streets of 2012 (DOMAIN.md §3), urban first. Boxes tile DISTRICT_BOX (illustrative).
STREETS: tuple[StreetRow, ...] = (
    StreetRow("mengzhuiwan", "猛追湾", "Mengzhuiwan", "urban", "listed",
              Box(104.070, 30.650, 104.095, 30.675)),
    StreetRow("shuangqiaozi", "双桥子", "Shuangqiaozi", "urban", "listed",
              Box(104.070, 30.620, 104.095, 30.650)),
    StreetRow("fuqinglu", "府青路", "Fuqinglu", "urban", "listed",
              Box(104.070, 30.675, 104.095, 30.700)),
    StreetRow("erxianqiao", "二仙桥", "Erxianqiao", "urban", "listed",
              Box(104.095, 30.675, 104.120, 30.700)),
    StreetRow("tiaodenghe", "跳蹬河", "Tiaodenghe", "urban", "listed",
              Box(104.120, 30.675, 104.150, 30.700)),
    StreetRow("jianshelu", "建设路", "Jianshelu", "urban", "confirmed",
              Box(104.120, 30.650, 104.150, 30.675)),
    StreetRow("wannianchang", "万年场", "Wannianchang", "urban", "confirmed",
              Box(104.095, 30.620, 104.120, 30.650)),
    StreetRow("shuangshuinian", "双水碾", "Shuangshuinian", "urban", "listed",
              Box(104.070, 30.700, 104.095, 30.740)),
    StreetRow("xinhonglu", "新鸿路", "Xinhonglu", "urban", "confirmed",
              Box(104.095, 30.650, 104.120, 30.675)),
    StreetRow("simaqiao", "驷马桥", "Simaqiao", "urban", "not_confirmed",
              Box(104.095, 30.700, 104.120, 30.740)),
    StreetRow("baohe", "保和", "Baohe", "agriculture_related", "confirmed",
              Box(104.150, 30.620, 104.200, 30.670)),
    StreetRow("qinglong", "青龙", "Qinglong", "agriculture_related", "confirmed",
              Box(104.120, 30.700, 104.150, 30.740)),
    StreetRow("longtan", "龙潭", "Longtan", "agriculture_related", "confirmed",
              Box(104.150, 30.670, 104.200, 30.740)),
    StreetRow("shengdeng", "圣灯", "Shengdeng", "agriculture_related", "not_confirmed",
              Box(104.120, 30.620, 104.150, 30.650)),
)

#: Communities confirmed by sources (DOMAIN.md §3); these streets get no generated ones.
SOURCED_COMMUNITIES: dict[str, tuple[CommunityRow, ...]] = {
    "jianshelu": (
        CommunityRow("dianzikeda", "电子科大", "Dianzikeda"),
        CommunityRow("peihualu", "培华路", "Peihualu"),
        CommunityRow("jianshezhonglu", "建设中路", "Jianshezhonglu"),
        CommunityRow("jianxinglu", "建兴路", "Jianxinglu"),
    ),
    "wannianchang": (  # as listed in 2016
        CommunityRow("changtianlu", "长天路", "Changtianlu"),
        CommunityRow("shuangqinglu", "双庆路", "Shuangqinglu"),
        CommunityRow("wannianlu", "万年路", "Wannianlu"),
        CommunityRow("huaishudian", "槐树店", "Huaishudian"),
        CommunityRow("hongqiao", "红桥", "Hongqiao"),
        CommunityRow("lianhe", "联合", "Lianhe"),
        CommunityRow("shuangfulu", "双福路", "Shuangfulu"),
    ),
}

#: Illustrative communities (plausible names, not a record of the 2012 communities).
ILLUSTRATIVE_COMMUNITIES: dict[str, tuple[CommunityRow, ...]] = {
    "mengzhuiwan": (CommunityRow("wangping", "望平", "Wangping"),
                    CommunityRow("binjiang", "滨江", "Binjiang"),
                    CommunityRow("yushuang", "玉双", "Yushuang"),
                    CommunityRow("dongfeng", "东风", "Dongfeng")),
    "shuangqiaozi": (CommunityRow("shuanglin", "双林", "Shuanglin"),
                     CommunityRow("shuangqiao", "双桥", "Shuangqiao"),
                     CommunityRow("shanbanqiao", "杉板桥", "Shanbanqiao")),
    "fuqinglu": (CommunityRow("fuqing", "府青", "Fuqing"),
                 CommunityRow("jianhua", "建华", "Jianhua"),
                 CommunityRow("taoxi", "桃蹊", "Taoxi"),
                 CommunityRow("bali", "八里", "Bali")),
    "erxianqiao": (CommunityRow("erxian", "二仙", "Erxian"),
                   CommunityRow("donglin", "东林", "Donglin"),
                   CommunityRow("xiajiancao", "下涧槽", "Xiajiancao")),
    "tiaodenghe": (CommunityRow("tashui", "踏水", "Tashui"),
                   CommunityRow("nanhua", "南华", "Nanhua"),
                   CommunityRow("donghong", "东虹", "Donghong"),
                   CommunityRow("yidu", "驿都", "Yidu")),
    "shuangshuinian": (CommunityRow("beizhan", "北站", "Beizhan"),
                       CommunityRow("tianxiang", "天祥", "Tianxiang"),
                       CommunityRow("yangzishan", "羊子山", "Yangzishan"),
                       CommunityRow("tielu", "铁路", "Tielu"),
                       CommunityRow("shuangshui", "双水", "Shuangshui")),
    "xinhonglu": (CommunityRow("xinhong", "新鸿", "Xinhong"),
                  CommunityRow("xinhua", "新华", "Xinhua"),
                  CommunityRow("lijiatuo", "李家沱", "Lijiatuo"),
                  CommunityRow("hongxing", "红星", "Hongxing")),
    "simaqiao": (CommunityRow("sima", "驷马", "Sima"),
                 CommunityRow("fuhe", "府河", "Fuhe"),
                 CommunityRow("jiancai", "建材", "Jiancai")),
    "baohe": (CommunityRow("heping", "和平", "Heping"),
              CommunityRow("donggui", "东桂", "Donggui"),
              CommunityRow("shengli", "胜利", "Shengli"),
              CommunityRow("tiane", "天鹅", "Tian'e")),
    "qinglong": (CommunityRow("zhaojue", "昭觉", "Zhaojue"),
                 CommunityRow("qinglongchang", "青龙场", "Qinglongchang"),
                 CommunityRow("zhiqiang", "致强", "Zhiqiang"),
                 CommunityRow("beihu", "北湖", "Beihu"),
                 CommunityRow("hualin", "华林", "Hualin")),
    "longtan": (CommunityRow("longtansi", "龙潭寺", "Longtansi"),
                CommunityRow("tongren", "同仁", "Tongren"),
                CommunityRow("xinqiao", "新桥", "Xinqiao"),
                CommunityRow("longgang", "龙港", "Longgang")),
    "shengdeng": (CommunityRow("shengdengsi", "圣灯寺", "Shengdengsi"),
                  CommunityRow("renmintang", "人民塘", "Renmintang"),
                  CommunityRow("hongfeng", "红枫", "Hongfeng")),
}

MIN_HOUSEHOLDS = 300  # the reform's rule: a service grid has no fewer than 300 households
MAX_HOUSEHOLDS = 900  # illustrative upper bound for generated grids
GRIDS_PER_COMMUNITY = (2, 4)  # illustrative, inclusive
MEMBERS_PER_GRID = (1, 3)  # illustrative, inclusive
DECIMALS = 6

ROLES: tuple[MemberRole, ...] = ("two_committees_member", "coordinator", "student_volunteer")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢唐许冯邓曹彭曾"
GIVEN_NAMES_ADULT = ("建国", "秀英", "丽华", "志强", "晓燕", "海涛", "玉兰", "文杰", "红梅",
                     "德明", "小平", "桂芳", "明辉", "淑珍", "国华", "春燕", "雪梅", "永刚")
GIVEN_NAMES_STUDENT = ("思雨", "宇航", "佳怡", "浩然", "雨婷", "子轩", "欣然", "俊杰", "梦瑶",
                       "晨曦", "诗涵", "博文")

# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------

StepKind = Literal["street", "community", "grid", "member", "manager"]


@dataclass(frozen=True)
class SeedStep:
    """One command to issue. `grid_id` is set for member and manager steps (and grid steps)."""

    kind: StepKind
    command: Command
    grid_id: str | None = None


def chenghua_territory() -> list[SeedStep]:
    """All seed steps, parents before children (street, its communities, their grids...)."""
    steps: list[SeedStep] = []
    for street in STREETS:
        steps.append(SeedStep("street", _register_street(street)))
        for community_id, row, sourced, box in _communities_of(street):
            steps.append(SeedStep("community", RegisterCommunity(
                community_id=community_id, street_id=street.code,
                name_zh=f"{row.name_zh}社区", name_en=f"{row.name_en} Community",
                sourced=sourced)))
            steps.extend(_grid_steps(community_id, row, box))
    return steps


def street_boundaries() -> dict[str, GeoJsonPolygon]:
    """Illustrative street boundaries by street code (streets carry no boundary of their own)."""
    return {street.code: polygon(street.box) for street in STREETS}


def community_boundaries() -> dict[str, GeoJsonPolygon]:
    """Illustrative community boundaries by community code; each is the union of its grids."""
    return {cid: polygon(box) for street in STREETS for cid, _, _, box in _communities_of(street)}


def polygon(box: Box) -> GeoJsonPolygon:
    """The rectangle as a GeoJSON Polygon, outer ring counter-clockwise (RFC 7946)."""
    w, s, e, n = box
    return GeoJsonPolygon(type="Polygon", coordinates=[[(w, s), (e, s), (e, n), (w, n), (w, s)]])


def _register_street(street: StreetRow) -> RegisterStreet:
    return RegisterStreet(
        street_id=street.code, name_zh=f"{street.name_zh}街道", name_en=f"{street.name_en} Street",
        kind=street.kind, sourced=street.basis != "not_confirmed",
    )


def _communities_of(street: StreetRow) -> list[tuple[str, CommunityRow, bool, Box]]:
    """(community_id, row, sourced, box) for each community of the street, in table order."""
    sourced = street.code in SOURCED_COMMUNITIES
    table = SOURCED_COMMUNITIES if sourced else ILLUSTRATIVE_COMMUNITIES
    rows = table[street.code]
    boxes = _community_boxes(street.box, len(rows))
    pairs = zip(rows, boxes, strict=True)
    return [(f"{street.code}.{row.code}", row, sourced, box) for row, box in pairs]


def _grid_steps(community_id: str, community: CommunityRow, box: Box) -> list[SeedStep]:
    steps: list[SeedStep] = []
    count = _pick_int(community_id, "grids", *GRIDS_PER_COMMUNITY)
    for number, grid_box in enumerate(_strips(box, count), start=1):
        grid_id = f"{community_id}.g{number:02d}"
        steps.append(SeedStep("grid", DrawGrid(
            grid_id=grid_id, community_id=community_id,
            name_zh=f"{community.name_zh}社区第{number}网格",
            name_en=f"{community.name_en} Community Grid {number}",
            households=_pick_int(grid_id, "households", MIN_HOUSEHOLDS, MAX_HOUSEHOLDS),
            boundary=polygon(grid_box), illustrative=True), grid_id))
        steps.extend(_member_steps(grid_id))
    return steps


def _member_steps(grid_id: str) -> list[SeedStep]:
    """1-3 members with distinct roles, then the first of them assigned as grid manager."""
    count = _pick_int(grid_id, "members", *MEMBERS_PER_GRID)
    offset = _pick_int(grid_id, "roles", 0, len(ROLES) - 1)
    members = [f"{grid_id}.m{index + 1}" for index in range(count)]
    steps: list[SeedStep] = []
    for index, member_id in enumerate(members):
        role = ROLES[(offset + index) % len(ROLES)]
        steps.append(SeedStep("member", EnrollMember(
            member_id=member_id, name=_person_name(member_id, role), role=role), grid_id))
    steps.append(SeedStep("manager", AssignManager(member_id=members[0]), grid_id))
    return steps


def _person_name(member_id: str, role: MemberRole) -> str:
    given = GIVEN_NAMES_STUDENT if role == "student_volunteer" else GIVEN_NAMES_ADULT
    return _pick(SURNAMES, member_id, "surname") + _pick(given, member_id, "given")


# --------------------------------------------------------------------------------------------
# Geometry: exact tilings of rectangles (every shared edge is the same rounded float)
# --------------------------------------------------------------------------------------------


def _cuts(low: float, high: float, parts: int) -> list[float]:
    """parts + 1 rounded positions from low to high; the ends are low and high themselves."""
    inner = [round(low + (high - low) * i / parts, DECIMALS) for i in range(1, parts)]
    return [low, *inner, high]


def _community_boxes(street: Box, count: int) -> list[Box]:
    """One row of columns for up to 3 communities, else two rows (north row gets the extra)."""
    if count <= 3:
        return _columns(street, count)
    middle = round((street.south + street.north) / 2, DECIMALS)
    north = Box(street.west, middle, street.east, street.north)
    south = Box(street.west, street.south, street.east, middle)
    return _columns(north, math.ceil(count / 2)) + _columns(south, count // 2)


def _columns(box: Box, count: int) -> list[Box]:
    xs = _cuts(box.west, box.east, count)
    return [Box(xs[i], box.south, xs[i + 1], box.north) for i in range(count)]


def _rows(box: Box, count: int) -> list[Box]:
    ys = _cuts(box.north, box.south, count)  # north to south
    return [Box(box.west, ys[i + 1], box.east, ys[i]) for i in range(count)]


def _strips(box: Box, count: int) -> list[Box]:
    """Cut the box across its longer side (east-west degrees shortened by cos(latitude))."""
    latitude = math.radians((box.south + box.north) / 2)
    width = (box.east - box.west) * math.cos(latitude)
    return _columns(box, count) if width >= box.north - box.south else _rows(box, count)


# --------------------------------------------------------------------------------------------
# Deterministic choices
# --------------------------------------------------------------------------------------------


def _hash(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode("utf-8"))


def _pick_int(key: str, salt: str, low: int, high: int) -> int:
    """A stable integer in [low, high] for this key and purpose."""
    return low + _hash(key, salt) % (high - low + 1)


def _pick(options: Sequence[str], key: str, salt: str) -> str:
    return options[_hash(key, salt) % len(options)]
