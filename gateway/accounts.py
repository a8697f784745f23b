"""Console accounts: login against argon2 hashes, and the upsert the demo seed uses."""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.kit import passwords
from jinqiao.kit.auth import BANK_CODE, Role
from jinqiao.kit.db import Database
from jinqiao.kit.errors import FieldViolation, InvalidArgument, Unauthenticated

# Verifying against a dummy hash when the user is unknown keeps login timing uniform.
_DUMMY_HASH = passwords.hash_password("jinqiao-timing-equaliser")


@dataclass(frozen=True, slots=True)
class Account:
    """Who may log in, with which role, over which scope."""

    username: str
    role: Role
    scope: str
    acting_tenant: str | None
    display_name: str = ""
    acting_org: str | None = None
    acting_member: str | None = None


def _could_exist(text: str) -> bool:
    """No account has a NUL (PostgreSQL text refuses it) or a lone surrogate (not UTF-8) in its name or password."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


async def authenticate(*, db: Database, username: str, password: str) -> Account:
    """The account whose password matches, or Unauthenticated without saying which part was wrong."""
    if not (_could_exist(username) and _could_exist(password)):
        # Answered like any wrong password (and as slowly), never as a server error.
        passwords.verify_password(_DUMMY_HASH, "jinqiao-timing-equaliser-miss")
        raise Unauthenticated("用户名或密码错误")
    async with db.pool.acquire() as conn:
        record = await conn.fetchrow("SELECT * FROM account_for_login_all_tenants($1)", username)
    if record is None or record["disabled"]:
        passwords.verify_password(_DUMMY_HASH, password)
        raise Unauthenticated("用户名或密码错误")
    if not passwords.verify_password(record["password_hash"], password):
        raise Unauthenticated("用户名或密码错误")
    return Account(username=record["username"], role=Role(record["role"]), scope=record["scope"],
                   acting_tenant=record["acting_tenant"], acting_org=record["acting_org"],
                   acting_member=record["acting_member"])


def validate_binding(account: Account) -> None:
    """Refuse an account whose token could not be verified: a bank officer acts for one bank (its code in
    ``acting_org``) in the one county of its scope."""
    if account.role is not Role.BANK_OFFICER:
        return
    violations: list[FieldViolation] = []
    if len(account.scope) != 6 or account.acting_tenant != account.scope:
        violations.append(FieldViolation("acting_tenant", "合作银行信贷员须绑定一个县（区），且与其范围相同"))
    if not account.acting_org or not BANK_CODE.fullmatch(account.acting_org):
        violations.append(FieldViolation(
            "acting_org", "合作银行信贷员须填写银行代码：2 至 32 位小写字母、数字或连字符，如 gsrcb"))
    if account.acting_member is not None:
        violations.append(FieldViolation("acting_member", "合作银行信贷员不绑定党员"))
    if violations:
        raise InvalidArgument(violations)


async def upsert_account(*, db: Database, account: Account, password: str) -> None:
    """Create or reset an account (used by the demo seed and by operators)."""
    validate_binding(account)
    async with db.unit_of_work_in_scope(scope=account.scope) as uow:
        # The name first (login_names keeps it unique in the province): another scope's holder of the name makes
        # this a unique violation on login_names_pkey, as it was on accounts before the schema was shardable.
        await uow.conn.execute(
            "INSERT INTO login_names (username, tenant_id) VALUES ($1, $2)"
            " ON CONFLICT (tenant_id, username) DO NOTHING",
            account.username, account.scope,
        )
        await uow.conn.execute(
            "INSERT INTO accounts (tenant_id, username, password_hash, role, scope, acting_tenant, display_name,"
            " acting_org, acting_member) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, username) DO UPDATE SET"
            " password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, acting_tenant = EXCLUDED.acting_tenant,"
            " display_name = EXCLUDED.display_name, acting_org = EXCLUDED.acting_org,"
            " acting_member = EXCLUDED.acting_member, updated_at = now()",
            account.scope, account.username, passwords.hash_password(password), account.role.value, account.scope,
            account.acting_tenant, account.display_name, account.acting_org, account.acting_member,
        )
        await uow.commit()
