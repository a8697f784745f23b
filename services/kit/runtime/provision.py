"""One database, one owner role and one powerless login role per service; idempotent, run on every start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

_NAME = re.compile(r"[a-z][a-z_]{0,40}")


@dataclass(frozen=True, slots=True)
class ProvisionedDatabase:
    """Where a service's data lives and who may touch it."""

    database: str
    owner_role: str
    app_role: str
    app_dsn: str
    admin_dsn_for_db: str


def _with_database(dsn: str, database: str, *, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        host = netloc.rsplit("@", 1)[-1]
        netloc = f"{quote(user, safe='')}:{quote(password or '', safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


async def provision_service_database(*, admin_dsn: str, service: str, app_password: str) -> ProvisionedDatabase:
    """Create or update the roles and database of a service; the app role owns nothing, bypasses nothing."""
    if not _NAME.fullmatch(service):
        raise ValueError(f"not a service name: {service!r}")
    database, owner, app = f"jinqiao_{service}", f"jq_{service}_owner", f"jq_{service}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", owner):
            await conn.execute(f"CREATE ROLE {owner} NOLOGIN BYPASSRLS")
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", app):
            await conn.execute(f"CREATE ROLE {app} LOGIN")
        await conn.execute(f"ALTER ROLE {app} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT")
        # ALTER ROLE takes no parameters; the literal is quoted by PostgreSQL's own quote_literal.
        literal = await conn.fetchval("SELECT quote_literal($1)", app_password)
        await conn.execute(f"ALTER ROLE {app} PASSWORD {literal}")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f"CREATE DATABASE {database} OWNER {owner}")
        await conn.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {app}")
    finally:
        await conn.close()
    admin_for_db = _with_database(admin_dsn, database)
    conn = await asyncpg.connect(admin_for_db)
    try:
        for statement in (
            f"ALTER SCHEMA public OWNER TO {owner}",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"GRANT USAGE ON SCHEMA public TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO {app}",
        ):
            await conn.execute(statement)
    finally:
        await conn.close()
    return ProvisionedDatabase(
        database=database, owner_role=owner, app_role=app,
        app_dsn=_with_database(admin_dsn, database, user=app, password=app_password),
        admin_dsn_for_db=admin_for_db,
    )
