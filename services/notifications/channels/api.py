"""Channels' RPCs: thin, one use-case call each."""

from __future__ import annotations

from jinqiao.notifications.deps import NotificationsDeps


class ChannelsApi:
    """The channels RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps
