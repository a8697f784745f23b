"""Loan programmes over gRPC on real PostgreSQL (issue 14): the county creates one (defaults from the public
examples, a repeated request id returns it), updates it version-checked and never below what approvals committed,
lists and reads it; members and offices read, only the county department writes; a partner bank sees only its own
bank's programmes; another county's programme is not found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest

from jinqiao.desk.v1 import loans_pb2 as pb
from jinqiao.kit.auth import Role
from jinqiao.kit.clock import china_date, utc_now
from tests.integration.conftest import bearer
from tests.integration.desk.loan_fixtures import BANK, bank_md, member_md, office_md
from tests.support import field_violations

CREATE = "650501"
UPDATE = "650502"
LISTING = "650503"
HOME = "650504"
FOREIGN = "650505"
BANKS = "650506"


def terms(**changes: Any) -> pb.LoanProgramme:
    """A 党员先锋贷 with only what the county must say; the rest takes the defaults."""
    base: dict[str, Any] = {"name": "党员先锋贷", "product": pb.LOAN_PRODUCT_PIONEER,
                            "sponsor": pb.PROGRAMME_SPONSOR_COUNTY, "bank_code": BANK, "bank_name": "固始农商银行",
                            "rate_bp": 435, "total_quota_fen": 500_000_000, "window_start": "2026-01-01",
                            "active": True,
                            "rules": pb.EligibilityRules(min_party_years=1, min_grade="COMPETENT",
                                                         require_no_overdue=True, min_age=18, max_age=60)}
    base.update(changes)
    return pb.LoanProgramme(**base)


def admin(county_token: Any, county: str) -> Any:
    return bearer(county_token(county))


async def create(desk: Any, md: Any, programme: pb.LoanProgramme, request_id: str = "") -> pb.LoanProgramme:
    reply = await desk.CreateLoanProgramme(pb.CreateLoanProgrammeRequest(programme=programme, request_id=request_id),
                                           metadata=md)
    return reply.programme


@pytest.fixture(scope="module")
async def conn(admin_conn_factory: Any) -> Any:
    return await admin_conn_factory("desk")


async def test_county_creates_a_programme_with_defaults_and_a_repeated_request_returns_it(platform, county_token,
                                                                                          conn):
    desk, md = platform.desk_stub, admin(county_token, CREATE)
    startup = terms(name="创业担保贷款", product=pb.LOAN_PRODUCT_STARTUP_GUARANTEE)
    first = await create(desk, md, startup, request_id="prog-create-1")
    again = await create(desk, md, startup, request_id="prog-create-1")
    assert again.id == first.id and again.version == first.version == 1
    # The national example: 20 万元 for three years, the borrower paying up to LPR − 150 bp (300 − 150 = 150 bp).
    assert (first.cap_per_person_fen, first.max_term_months, first.subsidy_bp) == (20_000_000, 36, 285)
    assert list(first.methods) == [1, 2, 3] and (first.review_days, first.bank_days) == (5, 10)
    assert first.tenant_id == CREATE and first.window_end == "" and first.committed_fen == 0
    pioneer = await create(desk, md, terms(window_end="2026-12-31"))
    assert pioneer.cap_per_person_fen == 30_000_000 and pioneer.id != first.id
    got = await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=pioneer.id), metadata=md)
    assert got.programme == pioneer
    assert got.programme.rules.min_grade == "COMPETENT" and got.programme.rules.require_no_overdue
    rows = await conn.fetchval("SELECT count(*) FROM loan_programmes WHERE tenant_id = $1", CREATE)
    assert rows == 2
    audited = await conn.fetch("SELECT action FROM audit_log WHERE tenant_id = $1 AND object_id = $2", CREATE,
                               first.id)
    assert [r["action"] for r in audited] == ["loan_programme.create"]


async def test_bad_terms_name_each_field(platform, county_token):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(platform.desk_stub, admin(county_token, CREATE),
                     terms(min_amount_fen=40_000_000, bank_code="GS RCB", window_start="2026-13-01"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = field_violations(err.value)
    assert set(found) == {"programme.min_amount_fen", "programme.bank_code", "programme.window_start"}
    assert "最低申请金额" in (err.value.details() or "")


async def test_update_is_version_checked_and_quota_never_below_committed(platform, county_token, conn):
    desk, md = platform.desk_stub, admin(county_token, UPDATE)
    created = await create(desk, md, terms())
    changed = terms(id=created.id, version=1, name="党员先锋贷（2027 年）", cap_per_person_fen=20_000_000,
                    total_quota_fen=300_000_000, active=False)
    updated = (await desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(programme=changed), metadata=md)).programme
    assert (updated.version, updated.name, updated.cap_per_person_fen, updated.active) == (
        2, "党员先锋贷（2027 年）", 20_000_000, False)
    # Someone still holding version 1 is told to refresh, and nothing changes.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(programme=terms(id=created.id, version=1)),
                                       metadata=md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "刷新" in (err.value.details() or "")
    # Approvals hold 2.5 亿分 of it: the quota may not drop below that.
    await conn.execute("UPDATE loan_programmes SET committed_fen = 250000000 WHERE tenant_id = $1 AND id = $2",
                       UPDATE, created.id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(
            programme=terms(id=created.id, version=2, total_quota_fen=200_000_000)), metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == {"programme.total_quota_fen": "不能低于已审批占用的额度 250 万元"}
    kept = (await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=created.id), metadata=md)).programme
    assert (kept.version, kept.total_quota_fen, kept.committed_fen) == (2, 300_000_000, 250_000_000)
    audited = await conn.fetch("SELECT action FROM audit_log WHERE tenant_id = $1 AND object_id = $2 ORDER BY seq",
                               UPDATE, created.id)
    assert [r["action"] for r in audited] == ["loan_programme.create", "loan_programme.update"]


async def test_open_only_lists_what_takes_applications_today_and_a_member_reads_but_cannot_create(
        platform, county_token, issuer):
    desk, md = platform.desk_stub, admin(county_token, LISTING)
    today = china_date(utc_now())
    open_now = await create(desk, md, terms(name="开放中的项目"))
    # A new programme is open; the county stops one by an update.
    stopped = await create(desk, md, terms(name="已停办的项目", active=False))
    assert stopped.active
    stopped = (await desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(
        programme=terms(id=stopped.id, version=1, name="已停办的项目", active=False)), metadata=md)).programme
    assert not stopped.active
    later = await create(desk, md, terms(name="明年的项目", window_start=(today + timedelta(days=40)).isoformat()))
    ended = await create(desk, md, terms(name="已截止的项目", window_start="2025-01-01",
                                         window_end=(today - timedelta(days=1)).isoformat()))
    member = member_md(issuer, LISTING, "5f0e1c7a-1111-4a4a-8a8a-000000000001")
    listed = await desk.ListLoanProgrammes(pb.ListLoanProgrammesRequest(), metadata=member)
    assert {p.id for p in listed.programmes} == {open_now.id, stopped.id, later.id, ended.id}
    opened = await desk.ListLoanProgrammes(pb.ListLoanProgrammesRequest(open_only=True), metadata=member)
    assert [p.id for p in opened.programmes] == [open_now.id]
    branch = office_md(issuer, LISTING, role=Role.BRANCH_SECRETARY, org="5f0e1c7a-1111-4a4a-8a8a-0000000000b1")
    seen = await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=open_now.id), metadata=branch)
    assert seen.programme.name == "开放中的项目"
    for md_denied in (member, branch):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await create(desk, md_denied, terms(name="党员自建的项目"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(programme=terms(id=open_now.id, version=1)),
                                           metadata=md_denied)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_another_countys_programme_is_not_found(platform, county_token):
    desk = platform.desk_stub
    home = await create(desk, admin(county_token, HOME), terms())
    other = admin(county_token, FOREIGN)
    for call in (desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=home.id), metadata=other),
                 desk.UpdateLoanProgramme(pb.UpdateLoanProgrammeRequest(programme=terms(id=home.id, version=1)),
                                          metadata=other),
                 desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id="not-a-uuid"), metadata=other)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await desk.ListLoanProgrammes(pb.ListLoanProgrammesRequest(), metadata=other)
    assert home.id not in {p.id for p in listed.programmes}
    unchanged = await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=home.id), metadata=admin(county_token, HOME))
    assert unchanged.programme.version == 1


async def test_a_bank_officer_sees_only_its_own_banks_programmes(platform, county_token, issuer):
    desk, md = platform.desk_stub, admin(county_token, BANKS)
    ours = await create(desk, md, terms(name="农商行先锋贷"))
    theirs = await create(desk, md, terms(name="建行创业贷", bank_code="ccb-henan", bank_name="建设银行"))
    officer = bank_md(issuer, BANKS)
    listed = await desk.ListLoanProgrammes(pb.ListLoanProgrammesRequest(), metadata=officer)
    assert [p.id for p in listed.programmes] == [ours.id]
    got = await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=ours.id), metadata=officer)
    assert got.programme.bank_code == BANK
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=theirs.id), metadata=officer)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    other_bank = bank_md(issuer, BANKS, bank="icbc", user="icbc-officer")
    assert not (await desk.ListLoanProgrammes(pb.ListLoanProgrammesRequest(), metadata=other_bank)).programmes
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await desk.GetLoanProgramme(pb.GetLoanProgrammeRequest(id=ours.id), metadata=other_bank)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(desk, officer, terms(name="银行自建的项目"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
