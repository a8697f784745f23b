"""The 党员先锋贷 figures (issue 14 §6): consumers from real JetStream deliveries, exact own-county figures,
suppressed wider scopes with complementary suppression, order tolerance, replay, and scope refusal.

Counties 650560–650569 are this module's own. The desk's loan events go straight onto JetStream as its relay would
publish them (the consumers, inbox and read model are the real ones), so the figures do not depend on the desk's
loan use cases; every event's occur_time is set explicitly.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import datetime

import grpc
import pytest
from google.protobuf.message import Message

from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.insights.v1 import insights_pb2
from jinqiao.kit import events as ev
from jinqiao.kit.auth import Role
from jinqiao.kit.db import PendingEvent
from tests.integration.conftest import bearer
from tests.integration.insights.test_tickets import publish  # noqa: F401  (fixture)

A, B, C, D = "650560", "650561", "650562", "650563"  # A five borrowers, B two, C three and D one of a shared one
SHARED = "H6-6505-PIONEER"
DISBURSED_AT = "2026-09-01T02:00:00Z"
REPAID_AT = "2026-10-01T02:00:00Z"
SWEPT_AT = "2026-11-01T02:00:00Z"


MEMBERS: list[str] = []


def loan() -> str:
    return str(uuid.uuid4())


class Loans:
    """Builds one county's loan events for one programme, each dated as asked."""

    def __init__(self, county: str, *, shared_code: str = "", name: str = "党员先锋贷（测试）") -> None:
        self.county, self.shared_code, self.name = county, shared_code, name
        self.programme_id = str(uuid.uuid4())

    def member(self) -> str:
        """A member id as the desk names them in its events; kept to check no aggregate ever shows one."""
        member_id = str(uuid.uuid4())
        MEMBERS.append(member_id)
        return member_id

    @property
    def key(self) -> str:
        return self.shared_code or f"programme:{self.programme_id}"

    def _build(self, message: Message, *, loan_id: str, at: str, version: int,
               tenant: str | None = None) -> PendingEvent:
        pending = ev.new_event(message, service="desk", tenant=tenant or self.county, aggregate_id=loan_id,
                               aggregate_version=version, traceparent=None)
        message.meta.occur_time.FromDatetime(datetime.fromisoformat(at.replace("Z", "+00:00")))
        return dataclasses.replace(pending, payload=message.SerializeToString())

    def applied(self, loan_id: str, amount_fen: int = 10_000_000) -> PendingEvent:
        return self._build(loan_events.LoanApplied(
            loan_id=loan_id, programme_id=self.programme_id, product="PIONEER", shared_code=self.shared_code,
            member_id=self.member(), amount_fen=amount_fen, term_months=36, applied_at="2026-08-01T02:00:00Z",
            pending_tier="BRANCH", channel="MEMBER_APP"), loan_id=loan_id, at="2026-08-01T02:00:00Z", version=1)

    def approved(self, loan_id: str, amount_fen: int = 10_000_000) -> PendingEvent:
        return self._build(loan_events.LoanReviewed(
            loan_id=loan_id, programme_id=self.programme_id, member_id=self.member(), tier="COUNTY",
            pending_tier="BANK", quota_committed=True, amount_fen=amount_fen),
            loan_id=loan_id, at="2026-08-10T02:00:00Z", version=4)

    def refused(self, loan_id: str) -> PendingEvent:
        return self._build(loan_events.LoanRefused(
            loan_id=loan_id, programme_id=self.programme_id, member_id=self.member(), tier="TOWNSHIP",
            reason="经营计划不完整"), loan_id=loan_id, at="2026-08-05T02:00:00Z", version=3)

    def withdrawn(self, loan_id: str) -> PendingEvent:
        return self._build(loan_events.LoanWithdrawn(
            loan_id=loan_id, programme_id=self.programme_id, member_id=self.member()),
            loan_id=loan_id, at="2026-08-06T02:00:00Z", version=2)

    def disbursed(self, loan_id: str, amount_fen: int = 10_000_000, subsidy_fen: int = 300_000) -> PendingEvent:
        return self._build(loan_events.LoanDisbursed(
            loan_id=loan_id, programme_id=self.programme_id, product="PIONEER", shared_code=self.shared_code,
            bank_code="gsrcb", member_id=self.member(), amount_fen=amount_fen, term_months=36,
            method="EQUAL_INSTALMENT", rate_bp=435, subsidy_bp=150, disbursed_on="2026-09-01",
            total_interest_fen=amount_fen // 10, total_subsidy_fen=subsidy_fen, programme_name=self.name),
            loan_id=loan_id, at=DISBURSED_AT, version=6)

    def repaid(self, loan_id: str, *, outstanding_fen: int, overdue_fen: int = 0, days: int = 0,
               at: str = REPAID_AT, version: int = 7) -> PendingEvent:
        return self._build(loan_events.LoanRepaymentRecorded(
            loan_id=loan_id, programme_id=self.programme_id, repayment_id=str(uuid.uuid4()), amount_fen=1_000_000,
            principal_fen=1_000_000, paid_on=at[:10], outstanding_principal_fen=outstanding_fen,
            overdue_fen=overdue_fen, days_past_due=days, member_id=self.member()),
            loan_id=loan_id, at=at, version=version)

    def overdue(self, loan_id: str, *, outstanding_fen: int, overdue_fen: int, days: int,
                at: str = SWEPT_AT) -> PendingEvent:
        return self._build(loan_events.LoanOverdue(
            loan_id=loan_id, programme_id=self.programme_id, member_id=self.member(), days_past_due=days,
            overdue_fen=overdue_fen, outstanding_principal_fen=outstanding_fen, since="2026-10-01",
            bank_name="测试农商银行"), loan_id=loan_id, at=at, version=8)

    def settled(self, loan_id: str) -> PendingEvent:
        return self._build(loan_events.LoanSettled(
            loan_id=loan_id, programme_id=self.programme_id, member_id=self.member(), settled_on="2026-11-20"),
            loan_id=loan_id, at="2026-11-20T02:00:00Z", version=9)

    def borrower(self, loan_id: str, amount_fen: int = 10_000_000, subsidy_fen: int = 300_000) -> list[PendingEvent]:
        return [self.applied(loan_id, amount_fen), self.approved(loan_id, amount_fen),
                self.disbursed(loan_id, amount_fen, subsidy_fen)]


PA, PB = Loans(A), Loans(B)
SC, SD = Loans(C, shared_code=SHARED, name="金桥市党员先锋贷"), Loans(D, shared_code=SHARED, name="金桥市党员先锋贷")
_SEEDED: list[list[PendingEvent]] = []


def seed_events() -> list[PendingEvent]:
    """A: 5 borrowers of 10万 (one repaid to 9万, one overdue 4500 元), 2 refused, 1 withdrawn, 1 pending;
    B: 2 borrowers; C: 3 borrowers of 5万 in the shared programme; D: 1 borrower of it. Shuffled."""
    a = [loan() for _ in range(5)]
    events = [e for x in a for e in PA.borrower(x)]
    events += [PA.repaid(a[0], outstanding_fen=9_000_000),
               PA.overdue(a[1], outstanding_fen=10_000_000, overdue_fen=450_000, days=10)]
    for _ in range(2):
        x = loan()
        events += [PA.applied(x), PA.refused(x)]
    withdrawn = loan()
    events += [PA.applied(withdrawn), PA.withdrawn(withdrawn), PA.applied(loan())]
    events += [e for _ in range(2) for e in PB.borrower(loan(), 20_000_000, 600_000)]
    events += [e for _ in range(3) for e in SC.borrower(loan(), 5_000_000, 150_000)]
    events += SD.borrower(loan(), 5_000_000, 150_000)
    random.Random(14).shuffle(events)
    return events


@pytest.fixture
async def seeded(publish) -> list[PendingEvent]:  # noqa: F811
    """The seed, once a module; every event is delivered twice."""
    if not _SEEDED:
        events = seed_events()
        await publish(events, twice=True)
        _SEEDED.append(events)
    return _SEEDED[0]


def county_admin(issuer, county: str) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0])


def analyst(issuer, role: Role, scope: str) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user=f"analyst-{scope}", role=role, scope=scope)[0])


async def stats(platform, metadata, scope: str) -> insights_pb2.GetLoanStatsResponse:
    return await platform.insights_stub.GetLoanStats(insights_pb2.GetLoanStatsRequest(scope=scope),
                                                     metadata=metadata)


def values(figures: insights_pb2.LoanFigures, *names: str) -> tuple[int, ...]:
    return tuple(getattr(figures, n).value for n in names)


async def test_own_county_sees_exact_figures_counted_once_despite_redelivery(platform, issuer, seeded):
    reply = await stats(platform, county_admin(issuer, A), A)
    assert reply.threshold == 0
    t = reply.total
    assert values(t, "applications", "approved", "refused", "disbursed", "settled", "overdue_loans") == (
        9, 5, 2, 5, 0, 1)
    assert values(t, "lent_fen", "outstanding_fen", "overdue_outstanding_fen", "overdue_fen", "subsidy_fen") == (
        50_000_000, 49_000_000, 10_000_000, 450_000, 1_500_000)
    assert t.overdue_rate_display == "20.4%"  # 10万 / 49万 = 20.408…%
    assert t.lent_fen.display == "50000000"
    assert [(p.key, p.name, p.product) for p in reply.programmes] == [(PA.key, "党员先锋贷（测试）", "PIONEER")]
    assert [c.key for c in reply.counties] == [A] and reply.HasField("update_time")


async def test_two_borrowers_are_exact_for_their_county_and_suppressed_for_the_province(platform, issuer, seeded):
    own = await stats(platform, county_admin(issuer, B), B)
    assert values(own.total, "disbursed", "lent_fen", "subsidy_fen") == (2, 40_000_000, 1_200_000)
    province = await stats(platform, analyst(issuer, Role.PROVINCE_ANALYST, "65"), "65")
    assert province.threshold == 3
    row = {r.key: r.figures for r in province.counties}[B]
    for name in ("applications", "approved", "disbursed", "lent_fen", "outstanding_fen", "subsidy_fen"):
        figure = getattr(row, name)
        assert (figure.value, figure.hidden_cells, figure.display) == (0, 1, "<3"), name
    assert row.overdue_rate_display == "—"


async def test_the_province_sees_a_big_cell_with_its_lone_overdue_loan_hidden(platform, issuer, seeded):
    province = await stats(platform, analyst(issuer, Role.PROVINCE_ANALYST, "65"), "65")
    row = {r.key: r.figures for r in province.counties}[A]
    assert values(row, "applications", "approved", "disbursed", "lent_fen", "outstanding_fen") == (
        9, 5, 5, 50_000_000, 49_000_000)
    # One overdue loan and two refusals are people: their counts and the overdue sums are not published, nor is
    # the rate that would need them.
    for name in ("overdue_loans", "overdue_outstanding_fen", "overdue_fen", "refused"):
        assert (getattr(row, name).value, getattr(row, name).hidden_cells) == (0, 1), name
    assert row.overdue_rate_display == "—"


async def test_a_shared_programme_row_leaves_out_its_small_county_and_says_so(platform, issuer, seeded):
    city = await stats(platform, analyst(issuer, Role.CITY_ANALYST, "6505"), "6505")
    shared = {p.key: p for p in city.programmes}[SHARED]
    assert shared.name == "金桥市党员先锋贷" and shared.product == "PIONEER"
    assert (shared.figures.disbursed.value, shared.figures.disbursed.hidden_cells) == (3, 1)
    assert shared.figures.disbursed.display == "3+"
    assert (shared.figures.lent_fen.value, shared.figures.lent_fen.display) == (15_000_000, "15000000+")
    counties = {r.key: r.figures for r in city.counties}
    assert counties[C].lent_fen.value == 15_000_000 and counties[D].lent_fen.hidden_cells == 1


async def test_every_row_adds_up_its_published_cells_only(platform, issuer, seeded):
    """Complementary suppression: the total minus the published county rows gives nothing back."""
    city = await stats(platform, analyst(issuer, Role.CITY_ANALYST, "6505"), "6505")
    for name in ("applications", "disbursed", "lent_fen", "outstanding_fen", "overdue_fen", "subsidy_fen"):
        total = getattr(city.total, name)
        assert total.value == sum(getattr(r.figures, name).value for r in city.counties), name
        assert total.value == sum(getattr(r.figures, name).value for r in city.programmes), name
        assert total.hidden_cells == sum(getattr(r.figures, name).hidden_cells for r in city.programmes), name
        assert total.hidden_cells >= 2  # B's cell and D's at least


async def test_replaying_every_event_changes_nothing(platform, issuer, publish, seeded):  # noqa: F811
    before = await stats(platform, county_admin(issuer, A), A)
    await publish([e for e in seeded if e.tenant_id == A], twice=True)
    after = await stats(platform, county_admin(issuer, A), A)
    assert after.total == before.total and after.programmes == before.programmes


async def test_events_out_of_order_keep_the_newest_word(platform, issuer, publish):  # noqa: F811
    county = "650564"
    p = Loans(county)
    loans = [loan() for _ in range(3)]
    # Repayment and overdue news before the disbursement; an older repayment after a newer sweep.
    first = [p.repaid(loans[0], outstanding_fen=8_000_000), p.overdue(loans[1], outstanding_fen=10_000_000,
                                                                        overdue_fen=200_000, days=5)]
    await publish(first, one_by_one=True)
    late = [p.repaid(loans[1], outstanding_fen=9_500_000, at="2026-10-15T02:00:00Z")]  # older than the sweep
    await publish([e for x in loans for e in p.borrower(x)] + late)
    reply = await stats(platform, county_admin(issuer, county), county)
    t = reply.total
    assert values(t, "disbursed", "overdue_loans", "outstanding_fen", "overdue_fen") == (
        3, 1, 8_000_000 + 10_000_000 + 10_000_000, 200_000)
    # A later settlement ends it all; the repayment that brought the balance down arrives after it.
    await publish([p.settled(loans[0]), p.repaid(loans[2], outstanding_fen=0, at="2026-11-19T02:00:00Z")])
    reply = await stats(platform, county_admin(issuer, county), county)
    assert values(reply.total, "settled", "outstanding_fen") == (1, 10_000_000)


async def test_a_review_before_the_application_waits_for_it(platform, issuer, publish):  # noqa: F811
    county = "650565"
    p = Loans(county)
    x = loan()
    await publish([p.approved(x)])
    assert (await stats(platform, county_admin(issuer, county), county)).total.applications.value == 0
    await publish([p.applied(x)])
    reply = await stats(platform, county_admin(issuer, county), county)
    assert values(reply.total, "applications", "approved") == (1, 1)


async def test_another_citys_scope_is_not_found(platform, issuer, seeded):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stats(platform, analyst(issuer, Role.CITY_ANALYST, "6505"), "6504")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_county_admin_cannot_read_a_neighbours_loans(platform, issuer, seeded):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stats(platform, county_admin(issuer, B), A)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_malformed_scope_is_not_found(platform, issuer):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stats(platform, analyst(issuer, Role.PROVINCE_ANALYST, "65"), "65x")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_member_never_appears_in_the_read_model_or_the_figures(platform, issuer, seeded,
                                                                        admin_conn_factory):
    conn = await admin_conn_factory("insights")
    columns = {r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'loan_facts'")}
    assert columns and not {c for c in columns if "member" in c}
    reply = await stats(platform, county_admin(issuer, A), A)
    text = str(reply)
    assert MEMBERS and not [m for m in MEMBERS if m in text]
