"""台账 imports of members: routes under ``/api/v1/tenants/{tenant}/…``.

The file is the raw request body (``text/csv`` or the XLSX media type), so no multipart parser is needed; the
registry reads, validates and imports it in the background and the console polls the import for progress.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal
from urllib.parse import quote

import grpc
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, Field

from jinqiao.gateway import problems
from jinqiao.gateway.deps import Caller, CallerDep, Gateway, GatewayDep, TenantDep
from jinqiao.gateway.idempotency import RequestIdDep
from jinqiao.gateway.sheets import to_csv
from jinqiao.gateway.wire import read_body
from jinqiao.registry.v1 import imports_pb2

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["imports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMATS = {"text/csv": imports_pb2.IMPORT_FORMAT_CSV, XLSX: imports_pb2.IMPORT_FORMAT_XLSX}
ImportStateName = Literal["running", "succeeded", "failed", "unspecified"]
_STATES: dict[imports_pb2.ImportState.ValueType, ImportStateName] = {
    imports_pb2.IMPORT_STATE_RUNNING: "running", imports_pb2.IMPORT_STATE_SUCCEEDED: "succeeded",
    imports_pb2.IMPORT_STATE_FAILED: "failed",
}
ImportPhaseName = Literal["reading", "validating", "listing_errors", "writing", "finished", "unspecified"]
_PHASES: dict[imports_pb2.ImportPhase.ValueType, ImportPhaseName] = {
    imports_pb2.IMPORT_PHASE_READING: "reading", imports_pb2.IMPORT_PHASE_VALIDATING: "validating",
    imports_pb2.IMPORT_PHASE_LISTING_ERRORS: "listing_errors", imports_pb2.IMPORT_PHASE_WRITING: "writing",
    imports_pb2.IMPORT_PHASE_FINISHED: "finished",
}
# Columns that hold long digit strings: formatted as text in the template so Excel keeps every digit.
_TEXT_COLUMNS = {"id_number", "phone", "home_branch_id"}
_NOTES = (
    "带 * 的列必填：姓名、公民身份号码、党员类别；其余列可以留空。",
    "公民身份号码、手机号码两列已设为“文本”格式；从别处粘贴时请“只粘贴值”，不要让 Excel 改成科学计数法。",
    "性别填“男”或“女”；出生日期须与身份证号一致；日期写成 2010-07-01 或 2010/7/1。",
    "党员类别填“正式党员”或“预备党员”；预备党员不填转正日期。",
    "学历填：研究生、大学本科、大学专科、中专、高中、初中、小学及以下；民族写全称，如“汉族”。",
    "所在党支部编号可留空；如填写，须是本县党组织的编号。",
    "一个文件最多 5 万行、20 MB；只要有一行不合格，整个文件都不导入，请按错误清单改正后重新导入。",
)


class ImportErrorOut(BaseModel):
    """One problem in one cell; row numbers count the header as row 1 (row 0: the file as a whole)."""

    row: int
    column: str
    reason: str


class ImportOut(BaseModel):
    """An import's progress and outcome; nothing is imported unless every row is valid."""

    id: str
    file_name: str
    state: ImportStateName
    total_rows: int
    processed_rows: int
    imported_rows: int
    errors: list[ImportErrorOut]
    errors_truncated: bool
    error_count: int = Field(default=0, description="已发现的错误数（运行中：已校验的行中；失败：全部，不论列出多少）")
    phase: ImportPhaseName = Field(
        default="unspecified",
        description="运行中的阶段：reading 读取文件，validating 逐行校验，"
                    "listing_errors 校验完毕、发现错误（不会写入），writing 全部通过、正在写入；finished 已结束")

    @classmethod
    def from_proto(cls, m: imports_pb2.MemberImport) -> ImportOut:
        """Map the wire form."""
        return cls(
            id=m.id, file_name=m.file_name, state=_STATES.get(m.state, "unspecified"),
            total_rows=m.total_rows, processed_rows=m.processed_rows, imported_rows=m.imported_rows,
            errors=[ImportErrorOut(row=e.row, column=e.column, reason=e.reason) for e in m.errors],
            errors_truncated=m.errors_truncated, error_count=m.error_count,
            phase=_PHASES.get(m.phase, "unspecified"),
        )


async def _template(gw: Gateway, who: Caller) -> imports_pb2.GetImportTemplateResponse:
    """The registry's template: the columns an import reads, in order, and the largest file it accepts."""
    reply: imports_pb2.GetImportTemplateResponse = await gw.clients.registry.GetImportTemplate(
        imports_pb2.GetImportTemplateRequest(), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return reply


@router.post("/imports", status_code=202, response_model=ImportOut,
             responses={413: {"description": "文件太大"}, 422: {"description": "请求参数无效"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string", "format": "binary"}},
                 XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def start_import(
    tenant: TenantDep, request: Request, who: CallerDep, gw: GatewayDep, idempotency_key: RequestIdDep,
    file_name: Annotated[str, Query(min_length=1, max_length=200, description="文件名，如 党员台账.xlsx")],
    content_type: Annotated[str, Header()] = "",
) -> Response:
    """导入党员: start importing a 台账 file (CSV or XLSX) as the body; poll the Location for progress."""
    limit = (await _template(gw, who)).max_file_bytes
    content = await read_body(request, limit=limit)
    if content is None:
        return problems.problem(413, "文件太大", f"文件不能超过 {limit // (1024 * 1024)} MB，请拆分后分批导入")
    media = content_type.split(";", 1)[0].strip().lower()
    # Anything else (e.g. application/octet-stream) leaves the registry to go by the file name's extension.
    fmt = _FORMATS.get(media, imports_pb2.IMPORT_FORMAT_UNSPECIFIED)
    try:
        reply = await gw.clients.registry.StartMemberImport(
            imports_pb2.StartMemberImportRequest(file_name=file_name, format=fmt, content=content,
                                                 request_id=idempotency_key),
            metadata=who.metadata, timeout=gw.clients.timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            # The registry's gRPC message limit (4 MB by default) is lower than the file limit.
            return problems.problem(413, "文件太大", "文件超过服务当前可接收的大小，请拆分为较小的文件后分批导入")
        raise
    started = ImportOut.from_proto(getattr(reply, "import"))
    return JSONResponse(started.model_dump(), status_code=202,
                        headers={"Location": f"/api/v1/tenants/{tenant}/imports/{started.id}"})


@router.get("/imports/template.{fmt}")
async def template(tenant: TenantDep, fmt: Literal["csv", "xlsx"], who: CallerDep, gw: GatewayDep) -> Response:
    """An empty 党员台账 with the headers the import reads (the XLSX keeps ID and phone columns as text)."""
    columns = list((await _template(gw, who)).columns)
    filename = quote(f"党员导入模板.{fmt}")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    if fmt == "csv":
        return Response(to_csv([c.label for c in columns], []), media_type="text/csv; charset=utf-8",
                        headers=headers)
    return Response(_template_xlsx(columns), media_type=XLSX, headers=headers)


def _template_xlsx(columns: list[imports_pb2.ImportColumn]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "党员台账"
    sheet.append([f"{c.label}*" if c.required else c.label for c in columns])
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C8102E" if column.required else None)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 22 if column.field in _TEXT_COLUMNS else 14
        if column.field in _TEXT_COLUMNS:
            # Cells exist only where formatted; a thousand rows covers one sitting of typing or pasting.
            for row in range(2, 1002):
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 110
    for line in _NOTES:
        notes.append([line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@router.get("/imports/{import_id}", response_model=ImportOut)
async def get_import(tenant: TenantDep, import_id: str, who: CallerDep, gw: GatewayDep) -> ImportOut:
    """An import's progress (processed of total rows) and, when it failed, the errors per row and column."""
    reply = await gw.clients.registry.GetMemberImport(
        imports_pb2.GetMemberImportRequest(id=import_id), metadata=who.metadata, timeout=gw.clients.timeout
    )
    return ImportOut.from_proto(getattr(reply, "import"))

