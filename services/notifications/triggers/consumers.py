"""The triggers: every service's events that concern somebody, each turned into a notice for its recipients."""

from __future__ import annotations

from jinqiao.kit.process import ServiceContext
from jinqiao.notifications.deps import NotificationsDeps


def subscribe(ctx: ServiceContext, deps: NotificationsDeps) -> None:
    """CONTRACT (triggers helper): subscribe the triggers' consumers."""
