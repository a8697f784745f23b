"""The tree's RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.orgs import domain, service
from jinqiao.organizations.v1 import organizations_pb2 as pb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _stamp(message: Timestamp, at: datetime) -> None:
    # What Timestamp.FromDatetime computes (a naive instant read as UTC), without its time tuple and timegm.
    delta = (at if at.tzinfo else at.replace(tzinfo=UTC)) - _EPOCH
    message.seconds = delta.days * 86400 + delta.seconds
    message.nanos = delta.microseconds * 1000


def add_orgs(container: RepeatedCompositeFieldContainer[pb.Org], orgs: Iterable[domain.Org]) -> None:
    """Append the wire form of each organisation to a response's repeated field."""
    # A page holds up to 200: adding each in place saves building a message per organisation and copying it in.
    add = container.add
    for org in orgs:
        message = add(id=org.id, tenant_id=org.tenant_id, parent_id=org.parent_id or "", name=org.name, kind=org.kind,
                      status=org.status, depth=org.depth, version=org.version)
        # Most organisations leave these empty; setting a field to its default costs as much as any other field.
        if org.city_code:
            message.city_code = org.city_code
        if org.founding_mode:
            message.founding_mode = pb.FoundingMode.ValueType(org.founding_mode)
        if org.industry:
            message.industry = org.industry
        if org.employer:
            message.employer = org.employer
        if org.coverage:
            message.coverage.extend(org.coverage)
        _stamp(message.create_time, org.created_at)


def org_to_proto(org: domain.Org) -> pb.Org:
    """The wire form of an organisation (mapped as a page maps each, so the two never drift apart)."""
    holder = pb.ListSubtreeOrgsResponse()
    add_orgs(holder.orgs, (org,))
    return holder.orgs[0]


class OrgsServicer:
    """The tree's part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def CreateOrg(self, request: pb.CreateOrgRequest, context: Context) -> pb.CreateOrgResponse:
        """Found an organisation."""
        org = await service.create_org(deps=self._deps, principal=current_principal(), data=service.OrgInput(
            parent_id=request.parent_id, name=request.name, kind=request.kind, city_code=request.city_code,
            founding_mode=request.founding_mode, industry=request.industry, employer=request.employer,
            coverage=tuple(request.coverage),
        ))
        return pb.CreateOrgResponse(org=org_to_proto(org))

    async def GetOrg(self, request: pb.GetOrgRequest, context: Context) -> pb.GetOrgResponse:
        """One organisation."""
        org = await service.get_org(deps=self._deps, principal=current_principal(), org_id=request.id)
        return pb.GetOrgResponse(org=org_to_proto(org))

    async def RenameOrg(self, request: pb.RenameOrgRequest, context: Context) -> pb.RenameOrgResponse:
        """Rename."""
        org = await service.rename_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                       name=request.name)
        return pb.RenameOrgResponse(org=org_to_proto(org))

    async def MoveOrg(self, request: pb.MoveOrgRequest, context: Context) -> pb.MoveOrgResponse:
        """Move with the subtree."""
        result = await service.move_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                        new_parent_id=request.new_parent_id)
        return pb.MoveOrgResponse(org=org_to_proto(result.org), moved=result.moved)

    async def DissolveOrg(
        self, request: pb.DissolveOrgRequest, context: Context
    ) -> pb.DissolveOrgResponse:
        """Dissolve an empty organisation."""
        org = await service.dissolve_org(deps=self._deps, principal=current_principal(), org_id=request.id,
                                         reason=request.reason)
        return pb.DissolveOrgResponse(org=org_to_proto(org))

    async def ListChildOrgs(
        self, request: pb.ListChildOrgsRequest, context: Context
    ) -> pb.ListChildOrgsResponse:
        """Direct children."""
        page = await service.list_children(
            deps=self._deps, principal=current_principal(), parent_id=request.parent_id,
            page_size=request.page_size, page_token=request.page_token, include_dissolved=request.include_dissolved,
        )
        response = pb.ListChildOrgsResponse(next_page_token=page.next_page_token)
        add_orgs(response.orgs, page.orgs)
        return response

    async def ListSubtreeOrgs(
        self, request: pb.ListSubtreeOrgsRequest, context: Context
    ) -> pb.ListSubtreeOrgsResponse:
        """A subtree in tree order."""
        page = await service.list_subtree(deps=self._deps, principal=current_principal(), root_id=request.root_id,
                                          page_size=request.page_size, page_token=request.page_token)
        response = pb.ListSubtreeOrgsResponse(next_page_token=page.next_page_token)
        add_orgs(response.orgs, page.orgs)
        return response

    async def ListAncestorOrgs(
        self, request: pb.ListAncestorOrgsRequest, context: Context
    ) -> pb.ListAncestorOrgsResponse:
        """Ancestors, root first."""
        orgs = await service.list_ancestors(deps=self._deps, principal=current_principal(), org_id=request.id)
        response = pb.ListAncestorOrgsResponse()
        add_orgs(response.orgs, orgs)
        return response

    async def SearchOrgs(
        self, request: pb.SearchOrgsRequest, context: Context
    ) -> pb.SearchOrgsResponse:
        """Find organisations."""
        page = await service.search_orgs(
            deps=self._deps, principal=current_principal(), name_contains=request.name_contains,
            kinds=list(request.kinds), city_code=request.city_code, include_dissolved=request.include_dissolved,
            page_size=request.page_size, page_token=request.page_token,
        )
        response = pb.SearchOrgsResponse(next_page_token=page.next_page_token)
        add_orgs(response.orgs, page.orgs)
        return response
