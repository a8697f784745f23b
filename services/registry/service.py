"""Registry use cases: one transaction each, the tenant explicit, the outbox row in the same commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import audit, pagination, pii, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.errors import InvalidArgument, NotFound
from jinqiao.kit.events import new_event
from jinqiao.registry import domain, repo
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.models import MEMBERS, MemberRow

SERVICE = "registry"


@dataclass(frozen=True, slots=True)
class MemberInput:
    """The raw fields of a create request, as received."""

    name: str
    id_number: str
    phone: str
    membership_status: int
    township: str
    village: str
    occupation: str
    join_date: str


def _tenant_of(principal: Principal) -> str:
    # A token without a tenant (e.g. the province) has no county's persons to see.
    if principal.tenant is None:
        raise NotFound("未找到")
    return principal.tenant


async def create_member(
    *, deps: RegistryDeps, principal: Principal, data: MemberInput, request_id: str, today: date | None = None
) -> domain.Member:
    """Register a member of the caller's county; a repeated request id returns the first result."""
    domain.ensure_may_write_members(principal.role)
    tenant = _tenant_of(principal)
    if len(request_id) > 100:
        raise InvalidArgument.field("request_id", "不能超过 100 个字符")
    member = domain.validate_new_member(
        name=data.name, id_number=data.id_number, phone=data.phone, membership_status=data.membership_status,
        township=data.township, village=data.village, occupation=data.occupation, join_date=data.join_date,
        today=today or datetime.now(UTC).date(),
    )
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            existing = await repo.find_by_request_id(uow, request_id=request_id)
            if existing is not None:
                return existing.to_domain()
        row = _new_row(deps, tenant=tenant, member=member, request_id=request_id or None)
        await repo.insert_member(uow, row=row)
        traceparent = telemetry.current_traceparent()
        uow.add_event(
            new_event(
                registry_events_pb2.MemberRegistered(
                    member_id=row.id, township=row.township, membership_status=member.membership_status.name,
                ),
                service=SERVICE, tenant=tenant, aggregate_id=row.id, aggregate_version=row.version,
                traceparent=traceparent,
            )
        )
        await audit.record(
            uow,
            audit.AuditEntry(actor=principal.user, role=principal.role, action="member.create",
                             object_type="member", object_id=row.id, trace_id=_trace_id(traceparent)),
        )
        await uow.commit()
    return row.to_domain()


def _new_row(deps: RegistryDeps, *, tenant: str, member: domain.NewMember, request_id: str | None) -> MemberRow:
    member_id = str(uuid.uuid4())
    bind = {"tenant": tenant, "table": MEMBERS, "row": member_id}
    return MemberRow(
        tenant_id=tenant,
        id=member_id,
        name=member.name,
        gender=int(member.gender),
        birth_date=member.birth_date,
        id_number_enc=deps.cipher.encrypt(member.id_number, column="id_number", **bind),
        id_number_bidx=deps.blind_index.digest(member.id_number, purpose="id_number"),
        id_number_masked=pii.mask_id_number(member.id_number),
        phone_enc=deps.cipher.encrypt(member.phone, column="phone", **bind) if member.phone else None,
        phone_masked=pii.mask_phone(member.phone) if member.phone else "",
        membership_status=int(member.membership_status),
        township=member.township,
        village=member.village,
        occupation=member.occupation,
        join_date=member.join_date,
        request_id=request_id,
        created_at=datetime.now(UTC),
        version=1,
    )


def _trace_id(traceparent: str | None) -> str | None:
    return traceparent.split("-")[1] if traceparent else None


async def get_member(*, deps: RegistryDeps, principal: Principal, member_id: str) -> domain.Member:
    """One member of the caller's county; another county's member is simply not found."""
    domain.ensure_may_read_members(principal.role)
    tenant = _tenant_of(principal)
    try:
        uuid.UUID(member_id)
    except ValueError as exc:
        raise NotFound("未找到该党员") from exc
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await repo.get_member(uow, member_id=member_id)
    if row is None:
        raise NotFound("未找到该党员")
    return row.to_domain()


async def list_members(
    *, deps: RegistryDeps, principal: Principal, page_size: int, page_token: str
) -> tuple[list[domain.Member], str]:
    """A page of the caller's county's members, newest first, and the next page's token."""
    domain.ensure_may_read_members(principal.role)
    tenant = _tenant_of(principal)
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rows = await repo.list_members(uow, after=after, limit=limit + 1)
    page = rows[:limit]
    next_token = pagination.encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else ""
    return [r.to_domain() for r in page], next_token
