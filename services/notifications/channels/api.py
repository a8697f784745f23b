"""Channels' RPCs: thin, one use-case call each."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.channels import service as channel_service
from jinqiao.notifications.channels.domain import Outcome, SettingView
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.v1 import notifications_pb2

# A test send's outcome as a delivery status: a transient failure is reported as failed (nothing retries a test).
_STATUS = {Outcome.SENT: notifications_pb2.DELIVERY_STATUS_SENT,
           Outcome.DELIVERED: notifications_pb2.DELIVERY_STATUS_DELIVERED,
           Outcome.RETRY: notifications_pb2.DELIVERY_STATUS_FAILED,
           Outcome.BOUNCED: notifications_pb2.DELIVERY_STATUS_BOUNCED}


def setting_to_proto(view: SettingView) -> notifications_pb2.ChannelSetting:
    """The wire form of one channel's settings (already stripped of secrets by the use case)."""
    return notifications_pb2.ChannelSetting(
        channel=notifications_pb2.Channel.ValueType(int(view.channel)), enabled=view.enabled,
        settings=dict(view.settings), rate_per_minute=view.rate_per_minute,
        updated_at=view.updated_at.isoformat() if view.updated_at is not None else "", updated_by=view.updated_by)


class ChannelsApi:
    """The channels RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def ListChannelSettings(self, request: notifications_pb2.ListChannelSettingsRequest,
                                  context: Context) -> notifications_pb2.ListChannelSettingsResponse:
        """The county's e-mail, SMS and webhook settings, secrets never shown."""
        views = await channel_service.list_settings(deps=self._deps, principal=current_principal())
        return notifications_pb2.ListChannelSettingsResponse(settings=[setting_to_proto(v) for v in views])

    async def UpdateChannelSetting(self, request: notifications_pb2.UpdateChannelSettingRequest,
                                   context: Context) -> notifications_pb2.UpdateChannelSettingResponse:
        """Set one channel (a secret left empty keeps the stored one)."""
        view = await channel_service.update_setting(
            deps=self._deps, principal=current_principal(), channel=int(request.channel), enabled=request.enabled,
            settings=dict(request.settings), rate_per_minute=int(request.rate_per_minute))
        return notifications_pb2.UpdateChannelSettingResponse(setting=setting_to_proto(view))

    async def SendTestNotification(self, request: notifications_pb2.SendTestNotificationRequest,
                                   context: Context) -> notifications_pb2.SendTestNotificationResponse:
        """Send one test message now and answer what the channel said."""
        result = await channel_service.send_test(deps=self._deps, principal=current_principal(),
                                                 channel=int(request.channel), to=request.to)
        return notifications_pb2.SendTestNotificationResponse(status=_STATUS[result.outcome], detail=result.detail)
