"""The HTTP wire (gateway/wire.py): request bodies and parameters no service could take are refused naming the
field; date-times a Timestamp cannot hold are refused; an explicit null enum is UNSPECIFIED for the service to
refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import QueryParams

from jinqiao.gateway.wire import Body, Instant, enum_in, plain_parameters
from jinqiao.kit.errors import InvalidArgument
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.registry.v1 import registry_pb2

RANGE = "时间超出可表示的范围（0001-01-01 至 9999-12-31）"


class _Entry(Body):
    member_id: str = Field(max_length=36)


class _Sample(Body):
    name: str = Field(default="", max_length=50)
    version: int = 1
    tags: list[str] = []
    entries: list[_Entry] = []
    at: Instant | None = None


def _errors(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _Sample.model_validate(data)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def test_nul_is_refused_in_any_text_of_a_body_nested_or_listed():
    assert _errors({"name": "张\x00三"}) == {"name": "不能包含控制字符"}
    assert _errors({"tags": ["a", "b\x00"]}) == {"tags": "不能包含控制字符"}
    assert _errors({"entries": [{"member_id": "\x00"}]}) == {"entries.0.member_id": "不能包含控制字符"}


def test_a_lone_surrogate_is_refused():
    assert "name" in _errors({"name": "a\ud800"})


@pytest.mark.parametrize("version", [2**63, -(2**63) - 1, 2**65, 10**40])
def test_a_whole_number_beyond_int64_is_refused(version):
    assert _errors({"version": version}) == {"version": "数值超出范围"}


@pytest.mark.parametrize("version", [2**63 - 1, -(2**63), 0, 1])
def test_whole_numbers_inside_int64_pass(version):
    assert _Sample.model_validate({"version": version}).version == version


def test_the_checks_leave_the_published_json_schema_unchanged():
    class Checked(Body):
        name: str = Field(max_length=5)
        at: Instant

    class Plain(BaseModel):
        name: str = Field(max_length=5)
        at: datetime

    checked, plain = Checked.model_json_schema(), Plain.model_json_schema()
    assert {**checked, "title": ""} == {**plain, "title": ""}


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-00:01",
                                   "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+00:01"])
def test_a_far_date_at_an_odd_offset_is_refused(value):
    assert _errors({"at": value}) == {"at": RANGE}


def test_an_instant_is_kept_in_utc_and_a_naive_one_read_as_utc():
    aware = _Sample.model_validate({"at": "2024-05-01T09:00:00+08:00"}).at
    assert aware == datetime(2024, 5, 1, 1, tzinfo=UTC) and aware.tzinfo is UTC
    assert _Sample.model_validate({"at": "9999-12-31T23:59:59"}).at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_an_explicit_null_enum_is_unspecified():
    assert enum_in(registry_pb2.MembershipStatus, "MEMBERSHIP_STATUS", None) == 0
    assert enum_in(pb.OrgKind, "ORG_KIND", "village_branch") == pb.ORG_KIND_VILLAGE_BRANCH


def _request(query: str, path: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(query_params=QueryParams(query), path_params=path)


def test_a_query_or_path_parameter_with_nul_is_refused_naming_it():
    with pytest.raises(InvalidArgument) as caught:
        plain_parameters(_request("name=%E5%BC%A0%00&page_size=5", {"member_id": "a\x00"}))  # type: ignore[arg-type]
    assert {v.field for v in caught.value.violations} == {"name", "member_id"}
    plain_parameters(_request("name=%E5%BC%A0", {"member_id": "abc"}))  # type: ignore[arg-type]
