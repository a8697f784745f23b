"""台账 imports of members: reading a county's CSV or XLSX sheet into member fields, and the per-row errors.

No framework here: the use cases in ``imports.service`` turn each row's fields into a member's input and run the
members' own validation over it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum

from jinqiao.kit.errors import FieldViolation, InvalidArgument

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
MAX_ERRORS = 1000
FILE_NAME_MAX = 200
# Title rows above the headers are common in 台账 sheets ("××县流动党员台账"); look this far down for them.
HEADER_SEARCH_ROWS = 10


class ImportFormat(IntEnum):
    """The file type (values as in imports.proto)."""

    CSV = 1
    XLSX = 2


class ImportState(IntEnum):
    """Where an import stands (values as in imports.proto)."""

    RUNNING = 1
    SUCCEEDED = 2
    FAILED = 3


class ImportPhase(IntEnum):
    """What a running import is doing now, as the console tells it (values as in imports.proto)."""

    READING = 1
    VALIDATING = 2
    # Every row was checked and some were wrong: the error list is being written; nothing will be imported.
    LISTING_ERRORS = 3
    # Every row was checked and none was wrong: the members are being written.
    WRITING = 4
    FINISHED = 5


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell: the sheet's row number (header = 1), the column's header, the reason."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class MemberImport:
    """An import's progress and outcome."""

    id: str
    file_name: str
    state: ImportState
    total_rows: int
    processed_rows: int
    imported_rows: int
    errors: tuple[RowError, ...] = ()
    errors_truncated: bool = False
    # Errors found so far (while running: in the rows checked; when failed: all, however many are listed).
    error_count: int = 0

    @property
    def phase(self) -> ImportPhase:
        """Reading the file, checking rows, listing errors, writing (only once every row passed), or finished."""
        if self.state is not ImportState.RUNNING:
            return ImportPhase.FINISHED
        if not self.total_rows:
            return ImportPhase.READING
        if self.processed_rows < self.total_rows:
            return ImportPhase.VALIDATING
        return ImportPhase.LISTING_ERRORS if self.error_count else ImportPhase.WRITING


@dataclass(frozen=True, slots=True)
class Column:
    """A 台账 column: the MemberInput field it fills, its header in the template, and the headers accepted."""

    field: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", required=True),
    Column("gender", "性别"),
    Column("ethnicity", "民族"),
    Column("birth_date", "出生日期", ("出生年月", "出生年月日")),
    Column("id_number", "公民身份号码", ("身份证号", "身份证号码", "公民身份证号码", "公民身份证号", "身份证"),
           required=True),
    Column("phone", "手机号码", ("联系电话", "手机号", "手机", "电话", "联系方式", "电话号码")),
    Column("education", "学历", ("文化程度", "最高学历")),
    Column("join_date", "入党日期", ("入党时间", "入党年月")),
    Column("full_member_date", "转正日期", ("转正时间",)),
    Column("membership_status", "党员类别", ("人员类别", "党员类型", "党员身份"), required=True),
    Column("township", "乡镇(街道)", ("乡镇", "乡镇街道", "乡(镇、街道)", "乡(镇)", "所在乡镇", "所在乡镇(街道)")),
    Column("village", "村(社区)", ("村", "村社区", "社区", "村(居)", "所在村(社区)", "所在村")),
    Column("household_address", "户籍地址", ("户籍所在地", "户口所在地", "户籍地")),
    Column("occupation", "职业", ("工作岗位", "职业/工作岗位", "职业(工作岗位)", "从事职业")),
    Column("home_branch_id", "所在党支部编号", ("党支部编号", "所在支部编号")),
)
TEMPLATE_HEADERS: tuple[str, ...] = tuple(c.label for c in COLUMNS)


@dataclass(frozen=True, slots=True)
class Template:
    """What the 党员台账 template shows: the columns in order, and the largest file an import accepts."""

    columns: tuple[Column, ...]
    max_file_bytes: int
_BY_FIELD = {c.field: c for c in COLUMNS}
DATE_FIELDS = frozenset({"birth_date", "join_date", "full_member_date"})
# Free text the sheet carries straight through (the domain trims and limits them).
TEXT_FIELDS = ("name", "ethnicity", "education", "township", "village", "household_address", "occupation",
               "home_branch_id")

_EDUCATION = {"本科": "大学本科", "大学": "大学本科", "大本": "大学本科", "大专": "大学专科", "专科": "大学专科",
              "硕士": "研究生", "博士": "研究生", "硕士研究生": "研究生", "博士研究生": "研究生",
              "研究生及以上": "研究生", "小学": "小学及以下", "文盲": "小学及以下", "中技": "中专", "技校": "中专",
              "职高": "中专", "中职": "中专"}
_STATUS = {"正式党员": 2, "正式": 2, "预备党员": 1, "预备": 1}
_GENDER = {"男": 1, "男性": 1, "女": 2, "女性": 2}

_HEADER_NOISE = re.compile(r"[\s*＊:：]")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_YEAR_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")
_EXCEL_EPOCH = date(1899, 12, 30)

NUMERIC_ID = ("身份证号被存成了数字，超过15位的部分已经丢失；请把该列设为“文本”格式，重新录入后再导入")
SCIENTIFIC_ID = ("身份证号被 Excel 存成了科学计数法（如 4.11524E+17），后几位已经丢失；"
                 "请把该列设为“文本”格式，重新录入后再导入")
_MESSAGES = {
    "membership_status": "应填“正式党员”或“预备党员”",
    "gender": "应填“男”或“女”",
}


class FileProblem(Exception):
    """The file as a whole cannot be imported; carries the errors to show (row 1 for a header problem)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors


@dataclass(slots=True)
class SheetRow:
    """One data row: its number in the sheet, the member fields as text, and problems found while reading."""

    row: int
    fields: dict[str, str | int]
    errors: list[RowError] = field(default_factory=list)


@dataclass(slots=True)
class Sheet:
    """The data rows of a file, and which header each field came from (to name columns in errors)."""

    rows: list[SheetRow]
    headers: dict[str, str]
    header_row: int

    def column(self, name: str) -> str:
        """The header of a field as the user's file spells it (the template's when the file lacks it)."""
        if name in self.headers:
            return self.headers[name]
        known = _BY_FIELD.get(name)
        return known.label if known else name


# ------------------------------------------------------------------------------------------------ the request


def format_of(*, file_name: str, fmt: int) -> ImportFormat:
    """The file type: as the request says, else by the file name's extension."""
    if fmt:
        try:
            return ImportFormat(fmt)
        except ValueError:
            raise InvalidArgument.field("format", "只支持 CSV 或 Excel(.xlsx) 文件") from None
    lower = file_name.strip().lower()
    if lower.endswith(".csv"):
        return ImportFormat.CSV
    if lower.endswith(".xlsx"):
        return ImportFormat.XLSX
    if lower.endswith(".xls"):
        raise InvalidArgument.field("format", "不支持旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入")
    raise InvalidArgument.field("format", "只支持 CSV 或 Excel(.xlsx) 文件")


def check_request(*, file_name: str, fmt: int, content: bytes, request_id: str) -> tuple[str, ImportFormat]:
    """The cleaned file name and the format; every problem of the request at once."""
    violations: list[FieldViolation] = []
    # Browsers may send a full path ("C:\\fakepath\\…"); only the name matters.
    name = re.split(r"[\\/]", file_name.strip())[-1].strip()
    if not name:
        violations.append(FieldViolation("file_name", "请提供文件名"))
    elif len(name) > FILE_NAME_MAX or any(ord(c) < 32 for c in name):
        violations.append(FieldViolation("file_name", f"文件名不能超过 {FILE_NAME_MAX} 个字符，且不能含控制字符"))
    resolved = ImportFormat.CSV
    try:
        resolved = format_of(file_name=name, fmt=fmt)
    except InvalidArgument as exc:
        violations.extend(exc.violations)
    if not content:
        violations.append(FieldViolation("content", "文件为空"))
    elif len(content) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        violations.append(FieldViolation("content", f"文件不能超过 {limit} MB，请拆分后分批导入"))
    if len(request_id) > 100:
        violations.append(FieldViolation("request_id", "不能超过 100 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return name, resolved


# ------------------------------------------------------------------------------------------------ reading


def decode_csv(content: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030 as Excel on Chinese Windows saves it."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileProblem([RowError(1, "", "无法识别文件的字符编码，请在 Excel 中另存为“CSV UTF-8(逗号分隔)”后再导入")])


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[object]]]:
    text = decode_csv(content)
    if "\x00" in text:
        raise FileProblem([RowError(1, "", "文件不是文本格式的 CSV；Excel 文件请选择 .xlsx 格式导入")])
    # Excel saves "Unicode text" with tabs; everything else here uses commas.
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, list(cells)
    except csv.Error as exc:
        raise FileProblem([RowError(reader.line_num, "", f"CSV 格式错误：{exc}")]) from None


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[object]]]:
    from openpyxl import load_workbook  # imported here: only reading an XLSX needs it

    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem([RowError(1, "", "这是旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入")])
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileProblem([RowError(1, "", "无法读取该 Excel 文件，请确认是 .xlsx 格式且未加密")]) from exc
    try:
        if not book.worksheets:
            raise FileProblem([RowError(1, "", "Excel 文件中没有工作表")])
        sheet = book.worksheets[0]
        # read-only sheets start at the first stored row; count from it so numbers match what Excel shows.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=sheet.min_row or 1):
            yield number, list(values)
    finally:
        book.close()


def _header_key(text: object) -> str:
    return _HEADER_NOISE.sub("", str(text or "")).replace("（", "(").replace("）", ")")


_ALIASES = {_header_key(alias): c.field for c in COLUMNS for alias in (c.label, *c.aliases)}


def _match_headers(cells: Sequence[object]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for index, cell in enumerate(cells):
        name = _ALIASES.get(_header_key(cell))
        if name and name not in found:
            found[name] = (index, str(cell).strip())
    return found


def _blank(values: Sequence[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def read_sheet(content: bytes, *, fmt: ImportFormat) -> Sheet:
    """Read the file's first sheet: find the header row, map columns, turn each non-blank row into fields."""
    rows = _xlsx_rows(content) if fmt is ImportFormat.XLSX else _csv_rows(content)
    headers: dict[str, tuple[int, str]] = {}
    header_row = 0
    for number, cells in rows:
        found = _match_headers(cells)
        if "name" in found or "id_number" in found:
            headers, header_row = found, number
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    missing = [c for c in COLUMNS if c.required and c.field not in headers]
    if missing:
        at = header_row or 1
        raise FileProblem([RowError(at, c.label, f"缺少必填列“{c.label}”（请使用导入模板的表头）") for c in missing])
    out: list[SheetRow] = []
    for number, cells in rows:
        if _blank(cells):
            continue
        if len(out) >= MAX_ROWS:
            raise FileProblem([RowError(number, "", f"数据超过 {MAX_ROWS} 行的上限，请拆分为多个文件分批导入")])
        out.append(_to_fields(number, cells, headers))
    if not out:
        raise FileProblem([RowError(header_row, "", "文件中没有数据行")])
    return Sheet(rows=out, headers={f: label for f, (_, label) in headers.items()}, header_row=header_row)


# ------------------------------------------------------------------------------------------------ cells


def _text(value: object) -> str:
    if type(value) is str:  # every cell of a CSV: the common case first
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).split())


def _date_text(value: object) -> str:
    """ISO date from a date cell, an Excel serial number, or the ways people write dates; else as written."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return (_EXCEL_EPOCH + timedelta(days=int(value))).isoformat()
    text = _text(value)
    if len(text) == 10 and text[4] == text[7] == "-" and text.isascii():
        # Already ISO (the template's form): what the patterns below would make of it, without them.
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    for pattern in (_DATE, _COMPACT_DATE):
        match = pattern.fullmatch(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                return text
    return text


def _id_text(value: object, *, row: int, column: str, errors: list[RowError]) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors.append(RowError(row, column, NUMERIC_ID))
        return ""
    text = _text(value).replace(" ", "")
    # Ways people keep Excel from turning the number into a float: a leading apostrophe, or ="…".
    if text.startswith("'"):
        text = text[1:]
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    if _SCIENTIFIC.fullmatch(text):
        errors.append(RowError(row, column, SCIENTIFIC_ID))
        return ""
    return text


def _to_fields(row: int, cells: Sequence[object], headers: dict[str, tuple[int, str]]) -> SheetRow:
    errors: list[RowError] = []
    fields: dict[str, str | int] = {}
    width = len(cells)

    def raw(name: str) -> object:
        found = headers.get(name)
        return cells[found[0]] if found is not None and found[0] < width else None

    def column(name: str) -> str:
        return headers[name][1] if name in headers else _BY_FIELD[name].label

    for name in TEXT_FIELDS:
        fields[name] = _text(raw(name))
    education = str(fields["education"])
    fields["education"] = _EDUCATION.get(education, education)
    ethnicity = str(fields["ethnicity"])
    if ethnicity and not ethnicity.endswith("族") and len(ethnicity) <= 4:
        fields["ethnicity"] = ethnicity + "族"
    fields["id_number"] = _id_text(raw("id_number"), row=row, column=column("id_number"), errors=errors)
    fields["phone"] = _text(raw("phone"))
    for name in DATE_FIELDS:
        fields[name] = _date_text(raw(name))
    gender = _text(raw("gender"))
    fields["gender"] = _GENDER.get(gender, 0)
    if gender and not fields["gender"]:
        errors.append(RowError(row, column("gender"), _MESSAGES["gender"]))
    status = _text(raw("membership_status"))
    fields["membership_status"] = _STATUS.get(status, 0)
    if not status:
        errors.append(RowError(row, column("membership_status"), "必填"))
    elif not fields["membership_status"]:
        errors.append(RowError(row, column("membership_status"), _MESSAGES["membership_status"]))
    _year_month_birth(fields, row=row, column=column("birth_date"), errors=errors)
    return SheetRow(row=row, fields=fields, errors=errors)


def _year_month_birth(fields: dict[str, str | int], *, row: int, column: str, errors: list[RowError]) -> None:
    """出生年月 (no day) is common in 台账; compare year and month with the ID number here, not in the domain."""
    birth = str(fields["birth_date"])
    match = _YEAR_MONTH.fullmatch(birth)
    if not match:
        return
    fields["birth_date"] = ""
    number = str(fields["id_number"])
    if len(number) == 18 and number[6:12].isdigit() and number[6:12] != f"{int(match[1]):04d}{int(match[2]):02d}":
        errors.append(RowError(row, column, "出生年月与身份证号不一致"))


# ------------------------------------------------------------------------------------------------ errors


def violation_errors(sheet: Sheet, row: SheetRow, violations: Iterable[FieldViolation]) -> list[RowError]:
    """The domain's field violations as errors of the row's cells; a cell already reported is not repeated."""
    seen = {e.column for e in row.errors}
    out = list(row.errors)
    for v in violations:
        column = sheet.column(v.field)
        if column in seen:
            continue
        out.append(RowError(row.row, column, v.description))
    return out


def duplicates(keys: Iterable[tuple[int, str]], *, column: str) -> list[RowError]:
    """Rows of the file that carry the same ID number; every one of them is named, with the others."""
    rows_of: dict[str, list[int]] = {}
    for row, key in keys:
        rows_of.setdefault(key, []).append(row)
    out: list[RowError] = []
    for rows in rows_of.values():
        if len(rows) < 2:
            continue
        for row in rows:
            others = "、".join(str(r) for r in rows if r != row)
            out.append(RowError(row, column, f"身份证号与第 {others} 行重复"))
    return out


IN_COUNTY = "该身份证号已在本县登记"
ELSEWHERE = "该同志的组织关系已在省内其他县（市、区）登记，请办理组织关系转接，不要重复导入"
UNKNOWN_BRANCH = "本县没有该党组织（或已撤销）"


def ordered(errors: Iterable[RowError], *, sheet: Sheet | None = None) -> list[RowError]:
    """Errors by row, then in the template's column order."""
    rank = {c.label: i for i, c in enumerate(COLUMNS)}
    if sheet is not None:
        rank.update({label: i for i, c in enumerate(COLUMNS) if (label := sheet.headers.get(c.field))})
    return sorted(errors, key=lambda e: (e.row, rank.get(e.column, len(rank)), e.reason))


def capped(errors: list[RowError]) -> tuple[list[RowError], bool]:
    """At most MAX_ERRORS errors, and whether some were left out."""
    return errors[:MAX_ERRORS], len(errors) > MAX_ERRORS
