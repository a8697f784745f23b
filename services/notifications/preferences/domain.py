"""Categories, defaults, quiet hours and the digest: what a person chose. No framework imports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.notifications.channels.domain import Channel

BEIJING = ZoneInfo("Asia/Shanghai")


class Category(StrEnum):
    """What a message is about; people choose channels per category."""

    FLOW = "flow"  # 临时组织关系 offered, 报到 done
    OVERDUE = "overdue"  # 报到 overdue (escalates)
    REMINDER = "reminder"  # 活动证 expiry, yearly report-back, 应转尽转
    MEETING = "meeting"  # 三会一课, 主题党日
    TICKET = "ticket"  # a new ticket in the queue, a reply to the member
    SLA = "sla"  # a ticket's time limit warned or breached (escalates)
    LOAN = "loan"  # an application waiting for the next reviewer, a tier past its limit
    REPAYMENT = "repayment"  # an instalment due, a loan overdue


CATEGORY_LABELS: dict[Category, str] = {
    Category.FLOW: "流动与报到", Category.OVERDUE: "报到逾期预警", Category.REMINDER: "证件与报告提醒",
    Category.MEETING: "组织生活", Category.TICKET: "服务工单", Category.SLA: "工单超时预警",
    Category.LOAN: "贷款审批", Category.REPAYMENT: "还款提醒",
}
# Urgent categories pass quiet hours and never wait for a digest.
URGENT: frozenset[Category] = frozenset({Category.OVERDUE, Category.SLA})
# Low-priority categories a person may fold into the daily digest (meetings go there by default).
DIGESTIBLE: frozenset[Category] = frozenset({Category.MEETING, Category.REMINDER, Category.FLOW, Category.TICKET,
                                             Category.LOAN, Category.REPAYMENT})
DIGEST_BY_DEFAULT: frozenset[Category] = frozenset({Category.MEETING})
# Without a choice: the inbox always, e-mail and SMS when an address is known; webhooks are the county's own.
DEFAULT_CHANNELS: frozenset[Channel] = frozenset({Channel.IN_APP, Channel.EMAIL, Channel.SMS})
DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)
DEFAULT_DIGEST_TIME = time(8, 0)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly window in Beijing time (it may wrap midnight) when nothing but urgent messages go out."""

    start: time = DEFAULT_QUIET_START
    end: time = DEFAULT_QUIET_END

    def until(self, at: datetime) -> datetime | None:
        """The UTC instant the window ends if ``at`` lies inside it, else None."""
        local = at.astimezone(BEIJING)
        now = local.timetz().replace(tzinfo=None)
        if self.start == self.end:
            return None
        inside = (self.start <= now or now < self.end) if self.start > self.end else self.start <= now < self.end
        if not inside:
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=BEIJING)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Choices:
    """A person's choices, defaults filled in."""

    channels: dict[Category, frozenset[Channel]]
    digest: frozenset[Category]
    quiet: QuietHours | None
    digest_time: time = DEFAULT_DIGEST_TIME

    def wants(self, category: Category, channel: Channel) -> bool:
        """Whether this category may use this channel (the inbox always: it is the record)."""
        return channel is Channel.IN_APP or channel in self.channels.get(category, DEFAULT_CHANNELS)


def default_choices() -> Choices:
    """The choices of a person who chose nothing."""
    return Choices(channels={c: DEFAULT_CHANNELS for c in Category}, digest=DIGEST_BY_DEFAULT, quiet=QuietHours())


@dataclass(frozen=True, slots=True)
class Contact:
    """A person's own addresses, sealed (opened only to send) and masked (for every response)."""

    address: str
    display_name: str
    email_sealed: bytes | None
    email_masked: str
    phone_sealed: bytes | None
    phone_masked: str


# ---- validating what a person sends (H6) ----

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# A practical address check (RFC 5321 caps the whole at 254); the mailbox itself is the SMTP server's to judge.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
MAX_EMAIL = 254


def parse_hhmm(value: str, *, field: str) -> time:
    """A wall-clock time "HH:MM" (Asia/Shanghai), or InvalidArgument naming ``field``."""
    match = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgument.field(field, "时间格式错误：应为 HH:MM（如 22:00）")
    return time(int(match.group(1)), int(match.group(2)))


def format_hhmm(value: time) -> str:
    """A time as "HH:MM"."""
    return f"{value.hour:02d}:{value.minute:02d}"


def validate_email(value: str, *, field: str = "email") -> str:
    """The trimmed e-mail address (domain lower-cased), or InvalidArgument naming ``field``."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_EMAIL:
        raise InvalidArgument.field(field, f"电子邮箱过长：不超过{MAX_EMAIL}个字符")
    if not _EMAIL.fullmatch(text) or ".." in text.split("@", 1)[0] or len(text.split("@", 1)[0]) > 64:
        raise InvalidArgument.field(field, "电子邮箱格式错误：应形如 name@example.com")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def mask_email(value: str) -> str:
    """Show the mailbox's first character and the domain only, e.g. ``a***@example.com``."""
    local, sep, domain = value.partition("@")
    if not sep or not local:
        return "***"
    return f"{local[0]}***@{domain}"


@dataclass(frozen=True, slots=True)
class CategoryInput:
    """One category as the person sent it: the name, (channel value, enabled) pairs and the digest switch."""

    category: str
    channels: tuple[tuple[int, bool], ...]
    digest: bool


def check_categories(items: Sequence[CategoryInput]) -> tuple[dict[Category, frozenset[Channel]], frozenset[Category]]:
    """The channels per category and the digested categories, or InvalidArgument listing every wrong entry.

    A category the person leaves out keeps its defaults; the inbox can never be turned off (it is the record);
    urgent categories never wait for a digest.
    """
    violations: list[FieldViolation] = []
    channels: dict[Category, frozenset[Channel]] = {}
    digest: set[Category] = set()
    known = {c.value for c in Channel}
    for i, item in enumerate(items):
        where = f"categories[{i}]"
        try:
            category = Category(item.category)
        except ValueError:
            violations.append(FieldViolation(f"{where}.category", "未知的消息类别"))
            continue
        if category in channels:
            violations.append(FieldViolation(f"{where}.category", "消息类别重复"))
            continue
        chosen = set(DEFAULT_CHANNELS)
        for j, (value, enabled) in enumerate(item.channels):
            if value not in known:
                violations.append(FieldViolation(f"{where}.channels[{j}].channel", "未知的通知渠道"))
                continue
            channel = Channel(value)
            if channel is Channel.IN_APP and not enabled:
                violations.append(FieldViolation(f"{where}.channels[{j}].enabled",
                                                 "站内信不能关闭：它是消息的留存记录"))
            elif enabled:
                chosen.add(channel)
            else:
                chosen.discard(channel)
        if item.digest:
            if category in URGENT:
                violations.append(FieldViolation(f"{where}.digest",
                                                 f"{CATEGORY_LABELS[category]}为紧急类消息，不能并入每日摘要"))
            elif category not in DIGESTIBLE:
                violations.append(FieldViolation(f"{where}.digest", "该类消息不能并入每日摘要"))
            else:
                digest.add(category)
        chosen.add(Channel.IN_APP)
        channels[category] = frozenset(chosen)
    if violations:
        raise InvalidArgument(violations)
    for category in Category:
        channels.setdefault(category, DEFAULT_CHANNELS)
    mentioned = {Category(item.category) for item in items}
    digest |= {c for c in DIGEST_BY_DEFAULT if c not in mentioned}
    return channels, frozenset(digest)


@dataclass(frozen=True, slots=True)
class PreferencesView:
    """What a person sees of their settings: choices with defaults filled in, the window and the masked contacts."""

    choices: Choices
    quiet_enabled: bool
    quiet_start: time
    quiet_end: time
    digest_time: time
    email_masked: str
    phone_masked: str
