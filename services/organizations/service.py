"""Organisations use cases: each one transaction, tenant explicit, event and audit row in the same commit."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from google.protobuf.message import Message

from jinqiao.events.v1 import handover_pb2
from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import audit, pagination, pii, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.broker import PoisonMessage
from jinqiao.kit.clock import Clock, china_date, utc_now
from jinqiao.kit.crypto import DecryptionError, FieldCipher
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.events import new_event
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant, province_of
from jinqiao.organizations import checklist, domain, meetings, memberships, officers, placement, repo

SERVICE = "organizations"
_PATH = re.compile(r"[0-9a-f]{32}(?:\.[0-9a-f]{32})*")


@dataclass(frozen=True, slots=True)
class OrgDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
    cipher: FieldCipher
    clock: Clock = utc_now


@dataclass(frozen=True, slots=True)
class OrgInput:
    """The raw fields of a create request."""

    parent_id: str
    name: str
    kind: int
    city_code: str
    founding_mode: int
    industry: str
    employer: str = ""
    coverage: tuple[str, ...] = ()


def _tenant(principal: Principal) -> str:
    if principal.tenant is None:
        raise NotFound("未找到")
    return principal.tenant


def _uuid(value: str, *, field: str | None = None) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        if field:
            raise InvalidArgument.field(field, "组织编号无效") from None
        raise NotFound("未找到该组织") from None


async def _scope_path(uow: UnitOfWork, principal: Principal) -> str | None:
    """The path a scoped role is confined to (None: the whole county)."""
    if principal.role not in domain.SCOPED_ROLES:
        return None
    own = await repo.get(uow, org_id=_uuid(principal.org, field="org")) if principal.org else None
    if own is None:
        raise PermissionDenied("该账号未绑定本县的党组织")
    return own[1]


async def _load(uow: UnitOfWork, principal: Principal, org_id: str, *,
                field: str | None = None) -> tuple[domain.Org, str]:
    """An organisation the caller may see; anything else looks as if it did not exist."""
    found = await repo.get(uow, org_id=_uuid(org_id, field=field))
    if found is not None and not domain.visible(path=found[1], scope_path=await _scope_path(uow, principal),
                                                own_org_only=principal.role in domain.OWN_ORG_ROLES):
        found = None
    if found is None:
        if field:
            raise InvalidArgument.field(field, "上级组织不存在")
        raise NotFound("未找到该组织")
    return found


async def _ensure_not_scope_root(uow: UnitOfWork, principal: Principal, path: str) -> None:
    # A township officer shapes what is under the township, not the township itself.
    if await _scope_path(uow, principal) == path:
        raise PermissionDenied("不能调整本账号所属的组织本身，请联系县委组织部")


async def _record(uow: UnitOfWork, principal: Principal, *, message: Message, action: str, org_id: str,
                  version: int, reason: str | None = None) -> None:
    uow.add_event(new_event(message, service=SERVICE, tenant=uow.tenant, aggregate_id=org_id,
                            aggregate_version=version, traceparent=telemetry.current_traceparent()))
    await audit.record_act(uow, actor=principal.user, role=principal.role, action=action, object_type="org",
                           object_id=org_id, reason=reason)


async def create_org(*, deps: OrgDeps, principal: Principal, data: OrgInput) -> domain.Org:
    """Found an organisation under a parent of the caller's county (or the county committee itself)."""
    domain.ensure_may_write(principal.role)
    tenant = _tenant(principal)
    new = domain.validate_new_org(name=data.name, kind=data.kind, city_code=data.city_code,
                                  founding_mode=data.founding_mode, industry=data.industry,
                                  has_parent=bool(data.parent_id), employer=data.employer, coverage=data.coverage)
    if not data.parent_id and principal.role != "county_admin":
        raise PermissionDenied("只有县委组织部可以设立县委根组织")
    org_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        parent_path = None
        if data.parent_id:
            parent, parent_path = await _load(uow, principal, data.parent_id, field="parent_id")
            domain.ensure_may_sit_under(child=new.kind, parent=parent)
        await repo.insert(uow, org_id=org_id, parent_id=data.parent_id or None, parent_path=parent_path, org=new,
                          created_at=datetime.now(UTC))
        org, _ = await _load(uow, principal, org_id)
        await _record(uow, principal, message=events.OrgCreated(
            org_id=org_id, parent_id=data.parent_id, kind=new.kind.name, city_code=new.city_code, name=new.name,
        ), action="org.create", org_id=org_id, version=org.version)
        await uow.commit()
    return org


async def get_org(*, deps: OrgDeps, principal: Principal, org_id: str) -> domain.Org:
    """One organisation of the caller's county."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
    return org


async def rename_org(*, deps: OrgDeps, principal: Principal, org_id: str, name: str) -> domain.Org:
    """Rename an organisation."""
    domain.ensure_may_write(principal.role)
    violations: list[FieldViolation] = []
    clean = domain.clean_name(name, violations=violations)
    if violations:
        raise InvalidArgument(violations)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        await _load(uow, principal, org_id)
        await repo.rename(uow, org_id=_uuid(org_id), name=clean)
        org, _ = await _load(uow, principal, org_id)
        await _record(uow, principal, message=events.OrgRenamed(org_id=org.id, name=clean), action="org.rename",
                      org_id=org.id, version=org.version)
        await uow.commit()
    return org


async def move_org(*, deps: OrgDeps, principal: Principal, org_id: str, new_parent_id: str) -> tuple[domain.Org, int]:
    """Move an organisation with its subtree; never under itself or its own descendants."""
    domain.ensure_may_write(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        await repo.lock_tree(uow)
        org, path = await _load(uow, principal, org_id)
        await _ensure_not_scope_root(uow, principal, path)
        parent, parent_path = await _load(uow, principal, new_parent_id, field="new_parent_id")
        if parent_path == path or parent_path.startswith(path + "."):
            raise InvalidArgument.field("new_parent_id", "不能把组织移到它自己或它的下级组织之下")
        domain.ensure_may_sit_under(child=org.kind, parent=parent)
        moved = await repo.move_subtree(uow, org_id=org.id, old_path=path, new_parent_id=parent.id,
                                        new_parent_path=parent_path)
        after, _ = await _load(uow, principal, org_id)
        await _record(uow, principal, message=events.OrgMoved(
            org_id=org.id, old_parent_id=org.parent_id or "", new_parent_id=parent.id,
        ), action="org.move", org_id=org.id, version=after.version)
        await uow.commit()
    return after, moved


async def dissolve_org(*, deps: OrgDeps, principal: Principal, org_id: str, reason: str) -> domain.Org:
    """Dissolve an empty organisation, recording why."""
    domain.ensure_may_write(principal.role)
    clean_reason = " ".join(reason.split())
    if not clean_reason:
        raise InvalidArgument.field("reason", "撤销须说明原因")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        await repo.lock_tree(uow)
        org, path = await _load(uow, principal, org_id)
        await _ensure_not_scope_root(uow, principal, path)
        domain.ensure_may_dissolve(org=org, active_children=await repo.active_children(uow, org_id=org.id),
                                   members=await repo.members(uow, org_id=org.id))
        await repo.dissolve(uow, org_id=org.id, reason=clean_reason)
        after, _ = await _load(uow, principal, org_id)
        await _record(uow, principal, message=events.OrgDissolved(org_id=org.id, reason=clean_reason),
                      action="org.dissolve", org_id=org.id, version=after.version, reason=clean_reason)
        await uow.commit()
    return after


async def list_children(*, deps: OrgDeps, principal: Principal, parent_id: str, page_size: int, page_token: str,
                        include_dissolved: bool) -> tuple[list[domain.Org], str]:
    """A page of an organisation's direct children by name; no parent lists the county's root."""
    domain.ensure_may_read(principal.role)
    limit = pagination.page_size(page_size)
    after = pagination.decode_key(page_token, parts=2)
    if after:
        _uuid(after[1], field="page_token")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        scope_path = await _scope_path(uow, principal)
        if not parent_id and scope_path is not None:
            # A scoped role's tree starts at its own organisation.
            own = await repo.get(uow, org_id=_uuid(principal.org or "", field="org"))
            return ([own[0]] if own else []), ""
        parent_key = (await _load(uow, principal, parent_id))[0].id if parent_id else None
        rows = await repo.children(uow, parent_id=parent_key, after=after, limit=limit + 1,  # type: ignore[arg-type]
                                   include_dissolved=include_dissolved)
    page = rows[:limit]
    token = pagination.encode_key(page[-1].name, page[-1].id) if len(rows) > limit else ""
    return page, token


async def list_subtree(*, deps: OrgDeps, principal: Principal, root_id: str, page_size: int,
                       page_token: str) -> tuple[list[domain.Org], str]:
    """A page of a subtree in tree order (each organisation after its parent)."""
    domain.ensure_may_read(principal.role)
    limit = pagination.page_size(page_size)
    after = pagination.decode_key(page_token, parts=1)
    if after and not _PATH.fullmatch(after[0]):
        raise InvalidArgument.field("page_token", "分页标记无效")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        _, root_path = await _load(uow, principal, root_id)
        rows = await repo.subtree(uow, root_path=root_path, after_path=after[0] if after else None, limit=limit + 1)
    page = rows[:limit]
    token = pagination.encode_key(page[-1][1]) if len(rows) > limit else ""
    return [org for org, _ in page], token


async def list_ancestors(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[domain.Org]:
    """The chain from the county committee down to the organisation's parent."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        _, path = await _load(uow, principal, org_id)
        return await repo.ancestors(uow, path=path)


def _placement_scope(*, tenant: str, destination_code: str) -> placement.Scope:
    try:
        code = parse_tenant(destination_code)
    except InvalidTenant:
        raise InvalidArgument.field("destination_code", "流入地须为 6 位行政区划代码") from None
    if province_of(code) != province_of(tenant):
        return placement.Scope.OUT_OF_PROVINCE
    if code != tenant:
        # Inside the province the destination county places the member in its own tree (DESIGN §3 step 2).
        raise InvalidArgument.field("destination_code", "省内流入的，由流入地县级党委安置，只能查询本县")
    return placement.Scope.IN_PROVINCE


async def suggest_temporary_org(*, deps: OrgDeps, principal: Principal, destination_code: str, employer: str,
                                industry: str, address: str) -> placement.Placement:
    """The organisation that should take a mobile member in, by the county's rules in order, and why."""
    domain.ensure_may_read(principal.role)
    tenant = _tenant(principal)
    return await place_in_tree(deps=deps, tenant=tenant, request=placement.Request(
        destination_code=destination_code, employer=employer, industry=industry, address=address))


async def place_in_tree(*, deps: OrgDeps, tenant: str, request: placement.Request) -> placement.Placement:
    """Placement in one county's tree (the cross-county flow places inside its own unit of work: ``_place``)."""
    _placement_scope(tenant=tenant, destination_code=request.destination_code)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        return await _place(uow, request=request)


async def _place(uow: UnitOfWork, *, request: placement.Request) -> placement.Placement:
    scope = _placement_scope(tenant=uow.tenant, destination_code=request.destination_code)
    rules = await repo.placement_rules(uow, scope=scope) or list(placement.DEFAULT_RULES[scope])
    return placement.place(request, rules=rules, candidates=await repo.placement_candidates(uow))


async def get_placement_rules(*, deps: OrgDeps, principal: Principal, scope: int) -> tuple[list[placement.Rule], bool]:
    """The county's rule order for a scope, and whether it is the default."""
    domain.ensure_may_read(principal.role)
    which = _scope(scope)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        rules = await repo.placement_rules(uow, scope=which)
    return (rules, False) if rules else (list(placement.DEFAULT_RULES[which]), True)


async def update_placement_rules(*, deps: OrgDeps, principal: Principal, scope: int,
                                 rules: list[int]) -> list[placement.Rule]:
    """Replace the county's rule order for a scope (e.g. put the industry branch first)."""
    domain.ensure_may_write(principal.role)
    which = _scope(scope)
    try:
        parsed = [placement.Rule(r) for r in rules]
    except ValueError:
        raise InvalidArgument.field("rules", "安置规则无效") from None
    if not parsed or len(set(parsed)) != len(parsed):
        raise InvalidArgument.field("rules", "须至少一条规则，且不能重复")
    if not set(parsed) <= placement.RULES_FOR_SCOPE[which]:
        raise InvalidArgument.field("rules", "含有不适用于该范围的规则")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        await repo.replace_placement_rules(uow, scope=which, rules=parsed)
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role,
                                                 action="placement_rules.update", object_type="placement_rules",
                                                 object_id=which.name))
        await uow.commit()
    return parsed


def _scope(value: int) -> placement.Scope:
    try:
        return placement.Scope(value)
    except ValueError:
        raise InvalidArgument.field("scope", "须为省内(IN_PROVINCE)或省外(OUT_OF_PROVINCE)") from None


async def get_checklist(*, deps: OrgDeps, principal: Principal, org_id: str) -> tuple[list[checklist.Entry], int]:
    """The 七有 checklist of an external branch and its completeness."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        checklist.ensure_external(org)
        return checklist.complete(await repo.checklist(uow, org_id=org.id))


async def update_checklist_item(*, deps: OrgDeps, principal: Principal, org_id: str, item: int, done: bool,
                                evidence: str) -> tuple[list[checklist.Entry], int]:
    """Record one 七有 item with its evidence note; audited."""
    domain.ensure_may_write(principal.role)
    parsed, note = checklist.parse_item(item, evidence=evidence)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        checklist.ensure_external(org)
        await repo.set_checklist_item(uow, org_id=org.id, item=parsed, done=done, evidence=note,
                                      actor=principal.user)
        result = checklist.complete(await repo.checklist(uow, org_id=org.id))
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role,
                                                 action="org.checklist", object_type="org", object_id=org.id,
                                                 reason=f"{parsed.name}={done}"))
        await uow.commit()
    return result


async def search_orgs(*, deps: OrgDeps, principal: Principal, name_contains: str, kinds: list[int], city_code: str,
                      include_dissolved: bool, page_size: int, page_token: str) -> tuple[list[domain.Org], str]:
    """Organisations of the county by name, kind and city (e.g. every 驻外党组织 in Beijing)."""
    domain.ensure_may_read(principal.role)
    try:
        parsed_kinds = [int(domain.OrgKind(k)) for k in kinds]
    except ValueError:
        raise InvalidArgument.field("kinds", "组织类别无效") from None
    if len(name_contains) > domain.NAME_MAX:
        raise InvalidArgument.field("name_contains", f"不能超过 {domain.NAME_MAX} 个字符")
    limit = pagination.page_size(page_size)
    after = pagination.decode_key(page_token, parts=1)
    if after and not _PATH.fullmatch(after[0]):
        raise InvalidArgument.field("page_token", "分页标记无效")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        rows = await repo.search(uow, within=await _scope_path(uow, principal),
                                 name_contains=name_contains.strip(), kinds=parsed_kinds,
                                 city_code=city_code.strip(), include_dissolved=include_dissolved,
                                 after_path=after[0] if after else None, limit=limit + 1)
    page = rows[:limit]
    token = pagination.encode_key(page[-1][1]) if len(rows) > limit else ""
    return [org for org, _ in page], token


async def appoint_officer(*, deps: OrgDeps, principal: Principal, org_id: str, position: int, officer_id: str,
                          name: str, phone: str, start_date: str,
                          today: date | None = None) -> officers.Appointment:
    """Appoint a person (recorded now, or already on record) to a position; the phone is encrypted at rest."""
    domain.ensure_may_write(principal.role)
    start = officers.parse_date(start_date, field="start_date", today=today or datetime.now(UTC).date(),
                                required=True)
    new = None if officer_id else officers.validate_new_officer(name=name, phone=phone)
    appointment_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        parsed = officers.parse_position(position, org_kind=org.kind)
        if new is None:
            person = _uuid(officer_id, field="officer_id")
            if not await repo.officer_exists(uow, officer_id=person):
                raise InvalidArgument.field("officer_id", "本县没有该人员记录")
        else:
            person = str(uuid.uuid4())
            await repo.insert_officer(
                uow, officer_id=person, name=new.name, phone_masked=pii.mask_phone(new.phone),
                phone_enc=deps.cipher.encrypt(new.phone, tenant=uow.tenant, table="officers", column="phone",
                                              row=person),
            )
        await repo.insert_appointment(uow, appointment_id=appointment_id, officer_id=person, org_id=org.id,
                                      position=parsed, start=start)  # type: ignore[arg-type]
        result = await repo.appointment(uow, appointment_id=appointment_id)
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role, action="officer.appoint",
                                                 object_type="appointment", object_id=appointment_id,
                                                 reason=parsed.name))
        await uow.commit()
    assert result is not None
    return result


async def end_appointment(*, deps: OrgDeps, principal: Principal, appointment_id: str, end_date: str,
                          today: date | None = None) -> officers.Appointment:
    """Close an appointment (离任); it stays in the history."""
    domain.ensure_may_write(principal.role)
    end = officers.parse_date(end_date, field="end_date", today=today or datetime.now(UTC).date(), required=True)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        found = await repo.appointment(uow, appointment_id=_uuid(appointment_id))
        if found is None:
            raise NotFound("未找到该任职记录")
        await _load(uow, principal, found.org_id)
        if found.end_date is not None:
            raise FailedPrecondition("该任职已结束")
        if end < found.start_date:  # type: ignore[operator]
            raise InvalidArgument.field("end_date", "离任日期不能早于任职日期")
        await repo.end_appointment(uow, appointment_id=found.id, end=end)  # type: ignore[arg-type]
        result = await repo.appointment(uow, appointment_id=found.id)
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role, action="officer.end",
                                                 object_type="appointment", object_id=found.id))
        await uow.commit()
    assert result is not None
    return result


async def list_appointments(*, deps: OrgDeps, principal: Principal, org_id: str, positions: list[int],
                            include_history: bool) -> list[officers.Appointment]:
    """An organisation's officers, or every appointment of some positions across the county (for ledgers)."""
    domain.ensure_may_read(principal.role)
    try:
        parsed = [int(officers.Position(p)) for p in positions]
    except ValueError:
        raise InvalidArgument.field("positions", "职务无效") from None
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        if org_id:
            org_key: str | None = (await _load(uow, principal, org_id))[0].id
        elif await _scope_path(uow, principal) is not None:
            raise InvalidArgument.field("org_id", "须指定组织")
        else:
            org_key = None
        return await repo.appointments(uow, org_id=org_key, positions=parsed, include_history=include_history)


async def create_grid(*, deps: OrgDeps, principal: Principal, org_id: str, name: str, leader_officer_id: str,
                      addresses: list[str], member_ids: list[str]) -> officers.Grid:
    """Draw a grid under a station or township, led by an officer on record (网格长)."""
    domain.ensure_may_write(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        clean, areas, members = officers.validate_grid(name=name, org_kind=org.kind, addresses=addresses,
                                                       member_ids=member_ids)
        leader = _uuid(leader_officer_id, field="leader_officer_id") if leader_officer_id else None
        if leader and not await repo.officer_exists(uow, officer_id=leader):
            raise InvalidArgument.field("leader_officer_id", "本县没有该人员记录")
        grid_id = str(uuid.uuid4())
        grid = await repo.insert_grid(uow, grid_id=grid_id, org_id=org.id, name=clean, leader_officer_id=leader,
                                      addresses=areas, member_ids=members)
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role, action="grid.create",
                                                 object_type="grid", object_id=grid_id))
        await uow.commit()
    return grid


async def list_grids(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[officers.Grid]:
    """The grids of a station or township."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        return await repo.grids(uow, org_id=org.id)


async def schedule_meeting(*, deps: OrgDeps, principal: Principal, org_id: str, type_: int, title: str,
                           starts_at: datetime | None, place: str, online_link: str,
                           agenda: str) -> meetings.Meeting:
    """Schedule a 三会一课 meeting or 主题党日; MeetingScheduled goes out through the outbox."""
    domain.ensure_may_write(principal.role)
    new = meetings.validate_meeting(type_=type_, title=title, starts_at=starts_at, place=place,
                                    online_link=online_link, agenda=agenda)
    meeting_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        result = await repo.insert_meeting(uow, meeting_id=meeting_id, org_id=org.id, meeting=new)
        await _record(uow, principal, message=events.MeetingScheduled(
            meeting_id=meeting_id, org_id=org.id, type=new.type.name, title=new.title,
            start_time=new.starts_at.isoformat()), action="meeting.schedule", org_id=meeting_id, version=1)
        await uow.commit()
    return result


async def record_attendance(*, deps: OrgDeps, principal: Principal, meeting_id: str,
                            entries: list[tuple[str, str, int]]) -> meetings.Meeting:
    """Record attendance; each entry emits AttendanceRecorded so the member's home county can count it."""
    domain.ensure_may_write(principal.role)
    parsed = meetings.validate_entries(entries)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        found = await repo.meeting(uow, meeting_id=_uuid(meeting_id))
        if found is None:
            raise NotFound("未找到该会议")
        await _load(uow, principal, found.org_id)
        await repo.upsert_attendance(uow, meeting_id=found.id, entries=parsed)
        traceparent = telemetry.current_traceparent()
        for entry in parsed:
            uow.add_event(new_event(events.AttendanceRecorded(
                meeting_id=found.id, org_id=found.org_id, member_id=entry.member_id,
                home_tenant_id=entry.home_tenant_id, status=entry.status.name,
                guest=entry.home_tenant_id != uow.tenant, meeting_type=found.type.name,
            ), service=SERVICE, tenant=uow.tenant, aggregate_id=found.id, aggregate_version=1,
                traceparent=traceparent))
        await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role,
                                                 action="meeting.attendance", object_type="meeting",
                                                 object_id=found.id, reason=f"{len(parsed)} entries"))
        result = await repo.meeting(uow, meeting_id=found.id)
        await uow.commit()
    assert result is not None
    return result


async def list_meetings(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[meetings.Meeting]:
    """An organisation's meetings, newest first."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        return await repo.meetings(uow, org_id=org.id)


async def member_attendance(*, deps: OrgDeps, principal: Principal,
                            member_id: str) -> list[tuple[meetings.Meeting, meetings.Status, bool]]:
    """A member's attendance in this county's meetings (county staff only: it spans the whole tree)."""
    domain.ensure_may_read(principal.role)
    if principal.role != "county_admin":
        raise PermissionDenied("只有县委组织部可以查看党员在全县的出席情况")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        return await repo.member_attendance(uow, member_id=_uuid(member_id, field="member_id"))


# Temporary memberships (临时组织关系): the placing county's side of the cross-county flow (DESIGN §3 steps 2-5).

_NO_MEMBERSHIP = "未找到该临时组织关系"
# One answer for a wrong, unknown or foreign code and for a member with nothing to check in: a code must not
# reveal which organisations exist or whom they hold.
_NO_CHECK_IN = "报到码无效，或没有待您报到的临时组织关系"
SYSTEM_ROLE = "service"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an audited membership change is attributed to: a person, or the consumer acting on an event."""

    user: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The verified caller."""
        return cls(user=principal.user, role=str(principal.role))


def _event_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PoisonMessage("the event carries an invalid id") from None


def _membership_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(_NO_MEMBERSHIP) from None


async def _record_membership(uow: UnitOfWork, actor: Actor, *, message: Message, action: str,
                             membership: memberships.Membership, reason: str | None = None) -> None:
    """Emit a membership event (aggregate = the membership) and its audit row in the same transaction.

    The event continues the flow's trace (DESIGN §3: every step carries the trace of step 1); the audit row
    names the trace of the act itself.
    """
    uow.add_event(new_event(message, service=SERVICE, tenant=uow.tenant, aggregate_id=membership.id,
                            aggregate_version=membership.version,
                            traceparent=membership.traceparent or telemetry.current_traceparent()))
    await audit.record_act(uow, actor=actor.user, role=actor.role, action=action, object_type="membership",
                           object_id=membership.id, reason=reason)


def _closed_event(m: memberships.Membership) -> events.TemporaryMembershipClosed:
    return events.TemporaryMembershipClosed(membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id,
                                            member_id=m.member_id, attempt=m.attempt, reason=m.close_reason)


async def open_membership(*, deps: OrgDeps, uow: UnitOfWork, actor: Actor, origin_tenant_id: str, flow_id: str,
                          member_id: str, attempt: int,
                          handover: handover_pb2.Handover) -> memberships.Membership | None:
    """Place one attempt of a flow in this county (FlowRegistered, FlowRedirected): offer, or refuse with advice.

    Idempotent and order-tolerant: nothing opens for a closed flow, a superseded attempt, or an attempt no newer
    than one already recorded here. Returns None when the event changes nothing.
    """
    flow = _event_uuid(flow_id)
    member = _event_uuid(member_id)
    if attempt < 1:
        raise PoisonMessage("the event carries no placement attempt")
    await repo.lock_flow(uow, flow_id=flow)
    latest, closure = await repo.flow_state(uow, flow_id=flow)
    if not memberships.should_open(attempt=attempt, latest_attempt=latest, closure=closure):
        return None
    try:
        result = await _place(uow, request=placement.Request(
            destination_code=handover.destination_code, employer=handover.employer, industry=handover.industry,
            address=handover.address))
    except InvalidArgument as exc:
        # The origin addressed a county that does not place this destination: retrying cannot help.
        raise PoisonMessage(exc.message) from None
    try:
        # The origin sealed the phone for this county and flow; it is re-encrypted for this table's row.
        phone = deps.cipher.decrypt(handover.phone_sealed, tenant=uow.tenant, table="handover", column="phone",
                                    row=flow_id) if handover.phone_sealed else ""
    except DecryptionError:
        raise PoisonMessage("the sealed phone number does not open for this county") from None
    membership_id = str(uuid.uuid4())
    arrival = memberships.Arrival(
        origin_tenant_id=origin_tenant_id, flow_id=flow, member_id=member, attempt=attempt,
        member_name=" ".join(handover.member_name.split()), id_number_masked=memberships.masked_id(
            handover.id_number_masked), phone=phone, gender=handover.gender, industry=handover.industry,
        employer=handover.employer, address=handover.address, destination_code=handover.destination_code,
        # The consumer runs inside the trace the origin's 外出登记 started: keep it for the rest of the saga.
        traceparent=telemetry.current_traceparent() or "",
    )
    found = result.candidate
    m = await repo.insert_membership(
        uow, membership_id=membership_id, arrival=arrival,
        phone_enc=deps.cipher.encrypt(phone, tenant=uow.tenant, table="memberships", column="phone",
                                      row=membership_id) if phone else None,
        phone_masked=pii.mask_phone(phone) if phone else "", org_id=found.org.id if found else None,
        rule=result.rule, reason=result.reason, advice=result.advice,
        status=memberships.Status.OFFERED if found else memberships.Status.REFUSED,
        # The membership carries no advice field: staff reading a refusal for want of an organisation see it here.
        refusal_reason="" if found else f"{result.reason}。{result.advice}",
    )
    if found is not None:
        await _record_membership(uow, actor, message=events.TemporaryMembershipOffered(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, org_id=found.org.id, org_name=found.org.name,
            rule=result.rule.name if result.rule else "", reason=result.reason, destination_code=m.destination_code,
        ), action="membership.offer", membership=m)
    else:
        await _record_membership(uow, actor, message=events.TemporaryMembershipRefused(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, reason=result.reason, advice=result.advice, no_placement=True,
            destination_code=m.destination_code,
        ), action="membership.no_placement", membership=m, reason=result.reason)
    return m


async def close_superseded(*, uow: UnitOfWork, actor: Actor, flow_id: str,
                           attempt: int) -> list[memberships.Membership]:
    """Close this county's memberships of earlier attempts of a redirected flow, and keep late ones from opening."""
    flow = _event_uuid(flow_id)
    await repo.lock_flow(uow, flow_id=flow)
    await repo.record_closure(uow, flow_id=flow, closed_below_attempt=attempt)
    closed = await repo.close_open_memberships(uow, flow_id=flow, below_attempt=attempt,
                                               reason=memberships.REDIRECTED)
    for m in closed:
        await _record_membership(uow, actor, message=_closed_event(m), action="membership.close", membership=m,
                                 reason=m.close_reason)
    return closed


async def close_flow(*, uow: UnitOfWork, actor: Actor, flow_id: str, reason: str) -> list[memberships.Membership]:
    """Close every open membership of an ended flow (回归, 转出, cancelled); a closure arriving first still wins."""
    flow = _event_uuid(flow_id)
    why = reason.strip().upper() or "CLOSED"
    await repo.lock_flow(uow, flow_id=flow)
    await repo.record_closure(uow, flow_id=flow, closed_reason=why)
    closed = await repo.close_open_memberships(uow, flow_id=flow, below_attempt=None, reason=why)
    for m in closed:
        await _record_membership(uow, actor, message=_closed_event(m), action="membership.close", membership=m,
                                 reason=why)
    return closed


async def _sees(uow: UnitOfWork, principal: Principal, m: memberships.Membership) -> bool:
    scope_path = await _scope_path(uow, principal)
    if scope_path is None:
        return True
    # A membership no organisation took (refused for want of one) belongs to the county's staff alone.
    return m.org_path is not None and domain.visible(path=m.org_path, scope_path=scope_path,
                                                     own_org_only=principal.role in domain.OWN_ORG_ROLES)


async def _load_membership(uow: UnitOfWork, principal: Principal, membership_id: str, *,
                           for_update: bool = False) -> memberships.Membership:
    """A membership the caller may see; anything else looks as if it did not exist."""
    found = await repo.membership(uow, membership_id=_membership_uuid(membership_id), for_update=for_update)
    if found is None or not await _sees(uow, principal, found):
        raise NotFound(_NO_MEMBERSHIP)
    return found


def _membership_statuses(values: list[int]) -> list[int]:
    try:
        return sorted({int(memberships.Status(v)) for v in values})
    except ValueError:
        raise InvalidArgument.field("statuses", "状态无效（待报到、已报到、已拒绝、已结束）") from None


async def list_memberships(*, deps: OrgDeps, principal: Principal, statuses: list[int], org_id: str,
                           page_size: int, page_token: str) -> tuple[list[memberships.Membership], str]:
    """A page of the county's temporary memberships, newest first; ``org_id`` keeps that organisation's subtree."""
    memberships.ensure_may_handle(principal.role)
    wanted = _membership_statuses(statuses)
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    if after:
        _uuid(after[1], field="page_token")
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        within = await _scope_path(uow, principal)
        exact: str | None = None
        if org_id:
            _, within = await _load(uow, principal, _uuid(org_id, field="org_id"))
        if principal.role in domain.OWN_ORG_ROLES:
            # A branch secretary sees its own branch only, not the groups under it.
            exact, within = _uuid(principal.org or "", field="org"), None
        rows = await repo.list_memberships(uow, statuses=wanted, within_path=within, org_id=exact, after=after,
                                           limit=limit + 1)
    page = rows[:limit]
    token = pagination.encode_cursor(page[-1].offered_at, page[-1].id) if len(rows) > limit else ""
    return page, token


async def get_membership(*, deps: OrgDeps, principal: Principal, membership_id: str) -> memberships.Membership:
    """One temporary membership the caller may see."""
    memberships.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        return await _load_membership(uow, principal, membership_id)


async def refuse_membership(*, deps: OrgDeps, principal: Principal, membership_id: str,
                            reason: str) -> memberships.Membership:
    """Refuse an offer with a reason; the origin must re-place the member (TemporaryMembershipRefused)."""
    memberships.ensure_may_handle(principal.role)
    why = memberships.clean_reason(reason)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        m = await _load_membership(uow, principal, membership_id, for_update=True)
        memberships.ensure_may_refuse(m.status)
        await repo.refuse_membership(uow, membership_id=m.id, reason=why)
        after = await _load_membership(uow, principal, m.id)
        await _record_membership(uow, Actor.of(principal), message=events.TemporaryMembershipRefused(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            attempt=m.attempt, reason=why, no_placement=False, destination_code=m.destination_code,
        ), action="membership.refuse", membership=after, reason=why)
        await uow.commit()
    return after


async def _check_in(uow: UnitOfWork, actor: Actor, m: memberships.Membership, *, method: str,
                    at: datetime) -> memberships.Membership:
    await repo.check_in_membership(uow, membership_id=m.id, method=method, at=at)
    after = await repo.membership(uow, membership_id=m.id)
    assert after is not None
    await _record_membership(uow, actor, message=events.CheckedIn(
        membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
        attempt=m.attempt, org_id=m.org_id or "", org_name=m.org_name, method=method, checked_in_at=at.isoformat(),
    ), action="membership.check_in", membership=after, reason=method)
    return after


async def check_in_membership(*, deps: OrgDeps, principal: Principal, membership_id: str) -> memberships.Membership:
    """Record the member's 报到 by staff; checking in twice changes nothing and emits nothing."""
    memberships.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        m = await _load_membership(uow, principal, membership_id, for_update=True)
        if not memberships.check_in_transition(m.status):
            return m
        after = await _check_in(uow, Actor.of(principal), m, method=memberships.STAFF, at=deps.clock())
        await uow.commit()
    return after


async def get_check_in_code(*, deps: OrgDeps, principal: Principal, org_id: str) -> tuple[str, str]:
    """An organisation's QR check-in code and name; the random secret is created (and audited) on first use."""
    memberships.ensure_may_handle(principal.role)
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        org, _ = await _load(uow, principal, org_id)
        memberships.ensure_code_org(org)
        stored = await repo.checkin_secret(uow, org_id=org.id)
        if stored is None:
            stored = await repo.create_checkin_secret(uow, org_id=org.id, secret=secrets.token_urlsafe(24),
                                                      created_by=principal.user)
            await audit.record(uow, audit.AuditEntry(actor=principal.user, role=principal.role,
                                                     action="checkin_code.create", object_type="org",
                                                     object_id=org.id))
            await uow.commit()
    return memberships.make_code(tenant=org.tenant_id, org_id=org.id, secret=stored), org.name


async def check_in_by_code_across_tenants(*, deps: OrgDeps, principal: Principal,
                                          code: str) -> memberships.Membership:
    """A member's own 报到 by scanning an organisation's QR code, written in the code's county.

    This deliberately acts in another county than the caller's: a member's token names the home county, while
    the membership lives where the organisation is. What makes that safe is the code itself: its secret is
    verified (in constant time) against the organisation's stored secret, and only that member's own membership
    (home county and member id from the verified token) inside that organisation's subtree is touched. A wrong
    code and a member with nothing to check in answer alike (NOT_FOUND).
    """
    if principal.role != "member" or not principal.tenant or not principal.member:
        raise PermissionDenied("只有流动党员本人可以扫码报到")
    try:
        member = str(uuid.UUID(principal.member))
    except ValueError:
        raise NotFound(_NO_CHECK_IN) from None
    parsed = memberships.parse_code(code)
    if parsed is None:
        raise NotFound(_NO_CHECK_IN)
    tenant, org_id, secret = parsed
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        stored = await repo.checkin_secret(uow, org_id=org_id)
        if stored is None or not hmac.compare_digest(stored.encode(), secret.encode()):
            raise NotFound(_NO_CHECK_IN)
        found = await repo.get(uow, org_id=org_id)
        if found is None or found[0].status is domain.OrgStatus.DISSOLVED:
            raise NotFound(_NO_CHECK_IN)
        held = await repo.memberships_of_member(uow, origin_tenant_id=principal.tenant, member_id=member,
                                                within_path=found[1])
        if not held:
            raise NotFound(_NO_CHECK_IN)
        m = held[0]
        if not memberships.check_in_transition(m.status):
            return m
        after = await _check_in(uow, Actor.of(principal), m, method=memberships.QR_CODE, at=deps.clock())
        await uow.commit()
    return after


async def record_activity(*, deps: OrgDeps, principal: Principal, membership_id: str, occurred_on: str, title: str,
                          note: str) -> str:
    """Record (and so vouch for) an activity a checked-in member attended, for the home 活动记事本."""
    memberships.ensure_may_handle(principal.role)
    activity = memberships.validate_activity(occurred_on=occurred_on, title=title, note=note,
                                             today=china_date(deps.clock()))
    activity_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        m = await _load_membership(uow, principal, membership_id, for_update=True)
        memberships.ensure_checked_in(m.status)
        await repo.insert_activity(uow, activity_id=activity_id, membership_id=m.id, activity=activity,
                                   recorded_by=principal.user)
        version = await repo.touch_membership(uow, membership_id=m.id)
        await _record_membership(uow, Actor.of(principal), message=events.ActivityRecorded(
            activity_id=activity_id, membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id,
            member_id=m.member_id, org_id=m.org_id or "", org_name=m.org_name,
            occurred_on=activity.occurred_on.isoformat(), title=activity.title, note=activity.note,
        ), action="membership.activity", membership=replace(m, version=version))
        await uow.commit()
    return activity_id


async def assess_membership(*, deps: OrgDeps, principal: Principal, membership_id: str, year: int, grade: str,
                            comment: str) -> memberships.Assessment:
    """Record the destination's assessment of a year (双向评议); assessing the same year again replaces it."""
    memberships.ensure_may_handle(principal.role)
    assessment = memberships.validate_assessment(year=year, grade=grade, comment=comment,
                                                 today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=_tenant(principal)) as uow:
        m = await _load_membership(uow, principal, membership_id, for_update=True)
        memberships.ensure_was_checked_in(m)
        await repo.upsert_assessment(uow, membership_id=m.id, assessment=assessment, assessed_by=principal.user)
        version = await repo.touch_membership(uow, membership_id=m.id)
        await _record_membership(uow, Actor.of(principal), message=events.DestinationAssessmentGiven(
            membership_id=m.id, flow_id=m.flow_id, origin_tenant_id=m.origin_tenant_id, member_id=m.member_id,
            year=assessment.year, grade=assessment.grade, comment=assessment.comment, org_name=m.org_name,
        ), action="membership.assess", membership=replace(m, version=version),
            reason=f"{assessment.year}={assessment.grade}")
        await uow.commit()
    return assessment
