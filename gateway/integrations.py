"""Service accounts of county systems: made, listed, rotated and disabled by the county department, and exchanged by
the county system for short-lived gRPC tokens scoped to its county and to the permissions it was given.

A partner bank's own system is a service account of the county too (kind ``bank``, issue 14): it is given no
permissions but a bank code, and its token carries the bank_officer role with that code in ``org``, so it holds what
a bank officer holds, for its bank's loans in that county only (and, unlike a county system, over HTTP as well).

A client id names its county (``jq-411525-<16 hex>``), so a token request, which names no tenant, is looked up among
that county's rows under row-level security like every other read: no cross-tenant database function is needed.
Only argon2 hashes of secrets are stored; a secret is shown once, when it is made.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jinqiao.kit import audit, authz, fields, passwords, telemetry
from jinqiao.kit.auth import BANK_CODE, Principal, Role
from jinqiao.kit.clock import utc_now
from jinqiao.kit.db import Database
from jinqiao.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unauthenticated

log = telemetry.get_logger("jinqiao.gateway.integrations")

Clock = Callable[[], datetime]

CLIENT_ID = re.compile(r"jq-([1-8][0-9]{5})-[0-9a-f]{16}")
NAME_MAX = 100
SECRET_MAX = 200
NOT_FOUND = "未找到该客户端"
OBJECT_TYPE = "service_account"
# Verifying against a dummy hash when the client is unknown keeps the answer's timing uniform.
_DUMMY_HASH = passwords.hash_password("jinqiao-client-timing-equaliser")
_BAD_CREDENTIALS = "客户端编号或密钥错误"
_COLUMNS = ("tenant_id, client_id, name, permissions, created_by, created_at, rotated_at, previous_secret_expires_at,"
            " disabled_at, last_token_at, kind, bank_code")
# What an account is the credentials of: a county's own system, or a partner bank's.
COUNTY_SYSTEM, BANK = "county_system", "bank"
KINDS = (COUNTY_SYSTEM, BANK)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A county system's service account (never its secret)."""

    tenant: str
    client_id: str
    name: str
    permissions: tuple[str, ...]
    created_by: str
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    disabled_at: datetime | None
    last_token_at: datetime | None
    kind: str = COUNTY_SYSTEM
    bank_code: str | None = None

    @property
    def disabled(self) -> bool:
        """A disabled account gets no token."""
        return self.disabled_at is not None

    @property
    def role(self) -> Role:
        """The role its tokens carry: a partner bank's system acts as a bank officer of its bank."""
        return Role.BANK_OFFICER if self.kind == BANK else Role.COUNTY_SYSTEM


@dataclass(frozen=True, slots=True)
class Credentials:
    """An account with the secret just made for it: the only time the secret is ever shown."""

    account: ServiceAccount
    client_secret: str


def grantable() -> list[str]:
    """The permissions a county system may be given, sorted (the kit's table decides)."""
    return sorted(p.value for p in authz.GRANTABLE)


def client_tenant(client_id: str) -> str | None:
    """The county a client id names, or None when it is not a client id at all."""
    found = CLIENT_ID.fullmatch(client_id) if isinstance(client_id, str) else None
    return found.group(1) if found else None


def validate_permissions(values: Iterable[str], *, field: str = "permissions") -> tuple[str, ...]:
    """The requested permissions, sorted; each must be one a county system may be given, and one at least."""
    wanted = sorted(set(values))
    allowed = set(grantable())
    refused = [v for v in wanted if v not in allowed]
    if refused:
        raise InvalidArgument.field(
            field, f"不能授予县级系统的权限：{'、'.join(refused)}；可授予：{'、'.join(grantable())}")
    if not wanted:
        raise InvalidArgument.field(field, "至少授予一项权限")
    return tuple(wanted)


def validate_bank_code(value: str | None, *, field: str = "bank_code") -> str:
    """A partner bank's code as tokens carry it: 2 to 32 lower-case letters, digits or hyphens (e.g. ``gsrcb``)."""
    if not value:
        raise InvalidArgument.field(field, "合作银行代码必填：登记合作银行客户端须填写银行代码")
    if not isinstance(value, str) or not BANK_CODE.fullmatch(value):
        raise InvalidArgument.field(field, "合作银行代码须为 2 至 32 位小写字母、数字或连字符，如 gsrcb")
    return value


def validate_kind(value: str, *, field: str = "kind") -> str:
    """``county_system`` or ``bank``."""
    if value not in KINDS:
        raise InvalidArgument.field(field, "客户端类型须为 county_system（县级系统）或 bank（合作银行）")
    return value


def validate_name(value: str) -> str:
    """A name a person will recognise the system by (1 to 100 characters, no control characters)."""
    violations: list[FieldViolation] = []
    name = fields.text(value, field="name", limit=NAME_MAX, required=True, violations=violations)
    if violations:
        raise InvalidArgument(violations)
    return name


def requested_scope(account: ServiceAccount, scope: str | None) -> frozenset[str]:
    """The permissions a token will name: those asked for in ``scope`` (space-separated), else all the account's.

    A bank client names none: its token holds the bank_officer role's grants whole, so asking for any is refused."""
    if account.kind == BANK and scope is not None and scope.strip():
        raise InvalidArgument.field("scope", "合作银行客户端的令牌不按权限划分，请不要提交 scope")
    if scope is None or not scope.strip():
        return frozenset(account.permissions)
    asked = set(scope.split())
    beyond = sorted(asked - set(account.permissions))
    if beyond:
        raise InvalidArgument.field("scope", f"该客户端未被授予：{'、'.join(beyond)}")
    return frozenset(asked)


def _new_client_id(tenant: str) -> str:
    return f"jq-{tenant}-{secrets.token_hex(8)}"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _account(row: Any) -> ServiceAccount:
    return ServiceAccount(
        tenant=row["tenant_id"], client_id=row["client_id"], name=row["name"], permissions=tuple(row["permissions"]),
        created_by=row["created_by"], created_at=row["created_at"], rotated_at=row["rotated_at"],
        previous_secret_expires_at=row["previous_secret_expires_at"], disabled_at=row["disabled_at"],
        last_token_at=row["last_token_at"], kind=row["kind"], bank_code=row["bank_code"],
    )


def _validated(*, name: str, permissions: Iterable[str], kind: str,
               bank_code: str | None) -> tuple[str, tuple[str, ...], str, str | None]:
    """Name, permissions, kind and bank code checked together, every violation reported at once."""
    violations: list[FieldViolation] = []
    clean_name, clean_code = "", None
    granted: tuple[str, ...] = ()
    try:
        clean_name = validate_name(name)
    except InvalidArgument as exc:
        violations += exc.violations
    try:
        kind = validate_kind(kind)
    except InvalidArgument as exc:
        raise InvalidArgument(violations + exc.violations) from None
    if kind == BANK:
        # A bank's system holds the bank_officer role's grants, in its bank: nothing is granted to it by name.
        if list(permissions):
            violations.append(FieldViolation("permissions",
                                             "合作银行客户端不单独授予权限，其权限即合作银行信贷员的权限"))
        try:
            clean_code = validate_bank_code(bank_code)
        except InvalidArgument as exc:
            violations += exc.violations
    else:
        if bank_code:
            violations.append(FieldViolation("bank_code", "合作银行代码只在登记合作银行客户端时填写"))
        try:
            granted = validate_permissions(permissions)
        except InvalidArgument as exc:
            violations += exc.violations
    if violations:
        raise InvalidArgument(violations)
    return clean_name, granted, kind, clean_code


def _grant_reason(kind: str, granted: tuple[str, ...], bank_code: str | None) -> str:
    return f"合作银行：{bank_code}" if kind == BANK else "授予：" + " ".join(granted)


async def create_account(*, db: Database, principal: Principal, tenant: str, name: str,
                         permissions: Iterable[str], kind: str = COUNTY_SYSTEM,
                         bank_code: str | None = None) -> Credentials:
    """A new service account of the county: a county system with the permissions given (a subset of
    ``grantable``), or a partner bank's system with its bank code and no permissions; audited."""
    clean_name, granted, kind, clean_code = _validated(name=name, permissions=permissions, kind=kind,
                                                       bank_code=bank_code)
    client_id, secret = _new_client_id(tenant), _new_secret()
    async with db.unit_of_work(tenant=tenant) as uow:
        row = await uow.conn.fetchrow(
            "INSERT INTO service_accounts (tenant_id, client_id, name, permissions, secret_hash, created_by, kind,"
            f" bank_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}",
            tenant, client_id, clean_name, list(granted), passwords.hash_password(secret), principal.user, kind,
            clean_code,
        )
        await audit.record_act(uow, actor=principal.user, role=principal.role, action="service_account.create",
                               object_type=OBJECT_TYPE, object_id=client_id,
                               reason=_grant_reason(kind, granted, clean_code))
        await uow.commit()
    return Credentials(account=_account(row), client_secret=secret)


async def upsert_account(*, db: Database, tenant: str, client_id: str, name: str, permissions: Iterable[str],
                         secret: str, actor: str, kind: str = COUNTY_SYSTEM,
                         bank_code: str | None = None) -> ServiceAccount:
    """Create or reset an account with a secret chosen by the caller (the demo seed, an operator restoring one)."""
    if client_tenant(client_id) != tenant:
        raise InvalidArgument.field("client_id", f"须形如 jq-{tenant}-<16位十六进制>")
    clean_name, granted, kind, clean_code = _validated(name=name, permissions=permissions, kind=kind,
                                                       bank_code=bank_code)
    async with db.unit_of_work(tenant=tenant) as uow:
        row = await uow.conn.fetchrow(
            "INSERT INTO service_accounts (tenant_id, client_id, name, permissions, secret_hash, created_by, kind,"
            " bank_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, client_id) DO UPDATE SET"
            " name = EXCLUDED.name, permissions = EXCLUDED.permissions, secret_hash = EXCLUDED.secret_hash,"
            " kind = EXCLUDED.kind, bank_code = EXCLUDED.bank_code, previous_secret_hash = NULL,"
            f" previous_secret_expires_at = NULL, disabled_at = NULL RETURNING {_COLUMNS}",
            tenant, client_id, clean_name, list(granted), passwords.hash_password(secret), actor, kind, clean_code,
        )
        await audit.record_act(uow, actor=actor, role="operator", action="service_account.upsert",
                               object_type=OBJECT_TYPE, object_id=client_id,
                               reason=_grant_reason(kind, granted, clean_code))
        await uow.commit()
    return _account(row)


async def list_accounts(*, db: Database, tenant: str) -> list[ServiceAccount]:
    """The county's service accounts, newest first."""
    async with db.unit_of_work(tenant=tenant) as uow:
        rows = await uow.conn.fetch(f"SELECT {_COLUMNS} FROM service_accounts ORDER BY created_at DESC, client_id")
    return [_account(r) for r in rows]


async def rotate_secret(*, db: Database, principal: Principal, tenant: str, client_id: str, grace_seconds: int,
                        clock: Clock = utc_now) -> Credentials:
    """A new secret; the one it replaces still works for ``grace_seconds`` (a secret older still, not at all)."""
    if client_tenant(client_id) != tenant:
        raise NotFound(NOT_FOUND)
    secret = _new_secret()
    now = clock()
    async with db.unit_of_work(tenant=tenant) as uow:
        current = await uow.conn.fetchrow(
            "SELECT secret_hash, disabled_at FROM service_accounts WHERE client_id = $1 FOR UPDATE", client_id)
        if current is None:
            raise NotFound(NOT_FOUND)
        if current["disabled_at"] is not None:
            raise FailedPrecondition("该客户端已停用，不能更换密钥")
        row = await uow.conn.fetchrow(
            "UPDATE service_accounts SET secret_hash = $2, previous_secret_hash = $3,"
            " previous_secret_expires_at = $4, rotated_at = $5 WHERE client_id = $1"
            f" RETURNING {_COLUMNS}",
            client_id, passwords.hash_password(secret), current["secret_hash"],
            now + timedelta(seconds=grace_seconds), now,
        )
        await audit.record_act(uow, actor=principal.user, role=principal.role,
                               action="service_account.rotate_secret", object_type=OBJECT_TYPE, object_id=client_id,
                               reason=f"旧密钥宽限 {grace_seconds} 秒")
        await uow.commit()
    return Credentials(account=_account(row), client_secret=secret)


async def disable_account(*, db: Database, principal: Principal, tenant: str, client_id: str,
                          clock: Clock = utc_now) -> ServiceAccount:
    """Stop issuing tokens to the account (tokens already issued expire within minutes); idempotent, audited once."""
    if client_tenant(client_id) != tenant:
        raise NotFound(NOT_FOUND)
    async with db.unit_of_work(tenant=tenant) as uow:
        row = await uow.conn.fetchrow(
            "UPDATE service_accounts SET disabled_at = $2, previous_secret_hash = NULL,"
            " previous_secret_expires_at = NULL WHERE client_id = $1 AND disabled_at IS NULL"
            f" RETURNING {_COLUMNS}", client_id, clock())
        if row is None:
            row = await uow.conn.fetchrow(f"SELECT {_COLUMNS} FROM service_accounts WHERE client_id = $1", client_id)
            if row is None:
                raise NotFound(NOT_FOUND)
            return _account(row)
        await audit.record_act(uow, actor=principal.user, role=principal.role, action="service_account.disable",
                               object_type=OBJECT_TYPE, object_id=client_id)
        await uow.commit()
    return _account(row)


async def authenticate(*, db: Database, client_id: str, client_secret: str,
                       clock: Clock = utc_now) -> ServiceAccount:
    """The enabled account whose current secret (or previous one, within its grace) matches; Unauthenticated
    otherwise, without saying which part was wrong."""
    tenant = client_tenant(client_id)
    if tenant is None or not client_secret or len(client_secret) > SECRET_MAX:
        passwords.verify_password(_DUMMY_HASH, client_secret[:SECRET_MAX])
        raise Unauthenticated(_BAD_CREDENTIALS)
    now = clock()
    async with db.unit_of_work(tenant=tenant) as uow:
        row = await uow.conn.fetchrow(
            f"SELECT {_COLUMNS}, secret_hash, previous_secret_hash FROM service_accounts WHERE client_id = $1",
            client_id)
        if row is None or row["disabled_at"] is not None:
            passwords.verify_password(_DUMMY_HASH, client_secret)
            raise Unauthenticated(_BAD_CREDENTIALS)
        matches = passwords.verify_password(row["secret_hash"], client_secret)
        expires = row["previous_secret_expires_at"]
        if not matches and row["previous_secret_hash"] and expires is not None and now < expires:
            matches = passwords.verify_password(row["previous_secret_hash"], client_secret)
            if matches:
                log.info("client_token.previous_secret_used", client_id=client_id, tenant=tenant)
        if not matches:
            raise Unauthenticated(_BAD_CREDENTIALS)
        await uow.conn.execute("UPDATE service_accounts SET last_token_at = $2 WHERE client_id = $1", client_id, now)
        await uow.commit()
    return _account(row)
