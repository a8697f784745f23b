"""The notifications' JSON shapes, shared by the inbox and the county department's routes.

Field names are the proto's; enums travel as snake_case names without their prefix (``CHANNEL_IN_APP`` ↔
``"in_app"``, ``DELIVERY_STATUS_QUEUED`` ↔ ``"queued"``, ``ESCALATION_STATE_OPEN`` ↔ ``"open"``); instants as the
service's RFC 3339 text, null when unset.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from jinqiao.gateway.wire import Body, enum_in, enum_out
from jinqiao.notifications.v1 import notifications_pb2 as pb

ChannelName = Literal["in_app", "email", "sms", "webhook"]
StatusName = Literal["queued", "sent", "delivered", "failed", "bounced", "skipped", "digested"]
EscalationStateName = Literal["open", "acknowledged", "resolved"]
InboxFilter = Literal["", "unread", "archived"]

# Bounds of what a request may carry: generous for a person, small enough that no input reaches a service as a
# value it cannot take.
MAX_IDS = 500
ID_LENGTH = 64
KIND_LENGTH = 64
CATEGORY_LENGTH = 32
PAGE_TOKEN_LENGTH = 500
SUBJECT_LENGTH = 200
TEMPLATE_BODY_LENGTH = 10_000
MAX_SETTINGS = 20
SETTING_KEY_LENGTH = 40
SETTING_VALUE_LENGTH = 2_000
MAX_RATE_PER_MINUTE = 100_000
# The settings a channel keeps secret: never shown, whatever a service answers (the service masks them as well).
SECRET_SETTINGS = frozenset({"password", "api_key", "secret", "token"})
SECRET_SHOWN = "已设置"

InboxId = Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH)]
SettingKey = Annotated[str, StringConstraints(min_length=1, max_length=SETTING_KEY_LENGTH)]
SettingValue = Annotated[str, StringConstraints(max_length=SETTING_VALUE_LENGTH)]


def at(text: str) -> str | None:
    """An instant the service sent as text, or None when unset."""
    return text or None


def channel_in(name: str | None) -> pb.Channel.ValueType:
    """The proto channel a lowercase name stands for (None: unspecified)."""
    return enum_in(pb.Channel, "CHANNEL", name)


def channel_out(value: pb.Channel.ValueType) -> str:
    """The lowercase name of a proto channel."""
    return enum_out(pb.Channel, "CHANNEL", value)


def status_in(name: str | None) -> pb.DeliveryStatus.ValueType:
    """The proto delivery status a lowercase name stands for (None: any)."""
    return enum_in(pb.DeliveryStatus, "DELIVERY_STATUS", name)


def status_out(value: pb.DeliveryStatus.ValueType) -> str:
    """The lowercase name of a proto delivery status."""
    return enum_out(pb.DeliveryStatus, "DELIVERY_STATUS", value)


def state_in(name: str | None) -> pb.EscalationState.ValueType:
    """The proto escalation state a lowercase name stands for (None: any)."""
    return enum_in(pb.EscalationState, "ESCALATION_STATE", name)


# ------------------------------------------------------------------------------------------------ the inbox

class InboxItemOut(BaseModel):
    """One message of the caller's inbox (站内信)."""

    id: str
    kind: str = Field(description="通知类型（模板），如 check_in_overdue")
    category: str = Field(description="偏好类别，如 overdue")
    category_label: str
    urgent: bool
    subject: str
    body: str
    link: str = Field(description="控制台中打开的位置；空为无")
    created_at: str | None
    read_at: str | None
    archived: bool
    escalation_id: str = Field(description="需要确认的逐级提醒；空为无")
    acknowledged: bool
    level: int

    @classmethod
    def from_proto(cls, m: pb.InboxItem) -> InboxItemOut:
        """Map the wire form."""
        return cls(id=m.id, kind=m.kind, category=m.category, category_label=m.category_label, urgent=m.urgent,
                   subject=m.subject, body=m.body, link=m.link, created_at=at(m.created_at), read_at=at(m.read_at),
                   archived=m.archived, escalation_id=m.escalation_id, acknowledged=m.acknowledged, level=m.level)


class InboxPageOut(BaseModel):
    """One page of the inbox, newest first, and the caller's unread count."""

    items: list[InboxItemOut]
    next_page_token: str
    unread_count: int


class InboxSummaryOut(BaseModel):
    """The bell: unread counts and the newest item."""

    unread_count: int
    urgent_unread_count: int
    latest_id: str
    latest_at: str | None

    @classmethod
    def from_proto(cls, m: pb.GetInboxSummaryResponse) -> InboxSummaryOut:
        """Map the wire form."""
        return cls(unread_count=m.unread_count, urgent_unread_count=m.urgent_unread_count, latest_id=m.latest_id,
                   latest_at=at(m.latest_at))


class MarkReadIn(Body):
    """Which messages to mark read (or unread again)."""

    ids: list[InboxId] = Field(default_factory=list, max_length=MAX_IDS, description="站内信编号（最多 500 个）")
    all: bool = Field(default=False, description="全部标为已读（忽略 ids）")
    read: bool = Field(default=True, description="false 为标为未读")


class ArchiveIn(Body):
    """Which messages to archive (or take out of the archive)."""

    ids: list[InboxId] = Field(min_length=1, max_length=MAX_IDS, description="站内信编号（1–500 个）")
    archived: bool = Field(default=True, description="false 为移出归档")


class ChangedOut(BaseModel):
    """How many messages changed and the caller's unread count now."""

    changed: int
    unread_count: int


# ------------------------------------------------------------------------------------------------ escalations

class EscalationAcknowledgeIn(Body):
    """确认 an escalation, with an optional note (what is being done)."""

    note: str = Field(default="", max_length=500, description="备注（如已联系本人）")


class EscalationOut(BaseModel):
    """逐级提醒: a matter climbing the org tree until somebody acknowledges it."""

    id: str
    kind: str
    subject_type: str
    subject_id: str
    state: str = Field(description="open 未确认、acknowledged 已确认、resolved 已了结")
    level: int
    org_id: str
    org_name: str
    opened_at: str | None
    next_escalation_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str
    note: str
    resolved_at: str | None

    @classmethod
    def from_proto(cls, m: pb.Escalation) -> EscalationOut:
        """Map the wire form."""
        return cls(id=m.id, kind=m.kind, subject_type=m.subject_type, subject_id=m.subject_id,
                   state=enum_out(pb.EscalationState, "ESCALATION_STATE", m.state), level=m.level, org_id=m.org_id,
                   org_name=m.org_name, opened_at=at(m.opened_at), next_escalation_at=at(m.next_escalation_at),
                   acknowledged_at=at(m.acknowledged_at), acknowledged_by=m.acknowledged_by, note=m.note,
                   resolved_at=at(m.resolved_at))


class EscalationPageOut(BaseModel):
    """One page of the county's escalations."""

    escalations: list[EscalationOut]
    next_page_token: str


# ------------------------------------------------------------------------------------------------ preferences

class ChannelChoiceModel(Body):
    """Whether one channel carries one category."""

    channel: ChannelName = Field(description="渠道：in_app 站内信、email 电子邮件、sms 短信、webhook 群机器人")
    enabled: bool = Field(description="是否通过该渠道接收")

    def to_proto(self) -> pb.ChannelChoice:
        """The proto form."""
        return pb.ChannelChoice(channel=channel_in(self.channel), enabled=self.enabled)


class CategoryPreferenceIn(Body):
    """A person's choice for one category (``label`` and ``urgent`` are read-only and ignored when sent)."""

    category: str = Field(min_length=1, max_length=CATEGORY_LENGTH, description="类别，如 overdue、ticket、loan")
    channels: list[ChannelChoiceModel] = Field(default_factory=list, max_length=4, description="各渠道的选择")
    digest: bool = Field(default=False, description="低优先级类别并入每日摘要")

    def to_proto(self) -> pb.CategoryPreference:
        """The proto form."""
        return pb.CategoryPreference(category=self.category, channels=[c.to_proto() for c in self.channels],
                                     digest=self.digest)


class ChannelChoiceOut(BaseModel):
    """Whether one channel carries one category."""

    channel: str
    enabled: bool


class CategoryPreferenceOut(BaseModel):
    """A person's choice for one category."""

    category: str
    label: str
    urgent: bool = Field(description="紧急类别不受免打扰时段限制，也不并入每日摘要")
    channels: list[ChannelChoiceOut]
    digest: bool


class PreferencesOut(BaseModel):
    """Everything a person chose (defaults where they chose nothing); addresses masked."""

    categories: list[CategoryPreferenceOut]
    quiet_hours_enabled: bool
    quiet_start: str = Field(description="免打扰开始（北京时间 HH:MM）")
    quiet_end: str = Field(description="免打扰结束（北京时间 HH:MM）")
    digest_time: str = Field(description="每日摘要发送时间（北京时间 HH:MM）")
    email_masked: str
    phone_masked: str

    @classmethod
    def from_proto(cls, m: pb.Preferences) -> PreferencesOut:
        """Map the wire form."""
        return cls(
            categories=[CategoryPreferenceOut(
                category=c.category, label=c.label, urgent=c.urgent, digest=c.digest,
                channels=[ChannelChoiceOut(channel=channel_out(x.channel), enabled=x.enabled) for x in c.channels])
                for c in m.categories],
            quiet_hours_enabled=m.quiet_hours_enabled, quiet_start=m.quiet_start, quiet_end=m.quiet_end,
            digest_time=m.digest_time, email_masked=m.email_masked, phone_masked=m.phone_masked)


class PreferencesIn(Body):
    """The caller's choices (they replace the stored ones); an address left empty keeps the stored one."""

    categories: list[CategoryPreferenceIn] = Field(default_factory=list, max_length=20,
                                                   description="各类别的选择；未列出的类别取默认")
    quiet_hours_enabled: bool = Field(default=True, description="是否启用免打扰时段")
    quiet_start: str = Field(default="", max_length=5, description="免打扰开始（北京时间 HH:MM，默认 22:00）")
    quiet_end: str = Field(default="", max_length=5, description="免打扰结束（北京时间 HH:MM，默认 07:00）")
    digest_time: str = Field(default="", max_length=5, description="每日摘要发送时间（北京时间 HH:MM，默认 08:00）")
    email: str = Field(default="", max_length=254, description="新的电子邮箱；不填则不变")
    phone: str = Field(default="", max_length=20, description="新的手机号码；不填则不变")
    clear_email: bool = Field(default=False, description="删除已登记的电子邮箱")
    clear_phone: bool = Field(default=False, description="删除已登记的手机号码")

    def to_proto(self) -> pb.UpdateNotificationPreferencesRequest:
        """The proto form."""
        return pb.UpdateNotificationPreferencesRequest(
            categories=[c.to_proto() for c in self.categories], quiet_hours_enabled=self.quiet_hours_enabled,
            quiet_start=self.quiet_start, quiet_end=self.quiet_end, digest_time=self.digest_time, email=self.email,
            phone=self.phone, clear_email=self.clear_email, clear_phone=self.clear_phone)


# ------------------------------------------------------------------------------------------------ the delivery log

class DeliveryOut(BaseModel):
    """One message to one recipient on one channel (the destination masked; never an ID number)."""

    id: str
    kind: str
    category: str
    channel: str
    recipient_label: str
    destination: str
    status: str
    attempts: int
    subject: str
    created_at: str | None
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str
    hold_reason: str = Field(description="等待原因：quiet_hours、digest、backoff、rate_limit 或空")
    event_id: str

    @classmethod
    def from_proto(cls, m: pb.Delivery) -> DeliveryOut:
        """Map the wire form."""
        return cls(id=m.id, kind=m.kind, category=m.category, channel=channel_out(m.channel),
                   recipient_label=m.recipient_label, destination=m.destination, status=status_out(m.status),
                   attempts=m.attempts, subject=m.subject, created_at=at(m.created_at),
                   next_attempt_at=at(m.next_attempt_at), sent_at=at(m.sent_at), last_error=m.last_error,
                   hold_reason=m.hold_reason, event_id=m.event_id)


class StatusCountOut(BaseModel):
    """How many deliveries stand in one status."""

    status: str
    count: int


class DeliveryPageOut(BaseModel):
    """One page of the county's delivery log and its totals by status."""

    deliveries: list[DeliveryOut]
    next_page_token: str
    totals: list[StatusCountOut]


# ------------------------------------------------------------------------------------------------ templates

class TemplateVariableOut(BaseModel):
    """One fact a template may use."""

    name: str
    label: str


class TemplateOut(BaseModel):
    """One kind × channel as the county uses it (version 0: the platform's default)."""

    kind: str
    kind_label: str
    channel: str
    subject: str
    body: str
    version: int
    overridden: bool
    updated_at: str | None
    updated_by: str
    variables: list[TemplateVariableOut]

    @classmethod
    def from_proto(cls, m: pb.Template) -> TemplateOut:
        """Map the wire form."""
        return cls(kind=m.kind, kind_label=m.kind_label, channel=channel_out(m.channel), subject=m.subject,
                   body=m.body, version=m.version, overridden=m.overridden, updated_at=at(m.updated_at),
                   updated_by=m.updated_by,
                   variables=[TemplateVariableOut(name=v.name, label=v.label) for v in m.variables])


class TemplateDetailOut(BaseModel):
    """The template in use, the platform default and the county's versions, newest first."""

    template: TemplateOut
    default_template: TemplateOut
    versions: list[TemplateOut]


class TemplateIn(Body):
    """A new version of the county's template (checked in the sandbox before it is kept)."""

    subject: str = Field(default="", max_length=SUBJECT_LENGTH, description="标题（站内信、电子邮件）")
    body: str = Field(min_length=1, max_length=TEMPLATE_BODY_LENGTH, description="正文模板")


class PreviewIn(Body):
    """A draft to render with the kind's sample facts (empty subject and body: the version in use)."""

    subject: str = Field(default="", max_length=SUBJECT_LENGTH, description="标题草稿")
    body: str = Field(default="", max_length=TEMPLATE_BODY_LENGTH, description="正文草稿")


class PreviewOut(BaseModel):
    """The draft rendered with sample facts."""

    subject: str
    body: str


# ------------------------------------------------------------------------------------------------ channels

class ChannelSettingOut(BaseModel):
    """One channel's settings for the county; a secret shows only as 已设置."""

    channel: str
    enabled: bool
    settings: dict[str, str]
    rate_per_minute: int
    updated_at: str | None
    updated_by: str

    @classmethod
    def from_proto(cls, m: pb.ChannelSetting) -> ChannelSettingOut:
        """Map the wire form, hiding any secret the service might have let through."""
        settings = {k: (SECRET_SHOWN if v else "") if k in SECRET_SETTINGS else v for k, v in m.settings.items()}
        return cls(channel=channel_out(m.channel), enabled=m.enabled, settings=settings,
                   rate_per_minute=m.rate_per_minute, updated_at=at(m.updated_at), updated_by=m.updated_by)


class ChannelSettingIn(Body):
    """One channel's settings (a secret left empty keeps the stored one)."""

    enabled: bool = Field(description="是否启用该渠道")
    settings: dict[SettingKey, SettingValue] = Field(
        default_factory=dict, max_length=MAX_SETTINGS,
        description="设置项：email 为 host、port、security（none/starttls/tls）、username、password、sender；"
                    "sms 为 url、api_key、sign_name；webhook 为 url、kind（wecom/dingtalk/feishu/json）、secret")
    rate_per_minute: int = Field(default=0, ge=0, le=MAX_RATE_PER_MINUTE, description="每分钟最多发送条数；0 为默认")


class SendTestIn(Body):
    """Where a test message goes (e-mail address or mobile number; a webhook ignores it)."""

    to: str = Field(default="", max_length=254, description="收件地址：电子邮箱或手机号码（群机器人不填）")


class SendTestOut(BaseModel):
    """What the channel answered."""

    status: str
    detail: str

