"""How a value scores against its target (pure): a scheme indicator's rule gives a fraction
0..1 of its weight; a unit's score is the sum over its scheme's indicators (out of 100)."""

from __future__ import annotations

from services.assessment.events import Rule
from services.assessment.indicators import Direction


def fraction(rule: Rule, direction: Direction, value: float | None, target: float) -> float:
    """The share of the weight `value` earns; nothing to measure yet (None) earns nothing."""
    if value is None:
        return 0.0
    if rule.kind == "linear":
        floor = rule.floor if rule.floor is not None else 0.0
        if target == floor:
            return 1.0 if _reached(direction, value, target) else 0.0
        return min(1.0, max(0.0, (value - floor) / (target - floor)))
    reached = [share for at, share in rule.steps or [] if _reached(direction, value, at)]
    return max(reached, default=0.0)


def points(rule: Rule, direction: Direction, weight: float, value: float | None,
           target: float) -> float:
    return round(weight * fraction(rule, direction, value, target), 4)


def met(direction: Direction, value: float | None, target: float) -> bool:
    """Whether a value reaches its target (nothing measured yet never does)."""
    return value is not None and _reached(direction, value, target)


def _reached(direction: Direction, value: float, mark: float) -> bool:
    return value >= mark if direction == "higher" else value <= mark
