"""Channels and the one interface every adapter implements. No framework imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Protocol


class Channel(IntEnum):
    """Values match the proto enum ``jinqiao.notifications.v1.Channel``."""

    IN_APP = 1
    EMAIL = 2
    SMS = 3
    WEBHOOK = 4


CHANNEL_LABELS = {Channel.IN_APP: "站内信", Channel.EMAIL: "电子邮件", Channel.SMS: "短信",
                  Channel.WEBHOOK: "群机器人/接口"}
# The channels a county configures (the inbox needs no settings).
CONFIGURABLE = (Channel.EMAIL, Channel.SMS, Channel.WEBHOOK)


class Outcome(StrEnum):
    """What a channel answered for one message."""

    SENT = "sent"  # handed over (an SMTP 250); not yet confirmed at the person
    DELIVERED = "delivered"  # confirmed (in the inbox; a webhook's 2xx with its ok code)
    RETRY = "retry"  # a transient failure (connection refused, 4xx SMTP, 5xx HTTP, timeout): try again later
    BOUNCED = "bounced"  # refused for good (5xx SMTP for the mailbox, an invalid number): never again


@dataclass(frozen=True, slots=True)
class Outbound:
    """One rendered message to one opened address (kept in memory only while sending)."""

    channel: Channel
    to: str
    subject: str
    body: str
    tenant: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """The channel's answer; ``detail`` goes to the delivery log, so it never carries the address."""

    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """A county's settings of one channel, secrets opened (in memory only)."""

    channel: Channel
    enabled: bool
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    rate_per_minute: int = 60


class Adapter(Protocol):
    """Sends one message on one channel; never raises for the far side's failures (it answers RETRY or BOUNCED)."""

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """Send ``message`` with ``config``."""
        ...
