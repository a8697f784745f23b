"""Calendar's RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk.calendar import service
from jinqiao.desk.calendar.domain import WORKING_DAY_MINUTES, WORKING_HOURS, CalendarSource, YearArrangement
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.v1 import calendar_pb2, desk_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context

_SOURCES = {CalendarSource.PACKAGE: calendar_pb2.CALENDAR_SOURCE_PACKAGE,
            CalendarSource.PROVINCE: calendar_pb2.CALENDAR_SOURCE_PROVINCE,
            CalendarSource.RULES_ONLY: calendar_pb2.CALENDAR_SOURCE_RULES_ONLY}


def calendar_to_proto(year: YearArrangement) -> calendar_pb2.WorkCalendar:
    """A year's arrangement on the wire."""
    return calendar_pb2.WorkCalendar(
        year=year.year, source=_SOURCES[year.source], notice=year.notice, working_hours=WORKING_HOURS,
        working_minutes_per_day=WORKING_DAY_MINUTES,
        days=[calendar_pb2.CalendarDay(date=d.day.isoformat(), working=d.working, name=d.name,
                                       county_override=d.county_override) for d in year.days])


def _days(days: list[calendar_pb2.CalendarDay]) -> list[tuple[str, bool, str]]:
    return [(d.date, d.working, d.name) for d in days]


class CalendarApi:
    """Calendar' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def GetWorkCalendar(self, request: desk_pb2.GetWorkCalendarRequest,
                              context: Context) -> desk_pb2.GetWorkCalendarResponse:
        """A year of the caller's working-day calendar."""
        year = await service.get_work_calendar(deps=self._deps, principal=current_principal(), year=request.year)
        return desk_pb2.GetWorkCalendarResponse(calendar=calendar_to_proto(year))

    async def ListCalendarYears(self, request: desk_pb2.ListCalendarYearsRequest,
                                context: Context) -> desk_pb2.ListCalendarYearsResponse:
        """The years known, and which needed one is missing."""
        years = await service.list_calendar_years(deps=self._deps, principal=current_principal())
        return desk_pb2.ListCalendarYearsResponse(years=[
            calendar_pb2.CalendarYear(year=y.year, source=_SOURCES[y.source], missing=y.missing, notice=y.notice)
            for y in years])

    async def SetProvinceCalendar(self, request: desk_pb2.SetProvinceCalendarRequest,
                                  context: Context) -> desk_pb2.SetProvinceCalendarResponse:
        """Enter a year's arrangement for the province."""
        year = await service.set_province_calendar(deps=self._deps, principal=current_principal(),
                                                   year=request.year, days=_days(list(request.days)),
                                                   notice=request.notice)
        return desk_pb2.SetProvinceCalendarResponse(calendar=calendar_to_proto(year))

    async def SetCountyCalendarOverrides(self, request: desk_pb2.SetCountyCalendarOverridesRequest,
                                         context: Context) -> desk_pb2.SetCountyCalendarOverridesResponse:
        """Replace the county's own days of a year."""
        year = await service.set_county_overrides(deps=self._deps, principal=current_principal(),
                                                  year=request.year, days=_days(list(request.days)))
        return desk_pb2.SetCountyCalendarOverridesResponse(calendar=calendar_to_proto(year))
