"""The HTTP wire: request bodies every service can take, instants a Timestamp can hold, and protobuf enums
(``ORG_KIND_VILLAGE_BRANCH`` ↔ ``"village_branch"``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Path, Request
from pydantic import AfterValidator, BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.kit.grpcwrap import NUL

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

_V = TypeVar("_V", bound=int)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SURROGATES = range(0xD800, 0xE000)
# What a google.protobuf.Timestamp may hold (and so what any service can be told).
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _refuse(message: str) -> PydanticCustomError:
    # A custom error's message is shown as it is (a plain ValueError would be prefixed "Value error, ").
    return PydanticCustomError("jinqiao_wire", message)


def _wire_value(value: Any) -> None:
    """Raise for what no service could take: NUL or a lone surrogate in text, a whole number beyond int64."""
    if isinstance(value, str):
        if "\x00" in value:
            raise _refuse(NUL)
        if any(ord(c) in _SURROGATES for c in value):
            raise _refuse("包含无效的 Unicode 字符（不成对的代理项）")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _refuse("数值超出范围")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _wire_value(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _wire_value(key)
            _wire_value(item)


class Body(BaseModel):
    """Base of every request body: its text and numbers are checked once here, for every route, so that a value
    no service can take is a 422 naming the field instead of a failure while the gateway builds the gRPC call.
    (Nested bodies are Body too and check themselves.)"""

    @field_validator("*", mode="after")
    @classmethod
    def _wire(cls, value: Any, info: ValidationInfo) -> Any:
        _wire_value(value)
        return value


def plain_parameters(request: Request) -> None:
    """Refuse a query or path parameter carrying NUL, naming it (every route's dependency, see routes/__init__.py):
    no service can store or search for it."""
    found = [FieldViolation(name, NUL) for name, value in (*request.query_params.multi_items(),
                                                           *request.path_params.items())
             if "\x00" in name or "\x00" in str(value)]
    if found:
        raise InvalidArgument(found)


async def read_body(request: Request, *, limit: int) -> bytes | None:
    """A raw upload's body, or None once it passes ``limit`` (read in pieces: a declared length is no promise)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _instant(value: datetime) -> datetime:
    """An aware instant in UTC that a Timestamp can hold; a naive one is read as UTC (as protobuf reads it)."""
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-23:59 lies after year 9999 in UTC
        raise _refuse("时间超出可表示的范围（0001-01-01 至 9999-12-31）") from exc
    if not EARLIEST <= aware <= LATEST:
        raise _refuse("时间超出可表示的范围（0001-01-01 至 9999-12-31）")
    return aware


# What a protobuf int32 field can hold (a version, a count): a bound beyond it is a 422, never a 500.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# A year in a path (the working-day calendar's): four digits.
Year = Annotated[int, Path(ge=1000, le=9999, description="年份")]

# A date-time field of a request body (its JSON schema is a plain date-time).
Instant = Annotated[datetime, AfterValidator(_instant)]


def enum_in(enum: _EnumTypeWrapper[_V], prefix: str, name: str | None) -> _V:
    """The enum value a snake_case name stands for (the name was already checked by the request model); an explicit
    null is UNSPECIFIED (0), which the service refuses naming the field wherever a value is required."""
    if name is None:
        return enum.Value(f"{prefix}_UNSPECIFIED")
    return enum.Value(f"{prefix}_{name.upper()}")


def enum_out(enum: _EnumTypeWrapper[_V], prefix: str, value: _V) -> str:
    """The snake_case name of an enum value, without its prefix."""
    return enum.Name(value).removeprefix(f"{prefix}_").lower()
