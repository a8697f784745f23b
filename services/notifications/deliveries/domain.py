"""Deliveries: statuses, the notice a trigger hands over, idempotency keys and back-off. No framework imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum

from jinqiao.notifications.channels.domain import Channel


class Status(IntEnum):
    """Values match the proto enum ``DeliveryStatus``."""

    QUEUED = 1
    SENT = 2
    DELIVERED = 3
    FAILED = 4
    BOUNCED = 5
    SKIPPED = 6
    DIGESTED = 7


STATUS_LABELS = {Status.QUEUED: "排队中", Status.SENT: "已发送", Status.DELIVERED: "已送达", Status.FAILED: "失败",
                 Status.BOUNCED: "被退回", Status.SKIPPED: "未发送", Status.DIGESTED: "已并入摘要"}
# A message is tried this many times (the first send and the retries) before it is a dead letter (FAILED).
MAX_ATTEMPTS = 5
_FIRST_RETRY = timedelta(seconds=30)
_LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 30 s, 1 min, 2 min… doubling, at most an hour."""
    return min(_FIRST_RETRY * (2 ** max(attempts - 1, 0)), _LONGEST_WAIT)


@dataclass(frozen=True, slots=True)
class Notice:
    """What a trigger or an escalation asks to tell: the kind (its template), the facts, where it links.

    ``source_key`` names the cause once: the event's id, or ``esc:<escalation id>:<level>`` for a step of an
    escalation; with the recipient and the channel it makes the delivery's idempotency key.
    """

    source_key: str
    kind: str
    facts: Mapping[str, str]
    link: str = ""
    event_id: str = ""
    escalation_id: str | None = None
    level: int = 0
    # Channels this notice may use at all (e.g. a meeting never goes by SMS); empty: every channel.
    channels: frozenset[Channel] = field(default_factory=frozenset)


def idempotency_key(*, source_key: str, recipient: str, channel: Channel) -> str:
    """One cause × one recipient × one channel: sent once, however often the cause is delivered."""
    return f"{source_key}|{recipient}|{int(channel)}"
