"""The steps every use case shares: the caller's county, ids from the wire, recording an act."""

from __future__ import annotations

import uuid

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import usecases
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.errors import InvalidArgument, NotFound


def principal(tenant: str | None) -> Principal:
    return Principal(user="u", role=Role.COUNTY_ADMIN if tenant else Role.PROVINCE_ANALYST,
                     scope=tenant or "41", tenant=tenant)


def test_a_token_acting_on_a_county_gives_that_county():
    assert usecases.require_tenant(principal("411525")) == "411525"


def test_a_token_without_a_county_finds_nothing():
    with pytest.raises(NotFound):
        usecases.require_tenant(principal(None))


def test_an_id_is_returned_in_canonical_form():
    value = uuid.uuid4()
    assert usecases.parse_id(str(value).upper()) == str(value)


@pytest.mark.parametrize("bad", ["", "42", "not-a-uuid", "../../etc/passwd", "1" * 100])
def test_a_malformed_path_id_names_nothing(bad):
    with pytest.raises(NotFound) as caught:
        usecases.parse_id(bad, what="该党员")
    assert caught.value.message == "未找到该党员"


def test_a_malformed_body_id_names_its_field():
    with pytest.raises(InvalidArgument) as caught:
        usecases.parse_id("x", field="org_id")
    assert [v.field for v in caught.value.violations] == ["org_id"]


def test_an_event_id_that_is_not_a_uuid_is_none():
    assert usecases.parse_id_or_none("nope") is None
    assert usecases.parse_id_or_none(str(uuid.UUID(int=5))) == str(uuid.UUID(int=5))


class FakeUnitOfWork:
    """Collects what an act queues; the audit row goes through a real-shaped connection stub."""

    tenant = "411525"

    def __init__(self) -> None:
        self.events: list[object] = []
        self.conn = self

    def add_event(self, event: object) -> None:
        self.events.append(event)

    async def fetchrow(self, *args: object) -> None:
        return None

    async def execute(self, sql: str, *args: object) -> None:
        self.audit = args

    def append_audit(self, row: tuple[object, ...]) -> None:
        self.audit = row


async def test_an_act_queues_its_event_and_appends_its_audit_row():
    uow = FakeUnitOfWork()
    member_id = str(uuid.uuid4())
    await usecases.record_act(uow, principal("411525"), service="registry", action="member.create",  # type: ignore[arg-type]
                              object_type="member", object_id=member_id,
                              event=registry_events_pb2.MemberRegistered(member_id=member_id), aggregate_version=3,
                              saga_trace="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    (pending,) = uow.events
    assert pending.subject == "jinqiao.411525.registry.member_registered"  # type: ignore[attr-defined]
    assert pending.traceparent.split("-")[1] == "a" * 32  # type: ignore[attr-defined]
    assert uow.audit[0] == "411525" and uow.audit[3:8] == ("u", "county_admin", "member.create", "member", member_id)


async def test_an_act_without_an_event_only_audits():
    uow = FakeUnitOfWork()
    await usecases.record_act(uow, principal("411525"), service="registry", action="member.reveal",  # type: ignore[arg-type]
                              object_type="member", object_id="m", reason="核对身份")
    assert uow.events == [] and uow.audit[8] == "核对身份"
