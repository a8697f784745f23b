"""``GET /api/v1/scopes/{scope}/insights/loans`` (issue 14 §6): the response's shape (proto field names, money in
分, figures as {value, hidden_cells, display}), 404 outside the caller's scope, 422 naming a bad parameter.
Counties 650566–650568 are this module's own; loan events are published on JetStream."""

from __future__ import annotations

import uuid

from jinqiao.kit.auth import Role
from tests.integration.insights.test_loans import Loans
from tests.integration.insights.test_tickets import publish  # noqa: F401  (fixture)

COUNTY, OTHER = "650566", "650567"
FIGURES = {"applications", "approved", "refused", "disbursed", "settled", "lent_fen", "outstanding_fen",
           "overdue_outstanding_fen", "overdue_fen", "overdue_loans", "overdue_rate", "overdue_rate_display",
           "subsidy_fen"}


def headers(issuer, role: Role, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.issue(user=f'u-{scope}', role=role, scope=scope)[0]}"}


async def test_loan_stats_over_http_have_rows_figures_and_names(platform, issuer, publish):  # noqa: F811
    programme = Loans(COUNTY, name="党员先锋贷")
    loans = [str(uuid.uuid4()) for _ in range(3)]
    events = [e for x in loans for e in programme.borrower(x, 12_345_600, 456_789)]
    events.append(programme.overdue(loans[0], outstanding_fen=12_345_600, overdue_fen=345_678, days=3))
    await publish(events)
    reply = await platform.http.get(f"/api/v1/scopes/{COUNTY}/insights/loans",
                                    headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["scope"], body["level"], body["threshold"]) == (COUNTY, "county", 0)
    assert body["update_time"]
    total = body["total"]
    assert set(total) == FIGURES
    assert total["lent_fen"] == {"value": 37_036_800, "hidden_cells": 0, "display": "37036800"}
    assert total["disbursed"] == {"value": 3, "hidden_cells": 0, "display": "3"}
    assert total["overdue_fen"]["value"] == 345_678 and total["overdue_rate_display"] == "33.3%"
    assert [(c["key"], c["figures"]["disbursed"]["value"]) for c in body["counties"]] == [(COUNTY, 3)]
    assert [(p["key"], p["name"], p["product"]) for p in body["programmes"]] == [
        (programme.key, "党员先锋贷", "PIONEER")]


async def test_a_scope_outside_the_callers_is_404(platform, issuer):
    reply = await platform.http.get(f"/api/v1/scopes/{OTHER}/insights/loans",
                                    headers=headers(issuer, Role.COUNTY_ADMIN, COUNTY))
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/problem+json")
    other_city = await platform.http.get("/api/v1/scopes/6504/insights/loans",
                                         headers=headers(issuer, Role.CITY_ANALYST, "6505"))
    assert other_city.status_code == 404
    malformed = await platform.http.get("/api/v1/scopes/65x/insights/loans",
                                        headers=headers(issuer, Role.PROVINCE_ANALYST, "65"))
    assert malformed.status_code == 404


async def test_a_member_may_not_read_loan_figures(platform, issuer):
    token = issuer.issue(user="m-650568", role=Role.MEMBER, scope="650568", member=str(uuid.uuid4()))[0]
    reply = await platform.http.get("/api/v1/scopes/650568/insights/loans",
                                    headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code in (403, 404)


async def test_a_nul_in_the_scope_is_422_naming_it(platform, issuer):
    reply = await platform.http.get("/api/v1/scopes/65%00/insights/loans",
                                    headers=headers(issuer, Role.PROVINCE_ANALYST, "65"))
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in reply.json()["errors"]} == {"scope"}
