"""Preferences' persistence model: a ``people`` row (the person's settings and sealed contacts) and its per-category
``preferences`` rows, with the sealed columns declared for the key rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import asyncpg

from jinqiao.kit.crypto import EncryptedColumn

PEOPLE = "people"
# Contacts are sealed bound to (tenant, "people", "email_enc" | "phone_enc", the person's address).
EMAIL_BINDING = "email_enc"
PHONE_BINDING = "phone_enc"
ENCRYPTED_COLUMNS = (
    EncryptedColumn(table=PEOPLE, column="email_enc", bound_as=EMAIL_BINDING, key=("address",), row="{address}"),
    EncryptedColumn(table=PEOPLE, column="phone_enc", bound_as=PHONE_BINDING, key=("address",), row="{address}"),
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person's settings (``member:…`` or ``user:…``; a login's seat is its role and org)."""

    address: str
    role: str
    org_id: str
    display_name: str
    email_enc: bytes | None
    email_masked: str
    phone_enc: bytes | None
    phone_masked: str
    quiet_enabled: bool
    quiet_start: time
    quiet_end: time
    digest_time: time

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> PersonRow:
        """Map a ``people`` record."""
        return cls(address=record["address"], role=record["role"], org_id=record["org_id"],
                   display_name=record["display_name"],
                   email_enc=bytes(record["email_enc"]) if record["email_enc"] is not None else None,
                   email_masked=record["email_masked"],
                   phone_enc=bytes(record["phone_enc"]) if record["phone_enc"] is not None else None,
                   phone_masked=record["phone_masked"], quiet_enabled=record["quiet_enabled"],
                   quiet_start=record["quiet_start"], quiet_end=record["quiet_end"],
                   digest_time=record["digest_time"])


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    """One category's channels (Channel values) and digest switch."""

    category: str
    channels: tuple[int, ...]
    digest: bool
