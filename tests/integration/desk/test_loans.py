"""Loan applications over gRPC on real PostgreSQL: filing with eligibility explained, the tiered review (支部推荐 →
乡镇审核 → 县级审批 → 银行授信), refusal, withdrawal, the quota's release, reach and attachments.

COUNTY (650510) holds most rows; OTHER (650511) is a second county; SWEEP (650515) has the step-overdue sweep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.loans import service as loan_service
from jinqiao.desk.v1 import loans_pb2 as pb
from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from tests.integration.conftest import bearer
from tests.integration.desk.loan_fixtures import (
    add_loan,
    add_member,
    add_org,
    add_programme,
    bank_md,
    member_md,
    office_md,
)
from tests.support import field_violations

COUNTY, OTHER, SWEEP = "650510", "650511", "650515"
S = pb.LoanStatus
T = pb.LoanTier
D = pb.LoanDecision
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\nIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\r\n-\xb4\x00\x00\x00\x00IEND\xaeB`\x82"


@pytest.fixture(scope="module")
async def db(admin_conn_factory):
    return await admin_conn_factory("desk")


class Place:
    """A township with a branch, a member of the branch, their tokens and a programme."""

    def __init__(self, county: str, township: str, branch: str, member: str, programme: str,
                 mds: dict[str, Any]) -> None:
        self.county, self.township, self.branch, self.member, self.programme = (county, township, branch, member,
                                                                                programme)
        self.md = mds


async def _place(db, issuer, county_token, county: str = COUNTY, **programme: Any) -> Place:
    township = await add_org(db, county, name="城关镇党委", kind="TOWNSHIP_COMMITTEE")
    branch = await add_org(db, county, name="城关村党支部", kind="BRANCH", parent=township)
    member = await add_member(db, county, home_org_id=branch)
    programme_id = await add_programme(db, county, **programme)
    mds = {
        "member": member_md(issuer, county, member),
        "branch": office_md(issuer, county, role=Role.BRANCH_SECRETARY, org=branch, user="branch-sec"),
        "township": office_md(issuer, county, role=Role.TOWNSHIP_OFFICER, org=township, user="township"),
        "county": bearer(county_token(county)),
        "bank": bank_md(issuer, county),
    }
    return Place(county, township, branch, member, programme_id, mds)


async def _apply(platform, place: Place, *, md: Any = None, amount_fen: int = 10_000_000, member_id: str = "",
                 request_id: str = "", purpose: str = "养殖场扩建，购买种猪") -> pb.Loan:
    reply = await platform.desk_stub.CreateLoanApplication(
        pb.CreateLoanApplicationRequest(programme_id=place.programme, member_id=member_id, amount_fen=amount_fen,
                                        term_months=12, method=pb.REPAYMENT_METHOD_EQUAL_INSTALMENT,
                                        purpose=purpose, business_plan="年出栏 200 头", request_id=request_id),
        metadata=md or place.md["member"])
    return reply.loan


async def _review(platform, md: Any, loan: pb.Loan, decision: int = D.LOAN_DECISION_APPROVE,
                  reason: str = "") -> pb.Loan:
    reply = await platform.desk_stub.ReviewLoanApplication(
        pb.ReviewLoanApplicationRequest(id=loan.id, decision=decision, reason=reason, version=loan.version),
        metadata=md)
    return reply.loan


async def _committed(db, county: str, programme_id: str) -> int:
    return int(await db.fetchval("SELECT committed_fen FROM loan_programmes WHERE tenant_id = $1 AND id = $2",
                                 county, programme_id))


async def _history(platform, place: Place, loan_id: str) -> list[pb.LoanStep]:
    reply = await platform.desk_stub.ListLoanHistory(pb.ListLoanHistoryRequest(id=loan_id),
                                                     metadata=place.md["county"])
    return list(reply.steps)


async def test_member_applies_and_each_tier_passes_it_on_until_the_bank_grants(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token, rate_bp=435, subsidy_bp=200)
    loan = await _apply(platform, place)
    assert loan.status == S.LOAN_STATUS_SUBMITTED and loan.pending_tier == T.LOAN_TIER_BRANCH
    assert loan.number.startswith("贷2026-") and loan.channel == pb.LOAN_CHANNEL_MEMBER_APP
    assert loan.member_name == "王建国" and loan.home_org_id == place.branch and loan.bank_code == "gsrcb"
    assert loan.eligibility and all(r.passed for r in loan.eligibility)
    assert loan.step_due_time.ToDatetime(tzinfo=UTC) > datetime.now(UTC)

    loan = await _review(platform, place.md["branch"], loan)
    assert (loan.status, loan.pending_tier) == (S.LOAN_STATUS_RECOMMENDED, T.LOAN_TIER_TOWNSHIP)
    loan = await _review(platform, place.md["township"], loan)
    assert (loan.status, loan.pending_tier) == (S.LOAN_STATUS_REVIEWED, T.LOAN_TIER_COUNTY)
    assert await _committed(db, COUNTY, place.programme) == 0
    loan = await _review(platform, place.md["county"], loan)
    assert (loan.status, loan.pending_tier) == (S.LOAN_STATUS_APPROVED, T.LOAN_TIER_BANK)
    assert await _committed(db, COUNTY, place.programme) == 10_000_000

    granted = await platform.desk_stub.RecordLoanCreditDecision(
        pb.RecordLoanCreditDecisionRequest(id=loan.id, decision=D.LOAN_DECISION_APPROVE,
                                           granted_amount_fen=8_000_000, version=loan.version),
        metadata=place.md["bank"])
    assert granted.loan.status == S.LOAN_STATUS_CREDIT_GRANTED and granted.loan.pending_tier == 0
    assert (granted.loan.granted_amount_fen, granted.loan.rate_bp, granted.loan.subsidy_bp) == (8_000_000, 435, 200)
    # The difference between approved and granted goes back to the quota.
    assert await _committed(db, COUNTY, place.programme) == 8_000_000
    steps = await _history(platform, place, loan.id)
    assert [s.action for s in steps] == ["applied", "recommended", "reviewed", "approved", "credit_granted"]


async def test_township_is_final_within_its_limit_and_the_county_tier_is_skipped(platform, db, issuer,
                                                                                county_token):
    place = await _place(db, issuer, county_token, township_final_up_to_fen=5_000_000)
    loan = await _apply(platform, place, amount_fen=5_000_000)
    loan = await _review(platform, place.md["branch"], loan)
    loan = await _review(platform, place.md["township"], loan)
    assert (loan.status, loan.pending_tier) == (S.LOAN_STATUS_APPROVED, T.LOAN_TIER_BANK)
    assert await _committed(db, COUNTY, place.programme) == 5_000_000


async def test_refusal_needs_a_reason_and_ends_the_application(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _review(platform, place.md["branch"], loan, D.LOAN_DECISION_REFUSE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(err.value)
    refused = await _review(platform, place.md["branch"], loan, D.LOAN_DECISION_REFUSE, "经营计划不清晰")
    assert refused.status == S.LOAN_STATUS_REFUSED and refused.refused_tier == T.LOAN_TIER_BRANCH
    assert refused.refusal_reason == "经营计划不清晰" and refused.pending_tier == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _review(platform, place.md["county"], refused)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_each_tier_refuses_the_wrong_role_or_reach(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    other_branch = await add_org(db, COUNTY, name="别村党支部", kind="BRANCH")
    cases = [
        (place.md["township"], grpc.StatusCode.PERMISSION_DENIED),
        (office_md(issuer, COUNTY, role=Role.BRANCH_SECRETARY, org=other_branch), grpc.StatusCode.NOT_FOUND),
        (place.md["member"], grpc.StatusCode.PERMISSION_DENIED),
        (place.md["bank"], grpc.StatusCode.PERMISSION_DENIED),
    ]
    for md, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _review(platform, md, loan)
        assert err.value.code() == code
    loan = await _review(platform, place.md["branch"], loan)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _review(platform, place.md["branch"], loan)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "不由您审批" in (err.value.details() or "")
    # The bank decides nothing before the public approval.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.RecordLoanCreditDecision(
            pb.RecordLoanCreditDecisionRequest(id=loan.id, decision=D.LOAN_DECISION_APPROVE),
            metadata=place.md["bank"])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_county_stands_in_for_an_absent_branch_and_says_so(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    loan = await _review(platform, place.md["county"], loan)
    assert loan.status == S.LOAN_STATUS_RECOMMENDED
    steps = await _history(platform, place, loan.id)
    assert steps[-1].action == "recommended" and steps[-1].body.startswith("县委组织部代为党支部")


async def test_member_without_a_branch_still_files_and_the_county_decides_the_branch_tier(platform, db, issuer,
                                                                                          county_token):
    place = await _place(db, issuer, county_token)
    loose = await add_member(db, COUNTY, home_org_id=None)
    loan = await _apply(platform, place, md=member_md(issuer, COUNTY, loose))
    assert loan.home_org_id == "" and loan.pending_tier == T.LOAN_TIER_BRANCH
    assert (await _review(platform, place.md["county"], loan)).status == S.LOAN_STATUS_RECOMMENDED


@pytest.mark.parametrize(("facts", "rule"), [
    ({"status": "MEMBERSHIP_STATUS_PROBATIONARY"}, "eligibility.membership_status"),
    ({"grade": "BASICALLY_COMPETENT"}, "eligibility.min_grade"),
    ({}, "eligibility.no_overdue"),
])
async def test_ineligible_member_is_told_which_rule_failed_and_nothing_is_written(platform, db, issuer,
                                                                                  county_token, facts, rule):
    place = await _place(db, issuer, county_token)
    member = await add_member(db, COUNTY, home_org_id=place.branch, **facts)
    if rule == "eligibility.no_overdue":
        old = await add_loan(db, COUNTY, programme_id=place.programme, member_id=member, status=6, pending_tier=0)
        await db.execute("UPDATE loans SET overdue_fen = 120000, days_past_due = 9 WHERE tenant_id = $1 AND id = $2",
                         COUNTY, old)
    before = await db.fetchval("SELECT count(*) FROM loans WHERE tenant_id = $1 AND member_id = $2", COUNTY, member)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _apply(platform, place, md=member_md(issuer, COUNTY, member))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(err.value)
    assert list(violations) == [rule] and "：" in violations[rule]
    after = await db.fetchval("SELECT count(*) FROM loans WHERE tenant_id = $1 AND member_id = $2", COUNTY, member)
    assert after == before


async def test_eligibility_check_explains_each_rule_without_filing(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    reply = await platform.desk_stub.CheckLoanEligibility(
        pb.CheckLoanEligibilityRequest(programme_id=place.programme, member_id=place.member, amount_fen=40_000_000,
                                       term_months=12), metadata=place.md["township"])
    assert not reply.eligible
    assert [r.rule for r in reply.results if not r.passed] == ["amount"]
    assert await db.fetchval("SELECT count(*) FROM loans WHERE tenant_id = $1 AND member_id = $2", COUNTY,
                             place.member) == 0


async def test_staff_file_on_behalf_of_members_in_their_reach_only(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place, md=place.md["branch"], member_id=place.member)
    assert loan.channel == pb.LOAN_CHANNEL_ON_BEHALF and loan.applied_by == "branch-sec"
    stranger = await add_member(db, COUNTY, home_org_id=await add_org(db, COUNTY, name="别村", kind="BRANCH"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _apply(platform, place, md=place.md["branch"], member_id=stranger)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_same_request_id_files_one_application(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    first = await _apply(platform, place, request_id=f"req-{place.member}")
    again = await _apply(platform, place, request_id=f"req-{place.member}")
    assert again.id == first.id and again.number == first.number
    assert await db.fetchval("SELECT count(*) FROM loans WHERE tenant_id = $1 AND member_id = $2", COUNTY,
                             place.member) == 1


async def test_bad_application_names_each_field(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.CreateLoanApplication(
            pb.CreateLoanApplicationRequest(programme_id=place.programme, amount_fen=-5, term_months=0, purpose="x"),
            metadata=place.md["member"])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"amount_fen", "term_months", "method", "purpose"} <= set(field_violations(err.value))


async def test_bank_decline_releases_the_whole_quota(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token, committed_fen=10_000_000)
    loan_id = await add_loan(db, COUNTY, programme_id=place.programme, member_id=place.member, status=4,
                             pending_tier=4, committed_fen=10_000_000, home_org_id=place.branch)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.RecordLoanCreditDecision(
            pb.RecordLoanCreditDecisionRequest(id=loan_id, decision=D.LOAN_DECISION_REFUSE),
            metadata=place.md["bank"])
    assert "reason" in field_violations(err.value)
    reply = await platform.desk_stub.RecordLoanCreditDecision(
        pb.RecordLoanCreditDecisionRequest(id=loan_id, decision=D.LOAN_DECISION_REFUSE, reason="征信记录不符合要求"),
        metadata=place.md["bank"])
    assert reply.loan.status == S.LOAN_STATUS_REFUSED and reply.loan.refused_tier == T.LOAN_TIER_BANK
    assert await _committed(db, COUNTY, place.programme) == 0


async def test_withdrawal_releases_the_quota_and_only_before_disbursement(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token, committed_fen=10_000_000)
    loan_id = await add_loan(db, COUNTY, programme_id=place.programme, member_id=place.member, status=4,
                             pending_tier=4, committed_fen=10_000_000, home_org_id=place.branch)
    reply = await platform.desk_stub.WithdrawLoanApplication(
        pb.WithdrawLoanApplicationRequest(id=loan_id, reason="资金已自筹"), metadata=place.md["member"])
    assert reply.loan.status == S.LOAN_STATUS_WITHDRAWN
    assert await _committed(db, COUNTY, place.programme) == 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.WithdrawLoanApplication(pb.WithdrawLoanApplicationRequest(id=loan_id),
                                                         metadata=place.md["member"])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_another_countys_loan_is_not_found(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    other = bearer(county_token(OTHER))
    for call in (platform.desk_stub.GetLoan(pb.GetLoanRequest(id=loan.id), metadata=other),
                 platform.desk_stub.ReviewLoanApplication(
                     pb.ReviewLoanApplicationRequest(id=loan.id, decision=D.LOAN_DECISION_APPROVE), metadata=other),
                 platform.desk_stub.ListLoanHistory(pb.ListLoanHistoryRequest(id=loan.id), metadata=other)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await platform.desk_stub.ListLoans(pb.ListLoansRequest(query=loan.number), metadata=other)
    assert listed.total == 0


async def test_another_banks_officer_does_not_see_the_loan(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan_id = await add_loan(db, COUNTY, programme_id=place.programme, member_id=place.member, status=4,
                             pending_tier=4, committed_fen=10_000_000)
    stranger = bank_md(issuer, COUNTY, bank="nongshang-x")
    for call in (platform.desk_stub.GetLoan(pb.GetLoanRequest(id=loan_id), metadata=stranger),
                 platform.desk_stub.RecordLoanCreditDecision(
                     pb.RecordLoanCreditDecisionRequest(id=loan_id, decision=D.LOAN_DECISION_APPROVE),
                     metadata=stranger)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    ours = await platform.desk_stub.ListLoans(pb.ListLoansRequest(programme_id=place.programme),
                                              metadata=place.md["bank"])
    assert [x.id for x in ours.loans] == [loan_id]
    # Naming another bank's programme in a filter answers as if it did not exist.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.ListLoans(pb.ListLoansRequest(programme_id=place.programme), metadata=stranger)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await platform.desk_stub.ListLoans(pb.ListLoansRequest(), metadata=stranger)).total == 0


async def test_member_sees_only_own_loans(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    mine = await _apply(platform, place)
    neighbour = await add_member(db, COUNTY, name="李四", home_org_id=place.branch)
    theirs = await _apply(platform, place, md=member_md(issuer, COUNTY, neighbour))
    listed = await platform.desk_stub.ListLoans(pb.ListLoansRequest(), metadata=place.md["member"])
    assert [x.id for x in listed.loans] == [mine.id] and listed.total == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.GetLoan(pb.GetLoanRequest(id=theirs.id), metadata=place.md["member"])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_awaiting_me_lists_what_waits_for_the_callers_tier(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    branch = await platform.desk_stub.ListLoans(pb.ListLoansRequest(awaiting_me=True), metadata=place.md["branch"])
    township = await platform.desk_stub.ListLoans(pb.ListLoansRequest(awaiting_me=True),
                                                  metadata=place.md["township"])
    assert [x.id for x in branch.loans] == [loan.id] and township.total == 0
    await _review(platform, place.md["branch"], loan)
    township = await platform.desk_stub.ListLoans(pb.ListLoansRequest(awaiting_me=True),
                                                  metadata=place.md["township"])
    assert [x.id for x in township.loans] == [loan.id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.ListLoans(pb.ListLoansRequest(page_size=-1), metadata=place.md["county"])
    assert "page_size" in field_violations(err.value)


async def test_attachments_are_sealed_and_read_back_within_reach(platform, db, issuer, county_token):
    place = await _place(db, issuer, county_token)
    loan = await _apply(platform, place)
    added = await platform.desk_stub.AddLoanAttachment(
        pb.AddLoanAttachmentRequest(loan_id=loan.id, filename="营业执照.png", content_type="image/png", content=PNG),
        metadata=place.md["member"])
    assert added.attachment.filename == "营业执照.png" and added.attachment.size_bytes == len(PNG)
    sealed = await db.fetchval("SELECT content_enc FROM loan_attachments WHERE tenant_id = $1 AND id = $2", COUNTY,
                               added.attachment.id)
    assert PNG not in bytes(sealed)
    got = await platform.desk_stub.GetLoanAttachment(
        pb.GetLoanAttachmentRequest(loan_id=loan.id, attachment_id=added.attachment.id), metadata=place.md["branch"])
    assert got.content == PNG
    fetched = await platform.desk_stub.GetLoan(pb.GetLoanRequest(id=loan.id), metadata=place.md["member"])
    assert fetched.loan.attachment_count == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AddLoanAttachment(
            pb.AddLoanAttachmentRequest(loan_id=loan.id, filename="x.exe", content=b"MZ\x90\x00"),
            metadata=place.md["member"])
    assert "content" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.ListLoanAttachments(pb.ListLoanAttachmentsRequest(loan_id=loan.id),
                                                     metadata=bearer(county_token(OTHER)))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_step_past_its_time_limit_is_reported_once(platform, db, issuer, county_token, settings_for):
    place = await _place(db, issuer, county_token, county=SWEEP)
    loan = await _apply(platform, place)
    late = loan.step_due_time.ToDatetime(tzinfo=UTC) + timedelta(minutes=1)
    settings = settings_for("desk")
    database = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        deps = DeskDeps(db=database, cipher=FieldCipher.from_settings(settings), clock=lambda: late)
        assert await loan_service.report_step_overdue(deps=deps, tenant=SWEEP, now=datetime.now(UTC)) == 0
        assert await loan_service.report_step_overdue(deps=deps, tenant=SWEEP, now=late) == 1
        assert await loan_service.report_step_overdue(deps=deps, tenant=SWEEP, now=late) == 0
    finally:
        await database.close()
    steps = await db.fetchval("SELECT count(*) FROM loan_steps WHERE tenant_id = $1 AND loan_id = $2"
                              " AND action = 'step_overdue'", SWEEP, loan.id)
    assert steps == 1
    assert await db.fetchval("SELECT step_overdue_sent FROM loans WHERE tenant_id = $1 AND id = $2", SWEEP, loan.id)
