"""The 七有 checklist's use cases."""

from __future__ import annotations

from jinqiao.kit.auth import Principal
from jinqiao.kit.usecases import record_act, require_tenant
from jinqiao.organizations.checklist import domain, repo
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.orgs import domain as orgs
from jinqiao.organizations.orgs import service as org_scope


async def get_checklist(*, deps: OrgDeps, principal: Principal, org_id: str) -> domain.Checklist:
    """The 七有 checklist of an external branch and its completeness."""
    orgs.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        domain.ensure_external(org)
        return domain.complete(await repo.entries(uow, org_id=org.id))


async def update_checklist_item(*, deps: OrgDeps, principal: Principal, org_id: str, item: int, done: bool,
                                evidence: str) -> domain.Checklist:
    """Record one 七有 item with its evidence note; audited."""
    orgs.ensure_may_keep_org_life(principal.role)
    parsed, note = domain.parse_item(item, evidence=evidence)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        org = (await org_scope.load(uow, principal, org_id)).org
        domain.ensure_external(org)
        await repo.set_item(uow, org_id=org.id, item=parsed, done=done, evidence=note, actor=principal.user)
        result = domain.complete(await repo.entries(uow, org_id=org.id))
        await record_act(uow, principal, service=SERVICE, action="org.checklist", object_type="org",
                         object_id=org.id, reason=f"{parsed.name}={done}")
        await uow.commit()
    return result
