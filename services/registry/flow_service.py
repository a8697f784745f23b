"""Flow use cases (外出登记 → 回归/转出) at the origin county: one transaction each, events through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from jinqiao.events.v1 import handover_pb2, registry_events_pb2
from jinqiao.kit import pagination, pii, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from jinqiao.registry import domain, flows, repo
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import Flow, FlowStatus
from jinqiao.registry.models import FLOWS, MEMBERS, FlowRow, MemberRow
from jinqiao.registry.service import parse_id, record, tenant_of

HANDOVER = "handover"
TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class OutflowInput:
    """The raw fields of a 外出登记."""

    destination_code: str
    address: str
    employer: str
    industry: str
    start_date: str
    expected_months: int
    contact_phone: str


def seal(deps: RegistryDeps, value: str | None, *, tenant: str, purpose: str, column: str, flow_id: str) -> bytes:
    """Encrypt a value for the county that will read it off an event (bound to that county and the flow)."""
    if not value:
        return b""
    return deps.cipher.encrypt(value, tenant=tenant, table=purpose, column=column, row=flow_id)


def _member_phone(deps: RegistryDeps, member: MemberRow) -> str | None:
    if not member.phone_enc:
        return None
    return deps.cipher.decrypt(member.phone_enc, tenant=member.tenant_id, table=MEMBERS, column="phone",
                               row=member.id)


def _flow_phone(deps: RegistryDeps, row: FlowRow) -> str | None:
    if not row.contact_phone_enc:
        return None
    return deps.cipher.decrypt(row.contact_phone_enc, tenant=row.tenant_id, table=FLOWS, column="contact_phone",
                               row=row.id)


def handover(deps: RegistryDeps, *, member: MemberRow, row: FlowRow) -> handover_pb2.Handover:
    """What the placing county needs (DESIGN §3): name, masked ID, the phone sealed for it, the work."""
    return handover_pb2.Handover(
        member_name=member.name, id_number_masked=member.id_number_masked,
        phone_sealed=seal(deps, _flow_phone(deps, row), tenant=row.placing_tenant_id, purpose=HANDOVER,
                          column="phone", flow_id=row.id),
        destination_code=row.destination_code, placing_tenant_id=row.placing_tenant_id,
        out_of_province=row.out_of_province, employer=row.employer, industry=row.industry, address=row.address,
        gender=domain.Gender(member.gender).name,
    )


async def _member(uow: UnitOfWork, member_id: str, *, for_update: bool = False) -> MemberRow:
    row = await repo.get_member(uow, member_id=parse_id(member_id), for_update=for_update)
    if row is None or row.record_status != domain.RecordStatus.ACTIVE:
        raise NotFound("未找到该党员")
    return row


async def _flow(uow: UnitOfWork, flow_id: str, *, for_update: bool = False) -> tuple[FlowRow, str]:
    found = await repo.get_flow(uow, flow_id=parse_id(flow_id, what="该流动记录"), for_update=for_update)
    if found is None:
        raise NotFound("未找到该流动记录")
    return found


async def _sync_member(uow: UnitOfWork, row: FlowRow, status: FlowStatus) -> None:
    """The member's search columns follow the flow; a closed flow leaves the member at home."""
    if status in flows.OPEN:
        await repo.set_member_flow(uow, member_id=row.member_id, flow_id=row.id, status=int(status),
                                   destination=row.destination_code, industry=row.industry)
    else:
        await repo.set_member_flow(uow, member_id=row.member_id, flow_id=None, status=0, destination="",
                                   industry="")


async def register_flow(*, deps: RegistryDeps, principal: Principal, member_id: str, data: OutflowInput,
                        request_id: str = "") -> tuple[Flow, str]:
    """外出登记: issue the 活动证 and 证明信 and ask the destination to place the member (FlowRegistered)."""
    flows.ensure_may_write(principal.role)
    tenant = tenant_of(principal)
    now = deps.clock()
    outflow = flows.validate_outflow(
        origin=tenant, destination_code=data.destination_code, address=data.address, employer=data.employer,
        industry=data.industry, start_date=data.start_date, expected_months=data.expected_months,
        contact_phone=data.contact_phone, today=china_date(now),
    )
    if len(request_id) > 100:
        raise InvalidArgument.field("request_id", "不能超过 100 个字符")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            if existing := await repo.flow_by_request_id(uow, request_id=request_id):
                row, name = await _flow(uow, existing)
                return row.to_domain(member_name=name), _letter(row, name, deps=deps, tenant=tenant)
        member = await _member(uow, member_id, for_update=True)
        policy = await repo.policy(uow)
        number = await repo.next_certificate_number(uow, year=china_date(now).year)
        flow_id = str(uuid.uuid4())
        phone = outflow.contact_phone or _member_phone(deps, member)
        row = FlowRow(
            tenant_id=tenant, id=flow_id, member_id=member.id, attempt=1, status=int(FlowStatus.REGISTERED),
            destination_code=outflow.destination_code, placing_tenant_id=outflow.placing_tenant_id,
            out_of_province=outflow.out_of_province, address=outflow.address, employer=outflow.employer,
            industry=outflow.industry, start_date=outflow.start_date, destination_since=outflow.start_date,
            expected_months=outflow.expected_months,
            contact_phone_enc=deps.cipher.encrypt(phone, tenant=tenant, table=FLOWS, column="contact_phone",
                                                  row=flow_id) if phone else None,
            contact_phone_masked=pii.mask_phone(phone) if phone else "",
            certificate_serial=flows.certificate_serial(tenant=tenant, year=china_date(now).year, number=number),
            certificate_valid_until=flows.certificate_validity(start=outflow.start_date,
                                                               expected_months=outflow.expected_months,
                                                               policy=policy),
            membership_id=None, org_id=None, org_name="", placement_rule="", placement_reason="", refusal_reason="",
            refusal_advice="", placement_requested_at=now, offered_at=None, checked_in_at=None, check_in_method="",
            last_report_date=None, closed_on=None, request_id=request_id or None, created_at=now, version=1,
            traceparent=telemetry.current_traceparent() or "",
        )
        await repo.insert_flow(uow, row=row)
        await _sync_member(uow, row, FlowStatus.REGISTERED)
        await record(uow, principal, action="flow.register", object_type="flow", object_id=flow_id,
                     event=registry_events_pb2.FlowRegistered(
                         flow_id=flow_id, member_id=member.id, attempt=1, handover=handover(deps, member=member,
                                                                                            row=row),
                         start_date=row.start_date.isoformat(), expected_months=row.expected_months,
                         certificate_serial=row.certificate_serial))
        await uow.commit()
    return row.to_domain(member_name=member.name), _letter(row, member.name, deps=deps, tenant=tenant,
                                                           masked=member.id_number_masked)


def _letter(row: FlowRow, name: str, *, deps: RegistryDeps, tenant: str, masked: str = "") -> str:
    outflow = flows.Outflow(destination_code=row.destination_code, placing_tenant_id=row.placing_tenant_id,
                            out_of_province=row.out_of_province, address=row.address, employer=row.employer,
                            industry=row.industry, start_date=row.start_date, expected_months=row.expected_months,
                            contact_phone=None)
    return flows.introduction_letter(origin=tenant, member_name=name, id_number_masked=masked or "（见登记表）",
                                     flow=outflow, serial=row.certificate_serial,
                                     valid_until=row.certificate_valid_until, issued=row.created_at.date())


async def get_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str) -> tuple[Flow, str]:
    """One flow of the caller's county (a member sees their own), with its introduction letter."""
    tenant = tenant_of(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row, name = await _flow(uow, flow_id)
        domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=row.member_id)
        member = await repo.get_member(uow, member_id=row.member_id)
    masked = member.id_number_masked if member else ""
    return row.to_domain(member_name=name), _letter(row, name, deps=deps, tenant=tenant, masked=masked)


async def list_flows(*, deps: RegistryDeps, principal: Principal, member_id: str, statuses: list[int],
                     destination_code: str, page_size: int, page_token: str) -> tuple[list[Flow], str]:
    """A page of the county's flows, newest first (a member lists only their own)."""
    tenant = tenant_of(principal)
    key = parse_id(member_id) if member_id else None
    if principal.role == "member":
        if key is None or key != principal.member:
            raise NotFound("未找到该党员")
    else:
        domain.ensure_may_read_members(principal.role)
    try:
        parsed = [int(FlowStatus(s)) for s in statuses]
    except ValueError:
        raise InvalidArgument.field("statuses", "流动状态无效") from None
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        # A member of another county has no flows here: not an empty list, but no such member.
        if key is not None and await repo.get_member(uow, member_id=key) is None:
            raise NotFound("未找到该党员")
        rows = await repo.list_flows(uow, after=after, limit=limit + 1, member_id=key, statuses=parsed,
                                     destination_code=destination_code.strip())
    page = rows[:limit]
    token = pagination.encode_cursor(page[-1][0].created_at, page[-1][0].id) if len(rows) > limit else ""
    return [row.to_domain(member_name=name) for row, name in page], token


async def redirect_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, destination_code: str,
                        address: str, employer: str, industry: str) -> Flow:
    """A new placement: after a refusal, or because the destination or employer changed (FlowRedirected)."""
    flows.ensure_may_write(principal.role)
    tenant = tenant_of(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flow = row.to_domain(member_name=name)
        flows.ensure_open(flow)
        violations: list[FieldViolation] = []
        changed: dict[str, object] = {}
        if destination_code.strip() and destination_code.strip() != row.destination_code:
            dest, placing, out = flows.destination(origin=tenant, code=destination_code, violations=violations)
            changed.update(destination_code=dest, placing_tenant_id=placing, out_of_province=out,
                           destination_since=china_date(deps.clock()))
        for field, value in (("address", address), ("employer", employer), ("industry", industry)):
            clean = " ".join(value.split())
            if len(clean) > flows.TEXT_MAX:
                violations.append(FieldViolation(field, f"不能超过 {flows.TEXT_MAX} 个字符"))
            elif clean and clean != getattr(row, field):
                changed[field] = clean
        if violations:
            raise InvalidArgument(violations)
        if not changed and flow.status is not FlowStatus.REFUSED:
            raise FailedPrecondition("流入地和工作单位均未变化，且未被拒收，无需重新安置")
        reason = ("DESTINATION_CHANGED" if "destination_code" in changed else
                  "EMPLOYER_CHANGED" if changed else "REFUSED")
        updated = await _redirect(deps, uow, principal, row=row, changed=changed, reason=reason)
    return updated.to_domain(member_name=name)


async def _redirect(deps: RegistryDeps, uow: UnitOfWork, principal: Principal, *, row: FlowRow,
                    changed: dict[str, object], reason: str) -> FlowRow:
    """Start the next placement attempt; the previous placing county closes its membership."""
    changes = {**changed, "attempt": row.attempt + 1, "status": int(FlowStatus.REGISTERED), "membership_id": None,
               "org_id": None, "org_name": "", "placement_rule": "", "placement_reason": "", "refusal_reason": "",
               "refusal_advice": "", "offered_at": None, "checked_in_at": None, "check_in_method": "",
               "placement_requested_at": deps.clock()}
    await repo.update_flow(uow, flow_id=row.id, changes=changes)
    updated, _ = await _flow(uow, row.id)
    member = await _member(uow, row.member_id)
    await _sync_member(uow, updated, FlowStatus.REGISTERED)
    await record(uow, principal, action="flow.redirect", object_type="flow", object_id=row.id, reason=reason,
                 aggregate_version=updated.version, saga_trace=row.traceparent,
                 event=registry_events_pb2.FlowRedirected(
                     flow_id=row.id, member_id=row.member_id, attempt=updated.attempt,
                     handover=handover(deps, member=member, row=updated), reason=reason,
                     previous_placing_tenant_id=row.placing_tenant_id))
    await uow.commit()
    return updated


def _iso_date(value: str, *, field: str, today: date, not_before: date | None = None) -> date:
    try:
        parsed = date.fromisoformat(value.strip()) if value.strip() else today
    except ValueError:
        raise InvalidArgument.field(field, "日期格式应为 YYYY-MM-DD") from None
    if parsed > today:
        raise InvalidArgument.field(field, "日期不能晚于今天")
    if not_before and parsed < not_before:
        raise InvalidArgument.field(field, f"日期不能早于外出日期 {not_before.isoformat()}")
    return parsed


async def report_back(*, deps: RegistryDeps, principal: Principal, flow_id: str, report_date: str,
                      note: str) -> Flow:
    """The member reported to the home branch (at least yearly); the report-back timer starts again."""
    flows.ensure_may_write(principal.role)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        when = _iso_date(report_date, field="report_date", today=china_date(deps.clock()), not_before=row.start_date)
        if len(note) > 500:
            raise InvalidArgument.field("note", "不能超过 500 个字符")
        await repo.update_flow(uow, flow_id=row.id, changes={"last_report_date": when})
        await record(uow, principal, action="flow.report_back", object_type="flow", object_id=row.id)
        updated, _ = await _flow(uow, row.id)
        await uow.commit()
    return updated.to_domain(member_name=name)


@dataclass(frozen=True, slots=True)
class ReturneeFacts:
    """What 回归工程 records of a returnee."""

    started_business: bool = False
    business_name: str = ""
    joined_reserve_pool: bool = False
    elected_village_committee: bool = False
    village_post: str = ""
    note: str = ""


def _facts(facts: ReturneeFacts) -> dict[str, object]:
    violations: list[FieldViolation] = []
    for field in ("business_name", "village_post"):
        if len(getattr(facts, field)) > flows.TEXT_MAX:
            violations.append(FieldViolation(f"facts.{field}", f"不能超过 {flows.TEXT_MAX} 个字符"))
    if facts.started_business and not facts.business_name.strip():
        violations.append(FieldViolation("facts.business_name", "返乡创业的须填写企业或项目名称"))
    if facts.elected_village_committee and not facts.village_post.strip():
        violations.append(FieldViolation("facts.village_post", "当选村“两委”的须填写职务"))
    if len(facts.note) > 500:
        violations.append(FieldViolation("facts.note", "不能超过 500 个字符"))
    if violations:
        raise InvalidArgument(violations)
    return {"started_business": facts.started_business, "business_name": facts.business_name.strip(),
            "joined_reserve_pool": facts.joined_reserve_pool,
            "elected_village_committee": facts.elected_village_committee, "village_post": facts.village_post.strip(),
            "note": facts.note.strip()}


def _closed(row: FlowRow, *, reason: str, on: date) -> registry_events_pb2.FlowClosed:
    return registry_events_pb2.FlowClosed(flow_id=row.id, member_id=row.member_id,
                                          placing_tenant_id=row.placing_tenant_id, reason=reason,
                                          closed_on=on.isoformat(), destination_code=row.destination_code,
                                          industry=row.industry)


async def return_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, return_date: str,
                      facts: ReturneeFacts) -> Flow:
    """回归: close the flow and the destination's membership, and record the returnee's facts."""
    flows.ensure_may_write(principal.role)
    clean = _facts(facts)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        when = _iso_date(return_date, field="return_date", today=china_date(deps.clock()), not_before=row.start_date)
        await repo.update_flow(uow, flow_id=row.id, changes={"status": int(FlowStatus.RETURNED), "closed_on": when})
        await repo.insert_returnee(uow, flow_id=row.id, member_id=row.member_id,
                                   destination_code=row.destination_code, return_date=when, facts=clean)
        await _sync_member(uow, row, FlowStatus.RETURNED)
        updated, _ = await _flow(uow, row.id)
        await record(uow, principal, action="flow.return", object_type="flow", object_id=row.id,
                     event=_closed(row, reason="RETURNED", on=when), aggregate_version=updated.version,
                     saga_trace=row.traceparent)
        await uow.commit()
    return updated.to_domain(member_name=name)


async def transfer_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, transfer_date: str) -> Flow:
    """转出: hand the member to the destination county's registry as its own member (应转尽转)."""
    flows.ensure_may_write(principal.role)
    tenant = tenant_of(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        if row.out_of_province:
            raise FailedPrecondition("流入地在省外，组织关系须通过全国党员管理信息系统转出，本平台只能办理省内转接")
        when = _iso_date(transfer_date, field="transfer_date", today=china_date(deps.clock()),
                         not_before=row.start_date)
        member = await _member(uow, row.member_id, for_update=True)
        await repo.update_flow(uow, flow_id=row.id,
                               changes={"status": int(FlowStatus.TRANSFERRED), "closed_on": when})
        await _sync_member(uow, row, FlowStatus.TRANSFERRED)
        await repo.mark_transferred_out(uow, member_id=member.id)
        updated, _ = await _flow(uow, row.id)
        await record(uow, principal, action="flow.transfer", object_type="flow", object_id=row.id,
                     event=_closed(row, reason="TRANSFERRED", on=when), aggregate_version=updated.version,
                     saga_trace=row.traceparent)
        await record(uow, principal, action="member.transfer_out", object_type="member", object_id=member.id,
                     event=_transferred(deps, member=member, row=row, on=when), aggregate_version=member.version + 1,
                     saga_trace=row.traceparent)
        await uow.commit()
    return updated.to_domain(member_name=name)


def _transferred(deps: RegistryDeps, *, member: MemberRow, row: FlowRow,
                 on: date) -> registry_events_pb2.MemberTransferred:
    """The member record for the destination county; ID and phone sealed for that county alone."""
    bind = {"tenant": member.tenant_id, "table": MEMBERS, "row": member.id}
    id_number = deps.cipher.decrypt(member.id_number_enc, column="id_number", **bind)
    phone = deps.cipher.decrypt(member.phone_enc, column="phone", **bind) if member.phone_enc else None
    dest = row.destination_code
    return registry_events_pb2.MemberTransferred(
        flow_id=row.id, member_id=member.id, destination_tenant_id=dest, transfer_date=on.isoformat(),
        member=handover_pb2.TransferredMember(
            name=member.name, id_number_sealed=seal(deps, id_number, tenant=dest, purpose=TRANSFER,
                                                    column="id_number", flow_id=row.id),
            phone_sealed=seal(deps, phone, tenant=dest, purpose=TRANSFER, column="phone", flow_id=row.id),
            ethnicity=member.ethnicity, education=member.education,
            join_date=member.join_date.isoformat() if member.join_date else "",
            membership_status=domain.MembershipStatus(member.membership_status).name, occupation=member.occupation,
            full_member_date=member.full_member_date.isoformat() if member.full_member_date else "",
        ),
    )


async def list_alerts(*, deps: RegistryDeps, principal: Principal, flow_id: str, timer: str) -> list[dict[str, object]]:
    """Fired policy timers of the county, newest first."""
    domain.ensure_may_read_members(principal.role)
    key = parse_id(flow_id, what="该流动记录") if flow_id else None
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        return [dict(r) for r in await repo.alerts(uow, flow_id=key, timer=timer.strip().upper())]


async def get_policy(*, deps: RegistryDeps, principal: Principal) -> flows.Policy:
    """The county's policy timers."""
    domain.ensure_may_read_members(principal.role)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        return await repo.policy(uow)


async def update_policy(*, deps: RegistryDeps, principal: Principal, values: dict[str, int]) -> flows.Policy:
    """Replace the county's policy timers (audited)."""
    flows.ensure_may_write(principal.role)
    policy = flows.validate_policy(values)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        await repo.save_policy(uow, policy=policy)
        await record(uow, principal, action="flow_policy.update", object_type="flow_policy", object_id=uow.tenant)
        await uow.commit()
    return policy


async def list_activities(*, deps: RegistryDeps, principal: Principal, member_id: str) -> list[dict[str, object]]:
    """A member's 活动记事本 (a member reads their own)."""
    key = parse_id(member_id)
    domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=key)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        await _member(uow, key)
        return [dict(r) for r in await repo.activities(uow, member_id=key)]


async def record_home_assessment(*, deps: RegistryDeps, principal: Principal, member_id: str, year: int, grade: int,
                                 comment: str) -> dict[str, object]:
    """The home branch's side of 双向评议; returns the merged evaluation of the year."""
    flows.ensure_may_write(principal.role)
    clean_year, parsed, note = flows.validate_assessment(year=year, grade=grade, comment=comment,
                                                         today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        member = await _member(uow, member_id)
        await repo.save_home_assessment(uow, member_id=member.id, year=clean_year, grade=int(parsed), comment=note)
        await record(uow, principal, action="evaluation.home", object_type="member", object_id=member.id,
                     reason=f"{clean_year}:{parsed.name}")
        rows = [dict(r) for r in await repo.evaluations(uow, member_id=member.id) if r["year"] == clean_year]
        await uow.commit()
    return rows[0]


async def list_evaluations(*, deps: RegistryDeps, principal: Principal, member_id: str) -> list[dict[str, object]]:
    """A member's yearly evaluations, both sides and the merged grade."""
    key = parse_id(member_id)
    domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=key)
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        await _member(uow, key)
        return [dict(r) for r in await repo.evaluations(uow, member_id=key)]


async def list_returnees(*, deps: RegistryDeps, principal: Principal, page_size: int,
                         page_token: str) -> tuple[list[dict[str, object]], str]:
    """A page of the county's returnees (回归工程), newest first."""
    domain.ensure_may_read_members(principal.role)
    limit = pagination.page_size(page_size)
    after = pagination.decode_key(page_token, parts=2)
    if after:
        parse_id(after[1], what="分页标记")
    async with deps.db.unit_of_work(tenant=tenant_of(principal)) as uow:
        rows = [dict(r) for r in await repo.returnees(uow, after=after, limit=limit + 1)]  # type: ignore[arg-type]
    page = rows[:limit]
    token = (pagination.encode_key(page[-1]["return_date"].isoformat(), str(page[-1]["flow_id"]))
             if len(rows) > limit else "")
    return page, token
