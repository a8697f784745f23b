"""The inbox's use cases: list, the bell, read and archive, each over the caller's own addresses in their county.

A seat's message is one row for the office, but read and archived per viewer (``inbox_marks``): one township officer
reading it leaves it unread for the next. An id outside the caller's inbox (another county's, another person's)
looks absent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from jinqiao.kit import pagination
from jinqiao.kit.auth import Principal
from jinqiao.kit.errors import InvalidArgument, NotFound
from jinqiao.kit.usecases import require_tenant
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.inbox import repo
from jinqiao.notifications.inbox.domain import addresses_of
from jinqiao.notifications.inbox.models import InboxItemRow, InboxSummary
from jinqiao.notifications.preferences.domain import Category
from jinqiao.notifications.preferences.service import own_address

FILTERS = ("", "unread", "archived")
# One request marks at most this many ids (the console's "all" goes by ``all``, not by ids).
MAX_IDS = 500
NOT_FOUND = "未找到该消息"


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox and the caller's unread count."""

    items: list[InboxItemRow]
    next_page_token: str
    unread: int


def _who(principal: Principal) -> tuple[str, tuple[str, ...], str]:
    """The county, the addresses whose rows the caller sees, and the viewer their marks are kept under."""
    tenant = require_tenant(principal)
    viewer = own_address(principal)
    addresses = addresses_of(principal)
    if not addresses:
        raise NotFound("未找到")
    return tenant, addresses, viewer


def _ids(ids: Sequence[str]) -> list[str]:
    """The ids in canonical form, de-duplicated, or InvalidArgument naming ``ids``."""
    if len(ids) > MAX_IDS:
        raise InvalidArgument.field("ids", f"一次最多处理{MAX_IDS}条消息")
    canonical: dict[str, None] = {}
    for value in ids:
        try:
            canonical[str(uuid.UUID(value))] = None
        except (ValueError, TypeError, AttributeError):
            raise InvalidArgument.field("ids", "消息编号格式无效") from None
    return list(canonical)


async def list_inbox(*, deps: NotificationsDeps, principal: Principal, filter: str, category: str, page_size: int,
                     page_token: str) -> InboxPage:
    """The caller's inbox newest first under a filter ("", "unread", "archived") and an optional category."""
    if filter not in FILTERS:
        raise InvalidArgument.field("filter", "筛选条件无效：应为 unread（未读）、archived（已归档）或留空")
    if category and category not in Category._value2member_map_:
        raise InvalidArgument.field("category", "未知的消息类别")
    size = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    tenant, addresses, viewer = _who(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rows = await repo.page(uow, addresses=addresses, viewer=viewer, filter=filter, category=category,
                               after=after, limit=size + 1)
        bell = await repo.summary(uow, addresses=addresses, viewer=viewer)
    token = pagination.encode_cursor(rows[size - 1].created_at, rows[size - 1].id) if len(rows) > size else ""
    return InboxPage(items=rows[:size], next_page_token=token, unread=bell.unread)


async def summary(*, deps: NotificationsDeps, principal: Principal) -> InboxSummary:
    """The caller's bell: unread, urgent unread and the newest item."""
    tenant, addresses, viewer = _who(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await repo.summary(uow, addresses=addresses, viewer=viewer)


async def mark_read(*, deps: NotificationsDeps, principal: Principal, ids: Sequence[str], all: bool,
                    read: bool) -> tuple[int, int]:
    """Mark items (or the whole inbox) read or unread for the caller; (changed, unread now)."""
    wanted = _ids(ids)
    if not wanted and not all:
        raise InvalidArgument.field("ids", "请选择要标记的消息")
    tenant, addresses, viewer = _who(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if all:
            wanted = await repo.all_ids(uow, addresses=addresses, viewer=viewer, filter="unread" if read else "")
        elif await repo.mine(uow, addresses=addresses, ids=wanted) != set(wanted):
            raise NotFound(NOT_FOUND)
        changed = await repo.set_read(uow, viewer=viewer, ids=wanted, read=read, at=deps.clock())
        bell = await repo.summary(uow, addresses=addresses, viewer=viewer)
        await uow.commit()
    return changed, bell.unread


async def archive(*, deps: NotificationsDeps, principal: Principal, ids: Sequence[str],
                  archived: bool) -> tuple[int, int]:
    """Archive items (or take them out of the archive) for the caller; (changed, unread now)."""
    wanted = _ids(ids)
    if not wanted:
        raise InvalidArgument.field("ids", "请选择要归档的消息")
    tenant, addresses, viewer = _who(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if await repo.mine(uow, addresses=addresses, ids=wanted) != set(wanted):
            raise NotFound(NOT_FOUND)
        changed = await repo.set_archived(uow, viewer=viewer, ids=wanted, archived=archived, at=deps.clock())
        bell = await repo.summary(uow, addresses=addresses, viewer=viewer)
        await uow.commit()
    return changed, bell.unread
