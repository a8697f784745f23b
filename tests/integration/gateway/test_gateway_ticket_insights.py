"""``GET /api/v1/scopes/{scope}/insights/tickets`` (issue 13): the response's shape, 404 outside the caller's scope,
422 naming the bad month. Counties 650465–650466 are this module's own; events are published on JetStream."""

from __future__ import annotations

import uuid

from jinqiao.kit.auth import Role
from tests.integration.insights.test_tickets import Desk, publish  # noqa: F401  (fixture)

COUNTY = "650465"


def headers(issuer, role: Role, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.issue(user=f'u-{scope}', role=role, scope=scope)[0]}"}


async def test_ticket_stats_over_http_have_rows_figures_and_names(platform, issuer, publish):  # noqa: F811
    desk = Desk(COUNTY, category="jobs", group="就业服务")
    tickets = [str(uuid.uuid4()) for _ in range(3)]
    await publish([desk.opened(t) for t in tickets] + [desk.resolved(t, met=True) for t in tickets]
                  + [desk.rated(t, 5) for t in tickets])
    reply = await platform.http.get(f"/api/v1/scopes/{COUNTY}/insights/tickets",
                                    params={"since": "2026-11", "until": "2026-11"},
                                    headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["scope"], body["level"], body["since_month"], body["until_month"]) == (
        COUNTY, "county", "2026-11", "2026-11")
    assert body["total"]["opened"] == {"value": 3, "hidden_cells": 0, "display": "3"}
    assert body["total"]["sla_attainment_display"] == "100.0%" and body["total"]["satisfaction"] == "5.0"
    assert [(g["key"], g["name"]) for g in body["groups"]] == [("就业服务", "就业服务")]
    assert [(s["key"], s["name"]) for s in body["stations"]] == [("county", "县本级")]
    assert [c["key"] for c in body["counties"]] == [COUNTY]
    assert body["threshold"] == 0 and body["current_month"]
    assert set(body["breached_this_month"]) == {"value", "hidden_cells", "display"}


async def test_a_scope_outside_the_callers_is_404(platform, issuer):
    reply = await platform.http.get("/api/v1/scopes/650466/insights/tickets",
                                    headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert reply.status_code == 404
    other_city = await platform.http.get("/api/v1/scopes/6504/insights/tickets",
                                         headers=headers(issuer, Role.CITY_ANALYST, "6505"))
    assert other_city.status_code == 404


async def test_a_bad_month_is_422_naming_it(platform, issuer):
    bad = await platform.http.get(f"/api/v1/scopes/{COUNTY}/insights/tickets", params={"since": "2026-13"},
                                  headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"since"}
    backwards = await platform.http.get(f"/api/v1/scopes/{COUNTY}/insights/tickets",
                                        params={"since": "2026-11", "until": "2026-10"},
                                        headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert backwards.status_code == 422
    assert {e["field"] for e in backwards.json()["errors"]} == {"until_month"}
