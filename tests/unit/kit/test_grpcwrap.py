"""The request gate every gRPC call passes (kit/grpcwrap.py): what no service can take is refused, naming the
field, inside the innermost interceptor's scope, so the error mapping outside it answers INVALID_ARGUMENT."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from jinqiao.kit import grpcwrap
from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import registry_pb2


def test_nul_is_refused_in_any_text_field_with_its_path():
    request = orgs_pb.RecordAttendanceRequest(meeting_id="m\x00", entries=[
        orgs_pb.AttendanceEntry(member_id="fine"), orgs_pb.AttendanceEntry(member_id="a\x00b")])
    assert grpcwrap.refusals(request) == [FieldViolation("meeting_id", grpcwrap.NUL),
                                          FieldViolation("entries[1].member_id", grpcwrap.NUL)]


def test_nul_is_refused_inside_map_values_too():
    request = struct_pb2.Struct(fields={"k": struct_pb2.Value(string_value="a\x00")})
    assert grpcwrap.refusals(request) == [FieldViolation("fields['k'].string_value", grpcwrap.NUL)]


def test_other_control_characters_and_long_text_are_left_to_the_use_case():
    assert grpcwrap.refusals(registry_pb2.RevealIdNumberRequest(reason="\x07\x1b" + "名" * 10000)) == []


@pytest.mark.parametrize("number", [2**15, -(2**15) - 1, 2**31 - 1, -(2**31)])
def test_an_enum_number_no_smallint_can_hold_is_refused(number):
    request = registry_pb2.ListMembersRequest(membership_status=number)
    assert grpcwrap.refusals(request) == [FieldViolation("membership_status", grpcwrap.ENUM_RANGE)]


@pytest.mark.parametrize("number", [2, 3, 99, -1, 2**15 - 1, -(2**15)])
def test_other_enum_numbers_are_left_to_the_use_case_to_refuse_with_the_other_faults(number):
    assert grpcwrap.refusals(registry_pb2.ListMembersRequest(membership_status=number)) == []


def test_a_repeated_scalar_is_named_by_its_field_once():
    request = orgs_pb.UpdatePlacementRulesRequest(rules=[1, 2**20, 2**21])
    assert grpcwrap.refusals(request) == [FieldViolation("rules", grpcwrap.ENUM_RANGE)]
    assert grpcwrap.refusals(orgs_pb.CreateGridRequest(member_ids=["a", "b\x00"])) == [
        FieldViolation("member_ids", grpcwrap.NUL)]


@pytest.mark.parametrize("seconds,nanos,ok", [
    (-62135596800, 0, True), (253402300799, 999_999_999, True), (1714525200, 0, True),
    (-62135596801, 0, False), (253402300800, 0, False), (-(2**63), 0, False), (2**63 - 1, 0, False),
    (0, -1, False), (0, 10**9, False),
])
def test_a_timestamp_must_lie_in_what_a_timestamp_may_hold(seconds, nanos, ok):
    request = orgs_pb.ScheduleMeetingRequest()
    request.start_time.seconds, request.start_time.nanos = seconds, nanos
    expected = [] if ok else [FieldViolation("start_time", grpcwrap.TIMESTAMP_RANGE)]
    assert grpcwrap.refusals(request) == expected


def test_the_checked_deserializer_hands_on_a_refusal_instead_of_raising():
    read = grpcwrap.checked(registry_pb2.GetMemberRequest.FromString)
    assert read is not None
    assert read(registry_pb2.GetMemberRequest(id="x").SerializeToString()) == registry_pb2.GetMemberRequest(id="x")
    bad_utf8 = read(b"\x0a\x02\xff\xfe")
    assert isinstance(bad_utf8, grpcwrap.Refused)
    assert bad_utf8.error.violations == [FieldViolation("request", grpcwrap.UNDECODABLE)]
    nul = read(registry_pb2.GetMemberRequest(id="\x00").SerializeToString())
    assert isinstance(nul, grpcwrap.Refused) and nul.error.violations == [FieldViolation("id", grpcwrap.NUL)]
    assert grpcwrap.checked(read) is read
    assert grpcwrap.checked(None) is None


class _Context:
    """Enough of a servicer context for the wrappers."""


async def test_the_innermost_wrapper_raises_the_refusal_inside_its_scope_and_outer_ones_pass_it_on():
    seen: list[str] = []

    async def handler(request: Any, context: Any) -> str:
        seen.append("handler")
        return "answer"

    def scope_named(name: str) -> Any:
        @asynccontextmanager
        async def scope(request: Any, context: Any) -> Any:
            seen.append(f"enter {name}")
            try:
                yield
            except InvalidArgument:
                seen.append(f"{name} saw InvalidArgument")
                raise

        return scope

    raw = grpc.unary_unary_rpc_method_handler(handler, request_deserializer=registry_pb2.GetMemberRequest.FromString)
    inner = grpcwrap.wrap_unary(raw, scope_named("auth"))
    outer = grpcwrap.wrap_unary(inner, scope_named("errors"))
    assert outer is not None and inner is not None
    assert outer.request_deserializer is inner.request_deserializer
    request = outer.request_deserializer(registry_pb2.GetMemberRequest(id="a\x00").SerializeToString())
    with pytest.raises(InvalidArgument):
        await outer.unary_unary(request, _Context())
    assert seen == ["enter errors", "enter auth", "auth saw InvalidArgument", "errors saw InvalidArgument"]
    seen.clear()
    good = outer.request_deserializer(registry_pb2.GetMemberRequest(id="a").SerializeToString())
    assert await outer.unary_unary(good, _Context()) == "answer"
    assert seen == ["enter errors", "enter auth", "handler"]
