"""Aggregates never name people (DESIGN §5; issue 9, finding 5).

Two counties send members out over the public API, as the demo does: mostly one person per origin, destination,
month and industry, and one cell of three. Their own county sees every exact count; the province and the city
(over HTTP and gRPC, with and without filters, and asking for a county's scope directly) never see a count of 1 or
2, nor one they could compute back from a total, a difference of nested figures or another view.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database
from tests.integration.conftest import bearer, eventually
from tests.support import member_json

HUANGCHUAN, XINXIAN = "411526", "411523"  # 潢川县, 新县 (信阳市 4115)
TAG = uuid.uuid4().hex[:6]
PASSWORD = "aggregates never name people"
T = 3
# (destination, industry, persons): four single-person cells and one cell of three per origin.
PLAN = [("410102", "单人甲", 1), ("410105", "单人乙", 1), ("440100", "单人丙", 1), ("310000", "单人丁", 1),
        ("410103", "三人", 3)]
FIGURES = ("away", "offered", "managed", "overdue_check_ins")
# Differences of nested published figures that count a set of persons (managed ⊆ offered ⊆ away, overdue ⊆
# away − managed): each must be 0 or at least the threshold when both sides are published.
DERIVED = [("away", "offered"), ("away", "managed"), ("offered", "managed"), ("away", "overdue_check_ins")]


def industry(name: str) -> str:
    return f"{name}-{TAG}"


async def _login(platform, username: str) -> dict[str, str]:
    reply = await platform.http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture(scope="module")
async def world(platform, settings_for):
    """Logins (two counties, 信阳市, the province) and the seeded flows, counted by each county itself."""
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=1)
    accounts = [Account(username=f"sup-{c}", role=Role.COUNTY_ADMIN, scope=c, acting_tenant=c)
                for c in (HUANGCHUAN, XINXIAN)]
    accounts += [Account(username="sup-city", role=Role.CITY_ANALYST, scope="4115", acting_tenant=None),
                 Account(username="sup-province", role=Role.PROVINCE_ANALYST, scope="41", acting_tenant=None)]
    for account in accounts:
        await upsert_account(db=db, account=account, password=PASSWORD)
    await db.close()
    h = {a.username.removeprefix("sup-"): await _login(platform, a.username) for a in accounts}
    start = date.today().isoformat()
    for origin in (HUANGCHUAN, XINXIAN):
        for destination, trade, persons in PLAN:
            for _ in range(persons):
                member = await platform.http.post(f"/api/v1/tenants/{origin}/members", json=member_json(origin),
                                                  headers=h[origin])
                assert member.status_code == 201, member.text
                flow = await platform.http.post(
                    f"/api/v1/tenants/{origin}/members/{member.json()['id']}/flows", headers=h[origin],
                    json={"destination_code": destination, "address": "测试路 1 号", "employer": "",
                          "industry": industry(trade), "start_date": start, "expected_months": 6})
                assert flow.status_code == 201, flow.text

    async def counted(origin: str) -> bool:
        body = (await platform.http.get(f"/api/v1/scopes/{origin}/insights/flows", headers=h[origin])).json()
        mine = {(c["destination_code"], c["industry"]): c["flows"] for c in body["cells"] if TAG in c["industry"]}
        return mine == {(d, industry(t)): n for d, t, n in PLAN}

    for origin in (HUANGCHUAN, XINXIAN):
        await eventually(lambda origin=origin: counted(origin), timeout=60)
    return h


def cells_below(cells) -> int:
    return sum(1 for c in cells if 0 < c["flows"] < T)


def assert_matrix_published_safely(body: dict) -> None:
    """Nothing in a suppressed matrix is, or gives back, a count of 1 or 2."""
    assert body["threshold"] == T and body["coverage_filtered"] is False
    assert cells_below(body["cells"]) == 0
    for c in body["cells"]:
        if c["suppressed"]:
            assert (c["flows"], c["display"]) == (0, "<3")
        else:
            assert c["display"] == str(c["flows"])
    for row in body["coverage"]:
        published = {f: row[f] for f in FIGURES if f not in row["suppressed_fields"]}
        assert all(v == 0 or v >= T for v in published.values()), row
        for outer, inner in DERIVED:
            if outer in published and inner in published:
                difference = published[outer] - published[inner]
                assert difference == 0 or difference >= T, (row, outer, inner)
        if {"away", "managed", "overdue_check_ins"} <= published.keys():
            rest = published["away"] - published["managed"] - published["overdue_check_ins"]
            assert rest == 0 or rest >= T, row
        for f in row["suppressed_fields"]:
            assert row["display"][f] in ("<3", "*") and (f == "coverage" or row[f] == 0)
        if {"away", "managed"} & set(row["suppressed_fields"]):
            assert "coverage" in row["suppressed_fields"] and row["coverage"] == 0.0
    # Totals add up what is published and say when they leave something out.
    assert body["total_away"] == sum(r["away"] for r in body["coverage"])
    assert body["total_managed"] == sum(r["managed"] for r in body["coverage"])
    assert body["total_overdue"] == sum(r["overdue_check_ins"] for r in body["coverage"])
    hidden_away = any("away" in r["suppressed_fields"] for r in body["coverage"])
    assert ("total_away" in body["partial_totals"]) == hidden_away
    assert all(u["members"] == 0 and u["suppressed"] and u["display"] == "≥3" for u in body["unorganised"])


async def test_the_province_matrix_publishes_no_cell_below_the_threshold(platform, world):
    body = (await platform.http.get("/api/v1/scopes/41/insights/flows", headers=world["province"])).json()
    assert_matrix_published_safely(body)
    seeded = {(c["origin_tenant_id"], c["destination_code"], c["industry"]): c for c in body["cells"]
              if TAG in c["industry"]}
    assert len(seeded) == 2 * len(PLAN)
    for origin in (HUANGCHUAN, XINXIAN):
        for destination, trade, persons in PLAN:
            cell = seeded[(origin, destination, industry(trade))]
            assert (cell["flows"], cell["suppressed"]) == ((0, True) if persons < T else (persons, False))
    print(f"\nprovince cells: {len(body['cells'])}, suppressed: {sum(c['suppressed'] for c in body['cells'])},"
          f" published below the threshold: {cells_below(body['cells'])}")


async def test_a_county_sees_its_own_exact_figures(platform, world):
    for origin in (HUANGCHUAN, XINXIAN):
        body = (await platform.http.get(f"/api/v1/scopes/{origin}/insights/flows", headers=world[origin])).json()
        assert body["threshold"] == 0 and body["partial_totals"] == [] and body["coverage_filtered"] is True
        singles = [c for c in body["cells"] if TAG in c["industry"] and c["flows"] == 1]
        assert len(singles) == 4 and not any(c["suppressed"] for c in singles)
        assert all(c["display"] == "1" for c in singles)
        (row,) = body["coverage"]
        assert row["suppressed_fields"] == [] and row["away"] >= sum(n for _, _, n in PLAN)
        members = (await platform.http.get(f"/api/v1/scopes/{origin}/insights/members", headers=world[origin])).json()
        (county,) = members["counties"]
        assert not county["suppressed"] and members["threshold"] == 0 and members["total"] == county["members"]


async def test_an_analyst_asking_for_one_county_still_gets_suppressed_figures(platform, world):
    for who in ("province", "city"):
        body = (await platform.http.get(f"/api/v1/scopes/{HUANGCHUAN}/insights/flows", headers=world[who])).json()
        assert_matrix_published_safely(body)
        assert any(c["suppressed"] for c in body["cells"] if TAG in c["industry"])


async def test_filters_and_scopes_cannot_be_subtracted_to_recover_a_hidden_cell(platform, world):
    get = platform.http.get
    whole = (await get("/api/v1/scopes/41/insights/flows", headers=world["province"])).json()
    city = (await get("/api/v1/scopes/4115/insights/flows", headers=world["city"])).json()
    key = lambda c: (c["origin_tenant_id"], c["destination_code"], c["month"], c["industry"])  # noqa: E731
    by_key = {key(c): c for c in whole["cells"]}
    month = date.today().strftime("%Y-%m")
    views = [city] + [(await get("/api/v1/scopes/41/insights/flows", headers=world["province"],
                                 params={"industry": industry(t), "from_month": month, "to_month": month})).json()
                      for _, t, _ in PLAN]
    coverage = {r["origin_tenant_id"]: r for r in whole["coverage"]}
    for view in views:
        assert_matrix_published_safely(view)
        # A cell reads the same in every view, so no two views differ by a hidden cell …
        for cell in view["cells"]:
            assert by_key[key(cell)] == cell
        # … and coverage does not follow the filters: subtracting two filtered rows gives nothing away.
        for row in view["coverage"]:
            assert row == coverage[row["origin_tenant_id"]]
    # Differences of totals between views add up published cells only.
    filtered_sum = sum(c["flows"] for view in views[1:] for c in view["cells"])
    assert filtered_sum == sum(n for _, _, n in PLAN if n >= T) * 2


async def test_member_counts_hide_small_counties_and_the_total_leaves_them_out(platform, world):
    body = (await platform.http.get("/api/v1/scopes/41/insights/members", headers=world["province"])).json()
    assert body["threshold"] == T
    for county in body["counties"]:
        if county["suppressed"]:
            assert (county["members"], county["display"]) == (0, "<3")
        else:
            assert county["members"] == 0 or county["members"] >= T
    assert body["total"] == sum(c["members"] for c in body["counties"])
    assert body["total_partial"] == any(c["suppressed"] for c in body["counties"])


async def test_the_grpc_api_suppresses_as_the_http_api_does(platform, issuer):
    token, _ = issuer.issue(user="outsider", role=Role.PROVINCE_ANALYST, scope="41")
    matrix = await platform.insights_stub.GetFlowMatrix(insights_pb2.GetFlowMatrixRequest(scope="41"),
                                                        metadata=bearer(token))
    assert matrix.threshold == T and not matrix.coverage_filtered
    assert not [c for c in matrix.cells if 0 < c.flows < T]
    assert all(c.display == "<3" and c.flows == 0 for c in matrix.cells if c.suppressed)
    for row in matrix.coverage:
        for figure in FIGURES:
            value = getattr(row, figure)
            assert value == 0 or value >= T
    counts = await platform.insights_stub.GetMemberCounts(insights_pb2.GetMemberCountsRequest(scope="41"),
                                                          metadata=bearer(token))
    assert not [c for c in counts.counties if 0 < c.members < T]
    assert counts.total == sum(c.members for c in counts.counties)

