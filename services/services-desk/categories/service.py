"""Categories' use cases: the county's categories (defaults written on first use) and a county's change to one."""

from __future__ import annotations

from jinqiao.desk.categories import domain, repo
from jinqiao.desk.categories.domain import Category, FormField, invalid_field
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.sla.domain import SlaPolicy
from jinqiao.kit import authz
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, NotFound
from jinqiao.kit.usecases import record_act, require_tenant


async def category_for_filing(uow: UnitOfWork, *, code: str) -> Category:
    """CONTRACT: the county's enabled category of that code (defaults written first), else InvalidArgument."""
    await repo.ensure_defaults(uow)
    found = await repo.category(uow, code=code)
    if found is None:
        raise invalid_field("category", "服务类别：不存在")
    if not found.enabled:
        raise invalid_field("category", f"服务类别：“{found.name}”已停用")
    return found


async def category_any(uow: UnitOfWork, *, code: str) -> Category | None:
    """CONTRACT: the county's category of that code, enabled or not (defaults written first), or None."""
    await repo.ensure_defaults(uow)
    return await repo.category(uow, code=code)


async def list_categories(*, deps: DeskDeps, principal: Principal, include_disabled: bool) -> list[Category]:
    """The county's categories; disabled ones only for those who configure the desk."""
    tenant = require_tenant(principal)
    include_disabled = include_disabled and authz.holds(principal, Permission.DESK_CONFIGURE)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.ensure_defaults(uow)
        result = await repo.categories(uow, include_disabled=include_disabled)
        await uow.commit()
    return result


async def update_category(*, deps: DeskDeps, principal: Principal, code: str, name: str, fields: list[FormField],
                          default_queue: str, priority: int, sla: SlaPolicy, enabled: bool, reopen_days: int,
                          version: int) -> Category:
    """Change a category of the county (a default category cannot be deleted, only disabled)."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.ensure_defaults(uow)
        current = await repo.category(uow, code=code, for_update=True)
        if current is None:
            raise NotFound("未找到该服务类别")
        if version and version != current.version:
            raise FailedPrecondition("该服务类别已被他人修改，请刷新后重试")
        changed = domain.validate_update(current, name=name, fields=fields, default_queue=default_queue,
                                         priority=priority, sla=sla, enabled=enabled, reopen_days=reopen_days)
        result = await repo.update(uow, category=changed)
        await record_act(uow, principal, service=SERVICE, action="ticket_category.update",
                         object_type="ticket_category", object_id=code)
        await uow.commit()
    return result
