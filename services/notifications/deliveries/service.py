"""Deliveries' use cases: turning a notice into deliveries, the worker that sends them, the log."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from jinqiao.kit.auth import Principal
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jinqiao.kit.pagination import decode_cursor, encode_cursor, page_size
from jinqiao.kit.pii import mask_phone
from jinqiao.kit.usecases import parse_id, record_act, require_tenant
from jinqiao.notifications.channels import service as channels_service
from jinqiao.notifications.channels.domain import Channel, ChannelConfig, Outbound, Outcome, SendResult
from jinqiao.notifications.deliveries import repo
from jinqiao.notifications.deliveries.domain import (
    DIGEST_KIND,
    HOLD_RATE,
    LEASE,
    NOT_CONFIGURED,
    RATE_WINDOW,
    DigestItem,
    Hold,
    Notice,
    Status,
    after_outcome,
    compose_digest,
    county_recipient,
    hold_for,
    idempotency_key,
    mask_email,
    officer_recipient,
)
from jinqiao.notifications.deliveries.models import DELIVERIES, DESTINATION_BINDING, Claimed, DeliveryRow, NewDelivery
from jinqiao.notifications.deps import SERVICE, NotificationsDeps
from jinqiao.notifications.directory.domain import Recipient
from jinqiao.notifications.preferences import service as preferences_service
from jinqiao.notifications.preferences.domain import URGENT, Category, Choices, QuietHours
from jinqiao.notifications.templates import service as templates_service
from jinqiao.notifications.templates.domain import KINDS, Rendered

log = logging.getLogger(__name__)

# The sealed addresses the deliveries open to send: the preferences' people and the directory's officers.
_PEOPLE = "people"
_CONTACT_COLUMNS = {Channel.EMAIL: "email_enc", Channel.SMS: "phone_enc"}
_OFFICERS = "dir_appointments"
_OFFICER_PHONE = "phone_enc"
# Sends in flight at once per county and pass (SMTP sessions, HTTP requests).
_CONCURRENCY = 16
_WEBHOOK_LABEL = "本县群机器人/接口"
_ADAPTER_FAILED = "发送异常"


@dataclass(slots=True)
class _Plan:
    """A notice being turned into rows for one county: the texts rendered once per channel, the rows so far."""

    uow: UnitOfWork
    deps: NotificationsDeps
    notice: Notice
    category: Category
    urgent: bool
    now: datetime
    texts: dict[Channel, Rendered]
    rows: dict[str, NewDelivery]

    def allowed(self, channel: Channel) -> bool:
        """Whether the notice may use ``channel`` at all."""
        return not self.notice.channels or channel in self.notice.channels

    async def text(self, channel: Channel) -> Rendered:
        """The notice rendered for ``channel`` (the same for every recipient: the facts are the notice's)."""
        if channel not in self.texts:
            self.texts[channel] = await templates_service.render(self.uow, kind=self.notice.kind, channel=channel,
                                                                 facts=self.notice.facts)
        return self.texts[channel]

    async def add(self, *, channel: Channel, recipient: str, label: str, status: Status, hold: Hold,
                  destination: str = "", masked: str = "") -> None:
        """One row (its address sealed with the row's own id); a repeated key within the notice is one row."""
        key = idempotency_key(source_key=self.notice.source_key, recipient=recipient, channel=channel)
        if key in self.rows:
            return
        row_id = str(uuid.uuid4())
        rendered = await self.text(channel)
        sealed = (self.deps.cipher.encrypt(destination, tenant=self.uow.tenant, table=DELIVERIES,
                                           column=DESTINATION_BINDING, row=row_id) if destination else None)
        done = self.now if status is Status.DELIVERED else None
        self.rows[key] = NewDelivery(
            id=row_id, idempotency_key=key, source_key=self.notice.source_key, event_id=self.notice.event_id,
            kind=self.notice.kind, category=self.category.value, urgent=self.urgent, channel=int(channel),
            recipient=recipient, recipient_label=label, destination_enc=sealed, destination_masked=masked,
            subject=rendered.subject, body=rendered.body, link=self.notice.link,
            escalation_id=self.notice.escalation_id, level=self.notice.level, status=int(status),
            hold_reason=hold.reason, next_attempt_at=hold.at, created_at=self.now, sent_at=done, delivered_at=done)

    def hold(self, choices: Choices | None) -> Hold:
        """When an external row of this notice may go for a person with ``choices`` (None: an officer)."""
        quiet = QuietHours() if choices is None else choices.quiet
        return hold_for(now=self.now, urgent=self.urgent,
                        digest=choices is not None and self.category in choices.digest,
                        quiet_until=quiet.until(self.now) if quiet is not None else None,
                        digest_time=choices.digest_time if choices is not None else None)


def _mask(channel: Channel, address: str) -> str:
    return mask_email(address) if channel is Channel.EMAIL else mask_phone(address)


async def _personal(plan: _Plan, *, address: str, label: str) -> None:
    """E-mail and SMS to a person's own addresses, as they chose (a channel turned off: a SKIPPED row)."""
    if not (plan.allowed(Channel.EMAIL) or plan.allowed(Channel.SMS)):
        return
    contact = await preferences_service.contact_for(plan.uow, address=address)
    if contact is None:
        return
    choices = await preferences_service.choices_for(plan.uow, address=address)
    label = label or contact.display_name
    for channel, sealed, masked in ((Channel.EMAIL, contact.email_sealed, contact.email_masked),
                                    (Channel.SMS, contact.phone_sealed, contact.phone_masked)):
        if sealed is None or not plan.allowed(channel):
            continue
        if not choices.wants(plan.category, channel):
            await plan.add(channel=channel, recipient=address, label=label, status=Status.SKIPPED,
                           hold=Hold(plan.now), masked=masked)
            continue
        opened = plan.deps.cipher.decrypt(sealed, tenant=plan.uow.tenant, table=_PEOPLE,
                                          column=_CONTACT_COLUMNS[channel], row=address)
        await plan.add(channel=channel, recipient=address, label=label, status=Status.QUEUED,
                       hold=plan.hold(choices), destination=opened, masked=_mask(channel, opened))


async def _seat(plan: _Plan, recipient: Recipient) -> None:
    """A seat: its registered logins by their own choices, and SMS to the officers appointed there."""
    _, role, org = recipient.address.split(":", 2)
    for user in await preferences_service.seat_users(plan.uow, role=role, org=org):
        await _personal(plan, address=user, label=f"{recipient.label}（{user.split(':', 1)[-1]}）")
    if not plan.allowed(Channel.SMS):
        return
    for officer in recipient.officers:
        if officer.phone_sealed is None:
            continue
        phone = plan.deps.cipher.decrypt(officer.phone_sealed, tenant=plan.uow.tenant, table=_OFFICERS,
                                         column=_OFFICER_PHONE, row=officer.appointment_id)
        await plan.add(channel=Channel.SMS, recipient=officer_recipient(officer.officer_id),
                       label=f"{recipient.label}（{officer.name}）", status=Status.QUEUED, hold=plan.hold(None),
                       destination=phone, masked=mask_phone(phone))


def _webhook_wants(config: ChannelConfig | None, *, category: Category, urgent: bool) -> bool:
    """The county's robot takes urgent notices, and the categories its setting lists ("categories", comma-separated)."""
    if config is None or not config.enabled:
        return False
    listed = {c.strip() for c in config.settings.get("categories", "").split(",") if c.strip()}
    return urgent or category.value in listed


async def notify(uow: UnitOfWork, *, deps: NotificationsDeps, notice: Notice, recipients: Sequence[Recipient],
                 now: datetime) -> int:
    """CONTRACT (deliveries helper): for each recipient (all in ``uow``'s county) and channel, one delivery row with
    idempotency key source × recipient × channel (a repeat inserts nothing). The inbox row is DELIVERED at once;
    e-mail/SMS go to the person's own contact (a member; a login) or, for a seat, to its registered logins and its
    officers' phones (SMS), each its own recipient row; the webhook to the county's robot once per notice. The
    person's choices apply (a channel turned off: SKIPPED row, kept for the log), quiet hours hold non-urgent
    ones until the window ends, digest categories wait for the daily digest. Rendered with templates.render.
    Returns how many rows were inserted."""
    kind = KINDS.get(notice.kind)
    if kind is None:
        raise ValueError(f"unknown notice kind {notice.kind!r}")
    plan = _Plan(uow=uow, deps=deps, notice=notice, category=kind.category,
                 urgent=kind.urgent or kind.category in URGENT, now=now, texts={}, rows={})
    for recipient in recipients:
        if recipient.tenant != uow.tenant:
            # A recipient of another county is told in its own county's unit of work, never from this one.
            log.warning("notice recipient outside the unit of work's county skipped", extra={"kind": notice.kind})
            continue
        await plan.add(channel=Channel.IN_APP, recipient=recipient.address, label=recipient.label,
                       status=Status.DELIVERED, hold=Hold(now))
        prefix = recipient.address.split(":", 1)[0]
        if prefix in ("member", "user"):
            await _personal(plan, address=recipient.address, label=recipient.label)
        elif prefix == "seat":
            await _seat(plan, recipient)
    if recipients and plan.allowed(Channel.WEBHOOK):
        config = await channels_service.config_for(uow, deps=deps, channel=Channel.WEBHOOK)
        if _webhook_wants(config, category=plan.category, urgent=plan.urgent):
            assert config is not None
            # The robot's URL is a secret (it carries its key): the log shows its host only.
            host = urlsplit(config.secrets.get("url", "") or config.settings.get("url", "")).hostname or ""
            # A county's robot is a group or a system, not a person asleep: no quiet hours, no digest.
            await plan.add(channel=Channel.WEBHOOK, recipient=county_recipient(uow.tenant), label=_WEBHOOK_LABEL,
                           status=Status.QUEUED, hold=Hold(now), masked=host)
    return await repo.insert_many(uow.conn, tenant=uow.tenant, rows=list(plan.rows.values()))


async def send_due_all_tenants(*, deps: NotificationsDeps, now: datetime | None = None) -> int:
    """CONTRACT (deliveries helper): one worker pass over every county with deliveries due: send, record the outcome
    (SENT/DELIVERED; RETRY → back-off or FAILED after MAX_ATTEMPTS; BOUNCED), honour each channel's rate; also
    sends the daily digests that are due. Returns how many were tried."""
    at = now or deps.clock()
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_due_all_tenants(conn, at=at)
    tried, failure = 0, None
    for county in counties:
        try:
            await _compose_digests(deps=deps, tenant=county, now=at)
            tried += await _send_county(deps=deps, tenant=county, now=at)
        except Exception as exc:  # one county's trouble must not stop the others' messages
            log.exception("delivery pass failed for a county", extra={"tenant": county})
            failure = failure or exc
    if failure is not None:
        raise failure
    return tried


async def _compose_digests(*, deps: NotificationsDeps, tenant: str, now: datetime) -> None:
    """Fold each recipient's due held rows into one digest per channel (the folded rows: DIGESTED)."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        held = await repo.held_for_digest(uow.conn, tenant=tenant, now=now, limit=deps.batch * 10)
        if not held:
            return
        groups = defaultdict(list)
        for row in held:
            groups[(row.recipient, row.channel)].append(row)
        digests, folded = [], []
        for (recipient, channel_value), rows in groups.items():
            channel = Channel(channel_value)
            first = rows[0]
            digest_id = str(uuid.uuid4())
            sealed = None
            if first.destination_enc is not None:
                opened = deps.cipher.decrypt(first.destination_enc, tenant=tenant, table=DELIVERIES,
                                             column=DESTINATION_BINDING, row=first.id)
                sealed = deps.cipher.encrypt(opened, tenant=tenant, table=DELIVERIES, column=DESTINATION_BINDING,
                                             row=digest_id)
            subject, body = compose_digest([DigestItem(r.subject, r.body, r.created_at) for r in rows],
                                           channel=channel)
            digests.append(NewDelivery(
                id=digest_id, idempotency_key=idempotency_key(source_key=f"digest:{digest_id}", recipient=recipient,
                                                              channel=channel),
                source_key=f"digest:{digest_id}", event_id="", kind=DIGEST_KIND, category=first.category,
                urgent=False, channel=int(channel), recipient=recipient, recipient_label=first.recipient_label,
                destination_enc=sealed, destination_masked=first.destination_masked, subject=subject, body=body,
                link="", escalation_id=None, level=0, status=int(Status.QUEUED), hold_reason="", next_attempt_at=now,
                created_at=now, sent_at=None, delivered_at=None))
            folded.append((digest_id, [r.id for r in rows]))
        await repo.insert_many(uow.conn, tenant=tenant, rows=digests)
        for digest_id, ids in folded:
            await repo.mark_digested(uow.conn, tenant=tenant, ids=ids, digest_id=digest_id)
        await uow.commit()


@dataclass(frozen=True, slots=True)
class _Job:
    """One claimed row ready to send (the address opened, in memory only)."""

    row: Claimed
    message: Outbound | None
    config: ChannelConfig | None


async def _claim(*, deps: NotificationsDeps, tenant: str, now: datetime) -> list[_Job]:
    """Lease the due rows the channels' rates allow (the rest wait: rate_limit), in one short transaction."""
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        claimed = await repo.claim_due(uow.conn, tenant=tenant, now=now, limit=deps.batch)
        if not claimed:
            return []
        recent = await repo.sent_since(uow.conn, tenant=tenant, since=now - RATE_WINDOW)
        configs: dict[Channel, ChannelConfig | None] = {}
        for channel in sorted({Channel(row.channel) for row in claimed}):
            configs[channel] = await channels_service.config_for(uow, deps=deps, channel=channel)
        left = {channel: (config.rate_per_minute - recent.get(int(channel), (0, now))[0])
                for channel, config in configs.items() if config is not None and config.enabled}
        jobs: list[_Job] = []
        waiting: dict[Channel, list[str]] = defaultdict(list)
        for row in claimed:
            channel = Channel(row.channel)
            config = configs[channel]
            if config is None or not config.enabled:
                # Counted as a failed attempt: an administrator may configure the channel before they run out.
                jobs.append(_Job(row, None, None))
                continue
            if left[channel] <= 0:
                waiting[channel].append(row.id)
                continue
            left[channel] -= 1
            to = (deps.cipher.decrypt(row.destination_enc, tenant=tenant, table=DELIVERIES,
                                      column=DESTINATION_BINDING, row=row.id) if row.destination_enc else "")
            jobs.append(_Job(row, Outbound(channel=channel, to=to, subject=row.subject, body=row.body, tenant=tenant,
                                           idempotency_key=row.idempotency_key), config))
        await repo.lease(uow.conn, tenant=tenant, ids=[job.row.id for job in jobs], until=now + LEASE)
        for channel, ids in waiting.items():
            oldest = recent.get(int(channel), (0, now))[1]
            await repo.hold(uow.conn, tenant=tenant, ids=ids, until=max(oldest, now) + RATE_WINDOW, reason=HOLD_RATE)
        await uow.commit()
    return jobs


async def _send_one(deps: NotificationsDeps, job: _Job, gate: asyncio.Semaphore) -> SendResult:
    """Send one job through its channel's adapter (outside any transaction)."""
    if job.message is None or job.config is None:
        return SendResult(Outcome.RETRY, NOT_CONFIGURED)
    async with gate:
        try:
            return await channels_service.adapter_for(deps=deps, channel=job.message.channel).send(job.message,
                                                                                                  job.config)
        except Exception:  # an adapter must answer RETRY itself; one that raises is treated the same
            log.exception("channel adapter raised", extra={"channel": int(job.message.channel)})
            return SendResult(Outcome.RETRY, _ADAPTER_FAILED)


async def _send_county(*, deps: NotificationsDeps, tenant: str, now: datetime) -> int:
    """Claim (commit), send outside the transaction, record the outcomes in a new one."""
    jobs = await _claim(deps=deps, tenant=tenant, now=now)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(_CONCURRENCY)
    results = await asyncio.gather(*(_send_one(deps, job, gate) for job in jobs))
    outcomes = []
    for job, result in zip(jobs, results, strict=True):
        decision = after_outcome(outcome=str(result.outcome), attempts=job.row.attempts + 1, now=now,
                                 detail=result.detail)
        outcomes.append((job.row.id, int(decision.status), decision.next_attempt_at, decision.hold_reason,
                         decision.last_error))
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await repo.record(uow.conn, tenant=tenant, now=now, outcomes=outcomes)
        await uow.commit()
    return len(jobs)


def _check_filters(*, status: int, channel: int, kind: str) -> None:
    violations = []
    if status and status not in {int(s) for s in Status}:
        violations.append(FieldViolation("status", "投递状态无效"))
    if channel and channel not in {int(c) for c in Channel}:
        violations.append(FieldViolation("channel", "渠道无效"))
    if kind and kind not in KINDS and kind != DIGEST_KIND:
        violations.append(FieldViolation("kind", "通知类型无效"))
    if violations:
        raise InvalidArgument(violations)


async def list_deliveries(*, deps: NotificationsDeps, principal: Principal, status: int, channel: int, kind: str,
                          page_size_value: int, page_token: str
                          ) -> tuple[list[DeliveryRow], str, list[tuple[int, int]]]:
    """The county's delivery log newest first (filtered), the next page's token and the totals by status."""
    tenant = require_tenant(principal)
    _check_filters(status=status, channel=channel, kind=kind)
    limit = page_size(page_size_value)
    after = decode_cursor(page_token)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rows = await repo.list_log(uow.conn, tenant=tenant, status=status, channel=channel, kind=kind, after=after,
                                   limit=limit + 1)
        counted = await repo.totals(uow.conn, tenant=tenant)
    token = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else ""
    return rows[:limit], token, counted


async def retry_delivery(*, deps: NotificationsDeps, principal: Principal, delivery_id: str) -> DeliveryRow:
    """Queue a failed or bounced delivery again now, its attempts reset (audited)."""
    tenant = require_tenant(principal)
    if not delivery_id:
        raise InvalidArgument.field("delivery_id", "不能为空")
    row_id = parse_id(delivery_id, field="delivery_id")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await repo.get_for_update(uow.conn, tenant=tenant, delivery_id=row_id)
        if row is None:
            raise NotFound("未找到投递记录")
        if row.status not in (Status.FAILED, Status.BOUNCED):
            raise FailedPrecondition("只有失败或被退回的投递可以重试")
        queued = await repo.requeue(uow.conn, tenant=tenant, delivery_id=row_id, now=deps.clock())
        await record_act(uow, principal, service=SERVICE, action="delivery.retry", object_type="delivery",
                         object_id=row_id)
        await uow.commit()
    return queued
