"""Categories, defaults, quiet hours and the digest: what a person chose. No framework imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

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
