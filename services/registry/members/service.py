"""Member use cases: one transaction each, the tenant explicit, the outbox row in the same commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date

from jinqiao.events.v1 import handover_pb2, registry_events_pb2
from jinqiao.kit import authz, pagination, pii, telemetry
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.clock import china_date
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from jinqiao.kit.events import new_event
from jinqiao.kit.usecases import parse_id, parse_id_or_none, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.flows import domain as flows_domain
from jinqiao.registry.members import domain, repo
from jinqiao.registry.members.models import MEMBERS, MemberRow
from jinqiao.registry.notebook import domain as notebook_domain

NOT_FOUND = "未找到该党员"
# The table a transferred member's sealed numbers are bound to (the origin seals them for this county alone).
TRANSFER = "transfer"


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
    ethnicity: str = ""
    education: str = ""
    home_branch_id: str = ""
    household_address: str = ""
    full_member_date: str = ""
    gender: int = 0
    birth_date: str = ""


def validate(data: MemberInput, *, today: date) -> domain.NewMember:
    """The domain's checks of a new member's fields."""
    return domain.validate_new_member(
        name=data.name, id_number=data.id_number, phone=data.phone, membership_status=data.membership_status,
        township=data.township, village=data.village, occupation=data.occupation, join_date=data.join_date,
        today=today, ethnicity=data.ethnicity, education=data.education, home_branch_id=data.home_branch_id,
        household_address=data.household_address, full_member_date=data.full_member_date, gender=data.gender,
        birth_date=data.birth_date,
    )


async def ensure_new_in_province(uow: UnitOfWork, *, row: MemberRow, field: str = "id_number") -> None:
    """Refuse a person the county or another county already holds (the latter without saying which)."""
    assert row.id_number_bidx is not None  # a new row always holds its numbers
    here, elsewhere = await repo.id_number_holders(uow, bidx=row.id_number_bidx)
    if here:
        raise AlreadyExists("该身份证号已在本县登记")
    if elsewhere:
        raise AlreadyExists("该同志的组织关系已在省内其他县（市、区）登记，请办理组织关系转接，不要重复登记")


async def ensure_known_branch(uow: UnitOfWork, *, branch_id: str | None) -> None:
    """The home branch must be an organisation of the county."""
    if branch_id and not await repo.known_org(uow, org_id=branch_id):
        raise InvalidArgument.field("home_branch_id", "本县没有该党组织（或已撤销）")


async def create_member(
    *, deps: RegistryDeps, principal: Principal, data: MemberInput, request_id: str, today: date | None = None
) -> domain.Member:
    """Register a member of the caller's county; a repeated request id returns the first result."""
    domain.ensure_may_write_members(principal.role)
    tenant = require_tenant(principal)
    if len(request_id) > 100:
        raise InvalidArgument.field("request_id", "不能超过 100 个字符")
    member = validate(data, today=today or china_date(deps.clock()))
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await repo.lock_request_id(uow, request_id=request_id)
            existing = await repo.find_by_request_id(uow, request_id=request_id)
            if existing is not None:
                return existing.to_domain()
        row = new_member_row(deps, tenant=tenant, member=member, request_id=request_id or None)
        await ensure_new_in_province(uow, row=row)
        await ensure_known_branch(uow, branch_id=row.home_branch_id)
        await repo.insert_member(uow, row=row)
        await record_act(uow, principal, service=SERVICE,
                         action="member.create", object_type="member", object_id=row.id,
                         event=member_registered(row), aggregate_version=row.version)
        queue_new_member_profile(uow, cipher=deps.cipher, row=row)
        await uow.commit()
    return row.to_domain()


def member_registered(row: MemberRow) -> registry_events_pb2.MemberRegistered:
    """The event of a newly registered member (no ID or phone number)."""
    return registry_events_pb2.MemberRegistered(
        member_id=row.id, township=row.township, membership_status=domain.MembershipStatus(row.membership_status).name,
        name=row.name, home_org_id=row.home_branch_id or "",
    )


def new_member_row(deps: RegistryDeps, *, tenant: str, member: domain.NewMember, request_id: str | None,
                   member_id: str | None = None) -> MemberRow:
    """A members row: ID and phone encrypted (bound to tenant, table, column and row), blind-indexed, masked."""
    member_id = member_id or str(uuid.uuid4())
    bind = {"tenant": tenant, "table": MEMBERS, "row": member_id}
    return MemberRow(
        tenant_id=tenant, id=member_id, name=member.name, gender=int(member.gender), birth_date=member.birth_date,
        id_number_enc=deps.cipher.encrypt(member.id_number, column="id_number", **bind),
        id_number_bidx=deps.blind_index.digest(member.id_number, purpose="id_number"),
        id_number_masked=pii.mask_id_number(member.id_number),
        phone_enc=deps.cipher.encrypt(member.phone, column="phone", **bind) if member.phone else None,
        phone_masked=pii.mask_phone(member.phone) if member.phone else "",
        membership_status=int(member.membership_status), township=member.township, village=member.village,
        occupation=member.occupation, join_date=member.join_date, request_id=request_id,
        created_at=deps.clock(), version=1, ethnicity=member.ethnicity, education=member.education,
        home_branch_id=member.home_branch_id, household_address=member.household_address,
        full_member_date=member.full_member_date,
    )


async def org_reach(uow: UnitOfWork, principal: Principal, permission: Permission, *,
                    refusal: str) -> frozenset[str] | None:
    """The home organisations whose persons the caller's grant of ``permission`` reaches (None: the whole county), by
    the kit's scope rule: a township committee its township's subtree, a guidance office its subtree, a branch
    secretary its branch; any other rule is refused with ``refusal``."""
    rule = authz.scope_of(principal, permission)
    if rule is Reach.COUNTY:
        return None
    if rule not in (Reach.TOWNSHIP, Reach.ORG_SUBTREE, Reach.OWN_ORG):
        raise PermissionDenied(refusal)
    own = parse_id_or_none(principal.org or "")
    if own is None:
        raise PermissionDenied("该账号未绑定本县的党组织")
    if rule is Reach.OWN_ORG:
        return frozenset({own})
    # The registry's replica of the tree (OrgCreated/OrgMoved) knows the subtree; an unknown org reaches only itself.
    return frozenset(await repo.org_subtree(uow, root_id=own)) | {own}


async def member_reach(uow: UnitOfWork, principal: Principal) -> frozenset[str] | None:
    """The home organisations whose members the caller reads (None: the whole county)."""
    return await org_reach(uow, principal, Permission.MEMBERS_READ,
                           refusal="当前角色只能查看汇总数据，不能查看党员个人信息")


async def _visible_member(uow: UnitOfWork, principal: Principal, member_id: str) -> MemberRow:
    """A member the caller may read (a member: only themself); anything else looks as if it did not exist."""
    key = parse_id(member_id, what="该党员")
    if principal.role == Role.MEMBER:
        domain.ensure_may_see_member(role=principal.role, own_member=principal.member, member_id=key)
        row = await repo.get_member(uow, member_id=key)
    else:
        domain.ensure_may_browse_members(principal.role)
        reach = await member_reach(uow, principal)
        row = await repo.get_member(uow, member_id=key)
        if row is not None and reach is not None and (row.home_branch_id or "") not in reach:
            row = None
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def get_member(*, deps: RegistryDeps, principal: Principal, member_id: str) -> domain.Member:
    """One member of the caller's county within its reach (a member sees only themself); anything else is not
    found."""
    tenant = require_tenant(principal)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await _visible_member(uow, principal, member_id)
    return row.to_domain()


@dataclass(frozen=True, slots=True)
class MemberFilter:
    """The optional filters of a member search."""

    name_contains: str = ""
    id_number: str = ""
    township: str = ""
    membership_status: int = 0
    flow_status: int = 0
    destination_code: str = ""
    industry: str = ""
    away_only: bool = False

    def summary(self) -> str:
        """The filters as the audit row of an export names them (never an ID number)."""
        given = {"姓名": self.name_contains, "身份证号": "（已指定）" if self.id_number else "", "乡镇": self.township,
                 "党员类别": {1: "预备党员", 2: "正式党员"}.get(self.membership_status, ""),
                 "流动状态": str(self.flow_status or ""), "流入地": self.destination_code, "行业": self.industry,
                 "仅外出": "是" if self.away_only else ""}
        return "；".join(f"{k}={v}" for k, v in given.items() if v) or "全部"


@dataclass(frozen=True, slots=True)
class MemberPage:
    """One page of a member search, the next page's token ('' on the last, or when paged by number) and the total."""

    members: list[domain.Member]
    next_page_token: str
    total: int


async def list_members(
    *, deps: RegistryDeps, principal: Principal, page_size: int, page_token: str, filters: MemberFilter | None = None,
    page: int = 0, order_by: str = "", for_export: bool = False,
) -> MemberPage:
    """A page of the members the caller reaches, sorted (newest first by default), filtered.

    Paged by the token (keyset for the default order; an offset token for the others) or, when ``page`` is given,
    by page number."""
    domain.ensure_may_browse_members(principal.role)
    tenant = require_tenant(principal)
    f = filters or MemberFilter()
    limit = pagination.page_size(page_size)
    sort = domain.validate_sort(order_by)
    if page < 0 or page > domain.MAX_PAGE:
        raise InvalidArgument.field("page", f"页码应在 1 至 {domain.MAX_PAGE} 之间")
    keyset = sort == domain.DEFAULT_SORT and not page
    after = pagination.decode_cursor(page_token) if keyset else None
    offset = (page - 1) * limit if page else 0 if keyset else _offset_of(page_token)
    violations: list[FieldViolation] = []
    if len(f.name_contains) > domain.NAME_MAX:
        violations.append(FieldViolation("name_contains", f"不能超过 {domain.NAME_MAX} 个字符"))
    bidx = None
    # The reveal permission as this caller holds it (a county system only as its token names it; none is given it).
    if f.id_number.strip() and not authz.holds(principal, Permission.MEMBERS_REVEAL):
        # A search by the full number confirms a guess: the candidates of a masked number would fall one by one.
        raise PermissionDenied("当前角色无权按身份证号查找党员")
    if f.id_number.strip():
        try:
            # Looked up through the blind index: the number itself is never stored or compared in clear.
            bidx = deps.blind_index.digest(pii.validate_id_number(f.id_number), purpose="id_number")
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(violations)
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        reach = await member_reach(uow, principal)
        search = dict(
            name_contains=f.name_contains.strip(), id_bidx=bidx, township=f.township.strip(),
            membership_status=f.membership_status, flow_status=f.flow_status,
            destination_code=f.destination_code.strip(), industry=f.industry.strip(), away_only=f.away_only,
            home_orgs=sorted(reach) if reach is not None else None,
        )
        rows = await repo.list_members(uow, after=after, limit=limit + 1, order=domain.SORTS[sort], offset=offset,
                                       **search)  # type: ignore[arg-type]
        total = await repo.count_members(uow, **search)  # type: ignore[arg-type]
        if for_export and not page_token and page <= 1:
            # 名册导出: persons leave the system wholesale; the first page's read names who, which filters, how many.
            await record_act(uow, principal, service=SERVICE, action="member.export", object_type="roster",
                             object_id=tenant, reason=f"导出党员名册 {total} 人；{f.summary()}"[:500])
            await uow.commit()
    found = rows[:limit]
    next_token = ""
    if len(rows) > limit and not page:
        next_token = (pagination.encode_cursor(found[-1].created_at, found[-1].id) if keyset
                      else pagination.encode_key("offset", str(offset + limit)))
    return MemberPage(members=[r.to_domain() for r in found], next_page_token=next_token, total=total)


def _offset_of(token: str) -> int:
    """The offset an offset token (a sorted search's next page) stands for; '' is the first page."""
    parts = pagination.decode_key(token, parts=2)
    if parts is None:
        return 0
    if parts[0] != "offset" or not parts[1].isdigit():
        raise InvalidArgument.field("page_token", "分页标记无效")
    return int(parts[1])


_UPDATABLE = ("name", "phone", "membership_status", "township", "village", "occupation", "ethnicity", "education",
              "home_branch_id", "household_address", "full_member_date", "join_date")


async def update_member(*, deps: RegistryDeps, principal: Principal, member_id: str, version: int,
                        mask: list[str], data: MemberInput) -> domain.Member:
    """Change the named fields of a member, checked as a whole; the old and new values go into the history."""
    domain.ensure_may_write_members(principal.role)
    tenant = require_tenant(principal)
    unknown = [f for f in mask if f not in _UPDATABLE]
    if unknown or not mask:
        raise InvalidArgument.field("update_mask", "可修改的字段：" + "、".join(_UPDATABLE))
    key = parse_id(member_id, what="该党员")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        row = await repo.get_member(uow, member_id=key, for_update=True)
        if row is None or row.record_status != domain.RecordStatus.ACTIVE:
            raise NotFound(NOT_FOUND)
        if version and version != row.version:
            raise FailedPrecondition("该党员信息已被他人修改，请刷新后再试")
        current = _as_input(deps, row)
        merged = replace(current, **{f: getattr(data, f) for f in mask})
        checked = validate(merged, today=china_date(deps.clock()))
        candidate = new_member_row(deps, tenant=tenant, member=checked, request_id=row.request_id, member_id=row.id)
        changes, history = _diff(row, candidate, mask)
        if not changes:
            return row.to_domain()
        if "home_branch_id" in changes:
            await ensure_known_branch(uow, branch_id=candidate.home_branch_id)
        await repo.update_member(uow, member_id=row.id, changes=changes, version=row.version + 1)
        await repo.insert_change(uow, member_id=row.id, version=row.version + 1, actor=principal.user, fields=history)
        await record_act(uow, principal, service=SERVICE,
                         action="member.update", object_type="member", object_id=row.id,
                         reason=",".join(h["field"] for h in history))
        if PROFILE_FIELDS.intersection(changes):
            await publish_profile(uow, cipher=deps.cipher, member_id=row.id)
        updated = await repo.get_member(uow, member_id=row.id)
        await uow.commit()
    assert updated is not None
    return updated.to_domain()


def _as_input(deps: RegistryDeps, row: MemberRow) -> MemberInput:
    bind = {"tenant": row.tenant_id, "table": MEMBERS, "row": row.id}
    # Only an active member is edited, and only an ended record is ever erased.
    assert row.id_number_enc is not None
    return MemberInput(
        name=row.name, id_number=deps.cipher.decrypt(row.id_number_enc, column="id_number", **bind),
        phone=deps.cipher.decrypt(row.phone_enc, column="phone", **bind) if row.phone_enc else "",
        membership_status=row.membership_status, township=row.township, village=row.village,
        occupation=row.occupation, join_date=row.join_date.isoformat() if row.join_date else "",
        ethnicity=row.ethnicity, education=row.education, home_branch_id=row.home_branch_id or "",
        household_address=row.household_address,
        full_member_date=row.full_member_date.isoformat() if row.full_member_date else "",
    )


def _diff(old: MemberRow, new: MemberRow, mask: list[str]) -> tuple[dict[str, object], list[dict[str, str]]]:
    changes: dict[str, object] = {}
    history: list[dict[str, str]] = []
    for name in mask:
        if name == "phone":
            if old.phone_masked != new.phone_masked:
                changes.update(phone_enc=new.phone_enc, phone_masked=new.phone_masked)
                history.append({"field": "phone", "old": old.phone_masked, "new": new.phone_masked})
            continue
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes[name] = after
            history.append({"field": name, "old": "" if before is None else str(before),
                            "new": "" if after is None else str(after)})
    return changes, history


async def member_history(*, deps: RegistryDeps, principal: Principal, member_id: str) -> list[domain.MemberChange]:
    """A member's recorded changes, newest first (PII masked), for staff within reach."""
    domain.ensure_may_browse_members(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await _visible_member(uow, principal, member_id)
        return await repo.changes(uow, member_id=row.id)


async def reveal_id_number(*, deps: RegistryDeps, principal: Principal, member_id: str, reason: str) -> str:
    """The full ID number, for a stated reason; the unmasked read is audited in the same transaction."""
    if not authz.holds(principal, Permission.MEMBERS_REVEAL):
        domain.ensure_may_read_members(principal.role)
        raise NotFound(NOT_FOUND)
    clean = domain.validate_reveal_reason(reason)
    key = parse_id(member_id, what="该党员")
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        row = await repo.get_member(uow, member_id=key)
        if row is None:
            raise NotFound(NOT_FOUND)
        if row.id_number_enc is None:
            raise FailedPrecondition("该党员的个人信息已依法删除，身份证号无法查看")
        number = deps.cipher.decrypt(row.id_number_enc, tenant=row.tenant_id, table=MEMBERS, column="id_number",
                                     row=row.id)
        await record_act(uow, principal, service=SERVICE,
                         action="member.reveal_id_number", object_type="member", object_id=row.id,
                         reason=clean)
        await uow.commit()
    return number


# ------------------------------------------------------------------------------------------------ for flows


async def active_member(uow: UnitOfWork, *, member_id: str, for_update: bool = False) -> MemberRow:
    """A member the county still holds, inside the caller's unit of work; anyone else is not found."""
    row = await repo.get_member(uow, member_id=parse_id(member_id, what="该党员"), for_update=for_update)
    if row is None or row.record_status != domain.RecordStatus.ACTIVE:
        raise NotFound(NOT_FOUND)
    return row


async def find_member(uow: UnitOfWork, *, member_id: str) -> MemberRow | None:
    """A member of the county by canonical id, whatever their record status, or None."""
    return await repo.get_member(uow, member_id=member_id)


async def follow_flow(uow: UnitOfWork, *, member_id: str, flow_id: str | None, flow_status: int, destination: str,
                      industry: str) -> None:
    """Keep the member's current-flow columns (used by search) in step with the flow."""
    await repo.set_member_flow(uow, member_id=member_id, flow_id=flow_id, status=flow_status,
                               destination=destination, industry=industry)


async def mark_transferred_out(uow: UnitOfWork, *, member_id: str) -> None:
    """The county no longer holds the member (转出); the row stays for the ledgers."""
    await repo.mark_transferred_out(uow, member_id=member_id)


def clear_numbers(deps: RegistryDeps, *, member: MemberRow) -> tuple[str, str | None]:
    """The member's ID number and phone (if any) in clear, to seal them for another county."""
    bind = {"tenant": member.tenant_id, "table": MEMBERS, "row": member.id}
    if member.id_number_enc is None:
        raise FailedPrecondition("该党员的个人信息已依法删除，无法转交")
    id_number = deps.cipher.decrypt(member.id_number_enc, column="id_number", **bind)
    phone = deps.cipher.decrypt(member.phone_enc, column="phone", **bind) if member.phone_enc else None
    return id_number, phone


# ------------------------------------------------------------------------------------------------ from events


async def mirror_org(*, uow: UnitOfWork, org_id: str, name: str | None = None, kind: str | None = None,
                     dissolved: bool = False) -> None:
    """Keep the replica of the county's organisations (home branches are checked against it)."""
    await repo.upsert_org(uow, org_id=org_id, name=name, kind=kind, dissolved=dissolved)


async def mirror_org_parent(*, uow: UnitOfWork, org_id: str, parent_id: str, version: int) -> None:
    """Keep the replica's parent chain (applicants are confined to a caller's subtree by it)."""
    await repo.set_org_parent(uow, org_id=org_id, parent_id=parent_id or None, version=version)


async def org_subtree(uow: UnitOfWork, *, root_id: str) -> list[str]:
    """The organisation and every one below it in the county's tree, as the replica knows it."""
    return await repo.org_subtree(uow, root_id=root_id)


async def register_transferred_member(*, deps: RegistryDeps, uow: UnitOfWork, flow_id: str,
                                      member: handover_pb2.TransferredMember, traceparent: str) -> None:
    """组织关系转接: the destination county registers the member as its own (once, whatever the redelivery)."""
    tenant, m = uow.tenant, member
    bind = {"tenant": tenant, "table": TRANSFER, "row": flow_id}
    id_number = deps.cipher.decrypt(m.id_number_sealed, column="id_number", **bind)
    phone = deps.cipher.decrypt(m.phone_sealed, column="phone", **bind) if m.phone_sealed else ""
    today = china_date(deps.clock())
    try:
        checked = validate(MemberInput(
            name=m.name, id_number=id_number, phone=phone,
            membership_status=int(domain.MembershipStatus[m.membership_status or "FULL"]), township="", village="",
            occupation=m.occupation, join_date=m.join_date, ethnicity=m.ethnicity, education=m.education,
            full_member_date=m.full_member_date,
        ), today=today)
    except InvalidArgument:
        # The origin's record breaks a rule here (e.g. an old free-text education): keep the person, drop the extras.
        checked = validate(MemberInput(name=m.name, id_number=id_number, phone="", membership_status=2, township="",
                                       village="", occupation="", join_date=""), today=today)
    row = new_member_row(deps, tenant=tenant, member=checked, request_id=f"transfer:{flow_id}")
    if row.id_number_bidx is not None and await repo.member_by_bidx(uow, bidx=row.id_number_bidx) is not None:
        return
    await repo.insert_member(uow, row=row)
    uow.add_event(new_event(member_registered(row), service=SERVICE, tenant=tenant, aggregate_id=row.id,
                            aggregate_version=1, traceparent=traceparent or None))
    queue_new_member_profile(uow, cipher=deps.cipher, row=row, traceparent=traceparent)


# ------------------------------------------------------------------------------------------------ MemberProfileChanged

# The member columns a MemberProfileChanged carries: an update touching none of them says nothing new.
PROFILE_FIELDS = frozenset({"name", "membership_status", "township", "home_branch_id", "join_date"})


def member_profile(row: MemberRow, *, grade_year: int = 0, grade: int = 0,
                   returned: bool = False) -> registry_events_pb2.MemberProfileChanged:
    """The full fact set of a member as an event (no meta yet, the birth year not yet sealed: ``sealed``)."""
    return registry_events_pb2.MemberProfileChanged(
        member_id=row.id, name=row.name, home_org_id=row.home_branch_id or "", township=row.township,
        membership_status="MEMBERSHIP_STATUS_" + domain.MembershipStatus(row.membership_status).name,
        join_date=row.join_date.isoformat() if row.join_date else "",
        latest_grade_year=grade_year if grade else 0,
        latest_grade=notebook_domain.Grade(grade).name if grade else "",
        returned=returned, active=row.record_status == domain.RecordStatus.ACTIVE,
    )


def sealed(profile: registry_events_pb2.MemberProfileChanged, *, cipher: FieldCipher, tenant: str,
           row: MemberRow) -> registry_events_pb2.MemberProfileChanged:
    """The event with the member's birth year sealed in it (a year beside the masked ID number would break
    masking for every reader of the bus; DESIGN §5)."""
    out = registry_events_pb2.MemberProfileChanged()
    out.CopyFrom(profile)
    out.birth_year_sealed = cipher.encrypt(str(row.birth_date.year), tenant=tenant, table=pii.PROFILE_SEAL_TABLE,
                                           column=pii.PROFILE_SEAL_COLUMN, row=row.id)
    return out


def queue_new_member_profile(uow: UnitOfWork, *, cipher: FieldCipher, row: MemberRow,
                             traceparent: str = "") -> None:
    """Queue a just-inserted member's MemberProfileChanged: their facts are the row's alone (no 双向评议, never away
    yet), so the hot path of registration reads nothing more."""
    profile = sealed(member_profile(row), cipher=cipher, tenant=uow.tenant, row=row)
    uow.add_event(new_event(profile, service=SERVICE, tenant=uow.tenant, aggregate_id=row.id,
                            aggregate_version=row.version,
                            traceparent=traceparent or telemetry.current_traceparent() or None))


async def current_profile(uow: UnitOfWork, *, member_id: str,
                          lock: bool = False) -> tuple[MemberRow, registry_events_pb2.MemberProfileChanged] | None:
    """The member's row and current facts, read inside the unit of work (``lock``: under the member's row lock, so
    that two acts on one member publish their facts in the order they commit); None for no such member."""
    row = await repo.get_member(uow, member_id=member_id, for_update=lock)
    if row is None:
        return None
    return row, await profile_of(uow, row=row)


async def profile_of(uow: UnitOfWork, *, row: MemberRow) -> registry_events_pb2.MemberProfileChanged:
    """The current facts of a member whose row the caller has just read (under its lock if it needs one)."""
    evaluation, status = await repo.member_facts(uow, member_id=row.id, open_statuses=_OPEN_STATUSES)
    grade_year, grade = 0, 0
    if evaluation is not None:
        grade, _ = notebook_domain.merged_grade(evaluation[1], evaluation[2])
        grade_year = evaluation[0] if grade else 0
    return member_profile(row, grade_year=grade_year, grade=grade, returned=status == flows_domain.FlowStatus.RETURNED)


_OPEN_STATUSES = sorted(int(s) for s in flows_domain.OPEN)


async def publish_profile(uow: UnitOfWork, *, cipher: FieldCipher, member_id: str,
                          before: registry_events_pb2.MemberProfileChanged | None = None,
                          traceparent: str = "", locked_row: MemberRow | None = None) -> bool:
    """Queue MemberProfileChanged with the member's full current facts in the unit of work's outbox (the same
    transaction as the change); with ``before``, only when the facts differ from it. True when queued.

    ``locked_row``: the member's current row, as the caller read or wrote it under the row's lock in this transaction
    (it is not read again)."""
    # The row lock comes before the event's occur_time is taken: consumers keep the newest by it.
    if locked_row is not None:
        found: tuple[MemberRow, registry_events_pb2.MemberProfileChanged] | None = (
            locked_row, await profile_of(uow, row=locked_row))
    else:
        found = await current_profile(uow, member_id=member_id, lock=True)
    if found is None:
        return False
    row, profile = found
    if before is not None and before == profile:
        return False
    uow.add_event(new_event(sealed(profile, cipher=cipher, tenant=uow.tenant, row=row), service=SERVICE,
                            tenant=uow.tenant, aggregate_id=row.id,
                            aggregate_version=row.version,
                            traceparent=traceparent or telemetry.current_traceparent() or None))
    return True
