"""TicketReplied in the desk's outbox: the office's answers to a member (a reply, a request for materials, the
resolution) are told to the member's home county; an internal note never is. Counties 650610–650619 (H2's)."""

from __future__ import annotations

from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.events.v1 import desk_events_pb2
from tests.integration.conftest import bearer
from tests.integration.desk.test_tickets import file_request, seed_guest

_REPLIED = "jinqiao.events.v1.TicketReplied"


async def _replies(conn, county: str, ticket_id: str) -> list[desk_events_pb2.TicketReplied]:
    rows = await conn.fetch("SELECT payload FROM outbox WHERE tenant_id = $1 AND event_type = $2 ORDER BY id",
                            county, _REPLIED)
    found = [desk_events_pb2.TicketReplied.FromString(r["payload"]) for r in rows]
    return [e for e in found if e.ticket_id == ticket_id]


async def test_each_answer_to_the_member_is_a_ticket_replied_and_an_internal_note_is_none(
        platform, county_token, admin_conn_factory):
    county, home = "650610", "650611"
    guest = await seed_guest(admin_conn_factory, county, origin=home)
    admin = bearer(county_token(county))
    desk = platform.desk_stub
    ticket = (await desk.CreateTicket(file_request(member_home_tenant_id=home, member_id=guest),
                                      metadata=admin)).ticket
    conn = await admin_conn_factory("desk")
    # Accepting without a message answers nobody; a note stays in the office.
    await desk.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id, message=""), metadata=admin)
    await desk.StartTicket(desk_pb2.StartTicketRequest(id=ticket.id), metadata=admin)
    await desk.AddTicketComment(desk_pb2.AddTicketCommentRequest(
        id=ticket.id, kind=tickets_pb2.COMMENT_KIND_NOTE, body="内部：已联系劳动监察大队"), metadata=admin)
    assert await _replies(conn, county, ticket.id) == []

    await desk.AddTicketComment(desk_pb2.AddTicketCommentRequest(
        id=ticket.id, kind=tickets_pb2.COMMENT_KIND_REPLY, body="已联系用人单位，请耐心等待"), metadata=admin)
    await desk.RequestTicketInfo(desk_pb2.RequestTicketInfoRequest(id=ticket.id, message="请补充工资欠条照片"),
                                 metadata=admin)
    await desk.ResumeTicket(desk_pb2.ResumeTicketRequest(id=ticket.id, note="材料已线下收到"), metadata=admin)
    await desk.ResolveTicket(desk_pb2.ResolveTicketRequest(id=ticket.id, resolution="经调解，已支付全部拖欠工资"),
                             metadata=admin)

    replies = await _replies(conn, county, ticket.id)
    assert [e.kind for e in replies] == ["COMMENT", "INFO_REQUESTED", "RESOLVED"]
    first = replies[0]
    assert (first.member_id, first.member_home_tenant_id, first.category, first.title) == (
        guest, home, "legal_wages", ticket.title)
    # The reply's text never travels in the event (the member reads it in the ticket).
    assert all("请补充" not in e.title and "调解" not in e.title for e in replies)


async def test_an_acceptance_with_a_message_tells_the_member(platform, county_token, admin_conn_factory):
    county, home = "650612", "650613"
    guest = await seed_guest(admin_conn_factory, county, origin=home)
    admin = bearer(county_token(county))
    ticket = (await platform.desk_stub.CreateTicket(file_request(member_home_tenant_id=home, member_id=guest),
                                                    metadata=admin)).ticket
    await platform.desk_stub.AcceptTicket(desk_pb2.AcceptTicketRequest(id=ticket.id, message="已受理，律师将联系您"),
                                          metadata=admin)
    replies = await _replies(await admin_conn_factory("desk"), county, ticket.id)
    assert [(e.kind, e.member_id) for e in replies] == [("COMMENT", guest)]
