"""Tickets' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jinqiao.desk.calendar.domain import WorkCalendar
from jinqiao.desk.calendar.service import cached_calendar
from jinqiao.desk.categories.domain import invalid_field
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla import domain as sla_domain
from jinqiao.desk.tickets import service
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.desk.tickets.repo import HistoryRow
from jinqiao.desk.tickets.service import TicketView
from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.kit.auth import Role
from jinqiao.kit.clock import utc_now
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def _timers(row: TicketRow, now: datetime, calendar: WorkCalendar | None) -> list[tickets_pb2.SlaTimer]:
    """Each clock with a due time and how it stands (the sla domain decides; WARNED needs the calendar)."""
    result = []
    for t in sla_domain.timers(service.ticket_sla(row), now, calendar=calendar):
        timer = tickets_pb2.SlaTimer(clock=tickets_pb2.SlaClock.Value(f"SLA_CLOCK_{t.clock.value}"),
                                     state=tickets_pb2.SlaState.Value(f"SLA_STATE_{t.state.value}"))
        if t.due is not None:
            timer.due_time.FromDatetime(t.due)
        if t.done is not None:
            timer.done_time.FromDatetime(t.done)
        result.append(timer)
    return result


def ticket_to_proto(row: TicketRow, *, serving_org_name: str = "", attachment_count: int = 0,
                    for_member: bool = False, calendar: WorkCalendar | None = None) -> tickets_pb2.Ticket:
    """CONTRACT: the wire form of a ticket; a member's copy leaves out who works on it internally."""
    message = tickets_pb2.Ticket(
        id=row.id, tenant_id=row.tenant_id, number=row.number, category=row.category,
        category_name=row.category_name, category_group=row.category_group,
        status=tickets_pb2.TicketStatus.ValueType(row.status),
        priority=tickets_pb2.TicketPriority.ValueType(row.priority),
        channel=tickets_pb2.TicketChannel.ValueType(row.channel), member_home_tenant_id=row.member_home_tenant_id,
        member_id=row.member_id, member_name=row.member_name, serving_org_id=row.serving_org_id or "",
        serving_org_name=serving_org_name, title=row.title, description=row.description,
        form_json=json.dumps(row.form or {}, ensure_ascii=False), assignee_name=row.assignee_name,
        resolution=row.resolution, rating=row.rating or 0, rating_comment=row.rating_comment,
        close_reason=row.close_reason, incoming_referral_id=row.incoming_referral_id or "",
        referred_from_tenant_id=row.referred_from_tenant_id, attachment_count=attachment_count, version=row.version,
        sla=_timers(row, utc_now(), calendar),
    )
    if not for_member:
        message.assignee = row.assignee
        message.filed_by = row.filed_by
        message.outgoing_referral_id = row.outgoing_referral_id or ""
        message.outgoing_referral_status = row.outgoing_referral_status
        message.escalated = row.escalated
        message.escalated_to_org_id = row.escalated_to_org_id or ""
    for name, value in (("create_time", row.created_at), ("update_time", row.updated_at),
                        ("resolve_time", row.resolved_at), ("close_time", row.closed_at),
                        ("reopen_until", row.reopen_until)):
        if value is not None:
            getattr(message, name).FromDatetime(value)
    return message


def history_to_proto(e: HistoryRow) -> tickets_pb2.TicketHistoryEntry:
    """The wire form of a history entry."""
    message = tickets_pb2.TicketHistoryEntry(
        id=e.id, actor=e.actor, actor_name=e.actor_name, action=e.action,
        from_status=tickets_pb2.TicketStatus.ValueType(e.from_status),
        to_status=tickets_pb2.TicketStatus.ValueType(e.to_status),
        comment_kind=tickets_pb2.CommentKind.ValueType(e.comment_kind), body=e.body)
    message.time.FromDatetime(e.at)
    return message


def _out(view: TicketView, deps: DeskDeps) -> tickets_pb2.Ticket:
    # The county's calendar as the use case left it cached (it loads it before reading or moving a ticket).
    return ticket_to_proto(view.row, serving_org_name=view.serving_org_name,
                           attachment_count=view.attachment_count,
                           for_member=current_principal().role is Role.MEMBER,
                           calendar=cached_calendar(deps=deps, tenant=view.row.tenant_id))


def _form(text: str) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        raise invalid_field("form", "表单：不是有效的 JSON") from None


class TicketsApi:
    """Tickets' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def CreateTicket(self, request: desk_pb2.CreateTicketRequest, context: Context
                           ) -> desk_pb2.CreateTicketResponse:
        """File a ticket."""
        view = await service.create_ticket(
            deps=self._deps, principal=current_principal(), category=request.category, title=request.title,
            description=request.description, form=_form(request.form_json),
            member_home_tenant_id=request.member_home_tenant_id, member_id=request.member_id,
            serving_org_id=request.serving_org_id, channel=request.channel, request_id=request.request_id,
            received_time=request.received_time.ToDatetime(tzinfo=UTC) if request.HasField("received_time") else None)
        return desk_pb2.CreateTicketResponse(ticket=_out(view, self._deps))

    async def GetTicket(self, request: desk_pb2.GetTicketRequest, context: Context) -> desk_pb2.GetTicketResponse:
        """One ticket."""
        view = await service.get_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id)
        return desk_pb2.GetTicketResponse(ticket=_out(view, self._deps))

    async def ListTickets(self, request: desk_pb2.ListTicketsRequest, context: Context
                          ) -> desk_pb2.ListTicketsResponse:
        """A page of tickets."""
        result = await service.list_tickets(
            deps=self._deps, principal=current_principal(), statuses=list(request.statuses),
            category=request.category, queue=request.queue, assignee=request.assignee, sla_state=request.sla_state,
            member_id=request.member_id, query=request.query, page=request.page, page_size=request.page_size,
            referred_only=request.referred_only)
        return desk_pb2.ListTicketsResponse(tickets=[_out(v, self._deps) for v in result.tickets], total=result.total)

    async def AcceptTicket(self, request: desk_pb2.AcceptTicketRequest, context: Context
                           ) -> desk_pb2.AcceptTicketResponse:
        """受理 a ticket."""
        view = await service.accept_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                           message=request.message, version=request.version)
        return desk_pb2.AcceptTicketResponse(ticket=_out(view, self._deps))

    async def StartTicket(self, request: desk_pb2.StartTicketRequest, context: Context
                          ) -> desk_pb2.StartTicketResponse:
        """Start work."""
        view = await service.start_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                          version=request.version)
        return desk_pb2.StartTicketResponse(ticket=_out(view, self._deps))

    async def RequestTicketInfo(self, request: desk_pb2.RequestTicketInfoRequest, context: Context
                                ) -> desk_pb2.RequestTicketInfoResponse:
        """Ask for materials."""
        view = await service.request_info(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                          message=request.message, version=request.version)
        return desk_pb2.RequestTicketInfoResponse(ticket=_out(view, self._deps))

    async def ResumeTicket(self, request: desk_pb2.ResumeTicketRequest, context: Context
                           ) -> desk_pb2.ResumeTicketResponse:
        """Resume a paused ticket."""
        view = await service.resume_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                           note=request.note, version=request.version)
        return desk_pb2.ResumeTicketResponse(ticket=_out(view, self._deps))

    async def ResolveTicket(self, request: desk_pb2.ResolveTicketRequest, context: Context
                            ) -> desk_pb2.ResolveTicketResponse:
        """办结 a ticket."""
        view = await service.resolve_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                            resolution=request.resolution, version=request.version)
        return desk_pb2.ResolveTicketResponse(ticket=_out(view, self._deps))

    async def CloseTicket(self, request: desk_pb2.CloseTicketRequest, context: Context
                          ) -> desk_pb2.CloseTicketResponse:
        """Close a ticket without resolution."""
        view = await service.close_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                          reason=request.reason, note=request.note, version=request.version)
        return desk_pb2.CloseTicketResponse(ticket=_out(view, self._deps))

    async def RateTicket(self, request: desk_pb2.RateTicketRequest, context: Context) -> desk_pb2.RateTicketResponse:
        """Record the 回访."""
        view = await service.rate_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                         score=request.score, comment=request.comment)
        return desk_pb2.RateTicketResponse(ticket=_out(view, self._deps))

    async def ReopenTicket(self, request: desk_pb2.ReopenTicketRequest, context: Context
                           ) -> desk_pb2.ReopenTicketResponse:
        """Reopen a resolved ticket."""
        view = await service.reopen_ticket(deps=self._deps, principal=current_principal(), ticket_id=request.id,
                                           reason=request.reason)
        return desk_pb2.ReopenTicketResponse(ticket=_out(view, self._deps))

    async def AddTicketComment(self, request: desk_pb2.AddTicketCommentRequest, context: Context
                               ) -> desk_pb2.AddTicketCommentResponse:
        """Add a note, a reply or the member's message."""
        entry, view = await service.add_comment(deps=self._deps, principal=current_principal(),
                                                ticket_id=request.id, kind=request.kind, body=request.body)
        return desk_pb2.AddTicketCommentResponse(entry=history_to_proto(entry), ticket=_out(view, self._deps))

    async def ListTicketHistory(self, request: desk_pb2.ListTicketHistoryRequest, context: Context
                                ) -> desk_pb2.ListTicketHistoryResponse:
        """Every act on a ticket, oldest first."""
        entries = await service.ticket_history(deps=self._deps, principal=current_principal(), ticket_id=request.id)
        return desk_pb2.ListTicketHistoryResponse(entries=[history_to_proto(e) for e in entries])
