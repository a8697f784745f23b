"""The organisation tree of a county: ``/api/v1/tenants/{tenant}/orgs…`` over the organizations gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body, enum_in, enum_out
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])

OrgKindName = Literal[
    "county_committee", "township_committee", "village_branch", "community_branch", "enterprise_branch",
    "institution_branch", "external_general_branch", "external_branch", "town_station", "service_center",
    "temporary_branch", "online_branch", "functional_group", "industry_branch",
]
FoundingName = Literal["standalone", "hosted", "affiliated", "joint"]



class OrgIn(Body):
    """A new organisation; external ones name their city (GB/T 2260) and founding mode."""

    parent_id: str = Field(default="", max_length=36, description="上级组织（县委留空）")
    name: str = Field(min_length=1, max_length=100, description="组织名称")
    kind: OrgKindName
    city_code: str = Field(default="", max_length=6, description="驻外党组织所在城市代码")
    founding_mode: FoundingName | None = Field(default=None, description="单独建/依托建/挂靠建/联合建")
    industry: str = Field(default="", max_length=50)
    employer: str = Field(default="", max_length=100, description="企业党支部所在单位")
    coverage: list[str] = Field(default_factory=list, max_length=50, description="覆盖的街道、社区、村")


class OrgOut(BaseModel):
    """An organisation of the tree."""

    id: str
    tenant_id: str
    parent_id: str | None
    name: str
    kind: str
    city_code: str | None
    city_name: str | None
    founding_mode: str | None
    industry: str
    employer: str
    coverage: list[str]
    status: str
    depth: int
    version: int
    created_at: datetime

    @classmethod
    def from_proto(cls, o: pb.Org) -> OrgOut:
        """Map the wire form."""
        return cls(
            id=o.id, tenant_id=o.tenant_id, parent_id=o.parent_id or None, name=o.name,
            kind=enum_out(pb.OrgKind, "ORG_KIND", o.kind), city_code=o.city_code or None,
            city_name=name_of(o.city_code) if o.city_code else None,
            founding_mode=enum_out(pb.FoundingMode, "FOUNDING_MODE", o.founding_mode) if o.founding_mode else None,
            industry=o.industry, employer=o.employer, coverage=list(o.coverage),
            status=enum_out(pb.OrgStatus, "ORG_STATUS", o.status), depth=o.depth, version=o.version,
            created_at=o.create_time.ToDatetime(tzinfo=UTC),
        )


class OrgPage(BaseModel):
    """One page of organisations."""

    orgs: list[OrgOut]
    next_page_token: str


class RenameIn(Body):
    """A new name."""

    name: str = Field(min_length=1, max_length=100)


class MoveIn(Body):
    """The new parent."""

    new_parent_id: str = Field(min_length=1, max_length=36)


class MoveOut(BaseModel):
    """The moved organisation and how many moved with it."""

    org: OrgOut
    moved: int


class DissolveIn(Body):
    """Why it is dissolved."""

    reason: str = Field(min_length=1, max_length=200)


@router.post("", status_code=201, response_model=OrgOut)
async def create_org(tenant: TenantDep, body: OrgIn, who: CallerDep, gw: GatewayDep, response: Response) -> OrgOut:
    """Found an organisation (成立党组织)."""
    reply = await gw.clients.organizations.CreateOrg(
        pb.CreateOrgRequest(
            parent_id=body.parent_id, name=body.name, kind=enum_in(pb.OrgKind, "ORG_KIND", body.kind),
            city_code=body.city_code, industry=body.industry, employer=body.employer, coverage=body.coverage,
            founding_mode=enum_in(pb.FoundingMode, "FOUNDING_MODE", body.founding_mode) if body.founding_mode
            else pb.FOUNDING_MODE_UNSPECIFIED,
        ),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/orgs/{reply.org.id}"
    return OrgOut.from_proto(reply.org)


@router.get("", response_model=OrgPage)
async def roots(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> OrgPage:
    """The county's root organisation (县委), where the tree starts."""
    reply = await gw.clients.organizations.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=who.metadata,
                                                         timeout=gw.clients.timeout)
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/search", response_model=OrgPage)
async def search(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep, name: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[list[OrgKindName] | None, Query()] = None, city_code: Annotated[str, Query(max_length=6)] = "",
    include_dissolved: bool = False, page_size: Annotated[int, Query(ge=0, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=2000)] = "",
) -> OrgPage:
    """Find organisations by name, kind and city, in tree order."""
    reply = await gw.clients.organizations.SearchOrgs(
        pb.SearchOrgsRequest(name_contains=name, kinds=[enum_in(pb.OrgKind, "ORG_KIND", k) for k in kind or []],
                             city_code=city_code, include_dissolved=include_dissolved, page_size=page_size,
                             page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)



@router.get("/{org_id}", response_model=OrgOut)
async def get_org(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """One organisation."""
    reply = await gw.clients.organizations.GetOrg(pb.GetOrgRequest(id=org_id), metadata=who.metadata,
                                                  timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.patch("/{org_id}", response_model=OrgOut)
async def rename_org(tenant: TenantDep, org_id: str, body: RenameIn, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """Rename an organisation."""
    reply = await gw.clients.organizations.RenameOrg(pb.RenameOrgRequest(id=org_id, name=body.name),
                                                     metadata=who.metadata, timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.post("/{org_id}/move", response_model=MoveOut)
async def move_org(tenant: TenantDep, org_id: str, body: MoveIn, who: CallerDep, gw: GatewayDep) -> MoveOut:
    """Move an organisation with its whole subtree."""
    reply = await gw.clients.organizations.MoveOrg(pb.MoveOrgRequest(id=org_id, new_parent_id=body.new_parent_id),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return MoveOut(org=OrgOut.from_proto(reply.org), moved=reply.moved)


@router.post("/{org_id}/dissolve", response_model=OrgOut)
async def dissolve_org(tenant: TenantDep, org_id: str, body: DissolveIn, who: CallerDep, gw: GatewayDep) -> OrgOut:
    """Dissolve an empty organisation (撤销)."""
    reply = await gw.clients.organizations.DissolveOrg(pb.DissolveOrgRequest(id=org_id, reason=body.reason),
                                                       metadata=who.metadata, timeout=gw.clients.timeout)
    return OrgOut.from_proto(reply.org)


@router.get("/{org_id}/children", response_model=OrgPage)
async def children(
    tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 50, page_token: Annotated[str, Query(max_length=2000)] = "",
    include_dissolved: bool = False,
) -> OrgPage:
    """Direct children, by name."""
    reply = await gw.clients.organizations.ListChildOrgs(
        pb.ListChildOrgsRequest(parent_id=org_id, page_size=page_size, page_token=page_token,
                                include_dissolved=include_dissolved),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/{org_id}/subtree", response_model=OrgPage)
async def subtree(
    tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep,
    page_size: Annotated[int, Query(ge=0, le=200)] = 200, page_token: Annotated[str, Query(max_length=2000)] = "",
) -> OrgPage:
    """The organisation and everything under it, each after its parent."""
    reply = await gw.clients.organizations.ListSubtreeOrgs(
        pb.ListSubtreeOrgsRequest(root_id=org_id, page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return OrgPage(orgs=[OrgOut.from_proto(o) for o in reply.orgs], next_page_token=reply.next_page_token)


@router.get("/{org_id}/ancestors", response_model=list[OrgOut])
async def ancestors(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> list[OrgOut]:
    """From the county committee down to the parent."""
    reply = await gw.clients.organizations.ListAncestorOrgs(pb.ListAncestorOrgsRequest(id=org_id),
                                                            metadata=who.metadata, timeout=gw.clients.timeout)
    return [OrgOut.from_proto(o) for o in reply.orgs]
