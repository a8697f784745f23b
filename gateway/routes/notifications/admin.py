"""A county department's notifications: the delivery log, escalations, templates and channel settings.

Every route names its county in the path (another county answers 404 before any service is asked); the service acts
on the token's county and checks the permission again. ``{channel}`` is a lowercase channel name (``in_app``,
``email``, ``sms``, ``webhook``); ``{kind}`` a template kind (an unknown one is the service's 422 naming ``kind``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.routes.notifications.wire import (
    ID_LENGTH,
    KIND_LENGTH,
    PAGE_TOKEN_LENGTH,
    ChannelName,
    ChannelSettingIn,
    ChannelSettingOut,
    DeliveryOut,
    DeliveryPageOut,
    EscalationOut,
    EscalationPageOut,
    EscalationStateName,
    PreviewIn,
    PreviewOut,
    SendTestIn,
    SendTestOut,
    StatusCountOut,
    StatusName,
    TemplateDetailOut,
    TemplateIn,
    TemplateOut,
    channel_in,
    state_in,
    status_in,
    status_out,
)
from jinqiao.notifications.v1 import notifications_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["notifications"])

ChannelPath = Annotated[ChannelName,
                        Path(description="渠道：in_app 站内信、email 电子邮件、sms 短信、webhook 群机器人")]
KindPath = Annotated[str, Path(min_length=1, max_length=KIND_LENGTH, description="通知类型，如 check_in_overdue")]
PageSize = Annotated[int, Query(ge=1, le=200, description="每页条数")]
PageToken = Annotated[str, Query(max_length=PAGE_TOKEN_LENGTH, description="下一页标记")]
KindQuery = Annotated[str, Query(max_length=KIND_LENGTH, description="通知类型，如 check_in_overdue")]


@router.get("/notification-deliveries", response_model=DeliveryPageOut)
async def list_deliveries(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    status: Annotated[StatusName | None, Query(description="发送状态")] = None,
    channel: Annotated[ChannelName | None, Query(description="渠道")] = None,
    kind: KindQuery = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> DeliveryPageOut:
    """The county's delivery log, newest first (destinations masked), with the totals by status."""
    reply = await gw.clients.notifications.ListDeliveries(
        pb.ListDeliveriesRequest(status=status_in(status), channel=channel_in(channel), kind=kind,
                                 page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return DeliveryPageOut(deliveries=[DeliveryOut.from_proto(d) for d in reply.deliveries],
                           next_page_token=reply.next_page_token,
                           totals=[StatusCountOut(status=status_out(t.status), count=t.count) for t in reply.totals])


@router.post("/notification-deliveries/{delivery_id}/retry", response_model=DeliveryOut)
async def retry_delivery(
    tenant: TenantDep, delivery_id: Annotated[str, Path(max_length=ID_LENGTH, description="发送记录编号")],
    who: CallerDep, gw: GatewayDep,
) -> DeliveryOut:
    """Put a failed or bounced delivery back in the queue (another status: 409)."""
    reply = await gw.clients.notifications.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=delivery_id),
                                                         metadata=who.metadata, timeout=gw.clients.timeout)
    return DeliveryOut.from_proto(reply.delivery)


@router.get("/escalations", response_model=EscalationPageOut)
async def list_escalations(
    tenant: TenantDep, who: CallerDep, gw: GatewayDep,
    state: Annotated[EscalationStateName | None,
                     Query(description="open 未确认、acknowledged 已确认、resolved 已了结")] = None,
    kind: KindQuery = "",
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> EscalationPageOut:
    """逐级提醒 of the county: 报到 overdue, SLA breaches and loan steps climbing the org tree."""
    reply = await gw.clients.notifications.ListEscalations(
        pb.ListEscalationsRequest(state=state_in(state), kind=kind, page_size=page_size, page_token=page_token),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return EscalationPageOut(escalations=[EscalationOut.from_proto(e) for e in reply.escalations],
                             next_page_token=reply.next_page_token)


@router.get("/notification-templates", response_model=list[TemplateOut])
async def list_templates(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> list[TemplateOut]:
    """Every notice kind × channel with the version in use (the platform's default or the county's own)."""
    reply = await gw.clients.notifications.ListTemplates(pb.ListTemplatesRequest(), metadata=who.metadata,
                                                         timeout=gw.clients.timeout)
    return [TemplateOut.from_proto(t) for t in reply.templates]


@router.get("/notification-templates/{kind}/{channel}", response_model=TemplateDetailOut)
async def get_template(tenant: TenantDep, kind: KindPath, channel: ChannelPath, who: CallerDep,
                       gw: GatewayDep) -> TemplateDetailOut:
    """One template: the one in use, the platform default and the county's versions, newest first."""
    reply = await gw.clients.notifications.GetTemplate(pb.GetTemplateRequest(kind=kind, channel=channel_in(channel)),
                                                       metadata=who.metadata, timeout=gw.clients.timeout)
    return TemplateDetailOut(template=TemplateOut.from_proto(reply.template),
                             default_template=TemplateOut.from_proto(reply.default_template),
                             versions=[TemplateOut.from_proto(v) for v in reply.versions])


@router.put("/notification-templates/{kind}/{channel}", response_model=TemplateOut)
async def save_template(tenant: TenantDep, kind: KindPath, channel: ChannelPath, body: TemplateIn, who: CallerDep,
                        gw: GatewayDep) -> TemplateOut:
    """Save a new version of the county's template (refused, naming the field, when the sandbox rejects it)."""
    reply = await gw.clients.notifications.SaveTemplate(
        pb.SaveTemplateRequest(kind=kind, channel=channel_in(channel), subject=body.subject, body=body.body),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return TemplateOut.from_proto(reply.template)


@router.delete("/notification-templates/{kind}/{channel}", response_model=TemplateOut)
async def reset_template(tenant: TenantDep, kind: KindPath, channel: ChannelPath, who: CallerDep,
                         gw: GatewayDep) -> TemplateOut:
    """Go back to the platform default (the county's versions stay in the history); returns the one in use now."""
    reply = await gw.clients.notifications.ResetTemplate(
        pb.ResetTemplateRequest(kind=kind, channel=channel_in(channel)), metadata=who.metadata,
        timeout=gw.clients.timeout)
    return TemplateOut.from_proto(reply.template)


@router.post("/notification-templates/{kind}/{channel}/preview", response_model=PreviewOut)
async def preview_template(tenant: TenantDep, kind: KindPath, channel: ChannelPath, body: PreviewIn,
                           who: CallerDep, gw: GatewayDep) -> PreviewOut:
    """Render a draft (or the version in use) with the kind's sample facts, without saving or sending it."""
    reply = await gw.clients.notifications.PreviewTemplate(
        pb.PreviewTemplateRequest(kind=kind, channel=channel_in(channel), subject=body.subject, body=body.body),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return PreviewOut(subject=reply.subject, body=reply.body)


@router.get("/notification-channels", response_model=list[ChannelSettingOut])
async def list_channels(tenant: TenantDep, who: CallerDep, gw: GatewayDep) -> list[ChannelSettingOut]:
    """The county's channel settings (unset channels with their defaults); a secret shows only as 已设置."""
    reply = await gw.clients.notifications.ListChannelSettings(pb.ListChannelSettingsRequest(),
                                                               metadata=who.metadata, timeout=gw.clients.timeout)
    return [ChannelSettingOut.from_proto(s) for s in reply.settings]


@router.put("/notification-channels/{channel}", response_model=ChannelSettingOut)
async def update_channel(tenant: TenantDep, channel: ChannelPath, body: ChannelSettingIn, who: CallerDep,
                         gw: GatewayDep) -> ChannelSettingOut:
    """Set one channel (credentials sealed by the service; a secret left empty keeps the stored one)."""
    reply = await gw.clients.notifications.UpdateChannelSetting(
        pb.UpdateChannelSettingRequest(channel=channel_in(channel), enabled=body.enabled, settings=body.settings,
                                       rate_per_minute=body.rate_per_minute),
        metadata=who.metadata, timeout=gw.clients.timeout)
    return ChannelSettingOut.from_proto(reply.setting)


@router.post("/notification-channels/{channel}/test", response_model=SendTestOut)
async def send_test(tenant: TenantDep, channel: ChannelPath, body: SendTestIn, who: CallerDep,
                    gw: GatewayDep) -> SendTestOut:
    """Send one test message on the channel to the address given, and say what the channel answered."""
    reply = await gw.clients.notifications.SendTestNotification(
        pb.SendTestNotificationRequest(channel=channel_in(channel), to=body.to), metadata=who.metadata,
        timeout=gw.clients.timeout)
    return SendTestOut(status=status_out(reply.status), detail=reply.detail)
