"""The inbox's RPCs: thin, one use-case call each."""

from __future__ import annotations

from jinqiao.notifications.deps import NotificationsDeps


class InboxApi:
    """The inbox RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps
