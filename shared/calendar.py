"""Working time: a matter's promised time limit counts working days, a case's deadline
working hours (09:00-12:00 and 13:30-17:30 in Chengdu, 7 a day). Pure Python."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")  # the district's days begin at midnight in Chengdu
# The working periods of a working day, in local time (lunch break 12:00-13:30).
WORKING_PERIODS = ((time(9), time(12)), (time(13, 30), time(17, 30)))


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


class WorkCalendar:
    """Weekends and the configured holidays are not working days."""

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (the filing day itself not counted)."""
        day = start
        while days > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
        return day

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment (UTC) when `hours` of working time have passed since `start`; a start
        outside working time counts from the next working period's beginning."""
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        remaining = timedelta(hours=hours)
        moment = start.astimezone(LOCAL)
        if remaining <= timedelta(0):
            return start.astimezone(UTC)
        for begin, end in self._periods_from(moment):
            begin = max(begin, moment)
            if remaining <= end - begin:
                return (begin + remaining).astimezone(UTC)
            remaining -= end - begin
        raise AssertionError("unreachable: working periods never run out")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two moments (zero if `end` is not later)."""
        total = timedelta(0)
        moment = start.astimezone(LOCAL)
        for begin, period_end in self._periods_from(moment):
            begin = max(begin, moment)
            if begin >= end:
                return total
            total += min(period_end, end) - begin
        raise AssertionError("unreachable: working periods never run out")

    def _periods_from(self, moment: datetime) -> Iterable[tuple[datetime, datetime]]:
        """The working periods (local, aware) that end after `moment`, in order, for ever."""
        day = moment.date()
        while True:
            if self.is_working_day(day):
                for begin, end in WORKING_PERIODS:
                    period_end = datetime.combine(day, end, LOCAL)
                    if period_end > moment:
                        yield datetime.combine(day, begin, LOCAL), period_end
            day += timedelta(days=1)
