"""Organisations use cases: each one transaction, tenant explicit, event and audit row in the same commit."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from google.protobuf.message import Message

from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import audit, pagination, pii, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import Database, UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.events import new_event
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant, province_of
from jinqiao.organizations import checklist, domain, meetings, officers, placement, repo

SERVICE = "organizations"
_PATH = re.compile(r"[0-9a-f]{32}(?:\.[0-9a-f]{32})*")


@dataclass(frozen=True, slots=True)
class OrgDeps:
    """What the use cases need, built once in ``server.py``."""

    db: Database
    cipher: FieldCipher


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
    traceparent = telemetry.current_traceparent()
    uow.add_event(new_event(message, service=SERVICE, tenant=uow.tenant, aggregate_id=org_id,
                            aggregate_version=version, traceparent=traceparent))
    await audit.record(uow, audit.AuditEntry(
        actor=principal.user, role=principal.role, action=action, object_type="org", object_id=org_id,
        reason=reason, trace_id=traceparent.split("-")[1] if traceparent else None,
    ))


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
    """Placement in one county's tree (also what the cross-county saga will call at the destination)."""
    scope = _placement_scope(tenant=tenant, destination_code=request.destination_code)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        rules = await repo.placement_rules(uow, scope=scope) or list(placement.DEFAULT_RULES[scope])
        candidates = await repo.placement_candidates(uow)
    return placement.place(request, rules=rules, candidates=candidates)


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
