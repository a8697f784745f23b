"""The county's working-day calendar over real PostgreSQL: the province's entry of a year overrides the rules,
a county's own days go on top, and due times follow (issue 13: a ticket filed before a holiday is due after it)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jinqiao.desk.calendar import service
from jinqiao.desk.calendar.domain import BEIJING, CalendarSource, working_days
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla.domain import SlaPolicy, open_clocks
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.errors import InvalidArgument, PermissionDenied

COUNTY = "650401"
OTHER = "650402"
PROVINCE = Principal(user="prov-65", role=Role.PROVINCE_ANALYST, scope="65", tenant=None)
ADMIN = Principal(user="admin-650401", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=BEIJING)

# 国庆 2027 as a notice might give it: Friday 1 Oct to Thursday 7 Oct off, Saturday 9 Oct worked.
NATIONAL_DAY_2027 = [("2027-10-01", False, "国庆节"), ("2027-10-04", False, "国庆节"), ("2027-10-05", False, "国庆节"),
                     ("2027-10-06", False, "国庆节"), ("2027-10-07", False, "国庆节"),
                     ("2027-10-09", True, "国庆节调休上班")]


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("desk")
    db = await Database.connect(settings.database_url, min_size=1, max_size=3)
    yield DeskDeps(db=db, cipher=FieldCipher.from_settings(settings), clock=lambda: NOW)
    await db.close()


async def test_ticket_filed_before_a_holiday_is_due_after_it(deps):
    await service.set_province_calendar(deps=deps, principal=PROVINCE, year=2027, days=NATIONAL_DAY_2027,
                                        notice="国办发明电〔2026〕7号")
    calendar = await service.calendar_for(deps=deps, tenant=COUNTY)
    assert calendar.years[2027].source is CalendarSource.PROVINCE
    assert calendar.years[2026].source is CalendarSource.PACKAGE
    assert not calendar.is_working_day(date(2027, 10, 6)) and calendar.is_working_day(date(2027, 10, 9))
    policy = SlaPolicy(first_response_minutes=working_days(1), resolution_minutes=working_days(3))
    cols = open_clocks(policy=policy, calendar=calendar, at=datetime(2027, 9, 30, 16, 0, tzinfo=BEIJING))
    assert cols["first_response_due"] == datetime(2027, 10, 8, 16, 0, tzinfo=BEIJING)
    # Three working days: the 30th from 16:00, Friday the 8th, Saturday the 9th (调休), Monday the 11th until 16:00.
    assert cols["resolution_due"] == datetime(2027, 10, 11, 16, 0, tzinfo=BEIJING)


async def test_county_override_goes_on_top_and_listing_flags_years(deps):
    await service.set_county_overrides(deps=deps, principal=ADMIN, year=2027,
                                       days=[("2027-03-01", False, "县庆")])
    county = await service.calendar_for(deps=deps, tenant=COUNTY)
    other = await service.calendar_for(deps=deps, tenant=OTHER)
    assert not county.is_working_day(date(2027, 3, 1))
    assert other.is_working_day(date(2027, 3, 1))
    year = await service.get_work_calendar(deps=deps, principal=ADMIN, year=2027)
    assert any(d.county_override and d.name == "县庆" for d in year.days)
    years = {y.year: y for y in await service.list_calendar_years(deps=deps, principal=ADMIN)}
    assert years[2026].source is CalendarSource.PACKAGE and not years[2026].missing
    assert years[2028].source is CalendarSource.RULES_ONLY and not years[2028].missing
    old = await service.get_work_calendar(deps=deps, principal=ADMIN, year=2020)
    assert old.source is CalendarSource.PACKAGE and any(d.name == "春节" for d in old.days)


async def test_bad_days_name_the_field_and_only_the_province_enters(deps):
    with pytest.raises(InvalidArgument) as err:
        await service.set_county_overrides(deps=deps, principal=ADMIN, year=2027,
                                           days=[("2027-03-01", False, "县庆"), ("2027-03-06", False, "周六")])
    assert [v.field for v in err.value.violations] == ["days[1].date"]
    with pytest.raises(PermissionDenied):
        await service.set_province_calendar(deps=deps, principal=ADMIN, year=2027, days=[], notice="x")
    with pytest.raises(InvalidArgument) as err:
        await service.set_province_calendar(deps=deps, principal=PROVINCE, year=2027, days=[], notice=" ")
    assert [v.field for v in err.value.violations] == ["notice"]
