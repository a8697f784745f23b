"""Protobuf enums on the HTTP wire: ``ORG_KIND_VILLAGE_BRANCH`` ↔ ``"village_branch"``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

_V = TypeVar("_V", bound=int)


def enum_in(enum: _EnumTypeWrapper[_V], prefix: str, name: str) -> _V:
    """The enum value a snake_case name stands for (the name was already checked by the request model)."""
    return enum.Value(f"{prefix}_{name.upper()}")


def enum_out(enum: _EnumTypeWrapper[_V], prefix: str, value: _V) -> str:
    """The snake_case name of an enum value, without its prefix."""
    return enum.Name(value).removeprefix(f"{prefix}_").lower()
