"""Referrals' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.referrals import service as referral_service
from jinqiao.desk.referrals.models import ReferralRow
from jinqiao.desk.tickets import api as tickets_api
from jinqiao.desk.tickets.models import TicketRow
from jinqiao.desk.v1 import desk_pb2, referrals_pb2, tickets_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def _set(message: Timestamp, value: datetime | None) -> None:
    if value is not None:
        message.FromDatetime(value)


def referral_to_proto(row: ReferralRow) -> referrals_pb2.Referral:
    """The wire form of a referral as its county holds it (the receiving county: what it was sent)."""
    message = referrals_pb2.Referral(
        id=row.id, incoming=row.incoming, ticket_id=row.origin_ticket_id, from_tenant_id=row.from_tenant_id,
        to_tenant_id=row.to_tenant_id, to_org_id=row.to_org_id or "",
        direction=referrals_pb2.ReferralDirection.ValueType(row.direction),
        status=referrals_pb2.ReferralStatus.ValueType(row.status), category=row.category,
        member_home_tenant_id=row.member_home_tenant_id, member_id=row.member_id, member_name=row.member_name,
        title=row.title, summary=row.summary, form_json=json.dumps(row.form, ensure_ascii=False, sort_keys=True),
        reason=row.reason, decline_reason=row.decline_reason, attempt=row.attempt,
        # The receiving county's ticket: the sender learns it from the answer, the receiver holds it itself.
        remote_ticket_id=(row.ticket_id if row.incoming else row.remote_ticket_id) or "",
        remote_org_name=row.remote_org_name, resolution=row.resolution,
    )
    _set(message.create_time, row.created_at)
    _set(message.respond_by, row.respond_by)
    _set(message.answer_time, row.answered_at)
    return message


def _ticket(row: TicketRow, *, serving_org_name: str) -> tickets_pb2.Ticket:
    """The new ticket's wire form through the tickets concept's mapping."""
    to_proto: Any = getattr(tickets_api, "ticket_to_proto", None)
    if to_proto is not None:
        ticket: tickets_pb2.Ticket = to_proto(row, serving_org_name=serving_org_name)
        return ticket
    # Until the tickets concept's mapping exists: the fields a caller needs to find the ticket.
    return tickets_pb2.Ticket(id=row.id, tenant_id=row.tenant_id, number=row.number, category=row.category,
                              title=row.title, member_home_tenant_id=row.member_home_tenant_id,
                              member_id=row.member_id, member_name=row.member_name,
                              serving_org_id=row.serving_org_id or "", serving_org_name=serving_org_name,
                              incoming_referral_id=row.incoming_referral_id or "",
                              referred_from_tenant_id=row.referred_from_tenant_id, version=row.version)


class ReferralsApi:
    """Referrals' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def ReferTicket(self, request: desk_pb2.ReferTicketRequest,
                          context: Context) -> desk_pb2.ReferTicketResponse:
        """转办 a ticket to another county."""
        row = await referral_service.refer_ticket(
            deps=self._deps, principal=current_principal(), ticket_id=request.id, to_tenant_id=request.to_tenant_id,
            to_org_id=request.to_org_id, reason=request.reason, request_id=request.request_id)
        return desk_pb2.ReferTicketResponse(referral=referral_to_proto(row))

    async def AcceptReferral(self, request: desk_pb2.AcceptReferralRequest,
                             context: Context) -> desk_pb2.AcceptReferralResponse:
        """受理 another county's referral: the referral and the ticket opened for it."""
        row, ticket = await referral_service.accept_referral(
            deps=self._deps, principal=current_principal(), referral_id=request.referral_id,
            serving_org_id=request.serving_org_id)
        return desk_pb2.AcceptReferralResponse(referral=referral_to_proto(row),
                                               ticket=_ticket(ticket, serving_org_name=row.remote_org_name))

    async def DeclineReferral(self, request: desk_pb2.DeclineReferralRequest,
                              context: Context) -> desk_pb2.DeclineReferralResponse:
        """退回 another county's referral with a reason."""
        row = await referral_service.decline_referral(deps=self._deps, principal=current_principal(),
                                                      referral_id=request.referral_id, reason=request.reason)
        return desk_pb2.DeclineReferralResponse(referral=referral_to_proto(row))

    async def GetReferral(self, request: desk_pb2.GetReferralRequest,
                          context: Context) -> desk_pb2.GetReferralResponse:
        """One referral this county sent or received."""
        row = await referral_service.get_referral(deps=self._deps, principal=current_principal(),
                                                  referral_id=request.referral_id)
        return desk_pb2.GetReferralResponse(referral=referral_to_proto(row))

    async def ListReferrals(self, request: desk_pb2.ListReferralsRequest,
                            context: Context) -> desk_pb2.ListReferralsResponse:
        """A page of the referrals this county received or sent, and the count."""
        rows, total = await referral_service.list_referrals(
            deps=self._deps, principal=current_principal(), incoming=request.incoming,
            statuses=list(request.statuses), page=request.page, page_size=request.page_size)
        return desk_pb2.ListReferralsResponse(referrals=[referral_to_proto(r) for r in rows], total=total)
