"""The registry's ledgers (台账) as CSV and XLSX: routes under ``/api/v1/tenants/{tenant}/ledgers/…``.

发展党员台账, 流向台账, 回归工程台账 and "双强"村干部培养台账, read page by page over the registry's gRPC API;
only masked ID and phone numbers ever reach a sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Response
from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.sheets import Banner, Fmt, banner_for, download, every_page
from jinqiao.kit import authz
from jinqiao.kit.authz import Permission
from jinqiao.kit.clock import CHINA
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import development_pb2 as dev_pb
from jinqiao.registry.v1 import flows_pb2 as flows_pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["registry_ledgers"])


STAGE_LABEL = {
    dev_pb.DEVELOPMENT_STAGE_APPLICANT: "入党申请人", dev_pb.DEVELOPMENT_STAGE_ACTIVIST: "入党积极分子",
    dev_pb.DEVELOPMENT_STAGE_CANDIDATE: "发展对象", dev_pb.DEVELOPMENT_STAGE_PROBATIONARY: "预备党员",
    dev_pb.DEVELOPMENT_STAGE_FULL: "正式党员",
}
GENDER_LABEL = {"male": "男", "female": "女"}
FLOW_STATUS_LABEL = {
    flows_pb.FLOW_STATUS_REGISTERED: "已登记，待流入地接收",
    flows_pb.FLOW_STATUS_OFFERED: "已接收，待报到",
    flows_pb.FLOW_STATUS_REFUSED: "未接收，待重新安排",
    flows_pb.FLOW_STATUS_MANAGED: "已报到",
    flows_pb.FLOW_STATUS_RETURNED: "已回归",
    flows_pb.FLOW_STATUS_TRANSFERRED: "已转出",
}

TITLES = {
    "development": "发展党员台账",
    "flows": "流向台账",
    "returnees": "回归工程台账",
    "village-cadres": "双强村干部培养台账",
}
DEVELOPMENT_HEADERS = [
    "序号", "姓名", "性别", "出生日期", "身份证号", "联系电话", "乡镇", "村(社区)", "务工地", "务工单位", "当前阶段",
    "申请入党日期", "确定入党积极分子日期", "确定发展对象日期", "接收预备党员日期", "转为正式党员日期",
    "流出地培养联系人", "流入地培养联系人", "委托培养", "受委托党组织", "流出地考察次数", "流入地考察次数",
]
FLOW_HEADERS = [
    "序号", "姓名", "流入地", "流入地代码", "省外", "务工单位", "行业", "外出日期", "活动证编号", "活动证有效期至",
    "接收党组织", "联系电话", "状态", "报到时间",
]
RETURNEE_HEADERS = [
    "序号", "姓名", "乡镇", "村(社区)", "返乡前务工地", "返乡日期", "是否创业", "创业项目", "纳入村后备力量",
    "当选村“两委”", "担任职务", "备注",
]
VILLAGE_CADRE_HEADERS = [
    "序号", "姓名", "培养类别", "乡镇", "村(社区)", "务工地(返乡前务工地)", "务工单位", "返乡日期", "创业项目",
    "纳入村后备力量", "当选村“两委”", "担任职务", "阶段日期", "培养联系人",
]


def _yes(value: bool) -> str:
    return "是" if value else "否"


def _china_time(ts: Timestamp, *, present: bool) -> str:
    # Staff read times in Beijing time; an unset timestamp is an empty cell, not 1970.
    return ts.ToDatetime(tzinfo=UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if present else ""


def _ensure_may_export(who: CallerDep) -> None:
    # Ledgers list the county's persons wholesale: the county and township committees keep them, nobody else.
    authz.require(who.principal.role, Permission.LEDGERS_EXPORT, "只有县委组织部和乡镇党委可以导出台账")


async def _every(gw: GatewayDep, who: CallerDep, method: str, request: type, field: str) -> list[Any]:
    return await every_page(getattr(gw.clients.registry, method), request, field, metadata=who.metadata,
                            deadline=gw.clients.timeout)


async def _applicants(gw: GatewayDep, who: CallerDep) -> list[dev_pb.Applicant]:
    return await _every(gw, who, "ListApplicants", dev_pb.ListApplicantsRequest, "applicants")


async def _flows(gw: GatewayDep, who: CallerDep) -> list[flows_pb.Flow]:
    return await _every(gw, who, "ListFlows", flows_pb.ListFlowsRequest, "flows")


async def _returnees(gw: GatewayDep, who: CallerDep) -> list[flows_pb.Returnee]:
    return await _every(gw, who, "ListReturnees", flows_pb.ListReturneesRequest, "returnees")


def _mentor_names(a: dev_pb.Applicant, side: str) -> str:
    return "、".join(f"{m.name}({m.phone_masked})" if m.phone_masked else m.name
                    for m in a.mentors if m.side == side)


def _stage_date(a: dev_pb.Applicant, stage: int) -> str:
    return next((s.date for s in a.stages if s.stage == stage), "")


def development_rows(applicants: Sequence[dev_pb.Applicant]) -> list[list[object]]:
    """发展党员台账: one row per applicant with every stage date, mentors and the 双向考察 count per side."""
    return [
        [
            i, a.name, GENDER_LABEL.get(a.gender, ""), a.birth_date, a.id_number_masked, a.phone_masked, a.township,
            a.village, name_of(a.destination_code) if a.destination_code else "", a.employer,
            STAGE_LABEL.get(a.stage, ""),
            *(_stage_date(a, s) for s in STAGE_LABEL),
            _mentor_names(a, "HOME"), _mentor_names(a, "DESTINATION"), _yes(a.delegated), a.delegated_org_name,
            sum(1 for x in a.inspections if x.side == "HOME"),
            sum(1 for x in a.inspections if x.side == "DESTINATION"),
        ]
        for i, a in enumerate(applicants, start=1)
    ]


def flow_rows(flows: Sequence[flows_pb.Flow]) -> list[list[object]]:
    """流向台账: where each member went, the 活动证, the organisation that took them in, and 报到."""
    return [
        [
            i, f.member_name, f.destination_name or name_of(f.destination_code), f.destination_code,
            _yes(f.out_of_province), f.employer, f.industry, f.start_date, f.certificate_serial,
            f.certificate_valid_until, f.org_name, f.contact_phone_masked, FLOW_STATUS_LABEL.get(f.status, ""),
            _china_time(f.check_in_time, present=f.HasField("check_in_time")),
        ]
        for i, f in enumerate(flows, start=1)
    ]


def returnee_rows(returnees: Sequence[flows_pb.Returnee]) -> list[list[object]]:
    """回归工程台账: who came back from where, and what they took on at home."""
    return [
        [
            i, r.member_name, r.township, r.village, name_of(r.destination_code) if r.destination_code else "",
            r.return_date, _yes(r.facts.started_business), r.facts.business_name, _yes(r.facts.joined_reserve_pool),
            _yes(r.facts.elected_village_committee), r.facts.village_post, r.facts.note,
        ]
        for i, r in enumerate(returnees, start=1)
    ]


def village_cadre_rows(returnees: Sequence[flows_pb.Returnee],
                       applicants: Sequence[dev_pb.Applicant]) -> list[list[object]]:
    """"双强"村干部培养台账: returnees in the reserve pool or the 两委, then activists and candidates away from home."""
    rows: list[list[object]] = []
    for r in returnees:
        f = r.facts
        if not (f.joined_reserve_pool or f.elected_village_committee):
            continue
        rows.append([
            len(rows) + 1, r.member_name, "回归党员", r.township, r.village,
            name_of(r.destination_code) if r.destination_code else "", "", r.return_date, f.business_name,
            _yes(f.joined_reserve_pool), _yes(f.elected_village_committee), f.village_post, "", "",
        ])
    for a in applicants:
        if not a.destination_code or a.stage not in (dev_pb.DEVELOPMENT_STAGE_ACTIVIST,
                                                     dev_pb.DEVELOPMENT_STAGE_CANDIDATE):
            continue
        mentors = "、".join(m.name for m in a.mentors)
        rows.append([
            len(rows) + 1, a.name, STAGE_LABEL[a.stage], a.township, a.village, name_of(a.destination_code),
            a.employer, "", "", "否", "否", "", _stage_date(a, a.stage), mentors,
        ])
    return rows


def _spreadsheet(ledger: str, tenant: str, fmt: str, headers: Sequence[str], rows: list[list[object]],
                 banner: Banner) -> Response:
    return download(title=TITLES[ledger], tenant=tenant, fmt=fmt, headers=headers, rows=rows, banner=banner)


@router.get("/ledgers/development.{fmt}")
async def development_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """发展党员台账: every applicant of the county, ID and phone numbers masked."""
    _ensure_may_export(who)
    return _spreadsheet("development", tenant, fmt, DEVELOPMENT_HEADERS, development_rows(await _applicants(gw, who)),
                        await banner_for(gw=gw, who=who, tenant=tenant))


@router.get("/ledgers/flows.{fmt}")
async def flows_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """流向台账: every outflow of the county's members, newest first."""
    _ensure_may_export(who)
    return _spreadsheet("flows", tenant, fmt, FLOW_HEADERS, flow_rows(await _flows(gw, who)),
                        await banner_for(gw=gw, who=who, tenant=tenant))


@router.get("/ledgers/returnees.{fmt}")
async def returnees_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """回归工程台账: the county's returnees, newest return first."""
    _ensure_may_export(who)
    return _spreadsheet("returnees", tenant, fmt, RETURNEE_HEADERS, returnee_rows(await _returnees(gw, who)),
                        await banner_for(gw=gw, who=who, tenant=tenant))


@router.get("/ledgers/village-cadres.{fmt}")
async def village_cadres_ledger(tenant: TenantDep, fmt: Fmt, who: CallerDep, gw: GatewayDep) -> Response:
    """"双强"村干部培养台账: returnees in the reserve pool or elected, and activists and candidates away."""
    _ensure_may_export(who)
    rows = village_cadre_rows(await _returnees(gw, who), await _applicants(gw, who))
    return _spreadsheet("village-cadres", tenant, fmt, VILLAGE_CADRE_HEADERS, rows,
                        await banner_for(gw=gw, who=who, tenant=tenant))
