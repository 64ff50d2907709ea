"""Assessment periods: a month (`2026-11`), a quarter (`2026-Q4`) or a year (`2026`), whole days
in Asia/Shanghai."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.calendar import local_date

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    code: str
    first: date
    last: date  # inclusive

    @classmethod
    def parse(cls, code: str) -> Period:
        """The period a code names; ValueError saying the accepted forms otherwise."""
        if m := _MONTH.match(code):
            year, month = int(m[1]), int(m[2])
            return cls(code, date(year, month, 1), _month_end(year, month))
        if m := _QUARTER.match(code):
            year, quarter = int(m[1]), int(m[2])
            return cls(code, date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter))
        if m := _YEAR.match(code):
            year = int(m[1])
            return cls(code, date(year, 1, 1), date(year, 12, 31))
        raise ValueError("a period is a month (2026-11), a quarter (2026-Q4) or a year (2026)")

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


def periods_of(day: date) -> list[str]:
    """The month, quarter and year `day` falls in."""
    return [f"{day.year}-{day.month:02d}", f"{day.year}-Q{(day.month - 1) // 3 + 1}",
            f"{day.year}"]


def day_of(moment: datetime) -> date:
    """The district's day of an aware moment."""
    return local_date(moment)


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)
