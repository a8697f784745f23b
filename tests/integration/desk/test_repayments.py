"""Disbursement, repayments and the overdue sweep over gRPC on real PostgreSQL: the schedule is stored and sums
to the fen, repeated commands change nothing, repayments allocate and settle, the sweep sets overdue figures and
sends each reminder once; another county's or another bank's loan is not found; a member cannot disburse.

Counties 650525–650539 are this module's alone (one per test where the outbox is counted).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.repayments import domain, timers
from jinqiao.desk.v1 import loans_pb2
from jinqiao.kit.clock import china_date
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from tests.integration.conftest import bearer
from tests.integration.desk.loan_fixtures import add_loan, add_member, add_programme, bank_md, member_md
from tests.support import field_violations

S = loans_pb2.LoanStatus


@pytest.fixture(scope="module")
async def desk_db(admin_conn_factory):
    return await admin_conn_factory("desk")


def _today() -> date:
    return china_date(datetime.now(UTC))


async def _granted(db, county: str, *, amount_fen: int = 1_200_000, term: int = 12, method: int = 2,
                   rate_bp: int = 1200, subsidy_bp: int = 600, bank: str = "gsrcb") -> tuple[str, str]:
    programme = await add_programme(db, county, bank_code=bank, rate_bp=rate_bp, subsidy_bp=subsidy_bp,
                                    committed_fen=amount_fen)
    member = await add_member(db, county)
    loan = await add_loan(db, county, programme_id=programme, member_id=member, status=5, pending_tier=4,
                          amount_fen=amount_fen, term_months=term, method=method, committed_fen=amount_fen,
                          granted_amount_fen=amount_fen, rate_bp=rate_bp, subsidy_bp=subsidy_bp)
    return loan, member


async def _disburse(platform, issuer, county: str, loan_id: str, *, request_id: str = "d-1", **kw):
    return (await platform.desk_stub.DisburseLoan(
        loans_pb2.DisburseLoanRequest(id=loan_id, request_id=request_id, **kw),
        metadata=bank_md(issuer, county))).loan


async def _repay(platform, issuer, county: str, loan_id: str, amount_fen: int, *, request_id: str):
    return await platform.desk_stub.RecordLoanRepayment(
        loans_pb2.RecordLoanRepaymentRequest(id=loan_id, amount_fen=amount_fen, request_id=request_id),
        metadata=bank_md(issuer, county))


async def _events(db, county: str, kind: str) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = $2", county,
                             f"jinqiao.events.v1.{kind}")


async def _counts(db, county: str, loan_id: str) -> tuple[int, int, int, int]:
    key = uuid.UUID(loan_id)
    return (await db.fetchval("SELECT count(*) FROM loan_instalments WHERE tenant_id = $1 AND loan_id = $2",
                              county, key),
            await db.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", county),
            await db.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1", county),
            await db.fetchval("SELECT count(*) FROM loan_steps WHERE tenant_id = $1 AND loan_id = $2", county, key))


async def test_disbursement_stores_a_schedule_that_sums_to_the_fen(platform, issuer, desk_db):
    county = "650525"
    loan_id, _ = await _granted(desk_db, county, amount_fen=20_000_000, term=36, method=2, rate_bp=395,
                                subsidy_bp=245)
    loan = await _disburse(platform, issuer, county, loan_id)
    today = _today()
    assert loan.status == S.LOAN_STATUS_DISBURSED
    assert loan.disbursed_on == today.isoformat()
    assert loan.outstanding_principal_fen == 20_000_000
    assert loan.next_due_date == domain.add_months(today, 1).isoformat()
    # Period 1 of the worked example: 555,575 principal + 25,000 borrower interest.
    assert loan.next_due_fen == 580_575
    schedule = await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                        metadata=bank_md(issuer, county))
    assert len(schedule.instalments) == 36
    assert schedule.total_principal_fen == 20_000_000 == sum(i.principal_fen for i in schedule.instalments)
    assert schedule.instalments[0].subsidy_fen == 40_833
    assert schedule.instalments[-1].balance_after_fen == 0
    assert schedule.total_due_fen == 20_000_000 + sum(i.borrower_interest_fen for i in schedule.instalments)
    assert schedule.total_interest_fen == schedule.total_subsidy_fen + sum(
        i.borrower_interest_fen for i in schedule.instalments)
    stored = await desk_db.fetchval("SELECT sum(principal_fen) FROM loan_instalments WHERE tenant_id = $1"
                                    " AND loan_id = $2", county, uuid.UUID(loan_id))
    assert stored == 20_000_000
    assert await _events(desk_db, county, "LoanDisbursed") == 1


async def test_repeated_disbursement_changes_nothing(platform, issuer, desk_db):
    county = "650526"
    loan_id, _ = await _granted(desk_db, county)
    first = await _disburse(platform, issuer, county, loan_id, request_id="same-key")
    before = await _counts(desk_db, county, loan_id)
    again = await _disburse(platform, issuer, county, loan_id, request_id="same-key")
    assert again.version == first.version and again.disbursed_on == first.disbursed_on
    assert await _counts(desk_db, county, loan_id) == before
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, county, loan_id, request_id="another-key")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "已放款" in (err.value.details() or "")
    assert await _counts(desk_db, county, loan_id) == before
    assert await _events(desk_db, county, "LoanDisbursed") == 1


async def test_disbursement_refuses_a_future_day_and_a_loan_without_credit(platform, issuer, desk_db):
    county = "650527"
    loan_id, _ = await _granted(desk_db, county)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, county, loan_id,
                        disbursed_on=(_today() + timedelta(days=1)).isoformat())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "disbursed_on" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, county, loan_id, first_due_date="2026-02-30")
    assert "first_due_date" in field_violations(err.value)
    programme = await add_programme(desk_db, county)
    member = await add_member(desk_db, county)
    pending = await add_loan(desk_db, county, programme_id=programme, member_id=member, status=4, pending_tier=4)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, county, pending)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_repayments_allocate_and_settle(platform, issuer, desk_db):
    county = "650528"
    # 12,000.00 元, 3 months, 等额本金 at 12 % (r = 1 %) with 6 % 贴息: interest 12,000 / 8,000 / 4,000 fen, half of
    # it 贴息; the borrower owes 406,000 + 404,000 + 402,000 = 1,212,000 fen in all.
    loan_id, _ = await _granted(desk_db, county, amount_fen=1_200_000, term=3, method=2, rate_bp=1200,
                                subsidy_bp=600)
    await _disburse(platform, issuer, county, loan_id)
    partial = await _repay(platform, issuer, county, loan_id, 6_000 + 100_000, request_id="r-1")
    assert (partial.repayment.interest_fen, partial.repayment.principal_fen) == (6_000, 100_000)
    assert partial.loan.outstanding_principal_fen == 1_100_000
    assert partial.loan.next_due_fen == 300_000
    again = await _repay(platform, issuer, county, loan_id, 6_000 + 100_000, request_id="r-1")
    assert again.repayment.id == partial.repayment.id
    assert await desk_db.fetchval("SELECT count(*) FROM loan_repayments WHERE tenant_id = $1", county) == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _repay(platform, issuer, county, loan_id, 1_106_001, request_id="r-over")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # 1,212,000 − 106,000 = 1,106,000 fen still owed.
    assert "11,060.00 元" in field_violations(err.value)["amount_fen"]
    done = await _repay(platform, issuer, county, loan_id, 1_106_000, request_id="r-2")
    assert done.loan.status == S.LOAN_STATUS_SETTLED
    assert done.loan.settled_on == _today().isoformat()
    assert done.loan.outstanding_principal_fen == 0
    schedule = await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                        metadata=bank_md(issuer, county))
    assert all(i.paid_on for i in schedule.instalments)
    assert [r.amount_fen for r in schedule.repayments] == [106_000, 1_106_000]
    assert await _events(desk_db, county, "LoanRepaymentRecorded") == 2
    assert await _events(desk_db, county, "LoanSettled") == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _repay(platform, issuer, county, loan_id, 100, request_id="r-3")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def _sweep(settings_for, county: str, today: date) -> int:
    settings = settings_for("desk")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        deps = DeskDeps(db=db, cipher=FieldCipher.from_settings(settings))
        return await timers.sweep_county(deps=deps, tenant=county, today=today)
    finally:
        await db.close()


async def test_overdue_sweep_sets_days_and_amount_and_reminds_once(platform, issuer, desk_db, settings_for):
    county = "650529"
    loan_id, _ = await _granted(desk_db, county, amount_fen=1_200_000, term=3, method=2, rate_bp=1200,
                                subsidy_bp=600)
    loan = await _disburse(platform, issuer, county, loan_id)
    due = date.fromisoformat(loan.next_due_date)
    assert await _sweep(settings_for, county, due - timedelta(days=7)) == 1
    assert await _sweep(settings_for, county, due - timedelta(days=7)) == 0
    assert await _events(desk_db, county, "LoanInstalmentDue") == 1
    await _sweep(settings_for, county, due - timedelta(days=3))
    await _sweep(settings_for, county, due - timedelta(days=1))
    assert await _events(desk_db, county, "LoanInstalmentDue") == 3
    assert await _sweep(settings_for, county, due + timedelta(days=8)) >= 1
    assert await _sweep(settings_for, county, due + timedelta(days=8)) == 0
    assert await _events(desk_db, county, "LoanOverdue") == 1
    row = await desk_db.fetchrow("SELECT overdue_fen, days_past_due FROM loans WHERE tenant_id = $1 AND id = $2",
                                 county, uuid.UUID(loan_id))
    assert (row["overdue_fen"], row["days_past_due"]) == (406_000, 8)
    kinds = {r["kind"] for r in await desk_db.fetch(
        "SELECT kind FROM loan_reminders WHERE tenant_id = $1 AND loan_id = $2", county, uuid.UUID(loan_id))}
    assert {"due_7", "due_3", "due_1", "overdue_7"} <= kinds
    steps = await desk_db.fetchval("SELECT count(*) FROM loan_steps WHERE tenant_id = $1 AND loan_id = $2"
                                   " AND action = 'overdue'", county, uuid.UUID(loan_id))
    assert steps == 1


async def test_foreign_county_loan_is_not_found(platform, issuer, desk_db):
    loan_id, _ = await _granted(desk_db, "650530")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, "650531", loan_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                 metadata=bank_md(issuer, "650531"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_another_banks_loan_is_not_found(platform, issuer, desk_db):
    county = "650530"
    loan_id, _ = await _granted(desk_db, county)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.DisburseLoan(loans_pb2.DisburseLoanRequest(id=loan_id, request_id="x"),
                                              metadata=bank_md(issuer, county, bank="otherbank"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_member_cannot_disburse(platform, issuer, desk_db):
    county = "650530"
    loan_id, member = await _granted(desk_db, county)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.DisburseLoan(loans_pb2.DisburseLoanRequest(id=loan_id, request_id="x"),
                                              metadata=member_md(issuer, county, member))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_subsidy_claims_list_the_period_for_the_county_and_its_bank(platform, issuer, desk_db,
                                                                          county_token):
    county = "650532"
    loan_id, _ = await _granted(desk_db, county, amount_fen=1_200_000, term=3, method=2, rate_bp=1200,
                                subsidy_bp=600)
    loan = await _disburse(platform, issuer, county, loan_id)
    due = date.fromisoformat(loan.next_due_date)
    period = f"{due.year}-{due.month:02d}"
    office = bearer(county_token(county))
    claims = await platform.desk_stub.ListLoanSubsidyClaims(loans_pb2.ListLoanSubsidyClaimsRequest(period=period),
                                                            metadata=office)
    assert [(c.loan_id, c.seq, c.subsidy_fen, c.paid) for c in claims.lines] == [(loan_id, 1, 6_000, False)]
    assert claims.total_subsidy_fen == 6_000 and claims.total_interest_fen == 12_000
    assert claims.lines[0].principal_fen == 1_200_000
    mine = await platform.desk_stub.ListLoanSubsidyClaims(loans_pb2.ListLoanSubsidyClaimsRequest(period=period),
                                                          metadata=bank_md(issuer, county))
    assert len(mine.lines) == 1
    other = await platform.desk_stub.ListLoanSubsidyClaims(loans_pb2.ListLoanSubsidyClaimsRequest(period=period),
                                                           metadata=bank_md(issuer, county, bank="otherbank"))
    assert list(other.lines) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.ListLoanSubsidyClaims(loans_pb2.ListLoanSubsidyClaimsRequest(period="2026-13"),
                                                       metadata=office)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "period" in field_violations(err.value)


async def test_disbursement_follows_the_first_due_date_and_may_be_recorded_late_within_the_term(platform, issuer,
                                                                                              desk_db):
    county = "650533"
    loan_id, _ = await _granted(desk_db, county, term=3)
    today = _today()
    # 存量贷款补录: further back than the term (here 12 months at least) its schedule would be wholly past.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _disburse(platform, issuer, county, loan_id, disbursed_on=(today - timedelta(days=400)).isoformat())
    assert "超出贷款期限" in field_violations(err.value)["disbursed_on"]
    first_due = today + timedelta(days=20)
    loan = await _disburse(platform, issuer, county, loan_id, first_due_date=first_due.isoformat())
    assert loan.next_due_date == first_due.isoformat()
    schedule = await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                        metadata=bank_md(issuer, county))
    assert [i.due_date for i in schedule.instalments] == [
        domain.add_months(first_due, k).isoformat() for k in range(3)]


async def test_repeated_repayment_changes_nothing(platform, issuer, desk_db):
    county = "650534"
    loan_id, _ = await _granted(desk_db, county, term=3)
    await _disburse(platform, issuer, county, loan_id)
    first = await _repay(platform, issuer, county, loan_id, 50_000, request_id="pay-1")
    before = await _counts(desk_db, county, loan_id)
    paid = await desk_db.fetchval("SELECT sum(paid_principal_fen + paid_interest_fen) FROM loan_instalments"
                                  " WHERE tenant_id = $1 AND loan_id = $2", county, uuid.UUID(loan_id))
    again = await _repay(platform, issuer, county, loan_id, 50_000, request_id="pay-1")
    assert again.repayment == first.repayment
    assert again.loan.version == first.loan.version
    assert await _counts(desk_db, county, loan_id) == before
    after = await desk_db.fetchval("SELECT sum(paid_principal_fen + paid_interest_fen) FROM loan_instalments"
                                   " WHERE tenant_id = $1 AND loan_id = $2", county, uuid.UUID(loan_id))
    assert after == paid == 50_000


async def test_a_member_reads_their_own_schedule_but_not_anothers(platform, issuer, desk_db):
    county = "650536"
    loan_id, member = await _granted(desk_db, county, term=2)
    await _disburse(platform, issuer, county, loan_id)
    mine = await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                    metadata=member_md(issuer, county, member))
    assert len(mine.instalments) == 2
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan_id),
                                                 metadata=member_md(issuer, county, str(uuid.uuid4())))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
