"""Ledgers (台账) as spreadsheets: ``/api/v1/tenants/{tenant}/ledgers/{ledger}.{csv|xlsx}`` with Chinese headers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from fastapi import APIRouter, Response

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.sheets import Banner, Fmt, banner_for, download, every_page
from jinqiao.kit.clock import china_date
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}/ledgers", tags=["ledgers"])

KIND_LABEL = {pb.ORG_KIND_EXTERNAL_GENERAL_BRANCH: "驻外党总支", pb.ORG_KIND_EXTERNAL_BRANCH: "驻外党支部"}
MODE_LABEL = {pb.FOUNDING_MODE_STANDALONE: "单独建", pb.FOUNDING_MODE_HOSTED: "依托建",
              pb.FOUNDING_MODE_AFFILIATED: "挂靠建", pb.FOUNDING_MODE_JOINT: "联合建"}
EXTERNAL_ORGS_HEADERS = [
    "序号", "党组织名称", "组织类别", "所在城市", "城市代码", "组建方式", "行业", "状态", "成立日期",
]
TITLES = {"external-orgs": "外建党组织分布台账", "dispatched-officers": "外派指导员(联络员)台账"}
OFFICER_HEADERS = ["序号", "姓名", "职务", "派驻组织", "所在城市", "联系电话", "派驻日期", "离任日期", "状态"]
POSITION_LABEL = {pb.OFFICER_POSITION_GUIDANCE_OFFICER: "党建指导员", pb.OFFICER_POSITION_LIAISON: "联络员"}


async def _external_orgs(gw: GatewayDep, who: CallerDep) -> list[list[object]]:
    orgs = await every_page(gw.clients.organizations.SearchOrgs,
                            lambda **page: pb.SearchOrgsRequest(kinds=list(KIND_LABEL), **page), "orgs",
                            metadata=who.metadata, deadline=gw.clients.timeout)
    return [
        [i, org.name, KIND_LABEL[org.kind], name_of(org.city_code), org.city_code,
         MODE_LABEL.get(org.founding_mode, ""), org.industry,
         "已撤销" if org.status == pb.ORG_STATUS_DISSOLVED else "正常",
         # The founding date as the county reads it: Beijing's calendar, not UTC's.
         china_date(org.create_time.ToDatetime(tzinfo=UTC)).isoformat()]
        for i, org in enumerate(orgs, start=1)
    ]


async def _dispatched_officers(gw: GatewayDep, who: CallerDep) -> list[list[object]]:
    reply = await gw.clients.organizations.ListAppointments(
        pb.ListAppointmentsRequest(positions=list(POSITION_LABEL), include_history=True), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    return [
        [i, a.officer_name, POSITION_LABEL[a.position], a.org_name, name_of(a.city_code) if a.city_code else "",
         a.phone_masked, a.start_date, a.end_date, "在任" if not a.end_date else "已离任"]
        for i, a in enumerate(reply.appointments, start=1)
    ]


@router.get("/external-orgs.{fmt}")
async def external_orgs(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """外建党组织分布台账: every 驻外党总支 and 驻外党支部 of the county."""
    return _spreadsheet("external-orgs", tenant, fmt, EXTERNAL_ORGS_HEADERS, await _external_orgs(gw, who),
                        await banner_for(gw=gw, who=who, tenant=tenant))


@router.get("/dispatched-officers.{fmt}")
async def dispatched_officers(tenant: TenantDep, fmt: Fmt, who: CallerDep,
                              gw: GatewayDep) -> Response:
    """外派指导员(联络员)台账: every guidance officer and liaison the county dispatched, phones masked."""
    return _spreadsheet("dispatched-officers", tenant, fmt, OFFICER_HEADERS, await _dispatched_officers(gw, who),
                        await banner_for(gw=gw, who=who, tenant=tenant))


def _spreadsheet(ledger: str, tenant: str, fmt: str, headers: Sequence[str], rows: list[list[object]],
                 banner: Banner) -> Response:
    return download(title=TITLES[ledger], tenant=tenant, fmt=fmt, headers=headers, rows=rows, banner=banner)
