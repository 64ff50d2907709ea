"""Types of problem a resident can report (问题上报), offered as Open311 services. Pure Python.

The categories follow the large classes of GB/T 30428.2 (数字化城市管理信息系统 第2部分：
管理部件和事件, digital urban management: components and events): events (事件) such as
市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件, and components (部件) such as 公用设施,
道路交通, 园林绿化. The codes, descriptions and example keywords are this project's own
(illustrative), not the standard's numbering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GROUP = "问题上报 problem reports"


@dataclass(frozen=True)
class ProblemType:
    code: str
    name_zh: str
    name_en: str
    kind: Literal["event", "component"]  # 事件 something happening / 部件 a facility at fault
    description: str
    keywords: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.name_zh} {self.name_en}"


PROBLEM_TYPES: tuple[ProblemType, ...] = (
    ProblemType("problem.streetscape", "市容环境", "Streetscape and environment", "event",
                "暴露垃圾、道路不洁、乱堆物料、乱涂写 exposed rubbish, dirty roads, materials "
                "piled on the street, graffiti",
                ("垃圾", "rubbish", "不洁", "litter", "涂写", "graffiti")),
    ProblemType("problem.advertising", "宣传广告", "Illegal advertising", "event",
                "非法小广告、违规户外广告、占道广告牌 illegal flyers, unauthorised outdoor "
                "advertising, advertising boards on the pavement",
                ("小广告", "flyers", "广告牌", "billboard")),
    ProblemType("problem.construction", "施工管理", "Construction", "event",
                "施工扰民、施工占道、道路遗撒、无证掘路 construction noise, sites occupying the "
                "road, spillage from lorries, digging without a permit",
                ("施工", "construction", "扰民", "noise", "遗撒", "spillage")),
    ProblemType("problem.street_order", "街面秩序", "Street order", "event",
                "占道经营、无照游商、店外经营、车辆乱停放 street stalls, unlicensed hawkers, "
                "trading outside shop fronts, badly parked vehicles",
                ("占道经营", "stalls", "游商", "hawkers", "乱停放", "parking")),
    ProblemType("problem.emergency", "突发事件", "Emergencies", "event",
                "路面塌陷、水管爆裂、燃气泄漏、道路积水 road collapse, burst water main, gas "
                "leak, flooded road (in danger to life call 110/119/120 first)",
                ("塌陷", "collapse", "爆管", "burst pipe", "积水", "flooding")),
    ProblemType("problem.road_traffic", "道路交通设施", "Road and traffic facilities",
                "component",
                "交通标志、护栏、人行道、公交站亭损坏 damaged traffic signs, railings, "
                "pavements, bus shelters",
                ("护栏", "railing", "人行道", "pavement", "站亭", "bus shelter")),
    ProblemType("problem.public_utilities", "公用设施", "Public utilities", "component",
                "井盖缺失、路灯不亮、消防栓损坏 missing manhole covers, street lights out, "
                "damaged fire hydrants",
                ("井盖", "manhole", "路灯", "street light", "消防栓", "hydrant")),
    ProblemType("problem.landscaping", "园林绿化", "Landscaping", "component",
                "行道树倒伏、绿地毁损、树木枯死 fallen street trees, damaged green space, "
                "dead trees",
                ("行道树", "tree", "绿地", "green space")),
    ProblemType("problem.other", "其他问题", "Other problems", "event",
                "不属于以上类别的街面问题 a street problem that fits none of the types above",
                ("其他", "other")),
)

BY_CODE: dict[str, ProblemType] = {t.code: t for t in PROBLEM_TYPES}
