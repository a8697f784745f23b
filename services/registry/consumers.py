"""Registry event subscriptions: the destination's answers come back to the origin county, orgs are mirrored,
and a transferred member arrives at the destination county. Every handler is idempotent and order-tolerant."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from functools import partial

from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Delivery
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import InvalidArgument
from jinqiao.kit.events import new_event
from jinqiao.kit.process import ServiceContext
from jinqiao.kit.regions import name_of
from jinqiao.registry import domain, flows, repo
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flow_service import TRANSFER
from jinqiao.registry.flows import FlowStatus
from jinqiao.registry.service import SERVICE, MemberInput, member_registered, new_member_row, validate

_GRADES = {g.name: int(g) for g in flows.Grade}


def _occurred(meta: object) -> datetime:
    return meta.occur_time.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined]


async def _answerable(uow: UnitOfWork, *, flow_id: str, attempt: int) -> tuple[object, str] | None:
    """The flow, locked, if this answer is about its current attempt and it is still open; else None (stale)."""
    try:
        key = str(uuid.UUID(flow_id))
    except ValueError:
        return None
    found = await repo.get_flow(uow, flow_id=key, for_update=True)
    if found is None:
        return None
    row, name = found
    if not flows.accepts_answer(status=FlowStatus(row.status), attempt=row.attempt, answered_attempt=attempt):
        return None
    return found


async def _set_status(uow: UnitOfWork, row: object, status: FlowStatus, changes: dict[str, object]) -> None:
    await repo.update_flow(uow, flow_id=row.id, changes={"status": int(status), **changes})  # type: ignore[attr-defined]
    await repo.set_member_flow(uow, member_id=row.member_id, flow_id=row.id, status=int(status),  # type: ignore[attr-defined]
                               destination=row.destination_code, industry=row.industry)  # type: ignore[attr-defined]


async def on_offered(uow: UnitOfWork, event: org_events.TemporaryMembershipOffered, delivery: Delivery) -> None:
    """The destination offered a temporary membership; a check-in that overtook it keeps the flow managed."""
    found = await _answerable(uow, flow_id=event.flow_id, attempt=event.attempt)
    if found is None:
        return
    row, _ = found
    status = flows.after_offer(FlowStatus(row.status))  # type: ignore[attr-defined]
    await _set_status(uow, row, status, {
        "membership_id": event.membership_id, "org_id": event.org_id, "org_name": event.org_name,
        "placement_rule": event.rule, "placement_reason": event.reason, "refusal_reason": "", "refusal_advice": "",
        "offered_at": _occurred(event.meta),
    })


async def on_refused(uow: UnitOfWork, event: org_events.TemporaryMembershipRefused, delivery: Delivery) -> None:
    """The destination refused (or found no organisation): the origin must re-place the member."""
    found = await _answerable(uow, flow_id=event.flow_id, attempt=event.attempt)
    if found is None:
        return
    row, _ = found
    status = flows.after_refusal(FlowStatus(row.status))  # type: ignore[attr-defined]
    if status is FlowStatus.REFUSED:
        await _set_status(uow, row, status, {"refusal_reason": event.reason, "refusal_advice": event.advice,
                                             "membership_id": event.membership_id or None})


async def on_checked_in(uow: UnitOfWork, event: org_events.CheckedIn, delivery: Delivery) -> None:
    """报到 at the destination: the member is managed (流而不失)."""
    found = await _answerable(uow, flow_id=event.flow_id, attempt=event.attempt)
    if found is None:
        return
    row, _ = found
    try:
        at = datetime.fromisoformat(event.checked_in_at)
    except ValueError:
        at = _occurred(event.meta)
    await _set_status(uow, row, FlowStatus.MANAGED, {
        "membership_id": event.membership_id, "org_id": event.org_id, "org_name": event.org_name,
        "checked_in_at": at, "check_in_method": event.method, "refusal_reason": "", "refusal_advice": "",
    })


async def _member_here(uow: UnitOfWork, member_id: str) -> str | None:
    try:
        key = str(uuid.UUID(member_id))
    except ValueError:
        return None
    return key if await repo.get_member(uow, member_id=key) is not None else None


def _date(value: str, fallback: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return fallback


async def on_activity(uow: UnitOfWork, event: org_events.ActivityRecorded, delivery: Delivery) -> None:
    """An activity the destination organisation recorded goes into the member's 活动记事本, checked."""
    if (member := await _member_here(uow, event.member_id)) is None:
        return
    await repo.insert_activity(uow, activity_id=f"activity:{event.activity_id}", member_id=member,
                               flow_id=event.flow_id or None, occurred_on=_date(event.occurred_on,
                                                                                _occurred(event.meta).date()),
                               title=event.title, note=event.note, org_name=event.org_name,
                               source="DESTINATION_ACTIVITY")


async def on_attendance(uow: UnitOfWork, event: org_events.AttendanceRecorded, delivery: Delivery) -> None:
    """Organisational life attended anywhere (as a guest too) counts in the home county's notebook."""
    if event.status != "PRESENT" or (member := await _member_here(uow, event.member_id)) is None:
        return
    labels = {"GENERAL_MEETING": "支部党员大会", "COMMITTEE_MEETING": "支委会", "GROUP_MEETING": "党小组会",
              "PARTY_LECTURE": "党课", "THEME_DAY": "主题党日"}
    await repo.insert_activity(uow, activity_id=f"meeting:{event.meeting_id}:{member}", member_id=member,
                               flow_id=None, occurred_on=_occurred(event.meta).date(),
                               title=labels.get(event.meeting_type, "组织生活"), note="",
                               org_name=f"{name_of(delivery.tenant)}党组织" if event.guest else "", source="MEETING")


async def on_assessment(uow: UnitOfWork, event: org_events.DestinationAssessmentGiven, delivery: Delivery) -> None:
    """The destination's side of 双向评议; a later assessment of the same year replaces an earlier one."""
    if (member := await _member_here(uow, event.member_id)) is None or event.grade not in _GRADES:
        return
    await repo.save_destination_assessment(uow, member_id=member, year=event.year, grade=_GRADES[event.grade],
                                           comment=event.comment, org_name=event.org_name)


async def on_org_created(uow: UnitOfWork, event: object, delivery: Delivery) -> None:
    """Mirror the county's organisations (home branches are checked against this replica)."""
    await repo.upsert_org(uow, org_id=event.org_id, name=event.name, kind=event.kind)  # type: ignore[attr-defined]


async def on_org_renamed(uow: UnitOfWork, event: object, delivery: Delivery) -> None:
    """A renamed organisation."""
    await repo.upsert_org(uow, org_id=event.org_id, name=event.name)  # type: ignore[attr-defined]


async def on_org_dissolved(uow: UnitOfWork, event: object, delivery: Delivery) -> None:
    """A dissolved organisation takes no new members."""
    await repo.upsert_org(uow, org_id=event.org_id, dissolved=True)  # type: ignore[attr-defined]


async def on_member_transferred(deps: RegistryDeps, uow: UnitOfWork, event: registry_events_pb2.MemberTransferred,
                                delivery: Delivery) -> None:
    """组织关系转接: the destination county registers the member as its own (once, whatever the redelivery)."""
    tenant, m = uow.tenant, event.member
    bind = {"tenant": tenant, "table": TRANSFER, "row": event.flow_id}
    id_number = deps.cipher.decrypt(m.id_number_sealed, column="id_number", **bind)
    phone = deps.cipher.decrypt(m.phone_sealed, column="phone", **bind) if m.phone_sealed else ""
    try:
        member = validate(MemberInput(
            name=m.name, id_number=id_number, phone=phone,
            membership_status=int(domain.MembershipStatus[m.membership_status or "FULL"]), township="", village="",
            occupation=m.occupation, join_date=m.join_date, ethnicity=m.ethnicity, education=m.education,
            full_member_date=m.full_member_date,
        ), today=china_date(deps.clock()))
    except InvalidArgument:
        # The origin's record breaks a rule here (e.g. an old free-text education): keep the person, drop the extras.
        member = validate(MemberInput(name=m.name, id_number=id_number, phone="", membership_status=2, township="",
                                      village="", occupation="", join_date=""), today=china_date(deps.clock()))
    row = new_member_row(deps, tenant=tenant, member=member, request_id=f"transfer:{event.flow_id}")
    if await repo.member_by_bidx(uow, bidx=row.id_number_bidx) is not None:
        return
    await repo.insert_member(uow, row=row)
    uow.add_event(new_event(member_registered(row), service=SERVICE, tenant=tenant, aggregate_id=row.id,
                            aggregate_version=1, traceparent=event.meta.traceparent or None))


def subscribe_all(ctx: ServiceContext, deps: RegistryDeps) -> None:
    """Register every durable consumer of the registry."""
    retry = ctx.retry_policy()
    to_origin = {"route": lambda e: e.origin_tenant_id}
    plan = [
        ("registry-offers", "organizations", org_events.TemporaryMembershipOffered, on_offered, to_origin),
        ("registry-refusals", "organizations", org_events.TemporaryMembershipRefused, on_refused, to_origin),
        ("registry-check-ins", "organizations", org_events.CheckedIn, on_checked_in, to_origin),
        ("registry-activities", "organizations", org_events.ActivityRecorded, on_activity, to_origin),
        ("registry-assessments", "organizations", org_events.DestinationAssessmentGiven, on_assessment, to_origin),
        ("registry-attendance", "organizations", org_events.AttendanceRecorded, on_attendance,
         {"route": lambda e: e.home_tenant_id}),
        ("registry-org-created", "organizations", org_events.OrgCreated, on_org_created, {}),
        ("registry-org-renamed", "organizations", org_events.OrgRenamed, on_org_renamed, {}),
        ("registry-org-dissolved", "organizations", org_events.OrgDissolved, on_org_dissolved, {}),
        ("registry-transfers-in", "registry", registry_events_pb2.MemberTransferred,
         partial(on_member_transferred, deps), {"route": lambda e: e.destination_tenant_id}),
    ]
    for consumer, source, event, handler, extra in plan:
        kit_broker.subscribe(ctx.broker, db=ctx.db, consumer=consumer, source_service=source, event=event,
                             handler=handler, retry=retry, **extra)
