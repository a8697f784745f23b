"""Working-day calendar routes: a county's calendar and its own overrides (``/tenants/{tenant}/work-calendar``),
and the province's entry of a year from the State Council's notice (``/scopes/{scope}/work-calendar``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from jinqiao.desk.v1 import calendar_pb2, desk_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.routes.desk.wire import CalendarYearOut, WorkCalendarOut
from jinqiao.gateway.wire import Body, Year
from jinqiao.kit.errors import NotFound

router = APIRouter(tags=["work-calendar"])
_T = "/api/v1/tenants/{tenant}/work-calendar"
_S = "/api/v1/scopes/{scope}/work-calendar"


class CalendarDayIn(Body):
    """A day that differs from the ordinary week: a holiday on a weekday, or a working weekend day (调休上班)."""

    date: str = Field(min_length=10, max_length=10, description="日期，YYYY-MM-DD")
    working: bool = Field(description="是否上班（周末调休上班为 true，工作日放假为 false）")
    name: str = Field(default="", max_length=20, description="名称，如 国庆节、国庆节调休上班")


class CountyOverridesIn(Body):
    """The county's own days of a year (replaces the year's overrides)."""

    days: list[CalendarDayIn] = Field(default_factory=list, max_length=366, description="本县的调整日")


class ProvinceYearIn(Body):
    """A year's arrangement as the State Council's notice gives it."""

    notice: str = Field(min_length=1, max_length=100, description="通知文号，如 国办发明电〔2026〕X号")
    days: list[CalendarDayIn] = Field(default_factory=list, max_length=366, description="全年的放假日与调休上班日")


def _days(days: list[CalendarDayIn]) -> list[calendar_pb2.CalendarDay]:
    return [calendar_pb2.CalendarDay(date=d.date, working=d.working, name=d.name) for d in days]


def _own_province(scope: str, who: CallerDep) -> None:
    """A scope other than the caller's own province names nothing the caller can see."""
    if who.principal.tenant is not None or scope != who.principal.scope or len(scope) != 2:
        raise NotFound("未找到")


@router.get(_T, response_model=list[CalendarYearOut])
async def county_calendar_years(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> list[CalendarYearOut]:
    """The years of the county's calendar; a needed year not yet entered is flagged missing."""
    reply = await gw.clients.desk.ListCalendarYears(desk_pb2.ListCalendarYearsRequest(), metadata=who.metadata,
                                                    timeout=gw.clients.timeout)
    return [CalendarYearOut.from_proto(y) for y in reply.years]


@router.get(_T + "/{year}", response_model=WorkCalendarOut)
async def county_calendar(tenant: TenantDep, year: Year, who: CallerDep, gw: GatewayDep) -> WorkCalendarOut:
    """A year of the county's working-day calendar (the province's arrangement with the county's own days)."""
    reply = await gw.clients.desk.GetWorkCalendar(desk_pb2.GetWorkCalendarRequest(year=year), metadata=who.metadata,
                                                  timeout=gw.clients.timeout)
    return WorkCalendarOut.from_proto(reply.calendar)


@router.put(_T + "/{year}/overrides", response_model=WorkCalendarOut)
async def set_county_overrides(tenant: TenantDep, year: Year, body: CountyOverridesIn, who: CallerDep,
                               gw: GatewayDep) -> WorkCalendarOut:
    """Replace the county's own days of a year."""
    reply = await gw.clients.desk.SetCountyCalendarOverrides(
        desk_pb2.SetCountyCalendarOverridesRequest(year=year, days=_days(body.days)), metadata=who.metadata,
        timeout=gw.clients.timeout)
    return WorkCalendarOut.from_proto(reply.calendar)


@router.get(_S, response_model=list[CalendarYearOut])
async def province_calendar_years(scope: str, who: CallerDep, gw: GatewayDep) -> list[CalendarYearOut]:
    """The years of the province's calendar; a needed year not yet entered is flagged missing."""
    _own_province(scope, who)
    reply = await gw.clients.desk.ListCalendarYears(desk_pb2.ListCalendarYearsRequest(), metadata=who.metadata,
                                                    timeout=gw.clients.timeout)
    return [CalendarYearOut.from_proto(y) for y in reply.years]


@router.get(_S + "/{year}", response_model=WorkCalendarOut)
async def province_calendar(scope: str, year: Year, who: CallerDep, gw: GatewayDep) -> WorkCalendarOut:
    """A year of the province's calendar."""
    _own_province(scope, who)
    reply = await gw.clients.desk.GetWorkCalendar(desk_pb2.GetWorkCalendarRequest(year=year), metadata=who.metadata,
                                                  timeout=gw.clients.timeout)
    return WorkCalendarOut.from_proto(reply.calendar)


@router.put(_S + "/{year}", response_model=WorkCalendarOut)
async def set_province_calendar(scope: str, year: Year, body: ProvinceYearIn, who: CallerDep,
                                gw: GatewayDep) -> WorkCalendarOut:
    """Enter a year's arrangement for the province (replaces the year)."""
    _own_province(scope, who)
    reply = await gw.clients.desk.SetProvinceCalendar(
        desk_pb2.SetProvinceCalendarRequest(year=year, notice=body.notice, days=_days(body.days)),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return WorkCalendarOut.from_proto(reply.calendar)
