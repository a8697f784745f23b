"""发展党员 use cases: one unit of work each, the tenant explicit, an audit row in the same commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from jinqiao.kit import pagination, pii
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Permission
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.development import domain as dev
from jinqiao.registry.development import repo
from jinqiao.registry.development.models import APPLICANTS, MENTORS, ApplicantRow, MentorRow
from jinqiao.registry.members import repo as org_replica
from jinqiao.registry.members import service as members

BLIND_PURPOSE = "applicant_id_number"
NOT_FOUND = "未找到该入党申请人"


@dataclass(frozen=True, slots=True)
class MentorInput:
    """A mentor as received."""

    name: str
    phone: str
    side: str
    org_name: str


@dataclass(frozen=True, slots=True)
class ApplicantInput:
    """The raw fields of a CreateApplicant request, as received."""

    name: str
    id_number: str
    phone: str
    township: str
    village: str
    destination_code: str
    employer: str
    application_date: str
    mentors: list[MentorInput] = field(default_factory=list)
    delegated: bool = False
    delegated_org_name: str = ""
    home_org_id: str = ""


@dataclass(frozen=True, slots=True)
class InspectionInput:
    """The raw fields of an AddInspection request."""

    side: str
    inspected_on: str
    inspector: str
    summary: str


async def _audit(uow: UnitOfWork, principal: Principal, *, action: str, object_id: str,
                 reason: str | None = None) -> None:
    await record_act(uow, principal, service=SERVICE, action=action, object_type="applicant", object_id=object_id,
                     reason=reason)


async def _one(uow: UnitOfWork, applicant_id: str) -> dev.Applicant:
    row = await repo.get_applicant(uow, applicant_id=applicant_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    return (await repo.load(uow, [row]))[0]


async def _reach(uow: UnitOfWork, principal: Principal, permission: Permission) -> frozenset[str] | None:
    """The home organisations the caller's grant reaches (None: the whole county), by the kit's scope rule."""
    return await members.org_reach(uow, principal, permission, refusal="当前角色不能查看发展党员个人信息")


def _within(applicant: dev.Applicant | ApplicantRow, reach: frozenset[str] | None) -> bool:
    # An applicant with no home organisation (recorded before it was asked) is the county department's alone.
    return reach is None or (applicant.home_org_id or "") in reach


async def _visible(uow: UnitOfWork, principal: Principal, permission: Permission, applicant_id: str,
                   *, for_update: bool = False) -> ApplicantRow:
    """The applicant row if the caller's grant reaches it; anything else looks as if it did not exist."""
    row = await repo.get_applicant(uow, applicant_id=applicant_id, for_update=for_update)
    if row is None or not _within(row, await _reach(uow, principal, permission)):
        raise NotFound(NOT_FOUND)
    return row


async def _home_org(uow: UnitOfWork, principal: Principal, value: str) -> str | None:
    """The applicant's home organisation from the request: a live org of the county inside the caller's reach."""
    reach = await _reach(uow, principal, Permission.DEVELOPMENT_WRITE)
    if not value.strip():
        if reach is None:
            return None
        raise InvalidArgument.field("home_org_id", "须填写申请人所属的党组织（本账号管辖范围内）")
    org = parse_id_or_none(value.strip())
    # An org outside the caller's reach answers as one that does not exist.
    if org is None or not await org_replica.known_org(uow, org_id=org) or (reach is not None and org not in reach):
        raise InvalidArgument.field("home_org_id", "所属党组织不存在")
    return org


def _rows(deps: RegistryDeps, *, tenant: str, applicant: dev.NewApplicant, request_id: str | None,
          home_org_id: str | None) -> tuple[ApplicantRow, list[MentorRow]]:
    """The applicant's rows: ID and phone numbers encrypted (bound to tenant, table, column and row) and masked."""
    applicant_id = str(uuid.uuid4())
    bind = {"tenant": tenant, "table": APPLICANTS, "row": applicant_id}
    row = ApplicantRow(
        tenant_id=tenant, id=applicant_id, name=applicant.name, gender=applicant.gender,
        birth_date=applicant.birth_date,
        id_number_enc=deps.cipher.encrypt(applicant.id_number, column="id_number", **bind),
        id_number_bidx=deps.blind_index.digest(applicant.id_number, purpose=BLIND_PURPOSE),
        id_number_masked=pii.mask_id_number(applicant.id_number),
        phone_enc=deps.cipher.encrypt(applicant.phone, column="phone", **bind) if applicant.phone else None,
        phone_masked=pii.mask_phone(applicant.phone) if applicant.phone else "",
        township=applicant.township, village=applicant.village, destination_code=applicant.destination_code,
        employer=applicant.employer, stage=int(dev.Stage.APPLICANT), delegated=applicant.delegated,
        delegated_org_name=applicant.delegated_org_name, request_id=request_id, created_at=deps.clock(), version=1,
        home_org_id=home_org_id,
    )
    mentors = []
    for seq, m in enumerate(applicant.mentors, start=1):
        # Each mentor row is its own row for the associated data, so a ciphertext cannot be moved between mentors.
        mentor_bind = {"tenant": tenant, "table": MENTORS, "row": f"{applicant_id}/{seq}"}
        mentors.append(MentorRow(
            tenant_id=tenant, applicant_id=applicant_id, seq=seq, name=m.name, side=m.side.value,
            org_name=m.org_name,
            phone_enc=deps.cipher.encrypt(m.phone, column="phone", **mentor_bind) if m.phone else None,
            phone_masked=pii.mask_phone(m.phone) if m.phone else "",
        ))
    return row, mentors


async def create_applicant(*, deps: RegistryDeps, principal: Principal, data: ApplicantInput,
                           request_id: str) -> dev.Applicant:
    """Record an application (入党申请) in the caller's county; a repeated request id returns the first result."""
    dev.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
    if len(request_id) > dev.REQUEST_ID_MAX:
        raise InvalidArgument.field("request_id", f"不能超过 {dev.REQUEST_ID_MAX} 个字符")
    checked = dev.validate_new_applicant(
        name=data.name, id_number=data.id_number, phone=data.phone, township=data.township, village=data.village,
        destination_code=data.destination_code, employer=data.employer, application_date=data.application_date,
        mentors=[(m.name, m.phone, m.side, m.org_name) for m in data.mentors], delegated=data.delegated,
        delegated_org_name=data.delegated_org_name, home_code=tenant, today=china_date(deps.clock()),
    )
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        home_org_id = await _home_org(uow, principal, data.home_org_id)
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            existing = await repo.find_by_request_id(uow, request_id=request_id)
            if existing is not None:
                # A key reused outside the caller's reach must not hand back someone else's applicant.
                if not _within(existing, await _reach(uow, principal, Permission.DEVELOPMENT_WRITE)):
                    raise AlreadyExists("该请求编号已被使用")
                return (await repo.load(uow, [existing]))[0]
        row, mentors = _rows(deps, tenant=tenant, applicant=checked, request_id=request_id or None,
                             home_org_id=home_org_id)
        if await repo.applicant_by_bidx(uow, bidx=row.id_number_bidx) is not None:
            raise AlreadyExists(repo.DUPLICATE)
        # The members' index has its own purpose, so it is computed again rather than compared with ours.
        if await repo.is_member(uow, member_bidx=deps.blind_index.digest(checked.id_number, purpose="id_number")):
            raise AlreadyExists("该同志已是本县党员，无需登记为入党申请人")
        await repo.insert_applicant(uow, row=row, mentors=mentors, applied_on=checked.application_date,
                                    actor=principal.user)
        await _audit(uow, principal, action="applicant.create", object_id=row.id)
        created = await _one(uow, row.id)
        await uow.commit()
    return created


async def get_applicant(*, deps: RegistryDeps, principal: Principal, applicant_id: str) -> dev.Applicant:
    """One applicant of the caller's county; another county's looks as if it did not exist."""
    dev.ensure_may_read(principal.role)
    tenant = require_tenant(principal)
    key = parse_id(applicant_id, what="该入党申请人")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible(uow, principal, Permission.DEVELOPMENT_READ, key)
        return (await repo.load(uow, [row]))[0]


async def list_applicants(*, deps: RegistryDeps, principal: Principal, page_size: int, page_token: str,
                          stage: int = 0) -> tuple[list[dev.Applicant], str]:
    """A page of the county's applicants, newest first, optionally of one stage; and the next page's token."""
    dev.ensure_may_read(principal.role)
    tenant = require_tenant(principal)
    if stage and stage not in set(dev.Stage):
        raise InvalidArgument.field("stage", "须为发展党员的一个阶段")
    limit = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        reach = await _reach(uow, principal, Permission.DEVELOPMENT_READ)
        rows = await repo.list_applicants(uow, after=after, limit=limit + 1, stage=stage,
                                          home_orgs=sorted(reach) if reach is not None else None)
        page = rows[:limit]
        applicants = await repo.load(uow, page)
    next_token = pagination.encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else ""
    return applicants, next_token


async def advance_applicant(*, deps: RegistryDeps, principal: Principal, applicant_id: str, stage: int, when: str,
                            version: int) -> dev.Applicant:
    """Move an applicant exactly one stage forward on a date, if the version the caller saw is still current."""
    dev.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
    key = parse_id(applicant_id, what="该入党申请人")
    target, on = dev.parse_advance(stage=stage, when=when, version=version, today=china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible(uow, principal, Permission.DEVELOPMENT_WRITE, key, for_update=True)
        if version != row.version:
            raise FailedPrecondition("该入党申请人的信息已被他人修改，请刷新后再试")
        current = (await repo.load(uow, [row]))[0]
        dev.check_advance(current, target=target, on=on)
        await repo.insert_stage(uow, applicant_id=key, stage=int(target), reached_on=on, actor=principal.user)
        await repo.set_stage(uow, applicant_id=key, stage=int(target))
        await _audit(uow, principal, action="applicant.advance", object_id=key,
                     reason=f"{target.name} {on.isoformat()}")
        advanced = await _one(uow, key)
        await uow.commit()
    return advanced


async def add_inspection(*, deps: RegistryDeps, principal: Principal, applicant_id: str,
                         data: InspectionInput) -> dev.Applicant:
    """Record one 双向考察 report from the home or the destination side."""
    dev.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
    key = parse_id(applicant_id, what="该入党申请人")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible(uow, principal, Permission.DEVELOPMENT_WRITE, key, for_update=True)
        current = (await repo.load(uow, [row]))[0]
        inspection = dev.validate_inspection(
            side=data.side, inspected_on=data.inspected_on, inspector=data.inspector, summary=data.summary,
            applicant=current, today=china_date(deps.clock()),
        )
        inspection_id = str(uuid.uuid4())
        await repo.insert_inspection(uow, inspection_id=inspection_id, applicant_id=key, inspection=inspection,
                                     actor=principal.user)
        await repo.bump_version(uow, applicant_id=key)
        await _audit(uow, principal, action="applicant.inspection", object_id=key, reason=inspection.side.value)
        updated = await _one(uow, key)
        await uow.commit()
    return updated
