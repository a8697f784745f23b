"""An import's rows and events, built a chunk at a time, are the per-row path's (members.new_member_row, new_event)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import pii
from jinqiao.kit.crypto import BlindIndex, FieldCipher, generate_key
from jinqiao.kit.events import new_event
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.imports import bulk
from jinqiao.registry.members import domain
from jinqiao.registry.members import service as members
from jinqiao.registry.members.models import MEMBERS

TENANT = "411527"
NOW = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def deps() -> RegistryDeps:
    return RegistryDeps(db=None, cipher=FieldCipher(keys={1: generate_key()}, active=1),  # type: ignore[arg-type]
                        blind_index=BlindIndex(generate_key()), clock=lambda: NOW)


def people() -> list[domain.NewMember]:
    """A member with every field, one without a phone or a branch, a probationary one."""
    def checked(sequence: int, **overrides: object) -> domain.NewMember:
        number = pii.make_id_number("411527", date(1980, 5, 6), sequence)
        fields_: dict[str, object] = {
            "name": "周国庆", "id_number": number, "phone": "13812345678", "membership_status": 2,
            "township": "城关镇", "village": "北街社区", "occupation": "外卖骑手", "join_date": "2012-07-01",
            "ethnicity": "汉族", "education": "大学本科", "home_branch_id": str(uuid.uuid4()),
            "household_address": "淮滨县城关镇北街 1 号", "full_member_date": "2013-07-01",
        }
        fields_.update(overrides)
        return members.validate(members.MemberInput(**fields_), today=NOW.date())  # type: ignore[arg-type]

    return [checked(1), checked(2, phone="", home_branch_id="", full_member_date=""),
            checked(3, membership_status=1, full_member_date="", join_date="2026-01-05")]


def test_rows_are_new_member_rows(deps: RegistryDeps) -> None:
    checked = people()
    bidx = [deps.blind_index.digest(m.id_number, purpose="id_number") for m in checked]
    rows = bulk.member_rows(checked, bidx=bidx, tenant=TENANT, cipher=deps.cipher, now=NOW)
    for member, row in zip(checked, rows, strict=True):
        expected = members.new_member_row(deps, tenant=TENANT, member=member, request_id=None, member_id=row.id)
        # The ciphertexts differ by their nonces: what they open to, bound to this very cell, must not.
        for column, bound in (("id_number_enc", "id_number"), ("phone_enc", "phone")):
            mine, theirs = getattr(row, column), getattr(expected, column)
            assert (mine is None) == (theirs is None)
            if mine is not None:
                bind = {"tenant": TENANT, "table": MEMBERS, "column": bound, "row": row.id}
                assert deps.cipher.decrypt(mine, **bind) == deps.cipher.decrypt(theirs, **bind)
        assert replace(row, id_number_enc=b"", phone_enc=None) == replace(expected, id_number_enc=b"", phone_enc=None)
        # The attrgetter follows MEMBER_FIELDS, as values() does.
        assert bulk.member_values(row) == row.values()


def test_events_are_new_events_of_the_same_messages(deps: RegistryDeps) -> None:
    checked = people()
    bidx = [deps.blind_index.digest(m.id_number, purpose="id_number") for m in checked]
    rows = bulk.member_rows(checked, bidx=bidx, tenant=TENANT, cipher=deps.cipher, now=NOW)
    records = bulk.registration_events(rows, tenant=TENANT, cipher=deps.cipher, now=NOW, traceparent=TRACEPARENT)
    assert len(records) == 2 * len(rows)
    for i, row in enumerate(rows):
        expected = [
            new_event(members.member_registered(row), service=SERVICE, tenant=TENANT, aggregate_id=row.id,
                      aggregate_version=row.version, traceparent=TRACEPARENT),
            new_event(members.sealed(members.member_profile(row), cipher=deps.cipher, tenant=TENANT, row=row),
                      service=SERVICE, tenant=TENANT, aggregate_id=row.id, aggregate_version=row.version,
                      traceparent=TRACEPARENT),
        ]
        for record, theirs, cls in zip(records[2 * i:2 * i + 2], expected,
                                       (registry_events_pb2.MemberRegistered,
                                        registry_events_pb2.MemberProfileChanged), strict=True):
            tenant, event_id, subject, kind, version, payload, traceparent = record
            assert (tenant, subject, kind, version, traceparent) == (
                theirs.tenant_id, theirs.subject, theirs.event_type, theirs.event_version, theirs.traceparent)
            mine, other = cls.FromString(payload), cls.FromString(theirs.payload)
            assert mine.meta.event_id == event_id and uuid.UUID(event_id).version == 4
            assert mine.meta.occur_time.ToDatetime(tzinfo=UTC) == NOW
            for message in (mine, other):
                message.meta.ClearField("event_id")
                message.meta.ClearField("occur_time")
            if cls is registry_events_pb2.MemberProfileChanged:
                bind = {"tenant": TENANT, "table": pii.PROFILE_SEAL_TABLE, "column": pii.PROFILE_SEAL_COLUMN,
                        "row": row.id}
                assert deps.cipher.decrypt(mine.birth_year_sealed, **bind) == str(row.birth_date.year)
                assert deps.cipher.decrypt(other.birth_year_sealed, **bind) == str(row.birth_date.year)
                mine.ClearField("birth_year_sealed")
                other.ClearField("birth_year_sealed")
            assert mine == other


def test_ids_are_random_version_4_uuids() -> None:
    texts = bulk.uuid4_texts(2000)
    parsed = [uuid.UUID(t) for t in texts]
    assert [str(p) for p in parsed] == texts
    assert {(p.version, p.variant) for p in parsed} == {(4, uuid.RFC_4122)}
    assert len(set(texts)) == 2000
    assert bulk.uuid4_texts(0) == []
