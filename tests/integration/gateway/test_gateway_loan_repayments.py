"""The loan money routes over HTTP: disbursement and repayments through the gateway, the schedule as JSON, the
loan ledger as an XLSX that opens with its header, the 贴息 claims refusing a bad period, and another county's
loan not found. Counties 650533–650539 are this module's alone."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from jinqiao.kit.auth import Role
from tests.integration.desk.loan_fixtures import BANK, add_loan, add_member, add_programme

COUNTY, OTHER = "650533", "650534"


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


def _bank(issuer, county: str, bank: str = BANK) -> dict[str, str]:
    token = issuer.issue(user="bank-officer", role=Role.BANK_OFFICER, scope=county, org=bank)[0]
    return {"Authorization": f"Bearer {token}"}


def _office(county_token, county: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {county_token(county)}"}


async def _granted(db, county: str) -> str:
    programme = await add_programme(db, county, rate_bp=1200, subsidy_bp=600, committed_fen=1_200_000)
    member = await add_member(db, county, name="李卫东")
    return await add_loan(db, county, programme_id=programme, member_id=member, status=5, pending_tier=4,
                          amount_fen=1_200_000, term_months=3, method=2, committed_fen=1_200_000,
                          granted_amount_fen=1_200_000, rate_bp=1200, subsidy_bp=600)


async def test_disbursement_and_repayment_show_in_the_schedule_json(platform, issuer, desk_db):
    loan_id = await _granted(desk_db, COUNTY)
    base = f"/api/v1/tenants/{COUNTY}/loans/{loan_id}"
    disbursed = await platform.http.post(f"{base}/disbursement", json={}, headers=_bank(issuer, COUNTY))
    assert disbursed.status_code == 200, disbursed.text
    assert disbursed.json()["status"] == "disbursed"
    key = {**_bank(issuer, COUNTY), "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    paid = await platform.http.post(f"{base}/repayments", json={"amount_fen": 406_000}, headers=key)
    assert paid.status_code == 201, paid.text
    assert paid.json()["repayment"]["principal_fen"] == 400_000
    again = await platform.http.post(f"{base}/repayments", json={"amount_fen": 406_000}, headers=key)
    assert again.json()["repayment"]["id"] == paid.json()["repayment"]["id"]
    reply = await platform.http.get(f"{base}/schedule", headers=_bank(issuer, COUNTY))
    assert reply.status_code == 200
    body = reply.json()
    assert body["total_principal_fen"] == 1_200_000
    assert body["total_subsidy_fen"] == 12_000
    first = body["instalments"][0]
    assert (first["seq"], first["principal_fen"], first["interest_fen"], first["subsidy_fen"],
            first["borrower_interest_fen"], first["due_fen"]) == (1, 400_000, 12_000, 6_000, 6_000, 406_000)
    assert first["paid_on"] and first["overdue"] is False
    assert [r["amount_fen"] for r in body["repayments"]] == [406_000]


async def test_repayment_body_is_bounded(platform, issuer, desk_db):
    loan_id = await _granted(desk_db, COUNTY)
    for amount in (0, -5, 10**19, "abc"):
        reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/loans/{loan_id}/repayments",
                                         json={"amount_fen": amount}, headers=_bank(issuer, COUNTY))
        assert reply.status_code == 422, reply.text
        assert "amount_fen" in reply.text


async def test_foreign_county_loan_schedule_is_404(platform, issuer, desk_db, county_token):
    loan_id = await _granted(desk_db, OTHER)
    reply = await platform.http.get(f"/api/v1/tenants/{COUNTY}/loans/{loan_id}/schedule",
                                    headers=_office(county_token, COUNTY))
    assert reply.status_code == 404
    reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/loans/{loan_id}/disbursement", json={},
                                     headers=_bank(issuer, COUNTY))
    assert reply.status_code == 404


async def test_subsidy_claims_refuse_a_bad_period(platform, county_token):
    for bad in ("2026-13", "2026-Q5", "202601", ""):
        reply = await platform.http.get(f"/api/v1/tenants/{COUNTY}/loan-subsidy-claims",
                                        params={"period": bad}, headers=_office(county_token, COUNTY))
        assert reply.status_code == 422, reply.text
        assert "period" in reply.text
    ok = await platform.http.get(f"/api/v1/tenants/{COUNTY}/loan-subsidy-claims", params={"period": "2026-Q1"},
                                 headers=_office(county_token, COUNTY))
    assert ok.status_code == 200
    assert ok.json()["period_start"] == "2026-01-01" and ok.json()["period_end"] == "2026-03-31"
    # No period: this month.
    month = await platform.http.get(f"/api/v1/tenants/{COUNTY}/loan-subsidy-claims",
                                    headers=_office(county_token, COUNTY))
    assert month.status_code == 200 and month.json()["period_start"].endswith("-01")
    bad_programme = await platform.http.get(f"/api/v1/tenants/{COUNTY}/loan-subsidy-claims",
                                            params={"period": "2026-01", "programme_id": "not-an-id"},
                                            headers=_office(county_token, COUNTY))
    assert bad_programme.status_code == 422 and "programme_id" in bad_programme.text


async def test_loans_ledger_xlsx_opens_with_its_header(platform, issuer, desk_db, county_token):
    county = "650535"
    loan_id = await _granted(desk_db, county)
    await platform.http.post(f"/api/v1/tenants/{county}/loans/{loan_id}/disbursement", json={},
                             headers=_bank(issuer, county))
    reply = await platform.http.get(f"/api/v1/tenants/{county}/ledgers/loans.xlsx",
                                    headers=_office(county_token, county))
    assert reply.status_code == 200, reply.text
    sheet = load_workbook(io.BytesIO(reply.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows.index(next(r for r in rows if r and r[0] == "贷款编号"))
    assert rows[header] == ["贷款编号", "党员", "乡镇", "项目", "银行", "申请金额(元)", "授信金额(元)", "期限(月)",
                            "还款方式", "状态", "放款日", "未还本金(元)", "逾期金额(元)", "逾期天数"]
    data = [r for r in rows[header + 1:] if r[0]]
    assert len(data) == 1
    assert data[0][1] == "王建国" and data[0][8] == "等额本金" and data[0][9] == "还款中"
    # The cells are numbers of 元 (written from Decimal): 12,000.00 元 asked and granted, all of it outstanding.
    assert [Decimal(str(v)) for v in (data[0][5], data[0][6], data[0][11])] == [Decimal("12000.00")] * 3
    claims = await platform.http.get(f"/api/v1/tenants/{county}/ledgers/loan-subsidy-claims.xlsx",
                                     params={"period": "2026-Q1"}, headers=_office(county_token, county))
    assert claims.status_code == 200
    load_workbook(io.BytesIO(claims.content))
