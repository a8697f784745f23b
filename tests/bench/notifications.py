"""The notifications' figure: one notice fanned out to 1,000 members by e-mail (each with an address), through
``notify`` and the delivery worker to a local aiosmtpd server, beside the floor: 1,000 raw aiosmtplib sends to the
same server in the same run.

``python -m tests.bench.run notifications`` runs it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.migrations import migrate
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.settings import KitSettings
from jinqiao.notifications.channels import service as channels_service
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deliveries import service as delivery_service
from jinqiao.notifications.deliveries.domain import Notice
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.directory.domain import Recipient, member_address

COUNTY = "411525"
RECIPIENTS = 1_000
# The worker sends this many at once per county (as channels' adapters do, one SMTP session per message).
FLOOR_CONCURRENCY = 16
# 10:00 in Beijing: outside quiet hours, so nothing waits.
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


class _Counter:
    """An aiosmtpd handler that accepts everything and counts the messages."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 Message accepted for delivery"


async def _seed_people(admin_dsn: str, cipher: FieldCipher) -> list[Recipient]:
    """1,000 members who gave an e-mail address (sealed as the preferences concept seals it)."""
    people, recipients = [], []
    for i in range(RECIPIENTS):
        address = member_address(str(uuid.uuid4()))
        mailbox = f"member{i:04d}@example.com"
        sealed = cipher.encrypt(mailbox, tenant=COUNTY, table="people", column="email_enc", row=address)
        people.append((COUNTY, address, "member", "", f"党员{i}", sealed, "m***@example.com"))
        recipients.append(Recipient(address=address, tenant=COUNTY, label=f"党员{i}"))
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute("TRUNCATE deliveries, inbox_marks, preferences, people, channel_settings")
    await conn.copy_records_to_table("people", records=people, columns=[
        "tenant_id", "address", "role", "org_id", "display_name", "email_enc", "email_masked"])
    await conn.execute("ANALYZE people")
    await conn.close()
    return recipients


async def _floor(host: str, port: int) -> float:
    """1,000 raw aiosmtplib sends (one session each, 16 at once); returns the seconds taken."""
    gate = asyncio.Semaphore(FLOOR_CONCURRENCY)

    async def one(i: int) -> None:
        mail = EmailMessage()
        mail["From"] = "金桥 <notice@jinqiao.test>"
        mail["To"] = f"member{i:04d}@example.com"
        mail["Subject"] = "流动党员活动证即将到期"
        mail.set_content("张三同志：您的流动党员活动证将于 2026-12-31 到期，请及时办理。", charset="utf-8")
        async with gate:
            await aiosmtplib.send(mail, hostname=host, port=port, timeout=10)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(RECIPIENTS)))
    return time.perf_counter() - started


async def bench_notifications(*, box_admin_dsn: str, base: KitSettings) -> None:
    """The notifications section: the fan-out through notify and the worker beside raw SMTP sends."""
    db_info = await provision_service_database(admin_dsn=box_admin_dsn, service="notifications",
                                               app_password="bench")
    await migrate(service="notifications", admin_dsn=db_info.admin_dsn_for_db, owner_role=db_info.owner_role)
    cipher = FieldCipher.from_settings(base)
    recipients = await _seed_people(db_info.admin_dsn_for_db, cipher)
    counter = _Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    db = await Database.connect(db_info.app_dsn, min_size=2, max_size=4)
    deps = NotificationsDeps(db=db, cipher=cipher, clock=lambda: NOW)
    try:
        await channels_service.update_setting(
            deps=deps, principal=Principal(user="bench", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY),
            channel=int(Channel.EMAIL), enabled=True, rate_per_minute=100_000,
            settings={"host": "127.0.0.1", "port": str(smtp.port), "security": "none",
                      "sender": "notice@jinqiao.test", "sender_name": "金桥"})
        print(f"\nnotifications: one notice to {RECIPIENTS:,} members by e-mail (in-app + e-mail rows), "
              f"local aiosmtpd, batch {deps.batch}")
        raw = await _floor("127.0.0.1", smtp.port)
        floor_rate = RECIPIENTS / raw
        print(f"  floor: raw aiosmtplib sends         {raw:8.2f} s   {floor_rate:>7.0f} mails/s")
        counter.received = 0
        notice = Notice(source_key=str(uuid.uuid4()), kind="certificate_expiring",
                        facts={"member_name": "张三", "due_date": "2026-12-31"}, link="/m/flows")
        started = time.perf_counter()
        async with db.unit_of_work(tenant=COUNTY) as uow:
            inserted = await delivery_service.notify(uow, deps=deps, notice=notice, recipients=recipients, now=NOW)
            await uow.commit()
        fanned = time.perf_counter() - started
        passes = 0
        while await delivery_service.send_due_all_tenants(deps=deps, now=NOW):
            passes += 1
        elapsed = time.perf_counter() - started
        platform_rate = counter.received / elapsed
        print(f"  notify (fan-out, {inserted:,} rows)       {fanned:8.2f} s   {inserted / fanned:>7.0f} rows/s")
        print(f"  platform: notify + worker          {elapsed:8.2f} s   {platform_rate:>7.0f} deliveries/s "
              f"({counter.received:,} mails received, {passes} worker passes)")
        print(f"  ratio platform/floor: throughput {platform_rate / floor_rate:.2f}x")
    except Exception as err:  # an unfinished concept must not abort the other figures
        print(f"\nnotifications fan-out   skipped: {err!r}")
    finally:
        await db.close()
        smtp.stop()
