"""Flows of a county's members: ``/api/v1/tenants/{tenant}/…`` over the registry's gRPC API.

外出登记 (``members/{id}/flows``), the flow itself (``flows/{id}``: redirect, report-back, return, transfer),
the fired policy timers, the county's policy, and the returnees (回归工程). The 活动记事本 and 双向评议 are in
``notebook``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.registry.members import FlowStatusName, flow_status_in, flow_status_out
from jinqiao.gateway.wire import Body
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import flows_pb2

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["flows"])


def _ts(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


class OutflowIn(Body):
    """外出登记: where, for whom, from when and for how long."""

    destination_code: str = Field(min_length=1, max_length=6, description="流入地：省内县区或省外城市代码")
    address: str = Field(min_length=1, max_length=100, description="流入地居住地址")
    employer: str = Field(default="", max_length=100, description="工作单位")
    industry: str = Field(min_length=1, max_length=100, description="从事行业")
    start_date: str = Field(min_length=1, max_length=10, description="外出日期 YYYY-MM-DD")
    expected_months: int = Field(ge=1, le=120, description="预计外出时长（月）")
    contact_phone: str = Field(default="", max_length=32, description="外出期间联系电话（留空用本人手机）")


class FlowOut(BaseModel):
    """A flow as the origin county sees it (phone masked)."""

    id: str
    tenant_id: str
    member_id: str
    member_name: str
    destination_code: str
    destination_name: str
    out_of_province: bool
    address: str
    employer: str
    industry: str
    start_date: str
    expected_months: int
    contact_phone_masked: str
    status: str
    attempt: int
    certificate_serial: str
    certificate_valid_until: str
    placing_tenant_id: str
    membership_id: str | None
    org_id: str | None
    org_name: str | None
    placement_rule: str | None
    placement_reason: str | None
    refusal_reason: str | None
    refusal_advice: str | None
    offered_at: datetime | None
    checked_in_at: datetime | None
    check_in_method: str | None
    last_report_date: str | None
    closed_on: str | None
    created_at: datetime | None
    version: int
    letter: str | None = None

    @classmethod
    def from_proto(cls, f: flows_pb2.Flow) -> FlowOut:
        """Map the wire form."""
        return cls(
            id=f.id, tenant_id=f.tenant_id, member_id=f.member_id, member_name=f.member_name,
            destination_code=f.destination_code, destination_name=f.destination_name,
            out_of_province=f.out_of_province, address=f.address, employer=f.employer, industry=f.industry,
            start_date=f.start_date, expected_months=f.expected_months, contact_phone_masked=f.contact_phone_masked,
            status=flow_status_out(f.status), attempt=f.attempt, certificate_serial=f.certificate_serial,
            certificate_valid_until=f.certificate_valid_until, placing_tenant_id=f.placing_tenant_id,
            membership_id=f.membership_id or None, org_id=f.org_id or None, org_name=f.org_name or None,
            placement_rule=f.placement_rule.lower() or None, placement_reason=f.placement_reason or None,
            refusal_reason=f.refusal_reason or None, refusal_advice=f.refusal_advice or None,
            offered_at=_ts(f, "offer_time"), checked_in_at=_ts(f, "check_in_time"),
            check_in_method=f.check_in_method.lower() or None, last_report_date=f.last_report_date or None,
            closed_on=f.closed_on or None, created_at=_ts(f, "create_time"), version=f.version,
            letter=f.letter or None,
        )


class FlowPage(BaseModel):
    """One page of flows (with ``total`` when asked by page number)."""

    flows: list[FlowOut]
    next_page_token: str
    total: int | None = None


@router.post("/members/{member_id}/flows", status_code=201, response_model=FlowOut)
async def register_flow(
    tenant: TenantDep, member_id: str, body: OutflowIn, who: CallerDep, gw: GatewayDep, response: Response,
    idempotency_key: RequestIdDep,
) -> FlowOut:
    """外出登记: issues the 流动党员活动证 and the 证明信; the destination is asked to place the member."""
    reply = await gw.clients.registry.RegisterFlow(
        flows_pb2.RegisterFlowRequest(member_id=member_id, request_id=idempotency_key, **body.model_dump()),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/flows/{reply.flow.id}"
    return FlowOut.from_proto(reply.flow)


async def _list(gw: GatewayDep, who: CallerDep, request: flows_pb2.ListFlowsRequest) -> FlowPage:
    reply = await gw.clients.registry.ListFlows(request, metadata=who.metadata, timeout=gw.clients.timeout)
    return FlowPage(flows=[FlowOut.from_proto(f) for f in reply.flows], next_page_token=reply.next_page_token,
                    total=reply.total_size if request.page else None)


@router.get("/members/{member_id}/flows", response_model=FlowPage)
async def member_flows(tenant: TenantDep, member_id: str, who: CallerDep, gw: GatewayDep,
                       page_size: Annotated[int, Query(ge=0, le=200)] = 50,
                       page_token: Annotated[str, Query(max_length=200)] = "") -> FlowPage:
    """A member's flows, newest first (members see their own)."""
    return await _list(gw, who, flows_pb2.ListFlowsRequest(member_id=member_id, page_size=page_size,
                                                           page_token=page_token))


@router.get("/flows", response_model=FlowPage)
async def list_flows(tenant: TenantDep, who: CallerDep, gw: GatewayDep,
                     status: Annotated[list[FlowStatusName] | None, Query()] = None,
                     destination_code: Annotated[str, Query(max_length=6)] = "",
                     page_size: Annotated[int, Query(ge=0, le=200)] = 50,
                     page_token: Annotated[str, Query(max_length=200)] = "",
                     name: Annotated[str, Query(max_length=50, description="姓名（任意部分）")] = "",
                     page: Annotated[int, Query(ge=0, le=100000, description="页码（从 1 起；给出时返回 total）")] = 0,
                     ) -> FlowPage:
    """The county's flows, newest first, by status, destination and name; by cursor or by page number."""
    return await _list(gw, who, flows_pb2.ListFlowsRequest(
        statuses=[flow_status_in(s) for s in status or []], destination_code=destination_code,
        page_size=page_size, page_token=page_token, member_name=name, page=page,
    ))


@router.get("/flows/{flow_id}", response_model=FlowOut)
async def get_flow(tenant: TenantDep, flow_id: str, who: CallerDep, gw: GatewayDep) -> FlowOut:
    """One flow, with its 证明信."""
    reply = await gw.clients.registry.GetFlow(flows_pb2.GetFlowRequest(id=flow_id), metadata=who.metadata,
                                              timeout=gw.clients.timeout)
    return FlowOut.from_proto(reply.flow)


class RedirectIn(Body):
    """A new destination or employer (empty keeps the current one); empty body re-places after a refusal."""

    destination_code: str = Field(default="", max_length=6)
    address: str = Field(default="", max_length=100)
    employer: str = Field(default="", max_length=100)
    industry: str = Field(default="", max_length=100)


@router.post("/flows/{flow_id}/redirect", response_model=FlowOut)
async def redirect_flow(tenant: TenantDep, flow_id: str, body: RedirectIn, who: CallerDep,
                        gw: GatewayDep) -> FlowOut:
    """Ask for a new placement (变更流入地或工作单位、被拒收后重新安置)."""
    reply = await gw.clients.registry.RedirectFlow(flows_pb2.RedirectFlowRequest(id=flow_id, **body.model_dump()),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return FlowOut.from_proto(reply.flow)


class ReportBackIn(Body):
    """A report to the home branch."""

    report_date: str = Field(default="", max_length=10, description="汇报日期（默认今天）")
    note: str = Field(default="", max_length=500)


@router.post("/flows/{flow_id}/report-back", response_model=FlowOut)
async def report_back(tenant: TenantDep, flow_id: str, body: ReportBackIn, who: CallerDep, gw: GatewayDep) -> FlowOut:
    """The member reported to the home branch (每年至少一次)."""
    reply = await gw.clients.registry.ReportBack(flows_pb2.ReportBackRequest(id=flow_id, **body.model_dump()),
                                                 metadata=who.metadata, timeout=gw.clients.timeout)
    return FlowOut.from_proto(reply.flow)


class ReturneeFactsIn(Body):
    """回归工程: what the returnee did at home."""

    started_business: bool = False
    business_name: str = Field(default="", max_length=100)
    joined_reserve_pool: bool = False
    elected_village_committee: bool = False
    village_post: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=500)


class ReturnIn(Body):
    """Coming home."""

    return_date: str = Field(default="", max_length=10, description="返乡日期（默认今天）")
    facts: ReturneeFactsIn = Field(default_factory=ReturneeFactsIn)


@router.post("/flows/{flow_id}/return", response_model=FlowOut)
async def return_flow(tenant: TenantDep, flow_id: str, body: ReturnIn, who: CallerDep, gw: GatewayDep) -> FlowOut:
    """回归: close the flow; the destination closes its temporary membership."""
    reply = await gw.clients.registry.ReturnFlow(
        flows_pb2.ReturnFlowRequest(id=flow_id, return_date=body.return_date,
                                    facts=flows_pb2.ReturneeFacts(**body.facts.model_dump())),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return FlowOut.from_proto(reply.flow)


class TransferIn(Body):
    """A formal transfer."""

    transfer_date: str = Field(default="", max_length=10, description="转接日期（默认今天）")


@router.post("/flows/{flow_id}/transfer", response_model=FlowOut)
async def transfer_flow(tenant: TenantDep, flow_id: str, body: TransferIn, who: CallerDep, gw: GatewayDep) -> FlowOut:
    """转出: the destination county takes the member on as its own."""
    reply = await gw.clients.registry.TransferFlow(flows_pb2.TransferFlowRequest(id=flow_id, **body.model_dump()),
                                                   metadata=who.metadata, timeout=gw.clients.timeout)
    return FlowOut.from_proto(reply.flow)


class AlertOut(BaseModel):
    """A policy timer that fired."""

    flow_id: str
    member_id: str
    member_name: str
    timer: str
    level: int
    due_date: str
    fired_at: datetime


@router.get("/flow-alerts", response_model=list[AlertOut])
async def flow_alerts(tenant: TenantDep, who: CallerDep, gw: GatewayDep,
                      flow_id: Annotated[str, Query(max_length=36)] = "",
                      timer: Annotated[str, Query(max_length=30)] = "") -> list[AlertOut]:
    """Fired policy timers (报到逾期、活动证到期、年度汇报、应转尽转), newest first."""
    reply = await gw.clients.registry.ListFlowAlerts(flows_pb2.ListFlowAlertsRequest(flow_id=flow_id, timer=timer),
                                                     metadata=who.metadata, timeout=gw.clients.timeout)
    return [AlertOut(flow_id=a.flow_id, member_id=a.member_id, member_name=a.member_name, timer=a.timer.lower(),
                     level=a.level, due_date=a.due_date, fired_at=a.fire_time.ToDatetime(tzinfo=UTC))
            for a in reply.alerts]


class PolicyBody(Body):
    """The county's policy timers."""

    check_in_days: int = Field(ge=1, le=365, description="外出后多少天未报到即逾期")
    escalate_township_days: int = Field(ge=1, le=365, description="逾期后多少天上报乡镇")
    escalate_county_days: int = Field(ge=1, le=365, description="再过多少天上报县委组织部")
    certificate_months: int = Field(ge=1, le=36, description="活动证有效期（月）")
    report_back_months: int = Field(ge=1, le=24, description="汇报间隔（月）")
    transfer_due_months: int = Field(ge=1, le=60, description="固定流入地满多少月应转尽转")
    placement_timeout_hours: int = Field(ge=1, le=720, description="流入地多少小时未答复即重新请求")
    is_default: bool = False


@router.get("/flow-policy", response_model=PolicyBody)
async def get_policy(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> PolicyBody:
    """The county's policy timers."""
    reply = await gw.clients.registry.GetFlowPolicy(flows_pb2.GetFlowPolicyRequest(), metadata=who.metadata,
                                                    timeout=gw.clients.timeout)
    return PolicyBody(**{k: getattr(reply.policy, k) for k in PolicyBody.model_fields})


@router.put("/flow-policy", response_model=PolicyBody)
async def put_policy(tenant: TenantDep, body: PolicyBody, who: CallerDep, gw: GatewayDep) -> PolicyBody:
    """Replace the county's policy timers."""
    reply = await gw.clients.registry.UpdateFlowPolicy(
        flows_pb2.UpdateFlowPolicyRequest(policy=flows_pb2.FlowPolicy(**body.model_dump(exclude={"is_default"}))),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return PolicyBody(**{k: getattr(reply.policy, k) for k in PolicyBody.model_fields})


class ReturneeOut(BaseModel):
    """A returnee (回归工程)."""

    member_id: str
    member_name: str
    flow_id: str
    destination_code: str
    destination_name: str
    return_date: str
    township: str
    village: str
    facts: ReturneeFactsIn


class ReturneePage(BaseModel):
    """One page of returnees."""

    returnees: list[ReturneeOut]
    next_page_token: str


@router.get("/returnees", response_model=ReturneePage)
async def returnees(tenant: TenantDep, who: CallerDep, gw: GatewayDep,
                    page_size: Annotated[int, Query(ge=0, le=200)] = 50,
                    page_token: Annotated[str, Query(max_length=200)] = "") -> ReturneePage:
    """The county's returnees, newest first."""
    reply = await gw.clients.registry.ListReturnees(
        flows_pb2.ListReturneesRequest(page_size=page_size, page_token=page_token), metadata=who.metadata,
        timeout=gw.clients.timeout,
    )
    return ReturneePage(next_page_token=reply.next_page_token, returnees=[ReturneeOut(
        member_id=r.member_id, member_name=r.member_name, flow_id=r.flow_id, destination_code=r.destination_code,
        destination_name=name_of(r.destination_code), return_date=r.return_date, township=r.township,
        village=r.village, facts=ReturneeFactsIn(
            started_business=r.facts.started_business, business_name=r.facts.business_name,
            joined_reserve_pool=r.facts.joined_reserve_pool,
            elected_village_committee=r.facts.elected_village_committee, village_post=r.facts.village_post,
            note=r.facts.note)) for r in reply.returnees])


# ------------------------------------------------------------------------------------------------ 预警 cases

AlertStateName = Literal["open", "acknowledged", "closed"]
_STATE_IN: dict[AlertStateName, flows_pb2.AlertState.ValueType] = {
    "open": flows_pb2.ALERT_STATE_OPEN, "acknowledged": flows_pb2.ALERT_STATE_ACKNOWLEDGED,
    "closed": flows_pb2.ALERT_STATE_CLOSED}
_STATE_OUT = {v: k for k, v in _STATE_IN.items()}
_STATES_OF: dict[str, list[AlertStateName]] = {
    "active": ["open", "acknowledged"], "all": ["open", "acknowledged", "closed"], "open": ["open"],
    "acknowledged": ["acknowledged"], "closed": ["closed"]}


class AlertLevelOut(BaseModel):
    """One escalation level of a case and when it fired."""

    level: int
    fired_at: datetime | None


class CaseOut(BaseModel):
    """A 预警 case: one timer of one flow, its highest level (1 村级提醒, 2 上报乡镇, 3 上报县委组织部)."""

    id: str
    flow_id: str
    member_id: str
    member_name: str
    timer: str
    level: int
    levels: list[AlertLevelOut]
    state: AlertStateName
    first_fired_at: datetime | None
    last_fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    note: str
    destination_code: str
    township_name: str

    @classmethod
    def from_proto(cls, a: flows_pb2.Alert) -> CaseOut:
        """Map the wire form."""
        return cls(
            id=a.id, flow_id=a.flow_id, member_id=a.member_id, member_name=a.member_name, timer=a.timer.lower(),
            level=a.level, levels=[AlertLevelOut(level=lv.level, fired_at=_ts(lv, "fire_time")) for lv in a.levels],
            state=_STATE_OUT.get(a.state, "open"), first_fired_at=_ts(a, "first_fire_time"),
            last_fired_at=_ts(a, "last_fire_time"), acknowledged_at=_ts(a, "acknowledge_time"),
            acknowledged_by=a.acknowledged_by or None, closed_at=_ts(a, "close_time"), closed_by=a.closed_by or None,
            note=a.note, destination_code=a.destination_code, township_name=a.township_name,
        )


class CasePage(BaseModel):
    """One page of 预警 cases and how many match."""

    items: list[CaseOut]
    total: int
    page: int
    page_size: int


@router.get("/alerts", response_model=CasePage)
async def list_alert_cases(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    state: Annotated[Literal["active", "open", "acknowledged", "closed", "all"], Query()] = "active",
    timer: Annotated[Literal["", "check_in_overdue", "certificate_expired", "report_back_due", "transfer_due"],
                     Query()] = "",
    level: Annotated[int, Query(ge=0, le=3, description="级别 1–3（0：全部）")] = 0,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=0, le=200, description="每页条数（0：只返回 total）")] = 20,
) -> CasePage:
    """预警 cases within the caller's reach (one per flow and timer, with its highest level), newest first."""
    reply = await gw.clients.registry.ListAlerts(flows_pb2.ListAlertsRequest(
        states=[_STATE_IN[s] for s in _STATES_OF[state]], timer=timer.upper(), level=level, page=page,
        page_size=page_size), metadata=who.metadata, timeout=gw.clients.timeout)
    return CasePage(items=[CaseOut.from_proto(a) for a in reply.alerts], total=reply.total_size, page=page,
                    page_size=page_size)


class AcknowledgeIn(Body):
    """确认: an optional note."""

    note: str = Field(default="", max_length=500, description="说明")


class CloseIn(Body):
    """办结: what was done."""

    note: str = Field(min_length=1, max_length=500, description="处理结果")


@router.post("/alerts/{alert_id}/acknowledge", response_model=CaseOut)
async def acknowledge_alert(tenant: TenantDep, alert_id: str, body: AcknowledgeIn, who: CallerDep,
                            gw: GatewayDep) -> CaseOut:
    """确认 a case: the office has seen it and is handling it."""
    reply = await gw.clients.registry.AcknowledgeAlert(flows_pb2.AcknowledgeAlertRequest(id=alert_id, note=body.note),
                                                       metadata=who.metadata, timeout=gw.clients.timeout)
    return CaseOut.from_proto(reply.alert)


@router.post("/alerts/{alert_id}/close", response_model=CaseOut)
async def close_alert(tenant: TenantDep, alert_id: str, body: CloseIn, who: CallerDep, gw: GatewayDep) -> CaseOut:
    """办结 a case with what was done; closing a closed case is refused (409)."""
    reply = await gw.clients.registry.CloseAlert(flows_pb2.CloseAlertRequest(id=alert_id, note=body.note),
                                                 metadata=who.metadata, timeout=gw.clients.timeout)
    return CaseOut.from_proto(reply.alert)
