"""Working-day calendar arithmetic: weekends, the lunch break, after hours, 国庆 2026 and the turn of the year."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jinqiao.desk.calendar.domain import (
    BEIJING,
    WORKING_DAY_MINUTES,
    CalendarDay,
    CalendarSource,
    WorkCalendar,
    YearArrangement,
    merge_year,
    package_year,
    rules_year,
    validate_days,
    working_days,
)
from jinqiao.kit.errors import InvalidArgument


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Beijing instant."""
    return datetime(y, m, d, hh, mm, tzinfo=BEIJING)


def cal_2026_2027() -> WorkCalendar:
    """2026 from the package, 2027 by rule only."""
    p = package_year(2026)
    assert p is not None
    return WorkCalendar.from_years([p, rules_year(2027)])


def test_working_day_is_420_minutes() -> None:
    assert WORKING_DAY_MINUTES == 420
    assert working_days(3) == 1260


def test_lunch_break_is_not_counted() -> None:
    cal = WorkCalendar()
    assert cal.add_working_minutes(bj(2025, 3, 4, 11, 30), 60) == bj(2025, 3, 4, 14, 0)
    assert cal.add_working_minutes(bj(2025, 3, 4, 12, 30), 30) == bj(2025, 3, 4, 14, 0)
    assert cal.working_minutes_between(bj(2025, 3, 4, 11, 0), bj(2025, 3, 4, 14, 0)) == 90


def test_after_hours_start_counts_from_next_morning() -> None:
    cal = WorkCalendar()
    assert cal.add_working_minutes(bj(2025, 3, 4, 20, 0), 60) == bj(2025, 3, 5, 10, 0)
    assert cal.add_working_minutes(bj(2025, 3, 4, 7, 0), 30) == bj(2025, 3, 4, 9, 30)


def test_weekend_is_skipped() -> None:
    cal = WorkCalendar()
    # Friday 16:30 + 2 hours: one hour on Friday, one on Monday.
    assert cal.add_working_minutes(bj(2025, 3, 7, 16, 30), 120) == bj(2025, 3, 10, 10, 0)
    assert cal.working_minutes_between(bj(2025, 3, 7, 16, 30), bj(2025, 3, 10, 10, 0)) == 120
    assert not cal.is_working_day(date(2025, 3, 8))


def test_full_day_ends_at_half_past_five_same_day() -> None:
    cal = WorkCalendar()
    assert cal.add_working_minutes(bj(2025, 3, 4, 9, 0), 420) == bj(2025, 3, 4, 17, 30)
    assert cal.add_working_minutes(bj(2025, 3, 4, 9, 0), 180) == bj(2025, 3, 4, 12, 0)


def test_national_day_2026_holidays_and_make_up_days() -> None:
    cal = cal_2026_2027()
    for d in range(1, 8):
        assert not cal.is_working_day(date(2026, 10, d)), d
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday, 调休上班
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday, 调休上班
    p = package_year(2026)
    assert p is not None and p.source is CalendarSource.PACKAGE
    names = {d.day: d.name for d in p.days}
    assert names[date(2026, 10, 1)] == "国庆节"
    assert names[date(2026, 10, 10)] == "国庆节调休上班"


def test_due_across_national_day_lands_after_the_holiday() -> None:
    cal = cal_2026_2027()
    # Wednesday 30 Sep 2026, 16:30 + 2 working hours: 1 hour on the 30th, the 8th (Thursday) is the next working day.
    assert cal.add_working_minutes(bj(2026, 9, 30, 16, 30), 120) == bj(2026, 10, 8, 10, 0)
    # 7 working days from 30 Sep 09:00: 30 Sep, 8, 9, 10 (Sat, make-up), 12, 13, 14 Oct.
    assert cal.add_working_minutes(bj(2026, 9, 30, 9, 0), working_days(7)) == bj(2026, 10, 14, 17, 30)


def test_across_2026_to_2027_uses_2027_rules() -> None:
    cal = cal_2026_2027()
    assert not cal.is_working_day(date(2027, 1, 1))
    # Thursday 31 Dec 2026 17:00 + 60: 30 minutes on the 31st, New Year's Day (Friday) off, then Monday 4 Jan.
    assert cal.add_working_minutes(bj(2026, 12, 31, 17, 0), 60) == bj(2027, 1, 4, 9, 30)


def test_unknown_years_count_monday_to_friday() -> None:
    cal = cal_2026_2027()
    assert cal.is_working_day(date(2090, 1, 2))  # a Monday
    assert not cal.is_working_day(date(2090, 1, 7))  # a Saturday


def test_subtract_inverts_add() -> None:
    cal = cal_2026_2027()
    start = bj(2026, 9, 29, 10, 15)
    end = cal.add_working_minutes(start, 1000)
    assert cal.subtract_working_minutes(end, 1000) == start
    assert cal.working_minutes_between(start, end) == 1000


def test_end_of_working_day() -> None:
    cal = cal_2026_2027()
    assert cal.end_of_working_day(bj(2026, 9, 30, 10, 0)) == bj(2026, 9, 30, 17, 30)
    assert cal.end_of_working_day(bj(2026, 9, 30, 18, 0)) == bj(2026, 10, 8, 17, 30)


def test_province_entry_and_county_override_merge() -> None:
    entered = YearArrangement(2027, CalendarSource.PROVINCE,
                              (CalendarDay(date(2027, 2, 20), True, "春节调休上班"),), "国办发明电〔2026〕1号")
    county = merge_year(entered, [CalendarDay(date(2027, 3, 1), False, "县庆")])
    cal = WorkCalendar.from_years([county])
    assert cal.is_working_day(date(2027, 2, 20))
    assert not cal.is_working_day(date(2027, 3, 1))
    assert [d.county_override for d in county.days] == [False, True]


def test_validation_names_the_day() -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_days(year=2027, days=[("2027-10-01", False, "国庆节"), ("2027-10-02", False, "国庆节")],
                      notice="通知")
    assert [v.field for v in err.value.violations] == ["days[1].date"]
    with pytest.raises(InvalidArgument) as err:
        validate_days(year=2027, days=[("2026-10-01", False, "x"), ("2027-10-01", False, "x"),
                                       ("2027-10-01", False, "x"), ("bad", True, "")], notice="")
    fields = [v.field for v in err.value.violations]
    assert fields == ["notice", "days[0].date", "days[2].date", "days[3].date"]
