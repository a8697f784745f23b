"""No request earns a gRPC service fault (issue 10, finding 2): every method of the authorization table, fuzzed.

Each method's request type is read from the services' protobuf descriptors and filled by Hypothesis with values
chosen to break it: text with NUL and control characters, very long text, integers at the int32/int64/uint64
extremes, enum numbers no one defined, timestamps beyond what a Timestamp may hold, nested and repeated messages,
and sometimes the real ids of the fuzz county's objects so that a request gets past the look-up. The call goes
straight to the service's port with a token of a role that holds the method's permission (a county admin of the
fuzz county where it can). The answer may be any refusal but never INTERNAL, UNKNOWN, DATA_LOSS or UNIMPLEMENTED,
and the transport must not fail. Derandomized, with a fixed number of examples per method.

Like the HTTP fuzzer, it runs synchronously in a worker thread while this loop serves the services.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from hypothesis import HealthCheck, Phase, given, settings

from jinqiao.kit import authz, catalog, deadletters
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.authz import METHODS
from jinqiao.kit.grpcwrap import UNDECODABLE
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer
from tests.security.fuzzing import FUZZ_COUNTY, Tally, fuzz_world, request_strategy
from tests.support import field_violations, id_number

pytestmark = [
    pytest.mark.timeout(900),
    # The services serve in this process, so their background tasks (reconnect jitter, relay polls) touch the global
    # random module while Hypothesis draws; it is not the strategies' randomness and the runs stay derandomized.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = 100  # per method
FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS,
          grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
# The roles tried for a method, in order: the first that holds its permission calls it (a county system, with that
# permission named, where none of them does).
ROLES = (Role.COUNTY_ADMIN, Role.MEMBER, Role.PROVINCE_ANALYST)


def _descriptor(method: str) -> Any:
    service, name = method.strip("/").split("/")
    return descriptor_pool.Default().FindMethodByName(f"{service}.{name}")


def _targets(platform: Any) -> dict[str, str]:
    """Each proto service's full name → the address of the service serving it."""
    targets = {entry.proto_service: f"127.0.0.1:{platform.services[entry.name].port}"
               for entry in catalog.grpc_services() if entry.proto_service}
    # Every service that consumes events serves DeadLetterService (kit/deadletters.py): fuzzed on the first.
    targets[deadletters.PROTO_SERVICE] = targets[deadletters.consuming_services()[0].proto_service or ""]
    return targets


# The object a method's bare ``id`` names, by the noun in the method's name (longest first).
_NOUNS = (("ReportBack", "flow_id"), ("Membership", "membership_id"), ("Appointment", "appointment_id"),
          ("Applicant", "applicant_id"), ("Inspection", "applicant_id"), ("Member", "member_id"), ("Flow", "flow_id"),
          ("Org", "org_id"), ("Meeting", "meeting_id"))
# Destructive methods go last, so that a legitimate write does not use up an object before the rest are tried.
_LAST = ("Dissolve", "Move", "Return", "Transfer", "End", "Refuse")


def _known(objects: dict[str, str], method: str) -> dict[str, list[str]]:
    """Real values by field name; ``id`` is the object the method is about."""
    name = method.rsplit("/", 1)[1]
    own = next((key for noun, key in _NOUNS if noun in name), "member_id")
    known = {key: [value] for key, value in objects.items()}
    known.update(id=[objects[own]], parent_id=[objects["township_id"]], root_id=[objects["org_id"]],
                 home_org_id=[objects["org_id"]], new_parent_id=[objects["township_id"]],
                 home_branch_id=[objects["org_id"]], member_ids=[objects["member_id"]],
                 id_number=[id_number(FUZZ_COUNTY)], home_tenant_id=[FUZZ_COUNTY], destination_code=["650104"],
                 scope=[FUZZ_COUNTY, "65", "6501"], tenant_id=[FUZZ_COUNTY])
    return known


def _order(methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: any(word in m.rsplit("/", 1)[1] for word in _LAST))


def _callers(tokens: dict[Role, str], issuer: TokenIssuer) -> dict[str, str]:
    """Each method → the token it is called with."""
    chosen = {}
    for method, permission in METHODS.items():
        role = next((r for r in ROLES if authz.allows(r, permission)), None)
        chosen[method] = tokens[role] if role is not None else issuer.issue(
            user="fuzz-system", role=Role.COUNTY_SYSTEM, scope=FUZZ_COUNTY, tenant=FUZZ_COUNTY,
            permissions=frozenset({permission.value}))[0]
    return chosen


def _walk(targets: dict[str, str], callers: dict[str, str], objects: dict[str, str], tally: Tally) -> None:
    """Call every method ``EXAMPLES`` times with generated requests; tally each status (never raise mid-walk)."""
    channels = {address: grpc.insecure_channel(address) for address in set(targets.values())}
    config = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    try:
        for method in _order(list(METHODS)):
            descriptor = _descriptor(method)
            metadata = (("authorization", f"Bearer {callers[method]}"),)
            call = channels[targets[descriptor.containing_service.full_name]].unary_unary(
                method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=lambda b: b)

            def send(request: Any, call: Any = call, metadata: Any = metadata, method: str = method) -> None:
                try:
                    call(request, metadata=metadata, timeout=30)
                    tally.saw(method, "OK")
                except grpc.RpcError as err:
                    code = err.code()
                    fault = None
                    if code in FAULTS:
                        fault = f"{method} {str(request)[:400]!r} → {code.name} {err.details()}"
                    tally.saw(method, code.name, fault)

            strategy = request_strategy(descriptor.input_type, known=_known(objects, method))
            given(request=strategy)(config(lambda request: send(request)))()
    finally:
        for channel in channels.values():
            channel.close()


async def test_no_generated_request_earns_a_service_fault_on_any_method(platform, issuer, capsys):
    world = await fuzz_world(platform, issuer)
    tally = Tally()
    await asyncio.to_thread(_walk, _targets(platform), _callers(world["tokens"], issuer), world["objects"], tally)
    print(tally.report("gRPC fuzz"))
    print("never answered OK:", ", ".join(m.rsplit("/", 1)[1] for m in tally.never("OK")))
    with capsys.disabled():  # the line the issue's closing note quotes, shown in `make test` too
        print(f"\ngRPC fuzz: {tally.requests} requests over {len(METHODS)} methods, {len(tally.faults)} faults")
    assert not tally.faults, "\n".join(tally.faults[:40])


# --- The findings, by hand ---------------------------------------------------------------------------------------


def _violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())
    return field_violations(err)


async def test_nul_anywhere_in_a_request_is_invalid_argument_naming_the_field(platform, issuer):
    world = await fuzz_world(platform, issuer)
    md = bearer(world["tokens"][Role.COUNTY_ADMIN])
    with pytest.raises(grpc.aio.AioRpcError) as top:
        await platform.registry_stub.RevealIdNumber(registry_pb2.RevealIdNumberRequest(
            id=world["objects"]["member_id"], reason="核对\x00身份"), metadata=md)
    assert _violations(top.value) == {"reason": "不能包含控制字符"}
    with pytest.raises(grpc.aio.AioRpcError) as nested:
        await platform.organizations_stub.RecordAttendance(orgs_pb.RecordAttendanceRequest(
            meeting_id=world["objects"]["meeting_id"], org_id=world["objects"]["org_id"],
            entries=[orgs_pb.AttendanceEntry(member_id=world["objects"]["member_id"], home_tenant_id=FUZZ_COUNTY,
                                             status=orgs_pb.ATTENDANCE_STATUS_PRESENT),
                     orgs_pb.AttendanceEntry(member_id="a\x00", home_tenant_id=FUZZ_COUNTY,
                                             status=orgs_pb.ATTENDANCE_STATUS_PRESENT)]), metadata=md)
    assert _violations(nested.value) == {"entries[1].member_id": "不能包含控制字符"}


@pytest.mark.parametrize("number", [-(2**31), 2**31 - 1, 99, -1])
async def test_an_enum_number_no_one_defined_is_invalid_argument_or_matches_nothing(platform, issuer, number):
    world = await fuzz_world(platform, issuer)
    md = bearer(world["tokens"][Role.COUNTY_ADMIN])
    try:
        reply = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(flow_status=number),
                                                         metadata=md)
    except grpc.aio.AioRpcError as err:
        assert _violations(err) == {"flow_status": "取值无效"} or "flow_status" in _violations(err)
    else:
        assert not reply.members  # a filter by a status no flow can have
    with pytest.raises(grpc.aio.AioRpcError) as write:
        await platform.organizations_stub.ScheduleMeeting(orgs_pb.ScheduleMeetingRequest(
            org_id=world["objects"]["org_id"], type=number, title="党课", place="社区党群服务中心",
            start_time={"seconds": 1714525200}), metadata=md)
    assert "type" in _violations(write.value)


@pytest.mark.parametrize("seconds,nanos", [(-(2**63), 0), (253402300800, 0), (-62135596801, 0), (0, 10**9),
                                           (0, -1)])
async def test_a_timestamp_a_timestamp_cannot_hold_is_invalid_argument(platform, issuer, seconds, nanos):
    world = await fuzz_world(platform, issuer)
    request = orgs_pb.ScheduleMeetingRequest(org_id=world["objects"]["org_id"], type=orgs_pb.MEETING_TYPE_PARTY_LECTURE,
                                             title="党课", place="社区党群服务中心")
    request.start_time.seconds, request.start_time.nanos = seconds, nanos
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.organizations_stub.ScheduleMeeting(request, metadata=bearer(world["tokens"][Role.COUNTY_ADMIN]))
    assert "start_time" in _violations(err.value)


@pytest.mark.parametrize("raw", [b"\x0a\x02\xff\xfe", b"\xff\xff\xff\xff", b"\x0a\x05ab"])
async def test_bytes_that_are_no_request_are_invalid_argument_after_the_token_is_checked(platform, issuer, raw):
    world = await fuzz_world(platform, issuer)
    address = f"127.0.0.1:{platform.services['registry'].port}"
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary("/jinqiao.registry.v1.RegistryService/GetMember")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(raw, metadata=bearer(world["tokens"][Role.COUNTY_ADMIN]))
        assert _violations(refused.value) == {"request": UNDECODABLE}
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await call(raw)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_integers_at_their_extremes_are_answered_without_a_fault(platform, issuer):
    world = await fuzz_world(platform, issuer)
    md = bearer(world["tokens"][Role.COUNTY_ADMIN])
    for size in (2**31 - 1, -(2**31)):
        try:
            await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(page_size=size), metadata=md)
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    for version in (2**63 - 1, -(2**63)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.registry_stub.UpdateMember(registry_pb2.UpdateMemberRequest(
                id=world["objects"]["member_id"], version=version, update_mask=["occupation"], occupation="电工"),
                metadata=md)
        assert err.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
