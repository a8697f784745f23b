"""Placement (安置) of mobile members: the suggestion and the county's rule order, under ``…/orgs/placement-…``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.routes.organizations.orgs import OrgOut
from jinqiao.gateway.wire import Body, enum_in, enum_out
from jinqiao.organizations.v1 import organizations_pb2 as pb

# Declared before the tree's ``/orgs/{org_id}`` router is mounted, so these fixed paths win.
router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])



RuleName = Literal["employer_branch", "residence_community_branch", "fringe_village_branch",
                   "station_temporary_branch", "external_branch_in_city", "industry_branch", "online_branch"]
ScopeName = Literal["in_province", "out_of_province"]


class PlacementOut(BaseModel):
    """The organisation that should take the member in, the rule and the reason; or none and advice."""

    found: bool
    org: OrgOut | None
    rule: str | None
    reason: str
    advice: str
    temporary_branch_threshold: int


class RulesIn(Body):
    """A county's rule order for one scope."""

    rules: list[RuleName] = Field(min_length=1, max_length=7)


class RulesOut(BaseModel):
    """The rule order in force."""

    scope: str
    rules: list[str]
    is_default: bool



@router.get("/placement-suggestion", response_model=PlacementOut)
async def placement_suggestion(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    destination_code: Annotated[str, Query(min_length=6, max_length=6)],
    employer: Annotated[str, Query(max_length=100)] = "", industry: Annotated[str, Query(max_length=50)] = "",
    address: Annotated[str, Query(max_length=200)] = "",
) -> PlacementOut:
    """Which organisation should take a mobile member in (安置建议), by the county's rules in order."""
    reply = await gw.clients.organizations.SuggestTemporaryOrg(
        pb.SuggestTemporaryOrgRequest(destination_code=destination_code, employer=employer, industry=industry,
                                      address=address),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return PlacementOut(
        found=reply.found, org=OrgOut.from_proto(reply.org) if reply.found else None,
        rule=enum_out(pb.PlacementRule, "PLACEMENT_RULE", reply.rule) if reply.rule else None,
        reason=reply.reason, advice=reply.advice, temporary_branch_threshold=reply.temporary_branch_threshold,
    )


@router.get("/placement-rules/{scope}", response_model=RulesOut)
async def placement_rules(tenant: TenantDep, scope: ScopeName, who: CallerDep, gw: GatewayDep) -> RulesOut:
    """The county's placement rules for destinations inside or outside the province, in order."""
    reply = await gw.clients.organizations.GetPlacementRules(
        pb.GetPlacementRulesRequest(scope=enum_in(pb.PlacementScope, "PLACEMENT_SCOPE", scope)),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return RulesOut(scope=scope, rules=[enum_out(pb.PlacementRule, "PLACEMENT_RULE", r) for r in reply.rules],
                    is_default=reply.is_default)


@router.put("/placement-rules/{scope}", response_model=RulesOut)
async def set_placement_rules(tenant: TenantDep, scope: ScopeName, body: RulesIn, who: CallerDep,
                              gw: GatewayDep) -> RulesOut:
    """Reorder the county's placement rules (no code change needed)."""
    reply = await gw.clients.organizations.UpdatePlacementRules(
        pb.UpdatePlacementRulesRequest(scope=enum_in(pb.PlacementScope, "PLACEMENT_SCOPE", scope),
                                       rules=[enum_in(pb.PlacementRule, "PLACEMENT_RULE", r) for r in body.rules]),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return RulesOut(scope=scope, rules=[enum_out(pb.PlacementRule, "PLACEMENT_RULE", r) for r in reply.rules],
                    is_default=False)
