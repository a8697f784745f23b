"""Deliveries end to end on the real database and a real local SMTP server: quiet hours, retries and bounces, the
digest, idempotency, rate limits, and the county's delivery log (ListDeliveries, RetryDelivery)."""

from __future__ import annotations

import email
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header

import grpc
import pytest

from jinqiao.kit.auth import Principal, Role
from jinqiao.notifications.channels import service as channels_service
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deliveries import service as delivery_service
from jinqiao.notifications.deliveries import timers as delivery_timers
from jinqiao.notifications.deliveries.domain import MAX_ATTEMPTS, Notice, Status, backoff
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory.domain import Officer, Recipient, member_address, seat_address
from jinqiao.notifications.preferences import service as preferences_service
from jinqiao.notifications.preferences.domain import CategoryInput
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.support import field_violations

# 23:00 on 10 December 2026 in Beijing, and the morning after.
NIGHT = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
SEVEN = datetime(2026, 12, 10, 23, 0, tzinfo=UTC)
# 10:00 on 10 December 2026 in Beijing: outside quiet hours.
MORNING = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
REMINDER = {"member_name": "张三", "due_date": "2026-12-31"}
OVERDUE = {"member_name": "张三", "level": "1", "level_label": "村（社区）联络员", "due_date": "2026-11-20",
           "destination": "福安市", "org_name": "段集镇某村党支部"}
MEETING = {"org_name": "福安市城南临时党支部", "title": "十二月主题党日", "meeting_type": "主题党日",
           "start_time": "2026-12-10 19:30"}


def admin(county: str) -> Principal:
    """The county department's administrator."""
    return Principal(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county, tenant=county)


async def configure_email(deps: NotificationsDeps, county: str, smtp, *, rate: int = 600) -> None:
    """The county's e-mail channel pointed at the local SMTP server."""
    await channels_service.update_setting(
        deps=deps, principal=admin(county), channel=int(Channel.EMAIL), enabled=True,
        settings={"host": smtp.host, "port": str(smtp.port), "security": "none", "sender": "notice@jinqiao.test",
                  "sender_name": "金桥"}, rate_per_minute=rate)


async def member_with_email(deps: NotificationsDeps, county: str, *, mailbox: str = "",
                            categories: tuple[CategoryInput, ...] = (), digest_time: str = "08:00") -> Recipient:
    """A member who gave an e-mail address (and chose ``categories``); their recipient."""
    member_id = str(uuid.uuid4())
    principal = Principal(user=f"m-{member_id[:8]}", role=Role.MEMBER, scope=county, tenant=county, member=member_id)
    await preferences_service.update_preferences(deps=deps, principal=principal, given=preferences_service.
                                                 PreferencesInput(categories=categories, quiet_enabled=True,
                                                                  quiet_start="22:00", quiet_end="07:00",
                                                                  digest_time=digest_time,
                                                                  email=mailbox or f"m{member_id[:8]}@example.com"))
    return Recipient(address=member_address(member_id), tenant=county, label="张三")


async def tell(deps: NotificationsDeps, county: str, *, kind: str, facts: dict[str, str],
               recipients: list[Recipient], now: datetime, source: str = "") -> int:
    """One notice through notify, committed."""
    notice = Notice(source_key=source or str(uuid.uuid4()), kind=kind, facts=facts, link="/m/flows")
    async with deps.db.unit_of_work(tenant=county) as uow:
        inserted = await delivery_service.notify(uow, deps=deps, notice=notice, recipients=recipients, now=now)
        await uow.commit()
    return inserted


@pytest.fixture
async def rows(admin_conn_factory) -> Callable[..., object]:
    """The county's delivery rows (superuser view), oldest first."""
    conn = await admin_conn_factory("notifications")

    async def fetch(county: str, channel: Channel | None = None) -> list:
        return await conn.fetch(
            "SELECT * FROM deliveries WHERE tenant_id = $1 AND ($2::smallint IS NULL OR channel = $2)"
            " ORDER BY created_at, id", county, int(channel) if channel else None)

    return fetch


def subject_of(raw: bytes) -> str:
    """The decoded subject of a received message."""
    return str(make_header(decode_header(email.message_from_bytes(raw)["Subject"])))


async def test_quiet_hours_hold_a_message_until_seven_and_an_urgent_one_goes_at_once(make_deps, smtp_server,
                                                                                     rows) -> None:
    county = "650620"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    person = await member_with_email(deps, county)
    assert await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person], now=NIGHT) == 2
    inbox, mail = (await rows(county, Channel.IN_APP))[0], (await rows(county, Channel.EMAIL))[0]
    assert inbox["status"] == Status.DELIVERED and inbox["delivered_at"] == NIGHT
    assert mail["status"] == Status.QUEUED and mail["hold_reason"] == "quiet_hours"
    assert mail["next_attempt_at"] == SEVEN
    assert mail["destination_masked"].endswith("@example.com") and b"@example.com" not in mail["destination_enc"]

    await delivery_timers.sweep_all_tenants(deps=deps, now=SEVEN - timedelta(minutes=1))
    assert smtp_server.received == []
    assert (await rows(county, Channel.EMAIL))[0]["attempts"] == 0
    assert await delivery_timers.sweep_all_tenants(deps=deps, now=SEVEN) >= 1
    assert len(smtp_server.received) == 1
    assert "活动证" in subject_of(smtp_server.received[0].data)
    assert (await rows(county, Channel.EMAIL))[0]["status"] == Status.SENT

    # The same person, an urgent matter at 23:00: no quiet hours for it.
    await tell(deps, county, kind="check_in_overdue", facts=OVERDUE, recipients=[person], now=NIGHT)
    urgent = [r for r in await rows(county, Channel.EMAIL) if r["kind"] == "check_in_overdue"][0]
    assert urgent["hold_reason"] == "" and urgent["next_attempt_at"] == NIGHT
    await delivery_timers.sweep_all_tenants(deps=deps, now=NIGHT)
    assert len(smtp_server.received) == 2


async def test_a_transient_smtp_failure_is_retried_with_growing_waits_then_failed_and_retry_requeues_it(
        platform, issuer, make_deps, smtp_server, rows) -> None:
    county = "650621"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    person = await member_with_email(deps, county)
    smtp_server.refuse = "451 4.3.0 try later"
    await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person], now=MORNING)
    at, waits = MORNING, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await delivery_timers.sweep_all_tenants(deps=deps, now=at) >= 1
        row = (await rows(county, Channel.EMAIL))[0]
        assert row["attempts"] == attempt and "451" in row["last_error"]
        if attempt < MAX_ATTEMPTS:
            assert row["status"] == Status.QUEUED and row["hold_reason"] == "backoff"
            assert row["next_attempt_at"] == at + backoff(attempt)
            # Not before its time.
            await delivery_timers.sweep_all_tenants(deps=deps, now=row["next_attempt_at"] - timedelta(seconds=1))
            assert (await rows(county, Channel.EMAIL))[0]["attempts"] == attempt
            waits.append(row["next_attempt_at"] - at)
            at = row["next_attempt_at"]
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    failed = (await rows(county, Channel.EMAIL))[0]
    assert failed["status"] == Status.FAILED
    assert smtp_server.received == []

    token = issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]
    listed = await platform.notifications_stub.ListDeliveries(
        pb.ListDeliveriesRequest(status=pb.DELIVERY_STATUS_FAILED), metadata=bearer(token))
    assert [d.id for d in listed.deliveries] == [str(failed["id"])]
    answer = await platform.notifications_stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=str(failed["id"])),
                                                             metadata=bearer(token))
    assert answer.delivery.status == pb.DELIVERY_STATUS_QUEUED and answer.delivery.attempts == 0
    smtp_server.refuse = ""
    await delivery_timers.sweep_all_tenants(deps=deps, now=datetime.now(UTC) + timedelta(seconds=1))
    assert len(smtp_server.received) == 1
    assert (await rows(county, Channel.EMAIL))[0]["status"] == Status.SENT


async def test_a_refused_mailbox_bounces_at_once_and_only_a_dead_letter_can_be_retried(platform, issuer, make_deps,
                                                                                       smtp_server, rows) -> None:
    county = "650622"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    person = await member_with_email(deps, county)
    smtp_server.refuse = "550 5.1.1 no such user"
    await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person], now=MORNING)
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING)
    bounced = (await rows(county, Channel.EMAIL))[0]
    assert bounced["status"] == Status.BOUNCED and bounced["attempts"] == 1
    # Never tried again by the worker.
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING + timedelta(hours=2))
    assert (await rows(county, Channel.EMAIL))[0]["attempts"] == 1

    token = issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]
    requeued = await platform.notifications_stub.RetryDelivery(
        pb.RetryDeliveryRequest(delivery_id=str(bounced["id"])), metadata=bearer(token))
    assert requeued.delivery.status == pb.DELIVERY_STATUS_QUEUED
    # A queued (or sent) one is not a dead letter.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=str(bounced["id"])),
                                                        metadata=bearer(token))
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_the_same_notice_twice_inserts_no_new_rows(make_deps, smtp_server, rows) -> None:
    county = "650623"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    person = await member_with_email(deps, county)
    source = str(uuid.uuid4())
    assert await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person], now=MORNING,
                      source=source) == 2
    assert await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person, person],
                      now=MORNING + timedelta(minutes=3), source=source) == 0
    assert len(await rows(county)) == 2


async def test_a_rate_of_two_a_minute_sends_two_a_pass_and_leaves_the_rest_queued(make_deps, smtp_server,
                                                                                  rows) -> None:
    county = "650624"
    deps = make_deps()
    await configure_email(deps, county, smtp_server, rate=2)
    people = [await member_with_email(deps, county) for _ in range(5)]
    await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=people, now=MORNING)
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING)
    assert len(smtp_server.received) == 2
    mail = await rows(county, Channel.EMAIL)
    assert sorted(r["status"] for r in mail) == [Status.QUEUED] * 3 + [Status.SENT] * 2
    waiting = [r for r in mail if r["status"] == Status.QUEUED]
    assert {r["hold_reason"] for r in waiting} == {"rate_limit"} and {r["attempts"] for r in waiting} == {0}
    # Within the minute nothing more goes; after it, the next two.
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING + timedelta(seconds=30))
    assert len(smtp_server.received) == 2
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING + timedelta(seconds=61))
    assert len(smtp_server.received) == 4


async def test_a_digest_category_folds_three_messages_into_one_email_at_the_digest_time(make_deps, smtp_server,
                                                                                        rows) -> None:
    county = "650625"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    # Meetings go to the digest by default; this member reads it at 08:30.
    person = await member_with_email(deps, county, digest_time="08:30")
    for title in ("十二月主题党日", "支部委员会", "党课"):
        await tell(deps, county, kind="meeting_scheduled", facts={**MEETING, "title": title}, recipients=[person],
                   now=MORNING)
    held = await rows(county, Channel.EMAIL)
    due = datetime(2026, 12, 11, 0, 30, tzinfo=UTC)  # 08:30 on the 11th in Beijing
    assert [(r["hold_reason"], r["next_attempt_at"]) for r in held] == [("digest", due)] * 3
    assert len(await rows(county, Channel.IN_APP)) == 3  # the inbox has them at once

    await delivery_timers.sweep_all_tenants(deps=deps, now=due - timedelta(minutes=1))
    assert smtp_server.received == []
    await delivery_timers.sweep_all_tenants(deps=deps, now=due)
    assert len(smtp_server.received) == 1
    message = email.message_from_bytes(smtp_server.received[0].data)
    assert "每日摘要" in subject_of(smtp_server.received[0].data)
    text = message.get_payload(decode=True) if not message.is_multipart() else message.get_body().get_content()
    body = text.decode() if isinstance(text, bytes) else text
    assert all(title in body for title in ("十二月主题党日", "支部委员会", "党课"))
    mail = await rows(county, Channel.EMAIL)
    digest = [r for r in mail if r["kind"] == "digest"]
    assert len(digest) == 1 and digest[0]["status"] == Status.SENT
    folded = [r for r in mail if r["kind"] == "meeting_scheduled"]
    assert {r["status"] for r in folded} == {Status.DIGESTED} and {r["digest_id"] for r in folded} == {digest[0]["id"]}
    # The next pass sends nothing again.
    await delivery_timers.sweep_all_tenants(deps=deps, now=due + timedelta(minutes=5))
    assert len(smtp_server.received) == 1


async def test_a_channel_turned_off_is_a_skipped_row_and_a_person_without_an_address_gets_the_inbox_only(
        make_deps, smtp_server, rows) -> None:
    county = "650626"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    off = await member_with_email(deps, county, categories=(
        CategoryInput(category="reminder", channels=((int(Channel.EMAIL), False),), digest=False),))
    nobody = Recipient(address=member_address(str(uuid.uuid4())), tenant=county, label="李四")
    assert await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[off, nobody],
                      now=MORNING) == 3
    mail = await rows(county, Channel.EMAIL)
    assert [(r["recipient"], r["status"]) for r in mail] == [(off.address, Status.SKIPPED)]
    assert mail[0]["destination_enc"] is None and mail[0]["destination_masked"].endswith("@example.com")
    await delivery_timers.sweep_all_tenants(deps=deps, now=MORNING)
    assert smtp_server.received == []


async def test_a_seat_reaches_its_registered_logins_by_email_its_officers_by_sms_and_the_county_robot_once(
        make_deps, smtp_server, receiver, rows) -> None:
    county = "650627"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    await channels_service.update_setting(deps=deps, principal=admin(county), channel=int(Channel.WEBHOOK),
                                          enabled=True, settings={"kind": "json", "url": f"{receiver.url}/robot"},
                                          rate_per_minute=60)
    org = str(uuid.uuid4())
    login = Principal(user="town-650627", role=Role.TOWNSHIP_OFFICER, scope=county, tenant=county, org=org)
    await preferences_service.update_preferences(deps=deps, principal=login, given=preferences_service.
                                                 PreferencesInput(categories=(), quiet_enabled=True,
                                                                  quiet_start="22:00", quiet_end="07:00",
                                                                  digest_time="08:00", email="town@example.com"))
    appointment = str(uuid.uuid4())
    sealed = deps.cipher.encrypt("13800138000", tenant=county, table="dir_appointments", column="phone_enc",
                                 row=appointment)
    seat = Recipient(address=seat_address("township_officer", org), tenant=county, label="段集镇党委", org_id=org,
                     officers=(Officer(appointment_id=appointment, officer_id=str(uuid.uuid4()), name="王书记",
                                       position="SECRETARY", phone_sealed=sealed, phone_masked="138****8000"),))
    assert await tell(deps, county, kind="check_in_overdue", facts=OVERDUE, recipients=[seat], now=NIGHT) == 4
    found = {(r["channel"], r["recipient"].split(":")[0]): r for r in await rows(county)}
    assert found[(Channel.IN_APP, "seat")]["recipient"] == seat.address
    assert found[(Channel.EMAIL, "user")]["recipient"] == "user:town-650627"
    sms = found[(Channel.SMS, "officer")]
    assert found[(Channel.WEBHOOK, "county")]["destination_masked"] == "127.0.0.1"
    assert sms["destination_masked"] == "138****8000" and b"13800138000" not in sms["destination_enc"]
    # Urgent: no quiet-hours wait for the officer either.
    assert sms["next_attempt_at"] == NIGHT
    await delivery_timers.sweep_all_tenants(deps=deps, now=NIGHT)
    assert len(smtp_server.received) == 1 and smtp_server.received[0].recipients == ["town@example.com"]
    robot = (await rows(county, Channel.WEBHOOK))[0]
    assert robot["recipient"] == f"county:{county}" and robot["status"] in (Status.SENT, Status.DELIVERED)
    assert len(receiver.requests) == 1
    # No SMS gateway configured here: the officer's message waits and counts an attempt, it is not lost.
    unsent = [r for r in await rows(county, Channel.SMS)][0]
    assert unsent["status"] == Status.QUEUED and unsent["attempts"] == 1 and unsent["last_error"] == "渠道未配置"


async def test_list_deliveries_pages_newest_first_masked_with_totals_and_another_county_sees_none(
        platform, issuer, make_deps, smtp_server, rows) -> None:
    county, other = "650628", "650629"
    deps = make_deps()
    await configure_email(deps, county, smtp_server)
    person = await member_with_email(deps, county, mailbox="zhangsan@example.com")
    for minutes in range(3):
        await tell(deps, county, kind="certificate_expiring", facts=REMINDER, recipients=[person],
                   now=MORNING + timedelta(minutes=minutes))
    token = issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0]
    first = await platform.notifications_stub.ListDeliveries(
        pb.ListDeliveriesRequest(channel=pb.CHANNEL_EMAIL, page_size=2), metadata=bearer(token))
    assert len(first.deliveries) == 2 and first.next_page_token
    second = await platform.notifications_stub.ListDeliveries(
        pb.ListDeliveriesRequest(channel=pb.CHANNEL_EMAIL, page_size=2, page_token=first.next_page_token),
        metadata=bearer(token))
    listed = [*first.deliveries, *second.deliveries]
    assert len(listed) == 3 and not second.next_page_token
    assert [d.created_at for d in listed] == sorted((d.created_at for d in listed), reverse=True)
    assert {d.destination for d in listed} == {"z***@example.com"}
    assert all("zhangsan" not in str(d) for d in listed)
    assert {d.hold_reason for d in listed} == {""} and {d.status for d in listed} == {pb.DELIVERY_STATUS_QUEUED}
    totals = {t.status: t.count for t in first.totals}
    assert totals == {pb.DELIVERY_STATUS_QUEUED: 3, pb.DELIVERY_STATUS_DELIVERED: 3}

    stranger = issuer.issue(user=f"admin-{other}", role=Role.COUNTY_ADMIN, scope=other)[0]
    theirs = await platform.notifications_stub.ListDeliveries(pb.ListDeliveriesRequest(), metadata=bearer(stranger))
    assert list(theirs.deliveries) == [] and list(theirs.totals) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=listed[0].id),
                                                        metadata=bearer(stranger))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_bad_filters_and_ids_are_named_field_violations(platform, issuer) -> None:
    token = issuer.issue(user="admin-650628", role=Role.COUNTY_ADMIN, scope="650628")[0]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.ListDeliveries(
            pb.ListDeliveriesRequest(status=99, channel=42, kind="nonsense", page_size=-1), metadata=bearer(token))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {"status", "channel", "kind"} <= set(field_violations(err.value))
    for bad in ("", "not-a-uuid"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.notifications_stub.RetryDelivery(pb.RetryDeliveryRequest(delivery_id=bad),
                                                            metadata=bearer(token))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "delivery_id" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.ListDeliveries(pb.ListDeliveriesRequest(page_token="garbage"),
                                                         metadata=bearer(token))
    assert "page_token" in field_violations(err.value)
