"""Preferences repository: SQL over the unit of work's connection (RLS already scopes it to one county)."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit.db import UnitOfWork
from jinqiao.notifications.preferences.models import PersonRow, PreferenceRow


async def person(uow: UnitOfWork, *, address: str, for_update: bool = False) -> PersonRow | None:
    """The person's settings row, or None when they never saved any."""
    lock = " FOR UPDATE" if for_update else ""
    record = await uow.conn.fetchrow(f"SELECT * FROM people WHERE address = $1{lock}", address)
    return PersonRow.from_record(record) if record else None


async def preferences(uow: UnitOfWork, *, address: str) -> list[PreferenceRow]:
    """The person's per-category rows."""
    records = await uow.conn.fetch("SELECT category, channels, digest FROM preferences WHERE address = $1", address)
    return [PreferenceRow(category=r["category"], channels=tuple(int(c) for c in r["channels"]), digest=r["digest"])
            for r in records]


async def save_person(uow: UnitOfWork, *, row: PersonRow) -> None:
    """Insert or replace the person's settings row."""
    await uow.conn.execute(
        """
        INSERT INTO people (tenant_id, address, role, org_id, display_name, email_enc, email_masked, phone_enc,
                            phone_masked, quiet_enabled, quiet_start, quiet_end, digest_time, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
        ON CONFLICT (tenant_id, address) DO UPDATE SET
            role = EXCLUDED.role, org_id = EXCLUDED.org_id, display_name = EXCLUDED.display_name,
            email_enc = EXCLUDED.email_enc, email_masked = EXCLUDED.email_masked, phone_enc = EXCLUDED.phone_enc,
            phone_masked = EXCLUDED.phone_masked, quiet_enabled = EXCLUDED.quiet_enabled,
            quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, digest_time = EXCLUDED.digest_time,
            updated_at = now()
        """,
        uow.tenant, row.address, row.role, row.org_id, row.display_name, row.email_enc, row.email_masked,
        row.phone_enc, row.phone_masked, row.quiet_enabled, row.quiet_start, row.quiet_end, row.digest_time)


async def replace_preferences(uow: UnitOfWork, *, address: str, rows: Sequence[PreferenceRow]) -> None:
    """Replace the person's per-category rows with these."""
    await uow.conn.execute("DELETE FROM preferences WHERE address = $1", address)
    if rows:
        await uow.conn.executemany(
            "INSERT INTO preferences (tenant_id, address, category, channels, digest) VALUES ($1, $2, $3, $4, $5)",
            [(uow.tenant, address, r.category, list(r.channels), r.digest) for r in rows])


async def seat_users(uow: UnitOfWork, *, role: str, org: str) -> list[str]:
    """The ``user:…`` addresses saved at the seat (role, org), in a stable order."""
    records = await uow.conn.fetch(
        "SELECT address FROM people WHERE role = $1 AND org_id = $2 AND address LIKE 'user:%' ORDER BY address",
        role, org)
    return [r["address"] for r in records]
