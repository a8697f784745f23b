"""Service desk routes: a ticket's attachments — upload (the raw file as the body, no multipart) and download.

The list of a ticket's files comes with its history (the tickets routes); these two routes carry the files.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from jinqiao.desk.v1 import desk_pb2 as pb
from jinqiao.gateway import problems
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.routes.desk.wire import AttachmentOut
from jinqiao.gateway.wire import read_body

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["tickets"])

# The desk's own limit; the body limit of the route (gateway/security.py BODY_LIMITS) sits a little above it, so
# the message callers see is this route's.
MAX_FILE_BYTES = 5 * 1024 * 1024
_MEDIA = ("image/jpeg", "image/png", "application/pdf")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
# The OpenAPI shape of an upload (the raw file as the body, its name in X-File-Name) and of a download: shared by
# every route that carries the desk's files (tickets' and loan applications').
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {413: {"description": "文件超过 5 MB"},
                                                     422: {"description": "文件类型或内容不符"}}
UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {"required": True, "content": dict.fromkeys(_MEDIA, _BINARY)},
    "parameters": [{"name": "X-File-Name", "in": "header", "required": False,
                    "description": "文件名（RFC 5987 或百分号编码的 UTF-8）",
                    "schema": {"type": "string", "maxLength": 600}}],
}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": dict.fromkeys(_MEDIA, _BINARY),
                                                             "description": "文件内容"}}
_UPLOAD_DOC = (
    "上传附件：请求体就是文件本身（不用 multipart），Content-Type 写文件类型（image/jpeg、image/png、"
    "application/pdf；以文件内容为准，类型不符则拒绝）。文件名放在 X-File-Name 请求头，按 RFC 5987 写成 "
    "UTF-8''%E5%B7%A5%E8%B5%84%E6%9D%A1.jpg，或直接百分号编码的 UTF-8（如 %E5%B7%A5%E8%B5%84%E6%9D%A1.jpg）；"
    "不填则为“附件”。文件不能超过 5 MB（超过返回 413），每个工单最多 10 个附件。"
)


async def read_upload(request: Request) -> bytes | Response:
    """The uploaded file, or the 413 problem when it is larger than the desk takes."""
    content = await read_body(request, limit=MAX_FILE_BYTES)
    if content is None:
        return problems.problem(413, "文件太大", "附件不能超过 5 MB，请压缩后再上传")
    return content


def file_name(header: str) -> str:
    """The file name from ``X-File-Name``: RFC 5987 (``UTF-8''…``) or plain percent-encoded UTF-8."""
    value = header.strip()
    charset, sep, rest = value.partition("''")
    if sep and charset.lower() in ("utf-8", "utf8"):
        value = rest
    # errors="replace": a name that is no valid UTF-8 still names the file; the desk cleans it.
    return unquote(value, encoding="utf-8", errors="replace")


@router.post("/tickets/{ticket_id}/attachments", status_code=201, response_model=AttachmentOut,
             description=_UPLOAD_DOC,
             responses=UPLOAD_RESPONSES, openapi_extra=UPLOAD_OPENAPI)
async def add_attachment(
    tenant: TenantDep, ticket_id: str, request: Request, who: CallerDep, gw: GatewayDep,
    content_type: Annotated[str, Header(max_length=200)] = "",
    x_file_name: Annotated[str, Header(max_length=600, include_in_schema=False)] = "",
) -> Response:
    """上传附件: attach a JPG, PNG or PDF (at most 5 MB) to a ticket."""
    content = await read_upload(request)
    if isinstance(content, Response):
        return content
    reply = await gw.clients.desk.AddTicketAttachment(
        pb.AddTicketAttachmentRequest(ticket_id=ticket_id, filename=file_name(x_file_name),
                                      content_type=content_type, content=content),
        metadata=who.metadata, timeout=gw.clients.timeout)
    added = AttachmentOut.from_proto(reply.attachment)
    return JSONResponse(added.model_dump(mode="json"), status_code=201, headers={
        "Location": f"/api/v1/tenants/{tenant}/tickets/{added.ticket_id}/attachments/{added.id}"})


@router.get("/tickets/{ticket_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(tenant: TenantDep, ticket_id: str, who: CallerDep, gw: GatewayDep) -> list[AttachmentOut]:
    """附件列表: a ticket's files (name, type, size, who uploaded them, when), oldest first."""
    reply = await gw.clients.desk.ListTicketAttachments(pb.ListTicketAttachmentsRequest(ticket_id=ticket_id),
                                                        metadata=who.metadata, timeout=gw.clients.timeout)
    return [AttachmentOut.from_proto(a) for a in reply.attachments]


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}",
            responses=DOWNLOAD_RESPONSES)
async def get_attachment(tenant: TenantDep, ticket_id: str, attachment_id: str, who: CallerDep,
                         gw: GatewayDep) -> Response:
    """下载附件: the file as stored, offered as a download (never rendered in the console's origin)."""
    reply = await gw.clients.desk.GetTicketAttachment(
        pb.GetTicketAttachmentRequest(ticket_id=ticket_id, attachment_id=attachment_id),
        metadata=who.metadata, timeout=gw.clients.timeout)
    meta = reply.attachment
    return Response(reply.content, media_type=meta.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.filename, safe='')}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
