"""Placement's persistence: the candidate organisations and each county's rule order."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.organizations.orgs.domain import OrgKind
from jinqiao.organizations.orgs.models import ORG_COLUMNS
from jinqiao.organizations.placement.domain import Candidate, Rule, Scope
from jinqiao.organizations.placement.models import candidate_from_record

_PLACEABLE = [int(k) for k in (OrgKind.ENTERPRISE_BRANCH, OrgKind.COMMUNITY_BRANCH, OrgKind.VILLAGE_BRANCH,
                               OrgKind.TEMPORARY_BRANCH, OrgKind.EXTERNAL_BRANCH, OrgKind.EXTERNAL_GENERAL_BRANCH,
                               OrgKind.INDUSTRY_BRANCH, OrgKind.ONLINE_BRANCH)]


async def candidates(uow: UnitOfWork) -> list[Candidate]:
    """Active organisations a member could be placed in, with whether each sits under a town station."""
    records = await uow.conn.fetch(
        f"SELECT {ORG_COLUMNS}, EXISTS (SELECT 1 FROM orgs p WHERE p.id = o.parent_id AND p.kind = $2)"
        " AS station_child FROM orgs o WHERE status = 1 AND kind = ANY($1::smallint[]) ORDER BY path_key",
        _PLACEABLE, int(OrgKind.TOWN_STATION),
    )
    return [candidate_from_record(r) for r in records]


async def rules(uow: UnitOfWork, *, scope: Scope) -> list[Rule]:
    """The county's rule order for a scope, or [] when it uses the defaults."""
    records = await uow.conn.fetch(
        "SELECT rule FROM placement_rules WHERE scope = $1 ORDER BY position", int(scope)
    )
    return [Rule(r["rule"]) for r in records]


async def replace_rules(uow: UnitOfWork, *, scope: Scope, rules: list[Rule]) -> None:
    """Replace the county's rule order for a scope."""
    await uow.conn.execute("DELETE FROM placement_rules WHERE scope = $1", int(scope))
    await uow.conn.executemany(
        "INSERT INTO placement_rules (tenant_id, scope, position, rule) VALUES ($1, $2, $3, $4)",
        [(uow.tenant, int(scope), i, int(rule)) for i, rule in enumerate(rules)],
    )
