"""Working time (shared/calendar.py): working days for matters, working hours for cases
(09:00-12:00 and 13:30-17:30 Asia/Shanghai on working days)."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.calendar import LOCAL, WorkCalendar

CALENDAR = WorkCalendar([date(2026, 10, 1), date(2026, 10, 2)])  # Thu, Fri: national day


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A local (Chengdu) moment in 2026; 2026-11-23 is a Monday."""
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL)


def test_hours_inside_one_morning():
    assert CALENDAR.add_working_hours(at(23, 9), 2) == at(23, 11)


def test_the_lunch_break_is_not_counted():
    assert CALENDAR.add_working_hours(at(23, 11), 2) == at(23, 14, 30)


def test_the_evening_and_night_are_not_counted():
    assert CALENDAR.add_working_hours(at(23, 16), 4) == at(24, 11, 30)


def test_a_friday_afternoon_runs_into_monday():
    assert CALENDAR.add_working_hours(at(27, 17), 1) == at(30, 9, 30)


def test_holidays_are_skipped():
    # Wed 30 Sep 17:00 + 2 h: Thu 1 and Fri 2 Oct are holidays, then a weekend
    assert CALENDAR.add_working_hours(at(30, 17, month=9), 2) == at(5, 10, 30, month=10)


def test_a_start_outside_working_hours_counts_from_the_next_period():
    assert CALENDAR.add_working_hours(at(23, 7), 1) == at(23, 10)  # before work
    assert CALENDAR.add_working_hours(at(23, 12, 45), 1) == at(23, 14, 30)  # at lunch
    assert CALENDAR.add_working_hours(at(28, 10), 1) == at(30, 10)  # on a Saturday
    assert CALENDAR.add_working_hours(at(23, 20), 7) == at(24, 17, 30)  # a whole day


def test_a_day_holds_seven_working_hours():
    assert CALENDAR.add_working_hours(at(23, 9), 14) == at(24, 17, 30)
    assert CALENDAR.working_time_between(at(23, 0), at(24, 0)) == timedelta(hours=7)


def test_the_result_is_utc_and_a_naive_start_is_refused():
    result = CALENDAR.add_working_hours(datetime(2026, 11, 23, 1, tzinfo=UTC), 1)  # 09:00 local
    assert result.tzinfo == UTC and result == at(23, 10)
    try:
        CALENDAR.add_working_hours(datetime(2026, 11, 23, 9), 1)
    except ValueError:
        pass
    else:
        raise AssertionError("a naive start was taken")


def in_working_time(moment: datetime) -> bool:
    local = moment.astimezone(LOCAL)
    minutes = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
    return CALENDAR.is_working_day(local.date()) and (
        9 * 60 <= minutes <= 12 * 60 or 13 * 60 + 30 <= minutes <= 17 * 60 + 30)


@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                          timezones=st.just(UTC)),
       minutes=st.integers(min_value=1, max_value=60 * 100))
def test_working_hours_land_in_working_time_after_the_start_and_sum_up(start, minutes):
    hours = minutes / 60
    result = CALENDAR.add_working_hours(start, hours)
    assert result >= start
    assert in_working_time(result)
    assert CALENDAR.working_time_between(start, result) == timedelta(minutes=minutes)


def test_working_days_skip_weekends_and_holidays():
    calendar = WorkCalendar([date(2026, 11, 25)])
    assert calendar.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    assert calendar.add_working_days(date(2026, 11, 23), 3) == date(2026, 11, 27)  # skips Wed
