"""LoanReviewed names the programme's bank when the bank decides next (so its officers hear of it), and no bank
while a public tier is still to decide. Counties 650610–650619 are H2's (this file: 650614)."""

from __future__ import annotations

from jinqiao.desk.v1 import loans_pb2 as pb
from jinqiao.events.v1 import loan_events_pb2
from tests.integration.conftest import bearer
from tests.integration.desk.loan_fixtures import BANK, add_loan, add_member, add_org, add_programme

COUNTY = "650614"


async def _reviewed(conn, loan_id: str) -> list[loan_events_pb2.LoanReviewed]:
    rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type = $2 ORDER BY id",
                            COUNTY, "jinqiao.events.v1.LoanReviewed")
    found = [loan_events_pb2.LoanReviewed.FromString(r["payload"]) for r in rows]
    return [e for e in found if e.loan_id == loan_id]


async def test_the_final_approval_names_the_bank_and_an_earlier_tier_does_not(platform, county_token,
                                                                             admin_conn_factory):
    conn = await admin_conn_factory("desk")
    township = await add_org(conn, COUNTY, name="城关镇党委", kind="TOWNSHIP_COMMITTEE")
    branch = await add_org(conn, COUNTY, name="城关村党支部", kind="BRANCH", parent=township)
    member = await add_member(conn, COUNTY, home_org_id=branch)
    programme = await add_programme(conn, COUNTY)
    admin = bearer(county_token(COUNTY))
    at_branch = await add_loan(conn, COUNTY, programme_id=programme, member_id=member, home_org_id=branch)
    at_county = await add_loan(conn, COUNTY, programme_id=programme, member_id=member, home_org_id=branch, status=3,
                               pending_tier=3)
    for loan_id in (at_branch, at_county):
        await platform.desk_stub.ReviewLoanApplication(
            pb.ReviewLoanApplicationRequest(id=loan_id, decision=pb.LOAN_DECISION_APPROVE), metadata=admin)
    [recommended] = await _reviewed(conn, at_branch)
    assert (recommended.pending_tier, recommended.bank_code) == ("TOWNSHIP", "")
    [approved] = await _reviewed(conn, at_county)
    assert (approved.pending_tier, approved.bank_code, approved.quota_committed) == ("BANK", BANK, True)
