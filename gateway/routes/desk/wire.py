"""The service desk's JSON shapes, shared by its route modules (tickets, queues, attachments, referrals, calendar).

Enums travel as snake_case names without their prefix (``TICKET_STATUS_AWAITING_INFO`` ↔ ``"awaiting_info"``);
instants as RFC 3339; ``form`` as a JSON object.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from google.protobuf.message import Message
from pydantic import BaseModel

from jinqiao.desk.v1 import calendar_pb2, referrals_pb2, tickets_pb2
from jinqiao.gateway.wire import enum_out

TicketStatusName = Literal["new", "accepted", "in_progress", "awaiting_info", "resolved", "reviewed", "closed"]
ChannelName = Literal["member_app", "walk_in", "home_county", "grid", "referral"]
PriorityName = Literal["low", "normal", "high", "urgent"]
ClockName = Literal["first_response", "assignment", "update", "resolution"]
SlaStateName = Literal["running", "warned", "breached", "paused", "met", "missed"]
CommentKindName = Literal["note", "reply", "member"]
FieldTypeName = Literal["text", "long_text", "integer", "money_fen", "date", "choice", "phone", "bool"]
ReferralStatusName = Literal["pending", "accepted", "declined", "withdrawn", "resolved"]
DirectionName = Literal["to_home", "to_station"]
CalendarSourceName = Literal["package", "province", "rules_only"]


def ts(message: Message, field: str) -> datetime | None:
    """A Timestamp field as an aware instant, or None when unset."""
    if not message.HasField(field):
        return None
    value: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return value


def form_of(text: str) -> dict[str, Any]:
    """A ticket's form values (JSON object text) as a dict."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


class SlaTimerOut(BaseModel):
    """One SLA clock of a ticket."""

    clock: str
    state: str
    due_at: datetime | None
    done_at: datetime | None

    @classmethod
    def from_proto(cls, t: tickets_pb2.SlaTimer) -> SlaTimerOut:
        """Map the wire form."""
        return cls(clock=enum_out(tickets_pb2.SlaClock, "SLA_CLOCK", t.clock),
                   state=enum_out(tickets_pb2.SlaState, "SLA_STATE", t.state),
                   due_at=ts(t, "due_time"), done_at=ts(t, "done_time"))


class TicketOut(BaseModel):
    """A ticket (工单) as its county's desk, or its member, sees it."""

    id: str
    tenant_id: str
    number: str
    category: str
    category_name: str
    category_group: str
    status: str
    priority: str
    channel: str
    member_home_tenant_id: str
    member_id: str
    member_name: str
    serving_org_id: str | None
    serving_org_name: str
    title: str
    description: str
    form: dict[str, Any]
    assignee: str
    assignee_name: str
    filed_by: str
    created_at: datetime | None
    updated_at: datetime | None
    sla: list[SlaTimerOut]
    resolution: str
    resolved_at: datetime | None
    rating: int | None
    rating_comment: str
    closed_at: datetime | None
    close_reason: str
    reopen_until: datetime | None
    incoming_referral_id: str | None
    referred_from_tenant_id: str | None
    outgoing_referral_id: str | None
    outgoing_referral_status: str | None
    escalated: bool
    escalated_to_org_id: str | None
    attachment_count: int
    version: int

    @classmethod
    def from_proto(cls, t: tickets_pb2.Ticket) -> TicketOut:
        """Map the wire form."""
        return cls(
            id=t.id, tenant_id=t.tenant_id, number=t.number, category=t.category, category_name=t.category_name,
            category_group=t.category_group, status=enum_out(tickets_pb2.TicketStatus, "TICKET_STATUS", t.status),
            priority=enum_out(tickets_pb2.TicketPriority, "TICKET_PRIORITY", t.priority),
            channel=enum_out(tickets_pb2.TicketChannel, "TICKET_CHANNEL", t.channel),
            member_home_tenant_id=t.member_home_tenant_id, member_id=t.member_id, member_name=t.member_name,
            serving_org_id=t.serving_org_id or None, serving_org_name=t.serving_org_name, title=t.title,
            description=t.description, form=form_of(t.form_json), assignee=t.assignee, assignee_name=t.assignee_name,
            filed_by=t.filed_by, created_at=ts(t, "create_time"), updated_at=ts(t, "update_time"),
            sla=[SlaTimerOut.from_proto(s) for s in t.sla], resolution=t.resolution,
            resolved_at=ts(t, "resolve_time"), rating=t.rating or None, rating_comment=t.rating_comment,
            closed_at=ts(t, "close_time"), close_reason=t.close_reason, reopen_until=ts(t, "reopen_until"),
            incoming_referral_id=t.incoming_referral_id or None,
            referred_from_tenant_id=t.referred_from_tenant_id or None,
            outgoing_referral_id=t.outgoing_referral_id or None,
            outgoing_referral_status=t.outgoing_referral_status.lower() or None, escalated=t.escalated,
            escalated_to_org_id=t.escalated_to_org_id or None, attachment_count=t.attachment_count,
            version=t.version,
        )


class TicketPageOut(BaseModel):
    """A page of tickets and the count of all that match."""

    tickets: list[TicketOut]
    total: int


class HistoryEntryOut(BaseModel):
    """One act on a ticket."""

    id: str
    at: datetime | None
    actor: str
    actor_name: str
    action: str
    from_status: str | None
    to_status: str | None
    comment_kind: str | None
    body: str

    @classmethod
    def from_proto(cls, e: tickets_pb2.TicketHistoryEntry) -> HistoryEntryOut:
        """Map the wire form."""
        return cls(
            id=e.id, at=ts(e, "time"), actor=e.actor, actor_name=e.actor_name, action=e.action,
            from_status=enum_out(tickets_pb2.TicketStatus, "TICKET_STATUS", e.from_status) if e.from_status else None,
            to_status=enum_out(tickets_pb2.TicketStatus, "TICKET_STATUS", e.to_status) if e.to_status else None,
            comment_kind=enum_out(tickets_pb2.CommentKind, "COMMENT_KIND", e.comment_kind) if e.comment_kind else None,
            body=e.body,
        )


class FormFieldOut(BaseModel):
    """One field of a category's form."""

    key: str
    label: str
    type: str
    required: bool
    choices: list[str]
    max_length: int
    min: int
    max: int
    help: str

    @classmethod
    def from_proto(cls, f: tickets_pb2.FormField) -> FormFieldOut:
        """Map the wire form."""
        return cls(key=f.key, label=f.label, type=enum_out(tickets_pb2.FieldType, "FIELD_TYPE", f.type),
                   required=f.required, choices=list(f.choices), max_length=f.max_length, min=f.min, max=f.max,
                   help=f.help)


class SlaPolicyOut(BaseModel):
    """A category's service levels in working minutes (0: none)."""

    first_response_minutes: int
    assignment_minutes: int
    update_minutes: int
    resolution_minutes: int
    same_day_first_response: bool
    warn_percent: int

    @classmethod
    def from_proto(cls, p: tickets_pb2.SlaPolicy) -> SlaPolicyOut:
        """Map the wire form."""
        return cls(first_response_minutes=p.first_response_minutes, assignment_minutes=p.assignment_minutes,
                   update_minutes=p.update_minutes, resolution_minutes=p.resolution_minutes,
                   same_day_first_response=p.same_day_first_response, warn_percent=p.warn_percent)


class CategoryOut(BaseModel):
    """A ticket category with its form, queue, priority and SLA policy."""

    code: str
    name: str
    group: str
    fields: list[FormFieldOut]
    default_queue: str
    priority: str
    sla: SlaPolicyOut
    enabled: bool
    reopen_days: int
    version: int

    @classmethod
    def from_proto(cls, c: tickets_pb2.TicketCategory) -> CategoryOut:
        """Map the wire form."""
        return cls(code=c.code, name=c.name, group=c.group, fields=[FormFieldOut.from_proto(f) for f in c.fields],
                   default_queue=c.default_queue,
                   priority=enum_out(tickets_pb2.TicketPriority, "TICKET_PRIORITY", c.priority),
                   sla=SlaPolicyOut.from_proto(c.sla), enabled=c.enabled, reopen_days=c.reopen_days,
                   version=c.version)


class AttachmentOut(BaseModel):
    """A file attached to a ticket (its content at ``…/attachments/{id}``)."""

    id: str
    ticket_id: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime | None
    sha256: str

    @classmethod
    def from_proto(cls, a: tickets_pb2.Attachment) -> AttachmentOut:
        """Map the wire form."""
        return cls(id=a.id, ticket_id=a.ticket_id, filename=a.filename, content_type=a.content_type,
                   size_bytes=a.size_bytes, uploaded_by=a.uploaded_by, created_at=ts(a, "create_time"),
                   sha256=a.sha256)


class QueueOut(BaseModel):
    """A queue (a station's, or the county department's: ``queue`` = "county") with its counts."""

    queue: str
    org_id: str | None
    name: str
    open: int
    unassigned: int
    warned: int
    breached: int
    on_duty: int

    @classmethod
    def from_proto(cls, q: tickets_pb2.Queue) -> QueueOut:
        """Map the wire form."""
        return cls(queue=q.org_id or "county", org_id=q.org_id or None, name=q.name, open=q.open,
                   unassigned=q.unassigned, warned=q.warned, breached=q.breached, on_duty=q.on_duty)


class DutyOut(BaseModel):
    """A staff member's duty in a queue."""

    queue: str
    user: str
    display_name: str
    on_duty: bool
    since: datetime | None
    last_assigned_at: datetime | None
    open_assigned: int

    @classmethod
    def from_proto(cls, d: tickets_pb2.DutyEntry) -> DutyOut:
        """Map the wire form."""
        return cls(queue=d.queue_org_id or "county", user=d.user, display_name=d.display_name, on_duty=d.on_duty,
                   since=ts(d, "since"), last_assigned_at=ts(d, "last_assigned_time"), open_assigned=d.open_assigned)


class ReferralOut(BaseModel):
    """A referral (转办) this county sent (``incoming`` false) or received (true)."""

    id: str
    incoming: bool
    ticket_id: str | None
    from_tenant_id: str
    to_tenant_id: str
    to_org_id: str | None
    direction: str
    status: str
    category: str
    member_home_tenant_id: str
    member_id: str
    member_name: str
    title: str
    summary: str
    form: dict[str, Any]
    reason: str
    decline_reason: str
    created_at: datetime | None
    respond_by: datetime | None
    answered_at: datetime | None
    attempt: int
    remote_ticket_id: str | None
    remote_org_name: str
    resolution: str

    @classmethod
    def from_proto(cls, r: referrals_pb2.Referral) -> ReferralOut:
        """Map the wire form."""
        return cls(
            id=r.id, incoming=r.incoming, ticket_id=r.ticket_id or None, from_tenant_id=r.from_tenant_id,
            to_tenant_id=r.to_tenant_id, to_org_id=r.to_org_id or None,
            direction=enum_out(referrals_pb2.ReferralDirection, "REFERRAL_DIRECTION", r.direction),
            status=enum_out(referrals_pb2.ReferralStatus, "REFERRAL_STATUS", r.status), category=r.category,
            member_home_tenant_id=r.member_home_tenant_id, member_id=r.member_id, member_name=r.member_name,
            title=r.title, summary=r.summary, form=form_of(r.form_json), reason=r.reason,
            decline_reason=r.decline_reason, created_at=ts(r, "create_time"), respond_by=ts(r, "respond_by"),
            answered_at=ts(r, "answer_time"), attempt=r.attempt, remote_ticket_id=r.remote_ticket_id or None,
            remote_org_name=r.remote_org_name, resolution=r.resolution,
        )


class ReferralPageOut(BaseModel):
    """A page of referrals and the count."""

    referrals: list[ReferralOut]
    total: int


class CalendarDayOut(BaseModel):
    """A day that differs from the ordinary week."""

    date: str
    working: bool
    name: str
    county_override: bool

    @classmethod
    def from_proto(cls, d: calendar_pb2.CalendarDay) -> CalendarDayOut:
        """Map the wire form."""
        return cls(date=d.date, working=d.working, name=d.name, county_override=d.county_override)


class WorkCalendarOut(BaseModel):
    """A year's working-day calendar."""

    year: int
    source: str
    days: list[CalendarDayOut]
    notice: str
    working_hours: str
    working_minutes_per_day: int

    @classmethod
    def from_proto(cls, c: calendar_pb2.WorkCalendar) -> WorkCalendarOut:
        """Map the wire form."""
        return cls(year=c.year, source=enum_out(calendar_pb2.CalendarSource, "CALENDAR_SOURCE", c.source),
                   days=[CalendarDayOut.from_proto(d) for d in c.days], notice=c.notice,
                   working_hours=c.working_hours, working_minutes_per_day=c.working_minutes_per_day)


class CalendarYearOut(BaseModel):
    """How a year's arrangement stands (``missing``: needed and not entered)."""

    year: int
    source: str
    missing: bool
    notice: str

    @classmethod
    def from_proto(cls, y: calendar_pb2.CalendarYear) -> CalendarYearOut:
        """Map the wire form."""
        return cls(year=y.year, source=enum_out(calendar_pb2.CalendarSource, "CALENDAR_SOURCE", y.source),
                   missing=y.missing, notice=y.notice)
