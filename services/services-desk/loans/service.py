"""Loan application use cases: file, check eligibility, review tier by tier, withdraw, the bank's credit decision."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from jinqiao.desk.attachments.domain import check_file
from jinqiao.desk.calendar.domain import working_days
from jinqiao.desk.calendar.service import calendar_for
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.loans import domain as loans
from jinqiao.desk.loans import repo
from jinqiao.desk.loans.domain import Channel, Decision, LoanStatus, LoanTier
from jinqiao.desk.loans.models import CONTENT_BINDING, LOAN_ATTACHMENTS, LoanAttachmentRow, LoanRow, StepRow
from jinqiao.desk.programmes import domain as programmes_domain
from jinqiao.desk.programmes import repo as programmes
from jinqiao.desk.programmes.domain import Programme, RuleResult
from jinqiao.desk.replica import service as replica
from jinqiao.desk.replica.domain import MemberFacts
from jinqiao.events.v1 import loan_events_pb2
from jinqiao.kit import authz, pagination
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

log = logging.getLogger(__name__)

_NOT_FOUND = "贷款申请不存在"

# ---------------------------------------------------------------- CONTRACT functions


async def in_reach(uow: UnitOfWork, principal: Principal, row: LoanRow, *, permission: Permission) -> bool:
    """CONTRACT: whether the caller's grant of ``permission`` reaches this loan: the county department all of its
    county; a township committee the members whose home branch lies in its township; a branch secretary its own
    branch's members; a member their own; a bank officer the loans of its bank's programmes."""
    if principal.role is Role.SERVICE:
        return True
    rule = authz.scope_of(principal, permission)
    if rule is Reach.COUNTY:
        return True
    if rule is Reach.SELF:
        return principal.member is not None and row.member_id == principal.member
    if rule is Reach.BANK:
        programme = await programmes.get(uow, programme_id=row.programme_id)
        return programme is not None and bool(principal.org) and programme.bank_code == principal.org
    if row.home_org_id is None or not principal.org:
        return False
    if rule is Reach.OWN_ORG:
        return row.home_org_id == principal.org
    if rule in (Reach.TOWNSHIP, Reach.ORG_SUBTREE):
        return row.home_org_id in await replica.org_subtree(uow, root_id=principal.org)
    return False


async def visible_loan(uow: UnitOfWork, principal: Principal, loan_id: str, *, permission: Permission,
                       for_update: bool = False) -> LoanRow:
    """CONTRACT: a loan of ``uow.tenant`` the caller reaches under ``permission``; anything else raises NotFound as
    if it did not exist (another county's, another bank's, another member's)."""
    key = parse_id(loan_id, what="该贷款申请")
    row = await repo.get(uow, loan_id=key, for_update=for_update)
    if row is None or not await in_reach(uow, principal, row, permission=permission):
        raise NotFound(_NOT_FOUND)
    return row


async def add_step(uow: UnitOfWork, *, loan_id: str, action: str, tier: int = 0, actor: str, body: str = "") -> str:
    """CONTRACT: append one entry to a loan's history (applied, recommended, …, disbursed, repaid, reminded)."""
    return await repo.add_step(uow, loan_id=loan_id, at=utc_now(), action=action, tier=tier, actor=actor, body=body)


# ---------------------------------------------------------------- the answer's shape

_PROGRAMME_NOT_FOUND = "贷款项目不存在"
_MEMBER_NOT_FOUND = "该党员不存在"
# The principal of the step-overdue sweep's acts (audit rows and events).
SYSTEM = Principal(user="system:loan-timers", role=Role.SERVICE, scope="41", tenant=None)
QUERY_MAX = 50


@dataclass(frozen=True, slots=True)
class LoanView:
    """A loan with what its wire form shows beside the row: its programme and how many files it has."""

    row: LoanRow
    programme: Programme | None
    attachment_count: int = 0


@dataclass(frozen=True, slots=True)
class Eligibility:
    """A member checked against a programme: the rules one by one."""

    member_id: str
    results: list[RuleResult]

    @property
    def eligible(self) -> bool:
        """Every rule passed."""
        return all(r.passed for r in self.results)


def _rule_dicts(results: list[RuleResult]) -> list[dict[str, object]]:
    return [{"rule": r.rule, "label": r.label, "passed": r.passed, "detail": r.detail} for r in results]


async def _view(uow: UnitOfWork, row: LoanRow) -> LoanView:
    programme = await programmes.get(uow, programme_id=row.programme_id)
    counts = await repo.attachment_counts(uow, loan_ids=[row.id])
    return LoanView(row=row, programme=programme, attachment_count=counts.get(row.id, 0))


# ---------------------------------------------------------------- who applies for whom


async def _applicant(uow: UnitOfWork, principal: Principal, member_id: str) -> MemberFacts:
    """The member an application is for: a member themself; staff name a member of their reach."""
    if principal.role is Role.MEMBER:
        if not principal.member or (member_id.strip() and member_id.strip() != principal.member):
            raise NotFound(_MEMBER_NOT_FOUND)
        key = principal.member
    else:
        if not member_id.strip():
            raise InvalidArgument.field("member_id", "请选择申请贷款的党员")
        key = parse_id(member_id.strip(), field="member_id")
    facts = await replica.member_facts(uow, member_id=key)
    if facts is None or not facts.active or not await _member_in_reach(uow, principal, facts):
        raise NotFound(_MEMBER_NOT_FOUND)
    return facts


async def _member_in_reach(uow: UnitOfWork, principal: Principal, facts: MemberFacts) -> bool:
    """Whether staff applying for a member reach them (the same rule as a loan of theirs)."""
    rule = authz.scope_of(principal, Permission.LOANS_APPLY)
    if principal.role is Role.SERVICE or rule is Reach.COUNTY:
        return True
    if rule is Reach.SELF:
        return principal.member == facts.member_id
    if facts.home_org_id is None or not principal.org:
        return False
    if rule is Reach.OWN_ORG:
        return facts.home_org_id == principal.org
    if rule in (Reach.TOWNSHIP, Reach.ORG_SUBTREE):
        return facts.home_org_id in await replica.org_subtree(uow, root_id=principal.org)
    return False


async def _programme(uow: UnitOfWork, programme_id: str, *, for_update: bool = False) -> Programme:
    found = await programmes.get(uow, programme_id=parse_id(programme_id, field="programme_id"),
                                 for_update=for_update)
    if found is None:
        raise NotFound(_PROGRAMME_NOT_FOUND)
    return found


async def _check(uow: UnitOfWork, *, programme: Programme, facts: MemberFacts, now: datetime, amount_fen: int,
                 term_months: int, method: int) -> list[RuleResult]:
    has_overdue, borrowed = await repo.member_standing(uow, member_id=facts.member_id, programme_id=programme.id)
    return programmes_domain.check_application(
        programme=programme, facts=facts, today=china_date(now), amount_fen=amount_fen, term_months=term_months,
        method=method, has_overdue=has_overdue, borrowed_fen=borrowed)


async def check_eligibility(*, deps: DeskDeps, principal: Principal, programme_id: str, member_id: str,
                            amount_fen: int, term_months: int) -> Eligibility:
    """Explain, rule by rule, whether a member (the caller, or one in staff's reach) may apply to a programme."""
    tenant = require_tenant(principal)
    if amount_fen < 0:
        raise InvalidArgument.field("amount_fen", "申请金额不能为负数")
    if not 0 <= term_months <= loans.MAX_TERM_MONTHS:
        raise InvalidArgument.field("term_months", f"贷款期限须在 1 至 {loans.MAX_TERM_MONTHS} 个月之间")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        programme = await _programme(uow, programme_id)
        facts = await _applicant(uow, principal, member_id)
        method = programme.methods[0] if programme.methods else 0
        results = await _check(uow, programme=programme, facts=facts, now=deps.clock(), amount_fen=amount_fen,
                               term_months=term_months or 1, method=method)
    return Eligibility(member_id=facts.member_id, results=results)


# ---------------------------------------------------------------- filing


async def create_application(*, deps: DeskDeps, principal: Principal, programme_id: str, member_id: str,
                             amount_fen: int, term_months: int, method: int, purpose: str, business_plan: str,
                             request_id: str = "") -> LoanView:
    """File an application (LoanApplied): checked rule by rule (an ineligible member is told which rules failed and
    nothing is written), numbered, waiting for the branch's recommendation. The same request_id files once."""
    tenant = require_tenant(principal)
    clean_purpose, clean_plan = loans.clean_application(amount_fen=amount_fen, term_months=term_months,
                                                        method=method, purpose=purpose, business_plan=business_plan)
    if len(request_id) > loans.REQUEST_ID_MAX:
        raise InvalidArgument.field("request_id", f"不能超过 {loans.REQUEST_ID_MAX} 个字符")
    calendar = await calendar_for(deps=deps, tenant=tenant)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            if existing := await repo.by_request_id(uow, request_id=request_id):
                if not await in_reach(uow, principal, existing, permission=Permission.LOANS_APPLY):
                    raise NotFound(_NOT_FOUND)
                return await _view(uow, existing)
        programme = await _programme(uow, programme_id)
        facts = await _applicant(uow, principal, member_id)
        results = await _check(uow, programme=programme, facts=facts, now=now, amount_fen=amount_fen,
                               term_months=term_months, method=method)
        if (error := loans.ineligible([(r.rule, r.label, r.passed, r.detail) for r in results])) is not None:
            raise error
        seq = await repo.next_number(uow, year=china_date(now).year)
        due = calendar.add_working_minutes(now, working_days(programme.review_days))
        channel = Channel.MEMBER_APP if principal.role is Role.MEMBER else Channel.ON_BEHALF
        row = await repo.insert(uow, values={
            "id": str(uuid.uuid4()), "number": loans.loan_number(china_date(now).year, seq),
            "programme_id": programme.id, "member_id": facts.member_id, "member_name": facts.name,
            "home_org_id": facts.home_org_id, "township": facts.township, "amount_fen": amount_fen,
            "term_months": term_months, "method": method, "purpose": clean_purpose, "business_plan": clean_plan,
            "status": int(LoanStatus.SUBMITTED), "pending_tier": int(LoanTier.BRANCH), "step_due_at": due,
            "channel": int(channel), "applied_by": principal.user, "request_id": request_id or None,
            "eligibility": _rule_dicts(results), "created_at": now, "updated_at": now,
        })
        body = "本人通过手机申请" if channel is Channel.MEMBER_APP else "工作人员代为申请"
        await repo.add_step(uow, loan_id=row.id, at=now, action="applied", tier=0, actor=principal.user,
                            body=f"{body}：{programme.name}，{_yuan(amount_fen)}，{term_months} 个月")
        await record_act(uow, principal, service=SERVICE, action="loan.apply", object_type="loan", object_id=row.id,
                         aggregate_version=row.version, event=loan_events_pb2.LoanApplied(
                             loan_id=row.id, programme_id=programme.id,
                             product=programmes_domain.Product(programme.product).name,
                             shared_code=programme.shared_code, member_id=row.member_id, amount_fen=amount_fen,
                             term_months=term_months, applied_at=now.isoformat(),
                             pending_tier=LoanTier.BRANCH.name, step_due_at=due.isoformat(), channel=channel.name))
        await uow.commit()
    return LoanView(row=row, programme=programme)


_VERBS = {LoanTier.BRANCH: "推荐", LoanTier.TOWNSHIP: "审核通过"}


def _yuan(fen: int) -> str:
    """分 as 元 text for the history (integer arithmetic; never a float)."""
    return f"{fen // 100}.{fen % 100:02d} 元"


# ---------------------------------------------------------------- the public tiers


async def review_application(*, deps: DeskDeps, principal: Principal, loan_id: str, decision: int, reason: str,
                             version: int) -> LoanView:
    """A public tier's decision (支部推荐, 乡镇审核, 县级审批): approval passes the application on, and the final
    public approval commits the programme's quota (refused, with nothing written, when the quota would overrun);
    refusal, with its reason, ends it."""
    tenant = require_tenant(principal)
    choice = loans.parse_decision(decision)
    clean = loans.clean_reason(reason, required=choice is Decision.REFUSE)
    calendar = await calendar_for(deps=deps, tenant=tenant)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_REVIEW, for_update=True)
        status = LoanStatus(row.status)
        pending = loans.pending_of(status)
        if pending is LoanTier.NONE or pending != row.pending_tier:
            raise FailedPrecondition("该申请当前不在审核环节")
        if not loans.may_decide(role=principal.role.value, pending=pending):
            raise PermissionDenied(loans.NOT_YOUR_TIER)
        loans.check_version(current=row.version, given=version)
        programme = await programmes.get(uow, programme_id=row.programme_id)
        if programme is None:
            raise FailedPrecondition(_PROGRAMME_NOT_FOUND)
        standing_in = principal.role is Role.COUNTY_ADMIN and pending is not LoanTier.COUNTY
        prefix = f"县委组织部代为{loans.TIER_NAMES[pending]}" if standing_in else loans.TIER_NAMES[pending]
        if choice is Decision.REFUSE:
            updated = await repo.update(uow, loan_id=row.id, at=now, changes={
                "status": int(LoanStatus.REFUSED), "pending_tier": int(LoanTier.NONE), "step_due_at": None,
                "refused_tier": int(pending), "refusal_reason": clean})
            await repo.add_step(uow, loan_id=row.id, at=now, action="refused", tier=int(pending),
                                actor=principal.user, body=f"{prefix}不予通过：{clean}")
            await record_act(uow, principal, service=SERVICE, action="loan.refuse", object_type="loan",
                             object_id=row.id, reason=clean, aggregate_version=updated.version,
                             event=loan_events_pb2.LoanRefused(loan_id=row.id, programme_id=row.programme_id,
                                                               member_id=row.member_id, tier=pending.name,
                                                               reason=clean, released_fen=0))
            await uow.commit()
            return await _view_after(deps, tenant, updated, programme)
        move = loans.approve(status=status, amount_fen=row.amount_fen,
                             township_final_up_to_fen=programme.township_final_up_to_fen)
        changes: dict[str, object] = {"status": int(move.status), "pending_tier": int(move.pending),
                                      "step_overdue_sent": False}
        if move.final:
            # The first write: when the quota would overrun nothing else has happened yet.
            if not await programmes.commit_quota(uow, programme_id=programme.id, amount_fen=row.amount_fen):
                raise FailedPrecondition(loans.QUOTA_EXHAUSTED)
            changes["committed_fen"] = row.amount_fen
        days = programme.bank_days if move.final else programme.review_days
        due = calendar.add_working_minutes(now, working_days(days))
        changes["step_due_at"] = due
        updated = await repo.update(uow, loan_id=row.id, at=now, changes=changes)
        action = "approved" if move.final else loans.APPROVE_ACTIONS[pending]
        verb = "审批通过" if move.final else _VERBS.get(pending, "通过")
        await repo.add_step(uow, loan_id=row.id, at=now, action=action, tier=int(pending), actor=principal.user,
                            body=f"{prefix}{verb}" + (f"：{clean}" if clean else ""))
        await record_act(uow, principal, service=SERVICE, action=f"loan.{action}", object_type="loan",
                         object_id=row.id, reason=clean or None, aggregate_version=updated.version,
                         event=loan_events_pb2.LoanReviewed(
                             loan_id=row.id, programme_id=row.programme_id, member_id=row.member_id,
                             tier=pending.name, pending_tier=move.pending.name, step_due_at=due.isoformat(),
                             quota_committed=move.final, amount_fen=row.amount_fen,
                             # The bank decides next once approved: its officers hear of it (notifications).
                             bank_code=programme.bank_code if move.pending is LoanTier.BANK else ""))
        await uow.commit()
    return await _view_after(deps, tenant, updated, programme)


async def _view_after(deps: DeskDeps, tenant: str, row: LoanRow, programme: Programme | None) -> LoanView:
    """The answer after a decision: the programme as committed now, and the file count."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        counts = await repo.attachment_counts(uow, loan_ids=[row.id])
        fresh = await programmes.get(uow, programme_id=row.programme_id)
    return LoanView(row=row, programme=fresh or programme, attachment_count=counts.get(row.id, 0))


async def withdraw_application(*, deps: DeskDeps, principal: Principal, loan_id: str, reason: str,
                               version: int) -> LoanView:
    """Withdraw an application before disbursement (the member, or staff for them), releasing committed quota
    (LoanWithdrawn)."""
    tenant = require_tenant(principal)
    clean = loans.clean_reason(reason, required=False)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_APPLY, for_update=True)
        if LoanStatus(row.status) not in loans.WITHDRAWABLE:
            raise FailedPrecondition("该申请已办结或已放款，不能撤回")
        loans.check_version(current=row.version, given=version)
        released = row.committed_fen
        if released:
            await programmes.release_quota(uow, programme_id=row.programme_id, amount_fen=released)
        updated = await repo.update(uow, loan_id=row.id, at=now, changes={
            "status": int(LoanStatus.WITHDRAWN), "pending_tier": int(LoanTier.NONE), "step_due_at": None,
            "committed_fen": 0})
        who = "本人撤回" if principal.role is Role.MEMBER else "工作人员代为撤回"
        await repo.add_step(uow, loan_id=row.id, at=now, action="withdrawn", tier=0, actor=principal.user,
                            body=who + (f"：{clean}" if clean else ""))
        await record_act(uow, principal, service=SERVICE, action="loan.withdraw", object_type="loan",
                         object_id=row.id, reason=clean or None, aggregate_version=updated.version,
                         event=loan_events_pb2.LoanWithdrawn(loan_id=row.id, programme_id=row.programme_id,
                                                             member_id=row.member_id, released_fen=released))
        await uow.commit()
    return await _view_after(deps, tenant, updated, None)


async def record_credit_decision(*, deps: DeskDeps, principal: Principal, loan_id: str, decision: int, reason: str,
                                 granted_amount_fen: int, version: int) -> LoanView:
    """The partner bank's credit decision on an approved application: a grant (maybe lower: the difference goes back
    to the quota) with the programme's rate and 贴息, or a decline releasing the whole quota."""
    tenant = require_tenant(principal)
    choice = loans.parse_decision(decision)
    clean = loans.clean_reason(reason, required=choice is Decision.REFUSE)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_BANK, for_update=True)
        if row.status != LoanStatus.APPROVED or row.pending_tier != LoanTier.BANK:
            raise FailedPrecondition("该申请当前不在银行审批环节")
        loans.check_version(current=row.version, given=version)
        programme = await programmes.get(uow, programme_id=row.programme_id)
        if programme is None:
            raise FailedPrecondition(_PROGRAMME_NOT_FOUND)
        if choice is Decision.REFUSE:
            released = row.committed_fen
            if released:
                await programmes.release_quota(uow, programme_id=row.programme_id, amount_fen=released)
            updated = await repo.update(uow, loan_id=row.id, at=now, changes={
                "status": int(LoanStatus.REFUSED), "pending_tier": int(LoanTier.NONE), "step_due_at": None,
                "refused_tier": int(LoanTier.BANK), "refusal_reason": clean, "committed_fen": 0})
            await repo.add_step(uow, loan_id=row.id, at=now, action="credit_declined", tier=int(LoanTier.BANK),
                                actor=principal.user, body=f"{programme.bank_name}不予授信：{clean}")
            await record_act(uow, principal, service=SERVICE, action="loan.credit_decline", object_type="loan",
                             object_id=row.id, reason=clean, aggregate_version=updated.version,
                             event=loan_events_pb2.LoanRefused(loan_id=row.id, programme_id=row.programme_id,
                                                               member_id=row.member_id, tier=LoanTier.BANK.name,
                                                               reason=clean, released_fen=released))
        else:
            granted = loans.check_grant(granted_amount_fen=granted_amount_fen, amount_fen=row.amount_fen)
            released = max(row.committed_fen - granted, 0)
            if released:
                await programmes.release_quota(uow, programme_id=row.programme_id, amount_fen=released)
            updated = await repo.update(uow, loan_id=row.id, at=now, changes={
                "status": int(LoanStatus.CREDIT_GRANTED), "pending_tier": int(LoanTier.NONE), "step_due_at": None,
                "granted_amount_fen": granted, "committed_fen": row.committed_fen - released,
                "rate_bp": programme.rate_bp, "subsidy_bp": programme.subsidy_bp})
            await repo.add_step(uow, loan_id=row.id, at=now, action="credit_granted", tier=int(LoanTier.BANK),
                                actor=principal.user, body=f"{programme.bank_name}授信 {_yuan(granted)}"
                                + (f"：{clean}" if clean else ""))
            await record_act(uow, principal, service=SERVICE, action="loan.credit_grant", object_type="loan",
                             object_id=row.id, reason=clean or None, aggregate_version=updated.version,
                             event=loan_events_pb2.LoanCreditGranted(
                                 loan_id=row.id, programme_id=row.programme_id, member_id=row.member_id,
                                 bank_code=programme.bank_code, granted_amount_fen=granted, released_fen=released))
        await uow.commit()
    return await _view_after(deps, tenant, updated, programme)


# ---------------------------------------------------------------- reading


async def get_loan(*, deps: DeskDeps, principal: Principal, loan_id: str) -> LoanView:
    """One loan within the caller's reach."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_READ)
        return await _view(uow, row)


async def _named_member_in_reach(uow: UnitOfWork, member_id: str, *, member_ids: list[str] | None,
                           home_orgs: list[str] | None, bank: str | None) -> bool:
    """Whether a member named by a list filter is one the caller reaches: themself (a member), one of the county
    (its department), of the caller's branch or subtree, or (a bank) one with a loan of the bank's programmes."""
    if member_ids is not None:
        return member_id in member_ids
    if bank is not None:
        _, found = await repo.list_loans(
            uow, member_ids=None, home_orgs=None, bank=bank, statuses=[], programme_id=None, pending_tier=None,
            overdue_only=False, member_id=member_id, query="", limit=1, offset=0)
        return found > 0
    member = await replica.home_member(uow, member_id=member_id)
    if member is None:
        return False
    return home_orgs is None or (member.home_org_id is not None and member.home_org_id in home_orgs)


async def list_loans(*, deps: DeskDeps, principal: Principal, statuses: list[int], programme_id: str,
                     awaiting_me: bool, overdue_only: bool, member_id: str, query: str, page: int,
                     page_size: int) -> tuple[list[LoanView], int]:
    """A page of the loans within the caller's reach matching the filters, newest first, and the count of all."""
    tenant = require_tenant(principal)
    wanted: list[int] = []
    for value in statuses:
        try:
            wanted.append(int(LoanStatus(value)))
        except ValueError:
            raise InvalidArgument.field("statuses", "贷款状态无效") from None
    programme_key = parse_id(programme_id.strip(), field="programme_id") if programme_id.strip() else None
    member_key = parse_id(member_id.strip(), field="member_id") if member_id.strip() else None
    text = query.strip()
    if len(text) > QUERY_MAX:
        raise InvalidArgument.field("query", f"搜索词不能超过 {QUERY_MAX} 个字")
    if page < 0:
        raise InvalidArgument.field("page", "页码无效")
    limit = pagination.page_size(page_size)
    pending: int | None = None
    if awaiting_me:
        tier = loans.tier_of_role(principal.role.value)
        pending = int(tier) if tier is not None else -1
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        member_ids: list[str] | None = None
        home_orgs: list[str] | None = None
        bank: str | None = None
        rule = authz.scope_of(principal, Permission.LOANS_READ)
        if principal.role is Role.SERVICE or rule is Reach.COUNTY:
            pass
        elif rule is Reach.SELF:
            member_ids = [principal.member] if principal.member else []
        elif rule is Reach.BANK:
            bank = principal.org or "\x00"
        elif rule is Reach.OWN_ORG:
            home_orgs = [principal.org] if principal.org else []
        elif rule in (Reach.TOWNSHIP, Reach.ORG_SUBTREE) and principal.org:
            home_orgs = sorted(await replica.org_subtree(uow, root_id=principal.org))
        else:
            home_orgs = []
        # A filter naming a programme or member beyond the caller's reach answers as if it did not exist.
        if programme_key is not None:
            programme = await programmes.get(uow, programme_id=programme_key)
            if programme is None or (bank is not None and programme.bank_code != bank):
                raise NotFound("贷款项目不存在")
        if member_key is not None and not await _named_member_in_reach(uow, member_key, member_ids=member_ids,
                                                                       home_orgs=home_orgs, bank=bank):
            raise NotFound("该党员不存在")
        rows, total = await repo.list_loans(
            uow, member_ids=member_ids, home_orgs=home_orgs, bank=bank, statuses=wanted, programme_id=programme_key,
            pending_tier=pending, overdue_only=overdue_only, member_id=member_key, query=text, limit=limit,
            offset=(max(page, 1) - 1) * limit)
        counts = await repo.attachment_counts(uow, loan_ids=[r.id for r in rows])
        cache: dict[str, Programme | None] = {}
        views = []
        for r in rows:
            if r.programme_id not in cache:
                cache[r.programme_id] = await programmes.get(uow, programme_id=r.programme_id)
            views.append(LoanView(row=r, programme=cache[r.programme_id], attachment_count=counts.get(r.id, 0)))
    return views, total


async def list_history(*, deps: DeskDeps, principal: Principal, loan_id: str) -> list[StepRow]:
    """A loan's steps, oldest first."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_READ)
        return await repo.steps(uow, loan_id=row.id)


# ---------------------------------------------------------------- attachments


def _binding(tenant: str, attachment_id: str) -> dict[str, str]:
    return {"tenant": tenant, "table": LOAN_ATTACHMENTS, "column": CONTENT_BINDING, "row": attachment_id}


async def add_attachment(*, deps: DeskDeps, principal: Principal, loan_id: str, filename: str, content_type: str,
                         content: bytes) -> LoanAttachmentRow:
    """Attach a JPEG, PNG or PDF (≤ 5 MiB, ≤ 10 per application) to an application: the member while it is open,
    staff at any time; the content is sealed bound to its row."""
    tenant = require_tenant(principal)
    checked = check_file(filename=filename, declared_type=content_type, content=content)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        # Locked, so two uploads at once cannot both pass the per-application limit.
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_APPLY, for_update=True)
        if principal.role is Role.MEMBER and LoanStatus(row.status) not in loans.WITHDRAWABLE:
            raise FailedPrecondition("申请已办结，不能再添加附件")
        counts = await repo.attachment_counts(uow, loan_ids=[row.id])
        if counts.get(row.id, 0) >= loans.MAX_ATTACHMENTS:
            raise FailedPrecondition(f"每份申请最多 {loans.MAX_ATTACHMENTS} 个附件")
        attachment = LoanAttachmentRow(id=str(uuid.uuid4()), loan_id=row.id, filename=checked.filename,
                                       content_type=checked.content_type, size_bytes=checked.size_bytes,
                                       sha256=checked.sha256, uploaded_by=principal.user, created_at=now)
        sealed = deps.cipher.encrypt_bytes(content, **_binding(tenant, attachment.id))
        await repo.insert_attachment(uow, row=attachment, content_enc=sealed)
        await record_act(uow, principal, service=SERVICE, action="loan.attachment_add", object_type="loan",
                         object_id=row.id)
        await uow.commit()
    return attachment


async def list_attachments(*, deps: DeskDeps, principal: Principal, loan_id: str) -> list[LoanAttachmentRow]:
    """The files of a loan the caller may read (meta only), oldest first."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_READ)
        return await repo.attachments(uow, loan_id=row.id)


async def get_attachment(*, deps: DeskDeps, principal: Principal, loan_id: str,
                         attachment_id: str) -> tuple[LoanAttachmentRow, bytes]:
    """A file of a loan the caller may read, with its clear content (the read is audited: it may carry PII)."""
    tenant = require_tenant(principal)
    aid = parse_id(attachment_id, what="附件")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_loan(uow, principal, loan_id, permission=Permission.LOANS_READ)
        found = await repo.attachment(uow, loan_id=row.id, attachment_id=aid)
        if found is None:
            raise NotFound("未找到附件")
        meta, sealed = found
        content = deps.cipher.decrypt_bytes(sealed, **_binding(tenant, meta.id))
        await record_act(uow, principal, service=SERVICE, action="loan.attachment_read",
                         object_type="loan_attachment", object_id=aid)
        await uow.commit()
    return meta, content


# ---------------------------------------------------------------- the step-overdue sweep


async def report_step_overdue_all_tenants(*, deps: DeskDeps, now: datetime) -> int:
    """Every county's applications whose pending step passed its time limit, each reported once
    (LoanStepOverdue); crosses tenants by design: only the list of counties is read across them (a SECURITY
    DEFINER function), then each county under its own tenant."""
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_loans_due_all_tenants(conn)
    reported = 0
    for county in counties:
        reported += await report_step_overdue(deps=deps, tenant=county, now=now)
    return reported


async def report_step_overdue(*, deps: DeskDeps, tenant: str, now: datetime) -> int:
    """One county's overdue steps, each reported in its own transaction; how many."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        due = await repo.step_overdue_ids(uow, now=now)
    reported = 0
    for loan_id in due:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            row = await repo.get(uow, loan_id=loan_id, for_update=True)
            if (row is None or row.pending_tier == LoanTier.NONE or row.step_overdue_sent or row.step_due_at is None
                    or row.step_due_at >= now):
                continue
            tier = LoanTier(row.pending_tier)
            updated = await repo.update(uow, loan_id=row.id, at=now, changes={"step_overdue_sent": True})
            await repo.add_step(uow, loan_id=row.id, at=now, action="step_overdue", tier=int(tier), actor="system",
                                body=f"{loans.TIER_NAMES[tier]}超过办理时限仍未处理")
            local = tier in (LoanTier.BRANCH, LoanTier.TOWNSHIP)
            await record_act(uow, SYSTEM, service=SERVICE, action="loan.step_overdue", object_type="loan",
                             object_id=row.id, aggregate_version=updated.version,
                             event=loan_events_pb2.LoanStepOverdue(
                                 loan_id=row.id, programme_id=row.programme_id, tier=tier.name,
                                 step_due_at=row.step_due_at.isoformat(),
                                 home_org_id=(row.home_org_id or "") if local else "",
                                 township=row.township if local else ""))
            await uow.commit()
            reported += 1
    return reported
