"""Placement's use cases: suggest an organisation, read and replace the county's rule order."""

from __future__ import annotations

from jinqiao.kit.auth import Principal
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.usecases import record_act, require_tenant
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.orgs import domain as orgs
from jinqiao.organizations.placement import domain, repo


async def place(uow: UnitOfWork, *, request: domain.Request) -> domain.Placement:
    """Placement in the unit of work's county by its rules in order (the cross-county flow places in its own uow)."""
    scope = domain.scope_for(tenant=uow.tenant, destination_code=request.destination_code)
    rules = await repo.rules(uow, scope=scope) or list(domain.DEFAULT_RULES[scope])
    return domain.place(request, rules=rules, candidates=await repo.candidates(uow))


async def suggest_temporary_org(*, deps: OrgDeps, principal: Principal, destination_code: str, employer: str,
                                industry: str, address: str) -> domain.Placement:
    """The organisation that should take a mobile member in, by the county's rules in order, and why."""
    orgs.ensure_may_read(principal.role)
    tenant = require_tenant(principal)
    # A destination this county does not place is refused before a transaction opens.
    domain.scope_for(tenant=tenant, destination_code=destination_code)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await place(uow, request=domain.Request(destination_code=destination_code, employer=employer,
                                                       industry=industry, address=address))


async def get_placement_rules(*, deps: OrgDeps, principal: Principal, scope: int) -> domain.RuleOrder:
    """The county's rule order for a scope, and whether it is the default."""
    orgs.ensure_may_read(principal.role)
    which = domain.parse_scope(scope)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        rules = await repo.rules(uow, scope=which)
    if rules:
        return domain.RuleOrder(rules=rules, is_default=False)
    return domain.RuleOrder(rules=list(domain.DEFAULT_RULES[which]), is_default=True)


async def update_placement_rules(*, deps: OrgDeps, principal: Principal, scope: int,
                                 rules: list[int]) -> list[domain.Rule]:
    """Replace the county's rule order for a scope (e.g. put the industry branch first); audited."""
    domain.ensure_may_set_rules(principal.role)
    which = domain.parse_scope(scope)
    parsed = domain.parse_rules(rules, scope=which)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await repo.replace_rules(uow, scope=which, rules=parsed)
        await record_act(uow, principal, service=SERVICE, action="placement_rules.update",
                         object_type="placement_rules", object_id=which.name)
        await uow.commit()
    return parsed
