"""The directory's consumers: orgs, officers, members and guests from organizations' and registry's events."""

from __future__ import annotations

from jinqiao.kit.process import ServiceContext
from jinqiao.notifications.deps import NotificationsDeps


def subscribe(ctx: ServiceContext, deps: NotificationsDeps) -> None:
    """CONTRACT (directory helper): subscribe the directory's consumers."""
