"""The inbox on real PostgreSQL through gRPC: in-app deliveries addressed to the caller (a member's own; a login's
own and its office's seat), read and archived per viewer, newest first, and nothing of another person or county."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.support import field_violations

COUNTY = "650650"
OTHER = "650651"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def conn(admin_conn_factory: Any) -> Any:
    return await admin_conn_factory("notifications")


async def add_item(conn: Any, county: str, recipient: str, *, category: str = "flow", urgent: bool = False,
                   at: datetime | None = None, escalation_id: str | None = None, level: int = 0,
                   subject: str = "消息") -> str:
    """An in-app delivery row as deliveries.notify writes one (DELIVERED at once)."""
    item = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO deliveries (tenant_id, id, idempotency_key, source_key, kind, category, urgent, channel,"
        " recipient, subject, body, link, escalation_id, level, status, created_at)"
        " VALUES ($1, $2, $3, $4, 'check_in_done', $5, $6, 1, $7, $8, '正文', '/flows/x', $9, $10, 3, $11)",
        county, item, f"test:{item}", f"test:{item}", category, urgent, recipient, subject, escalation_id, level,
        at or T0)
    return item


def officer(issuer: Any, org: str, county: str = COUNTY) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user=f"inbox-{uuid.uuid4().hex[:8]}", role=Role.TOWNSHIP_OFFICER, scope=county,
                               org=org)[0])


def member(issuer: Any, member_id: str, county: str = COUNTY) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user=f"m-{member_id[:8]}", role=Role.MEMBER, scope=county, member=member_id)[0])


async def test_a_seat_item_is_read_per_login(platform: Any, issuer: Any, conn: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    first, second = officer(issuer, org), officer(issuer, org)
    item = await add_item(conn, COUNTY, f"seat:township_officer:{org}", urgent=True, category="overdue")

    seen = await stub.ListInbox(pb.ListInboxRequest(), metadata=first)
    assert [i.id for i in seen.items] == [item] and seen.unread_count == 1
    assert seen.items[0].category_label == "报到逾期预警" and seen.items[0].urgent and not seen.items[0].read_at

    marked = await stub.MarkInboxRead(pb.MarkInboxReadRequest(ids=[item], read=True), metadata=first)
    assert (marked.changed, marked.unread_count) == (1, 0)
    again = await stub.MarkInboxRead(pb.MarkInboxReadRequest(ids=[item], read=True), metadata=first)
    assert again.changed == 0

    mine = await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=first)
    theirs = await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=second)
    assert (mine.unread_count, mine.urgent_unread_count) == (0, 0)
    assert (theirs.unread_count, theirs.urgent_unread_count, theirs.latest_id) == (1, 1, item)
    unread = await stub.ListInbox(pb.ListInboxRequest(filter="unread"), metadata=second)
    assert [i.id for i in unread.items] == [item]
    assert (await stub.ListInbox(pb.ListInboxRequest(filter="unread"), metadata=first)).items == []

    back = await stub.MarkInboxRead(pb.MarkInboxReadRequest(ids=[item], read=False), metadata=first)
    assert (back.changed, back.unread_count) == (1, 1)


async def test_a_member_sees_only_their_own_items(platform: Any, issuer: Any, conn: Any) -> None:
    stub = platform.notifications_stub
    me, someone = str(uuid.uuid4()), str(uuid.uuid4())
    mine = await add_item(conn, COUNTY, f"member:{me}")
    theirs = await add_item(conn, COUNTY, f"member:{someone}")
    await add_item(conn, COUNTY, "seat:township_officer:" + str(uuid.uuid4()))

    listed = await stub.ListInbox(pb.ListInboxRequest(), metadata=member(issuer, me))
    assert [i.id for i in listed.items] == [mine]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.MarkInboxRead(pb.MarkInboxReadRequest(ids=[mine, theirs], read=True), metadata=member(issuer, me))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    # Refused as a whole: the caller's own item stayed unread too.
    assert (await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=member(issuer, me))).unread_count == 1


async def test_another_countys_item_is_not_found(platform: Any, issuer: Any, conn: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    # The same office in another county: a row there is absent from here, whatever the address says.
    foreign = await add_item(conn, OTHER, f"seat:township_officer:{org}")
    here = officer(issuer, org)
    assert (await stub.ListInbox(pb.ListInboxRequest(), metadata=here)).items == []
    for call in (stub.MarkInboxRead(pb.MarkInboxReadRequest(ids=[foreign], read=True), metadata=here),
                 stub.ArchiveInboxItems(pb.ArchiveInboxItemsRequest(ids=[foreign], archived=True), metadata=here)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    there = officer(issuer, org, county=OTHER)
    assert (await stub.ListInbox(pb.ListInboxRequest(), metadata=there)).items[0].id == foreign


@pytest.mark.parametrize("request_,field", [
    (pb.ListInboxRequest(filter="junk"), "filter"),
    (pb.ListInboxRequest(category="gossip"), "category"),
    (pb.ListInboxRequest(page_token="not-a-token"), "page_token"),
    (pb.MarkInboxReadRequest(ids=["nope"], read=True), "ids"),
    (pb.MarkInboxReadRequest(read=True), "ids"),
    (pb.MarkInboxReadRequest(ids=[str(uuid.uuid4()) for _ in range(501)], read=True), "ids"),
    (pb.ArchiveInboxItemsRequest(archived=True), "ids"),
])
async def test_bad_input_is_invalid_argument_naming_the_field(platform: Any, issuer: Any, request_: Any,
                                                              field: str) -> None:
    stub, caller = platform.notifications_stub, officer(issuer, str(uuid.uuid4()))
    method = {pb.ListInboxRequest: stub.ListInbox, pb.MarkInboxReadRequest: stub.MarkInboxRead,
              pb.ArchiveInboxItemsRequest: stub.ArchiveInboxItems}[type(request_)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await method(request_, metadata=caller)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(err.value)


async def test_pages_newest_first_with_archive_and_category_filters(platform: Any, issuer: Any, conn: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    caller = officer(issuer, org)
    seat = f"seat:township_officer:{org}"
    items = [await add_item(conn, COUNTY, seat, at=T0 + timedelta(minutes=i),
                            category="meeting" if i % 2 else "flow") for i in range(5)]
    newest_first = list(reversed(items))

    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListInbox(pb.ListInboxRequest(page_size=2, page_token=token), metadata=caller)
        seen += [i.id for i in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == newest_first

    archived = await stub.ArchiveInboxItems(pb.ArchiveInboxItemsRequest(ids=[items[4]], archived=True),
                                            metadata=caller)
    assert (archived.changed, archived.unread_count) == (1, 4)
    assert [i.id for i in (await stub.ListInbox(pb.ListInboxRequest(), metadata=caller)).items] == newest_first[1:]
    archive = await stub.ListInbox(pb.ListInboxRequest(filter="archived"), metadata=caller)
    assert [i.id for i in archive.items] == [items[4]] and archive.items[0].archived
    meetings = await stub.ListInbox(pb.ListInboxRequest(category="meeting"), metadata=caller)
    assert [i.id for i in meetings.items] == [items[3], items[1]]

    everything = await stub.MarkInboxRead(pb.MarkInboxReadRequest(all=True, read=True), metadata=caller)
    assert (everything.changed, everything.unread_count) == (4, 0)
    restored = await stub.ArchiveInboxItems(pb.ArchiveInboxItemsRequest(ids=[items[4]], archived=False),
                                            metadata=caller)
    assert restored.unread_count == 1  # the archived one was never read
    summary = await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=caller)
    assert (summary.unread_count, summary.latest_id) == (1, items[4])
    assert datetime.fromisoformat(summary.latest_at) == T0 + timedelta(minutes=4)


async def test_an_escalation_item_tells_its_level_and_whether_acknowledged(platform: Any, issuer: Any,
                                                                           conn: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    caller = officer(issuer, org)
    seat = f"seat:township_officer:{org}"
    items = {}
    for state in (1, 2):
        escalation = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO escalations (tenant_id, id, kind, subject_type, subject_id, state, level, opened_at)"
            " VALUES ($1, $2, 'check_in_overdue', 'flow', $3, $4, 2, $5)", COUNTY, escalation, str(uuid.uuid4()),
            state, T0)
        items[state] = (await add_item(conn, COUNTY, seat, category="overdue", urgent=True,
                                       escalation_id=escalation, level=2), escalation)
    listed = {i.id: i for i in (await stub.ListInbox(pb.ListInboxRequest(), metadata=caller)).items}
    open_item, acknowledged_item = listed[items[1][0]], listed[items[2][0]]
    assert (open_item.escalation_id, open_item.level, open_item.acknowledged) == (items[1][1], 2, False)
    assert (acknowledged_item.escalation_id, acknowledged_item.acknowledged) == (items[2][1], True)
