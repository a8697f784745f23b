"""Deliveries: statuses, the notice a trigger hands over, idempotency keys and back-off. No framework imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum

from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.preferences.domain import BEIJING


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
    doublings = min(max(attempts - 1, 0), 16)  # past 16 doublings the hour's cap holds anyway
    return min(_FIRST_RETRY * (1 << doublings), _LONGEST_WAIT)


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


# The kind of the one message a day's held messages are folded into (not a template kind: its text is built here).
DIGEST_KIND = "digest"
# Why a queued row waits (the log shows it).
HOLD_QUIET = "quiet_hours"
HOLD_DIGEST = "digest"
HOLD_BACKOFF = "backoff"
HOLD_RATE = "rate_limit"
# A claimed row is leased this long: a worker that dies mid-send leaves it to be tried again after the lease.
LEASE = timedelta(minutes=5)
# The window a channel's rate_per_minute counts sends over.
RATE_WINDOW = timedelta(minutes=1)
NOT_CONFIGURED = "渠道未配置"
# The recipient of a county's webhook row (once per notice per county).
COUNTY_PREFIX = "county:"
OFFICER_PREFIX = "officer:"
_DIGEST_LIST_LIMIT = 50


def mask_email(address: str) -> str:
    """Show the first character of the mailbox and the domain only, e.g. ``z***@example.com``."""
    local, at, domain = address.strip().partition("@")
    if not at or not local:
        return "*" * len(address.strip())
    return f"{local[0]}***@{domain}"


def county_recipient(tenant: str) -> str:
    """The webhook row's recipient: the county's robot."""
    return f"{COUNTY_PREFIX}{tenant}"


def officer_recipient(officer_id: str) -> str:
    """An appointed officer reached by SMS on behalf of a seat."""
    return f"{OFFICER_PREFIX}{officer_id}"


def next_digest_at(now: datetime, digest_time: time) -> datetime:
    """The UTC instant of the next ``digest_time`` in Beijing strictly after ``now`` (or at it)."""
    local = now.astimezone(BEIJING)
    at = datetime.combine(local.date(), digest_time, tzinfo=BEIJING)
    if at < local:
        at += timedelta(days=1)
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Hold:
    """When an external row may go and why it waits (``reason`` "" when it may go now)."""

    at: datetime
    reason: str = ""


def hold_for(*, now: datetime, urgent: bool, digest: bool, quiet_until: datetime | None,
             digest_time: time | None) -> Hold:
    """Urgent messages go now; a digested category waits for the digest; otherwise quiet hours hold it."""
    if urgent:
        return Hold(now)
    if digest and digest_time is not None:
        return Hold(next_digest_at(now, digest_time), HOLD_DIGEST)
    if quiet_until is not None:
        return Hold(quiet_until, HOLD_QUIET)
    return Hold(now)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a worker records for one tried row."""

    status: Status
    next_attempt_at: datetime | None
    hold_reason: str
    last_error: str


def after_outcome(*, outcome: str, attempts: int, now: datetime, detail: str) -> Decision:
    """SENT/DELIVERED stay; a transient failure waits its back-off until the attempts run out (then a dead letter);
    a bounce is final. ``outcome`` is a channels.domain.Outcome value."""
    if outcome == "delivered":
        return Decision(Status.DELIVERED, None, "", "")
    if outcome == "sent":
        return Decision(Status.SENT, None, "", "")
    if outcome == "bounced":
        return Decision(Status.BOUNCED, None, "", detail)
    if attempts >= MAX_ATTEMPTS:
        return Decision(Status.FAILED, None, "", detail)
    return Decision(Status.QUEUED, now + backoff(attempts), HOLD_BACKOFF, detail)


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One held message folded into a digest."""

    subject: str
    body: str
    created_at: datetime


def compose_digest(items: Sequence[DigestItem], *, channel: Channel) -> tuple[str, str]:
    """The digest's subject and body: every held message, oldest first (SMS: the subjects only, it is short)."""
    ordered = sorted(items, key=lambda i: i.created_at)
    subject = f"金桥每日摘要：{len(ordered)} 条通知"
    lines = []
    for number, item in enumerate(ordered[:_DIGEST_LIST_LIMIT], start=1):
        when = item.created_at.astimezone(BEIJING).strftime("%m-%d %H:%M")
        title = item.subject or next(iter(item.body.splitlines()), "")
        if channel is Channel.SMS:
            lines.append(f"{number}. {title}")
        else:
            lines.append(f"{number}. 【{when}】{title}\n{item.body}".rstrip())
    if len(ordered) > _DIGEST_LIST_LIMIT:
        lines.append(f"……另有 {len(ordered) - _DIGEST_LIST_LIMIT} 条，请登录金桥查看站内信。")
    gap = "\n" if channel is Channel.SMS else "\n\n"
    body = f"您有 {len(ordered)} 条通知并入今日每日摘要：{gap}" + gap.join(lines)
    return subject, body
