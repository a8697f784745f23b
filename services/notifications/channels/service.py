"""Channels' use cases: a county's settings (secrets sealed) and the adapter of each channel."""

from __future__ import annotations

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.channels.domain import Adapter, Channel, ChannelConfig
from jinqiao.notifications.deps import NotificationsDeps


async def config_for(uow: UnitOfWork, *, deps: NotificationsDeps, channel: Channel) -> ChannelConfig | None:
    """CONTRACT (channels helper): the county's settings of ``channel``, secrets opened, or None when unset (the
    in-app channel needs none: it answers an enabled config with no settings)."""
    raise NotImplementedError


def adapter_for(*, deps: NotificationsDeps, channel: Channel) -> Adapter:
    """CONTRACT (channels helper): the adapter of ``channel`` (built once, kept in ``deps.adapters``)."""
    raise NotImplementedError
