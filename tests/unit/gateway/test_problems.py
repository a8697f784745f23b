"""Validation problems name each field and say what is wrong in zh-CN (gateway/problems.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from jinqiao.gateway.problems import validation_fields


class _In(BaseModel):
    name: str = Field(min_length=2, max_length=5)
    kind: Literal["a", "b"]
    year: int = Field(ge=2000, le=2100)


def _fields(data: object) -> dict[str, str]:
    try:
        _In.model_validate(data)
    except ValidationError as exc:
        return {f["field"]: f["detail"] for f in validation_fields(exc.errors())}
    raise AssertionError("valid")


def test_common_mistakes_are_described_in_chinese():
    assert _fields({"name": "x" * 9, "kind": "c", "year": 1999}) == {
        "name": "不能超过 5 个字符", "kind": "取值无效，可选：'a' or 'b'", "year": "不能小于 2000"}
    assert _fields({"name": 5, "year": "soon"}) == {"name": "应为文本", "kind": "必填", "year": "应为整数"}


def test_an_unknown_error_type_keeps_pydantic_words_and_the_body_is_named_when_there_is_no_field():
    found = validation_fields([{"type": "something_new", "loc": ("body",), "msg": "Something new"}])
    assert found == [{"field": "body", "detail": "Something new"}]
