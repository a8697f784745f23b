"""Ledgers (台账) as spreadsheets: CSV and XLSX bodies, the download response, and every page of a list RPC."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import quote

import grpc
from fastapi import Response
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from jinqiao.kit.clock import china_date
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as org_pb

Fmt = Literal["csv", "xlsx"]
PAGE = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# C0 controls but tab, line feed and carriage return, DEL and the C1 controls: openpyxl refuses most of them
# (IllegalCharacterError) and no ledger reader wants any of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What a spreadsheet program reads as the start of a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A signed plain number ("-3", "+1.5") evaluates to itself: it may keep its sign.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def clean_text(value: str) -> str:
    """The text without control characters (tab, line feed and carriage return stay)."""
    return _CONTROL.sub("", value)


def reads_as_formula(text: str) -> bool:
    """Whether a spreadsheet program would evaluate this text rather than show it."""
    return text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


def csv_cell(value: object) -> object:
    """A CSV cell that is inert: controls removed, a formula-like text behind a single quote; numbers unchanged."""
    if not isinstance(value, str):
        return value
    text = clean_text(value)
    return "'" + text if reads_as_formula(text) else text


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read the Chinese text right; every cell made inert."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in headers])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_row(sheet: Any, values: Sequence[object]) -> list[object]:
    """Cells whose text is always plain text (never a formula or an error code); other values as they are."""
    row: list[object] = []
    for value in values:
        if not isinstance(value, str):
            row.append(value)
            continue
        cell = Cell(sheet, value=clean_text(value))
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
        if reads_as_formula(cell.value):
            cell.quotePrefix = True  # Excel keeps it text even when someone edits the cell
        row.append(cell)
    return row


@dataclass(frozen=True, slots=True)
class Banner:
    """What a printed ledger carries above its table: its title, who keeps it (填报单位) and the day (填报日期)."""

    unit: str
    day: date


# A ledger with a banner: title, 填报单位, 填报日期, then the header row (the 4th).
BANNER_ROWS = 3


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], *,
            banner: Banner | None = None) -> bytes:
    """One sheet named after the ledger, bold headers, frozen header row; text cells are plain text.

    With a banner the sheet opens with the ledger's title (merged across the table), 填报单位 and 填报日期, as a
    ledger handed to the county is expected to; the header row follows them.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = title
    width = max(len(headers), 1)
    if banner is not None:
        sheet.append(_xlsx_row(sheet, [title]))
        sheet.append(_xlsx_row(sheet, [f"填报单位：{banner.unit}"]))
        sheet.append(_xlsx_row(sheet, [f"填报日期：{banner.day.year}年{banner.day.month}月{banner.day.day}日"]))
        last = get_column_letter(width)
        for line in range(1, BANNER_ROWS + 1):
            sheet.merge_cells(f"A{line}:{last}{line}")
        sheet["A1"].font = Font(bold=True, size=16)
        sheet["A1"].alignment = Alignment(horizontal="center")
    header_row = BANNER_ROWS + 1 if banner is not None else 1
    sheet.append(_xlsx_row(sheet, headers))
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(_xlsx_row(sheet, row))
    sheet.freeze_panes = f"A{header_row + 1}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(*, title: str, tenant: str, fmt: str, headers: Sequence[str],
             rows: Sequence[Sequence[object]], banner: Banner | None = None) -> Response:
    """The ledger as an attachment named ``<title>-<county>.<fmt>`` (RFC 5987, so the Chinese name survives).

    The XLSX carries the banner (title, 填报单位, 填报日期) above its table; the CSV stays one header row and data,
    for programs that read it.
    """
    disposition = f"attachment; filename*=UTF-8''{quote(f'{title}-{tenant}.{fmt}')}"
    if fmt == "csv":
        return Response(to_csv(headers, rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": disposition})
    return Response(to_xlsx(title, headers, rows, banner=banner), media_type=XLSX,
                    headers={"Content-Disposition": disposition})


async def banner_for(*, gw: Any, who: Any, tenant: str) -> Banner:
    """The banner of a ledger the caller exports today: its own office as 填报单位, Beijing's calendar day.

    An office bound to an organisation (a township committee) files under that organisation's name; the county
    department files as 中共<县>委组织部.
    """
    day = china_date(datetime.now(UTC))
    orgs = gw.clients.organizations
    try:
        if who.principal.org:
            reply = await orgs.GetOrg(org_pb.GetOrgRequest(id=who.principal.org), metadata=who.metadata,
                                      timeout=gw.clients.timeout)
            if reply.org.name:
                return Banner(unit=reply.org.name, day=day)
        elif name_of(tenant) == tenant:  # a county the reference data does not name: its committee does
            roots = await orgs.ListChildOrgs(org_pb.ListChildOrgsRequest(), metadata=who.metadata,
                                             timeout=gw.clients.timeout)
            if roots.orgs:
                return Banner(unit=f"{roots.orgs[0].name}组织部", day=day)
    except grpc.RpcError:
        pass  # an office whose organisation cannot be read still files under its county
    return Banner(unit=f"中共{name_of(tenant)}委组织部", day=day)


async def every_page(call: Callable[..., Awaitable[Any]], make_request: Callable[..., Any], field: str, *,
                     metadata: Sequence[tuple[str, str]], deadline: float) -> list[Any]:
    """Every page of a list RPC, not the first: a ledger that stopped at 200 rows would look complete.

    ``deadline`` is each call's gRPC timeout in seconds.
    """
    items: list[Any] = []
    token = ""
    while True:
        page = await call(make_request(page_size=PAGE, page_token=token), metadata=metadata, timeout=deadline)
        items.extend(getattr(page, field))
        token = page.next_page_token
        if not token:
            return items
