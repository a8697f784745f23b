"""Attachments' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk.attachments import service
from jinqiao.desk.attachments.models import AttachmentRow
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.desk.v1 import tickets_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def attachment_to_proto(row: AttachmentRow) -> tickets_pb2.Attachment:
    """A file's meta on the wire."""
    message = tickets_pb2.Attachment(id=row.id, ticket_id=row.ticket_id, filename=row.filename,
                                     content_type=row.content_type, size_bytes=row.size_bytes,
                                     uploaded_by=row.uploaded_by, sha256=row.sha256)
    message.create_time.FromDatetime(row.created_at)
    return message


class AttachmentsApi:
    """Attachments' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def AddTicketAttachment(self, request: pb.AddTicketAttachmentRequest,
                                  context: Context) -> pb.AddTicketAttachmentResponse:
        """Attach a file (JPEG, PNG or PDF, at most 5 MiB, 10 per ticket)."""
        row = await service.add_attachment(deps=self._deps, principal=current_principal(),
                                           ticket_id=request.ticket_id, filename=request.filename,
                                           content_type=request.content_type, content=request.content)
        return pb.AddTicketAttachmentResponse(attachment=attachment_to_proto(row))

    async def ListTicketAttachments(self, request: pb.ListTicketAttachmentsRequest,
                                    context: Context) -> pb.ListTicketAttachmentsResponse:
        """A ticket's files, oldest first."""
        rows = await service.list_attachments(deps=self._deps, principal=current_principal(),
                                              ticket_id=request.ticket_id)
        return pb.ListTicketAttachmentsResponse(attachments=[attachment_to_proto(r) for r in rows])

    async def GetTicketAttachment(self, request: pb.GetTicketAttachmentRequest,
                                  context: Context) -> pb.GetTicketAttachmentResponse:
        """A file's meta and content."""
        row, content = await service.get_attachment(deps=self._deps, principal=current_principal(),
                                                    ticket_id=request.ticket_id,
                                                    attachment_id=request.attachment_id)
        return pb.GetTicketAttachmentResponse(attachment=attachment_to_proto(row), content=content)
