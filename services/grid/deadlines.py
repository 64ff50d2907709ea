"""How long a case may take, in working hours (shared/calendar.py), by category and urgency.

ILLUSTRATIVE: these are this project's own figures in the spirit of GB/T 30428's handling
time limits (an emergency within the hour, a facility repair within days); a district sets
its own. The categories are intake's problem types (services/intake/problem_types.py,
after GB/T 30428.2's classes), the codes a case's `category` takes."""

from __future__ import annotations

# category -> (normal, urgent) working hours from the first dispatch
DEADLINE_HOURS: dict[str, tuple[float, float]] = {
    "problem.emergency": (2, 1),
    "problem.street_order": (4, 2),
    "problem.streetscape": (8, 4),
    "problem.advertising": (8, 4),
    "problem.construction": (16, 8),
    "problem.public_utilities": (16, 8),
    "problem.road_traffic": (24, 8),
    "problem.landscaping": (24, 8),
    "problem.other": (24, 8),
}
CATEGORIES = frozenset(DEADLINE_HOURS)
FALLBACK = "problem.other"  # a category a newer intake reports that this table lacks


def working_hours(category: str, urgency: str) -> float:
    """`urgency`: "normal" or "urgent"."""
    normal, urgent = DEADLINE_HOURS.get(category, DEADLINE_HOURS[FALLBACK])
    return urgent if urgency == "urgent" else normal
