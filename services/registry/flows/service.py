"""Flow use cases (外出登记 → 回归/转出) at the origin county: one transaction each, events through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from jinqiao.events.v1 import handover_pb2, registry_events_pb2
from jinqiao.kit import pagination, pii, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import (
    FailedPrecondition,
    FieldViolation,
    ForgedEvent,
    InvalidArgument,
    NotFound,
)
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.flows import domain as flows
from jinqiao.registry.flows import repo
from jinqiao.registry.flows.domain import Flow, FlowStatus
from jinqiao.registry.flows.models import FLOWS, FlowRow
from jinqiao.registry.members import domain as members_domain
from jinqiao.registry.members import service as members
from jinqiao.registry.members.models import MemberRow

HANDOVER = "handover"


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
        gender=members_domain.Gender(member.gender).name,
    )


async def _flow(uow: UnitOfWork, flow_id: str, *, for_update: bool = False) -> tuple[FlowRow, str]:
    found = await repo.get_flow(uow, flow_id=parse_id(flow_id, what="该流动记录"), for_update=for_update)
    if found is None:
        raise NotFound("未找到该流动记录")
    return found


async def _sync_member(uow: UnitOfWork, row: FlowRow, status: FlowStatus) -> None:
    """The member's search columns follow the flow; a closed flow leaves the member at home."""
    if status in flows.OPEN:
        await members.follow_flow(uow, member_id=row.member_id, flow_id=row.id, flow_status=int(status),
                                  destination=row.destination_code, industry=row.industry)
    else:
        await members.follow_flow(uow, member_id=row.member_id, flow_id=None, flow_status=0, destination="",
                                  industry="")


async def register_flow(*, deps: RegistryDeps, principal: Principal, member_id: str, data: OutflowInput,
                        request_id: str = "") -> tuple[Flow, str]:
    """外出登记: issue the 活动证 and 证明信 and ask the destination to place the member (FlowRegistered)."""
    flows.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
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
        member = await members.active_member(uow, member_id=member_id, for_update=True)
        before = await members.profile_of(uow, row=member)
        policy, number = await repo.policy_and_next_certificate_number(uow, year=china_date(now).year)
        flow_id = str(uuid.uuid4())
        phone = outflow.contact_phone or members.clear_numbers(deps, member=member)[1]
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
        # The flow, and the member's search columns following it (under the row lock taken above).
        followed = await repo.insert_open_flow(uow, row=row)
        await record_act(uow, principal, service=SERVICE, action="flow.register", object_type="flow",
                         object_id=flow_id, event=registry_events_pb2.FlowRegistered(
                             flow_id=flow_id, member_id=member.id, attempt=1,
                             handover=handover(deps, member=member, row=row), start_date=row.start_date.isoformat(),
                             expected_months=row.expected_months, certificate_serial=row.certificate_serial))
        # Away again: a returnee (回归) no longer counts as one.
        await members.publish_profile(uow, cipher=deps.cipher, member_id=member.id, before=before, locked_row=followed)
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
                                     valid_until=row.certificate_valid_until, issued=china_date(row.created_at))


async def get_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str) -> tuple[Flow, str]:
    """One flow of the caller's county (a member sees their own), with its introduction letter."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row, name = await _flow(uow, flow_id)
        members_domain.ensure_may_see_member(role=principal.role, own_member=principal.member,
                                             member_id=row.member_id)
        member = await members.find_member(uow, member_id=row.member_id)
    masked = member.id_number_masked if member else ""
    return row.to_domain(member_name=name), _letter(row, name, deps=deps, tenant=tenant, masked=masked)


async def list_flows(*, deps: RegistryDeps, principal: Principal, member_id: str, statuses: list[int],
                     destination_code: str, page_size: int, page_token: str, member_name: str = "",
                     page: int = 0) -> tuple[list[tuple[Flow, str]], str, int]:
    """A page of the county's flows, newest first, each with its 证明信 (a member lists only their own).

    By cursor (page_token) or by page number (page ≥ 1, then with the count of matching flows)."""
    tenant = require_tenant(principal)
    key = parse_id(member_id, what="该党员") if member_id else None
    if principal.role == Role.MEMBER:
        if key is None or key != principal.member:
            raise NotFound(members.NOT_FOUND)
    else:
        members_domain.ensure_may_read_members(principal.role)
    try:
        parsed = [int(FlowStatus(s)) for s in statuses]
    except ValueError:
        raise InvalidArgument.field("statuses", "流动状态无效") from None
    if page < 0:
        raise InvalidArgument.field("page", "页码无效")
    name = " ".join(member_name.split())
    if len(name) > 50:
        raise InvalidArgument.field("member_name", "姓名不能超过 50 个字符")
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token) if not page else None
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        # A member of another county has no flows here: not an empty list, but no such member.
        if key is not None and await members.find_member(uow, member_id=key) is None:
            raise NotFound(members.NOT_FOUND)
        rows, total = await repo.list_flows(uow, after=after, limit=limit + 1, member_id=key, statuses=parsed,
                                            destination_code=destination_code.strip(), member_name=name,
                                            offset=(page - 1) * limit if page else 0)
    chunk = rows[:limit]
    token = (pagination.encode_cursor(chunk[-1][0].created_at, chunk[-1][0].id)
             if len(rows) > limit and not page else "")
    return ([(row.to_domain(member_name=name), _letter(row, name, deps=deps, tenant=tenant, masked=masked))
             for row, name, masked in chunk], token, total if page else 0)


async def redirect_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, destination_code: str,
                        address: str, employer: str, industry: str) -> Flow:
    """A new placement: after a refusal, or because the destination or employer changed (FlowRedirected)."""
    flows.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
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
        updated = await redirect(deps=deps, uow=uow, principal=principal, row=row, changed=changed, reason=reason)
    return updated.to_domain(member_name=name)


async def redirect(*, deps: RegistryDeps, uow: UnitOfWork, principal: Principal, row: FlowRow,
                   changed: dict[str, object], reason: str) -> FlowRow:
    """Start the next placement attempt and commit; the previous placing county closes its membership.

    Shared by the API (a refusal, a new destination or employer) and the timers (an unanswered placement).
    """
    changes = {**changed, "attempt": row.attempt + 1, "status": int(FlowStatus.REGISTERED), "membership_id": None,
               "org_id": None, "org_name": "", "placement_rule": "", "placement_reason": "", "refusal_reason": "",
               "refusal_advice": "", "offered_at": None, "checked_in_at": None, "check_in_method": "",
               "placement_requested_at": deps.clock()}
    await repo.update_flow(uow, flow_id=row.id, changes=changes)
    updated, _ = await _flow(uow, row.id)
    member = await members.active_member(uow, member_id=row.member_id)
    await _sync_member(uow, updated, FlowStatus.REGISTERED)
    await record_act(uow, principal, service=SERVICE, action="flow.redirect", object_type="flow", object_id=row.id,
                     reason=reason, aggregate_version=updated.version, saga_trace=row.traceparent,
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
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        when = _iso_date(report_date, field="report_date", today=china_date(deps.clock()), not_before=row.start_date)
        if len(note) > 500:
            raise InvalidArgument.field("note", "不能超过 500 个字符")
        await repo.update_flow(uow, flow_id=row.id, changes={"last_report_date": when})
        await record_act(uow, principal, service=SERVICE,
                         action="flow.report_back", object_type="flow", object_id=row.id)
        updated, _ = await _flow(uow, row.id)
        await uow.commit()
    return updated.to_domain(member_name=name)


def _closed(row: FlowRow, *, reason: str, on: date) -> registry_events_pb2.FlowClosed:
    return registry_events_pb2.FlowClosed(flow_id=row.id, member_id=row.member_id,
                                          placing_tenant_id=row.placing_tenant_id, reason=reason,
                                          closed_on=on.isoformat(), destination_code=row.destination_code,
                                          industry=row.industry)


async def return_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, return_date: str,
                      facts: flows.ReturneeFacts) -> Flow:
    """回归: close the flow and the destination's membership, and record the returnee's facts."""
    flows.ensure_may_write(principal.role)
    clean = flows.validate_returnee_facts(facts)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        when = _iso_date(return_date, field="return_date", today=china_date(deps.clock()), not_before=row.start_date)
        await repo.update_flow(uow, flow_id=row.id, changes={"status": int(FlowStatus.RETURNED), "closed_on": when})
        await repo.insert_returnee(uow, flow_id=row.id, member_id=row.member_id,
                                   destination_code=row.destination_code, return_date=when, facts=clean)
        await _sync_member(uow, row, FlowStatus.RETURNED)
        updated, _ = await _flow(uow, row.id)
        await repo.close_cases_of_flow(uow, flow_id=row.id, timers=None, at=deps.clock(), by=principal.user,
                                       note=flows.FLOW_ENDED_NOTE)
        await record_act(uow, principal, service=SERVICE, action="flow.return", object_type="flow",
                         object_id=row.id, event=_closed(row, reason="RETURNED", on=when),
                         aggregate_version=updated.version, saga_trace=row.traceparent)
        await members.publish_profile(uow, cipher=deps.cipher, member_id=row.member_id, traceparent=row.traceparent)
        await uow.commit()
    return updated.to_domain(member_name=name)


async def transfer_flow(*, deps: RegistryDeps, principal: Principal, flow_id: str, transfer_date: str) -> Flow:
    """转出: hand the member to the destination county's registry as its own member (应转尽转)."""
    flows.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row, name = await _flow(uow, flow_id, for_update=True)
        flows.ensure_open(row.to_domain(member_name=name))
        if row.out_of_province:
            raise FailedPrecondition("流入地在省外，组织关系须通过全国党员管理信息系统转出，本平台只能办理省内转接")
        when = _iso_date(transfer_date, field="transfer_date", today=china_date(deps.clock()),
                         not_before=row.start_date)
        member = await members.active_member(uow, member_id=row.member_id, for_update=True)
        await repo.update_flow(uow, flow_id=row.id,
                               changes={"status": int(FlowStatus.TRANSFERRED), "closed_on": when})
        await _sync_member(uow, row, FlowStatus.TRANSFERRED)
        await members.mark_transferred_out(uow, member_id=member.id)
        updated, _ = await _flow(uow, row.id)
        await repo.close_cases_of_flow(uow, flow_id=row.id, timers=None, at=deps.clock(), by=principal.user,
                                       note=flows.FLOW_ENDED_NOTE)
        await record_act(uow, principal, service=SERVICE, action="flow.transfer", object_type="flow",
                         object_id=row.id, event=_closed(row, reason="TRANSFERRED", on=when),
                         aggregate_version=updated.version, saga_trace=row.traceparent)
        await record_act(uow, principal, service=SERVICE,
                         action="member.transfer_out", object_type="member", object_id=member.id,
                         event=_transferred(deps, member=member, row=row, on=when),
                         aggregate_version=member.version + 1, saga_trace=row.traceparent)
        # No longer on the county's roster: other services stop deciding on this member here.
        await members.publish_profile(uow, cipher=deps.cipher, member_id=member.id, traceparent=row.traceparent)
        await uow.commit()
    return updated.to_domain(member_name=name)


def _transferred(deps: RegistryDeps, *, member: MemberRow, row: FlowRow,
                 on: date) -> registry_events_pb2.MemberTransferred:
    """The member record for the destination county; ID and phone sealed for that county alone."""
    id_number, phone = members.clear_numbers(deps, member=member)
    dest = row.destination_code
    return registry_events_pb2.MemberTransferred(
        flow_id=row.id, member_id=member.id, destination_tenant_id=dest, transfer_date=on.isoformat(),
        member=handover_pb2.TransferredMember(
            name=member.name, id_number_sealed=seal(deps, id_number, tenant=dest, purpose=members.TRANSFER,
                                                    column="id_number", flow_id=row.id),
            phone_sealed=seal(deps, phone, tenant=dest, purpose=members.TRANSFER, column="phone", flow_id=row.id),
            ethnicity=member.ethnicity, education=member.education,
            join_date=member.join_date.isoformat() if member.join_date else "",
            membership_status=members_domain.MembershipStatus(member.membership_status).name,
            occupation=member.occupation,
            full_member_date=member.full_member_date.isoformat() if member.full_member_date else "",
        ),
    )


async def list_alerts(*, deps: RegistryDeps, principal: Principal, flow_id: str, timer: str) -> list[flows.Alert]:
    """Fired policy timers of the county, newest first."""
    members_domain.ensure_may_read_members(principal.role)
    key = parse_id(flow_id, what="该流动记录") if flow_id else None
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        # Another county's flow (or none at all) has no alerts here: not an empty list, but not found.
        if key is not None and await repo.get_flow(uow, flow_id=key) is None:
            raise NotFound("未找到该流动记录")
        return await repo.alerts(uow, flow_id=key, timer=timer.strip().upper())


async def _alert_reach(uow: UnitOfWork, principal: Principal) -> frozenset[str] | None:
    """The home organisations whose members' cases the caller handles (None: the whole county)."""
    return await members.org_reach(uow, principal, Permission.ALERTS_HANDLE, refusal="当前角色不能处理预警")


async def list_alert_cases(*, deps: RegistryDeps, principal: Principal, states: list[int], timer: str, level: int,
                           page: int, page_size: int) -> tuple[list[flows.AlertCase], int]:
    """A page of the 预警 cases within the caller's reach, most recently fired first, and how many match."""
    tenant = require_tenant(principal)
    name, lvl = flows.alert_filters(timer=timer, level=level)
    try:
        wanted = [int(flows.AlertState(s)) for s in states] or [int(s) for s in flows.ACTIVE_ALERT_STATES]
    except ValueError:
        raise InvalidArgument.field("state", "预警状态无效") from None
    if page < 1:
        page = 1
    if page_size < 0 or page_size > 200:
        raise InvalidArgument.field("page_size", "每页条数应在 0 到 200 之间")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        reach = await _alert_reach(uow, principal)
        return await repo.list_cases(uow, states=wanted, timer=name, level=lvl,
                                     reach=sorted(reach) if reach is not None else None, limit=page_size,
                                     offset=(page - 1) * page_size)


async def _case_in_reach(uow: UnitOfWork, principal: Principal, case_id: str) -> flows.AlertCase:
    found = await repo.get_case(uow, case_id=parse_id(case_id, what="该预警"), for_update=True)
    reach = await _alert_reach(uow, principal)
    # A case outside the caller's reach looks as if it did not exist.
    if found is None or (reach is not None and (found[1] or "") not in reach):
        raise NotFound("未找到该预警")
    return found[0]


async def acknowledge_alert(*, deps: RegistryDeps, principal: Principal, case_id: str,
                            note: str) -> flows.AlertCase:
    """确认: an office has seen the case and is handling it (who and when are kept, audited)."""
    clean = flows.alert_note(note, required=False)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        case = await _case_in_reach(uow, principal, case_id)
        flows.ensure_may_acknowledge(case.state)
        changes: dict[str, object] = {"state": int(flows.AlertState.ACKNOWLEDGED),
                                      "acknowledged_at": deps.clock(), "acknowledged_by": principal.user}
        if clean:
            changes["note"] = clean
        await repo.update_case(uow, case_id=case.id, changes=changes)
        # Notifications stops climbing the org tree with it (issue 15).
        await record_act(uow, principal, service=SERVICE, action="alert.acknowledge", object_type="alert",
                         object_id=case.id, reason=clean or None, event=registry_events_pb2.AlertAcknowledged(
                             case_id=case.id, flow_id=case.flow_id, member_id=case.member_id, timer=case.timer,
                             level=case.level, acknowledged_by=principal.user))
        updated = await repo.get_case(uow, case_id=case.id)
        await uow.commit()
    assert updated is not None
    return updated[0]


async def close_alert(*, deps: RegistryDeps, principal: Principal, case_id: str, note: str) -> flows.AlertCase:
    """办结: the case is closed with what was done; a later escalation of its timer re-opens it."""
    clean = flows.alert_note(note, required=True)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        case = await _case_in_reach(uow, principal, case_id)
        flows.ensure_may_close(case.state)
        await repo.update_case(uow, case_id=case.id, changes={
            "state": int(flows.AlertState.CLOSED), "closed_at": deps.clock(), "closed_by": principal.user,
            "note": clean})
        await record_act(uow, principal, service=SERVICE, action="alert.close", object_type="alert",
                         object_id=case.id, reason=clean, event=registry_events_pb2.AlertClosed(
                             case_id=case.id, flow_id=case.flow_id, member_id=case.member_id, timer=case.timer,
                             level=case.level, closed_by=principal.user))
        updated = await repo.get_case(uow, case_id=case.id)
        await uow.commit()
    assert updated is not None
    return updated[0]


async def get_policy(*, deps: RegistryDeps, principal: Principal) -> flows.Policy:
    """The county's policy timers."""
    members_domain.ensure_may_read_members(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        return await repo.policy(uow)


async def update_policy(*, deps: RegistryDeps, principal: Principal, values: dict[str, int]) -> flows.Policy:
    """Replace the county's policy timers (audited)."""
    flows.ensure_may_write(principal.role)
    policy = flows.validate_policy(values)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await repo.save_policy(uow, policy=policy)
        await record_act(uow, principal, service=SERVICE,
                         action="flow_policy.update", object_type="flow_policy", object_id=uow.tenant)
        await uow.commit()
    return policy


async def list_returnees(*, deps: RegistryDeps, principal: Principal, page_size: int,
                         page_token: str) -> tuple[list[flows.Returnee], str]:
    """A page of the county's returnees (回归工程), newest first."""
    members_domain.ensure_may_read_members(principal.role)
    limit = pagination.page_size(page_size)
    after = pagination.decode_dated_key(page_token)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        rows = await repo.returnees(uow, after=after, limit=limit + 1)
    page = rows[:limit]
    token = pagination.encode_key(page[-1].return_date.isoformat(), page[-1].flow_id) if len(rows) > limit else ""
    return page, token


# ---------------------------------------------------------------------------------------- the destination's answers
# Each runs in the consumer's unit of work (its inbox row commits with the effect). An answer about a closed flow
# returns quietly, as a duplicate does. An answer that cannot be the placing county's word about this flow (no
# such flow here, another county than the one placing the current attempt, an attempt that is not the current one,
# another placement than the one offered) raises: the consumer dead-letters it with the reason, never applies it.


async def _answerable(uow: UnitOfWork, *, flow_id: str, attempt: int, answered_by: str) -> FlowRow | None:
    """The flow, locked, if ``answered_by`` (the publishing county) may answer this attempt and it is still open."""
    key = parse_id_or_none(flow_id)
    found = await repo.get_flow(uow, flow_id=key, for_update=True) if key else None
    if found is None:
        raise ForgedEvent(f"来自 {answered_by} 的答复所指的外出登记不在本县")
    row = found[0]
    flows.ensure_answer_origin(placing_tenant_id=row.placing_tenant_id, attempt=row.attempt,
                               answered_by=answered_by, answered_attempt=attempt)
    if not flows.accepts_answer(status=FlowStatus(row.status), attempt=row.attempt, answered_attempt=attempt):
        return None
    return row


async def _set_status(uow: UnitOfWork, row: FlowRow, status: FlowStatus, changes: dict[str, object]) -> None:
    await repo.update_flow(uow, flow_id=row.id, changes={"status": int(status), **changes})
    await members.follow_flow(uow, member_id=row.member_id, flow_id=row.id, flow_status=int(status),
                              destination=row.destination_code, industry=row.industry)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the destination placed the member: the temporary membership and its organisation."""

    membership_id: str
    org_id: str
    org_name: str


async def apply_offer(*, uow: UnitOfWork, flow_id: str, attempt: int, placement: Placement, rule: str, reason: str,
                      offered_at: datetime, answered_by: str) -> None:
    """The destination offered a temporary membership; a check-in that overtook it keeps the flow managed."""
    row = await _answerable(uow, flow_id=flow_id, attempt=attempt, answered_by=answered_by)
    if row is None:
        return
    await _set_status(uow, row, flows.after_offer(FlowStatus(row.status)), {
        "membership_id": placement.membership_id, "org_id": placement.org_id, "org_name": placement.org_name,
        "placement_rule": rule, "placement_reason": reason, "refusal_reason": "", "refusal_advice": "",
        "offered_at": offered_at,
    })


async def apply_refusal(*, uow: UnitOfWork, flow_id: str, attempt: int, reason: str, advice: str,
                        membership_id: str, answered_by: str) -> None:
    """The destination refused (or found no organisation): the origin must re-place the member."""
    row = await _answerable(uow, flow_id=flow_id, attempt=attempt, answered_by=answered_by)
    if row is None:
        return
    status = flows.after_refusal(FlowStatus(row.status))
    if status is FlowStatus.REFUSED:
        await _set_status(uow, row, status, {"refusal_reason": reason, "refusal_advice": advice,
                                             "membership_id": membership_id or None})


async def apply_check_in(*, uow: UnitOfWork, flow_id: str, attempt: int, placement: Placement, method: str,
                         checked_in_at: str, occurred_at: datetime, answered_by: str) -> None:
    """报到 at the destination: the member is managed (流而不失), at the organisation that offered the place."""
    row = await _answerable(uow, flow_id=flow_id, attempt=attempt, answered_by=answered_by)
    if row is None:
        return
    # A check-in that overtook the offer has nothing to compare with yet; the offer then names the same place.
    flows.ensure_same_placement(offered_membership=row.membership_id, offered_org=row.org_id,
                                membership_id=placement.membership_id, org_id=placement.org_id)
    try:
        at = datetime.fromisoformat(checked_in_at)
    except ValueError:
        at = occurred_at
    await _set_status(uow, row, FlowStatus.MANAGED, {
        "membership_id": placement.membership_id, "org_id": placement.org_id, "org_name": placement.org_name,
        "checked_in_at": at, "check_in_method": method, "refusal_reason": "", "refusal_advice": "",
    })
    # 报到 settles the overdue-报到 case: it closes by itself, saying why.
    await repo.close_cases_of_flow(uow, flow_id=row.id, timers=[flows.Timer.CHECK_IN_OVERDUE], at=occurred_at,
                                   by="系统", note="党员已在流入地报到，预警自动办结")


# ------------------------------------------------------------------------------------------------ policy timers

# The principal of the timer sweep's acts (audit rows and events).
SYSTEM = Principal(user="system:policy-timers", role=Role.SERVICE, scope="41", tenant=None)


async def fire_due_timers_all_tenants(*, deps: RegistryDeps, now: datetime) -> int:
    """Every county's due timers; crosses tenants by design: only the list of counties with open flows is read
    across them (a SECURITY DEFINER function), then each county is swept under its own tenant."""
    async with deps.db.pool.acquire() as conn:
        counties = await repo.counties_with_open_flows_all_tenants(conn)
    fired = 0
    for county in counties:
        fired += await fire_due_timers(deps=deps, tenant=county, now=now)
    return fired


async def fire_due_timers(*, deps: RegistryDeps, tenant: str, now: datetime) -> int:
    """One county's due timers in one transaction (alerts and events commit together), then a new placement for
    each placement nobody answered in time (compensation, each in its own transaction); how many fired."""
    fired = 0
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        policy = await repo.policy(uow)
        timed_out = []
        for row, name in await repo.open_flows(uow):
            flow = row.to_domain(member_name=name)
            if flows.placement_timed_out(flow, requested_at=row.placement_requested_at, policy=policy, now=now):
                timed_out.append(row)
            for due in flows.due_timers(flow, policy=policy, today=china_date(now)):
                if await repo.insert_alert(uow, flow_id=row.id, member_id=row.member_id, timer=due.timer,
                                           level=due.level, due_date=due.due_date, fired_at=now):
                    fired += 1
                    await repo.open_case(uow, flow_id=row.id, member_id=row.member_id, timer=due.timer,
                                         level=due.level, fired_at=now)
                    await record_act(uow, SYSTEM, service=SERVICE, action="flow.timer", object_type="flow",
                                     object_id=row.id, reason=f"{due.timer}:{due.level}",
                                     event=registry_events_pb2.PolicyTimerFired(
                                         flow_id=row.id, member_id=row.member_id, timer=due.timer, level=due.level,
                                         due_date=due.due_date.isoformat(), destination_code=row.destination_code,
                                         industry=row.industry), saga_trace=row.traceparent)
        await uow.commit()
    for row in timed_out:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            found = await repo.get_flow(uow, flow_id=row.id, for_update=True)
            if found and found[0].attempt == row.attempt and found[0].status == FlowStatus.REGISTERED:
                await redirect(deps=deps, uow=uow, principal=SYSTEM, row=found[0], changed={}, reason="TIMED_OUT")
                fired += 1
    return fired

