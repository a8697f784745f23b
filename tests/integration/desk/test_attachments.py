"""Attachments on real PostgreSQL through the gateway: JPEG/PNG/PDF by content only, 5 MB and 10 per ticket, sealed
at rest, and only on tickets the caller reaches (a member: their own)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote

import grpc
import pytest

from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.kit.auth import Role
from tests.integration.conftest import bearer
from tests.integration.desk.test_queues import add_station, add_ticket
from tests.support import field_violations

COUNTY = "650435"
LIMITS = "650436"
OTHER = "650437"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      + b"\x00" * 32 + b"IEND\xaeB`\x82"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex, **extra}


def url(county: str, ticket_id: str, attachment_id: str = "") -> str:
    base = f"/api/v1/tenants/{county}/tickets/{ticket_id}/attachments"
    return f"{base}/{attachment_id}" if attachment_id else base


async def upload(http: Any, token: str, county: str, ticket_id: str, content: bytes, content_type: str,
                 name: str = "") -> Any:
    headers = auth(token, **{"Content-Type": content_type})
    if name:
        headers["X-File-Name"] = "UTF-8''" + quote(name, safe="")
    return await http.post(url(county, ticket_id), content=content, headers=headers)


def fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


@pytest.fixture(scope="module")
async def conn(admin_conn_factory: Any) -> Any:
    return await admin_conn_factory("desk")


@pytest.fixture(scope="module")
async def place(conn: Any) -> dict[str, str]:
    station, elsewhere = await add_station(conn, COUNTY), await add_station(conn, COUNTY)
    ticket = await add_ticket(conn, COUNTY, serving_org_id=station)
    return {"station": station, "elsewhere": elsewhere, "ticket": ticket}


def staff_token(issuer: Any, county: str, org: str, user: str = "att-staff") -> str:
    return issuer.issue(user=user, role=Role.STATION_STAFF, scope=county, org=org)[0]


async def test_a_png_and_a_pdf_are_accepted_sealed_at_rest_and_come_back_whole(platform, conn, issuer, place):
    token = staff_token(issuer, COUNTY, place["station"])
    png = await upload(platform.http, token, COUNTY, place["ticket"], PNG, "image/png", "工资条/../欠薪证据.png")
    assert png.status_code == 201, png.text
    body = png.json()
    assert (body["filename"], body["content_type"], body["size_bytes"], body["sha256"]) == (
        "欠薪证据.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())
    assert png.headers["location"].endswith(f"/attachments/{body['id']}")
    pdf = await upload(platform.http, token, COUNTY, place["ticket"], PDF, "application/pdf", "劳动合同.pdf")
    assert pdf.status_code == 201, pdf.text

    got = await platform.http.get(url(COUNTY, place["ticket"], body["id"]), headers=auth(token))
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''" + quote("欠薪证据.png", safe="")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in got.headers["cache-control"]

    stored = await conn.fetchrow("SELECT content_enc, uploaded_by FROM ticket_attachments WHERE tenant_id = $1"
                                 " AND id = $2", COUNTY, body["id"])
    assert PNG not in bytes(stored["content_enc"]) and b"IHDR" not in bytes(stored["content_enc"])
    assert stored["uploaded_by"] == "att-staff"
    history = await conn.fetch("SELECT body FROM ticket_history WHERE tenant_id = $1 AND ticket_id = $2"
                               " AND action = 'attachment' ORDER BY at", COUNTY, place["ticket"])
    assert [h["body"] for h in history][:2] == ["欠薪证据.png", "劳动合同.pdf"]
    ticket = await platform.desk_stub.GetTicket(pb.GetTicketRequest(id=place["ticket"]), metadata=bearer(token))
    assert ticket.ticket.attachment_count >= 2


async def test_a_renamed_program_or_web_page_is_refused_naming_the_field(platform, issuer, place):
    token = staff_token(issuer, COUNTY, place["station"])
    exe = await upload(platform.http, token, COUNTY, place["ticket"], EXE, "image/png", "照片.png")
    assert exe.status_code == 422 and fields(exe) == {"content"}
    assert "仅支持 JPG、PNG、PDF 文件" in exe.text
    html = await upload(platform.http, token, COUNTY, place["ticket"], HTML, "text/html", "a.html")
    assert html.status_code == 422 and fields(html) == {"content"}
    disagreeing = await upload(platform.http, token, COUNTY, place["ticket"], PNG, "application/pdf", "a.pdf")
    assert disagreeing.status_code == 422 and fields(disagreeing) == {"content_type"}
    empty = await upload(platform.http, token, COUNTY, place["ticket"], b"", "image/png")
    assert empty.status_code == 422 and fields(empty) == {"content"}


async def test_a_file_over_five_megabytes_is_refused_with_413(platform, issuer, place):
    token = staff_token(issuer, COUNTY, place["station"])
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    response = await upload(platform.http, token, COUNTY, place["ticket"], big, "image/png", "大.png")
    assert response.status_code == 413
    assert "5 MB" in response.json()["detail"]


async def test_the_eleventh_file_and_a_file_on_a_closed_ticket_are_refused(platform, conn, issuer):
    station = await add_station(conn, LIMITS)
    ticket = await add_ticket(conn, LIMITS, serving_org_id=station)
    token = staff_token(issuer, LIMITS, station)
    for n in range(10):
        ok = await upload(platform.http, token, LIMITS, ticket, PNG, "image/png", f"第{n + 1}张.png")
        assert ok.status_code == 201, ok.text
    eleventh = await upload(platform.http, token, LIMITS, ticket, PNG, "image/png", "第11张.png")
    assert eleventh.status_code == 409
    assert "最多 10 个附件" in eleventh.json()["detail"]
    closed = await add_ticket(conn, LIMITS, serving_org_id=station, status=7)
    refused = await upload(platform.http, token, LIMITS, closed, PNG, "image/png")
    assert refused.status_code == 409


async def test_a_foreign_countys_ticket_or_a_station_outside_its_queue_finds_nothing(platform, conn, issuer,
                                                                                    county_token, place):
    token = staff_token(issuer, COUNTY, place["station"])
    added = (await upload(platform.http, token, COUNTY, place["ticket"], PNG, "image/png")).json()
    # Another county: its own token acting on its own tenant names a ticket it does not hold.
    foreign = county_token(OTHER)
    assert (await upload(platform.http, foreign, OTHER, place["ticket"], PNG, "image/png")).status_code == 404
    assert (await platform.http.get(url(OTHER, place["ticket"], added["id"]),
                                    headers=auth(foreign))).status_code == 404
    # Another station of the same county: the ticket is not in its queue.
    outside = staff_token(issuer, COUNTY, place["elsewhere"], user="att-other")
    assert (await upload(platform.http, outside, COUNTY, place["ticket"], PNG, "image/png")).status_code == 404
    assert (await platform.http.get(url(COUNTY, place["ticket"], added["id"]),
                                    headers=auth(outside))).status_code == 404
    # An attachment id under another ticket is no attachment of this one.
    other_ticket = await add_ticket(conn, COUNTY, serving_org_id=place["station"])
    assert (await platform.http.get(url(COUNTY, other_ticket, added["id"]), headers=auth(token))).status_code == 404


async def test_a_member_attaches_to_their_own_ticket_and_not_to_anothers(platform, conn, issuer, place):
    member, someone = str(uuid.uuid4()), str(uuid.uuid4())
    own = await add_ticket(conn, COUNTY, serving_org_id=place["station"], member_id=member)
    theirs = await add_ticket(conn, COUNTY, serving_org_id=place["station"], member_id=someone)
    token = issuer.issue(user=f"m-{member[:8]}", role=Role.MEMBER, scope=COUNTY, member=member)[0]
    added = await upload(platform.http, token, COUNTY, own, PDF, "application/pdf", "病历.pdf")
    assert added.status_code == 201, added.text
    got = await platform.http.get(url(COUNTY, own, added.json()["id"]), headers=auth(token))
    assert got.status_code == 200 and got.content == PDF
    assert (await upload(platform.http, token, COUNTY, theirs, PDF, "application/pdf")).status_code == 404
    actor = await conn.fetchval("SELECT actor FROM ticket_history WHERE tenant_id = $1 AND ticket_id = $2"
                                " AND action = 'attachment'", COUNTY, own)
    assert actor == "member"


async def test_the_grpc_call_refuses_bad_files_naming_the_field(platform, county_token, place):
    md = bearer(county_token(COUNTY))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AddTicketAttachment(pb.AddTicketAttachmentRequest(
            ticket_id=place["ticket"], filename="x.png", content_type="image/png", content=EXE), metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == {"content": "仅支持 JPG、PNG、PDF 文件"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.desk_stub.AddTicketAttachment(pb.AddTicketAttachmentRequest(
            ticket_id=place["ticket"], content_type="image/png", content=PNG + b"\x00" * (5 * 1024 * 1024)),
            metadata=md)
    assert "content" in field_violations(err.value)


# Above gRPC's default 4 MiB: the gateway's channels accept what a server accepts (kit/channels.py).
async def test_a_file_of_almost_five_megabytes_goes_in_and_comes_back_whole(platform, conn, issuer):
    station = await add_station(conn, LIMITS)
    ticket = await add_ticket(conn, LIMITS, serving_org_id=station)
    token = staff_token(issuer, LIMITS, station, user="att-big")
    content = PDF + bytes(range(256)) * ((5 * 1024 * 1024 - len(PDF)) // 256)
    added = await upload(platform.http, token, LIMITS, ticket, content, "application/pdf", "扫描件.pdf")
    assert added.status_code == 201, added.text
    got = await platform.http.get(url(LIMITS, ticket, added.json()["id"]), headers=auth(token))
    assert got.status_code == 200, got.text[:300]
    assert hashlib.sha256(got.content).hexdigest() == added.json()["sha256"]


async def test_a_member_files_through_the_desk_attaches_a_photo_and_the_ticket_counts_it(platform, conn, issuer):
    member = str(uuid.uuid4())
    await conn.execute("INSERT INTO desk_members (tenant_id, id, name) VALUES ($1, $2, '李四')", LIMITS, member)
    md = bearer(issuer.issue(user=f"m-{member[:8]}", role=Role.MEMBER, scope=LIMITS, member=member)[0])
    filed = (await platform.desk_stub.CreateTicket(pb.CreateTicketRequest(
        category="other", title="孩子在务工地入学需要哪些材料"), metadata=md)).ticket
    token = issuer.issue(user=f"m-{member[:8]}", role=Role.MEMBER, scope=LIMITS, member=member)[0]

    added = await upload(platform.http, token, LIMITS, filed.id, PNG, "image/png", "户口本.png")

    assert added.status_code == 201, added.text
    ticket = (await platform.desk_stub.GetTicket(pb.GetTicketRequest(id=filed.id), metadata=md)).ticket
    assert ticket.attachment_count == 1
    history = (await platform.desk_stub.ListTicketHistory(pb.ListTicketHistoryRequest(id=filed.id),
                                                          metadata=md)).entries
    assert [(e.action, e.body) for e in history if e.action == "attachment"] == [("attachment", "户口本.png")]
