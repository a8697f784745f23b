"""Working-day calendar: which days are working days in a county, and arithmetic in working minutes.

No I/O here. A year's arrangement (statutory holidays and make-up working days, 调休) comes from data: the kept
library where it knows the year, the province's entry where it does not, the county's own overrides on top.
Working time is counted in Asia/Shanghai within the working hours of a working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

import chinese_calendar
import holidays as holidays_lib

from jinqiao.kit.errors import FieldViolation, InvalidArgument

# China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact and much faster than zoneinfo.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
# Working hours of a working day, in seconds after midnight: 09:00–12:00 and 13:30–17:30.
_MORNING = (9 * 3600, 12 * 3600)
_AFTERNOON = (13 * 3600 + 1800, 17 * 3600 + 1800)
_MORNING_SECONDS = _MORNING[1] - _MORNING[0]
WORKING_DAY_MINUTES = 420
_DAY_SECONDS = WORKING_DAY_MINUTES * 60
WORKING_HOURS = "09:00-12:00,13:30-17:30"
MAKE_UP_DAY = "调休上班"
NAME_MAX = 20
NOTICE_MAX = 100

# chinese-calendar names holidays in English; the desk shows the official Chinese names.
_HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def working_days(n: int) -> int:
    """``n`` working days in working minutes."""
    return n * WORKING_DAY_MINUTES


class CalendarSource(StrEnum):
    """Where a year's arrangement comes from (the wire's CalendarSource without its prefix)."""

    PACKAGE = "PACKAGE"
    PROVINCE = "PROVINCE"
    RULES_ONLY = "RULES_ONLY"


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """A day that differs from the ordinary week: a holiday on a weekday or a working weekend day."""

    day: date
    working: bool
    name: str = ""
    county_override: bool = False


@dataclass(frozen=True, slots=True)
class YearArrangement:
    """One year's arrangement as a source gives it."""

    year: int
    source: CalendarSource
    days: tuple[CalendarDay, ...] = ()
    notice: str = ""


def ordinary_working(day: date) -> bool:
    """Whether ``day`` is a working day of the ordinary week (Monday to Friday)."""
    return day.weekday() < 5


def package_year(year: int) -> YearArrangement | None:
    """The kept library's arrangement of ``year``, or None where it does not know the year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return None
    days: list[CalendarDay] = []
    for day, name in sorted(chinese_calendar.holidays.items()):
        if day.year == year and ordinary_working(day):
            days.append(CalendarDay(day, False, _HOLIDAY_NAMES.get(str(name), str(name))))
    for day, name in sorted(chinese_calendar.workdays.items()):
        if day.year == year and not ordinary_working(day):
            base = _HOLIDAY_NAMES.get(str(name), "")
            days.append(CalendarDay(day, True, f"{base}{MAKE_UP_DAY}"))
    return YearArrangement(year, CalendarSource.PACKAGE, tuple(sorted(days, key=lambda d: d.day)))


def rules_year(year: int) -> YearArrangement:
    """Statutory holidays of ``year`` by rule only (no make-up working days): the stand-in until it is entered."""
    found = holidays_lib.country_holidays("CN", years=year, language="zh_CN")
    days = [CalendarDay(day, False, str(name).split("（")[0][:NAME_MAX])
            for day, name in sorted(found.items()) if day.year == year and ordinary_working(day)]
    return YearArrangement(year, CalendarSource.RULES_ONLY, tuple(days))


def validate_days(*, year: int, days: Sequence[tuple[str, bool, str]], notice: str | None) -> list[CalendarDay]:
    """Check an entered arrangement (``days`` as (YYYY-MM-DD, working, name)); the parsed days, or InvalidArgument
    naming every wrong field (``days[3].date``)."""
    violations: list[FieldViolation] = []
    if not 2004 <= year <= 2100:
        violations.append(FieldViolation("year", "年份须在2004至2100之间"))
    if notice is not None:
        if not notice.strip():
            violations.append(FieldViolation("notice", "请填写通知文号"))
        elif len(notice) > NOTICE_MAX:
            violations.append(FieldViolation("notice", f"通知文号不能超过{NOTICE_MAX}个字"))
    parsed: list[CalendarDay] = []
    seen: set[date] = set()
    for i, (text, working, name) in enumerate(days):
        where = f"days[{i}]"
        if len(name) > NAME_MAX:
            violations.append(FieldViolation(f"{where}.name", f"名称不能超过{NAME_MAX}个字"))
        try:
            day = date.fromisoformat(text)
            if len(text) != 10:
                raise ValueError(text)
        except ValueError:
            violations.append(FieldViolation(f"{where}.date", "日期格式应为YYYY-MM-DD"))
            continue
        if day.year != year:
            violations.append(FieldViolation(f"{where}.date", f"日期不在{year}年内"))
        elif day in seen:
            violations.append(FieldViolation(f"{where}.date", "日期重复"))
        elif working and ordinary_working(day):
            violations.append(FieldViolation(f"{where}.date", "调休上班日须为周末"))
        elif not working and not ordinary_working(day):
            violations.append(FieldViolation(f"{where}.date", "节假日须为工作日（周一至周五）"))
        seen.add(day)
        parsed.append(CalendarDay(day, working, name.strip()))
    if violations:
        raise InvalidArgument(violations)
    return sorted(parsed, key=lambda d: d.day)


def merge_year(base: YearArrangement, county: Iterable[CalendarDay]) -> YearArrangement:
    """A year's arrangement with the county's own days on top (each marked ``county_override``)."""
    merged = {d.day: d for d in base.days}
    for d in county:
        if d.working == ordinary_working(d.day):
            # The county restores an ordinary day: it no longer differs from the week.
            merged.pop(d.day, None)
            continue
        merged[d.day] = CalendarDay(d.day, d.working, d.name, county_override=True)
    return YearArrangement(base.year, base.source, tuple(sorted(merged.values(), key=lambda d: d.day)), base.notice)


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """A county's working days over the years it knows, and its working hours.

    CONTRACT (issue 13, used by sla/ and tickets/): the methods below; every datetime argument is aware (any zone),
    every returned datetime is aware UTC. Days no source knows count as Monday–Friday working days.
    """

    # Days differing from the ordinary week: True for a working weekend day, False for a weekday holiday.
    exceptions: Mapping[date, bool] = field(default_factory=dict)
    # Each known year's arrangement (for display; the arithmetic uses ``exceptions``).
    years: Mapping[int, YearArrangement] = field(default_factory=dict)

    @classmethod
    def from_years(cls, years: Iterable[YearArrangement]) -> WorkCalendar:
        """A calendar from per-year arrangements."""
        by_year = {y.year: y for y in years}
        exceptions = {d.day: d.working for y in by_year.values() for d in y.days}
        return cls(exceptions=exceptions, years=by_year)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a Beijing date) is a working day."""
        found = self.exceptions.get(day)
        return day.weekday() < 5 if found is None else found

    def _next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def _previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` working minutes after ``start`` (from the next working moment if outside hours)."""
        day, worked = _position(start)
        if not self.is_working_day(day):
            day, worked = self._next_working_day(day), 0
        elif worked >= _DAY_SECONDS:
            day, worked = self._next_working_day(day), 0
        remaining = minutes * 60
        if remaining <= 0:
            # The next working moment itself (13:30, not 12:00, during the break).
            return _instant(day, worked) if worked != _MORNING_SECONDS else _instant_afternoon(day)
        # Walk days, not minutes: the first (partial) day, whole days, then the last.
        while remaining > _DAY_SECONDS - worked:
            remaining -= _DAY_SECONDS - worked
            day, worked = self._next_working_day(day), 0
        return _instant(day, worked + remaining)

    def subtract_working_minutes(self, end: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` working minutes before ``end`` (counting back from the last working moment)."""
        day, worked = _position(end)
        if not self.is_working_day(day) or worked <= 0:
            day, worked = self._previous_working_day(day), _DAY_SECONDS
        remaining = minutes * 60
        while remaining > worked:
            remaining -= worked
            day, worked = self._previous_working_day(day), _DAY_SECONDS
        return _instant(day, worked - remaining)

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end`` (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        d1, w1 = _position(start)
        d2, w2 = _position(end)
        if not self.is_working_day(d1):
            w1 = _DAY_SECONDS
        if not self.is_working_day(d2):
            w2 = 0
        if d1 == d2:
            return max(0, w2 - w1) // 60
        total = (_DAY_SECONDS - w1) + w2
        day = d1 + timedelta(days=1)
        while day < d2:
            if self.is_working_day(day):
                total += _DAY_SECONDS
            day += timedelta(days=1)
        return total // 60

    def end_of_working_day(self, at: datetime) -> datetime:
        """The end of the working day ``at`` falls on, or of the next working day when ``at`` is after hours."""
        day, worked = _position(at)
        if not self.is_working_day(day) or worked >= _DAY_SECONDS:
            day = self._next_working_day(day)
        return _instant(day, _DAY_SECONDS)


def _position(at: datetime) -> tuple[date, int]:
    """The Beijing date of ``at`` and the working seconds already passed on it (as if it were a working day)."""
    local = at.astimezone(BEIJING)
    s = local.hour * 3600 + local.minute * 60 + local.second
    if s <= _MORNING[0]:
        worked = 0
    elif s <= _MORNING[1]:
        worked = s - _MORNING[0]
    elif s <= _AFTERNOON[0]:
        worked = _MORNING_SECONDS
    elif s <= _AFTERNOON[1]:
        worked = _MORNING_SECONDS + s - _AFTERNOON[0]
    else:
        worked = _DAY_SECONDS
    return local.date(), worked


def _instant_afternoon(day: date) -> datetime:
    """13:30 of ``day`` (UTC)."""
    return (datetime(day.year, day.month, day.day, tzinfo=BEIJING) + timedelta(seconds=_AFTERNOON[0])).astimezone(UTC)


def _instant(day: date, worked: int) -> datetime:
    """The instant (UTC) when ``worked`` working seconds of ``day`` have passed (12:00, not 13:30, at the break)."""
    s = _MORNING[0] + worked if worked <= _MORNING_SECONDS else _AFTERNOON[0] + worked - _MORNING_SECONDS
    return (datetime(day.year, day.month, day.day, tzinfo=BEIJING) + timedelta(seconds=s)).astimezone(UTC)
