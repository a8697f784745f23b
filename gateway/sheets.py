"""Ledgers (台账) as spreadsheets: CSV and XLSX bodies, the download response, and every page of a list RPC."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Font

Fmt = Literal["csv", "xlsx"]
PAGE = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read the Chinese text right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """One sheet named after the ledger, bold headers, frozen header row."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = title
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(*, title: str, tenant: str, fmt: str, headers: Sequence[str],
             rows: Sequence[Sequence[object]]) -> Response:
    """The ledger as an attachment named ``<title>-<county>.<fmt>`` (RFC 5987, so the Chinese name survives)."""
    disposition = f"attachment; filename*=UTF-8''{quote(f'{title}-{tenant}.{fmt}')}"
    if fmt == "csv":
        return Response(to_csv(headers, rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": disposition})
    return Response(to_xlsx(title, headers, rows), media_type=XLSX, headers={"Content-Disposition": disposition})


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
