"""The dashboard aggregates (issue 12): levels, flows by destination, trends, suppression and scope, and the stream.

Province 54 is this module's own (no other test registers flows there): 540121 and 540122 in city 5401, 540221 in
city 5402. Events go straight onto JetStream as the producers' relays would publish them.
"""

from __future__ import annotations

import uuid

import pytest

from jinqiao.kit.auth import Role
from tests.integration.insights.test_insights_flows import Script, publish, tag  # noqa: F401  (fixture)

A, B, C = "540121", "540122", "540221"
GUANGZHOU, SHANGHAI = "440102", "310000"


def flow() -> str:
    return f"flow-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def industry() -> str:
    return tag()


_SEEDED: list[bool] = []


@pytest.fixture
async def seeded(publish, industry):  # noqa: F811
    """A: six to 广州 (three checked in), one to 上海 (returned); B: two to 广州; C: three to 上海 (once a module)."""
    if _SEEDED:
        return
    _SEEDED.append(True)
    a, b, c = Script(A, industry), Script(B, industry), Script(C, industry)
    events = []
    for n in range(6):
        f = flow()
        events.append(a.registered(f, GUANGZHOU, "2019-03-0" + str(n + 1)))
        if n < 3:
            events += [a.offered(f, 1, GUANGZHOU, "EMPLOYER_BRANCH"), a.checked_in(f, 1, GUANGZHOU)]
    back = flow()
    events += [a.registered(back, SHANGHAI, "2019-03-10"), a.closed(back, SHANGHAI, "RETURNED")]
    events += [b.registered(flow(), GUANGZHOU, "2019-05-02") for _ in range(2)]
    events += [c.registered(flow(), SHANGHAI, "2019-06-02") for _ in range(3)]
    await publish(events)


def token(issuer, role: Role, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.issue(user=f'u-{scope}', role=role, scope=scope)[0]}"}


async def board(platform, headers, scope: str) -> dict:
    reply = await platform.http.get(f"/api/v1/scopes/{scope}/insights/dashboard", params={"to_month": "2019-12"},
                                    headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def link(body: dict, origin: str, destination: str) -> dict:
    (found,) = [k["flows"] for k in body["links"] if k["origin_code"] == origin
                and k["destination_code"] == destination]
    return found


def month(body: dict, name: str) -> dict:
    (found,) = [m for m in body["months"] if m["month"] == name]
    return found


async def test_province_view_groups_by_city_and_hides_small_cells(platform, issuer, seeded):
    body = await board(platform, token(issuer, Role.PROVINCE_ANALYST, "54"), "54")
    assert body["level"] == "province" and body["threshold"] == 3
    assert [c["code"] for c in body["children"]] == ["5401", "5402"]
    # 5401 → 广州: A's cell of six published, B's cell of two left out and said so.
    assert link(body, "5401", "440100") == {"value": 6, "hidden_cells": 1, "display": "6+"}
    # A's single flow to 上海 is a small cell: never its number.
    assert link(body, "5401", "310000") == {"value": 0, "hidden_cells": 1, "display": "<3"}
    assert link(body, "5402", "310000")["display"] == "3"
    assert all(k["in_province"] is False for k in body["links"])
    # B's whole coverage row is small; A's away (six open) and managed (three) are published.
    city = body["children"][0]
    assert city["away"] == {"value": 6, "hidden_cells": 1, "display": "6+"}
    assert city["managed"]["value"] == 3 and city["coverage"] == pytest.approx(0.5)
    assert city["coverage_partial"] is True
    assert body["total"]["away"]["value"] == 9  # 6 of A + 3 of C; B left out
    assert [m["month"] for m in body["months"]][0] == "2019-01" and len(body["months"]) == 12
    assert month(body, "2019-03")["registered"] == {"value": 6, "hidden_cells": 1, "display": "6+"}
    assert month(body, "2019-04")["checked_in"]["display"] == "3"
    assert month(body, "2019-09")["returned"]["display"] == "<3"
    assert body["total"]["returned_this_year"]["display"] == "<3"


async def test_a_county_sees_its_own_exact_figures(platform, issuer, seeded):
    body = await board(platform, token(issuer, Role.COUNTY_ADMIN, A), A)
    assert body["threshold"] == 0 and body["level"] == "county"
    assert [c["code"] for c in body["children"]] == [A]
    assert link(body, A, "310000") == {"value": 1, "hidden_cells": 0, "display": "1"}
    assert month(body, "2019-09")["returned"]["value"] == 1
    assert body["total"]["returned_this_year"]["value"] == 1
    assert body["total"]["away"]["value"] == 6 and body["total"]["managed"]["value"] == 3


async def test_a_city_view_lists_its_counties_and_no_two_views_give_a_small_cell_back(platform, issuer, seeded):
    province = token(issuer, Role.PROVINCE_ANALYST, "54")
    wide, city = await board(platform, province, "54"), await board(platform, province, "5401")
    assert [c["code"] for c in city["children"]] == [A, B]
    b = city["children"][1]
    assert b["away"]["display"] == "<3" and b["away"]["value"] == 0
    # The city's figure is the sum of its published counties: subtracting A from it gives 0, not B's two.
    assert city["total"]["away"]["value"] - city["children"][0]["away"]["value"] == 0
    assert wide["children"][0]["away"]["value"] == city["total"]["away"]["value"]


async def test_scope_outside_the_caller_answers_404(platform, issuer, seeded):
    city = token(issuer, Role.CITY_ANALYST, "5402")
    county = token(issuer, Role.COUNTY_ADMIN, A)
    for headers, scope in ((city, "5401"), (city, "54"), (county, B), (county, "5401")):
        reply = await platform.http.get(f"/api/v1/scopes/{scope}/insights/dashboard", headers=headers)
        assert reply.status_code == 404, (scope, reply.text)
        reply = await platform.http.get(f"/api/v1/scopes/{scope}/insights/stream", headers=headers)
        assert reply.status_code == 404, (scope, reply.text)
    assert (await platform.http.get("/api/v1/scopes/5402/insights/dashboard", headers=city)).status_code == 200
    bad = await platform.http.get("/api/v1/scopes/5402/insights/dashboard", params={"to_month": "2019-13"},
                                  headers=city)
    assert bad.status_code == 422 and "月份" in bad.text


async def test_stream_sends_the_version_first_and_refuses_a_missing_token(platform, issuer):
    headers = token(issuer, Role.CITY_ANALYST, "5402")
    # Without asking for a stream: the version, and the answer ends.
    once = await platform.http.get("/api/v1/scopes/5402/insights/stream", headers=headers)
    assert once.status_code == 200 and "event: version" in once.text
    async with platform.http.stream("GET", "/api/v1/scopes/5402/insights/stream",
                                    headers={**headers, "Accept": "text/event-stream"}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        seen = ""
        async for chunk in reply.aiter_text():
            seen += chunk
            if "event: version" in seen:
                break
    assert "event: version" in seen
    assert (await platform.http.get("/api/v1/scopes/5402/insights/stream")).status_code == 401
