"""Queues' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.queues import service
from jinqiao.desk.queues.models import DutyRow
from jinqiao.desk.queues.service import QueueView
from jinqiao.desk.tickets.api import ticket_to_proto
from jinqiao.desk.tickets.domain import COUNTY_QUEUE
from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.desk.v1 import tickets_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def queue_to_proto(view: QueueView) -> tickets_pb2.Queue:
    """A queue with its counts on the wire (org_id empty for the county department's queue)."""
    return tickets_pb2.Queue(org_id=view.org_id or "", name=view.name, open=view.counts.open,
                             unassigned=view.counts.unassigned, warned=view.counts.warned,
                             breached=view.counts.breached, on_duty=view.on_duty)


def duty_to_proto(row: DutyRow) -> tickets_pb2.DutyEntry:
    """One roster entry on the wire."""
    entry = tickets_pb2.DutyEntry(queue_org_id="" if row.queue == COUNTY_QUEUE else row.queue, user=row.user_name,
                                  display_name=row.display_name, on_duty=row.on_duty,
                                  open_assigned=row.open_assigned)
    entry.since.FromDatetime(row.since)
    if row.last_assigned_at is not None:
        entry.last_assigned_time.FromDatetime(row.last_assigned_at)
    return entry


class QueuesApi:
    """Queues' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def ListQueues(self, request: pb.ListQueuesRequest, context: Context) -> pb.ListQueuesResponse:
        """The queues within the caller's reach with their counts."""
        views = await service.list_queues(deps=self._deps, principal=current_principal())
        return pb.ListQueuesResponse(queues=[queue_to_proto(v) for v in views])

    async def SetDuty(self, request: pb.SetDutyRequest, context: Context) -> pb.SetDutyResponse:
        """Put the caller on or off duty in a queue."""
        row = await service.set_duty(deps=self._deps, principal=current_principal(), queue=request.queue,
                                     on_duty=request.on_duty, display_name=request.display_name)
        return pb.SetDutyResponse(entry=duty_to_proto(row))

    async def ListDuty(self, request: pb.ListDutyRequest, context: Context) -> pb.ListDutyResponse:
        """A queue's roster with each person's open assigned tickets."""
        rows = await service.list_duty(deps=self._deps, principal=current_principal(), queue=request.queue)
        return pb.ListDutyResponse(entries=[duty_to_proto(r) for r in rows])

    async def AssignTicket(self, request: pb.AssignTicketRequest, context: Context) -> pb.AssignTicketResponse:
        """Assign a ticket by hand or round robin."""
        principal = current_principal()
        done = await service.assign_ticket(deps=self._deps, principal=principal, ticket_id=request.id,
                                           assignee=request.assignee, round_robin=request.round_robin,
                                           version=request.version)
        return pb.AssignTicketResponse(ticket=ticket_to_proto(done.row, serving_org_name=done.serving_org_name,
                                                              attachment_count=done.attachment_count))
