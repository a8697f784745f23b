"""Loan application use cases: file, check eligibility, review tier by tier, withdraw, the bank's credit decision."""

from __future__ import annotations

from jinqiao.desk.loans import repo
from jinqiao.desk.loans.models import LoanRow
from jinqiao.desk.programmes import repo as programmes
from jinqiao.desk.replica import service as replica
from jinqiao.kit import authz
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import utc_now
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import NotFound
from jinqiao.kit.usecases import parse_id

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
