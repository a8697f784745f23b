"""Dead letters (issue 11): ids and page tokens from the wire, who reads the payload, who may manage them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import authz, deadletters, pagination
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import METHODS, Permission
from jinqiao.kit.broker import Subscription
from jinqiao.kit.errors import InvalidArgument
from jinqiao.operations.v1 import operations_pb2


def _letter(**changes: object) -> deadletters.DeadLetter:
    event = registry_events_pb2.MemberRegistered(member_id=str(uuid.uuid4()), township="城关镇")
    values: dict[str, object] = dict(
        tenant_id="411502", id=7, consumer="insights-member-counts",
        subject="jinqiao.411502.registry.member_registered", event_id=str(uuid.uuid4()),
        event_type="jinqiao.events.v1.MemberRegistered", headers={}, payload=event.SerializeToString(),
        error="FailedPrecondition: 不能应用", deliveries=1, created_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        replayed_at=None, replayed_by=None, replays=0, last_replay_at=None, last_replay_error=None)
    values.update(changes)
    return deadletters.DeadLetter(**values)  # type: ignore[arg-type]


async def _noop(*_: object) -> None:
    return None


SUBS = {"insights-member-counts": Subscription("insights-member-counts", "registry",
                                               registry_events_pb2.MemberRegistered, _noop)}


@pytest.mark.parametrize("value", ["1", "42", str(2**63 - 1)])
def test_a_letter_id_is_a_positive_decimal(value):
    assert deadletters.parse_letter_id(value) == int(value)


@pytest.mark.parametrize("value", ["", "0", "-1", "abc", " 1", "1 ", "1.0", "١٢", str(2**63), "9" * 40,
                                   str(uuid.uuid4())])
def test_anything_else_is_invalid_argument_naming_id(value):
    with pytest.raises(InvalidArgument) as caught:
        deadletters.parse_letter_id(value)
    assert [v.field for v in caught.value.violations] == ["id"]


def test_a_page_token_made_from_a_letter_names_its_position():
    letter = _letter()
    token = pagination.encode_key(letter.created_at.isoformat(), str(letter.id))
    assert deadletters._after(token) == (letter.created_at, 7)
    assert deadletters._after("") is None


@pytest.mark.parametrize("token", ["x", pagination.encode_key("yesterday", "1"), pagination.encode_key(
    "2026-05-01T08:00:00", "1"), pagination.encode_key("2026-05-01T08:00:00+00:00", "0"),
    pagination.encode_key("2026-05-01T08:00:00+00:00", "one"), "W" * 600, "W1s" * 400])
def test_a_page_token_the_kit_could_not_have_made_is_refused(token):
    with pytest.raises(InvalidArgument) as caught:
        deadletters._after(token)
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_only_the_platforms_operator_reads_the_decoded_event():
    letter = _letter()
    operator = Principal(user="operator:ops", role=Role.SERVICE, scope="411502", tenant="411502")
    admin = Principal(user="admin", role=Role.COUNTY_ADMIN, scope="411502", tenant="411502")
    shown = json.loads(deadletters._shown_payload(operator, letter, SUBS))
    assert shown["township"] == "城关镇"
    assert deadletters._shown_payload(admin, letter, SUBS) == ""


def test_a_payload_no_consumer_here_can_read_shows_nothing():
    assert deadletters.payload_json(_letter(consumer="gone"), SUBS) == ""
    assert deadletters.payload_json(_letter(payload=b"\xff\xfe"), SUBS) == ""


def test_the_wire_form_carries_the_reason_and_replay_state_but_no_payload_unless_given():
    replayed = datetime(2026, 5, 2, tzinfo=UTC)
    out = deadletters.to_proto(_letter(replayed_at=replayed, replayed_by="admin", replays=2))
    assert (out.id, out.reason, out.replayed_by, out.replays) == ("7", "FailedPrecondition: 不能应用", "admin", 2)
    assert out.replay_time.ToDatetime(tzinfo=UTC) == replayed and out.payload_json == ""
    assert not deadletters.to_proto(_letter()).HasField("replay_time")


def test_county_admins_and_the_operator_manage_dead_letters_and_nobody_else():
    holders = {role for role in Role if authz.allows(role, Permission.DEAD_LETTERS_MANAGE)}
    assert holders == {Role.COUNTY_ADMIN, Role.SERVICE}
    assert authz.scope(Role.COUNTY_ADMIN, Permission.DEAD_LETTERS_MANAGE) is authz.Reach.COUNTY
    assert Permission.DEAD_LETTERS_MANAGE not in authz.GRANTABLE


def test_every_method_of_the_service_names_its_permission():
    service = operations_pb2.DESCRIPTOR.services_by_name["DeadLetterService"]
    for method in service.methods:
        assert METHODS[f"/{deadletters.PROTO_SERVICE}/{method.name}"] is Permission.DEAD_LETTERS_MANAGE


def test_the_services_that_consume_events_serve_dead_letters():
    assert [e.name for e in deadletters.consuming_services()] == ["registry", "organizations", "insights", "desk",
                                                                       "notifications"]
    assert deadletters.serves("insights") and deadletters.serves("desk") and deadletters.serves("notifications")
    assert not deadletters.serves("gateway")
