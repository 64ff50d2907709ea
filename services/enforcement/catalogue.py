"""The violation catalogue (违法行为目录) of a street's comprehensive law-enforcement team, as
data, per domain: city management (城市管理), public-security comprehensive governance (治安综合
治理) and traffic order (交通秩序). Pure Python.

Each type names its legal basis (the law, the edition in force at the 2012 reform, and the
article), the fine range the article sets (yuan; `max_yuan == 0`: the type carries no fine) and
the default rectification period. `sourced` is True where the fine range is the article's own
words; False (illustrative) where the national text leaves the amount to local regulation (the
range given is this project's example) or where the type itself is this project's catch-all.
Detention (拘留) and other measures outside a street team's powers are left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from shared.errors import DomainError

Domain = Literal["city_management", "public_security", "traffic_order"]
DOMAINS: tuple[Domain, ...] = ("city_management", "public_security", "traffic_order")

CITY_APPEARANCE = "《城市市容和环境卫生管理条例》(国务院, 1992年, 2011年修订)"
AIR = "《中华人民共和国大气污染防治法》(2015年修订)"
PUBLIC_ORDER = "《中华人民共和国治安管理处罚法》(2005年, 2012年修正)"
ROAD_TRAFFIC = "《中华人民共和国道路交通安全法》(2003年, 2011年修正)"


@dataclass(frozen=True)
class ViolationType:
    code: str
    domain: Domain
    name_zh: str
    name_en: str
    law: str
    article: str
    min_yuan: int  # the lowest fine the article allows (0: no lower bound)
    max_yuan: int  # the highest (0: the type carries no fine)
    rectification_days: int  # the default period of an order to rectify
    sourced: bool  # False: illustrative (see the module's docstring)
    keywords: tuple[str, ...] = ()  # what a grid member's hint may say (referrals)

    def fine_refusal(self, amount: float) -> str | None:
        """Why `amount` is no fine for this type, or None if it is one."""
        if self.max_yuan == 0:
            return f"{self.code} carries no fine ({self.law} {self.article})"
        if amount <= 0 or amount < self.min_yuan or amount > self.max_yuan:
            return (f"a fine for {self.code} is {self.min_yuan}–{self.max_yuan} yuan "
                    f"({self.law} {self.article}); {amount:g} given")
        return None

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["keywords"] = list(self.keywords)
        return shown


CATALOGUE: tuple[ViolationType, ...] = (
    # -- city management 城市管理 -------------------------------------------------------------
    ViolationType("cm.street_vending", "city_management", "占道经营", "Street vending",
                  CITY_APPEARANCE, "第十四条、第三十六条", 50, 500, 1, False,
                  ("占道经营", "摆摊", "游商", "vending", "stall", "hawker")),
    ViolationType("cm.open_air_barbecue", "city_management", "露天烧烤",
                  "Open-air barbecue in a prohibited area", AIR, "第一百一十八条第三款",
                  500, 20000, 1, True, ("烧烤", "barbecue")),
    ViolationType("cm.outdoor_advertising", "city_management", "擅自设置户外广告",
                  "Unauthorised outdoor advertising", CITY_APPEARANCE, "第三十六条第(一)项",
                  500, 5000, 7, False, ("广告", "advertis", "billboard")),
    ViolationType("cm.graffiti_posting", "city_management", "乱涂乱画、乱贴宣传品",
                  "Graffiti and flyposting", CITY_APPEARANCE, "第三十四条第(二)、(三)项",
                  20, 200, 3, False, ("涂写", "小广告", "graffiti", "flyer", "poster")),
    ViolationType("cm.spillage", "city_management", "运输遗撒", "Spillage from transport",
                  CITY_APPEARANCE, "第三十四条第(七)项", 200, 2000, 1, False,
                  ("遗撒", "spillage")),
    ViolationType("cm.other", "city_management", "其他市容环境违法行为",
                  "Other city-appearance violation", CITY_APPEARANCE, "第三十四条",
                  0, 0, 3, False),
    # -- public security 治安综合治理 --------------------------------------------------------
    ViolationType("ps.noise_nuisance", "public_security", "制造噪声干扰他人生活",
                  "Noise disturbing others' lives", PUBLIC_ORDER, "第五十八条",
                  200, 500, 1, True, ("噪声", "噪音", "扰民", "noise")),
    ViolationType("ps.animal_nuisance", "public_security", "饲养动物干扰他人生活",
                  "Keeping animals that disturb others", PUBLIC_ORDER, "第七十五条第一款",
                  200, 500, 3, True, ("犬", "狗", "动物", "dog", "animal")),
    ViolationType("ps.disturbing_order", "public_security", "扰乱单位秩序",
                  "Disturbing the order of an organisation", PUBLIC_ORDER,
                  "第二十三条第一款第(一)项", 0, 500, 1, True, ("扰乱", "disturb")),
    ViolationType("ps.gambling", "public_security", "赌博", "Gambling", PUBLIC_ORDER,
                  "第七十条", 0, 3000, 1, True, ("赌博", "gambl")),
    ViolationType("ps.other", "public_security", "其他治安违法行为",
                  "Other public-order violation", PUBLIC_ORDER, "—", 0, 0, 3, False),
    # -- traffic order 交通秩序 ---------------------------------------------------------------
    ViolationType("to.illegal_parking", "traffic_order", "违法停车", "Illegal parking",
                  ROAD_TRAFFIC, "第九十三条", 20, 200, 1, True,
                  ("停车", "停放", "parking", "parked")),
    ViolationType("to.non_motor_vehicle", "traffic_order", "非机动车、行人违反通行规定",
                  "Cyclist or pedestrian breaking traffic rules", ROAD_TRAFFIC, "第八十九条",
                  5, 50, 1, True, ("非机动车", "电动车", "行人", "bicycle", "pedestrian")),
    ViolationType("to.motor_vehicle", "traffic_order", "机动车违反通行规定",
                  "Driver breaking traffic rules", ROAD_TRAFFIC, "第九十条", 20, 200, 1, True,
                  ("机动车", "逆行", "driver", "wrong way")),
    ViolationType("to.obstructed_signals", "traffic_order", "遮挡交通信号、标志",
                  "Obstructing traffic signals or signs", ROAD_TRAFFIC, "第一百零六条",
                  200, 2000, 3, True, ("遮挡", "信号", "标志", "obstruct", "sign")),
    ViolationType("to.other", "traffic_order", "其他交通秩序违法行为",
                  "Other traffic-order violation", ROAD_TRAFFIC, "—", 0, 0, 3, False),
)

BY_CODE: dict[str, ViolationType] = {t.code: t for t in CATALOGUE}
GENERIC: dict[str, ViolationType] = {"city_management": BY_CODE["cm.other"],
                                     "public_security": BY_CODE["ps.other"],
                                     "traffic_order": BY_CODE["to.other"]}


class UnknownType(DomainError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no violation type {code!r} in the catalogue (GET /catalogue)",
                         field="type")


def violation_type(code: str) -> ViolationType:
    found = BY_CODE.get(code)
    if found is None:
        raise UnknownType(code)
    return found


def classify(domain: str, hint: str) -> ViolationType:
    """The type a referral's hint (`violation_hint`, what the grid saw) names in its domain,
    by keyword; the domain's catch-all type when none matches."""
    text = hint.lower()
    for entry in CATALOGUE:
        if entry.domain == domain and any(k in text for k in entry.keywords):
            return entry
    return GENERIC.get(domain, GENERIC["city_management"])
