"""Attachment use cases: attach a file to a ticket (sealed with the PII keyring), fetch it back; and the per-ticket
counts the tickets concept shows."""

from __future__ import annotations

import uuid

from jinqiao.desk.attachments import repo
from jinqiao.desk.attachments.domain import MAX_PER_TICKET, check_file
from jinqiao.desk.attachments.models import CONTENT_BINDING, TICKET_ATTACHMENTS, AttachmentRow
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.tickets import service as tickets
from jinqiao.desk.tickets.domain import TicketStatus
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, NotFound
from jinqiao.kit.usecases import parse_id, record_act, require_tenant

_FINAL = frozenset({TicketStatus.REVIEWED, TicketStatus.CLOSED})


async def count_by_ticket(uow: UnitOfWork, ticket_ids: list[str]) -> dict[str, int]:
    """CONTRACT (for tickets.api's ``attachment_count``): files per ticket of ``uow.tenant``; a ticket without any
    is absent (read it with ``.get(id, 0)``)."""
    if not ticket_ids:
        return {}
    return await repo.counts(uow, ticket_ids=list(ticket_ids))


async def list_for_ticket(uow: UnitOfWork, *, ticket_id: str) -> list[AttachmentRow]:
    """A ticket's files (meta only), oldest first, for a caller who already reaches the ticket."""
    return await repo.list_for_ticket(uow, ticket_id=ticket_id)


async def list_attachments(*, deps: DeskDeps, principal: Principal, ticket_id: str) -> list[AttachmentRow]:
    """The files of a ticket the caller may read (meta only), oldest first."""
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await tickets.visible_ticket(uow, principal, parse_id(ticket_id, what="工单"),
                                           permission=Permission.TICKETS_READ)
        return await repo.list_for_ticket(uow, ticket_id=row.id)


def _binding(tenant: str, attachment_id: str) -> dict[str, str]:
    return {"tenant": tenant, "table": TICKET_ATTACHMENTS, "column": CONTENT_BINDING, "row": attachment_id}


async def add_attachment(*, deps: DeskDeps, principal: Principal, ticket_id: str, filename: str, content_type: str,
                         content: bytes) -> AttachmentRow:
    """Attach a JPEG, PNG or PDF (≤ 5 MiB, ≤ 10 per ticket) to a ticket the caller may follow up (a member: their
    own), unless it is closed or reviewed; the content is sealed bound to its row."""
    tenant = require_tenant(principal)
    tid = parse_id(ticket_id, what="工单")
    checked = check_file(filename=filename, declared_type=content_type, content=content)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        # Locked, so two uploads at once cannot both pass the per-ticket limit.
        ticket = await tickets.visible_ticket(uow, principal, tid, permission=Permission.TICKETS_FILE,
                                              for_update=True)
        if TicketStatus(ticket.status) in _FINAL:
            raise FailedPrecondition("工单已关闭或已回访，不能再添加附件")
        if await repo.count_for_ticket(uow, ticket_id=tid) >= MAX_PER_TICKET:
            raise FailedPrecondition(f"每个工单最多 {MAX_PER_TICKET} 个附件")
        row = AttachmentRow(id=str(uuid.uuid4()), ticket_id=tid, filename=checked.filename,
                            content_type=checked.content_type, size_bytes=checked.size_bytes, sha256=checked.sha256,
                            uploaded_by=principal.user, created_at=deps.clock())
        sealed = deps.cipher.encrypt_bytes(content, **_binding(tenant, row.id))
        await repo.insert(uow, row=row, content_enc=sealed)
        member = principal.role == Role.MEMBER
        await tickets.add_history(uow, ticket_id=tid, actor="member" if member else principal.user,
                                  actor_name=ticket.member_name if member else "", action="attachment",
                                  body=row.filename)
        await record_act(uow, principal, service=SERVICE, action="ticket.attachment_add", object_type="ticket",
                         object_id=tid)
        await uow.commit()
    return row


async def get_attachment(*, deps: DeskDeps, principal: Principal, ticket_id: str,
                         attachment_id: str) -> tuple[AttachmentRow, bytes]:
    """A file of a ticket the caller may read, with its clear content (the read is audited: it may carry PII)."""
    tenant = require_tenant(principal)
    tid = parse_id(ticket_id, what="工单")
    aid = parse_id(attachment_id, what="附件")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await tickets.visible_ticket(uow, principal, tid, permission=Permission.TICKETS_READ)
        found = await repo.get(uow, ticket_id=tid, attachment_id=aid)
        if found is None:
            raise NotFound("未找到附件")
        row, sealed = found
        content = deps.cipher.decrypt_bytes(sealed, **_binding(tenant, row.id))
        await record_act(uow, principal, service=SERVICE, action="ticket.attachment_read",
                         object_type="ticket_attachment", object_id=aid)
        await uow.commit()
    return row, content
