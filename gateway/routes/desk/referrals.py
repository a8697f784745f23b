"""Service desk routes: referrals (转办) between counties — refer a ticket, list and read referrals, accept or
decline one received from another county."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import desk_pb2, referrals_pb2
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.routes.desk.wire import ReferralOut, ReferralPageOut, ReferralStatusName, TicketOut
from jinqiao.gateway.wire import Body, enum_in

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])


class ReferIn(Body):
    """转办: the county to refer the ticket to, a station there (optional) and why."""

    to_tenant_id: str = Field(min_length=6, max_length=6, description="接收转办的县（区）代码")
    to_org_id: str = Field(default="", max_length=36, description="建议接收的站点（可不填，由对方安排）")
    reason: str = Field(min_length=2, max_length=500, description="转办理由")


class AcceptReferralIn(Body):
    """受理: the queue to serve the referral in."""

    serving_org_id: str = Field(default="", max_length=36,
                                description="受理站点；不填则为对方建议的站点，或县（区）党员服务中心")


class DeclineReferralIn(Body):
    """退回: why this county does not take the referral."""

    reason: str = Field(min_length=2, max_length=500, description="退回理由")


class AcceptedReferralOut(BaseModel):
    """The accepted referral and the ticket opened for it here."""

    referral: ReferralOut
    ticket: TicketOut


@router.post("/tickets/{ticket_id}/referrals", status_code=201, response_model=ReferralOut)
async def refer_ticket(tenant: TenantDep, ticket_id: str, body: ReferIn, who: CallerDep, gw: GatewayDep,
                       response: Response, idempotency_key: RequestIdDep) -> ReferralOut:
    """转办 a ticket to the member's home county, or (from the home county) to the county where the member is."""
    reply = await gw.clients.desk.ReferTicket(
        desk_pb2.ReferTicketRequest(id=ticket_id, to_tenant_id=body.to_tenant_id, to_org_id=body.to_org_id,
                                    reason=body.reason, request_id=idempotency_key),
        metadata=who.metadata, timeout=gw.clients.timeout)
    response.headers["Location"] = f"/api/v1/tenants/{tenant}/ticket-referrals/{reply.referral.id}"
    return ReferralOut.from_proto(reply.referral)


@router.get("/ticket-referrals", response_model=ReferralPageOut)
async def list_referrals(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    incoming: Annotated[bool, Query(description="true：收到的转办；false：发出的转办")] = True,
    status: Annotated[list[ReferralStatusName] | None, Query(description="转办状态")] = None,
    page: Annotated[int, Query(ge=0, le=100000, description="页码（从 1 起）")] = 1,
    page_size: Annotated[int, Query(ge=0, le=200, description="每页条数")] = 50,
) -> ReferralPageOut:
    """The referrals this county received (or sent), newest first, with the count of all that match."""
    reply = await gw.clients.desk.ListReferrals(
        desk_pb2.ListReferralsRequest(
            incoming=incoming, page=page, page_size=page_size,
            statuses=[enum_in(referrals_pb2.ReferralStatus, "REFERRAL_STATUS", s) for s in status or []]),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ReferralPageOut(referrals=[ReferralOut.from_proto(r) for r in reply.referrals], total=reply.total)


@router.get("/ticket-referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(tenant: TenantDep, referral_id: str, who: CallerDep, gw: GatewayDep) -> ReferralOut:
    """One referral this county sent or received."""
    reply = await gw.clients.desk.GetReferral(desk_pb2.GetReferralRequest(referral_id=referral_id),
                                              metadata=who.metadata, timeout=gw.clients.timeout)
    return ReferralOut.from_proto(reply.referral)


@router.post("/ticket-referrals/{referral_id}/accept", response_model=AcceptedReferralOut)
async def accept_referral(tenant: TenantDep, referral_id: str, body: AcceptReferralIn, who: CallerDep,
                          gw: GatewayDep) -> AcceptedReferralOut:
    """受理 another county's referral: a ticket of this county serves the member (accepting again returns it)."""
    reply = await gw.clients.desk.AcceptReferral(
        desk_pb2.AcceptReferralRequest(referral_id=referral_id, serving_org_id=body.serving_org_id),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return AcceptedReferralOut(referral=ReferralOut.from_proto(reply.referral),
                               ticket=TicketOut.from_proto(reply.ticket))


@router.post("/ticket-referrals/{referral_id}/decline", response_model=ReferralOut)
async def decline_referral(tenant: TenantDep, referral_id: str, body: DeclineReferralIn, who: CallerDep,
                           gw: GatewayDep) -> ReferralOut:
    """退回 another county's referral with the reason; the referring county keeps its ticket."""
    reply = await gw.clients.desk.DeclineReferral(
        desk_pb2.DeclineReferralRequest(referral_id=referral_id, reason=body.reason),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ReferralOut.from_proto(reply.referral)
