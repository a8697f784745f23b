"""The inbox's RPCs: thin, one use-case call each."""

from __future__ import annotations

from datetime import UTC, datetime

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.inbox import service as inbox
from jinqiao.notifications.inbox.models import InboxItemRow
from jinqiao.notifications.preferences.domain import CATEGORY_LABELS, Category
from jinqiao.notifications.v1 import notifications_pb2 as pb


def _at(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def item_to_proto(row: InboxItemRow) -> pb.InboxItem:
    """The wire form of one inbox item as its viewer sees it."""
    label = CATEGORY_LABELS.get(Category(row.category), "") if row.category in Category._value2member_map_ else ""
    return pb.InboxItem(id=row.id, kind=row.kind, category=row.category, category_label=label, urgent=row.urgent,
                        subject=row.subject, body=row.body, link=row.link, created_at=_at(row.created_at),
                        read_at=_at(row.read_at), archived=row.archived_at is not None,
                        escalation_id=row.escalation_id, acknowledged=row.acknowledged, level=row.level)


class InboxApi:
    """The inbox RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def ListInbox(self, request: pb.ListInboxRequest, context: Context) -> pb.ListInboxResponse:
        """The caller's inbox, newest first."""
        page = await inbox.list_inbox(deps=self._deps, principal=current_principal(), filter=request.filter,
                                      category=request.category, page_size=request.page_size,
                                      page_token=request.page_token)
        return pb.ListInboxResponse(items=[item_to_proto(r) for r in page.items],
                                    next_page_token=page.next_page_token, unread_count=page.unread)

    async def GetInboxSummary(self, request: pb.GetInboxSummaryRequest,
                              context: Context) -> pb.GetInboxSummaryResponse:
        """The caller's bell."""
        bell = await inbox.summary(deps=self._deps, principal=current_principal())
        return pb.GetInboxSummaryResponse(unread_count=bell.unread, urgent_unread_count=bell.urgent_unread,
                                          latest_id=bell.latest_id, latest_at=_at(bell.latest_at))

    async def MarkInboxRead(self, request: pb.MarkInboxReadRequest, context: Context) -> pb.MarkInboxReadResponse:
        """Mark items (or all) read or unread."""
        changed, unread = await inbox.mark_read(deps=self._deps, principal=current_principal(), ids=request.ids,
                                                all=request.all, read=request.read)
        return pb.MarkInboxReadResponse(changed=changed, unread_count=unread)

    async def ArchiveInboxItems(self, request: pb.ArchiveInboxItemsRequest,
                                context: Context) -> pb.ArchiveInboxItemsResponse:
        """Archive items or take them out of the archive."""
        changed, unread = await inbox.archive(deps=self._deps, principal=current_principal(), ids=request.ids,
                                              archived=request.archived)
        return pb.ArchiveInboxItemsResponse(changed=changed, unread_count=unread)
