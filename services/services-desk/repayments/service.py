"""Repayment use cases: disburse, record a repayment, read a schedule, the 贴息 claim list, the overdue sweep.

The partner bank is the source of truth for money: it disburses and records repayments (its officer or its own
system); the platform stores the schedule the rules of ``domain.py`` build, allocates what the bank reports,
and reminds members before and after due dates. Every write locks the loan row first, so two repayments of one
loan (or a repayment and the sweep) never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.loans import repo as loans_repo
from jinqiao.desk.loans import service as loans
from jinqiao.desk.loans.domain import LoanStatus, LoanTier
from jinqiao.desk.loans.models import LoanRow
from jinqiao.desk.loans.service import LoanView
from jinqiao.desk.programmes import repo as programmes
from jinqiao.desk.programmes.domain import Method, Product, Programme
from jinqiao.desk.repayments import domain, repo
from jinqiao.desk.repayments.domain import Standing, yuan
from jinqiao.desk.repayments.models import ClaimRow, InstalmentRow, RepaymentRow
from jinqiao.events.v1 import loan_events_pb2 as le
from jinqiao.kit import authz
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

# The principal of the sweep's acts (audit rows and events).
SYSTEM = Principal(user="system:loan-repayment-timers", role=Role.SERVICE, scope="41", tenant=None)
SYSTEM_ACTOR = "system"
REQUEST_ID_MAX = 100
# How far after disbursement the first due date may be.
FIRST_DUE_MAX_MONTHS = 3


@dataclass(frozen=True, slots=True)
class Schedule:
    """A loan's stored schedule and repayments, with the day its overdue flags are read on."""

    instalments: list[InstalmentRow]
    repayments: list[RepaymentRow]
    today: date


@dataclass(frozen=True, slots=True)
class Claims:
    """A 贴息 claim list of a period."""

    lines: list[ClaimRow]
    start: date
    end: date


# ---------------------------------------------------------------------------------------------- parsing


def _day(value: str, *, field: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument.field(field, "日期格式应为 YYYY-MM-DD") from None


def _request_id(value: str) -> str:
    if len(value) > REQUEST_ID_MAX:
        raise InvalidArgument.field("request_id", f"不能超过 {REQUEST_ID_MAX} 个字符")
    return value


async def _view(uow: UnitOfWork, row: LoanRow, programme: Programme | None = None) -> LoanView:
    """The loan with what its wire form shows beside the row (the loans concept's LoanView)."""
    counts = await loans_repo.attachment_counts(uow, loan_ids=[row.id])
    return LoanView(row=row, programme=programme or await programmes.get(uow, programme_id=row.programme_id),
                    attachment_count=counts.get(row.id, 0))


def _standing_changes(state: Standing) -> dict[str, Any]:
    return {"outstanding_principal_fen": state.outstanding_principal_fen, "overdue_fen": state.overdue_fen,
            "days_past_due": state.days_past_due, "next_due_date": state.next_due_date,
            "next_due_fen": state.next_due_fen}


def _enum_name(enum: type[Any], value: int) -> str:
    try:
        return str(enum(value).name)
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------------- disbursement


async def disburse_loan(*, deps: DeskDeps, principal: Principal, loan_id: str, disbursed_on: str,
                        first_due_date: str, request_id: str) -> LoanView:
    """放款: the bank paid the granted credit out; the schedule is built and stored (LoanDisbursed).

    The same request_id returns the loan unchanged; another request on a disbursed loan is refused."""
    tenant = require_tenant(principal)
    request_id = _request_id(request_id.strip())
    now = deps.clock()
    today = china_date(now)
    day = _day(disbursed_on, field="disbursed_on") or today
    first_due = _day(first_due_date, field="first_due_date")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        loan = await loans.visible_loan(uow, principal, loan_id, permission=Permission.LOANS_BANK, for_update=True)
        if request_id and loan.disburse_request_id == request_id:
            return await _view(uow, loan)
        if loan.status in (LoanStatus.DISBURSED, LoanStatus.SETTLED):
            raise FailedPrecondition("该贷款已放款")
        if loan.status != LoanStatus.CREDIT_GRANTED:
            raise FailedPrecondition("该贷款尚未获得银行授信，不能放款")
        if day > today:
            raise InvalidArgument.field("disbursed_on", "放款日期不能晚于今天")
        # A bank records loans it paid out before the platform knew them (存量贷款补录, or its batch arriving
        # late), so the day may precede the recorded grant; but not by more than the term, whose schedule would be
        # wholly past.
        earliest = domain.add_months(today, -max(loan.term_months, 12))
        if day < earliest:
            raise InvalidArgument.field("disbursed_on", f"放款日期不能早于 {earliest.isoformat()}（超出贷款期限）")
        if first_due is not None and not day < first_due <= domain.add_months(day, FIRST_DUE_MAX_MONTHS):
            raise InvalidArgument.field("first_due_date", f"首次还款日应在放款日之后 {FIRST_DUE_MAX_MONTHS} 个月内")
        principal_fen = loan.granted_amount_fen or loan.amount_fen
        periods = domain.build_schedule(principal_fen=principal_fen, term_months=loan.term_months,
                                        method=loan.method, rate_bp=loan.rate_bp, subsidy_bp=loan.subsidy_bp,
                                        disbursed_on=day, first_due_date=first_due)
        await repo.insert_schedule(uow, loan_id=loan.id, periods=periods)
        state = domain.standing([domain.Instalment(seq=p.seq, due_date=p.due_date, principal_fen=p.principal_fen,
                                                   borrower_interest_fen=p.borrower_interest_fen)
                                 for p in periods], today=today)
        updated = await repo.update_loan(uow, loan_id=loan.id, at=now, changes={
            "status": int(LoanStatus.DISBURSED), "pending_tier": int(LoanTier.NONE), "step_due_at": None,
            "disbursed_on": day, "disburse_request_id": request_id or None, **_standing_changes(state)})
        programme = await programmes.get(uow, programme_id=loan.programme_id)
        total_interest = sum(p.interest_fen for p in periods)
        total_subsidy = sum(p.subsidy_fen for p in periods)
        await loans.add_step(uow, loan_id=loan.id, action="disbursed", tier=int(LoanTier.BANK), actor=principal.user,
                             body=f"放款 {yuan(principal_fen)} 元（{day.isoformat()}），{loan.term_months} 期，"
                                  f"{_method_label(loan.method)}，利息合计 {yuan(total_interest)} 元，"
                                  f"其中贴息 {yuan(total_subsidy)} 元")
        await record_act(uow, principal, service=SERVICE, action="loan.disburse", object_type="loan",
                         object_id=loan.id, aggregate_version=updated.version, event=le.LoanDisbursed(
                             loan_id=loan.id, programme_id=loan.programme_id,
                             product=_enum_name(Product, programme.product) if programme else "",
                             shared_code=programme.shared_code if programme else "",
                             bank_code=programme.bank_code if programme else "", member_id=loan.member_id,
                             amount_fen=principal_fen, term_months=loan.term_months,
                             method=_enum_name(Method, loan.method), rate_bp=loan.rate_bp,
                             subsidy_bp=loan.subsidy_bp, disbursed_on=day.isoformat(),
                             total_interest_fen=total_interest, total_subsidy_fen=total_subsidy,
                             programme_name=programme.name if programme else ""))
        view = await _view(uow, updated, programme)
        await uow.commit()
    return view


def _method_label(method: int) -> str:
    try:
        return domain.METHOD_LABEL[Method(method)]
    except (ValueError, KeyError):
        return ""


# ---------------------------------------------------------------------------------------------- repayments


async def record_repayment(*, deps: DeskDeps, principal: Principal, loan_id: str, amount_fen: int, paid_on: str,
                           request_id: str) -> tuple[LoanView, RepaymentRow]:
    """还款: the bank recorded a repayment; it is allocated (oldest instalment first, interest before principal)
    and the loan's standing updated (LoanRepaymentRecorded; LoanSettled when nothing is owed any more).

    The same request_id returns the first answer and changes nothing."""
    tenant = require_tenant(principal)
    request_id = _request_id(request_id.strip()) or repo.new_repayment_id()
    now = deps.clock()
    today = china_date(now)
    day = _day(paid_on, field="paid_on") or today
    if amount_fen <= 0:
        raise InvalidArgument.field("amount_fen", "还款金额须大于 0")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        loan = await loans.visible_loan(uow, principal, loan_id, permission=Permission.LOANS_BANK, for_update=True)
        if (done := await repo.repayment_by_request(uow, loan_id=loan.id, request_id=request_id)) is not None:
            return await _view(uow, loan), done
        if loan.status == LoanStatus.SETTLED:
            raise FailedPrecondition("该贷款已结清")
        if loan.status != LoanStatus.DISBURSED or loan.disbursed_on is None:
            raise FailedPrecondition("该贷款尚未放款，不能登记还款")
        if day > today:
            raise InvalidArgument.field("paid_on", "还款日期不能晚于今天")
        if day < loan.disbursed_on:
            raise InvalidArgument.field("paid_on", f"还款日期不能早于放款日期 {loan.disbursed_on.isoformat()}")
        stored = await repo.instalments(uow, loan_id=loan.id)
        allocation = domain.allocate([i.as_domain() for i in stored], amount_fen=amount_fen, paid_on=day)
        changed = set(allocation.changed)
        await repo.save_payments(uow, loan_id=loan.id,
                                 items=[i for i in allocation.instalments if i.seq in changed])
        repayment = RepaymentRow(id=repo.new_repayment_id(), loan_id=loan.id, request_id=request_id,
                                 amount_fen=amount_fen, paid_on=day, principal_fen=allocation.principal_fen,
                                 interest_fen=allocation.interest_fen, recorded_by=principal.user, created_at=now)
        await repo.insert_repayment(uow, row=repayment)
        state = domain.standing(allocation.instalments, today=today)
        changes = _standing_changes(state)
        if state.settled:
            changes.update(status=int(LoanStatus.SETTLED), settled_on=day, next_due_date=None, next_due_fen=0,
                           overdue_fen=0, days_past_due=0)
        updated = await repo.update_loan(uow, loan_id=loan.id, at=now, changes=changes)
        await loans.add_step(uow, loan_id=loan.id, action="repaid", tier=int(LoanTier.BANK), actor=principal.user,
                             body=f"还款 {yuan(amount_fen)} 元（{day.isoformat()}）："
                                  f"本金 {yuan(repayment.principal_fen)} 元，"
                                  f"利息 {yuan(repayment.interest_fen)} 元；未还本金 "
                                  f"{yuan(updated.outstanding_principal_fen)} 元")
        await record_act(uow, principal, service=SERVICE, action="loan.repay", object_type="loan",
                         object_id=loan.id, aggregate_version=updated.version, event=le.LoanRepaymentRecorded(
                             loan_id=loan.id, programme_id=loan.programme_id, repayment_id=repayment.id,
                             amount_fen=amount_fen, principal_fen=repayment.principal_fen,
                             interest_fen=repayment.interest_fen, paid_on=day.isoformat(),
                             outstanding_principal_fen=updated.outstanding_principal_fen,
                             overdue_fen=updated.overdue_fen, days_past_due=updated.days_past_due,
                             member_id=loan.member_id))
        if state.settled:
            await loans.add_step(uow, loan_id=loan.id, action="settled", tier=int(LoanTier.BANK),
                                 actor=principal.user, body=f"贷款已结清（{day.isoformat()}）")
            await record_act(uow, principal, service=SERVICE, action="loan.settle", object_type="loan",
                             object_id=loan.id, aggregate_version=updated.version, event=le.LoanSettled(
                                 loan_id=loan.id, programme_id=loan.programme_id, member_id=loan.member_id,
                                 settled_on=day.isoformat()))
        view = await _view(uow, updated)
        await uow.commit()
    return view, repayment


# ---------------------------------------------------------------------------------------------- reading


async def get_schedule(*, deps: DeskDeps, principal: Principal, loan_id: str) -> Schedule:
    """A loan's schedule and repayments (empty before disbursement), for whoever may read the loan."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        loan = await loans.visible_loan(uow, principal, loan_id, permission=Permission.LOANS_READ)
        return Schedule(instalments=await repo.instalments(uow, loan_id=loan.id),
                        repayments=await repo.repayments(uow, loan_id=loan.id), today=china_date(deps.clock()))


async def list_subsidy_claims(*, deps: DeskDeps, principal: Principal, period: str, programme_id: str) -> Claims:
    """The 贴息 claim list of a month or quarter: the county department sees the county's, a bank its own."""
    tenant = require_tenant(principal)
    start, end = domain.parse_period(period)
    programme_key = parse_id(programme_id.strip(), field="programme_id") if programme_id.strip() else None
    rule = Reach.COUNTY if principal.role is Role.SERVICE else authz.scope_of(principal,
                                                                              Permission.LOAN_SUBSIDIES_READ)
    if rule is Reach.BANK:
        if not principal.org:
            raise PermissionDenied("无权查看贴息清单")
        bank: str | None = principal.org
    elif rule is Reach.COUNTY:
        bank = None
    else:
        raise PermissionDenied("无权查看贴息清单")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if programme_key is not None:
            programme = await programmes.get(uow, programme_id=programme_key)
            if programme is None or (bank is not None and programme.bank_code != bank):
                raise NotFound("贷款项目不存在")
        lines = await repo.claim_lines(uow, start=start, end=end, programme_id=programme_key, bank_code=bank)
    return Claims(lines=lines, start=start, end=end)


# ---------------------------------------------------------------------------------------------- the sweep


async def sweep_all_tenants(*, deps: DeskDeps, today: date | None = None) -> int:
    """Every county's repaying loans: overdue recomputed, reminders sent once each; crosses tenants only to read
    the list of counties (a SECURITY DEFINER function), then each county under its own tenant. How many
    reminders went out."""
    day = today or china_date(deps.clock())
    async with deps.db.pool.acquire() as conn:
        counties = await loans_repo.counties_with_loans_due_all_tenants(conn)
    sent = 0
    for county in counties:
        sent += await sweep_county(deps=deps, tenant=county, today=day)
    return sent


async def sweep_county(*, deps: DeskDeps, tenant: str, today: date) -> int:
    """One county's repaying loans due a visit today, each in its own transaction; how many reminders went out."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        loan_ids = await repo.repaying_loans(uow, today=today, horizon_days=domain.REMINDER_HORIZON_DAYS)
    sent = 0
    for loan_id in loan_ids:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            sent += await _sweep_loan(deps=deps, uow=uow, loan_id=loan_id, today=today)
            # Standing and reminders change only with the day (a repayment recomputes its own loan), so a loan is
            # visited once a day, however often the sweep runs.
            await repo.mark_swept(uow, loan_id=loan_id, today=today)
            await uow.commit()
    return sent


async def _sweep_loan(*, deps: DeskDeps, uow: UnitOfWork, loan_id: str, today: date) -> int:
    # The platform's own step acts for no caller: the loan is read (and locked) without a reach check.
    loan = await loans_repo.get(uow, loan_id=loan_id, for_update=True)
    if loan is None or loan.status != LoanStatus.DISBURSED:
        return 0
    now = deps.clock()
    stored = await repo.instalments(uow, loan_id=loan.id)
    items = [i.as_domain() for i in stored]
    state = domain.standing(items, today=today)
    changes = _standing_changes(state)
    current = {"outstanding_principal_fen": loan.outstanding_principal_fen, "overdue_fen": loan.overdue_fen,
               "days_past_due": loan.days_past_due, "next_due_date": loan.next_due_date,
               "next_due_fen": loan.next_due_fen}
    if changes != current:
        loan = await repo.update_loan(uow, loan_id=loan.id, at=now, changes=changes)
    programme = await programmes.get(uow, programme_id=loan.programme_id)
    bank_name = programme.bank_name if programme else ""
    by_seq = {i.seq: i for i in stored}
    sent = 0
    for reminder in domain.reminders_due(items, today=today):
        if not await repo.mark_reminded(uow, loan_id=loan.id, seq=reminder.seq, kind=reminder.kind, at=now):
            continue
        sent += 1
        if reminder.overdue:
            since = state.overdue_since.isoformat() if state.overdue_since else ""
            await loans.add_step(uow, loan_id=loan.id, action="overdue", actor=SYSTEM_ACTOR,
                                 body=f"逾期 {state.days_past_due} 天（自 {since}），"
                                      f"逾期金额 {yuan(state.overdue_fen)} 元")
            await record_act(uow, SYSTEM, service=SERVICE, action="loan.overdue", object_type="loan",
                             object_id=loan.id, aggregate_version=loan.version, event=le.LoanOverdue(
                                 loan_id=loan.id, programme_id=loan.programme_id, member_id=loan.member_id,
                                 days_past_due=state.days_past_due, overdue_fen=state.overdue_fen,
                                 outstanding_principal_fen=state.outstanding_principal_fen, since=since,
                                 bank_name=bank_name))
        else:
            item = by_seq[reminder.seq]
            owed = item.as_domain().unpaid_fen
            await loans.add_step(uow, loan_id=loan.id, action="reminded", actor=SYSTEM_ACTOR,
                                 body=f"第 {item.seq} 期将于 {item.due_date.isoformat()} 到期"
                                      f"（还有 {reminder.days} 天），"
                                      f"应还 {yuan(owed)} 元")
            await record_act(uow, SYSTEM, service=SERVICE, action="loan.remind", object_type="loan",
                             object_id=loan.id, aggregate_version=loan.version, event=le.LoanInstalmentDue(
                                 loan_id=loan.id, member_id=loan.member_id, seq=item.seq,
                                 due_date=item.due_date.isoformat(), due_fen=owed, days_before=reminder.days,
                                 bank_name=bank_name))
    return sent


