"""What the two fuzz suites share: their own county, the objects they aim at, how they count what they saw, and
the Hypothesis strategies that build hostile gRPC requests from the protobuf descriptors.

The fuzzers write into a county that no other test reads (乌鲁木齐市天山区, in a province no other test touches),
so that what they create can disturb no count, list or sheet another test asserts on; its members flow to and
from the next county, 新市区, which no other test reads either.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st

from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import development_pb2 as dev_pb
from jinqiao.registry.v1 import flows_pb2 as flows_pb
from tests.integration.conftest import bearer, eventually
from tests.support import id_number, member_request

FUZZ_COUNTY = "650102"
NEIGHBOUR = "650104"  # 新市区: where the fuzz county's member goes, and whence one comes
TAG = uuid.uuid4().hex[:6]


@dataclass
class Tally:
    """Requests made and the answers that are server faults, kept thread-safe (the HTTP fuzzer runs in a thread)."""

    requests: int = 0
    statuses: Counter[str] = dataclass_field(default_factory=Counter)
    faults: list[str] = dataclass_field(default_factory=list)
    by_target: dict[str, Counter[str]] = dataclass_field(default_factory=dict)
    _lock: threading.Lock = dataclass_field(default_factory=threading.Lock, repr=False)

    def saw(self, target: str, status: str, fault: str | None = None) -> None:
        """Count one answer of a method or operation; ``fault`` describes it when it is a server fault."""
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1
            self.by_target.setdefault(target, Counter())[status] += 1
            if fault is not None:
                self.faults.append(fault)

    def never(self, status: str) -> list[str]:
        """The methods or operations that never answered ``status`` (e.g. never OK: the fuzz did not get past)."""
        return sorted(t for t, seen in self.by_target.items() if not seen[status])

    def report(self, what: str) -> str:
        """One line for the log: how many requests, and how many faults."""
        common = ", ".join(f"{k}: {v}" for k, v in self.statuses.most_common(8))
        return f"{what}: {self.requests} requests, {len(self.faults)} server faults ({common})"


_worlds: dict[str, dict[str, Any]] = {}


async def fuzz_world(platform: Any, issuer: TokenIssuer) -> dict[str, Any]:
    """Tokens of the fuzz county (a county admin, a member, an analyst of its province) and real objects of it (a
    branch, a member with a flow, an applicant, a meeting, an appointment, a membership of a member flowing in from
    the next county), so that some fuzzed requests reach past the look-up into the use case; built once a session.
    """
    if "world" in _worlds:
        return _worlds["world"]
    admin = issuer.issue(user=f"fuzz-admin-{FUZZ_COUNTY}", role=Role.COUNTY_ADMIN, scope=FUZZ_COUNTY,
                         tenant=FUZZ_COUNTY)[0]
    neighbour = issuer.issue(user=f"fuzz-admin-{NEIGHBOUR}", role=Role.COUNTY_ADMIN, scope=NEIGHBOUR,
                             tenant=NEIGHBOUR)[0]
    md = bearer(admin)
    orgs = platform.organizations_stub
    roots = await orgs.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=md)
    root = roots.orgs[0].id if roots.orgs else (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        name=f"中共模糊区委{TAG}", kind=orgs_pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
    town = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        parent_id=root, name=f"模糊街道党工委{TAG}", kind=orgs_pb.ORG_KIND_TOWNSHIP_COMMITTEE), metadata=md)).org.id
    branch = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        parent_id=town, name=f"模糊社区党支部{TAG}", kind=orgs_pb.ORG_KIND_COMMUNITY_BRANCH), metadata=md)).org.id
    member = (await platform.registry_stub.CreateMember(member_request(FUZZ_COUNTY), metadata=md)).member.id
    flow = (await platform.registry_stub.RegisterFlow(flows_pb.RegisterFlowRequest(
        member_id=member, destination_code=NEIGHBOUR, address="乌鲁木齐市新市区", industry="建筑",
        employer="新疆建工", start_date="2024-03-01", expected_months=12), metadata=md)).flow.id
    meeting = (await orgs.ScheduleMeeting(orgs_pb.ScheduleMeetingRequest(
        org_id=branch, type=orgs_pb.MEETING_TYPE_PARTY_LECTURE, title="党课", place="社区党群服务中心",
        start_time={"seconds": 1714525200}), metadata=md)).meeting.id
    appointment = (await orgs.AppointOfficer(orgs_pb.AppointOfficerRequest(
        org_id=branch, position=orgs_pb.OFFICER_POSITION_SECRETARY, name="支部书记", phone="13800000000",
        start_date="2024-01-01"), metadata=md)).appointment.id
    # A member of the next county flows into this one: its temporary membership is this county's to handle.
    incoming = (await platform.registry_stub.CreateMember(member_request(NEIGHBOUR), metadata=bearer(neighbour)))
    await platform.registry_stub.RegisterFlow(flows_pb.RegisterFlowRequest(
        member_id=incoming.member.id, destination_code=FUZZ_COUNTY, address="乌鲁木齐市天山区", industry="建筑",
        employer="新疆建工", start_date="2024-03-01", expected_months=12), metadata=bearer(neighbour))
    applicant: list[str] = []

    async def applied() -> bool:
        # The registry learns of the branch from the organisations' events; an applicant needs it there.
        try:
            reply = await platform.registry_stub.CreateApplicant(dev_pb.CreateApplicantRequest(
                name="模糊申请人", id_number=id_number(FUZZ_COUNTY), application_date="2021-01-10",
                home_org_id=branch, mentors=[dev_pb.MentorInput(name="王德胜", side="HOME")]), metadata=md)
        except grpc.aio.AioRpcError:
            return False
        applicant.append(reply.applicant.id)
        return True

    async def placed() -> Any:
        reply = await orgs.ListMemberships(orgs_pb.ListMembershipsRequest(), metadata=md)
        return reply.memberships[0].id if reply.memberships else None

    await eventually(applied)
    membership = await eventually(placed)
    member_token = issuer.issue(user="fuzz-member", role=Role.MEMBER, scope=FUZZ_COUNTY, tenant=FUZZ_COUNTY,
                                member=member)[0]
    analyst = issuer.issue(user="fuzz-analyst", role=Role.PROVINCE_ANALYST, scope=FUZZ_COUNTY[:2])[0]
    _worlds["world"] = {
        "tokens": {Role.COUNTY_ADMIN: admin, Role.MEMBER: member_token, Role.PROVINCE_ANALYST: analyst},
        "objects": {"tenant": FUZZ_COUNTY, "org_id": branch, "member_id": member, "flow_id": flow,
                    "applicant_id": applicant[0], "meeting_id": meeting, "appointment_id": appointment,
                    "membership_id": str(membership), "township_id": town},
    }
    return _worlds["world"]


# --- Requests built from protobuf descriptors -------------------------------------------------------------------

INT32 = (-(2**31), -1, 0, 1, 2**31 - 1)
INT64 = (-(2**63), -(2**31) - 1, -1, 0, 1, 2**31, 2**53 + 1, 2**63 - 1)
UINT32 = (0, 1, 2**31, 2**32 - 1)
UINT64 = (0, 1, 2**63, 2**64 - 1)
# Timestamp seconds at and beyond the range a Timestamp may hold (0001-01-01 … 9999-12-31).
TIMESTAMP_SECONDS = (-62135596800, -62135596801, 0, 253402300799, 253402300800, -(2**63), 2**63 - 1)
DATES = ("2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31", "10000-01-01", "2024-13-01", "2024-1-1",
         "20240101", "2024-01-01T00:00:00+14:00", "-2024-01-01", "２０２４-０１-０１")
NASTY = ("", " ", "\x00", "a\x00b", "\x07\x1b[31m", "\u202e", "\ufeff", "\U0001f600", "=1+1", "@SUM(A1)",
         "' OR 1=1 --", "%00", "\\u0000", "null", "NaN", "-1", "99999999999999999999")
# Very long text, built when drawn: a strategy holding the strings themselves would print megabytes in its repr.
LONG = (("😀", 300), ("名", 5000), ("x", 70000))


def _forged(parts: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


# Page tokens a caller forged: well-formed base64 JSON whose parts the kit could never have made.
FORGED_PAGE_TOKENS = tuple(_forged(p) for p in (
    ["0001-01-01T00:00:00+14:00", str(uuid.UUID(int=1))], ["9999-12-31T23:59:59-14:00", str(uuid.UUID(int=1))],
    ["2024-01-01T00:00:00", str(uuid.UUID(int=1))], ["2024-01-01T00:00:00+00:00", "not-a-uuid"],
    ["2024-01-01T00:00:00+00:00", "\u0000"], ["a\u0000", "b"], ["\ud800", "b"], ["x" * 3000, "b"], [1, 2],
    ["2024-13-45", "b"], ["a"], {"a": 1}, "text", None))


def _text() -> st.SearchStrategy[str]:
    """Plausible text as often as hostile: unicode without surrogates (protobuf strings are UTF-8), NUL and control
    characters, dates of every shape, very long text."""
    plausible = st.text(st.sampled_from("张王李赵建国秀英党支部村镇社区 abcXYZ0123456789-_."), max_size=20)
    any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
    controls = st.text(st.characters(min_codepoint=0, max_codepoint=0x9F), min_size=1, max_size=8)
    long = st.sampled_from(LONG).map(lambda piece: piece[0] * piece[1])
    return st.one_of(plausible, plausible, st.sampled_from(DATES), st.sampled_from(NASTY), long, any_text, controls,
                     st.builds(lambda a, b: a + "\x00" + b, plausible, any_text))


def message_strategy(descriptor: Any, *, known: dict[str, list[str]], depth: int = 0) -> st.SearchStrategy[Any]:
    """Messages of ``descriptor``'s type: every field absent or set to a value chosen to break it.

    ``known`` maps a field name to real values (ids of the fuzz county's objects) so that a request sometimes gets
    past the look-up; one member of each oneof is set at most.
    """
    cls = message_factory.GetMessageClass(descriptor)
    if descriptor.full_name == "google.protobuf.Timestamp":
        return st.builds(lambda s, n: cls(seconds=s, nanos=n), st.one_of(st.sampled_from(TIMESTAMP_SECONDS),
                                                                         st.integers(1_600_000_000, 1_900_000_000),
                                                                         st.integers(-(2**63), 2**63 - 1)),
                         st.sampled_from((0, 999_999_999, -1, 1_000_000_000)))
    if descriptor.full_name == "google.protobuf.FieldMask":
        return st.builds(lambda paths: cls(paths=paths), st.lists(_text(), max_size=3))
    plain = [f for f in descriptor.fields if f.containing_oneof is None]
    # Each field is set three times in four, so that a request often carries what its method needs.
    fields = {f.name: st.one_of(st.none(), *[_field(f, known=known, depth=depth)] * 3) for f in plain}
    oneofs = [st.one_of(st.none(), *[st.tuples(st.just(f.name), _field(f, known=known, depth=depth))
                                     for f in group.fields]) for group in descriptor.oneofs]

    def build(values: dict[str, Any], chosen: list[tuple[str, Any] | None]) -> Any:
        given = {k: v for k, v in values.items() if v is not None}
        given.update(dict(c for c in chosen if c is not None))
        return cls(**given)

    return st.builds(build, st.fixed_dictionaries(fields), st.tuples(*oneofs).map(list))


def _field(field: Any, *, known: dict[str, list[str]], depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return st.dictionaries(_scalar(key, known=known, depth=depth), _scalar(value, known=known, depth=depth),
                               max_size=3)
    one = _scalar(field, known=known, depth=depth)
    return st.lists(one, max_size=3 if depth < 2 else 1) if field.is_repeated else one


def _scalar(field: Any, *, known: dict[str, list[str]], depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        if depth >= 3:
            return st.just(message_factory.GetMessageClass(field.message_type)())
        return message_strategy(field.message_type, known=known, depth=depth + 1)
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        defined = st.sampled_from(numbers)
        return st.one_of(defined, defined, st.sampled_from([-1, max(numbers) + 1, 99, 2**31 - 1, -(2**31)]))
    if kind == FieldDescriptor.TYPE_STRING and field.name == "page_token":
        return st.one_of(st.sampled_from(FORGED_PAGE_TOKENS), _text())
    if kind == FieldDescriptor.TYPE_STRING:
        real = known.get(field.name, [])
        return st.one_of(st.sampled_from(real), st.sampled_from(real), _text()) if real else _text()
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.sampled_from((b"", b"\x00" * 10, b"\xff\xfe" * 10,
                                                                  b"PK\x03\x04" + b"\x00" * 40)))
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(st.sampled_from((0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e308)),
                         st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64))
    small = st.integers(-2, 3000)
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return st.one_of(small, st.sampled_from(INT32), st.integers(-(2**31), 2**31 - 1))
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.one_of(small, st.sampled_from(UINT32), st.integers(0, 2**32 - 1))
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.one_of(small, st.sampled_from(UINT64), st.integers(0, 2**64 - 1))
    return st.one_of(small, st.sampled_from(INT64), st.integers(-(2**63), 2**63 - 1))


def request_strategy(descriptor: Any, *, known: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """Requests of a method: two in three are a plausible request with one to three fields made hostile (so the
    hostile value reaches the use case behind the other checks), the rest hostile throughout."""
    seed = plausible(descriptor, known=known)
    names = [f.name for f in descriptor.fields]
    if not names:
        return st.just(seed)
    by_name = {f.name: f for f in descriptor.fields}

    def mutate(chosen: list[str], values: st.DataObject) -> Any:
        request = type(seed)()
        request.CopyFrom(seed)
        for name in chosen:
            request.ClearField(name)
            value = values.draw(_field(by_name[name], known=known, depth=1))
            _assign(request, by_name[name], value)
        return request

    mutated = st.builds(mutate, st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), st.data())
    return st.one_of(mutated, mutated, message_strategy(descriptor, known=known))


def _assign(message: Any, field: Any, value: Any) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        getattr(message, field.name).update(value)
    elif field.is_repeated:
        getattr(message, field.name).extend(value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(message, field.name).CopyFrom(value)
    else:
        setattr(message, field.name, value)


# Field values a clerk would send where the name alone does not tell (empty: leave it out).
CLERK = {"page_token": "", "online_link": "https://meeting.example.cn/1", "side": "HOME", "grade": "COMPETENT",
         "ethnicity": "汉族", "education": "大学本科", "update_mask": "occupation", "officer_id": "", "city_code": "",
         "delegated_org_name": "", "full_member_date": "", "birth_date": "", "leader_officer_id": "",
         "contact_phone": "13800000000", "code": "", "format": "", "timer": "", "industry": "建筑"}
# Enum values where the first defined one would be refused for reasons of its own (e.g. a second county committee).
CLERK_ENUMS = {"kind": "ORG_KIND_VILLAGE_BRANCH", "gender": "GENDER_UNSPECIFIED",
               "membership_status": "MEMBERSHIP_STATUS_FULL"}


def plausible(descriptor: Any, *, known: dict[str, list[str]], depth: int = 0) -> Any:
    """A request a clerk could have sent, guessed from its field names and types."""
    message = message_factory.GetMessageClass(descriptor)()
    if descriptor.full_name == "google.protobuf.Timestamp":
        message.seconds = 1714525200  # 2024-05-01 09:00 +08:00
        return message
    for field in descriptor.fields:
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name):
            continue
        value = _plausible_value(field, known=known, depth=depth)
        if value is None or value == "":
            continue
        _assign(message, field, [value] if field.is_repeated else value)
    return message


def _plausible_value(field: Any, *, known: dict[str, list[str]], depth: int) -> Any:
    name, kind = field.name, field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.GetOptions().map_entry or depth >= 3:
            return None
        return plausible(field.message_type, known=known, depth=depth + 1)
    if kind == FieldDescriptor.TYPE_ENUM:
        by_name = field.enum_type.values_by_name
        if CLERK_ENUMS.get(name) in by_name:
            return by_name[CLERK_ENUMS[name]].number
        defined = [v.number for v in field.enum_type.values if v.number]
        return defined[0] if defined else 0
    if kind == FieldDescriptor.TYPE_BOOL:
        return False
    if kind == FieldDescriptor.TYPE_BYTES:
        return b"name,id_number\n"
    if kind != FieldDescriptor.TYPE_STRING:
        return {"year": 2024, "version": 1, "page_size": 10, "expected_months": 12}.get(name, 1)
    if name in CLERK:
        return CLERK[name]
    if name in known:
        return known[name][0]
    if name.endswith("_id") or name.endswith("_ids") or name == "id":
        return known.get("id", [""])[0]
    if "date" in name or name.endswith("_on") or name.endswith("_month"):
        return "2024-03" if name.endswith("_month") else "2024-03-01"
    if name == "phone":
        return "13800000000"
    if name.endswith("_code") or name == "scope":
        return FUZZ_COUNTY
    if name == "request_id":
        return str(uuid.uuid4())
    return f"模糊{name}"
