"""Placement's RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.orgs.api import org_to_proto
from jinqiao.organizations.placement import service
from jinqiao.organizations.placement.domain import TEMPORARY_BRANCH_THRESHOLD
from jinqiao.organizations.v1 import organizations_pb2 as pb


class PlacementServicer:
    """Placement's part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def SuggestTemporaryOrg(
        self, request: pb.SuggestTemporaryOrgRequest, context: Context
    ) -> pb.SuggestTemporaryOrgResponse:
        """Where a mobile member should be taken in, and why."""
        result = await service.suggest_temporary_org(
            deps=self._deps, principal=current_principal(), destination_code=request.destination_code,
            employer=request.employer, industry=request.industry, address=request.address,
        )
        reply = pb.SuggestTemporaryOrgResponse(
            found=result.candidate is not None, reason=result.reason, advice=result.advice,
            rule=pb.PlacementRule.ValueType(result.rule or 0), temporary_branch_threshold=TEMPORARY_BRANCH_THRESHOLD,
        )
        if result.candidate is not None:
            reply.org.CopyFrom(org_to_proto(result.candidate.org))
        return reply

    async def GetPlacementRules(
        self, request: pb.GetPlacementRulesRequest, context: Context
    ) -> pb.GetPlacementRulesResponse:
        """The rule order in force."""
        order = await service.get_placement_rules(deps=self._deps, principal=current_principal(), scope=request.scope)
        return pb.GetPlacementRulesResponse(rules=[pb.PlacementRule.ValueType(r) for r in order.rules],
                                            is_default=order.is_default)

    async def UpdatePlacementRules(
        self, request: pb.UpdatePlacementRulesRequest, context: Context
    ) -> pb.UpdatePlacementRulesResponse:
        """Replace the rule order."""
        rules = await service.update_placement_rules(deps=self._deps, principal=current_principal(),
                                                     scope=request.scope, rules=list(request.rules))
        return pb.UpdatePlacementRulesResponse(rules=[pb.PlacementRule.ValueType(r) for r in rules])
