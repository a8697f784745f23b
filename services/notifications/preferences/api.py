"""Preferences' RPCs: thin, one use-case call each."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.preferences import service as preferences
from jinqiao.notifications.preferences.domain import (
    CATEGORY_LABELS,
    URGENT,
    Category,
    CategoryInput,
    PreferencesView,
    format_hhmm,
)
from jinqiao.notifications.v1 import notifications_pb2 as pb


def preferences_to_proto(view: PreferencesView) -> pb.Preferences:
    """The wire form: every category with every channel's switch, the window, the digest time, masked contacts."""
    categories = [
        pb.CategoryPreference(
            category=category.value, label=CATEGORY_LABELS[category], urgent=category in URGENT,
            channels=[pb.ChannelChoice(channel=pb.Channel.ValueType(int(channel)),
                                       enabled=view.choices.wants(category, channel)) for channel in Channel],
            digest=category in view.choices.digest)
        for category in Category
    ]
    return pb.Preferences(categories=categories, quiet_hours_enabled=view.quiet_enabled,
                          quiet_start=format_hhmm(view.quiet_start), quiet_end=format_hhmm(view.quiet_end),
                          digest_time=format_hhmm(view.digest_time), email_masked=view.email_masked,
                          phone_masked=view.phone_masked)


class PreferencesApi:
    """The preferences RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def GetNotificationPreferences(self, request: pb.GetNotificationPreferencesRequest,
                                         context: Context) -> pb.GetNotificationPreferencesResponse:
        """The caller's preferences (defaults where they chose nothing)."""
        view = await preferences.get_preferences(deps=self._deps, principal=current_principal())
        return pb.GetNotificationPreferencesResponse(preferences=preferences_to_proto(view))

    async def UpdateNotificationPreferences(self, request: pb.UpdateNotificationPreferencesRequest,
                                            context: Context) -> pb.UpdateNotificationPreferencesResponse:
        """Replace the caller's preferences."""
        given = preferences.PreferencesInput(
            categories=tuple(CategoryInput(category=c.category,
                                           channels=tuple((int(ch.channel), ch.enabled) for ch in c.channels),
                                           digest=c.digest) for c in request.categories),
            quiet_enabled=request.quiet_hours_enabled, quiet_start=request.quiet_start,
            quiet_end=request.quiet_end, digest_time=request.digest_time, email=request.email,
            phone=request.phone, clear_email=request.clear_email, clear_phone=request.clear_phone)
        view = await preferences.update_preferences(deps=self._deps, principal=current_principal(), given=given)
        return pb.UpdateNotificationPreferencesResponse(preferences=preferences_to_proto(view))
