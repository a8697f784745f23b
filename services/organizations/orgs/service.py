"""The tree's use cases, and the organisation-scope checks every concept of the service shares.

Each use case is one transaction with the tenant explicit; its event and audit row commit with it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from jinqiao.events.v1 import organizations_events_pb2 as events
from jinqiao.kit import authz, pagination
from jinqiao.kit.auth import Principal
from jinqiao.kit.authz import Reach
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from jinqiao.kit.usecases import parse_id, record_act, require_tenant
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.orgs import domain, repo

_PATH = re.compile(r"[0-9a-f]{32}(?:\.[0-9a-f]{32})*")
_ORG = "该组织"


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


# The organisation scope, shared by every concept: a confined role sees its organisation (and, for most, what lies
# under it); anything outside looks as if it did not exist.

def org_id(value: str, *, field: str | None = None) -> str:
    """An organisation id from the wire: not found in a path, the field's mistake in a body."""
    try:
        return parse_id(value, what=_ORG, field=field)
    except InvalidArgument:
        raise InvalidArgument.field(field or "id", "组织编号无效") from None


async def scope_path(uow: UnitOfWork, principal: Principal) -> str | None:
    """The path a confined role is limited to (None: the whole county)."""
    if not authz.confined_to_org(principal.role):
        return None
    own = await repo.get(uow, org_id=org_id(principal.org, field="org")) if principal.org else None
    if own is None:
        raise PermissionDenied("该账号未绑定本县的党组织")
    return own.path


def own_org_only(principal: Principal) -> bool:
    """Whether the caller sees its own organisation only, not what lies under it (a branch secretary)."""
    return authz.reach(principal.role) is Reach.OWN_ORG


async def sees_path(uow: UnitOfWork, principal: Principal, path: str | None) -> bool:
    """Whether something held at ``path`` lies in the caller's scope; None (held by no organisation) is county-only."""
    within = await scope_path(uow, principal)
    if within is None:
        return True
    return path is not None and domain.visible(path=path, scope_path=within, own_org_only=own_org_only(principal))


async def load(uow: UnitOfWork, principal: Principal, value: str, *, field: str | None = None) -> domain.Located:
    """An organisation the caller may see, with its path; anything else looks as if it did not exist."""
    found = await repo.get(uow, org_id=org_id(value, field=field))
    if found is not None and not await sees_path(uow, principal, found.path):
        found = None
    if found is None:
        if field:
            raise InvalidArgument.field(field, "上级组织不存在")
        raise NotFound("未找到该组织")
    return found


async def _ensure_not_scope_root(uow: UnitOfWork, principal: Principal, path: str) -> None:
    # A township officer shapes what is under the township, not the township itself.
    if await scope_path(uow, principal) == path:
        raise PermissionDenied("不能调整本账号所属的组织本身，请联系县委组织部")


async def _record(uow: UnitOfWork, principal: Principal, *, event: events.OrgCreated | events.OrgRenamed |
                  events.OrgMoved | events.OrgDissolved, action: str, org: domain.Org,
                  reason: str | None = None) -> None:
    await record_act(uow, principal, service=SERVICE, action=action, object_type="org", object_id=org.id,
                     event=event, aggregate_version=org.version, reason=reason)


async def create_org(*, deps: OrgDeps, principal: Principal, data: OrgInput) -> domain.Org:
    """Found an organisation under a parent of the caller's county (or the county committee itself)."""
    domain.ensure_may_write(principal.role)
    tenant = require_tenant(principal)
    new = domain.validate_new_org(name=data.name, kind=data.kind, city_code=data.city_code,
                                  founding_mode=data.founding_mode, industry=data.industry,
                                  has_parent=bool(data.parent_id), employer=data.employer, coverage=data.coverage)
    if not data.parent_id and authz.reach(principal.role) is not Reach.COUNTY:
        raise PermissionDenied("只有县委组织部可以设立县委根组织")
    new_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        parent_path = None
        if data.parent_id:
            parent = await load(uow, principal, data.parent_id, field="parent_id")
            domain.ensure_may_sit_under(child=new.kind, parent=parent.org)
            parent_path = parent.path
        await repo.insert(uow, org_id=new_id, parent_id=data.parent_id or None, parent_path=parent_path, org=new,
                          created_at=deps.clock())
        org = (await load(uow, principal, new_id)).org
        await _record(uow, principal, event=events.OrgCreated(
            org_id=new_id, parent_id=data.parent_id, kind=new.kind.name, city_code=new.city_code, name=new.name,
        ), action="org.create", org=org)
        await uow.commit()
    return org


async def get_org(*, deps: OrgDeps, principal: Principal, org_id: str) -> domain.Org:
    """One organisation of the caller's county."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        return (await load(uow, principal, org_id)).org


async def rename_org(*, deps: OrgDeps, principal: Principal, org_id: str, name: str) -> domain.Org:
    """Rename an organisation."""
    domain.ensure_may_write(principal.role)
    violations: list[FieldViolation] = []
    clean = domain.clean_name(name, violations=violations)
    if violations:
        raise InvalidArgument(violations)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        before = await load(uow, principal, org_id)
        await repo.rename(uow, org_id=before.org.id, name=clean)
        org = (await load(uow, principal, org_id)).org
        await _record(uow, principal, event=events.OrgRenamed(org_id=org.id, name=clean), action="org.rename",
                      org=org)
        await uow.commit()
    return org


async def move_org(*, deps: OrgDeps, principal: Principal, org_id: str, new_parent_id: str) -> domain.MovedOrg:
    """Move an organisation with its subtree; never under itself or its own descendants."""
    domain.ensure_may_write(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await repo.lock_tree(uow)
        here = await load(uow, principal, org_id)
        org, path = here.org, here.path
        await _ensure_not_scope_root(uow, principal, path)
        parent = await load(uow, principal, new_parent_id, field="new_parent_id")
        if parent.path == path or parent.path.startswith(path + "."):
            raise InvalidArgument.field("new_parent_id", "不能把组织移到它自己或它的下级组织之下")
        domain.ensure_may_sit_under(child=org.kind, parent=parent.org)
        moved = await repo.move_subtree(uow, org_id=org.id, old_path=path, new_parent_id=parent.org.id,
                                        new_parent_path=parent.path)
        after = (await load(uow, principal, org_id)).org
        await _record(uow, principal, event=events.OrgMoved(
            org_id=org.id, old_parent_id=org.parent_id or "", new_parent_id=parent.org.id,
        ), action="org.move", org=after)
        await uow.commit()
    return domain.MovedOrg(org=after, moved=moved)


async def dissolve_org(*, deps: OrgDeps, principal: Principal, org_id: str, reason: str) -> domain.Org:
    """Dissolve an empty organisation, recording why."""
    domain.ensure_may_write(principal.role)
    clean_reason = " ".join(reason.split())
    if not clean_reason:
        raise InvalidArgument.field("reason", "撤销须说明原因")
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        await repo.lock_tree(uow)
        here = await load(uow, principal, org_id)
        org = here.org
        await _ensure_not_scope_root(uow, principal, here.path)
        domain.ensure_may_dissolve(org=org, active_children=await repo.active_children(uow, org_id=org.id),
                                   members=await repo.members(uow, org_id=org.id))
        await repo.dissolve(uow, org_id=org.id, reason=clean_reason)
        after = (await load(uow, principal, org_id)).org
        await _record(uow, principal, event=events.OrgDissolved(org_id=org.id, reason=clean_reason),
                      action="org.dissolve", org=after, reason=clean_reason)
        await uow.commit()
    return after


async def list_children(*, deps: OrgDeps, principal: Principal, parent_id: str, page_size: int, page_token: str,
                        include_dissolved: bool) -> domain.OrgPage:
    """A page of an organisation's direct children by name; no parent lists the county's root."""
    domain.ensure_may_read(principal.role)
    limit = pagination.page_size(page_size)
    after = pagination.decode_key(page_token, parts=2)
    if after:
        org_id(after[1], field="page_token")
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        within = await scope_path(uow, principal)
        if not parent_id and within is not None:
            # A confined role's tree starts at its own organisation.
            own = await repo.get(uow, org_id=org_id(principal.org or "", field="org"))
            return domain.OrgPage(orgs=[own.org] if own else [], next_page_token="")
        parent_key = (await load(uow, principal, parent_id)).org.id if parent_id else None
        rows = await repo.children(uow, parent_id=parent_key, after=after, limit=limit + 1,
                                   include_dissolved=include_dissolved)
    page = rows[:limit]
    token = pagination.encode_key(page[-1].name, page[-1].id) if len(rows) > limit else ""
    return domain.OrgPage(orgs=page, next_page_token=token)


def _path_token(page_token: str) -> str | None:
    """The tree path a page token continues after (None: the first page)."""
    after = pagination.decode_key(page_token, parts=1)
    if after and not _PATH.fullmatch(after[0]):
        raise InvalidArgument.field("page_token", "分页标记无效")
    return after[0] if after else None


def _path_page(rows: list[domain.Located], *, limit: int) -> domain.OrgPage:
    page = rows[:limit]
    token = pagination.encode_key(page[-1].path) if len(rows) > limit else ""
    return domain.OrgPage(orgs=[found.org for found in page], next_page_token=token)


async def list_subtree(*, deps: OrgDeps, principal: Principal, root_id: str, page_size: int,
                       page_token: str) -> domain.OrgPage:
    """A page of a subtree in tree order (each organisation after its parent)."""
    domain.ensure_may_read(principal.role)
    limit = pagination.page_size(page_size)
    after_path = _path_token(page_token)
    root_key = org_id(root_id)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        root_path, rows = await repo.subtree(uow, root_id=root_key, after_path=after_path, limit=limit + 1)
        if root_path is None:
            # An empty page (past the end) carries no root: look it up as every other read does.
            await load(uow, principal, root_key)
        elif not await sees_path(uow, principal, root_path):
            raise NotFound("未找到该组织")
    return _path_page(rows, limit=limit)


async def list_ancestors(*, deps: OrgDeps, principal: Principal, org_id: str) -> list[domain.Org]:
    """The chain from the county committee down to the organisation's parent."""
    domain.ensure_may_read(principal.role)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        here = await load(uow, principal, org_id)
        return await repo.ancestors(uow, path=here.path)


async def search_orgs(*, deps: OrgDeps, principal: Principal, name_contains: str, kinds: list[int], city_code: str,
                      include_dissolved: bool, page_size: int, page_token: str) -> domain.OrgPage:
    """Organisations of the county by name, kind and city (e.g. every 驻外党组织 in Beijing)."""
    domain.ensure_may_read(principal.role)
    try:
        parsed_kinds = [int(domain.OrgKind(k)) for k in kinds]
    except ValueError:
        raise InvalidArgument.field("kinds", "组织类别无效") from None
    if len(name_contains) > domain.NAME_MAX:
        raise InvalidArgument.field("name_contains", f"不能超过 {domain.NAME_MAX} 个字符")
    limit = pagination.page_size(page_size)
    after_path = _path_token(page_token)
    async with deps.db.unit_of_work(tenant=require_tenant(principal)) as uow:
        rows = await repo.search(uow, within=await scope_path(uow, principal),
                                 name_contains=name_contains.strip(), kinds=parsed_kinds,
                                 city_code=city_code.strip(), include_dissolved=include_dissolved,
                                 after_path=after_path, limit=limit + 1)
    return _path_page(rows, limit=limit)
