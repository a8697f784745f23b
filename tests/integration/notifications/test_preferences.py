"""A person's notification preferences on real PostgreSQL through gRPC: defaults, a round trip with contacts sealed
and answered masked, the rules (the inbox stays on, urgent categories never digested, times, e-mail, phone) and
the seat a login saved at, which the delivery side reads through seat_users."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.preferences import service as preferences
from jinqiao.notifications.preferences.domain import Category
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.support import field_violations

COUNTY = "650652"
OTHER = "650653"


def login(issuer: Any, *, role: Role = Role.STATION_STAFF, org: str | None = None,
          county: str = COUNTY) -> tuple[str, tuple[tuple[str, str], ...]]:
    user = f"pref-{uuid.uuid4().hex[:8]}"
    return user, bearer(issuer.issue(user=user, role=role, scope=county, org=org)[0])


def choice(category: str, *channels: tuple[int, bool], digest: bool = False) -> pb.CategoryPreference:
    return pb.CategoryPreference(category=category, digest=digest,
                                 channels=[pb.ChannelChoice(channel=c, enabled=e) for c, e in channels])


async def test_defaults_when_nothing_was_chosen(platform: Any, issuer: Any) -> None:
    _, caller = login(issuer, org=str(uuid.uuid4()))
    got = (await platform.notifications_stub.GetNotificationPreferences(
        pb.GetNotificationPreferencesRequest(), metadata=caller)).preferences
    assert (got.quiet_hours_enabled, got.quiet_start, got.quiet_end, got.digest_time) == (True, "22:00", "07:00",
                                                                                         "08:00")
    by_category = {c.category: c for c in got.categories}
    assert set(by_category) == {c.value for c in Category}
    assert by_category["overdue"].urgent and by_category["overdue"].label == "报到逾期预警"
    assert by_category["meeting"].digest and not by_category["flow"].digest
    flow = {c.channel: c.enabled for c in by_category["flow"].channels}
    assert flow == {pb.CHANNEL_IN_APP: True, pb.CHANNEL_EMAIL: True, pb.CHANNEL_SMS: True, pb.CHANNEL_WEBHOOK: False}
    assert (got.email_masked, got.phone_masked) == ("", "")


async def test_round_trip_answers_contacts_masked_and_seals_them(platform: Any, issuer: Any, admin_conn_factory: Any,
                                                                 make_deps: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    user, caller = login(issuer, org=org)
    saved = (await stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
        categories=[choice("loan", (pb.CHANNEL_SMS, False)), choice("reminder", digest=True),
                    choice("meeting", (pb.CHANNEL_EMAIL, False))],
        quiet_hours_enabled=True, quiet_start="21:30", quiet_end="06:45", digest_time="09:15",
        email="Wang.Fang@Example.com", phone="138 0013 8000"), metadata=caller)).preferences
    assert (saved.email_masked, saved.phone_masked) == ("W***@example.com", "138****8000")
    assert (saved.quiet_start, saved.quiet_end, saved.digest_time) == ("21:30", "06:45", "09:15")
    got = (await stub.GetNotificationPreferences(pb.GetNotificationPreferencesRequest(), metadata=caller)).preferences
    assert got == saved
    by_category = {c.category: c for c in got.categories}
    assert {c.channel: c.enabled for c in by_category["loan"].channels}[pb.CHANNEL_SMS] is False
    assert by_category["reminder"].digest and not by_category["meeting"].digest

    conn = await admin_conn_factory("notifications")
    row = await conn.fetchrow("SELECT * FROM people WHERE tenant_id = $1 AND address = $2", COUNTY, f"user:{user}")
    assert b"Wang" not in bytes(row["email_enc"]) and b"13800138000" not in bytes(row["phone_enc"])
    assert (row["role"], row["org_id"]) == ("station_staff", org)
    audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2 AND actor = $3",
                                COUNTY, "preferences.update", user)
    assert audit == 1

    # What the delivery side reads: choices with the window, and the contact opened only with its exact binding.
    deps = make_deps()
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        choices = await preferences.choices_for(uow, address=f"user:{user}")
        contact = await preferences.contact_for(uow, address=f"user:{user}")
        nobody = await preferences.contact_for(uow, address="user:nobody-here")
    assert not choices.wants(Category.LOAN, Channel.SMS) and choices.wants(Category.LOAN, Channel.IN_APP)
    assert choices.quiet is not None and (choices.quiet.start, choices.quiet.end) == (time(21, 30), time(6, 45))
    assert choices.digest_time == time(9, 15) and Category.REMINDER in choices.digest
    assert contact is not None and nobody is None and contact.email_sealed is not None
    assert deps.cipher.decrypt(contact.email_sealed, tenant=COUNTY, table="people", column="email_enc",
                               row=f"user:{user}") == "Wang.Fang@example.com"

    # Keeping and clearing: an empty address keeps the stored one, clear_* removes it.
    kept = (await stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
        quiet_hours_enabled=False, clear_phone=True), metadata=caller)).preferences
    assert (kept.email_masked, kept.phone_masked, kept.quiet_hours_enabled) == ("W***@example.com", "", False)
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        assert (await preferences.choices_for(uow, address=f"user:{user}")).quiet is None


async def test_the_inbox_cannot_be_turned_off(platform: Any, issuer: Any) -> None:
    _, caller = login(issuer, org=str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
            categories=[choice("flow", (pb.CHANNEL_IN_APP, False))], quiet_hours_enabled=True), metadata=caller)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"categories[0].channels[0].enabled"}


async def test_an_urgent_category_in_the_digest_is_refused(platform: Any, issuer: Any) -> None:
    _, caller = login(issuer, org=str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
            categories=[choice("meeting", digest=True), choice("overdue", digest=True)], quiet_hours_enabled=True),
            metadata=caller)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(err.value)
    assert set(violations) == {"categories[1].digest"} and "每日摘要" in violations["categories[1].digest"]


async def test_bad_times_email_phone_and_categories_are_named_together(platform: Any, issuer: Any) -> None:
    _, caller = login(issuer, org=str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
            categories=[choice("gossip"), choice("loan", (pb.CHANNEL_UNSPECIFIED, True))],
            quiet_hours_enabled=True, quiet_start="25:00", quiet_end="7点", digest_time="08:61",
            email="not-an-address", phone="12345"), metadata=caller)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"categories[0].category", "categories[1].channels[0].channel",
                                                "quiet_start", "quiet_end", "digest_time", "email", "phone"}
    # Nothing was saved.
    got = (await platform.notifications_stub.GetNotificationPreferences(
        pb.GetNotificationPreferencesRequest(), metadata=caller)).preferences
    assert got.quiet_start == "22:00"


async def test_seat_users_finds_a_login_that_saved_at_its_seat(platform: Any, issuer: Any, make_deps: Any) -> None:
    stub, org = platform.notifications_stub, str(uuid.uuid4())
    user, caller = login(issuer, role=Role.TOWNSHIP_OFFICER, org=org)
    elsewhere, other_caller = login(issuer, role=Role.TOWNSHIP_OFFICER, org=org, county=OTHER)
    admin, admin_caller = login(issuer, role=Role.COUNTY_ADMIN)
    for who in (caller, other_caller, admin_caller):
        await stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
            quiet_hours_enabled=True, email=f"{uuid.uuid4().hex[:6]}@example.cn"), metadata=who)
    deps = make_deps()
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        assert await preferences.seat_users(uow, role="township_officer", org=org) == [f"user:{user}"]
        assert f"user:{admin}" in await preferences.seat_users(uow, role="county_admin", org=COUNTY)
        assert await preferences.seat_users(uow, role="station_staff", org=org) == []
    async with deps.db.unit_of_work(tenant=OTHER) as uow:
        assert await preferences.seat_users(uow, role="township_officer", org=org) == [f"user:{elsewhere}"]


async def test_a_member_saves_under_their_own_address(platform: Any, issuer: Any, make_deps: Any) -> None:
    member_id = str(uuid.uuid4())
    caller = bearer(issuer.issue(user=f"m-{member_id[:8]}", role=Role.MEMBER, scope=COUNTY, member=member_id)[0])
    await platform.notifications_stub.UpdateNotificationPreferences(pb.UpdateNotificationPreferencesRequest(
        categories=[choice("repayment", (pb.CHANNEL_EMAIL, False))], quiet_hours_enabled=True, phone="13900139000"),
        metadata=caller)
    deps = make_deps()
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        choices = await preferences.choices_for(uow, address=f"member:{member_id}")
        contact = await preferences.contact_for(uow, address=f"member:{member_id}")
    assert not choices.wants(Category.REPAYMENT, Channel.EMAIL)
    assert contact is not None and contact.phone_masked == "139****9000" and contact.email_sealed is None
    # Another county holds nothing for the same member address.
    async with deps.db.unit_of_work(tenant=OTHER) as uow:
        assert await preferences.contact_for(uow, address=f"member:{member_id}") is None
