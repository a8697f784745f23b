"""The programme's quota under concurrent final approvals, on real PostgreSQL: no interleaving passes it.

QUOTA (650512) holds the rows.
"""

from __future__ import annotations

import asyncio

import grpc

from jinqiao.desk.v1 import loans_pb2 as pb
from tests.integration.conftest import bearer
from tests.integration.desk.loan_fixtures import add_loan, add_member, add_programme

QUOTA = "650512"
AMOUNT = 10_000_000


async def test_parallel_approvals_stop_at_the_quota(platform, admin_conn_factory, county_token):
    db = await admin_conn_factory("desk")
    programme = await add_programme(db, QUOTA, quota_fen=3 * AMOUNT)
    loans = []
    for _ in range(8):
        member = await add_member(db, QUOTA)
        loans.append(await add_loan(db, QUOTA, programme_id=programme, member_id=member, status=3, pending_tier=3,
                                    amount_fen=AMOUNT))
    md = bearer(county_token(QUOTA))

    async def approve(loan_id: str) -> grpc.StatusCode:
        try:
            await platform.desk_stub.ReviewLoanApplication(
                pb.ReviewLoanApplicationRequest(id=loan_id, decision=pb.LOAN_DECISION_APPROVE), metadata=md)
        except grpc.aio.AioRpcError as err:
            assert "额度不足" in (err.details() or "")
            return err.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(approve(x) for x in loans))
    assert codes.count(grpc.StatusCode.OK) == 3
    assert codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 5
    committed = await db.fetchval("SELECT committed_fen FROM loan_programmes WHERE tenant_id = $1 AND id = $2", QUOTA,
                                  programme)
    assert committed == 3 * AMOUNT
    rows = await db.fetch("SELECT status, committed_fen FROM loans WHERE tenant_id = $1 AND programme_id = $2",
                          QUOTA, programme)
    assert sum(r["committed_fen"] for r in rows) == committed
    # The refused approvals wrote nothing: those loans still wait for the county.
    assert sorted(r["status"] for r in rows) == [3] * 5 + [4] * 3


async def test_a_released_quota_can_be_committed_again(platform, admin_conn_factory, county_token, issuer):
    db = await admin_conn_factory("desk")
    programme = await add_programme(db, QUOTA, quota_fen=AMOUNT, committed_fen=AMOUNT)
    member = await add_member(db, QUOTA)
    held = await add_loan(db, QUOTA, programme_id=programme, member_id=member, status=4, pending_tier=4,
                          amount_fen=AMOUNT, committed_fen=AMOUNT)
    waiting = await add_loan(db, QUOTA, programme_id=programme, member_id=await add_member(db, QUOTA), status=3,
                             pending_tier=3, amount_fen=AMOUNT)
    md = bearer(county_token(QUOTA))
    request = pb.ReviewLoanApplicationRequest(id=waiting, decision=pb.LOAN_DECISION_APPROVE)
    try:
        await platform.desk_stub.ReviewLoanApplication(request, metadata=md)
        raise AssertionError("approved beyond the quota")
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    await platform.desk_stub.WithdrawLoanApplication(pb.WithdrawLoanApplicationRequest(id=held, reason="不需要了"),
                                                     metadata=md)
    reply = await platform.desk_stub.ReviewLoanApplication(request, metadata=md)
    assert reply.loan.status == pb.LOAN_STATUS_APPROVED
