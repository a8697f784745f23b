"""Programme use cases: create, update (version-checked), read and list; the eligibility check's inputs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.programmes import repo
from jinqiao.desk.programmes.domain import (
    Programme,
    ProgrammeDraft,
    ValidTerms,
    validate_programme,
    with_defaults,
    yuan,
)
from jinqiao.desk.programmes.models import rules_to_json
from jinqiao.kit import authz
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

_NOT_FOUND = "贷款项目不存在"
REQUEST_ID_MAX = 200


def _bank_of(principal: Principal, permission: Permission) -> str | None:
    """The bank whose programmes alone the caller sees (a partner bank's officer), or None for all of the county."""
    if authz.scope_of(principal, permission) is Reach.BANK:
        # A bank officer's token carries its bank's code in ``org``; without one it sees nothing ("" is no bank's
        # code: codes are validated to 2–32 characters).
        return principal.org or ""
    return None


def _terms(valid: ValidTerms) -> dict[str, Any]:
    """The columns of ``loan_programmes`` a programme's terms fill."""
    d = valid.draft
    return {
        "name": d.name.strip(), "description": d.description.strip(), "product": d.product, "sponsor": d.sponsor,
        "shared_code": d.shared_code, "bank_code": d.bank_code, "bank_name": d.bank_name.strip(),
        "cap_per_person_fen": d.cap_per_person_fen, "min_amount_fen": d.min_amount_fen,
        "max_term_months": d.max_term_months, "methods": list(d.methods), "rate_bp": d.rate_bp,
        "subsidy_bp": d.subsidy_bp, "total_quota_fen": d.total_quota_fen, "window_start": valid.window_start,
        "window_end": valid.window_end, "rules": rules_to_json(d.rules),
        "township_final_up_to_fen": d.township_final_up_to_fen, "review_days": d.review_days,
        "bank_days": d.bank_days, "active": d.active,
    }


async def visible_programme(uow: UnitOfWork, principal: Principal, programme_id: str, *,
                            permission: Permission = Permission.LOAN_PROGRAMMES_READ,
                            for_update: bool = False) -> Programme:
    """CONTRACT: a programme of ``uow.tenant`` the caller may see (a bank officer: its bank's only); anything else
    raises NotFound as if it did not exist."""
    key = parse_id(programme_id, what="该贷款项目")
    found = await repo.get(uow, programme_id=key, for_update=for_update)
    bank = _bank_of(principal, permission)
    if found is None or (bank is not None and found.bank_code != bank):
        raise NotFound(_NOT_FOUND)
    return found


async def create_programme(*, deps: DeskDeps, principal: Principal, draft: ProgrammeDraft,
                           request_id: str = "") -> Programme:
    """Create a programme of the caller's county, active (the defaults fill what is left empty); a repeated request
    id returns the programme the first request made."""
    tenant = require_tenant(principal)
    if len(request_id) > REQUEST_ID_MAX:
        raise InvalidArgument.field("request_id", "请求编号过长")
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            first = await repo.by_request_id(uow, request_id=request_id)
            if first is not None:
                return first
        # A new programme takes applications within its window (the wire cannot tell "inactive" from "not
        # said"): a county stops one by updating it.
        valid = validate_programme(with_defaults(replace(draft, active=True), today=china_date(now)))
        created = await repo.insert(uow, programme_id=str(uuid.uuid4()), terms=_terms(valid),
                                    request_id=request_id or None, created_by=principal.user, at=now)
        if created is None:
            # A concurrent retry of the same request won: its programme is the one.
            first = await repo.by_request_id(uow, request_id=request_id)
            assert first is not None
            return first
        await record_act(uow, principal, service=SERVICE, action="loan_programme.create",
                         object_type="loan_programme", object_id=created.id, aggregate_version=created.version)
        await uow.commit()
    return created


async def update_programme(*, deps: DeskDeps, principal: Principal, programme_id: str, draft: ProgrammeDraft,
                           version: int) -> Programme:
    """Replace a programme's terms (version-checked as tickets are); the quota never below what approvals hold."""
    tenant = require_tenant(principal)
    now = deps.clock()
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await visible_programme(uow, principal, programme_id, permission=Permission.LOAN_PROGRAMMES_MANAGE,
                                      for_update=True)
        if version and version != row.version:
            raise FailedPrecondition("贷款项目已被他人修改，请刷新后重试")
        valid = validate_programme(with_defaults(draft, today=china_date(now)))
        if valid.draft.total_quota_fen < row.committed_fen:
            raise InvalidArgument(FieldViolation(
                "programme.total_quota_fen", f"不能低于已审批占用的额度 {yuan(row.committed_fen)}"))
        updated = await repo.replace_terms(uow, programme_id=row.id, terms=_terms(valid), at=now)
        await record_act(uow, principal, service=SERVICE, action="loan_programme.update",
                         object_type="loan_programme", object_id=row.id, aggregate_version=updated.version)
        await uow.commit()
    return updated


async def get_programme(*, deps: DeskDeps, principal: Principal, programme_id: str) -> Programme:
    """One programme of the caller's county (a bank officer: of its bank)."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await visible_programme(uow, principal, programme_id)


async def list_programmes(*, deps: DeskDeps, principal: Principal, open_only: bool = False) -> list[Programme]:
    """The county's programmes (a bank officer: its bank's); ``open_only``: those taking applications today."""
    tenant = require_tenant(principal)
    today = china_date(deps.clock())
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        found = await repo.list_all(uow, bank_code=_bank_of(principal, Permission.LOAN_PROGRAMMES_READ))
    return [p for p in found if p.open_on(today)] if open_only else found
