"""The working-day calendar over HTTP: the province enters a year and its counties see it, a county's own days,
bad input names the field, another province's scope is 404, a county admin cannot enter the province's year."""

from __future__ import annotations

import uuid

import pytest

from jinqiao.kit.auth import Role

COUNTY = "650406"
OTHER = "650407"
DAYS = [{"date": "2027-10-01", "working": False, "name": "国庆节"},
        {"date": "2027-10-04", "working": False, "name": "国庆节"},
        {"date": "2027-10-05", "working": False, "name": "国庆节"},
        {"date": "2027-10-06", "working": False, "name": "国庆节"},
        {"date": "2027-10-07", "working": False, "name": "国庆节"},
        {"date": "2027-10-09", "working": True, "name": "国庆节调休上班"}]


@pytest.fixture(scope="module")
def h(issuer, county_token):
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    return {
        "province": lambda: bearer(issuer.issue(user="cal-prov-65", role=Role.PROVINCE_ANALYST, scope="65")[0]),
        "admin": lambda: bearer(county_token(COUNTY)),
        "other": lambda: bearer(county_token(OTHER)),
        "staff": lambda: bearer(issuer.issue(user="cal-staff", role=Role.STATION_STAFF, scope=COUNTY)[0]),
    }


async def test_province_enters_2027_and_its_county_sees_it(platform, h):
    put = await platform.http.put("/api/v1/scopes/65/work-calendar/2027", headers=h["province"](),
                                  json={"notice": "国办发明电〔2026〕7号", "days": DAYS})
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "province" and len(put.json()["days"]) == 6
    seen = await platform.http.get(f"/api/v1/tenants/{COUNTY}/work-calendar/2027", headers=h["admin"]())
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["source"] == "province" and body["notice"] == "国办发明电〔2026〕7号"
    assert body["working_minutes_per_day"] == 420 and body["working_hours"] == "09:00-12:00,13:30-17:30"
    assert {"date": "2027-10-09", "working": True, "name": "国庆节调休上班", "county_override": False} in body["days"]
    years = (await platform.http.get(f"/api/v1/tenants/{COUNTY}/work-calendar", headers=h["staff"]())).json()
    by_year = {y["year"]: y for y in years}
    assert by_year[2026]["source"] == "package" and by_year[2027]["source"] == "province"
    assert not by_year[2027]["missing"]
    province_years = await platform.http.get("/api/v1/scopes/65/work-calendar", headers=h["province"]())
    assert province_years.status_code == 200 and {y["year"] for y in province_years.json()} >= {2026, 2027}


async def test_a_county_override_is_its_own(platform, h):
    put = await platform.http.put(f"/api/v1/tenants/{COUNTY}/work-calendar/2027/overrides", headers=h["admin"](),
                                  json={"days": [{"date": "2027-03-01", "working": False, "name": "县庆"}]})
    assert put.status_code == 200, put.text
    assert {"date": "2027-03-01", "working": False, "name": "县庆", "county_override": True} in put.json()["days"]
    other = (await platform.http.get(f"/api/v1/tenants/{OTHER}/work-calendar/2027", headers=h["other"]())).json()
    assert all(d["date"] != "2027-03-01" for d in other["days"])
    # Another county's calendar is not found.
    foreign = await platform.http.get(f"/api/v1/tenants/{COUNTY}/work-calendar/2027", headers=h["other"]())
    assert foreign.status_code == 404


async def test_bad_input_names_the_field(platform, h):
    reply = await platform.http.put(f"/api/v1/tenants/{COUNTY}/work-calendar/2027/overrides", headers=h["admin"](),
                                    json={"days": [{"date": "2027-03-01", "working": False, "name": "县庆"},
                                                   {"date": "2027-03-06", "working": False, "name": "周六放假"}]})
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "days[1].date" in reply.text
    empty = await platform.http.put("/api/v1/scopes/65/work-calendar/2027", headers=h["province"](),
                                    json={"notice": "", "days": []})
    assert empty.status_code == 422 and "notice" in empty.text


async def test_another_province_is_not_found_and_a_county_cannot_enter_the_province_year(platform, h):
    other = await platform.http.get("/api/v1/scopes/41/work-calendar/2027", headers=h["province"]())
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    put = await platform.http.put("/api/v1/scopes/65/work-calendar/2027", headers=h["admin"](),
                                  json={"notice": "x", "days": DAYS})
    assert put.status_code == 403
