"""`jinqiao keys` on a real PostgreSQL: rotation re-encrypts every county's rows of every decrypting service to the
new version, reads return the same plaintext, each batch writes an audit row, a second run changes nothing, and a
version still in use cannot be retired.

The commands run as an operator runs them, over an install of their own (a data directory whose PostgreSQL the
commands start and stop themselves): rotating the session's shared databases would leave the running test
platform unable to read them.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from jinqiao.kit import pii
from jinqiao.kit.crypto import BlindIndex, FieldCipher, key_version_of
from jinqiao.kit.db import Database
from jinqiao.kit.runtime import config as runtime_config
from jinqiao.kit.runtime import keys as key_commands
from jinqiao.kit.runtime.ports import free_port
from jinqiao.organizations.officers import repo as officers_repo
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.development import domain as dev
from jinqiao.registry.development import repo as development_repo
from jinqiao.registry.development.service import _rows as applicant_rows
from jinqiao.registry.members import domain as members_domain
from jinqiao.registry.members import repo as members_repo
from jinqiao.registry.members.service import clear_numbers, new_member_row

COUNTIES = ("411525", "411502")
# Enough members that one county's rows span several batches of the rotation (batch size 500).
MEMBERS_PER_COUNTY = 520


@dataclass
class Install:
    """An install of the platform's data and keys, with the plaintexts written into it."""

    config: runtime_config.EmbeddedConfig
    members: dict[str, tuple[str, str, str]]  # member id → (county, ID number, phone)
    mentors: dict[tuple[str, int], tuple[str, str]]  # (applicant id, seq) → (county, phone)
    officers: dict[str, tuple[str, str]]  # officer id → (county, phone)
    attachments: dict[str, tuple[str, bytes]]  # attachment id → (county, content): binary, sealed by the desk
    # (county, address) → e-mail: a person's own address, sealed by notifications (issue 15)
    emails: dict[tuple[str, str], str] = field(default_factory=dict)


def member(county: str, n: int) -> members_domain.NewMember:
    born = date(1960 + n % 40, 1 + n % 12, 1 + n % 28)
    return members_domain.NewMember(
        name=f"党员{n}", id_number=pii.make_id_number(county, born, n % 999 + 1), phone=f"138{n:08d}",
        gender=members_domain.Gender.MALE, birth_date=born, membership_status=members_domain.MembershipStatus.FULL,
        township="", village="", occupation="", join_date=None)


async def seed(config: runtime_config.EmbeddedConfig) -> Install:
    """Write members, applicants with mentors and officers in two counties, encrypted under version 1."""
    keys = key_commands._open(config)
    ring = keys.pii_keyring()
    cipher = FieldCipher(keys=ring.keys, active=ring.active)
    install = Install(config=config, members={}, mentors={}, officers={}, attachments={})
    async with key_commands.databases(config) as dbs:
        by_service = {db.service: db for db in dbs}
        registry = await Database.connect(by_service["registry"].app_dsn, min_size=1, max_size=2)
        organizations = await Database.connect(by_service["organizations"].app_dsn, min_size=1, max_size=2)
        deps = RegistryDeps(db=registry, cipher=cipher, blind_index=BlindIndex(keys.blind_index_key()))
        try:
            for county in COUNTIES:
                async with registry.unit_of_work(tenant=county) as uow:
                    for n in range(MEMBERS_PER_COUNTY):
                        new = member(county, n)
                        row = new_member_row(deps, tenant=county, member=new, request_id=None)
                        await members_repo.insert_member(uow, row=row)
                        install.members[row.id] = (county, new.id_number, new.phone or "")
                    applicant = dev.NewApplicant(
                        name="申请人", id_number=pii.make_id_number(county, date(1999, 5, 5), 7), phone="13900000001",
                        gender="male", birth_date=date(1999, 5, 5), township="", village="", destination_code="",
                        employer="", application_date=date(2024, 1, 2), delegated=False, delegated_org_name="",
                        mentors=(dev.NewMentor(name="甲", phone="13900000002", side=dev.Side.HOME, org_name=""),
                                 dev.NewMentor(name="乙", phone="13900000003", side=dev.Side.HOME, org_name="")))
                    row, mentors = applicant_rows(deps, tenant=county, applicant=applicant, request_id=None,
                                                  home_org_id=None)
                    await development_repo.insert_applicant(uow, row=row, mentors=mentors,
                                                            applied_on=date(2024, 1, 2), actor="test")
                    for m, given in zip(mentors, applicant.mentors, strict=True):
                        install.mentors[(m.applicant_id, m.seq)] = (county, given.phone or "")
                    await uow.commit()
                async with organizations.unit_of_work(tenant=county) as uow:
                    officer = str(uuid.uuid4())
                    phone = "13700000009"
                    await officers_repo.insert_officer(
                        uow, officer_id=officer, name="书记", phone_masked=pii.mask_phone(phone),
                        phone_enc=cipher.encrypt(phone, tenant=county, table="officers", column="phone", row=officer))
                    install.officers[officer] = (county, phone)
                    await uow.commit()
                # A wage claim's scanned contract: bytes that are not text, as the desk seals them.
                attachment, content = str(uuid.uuid4()), b"%PDF-1.4\n" + bytes(range(256))
                conn = await asyncpg.connect(by_service["desk"].admin_dsn)
                try:
                    await conn.execute(
                        "INSERT INTO ticket_attachments (tenant_id, id, ticket_id, filename, content_type, size_bytes,"
                        " sha256, content_enc, uploaded_by, created_at) VALUES ($1, $2, $3, '合同.pdf',"
                        " 'application/pdf', $4, '', $5, 'test', now())", county, attachment, str(uuid.uuid4()),
                        len(content), cipher.encrypt_bytes(content, tenant=county, table="ticket_attachments",
                                                           column="content", row=attachment))
                finally:
                    await conn.close()
                install.attachments[attachment] = (county, content)
                # A member's e-mail address for their notifications, as preferences seals it.
                address, email = f"member:{uuid.uuid4()}", f"dangyuan-{county}@example.com"
                conn = await asyncpg.connect(by_service["notifications"].admin_dsn)
                try:
                    await conn.execute(
                        "INSERT INTO people (tenant_id, address, email_enc, email_masked) VALUES ($1, $2, $3, 'd***')",
                        county, address, cipher.encrypt(email, tenant=county, table="people", column="email_enc",
                                                        row=address))
                finally:
                    await conn.close()
                install.emails[(county, address)] = email
        finally:
            await registry.close()
            await organizations.close()
    return install


@pytest.fixture(scope="module")
async def install() -> AsyncIterator[Install]:
    root = Path(tempfile.mkdtemp(prefix="jinqiao-keys-"))
    # PostgreSQL runs as its own OS user when the tests run as root: it must reach its folder.
    root.chmod(0o755)
    loaded = runtime_config.load()
    config = runtime_config.EmbeddedConfig(
        data_dir=root / "data", key_dir=root / "keys", pg_port=free_port(), nats_port=0, nats_monitor_port=0,
        services=loaded.services, seed_module="")
    config.data_dir.mkdir()
    try:
        yield await seed(config)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def attachments_in_clear(install: Install) -> dict[str, tuple[str, bytes]]:
    """The desk's attachments opened with the keyring as it now stands (bytes, not text)."""
    ring = key_commands._open(install.config).pii_keyring()
    cipher = FieldCipher(keys=ring.keys, active=ring.active)
    async with key_commands.databases(install.config) as dbs:
        desk = next(db for db in dbs if db.service == "desk")
        conn = await asyncpg.connect(desk.admin_dsn)
        try:
            rows = await conn.fetch("SELECT tenant_id, id, content_enc FROM ticket_attachments")
            return {str(r["id"]): (r["tenant_id"], cipher.decrypt_bytes(
                r["content_enc"], tenant=r["tenant_id"], table="ticket_attachments", column="content",
                row=str(r["id"]))) for r in rows}
        finally:
            await conn.close()


async def emails_in_clear(install: Install) -> dict[tuple[str, str], str]:
    """Notifications' sealed e-mail addresses opened with the keyring as it now stands."""
    ring = key_commands._open(install.config).pii_keyring()
    cipher = FieldCipher(keys=ring.keys, active=ring.active)
    async with key_commands.databases(install.config) as dbs:
        notifications = next(db for db in dbs if db.service == "notifications")
        conn = await asyncpg.connect(notifications.admin_dsn)
        try:
            rows = await conn.fetch("SELECT tenant_id, address, email_enc FROM people")
            return {(r["tenant_id"], r["address"]): cipher.decrypt(
                r["email_enc"], tenant=r["tenant_id"], table="people", column="email_enc", row=r["address"])
                for r in rows}
        finally:
            await conn.close()


@dataclass
class Snapshot:
    """Every stored blob and audit row of the install, read as the database's superuser."""

    blobs: dict[str, bytes]
    audit: list[asyncpg.Record]


async def snapshot(config: runtime_config.EmbeddedConfig) -> Snapshot:
    blobs: dict[str, bytes] = {}
    audit: list[asyncpg.Record] = []
    async with key_commands.databases(config) as dbs:
        for db in dbs:
            conn = await asyncpg.connect(db.admin_dsn)
            try:
                if db.service == "registry":
                    for r in await conn.fetch("SELECT id, id_number_enc, phone_enc FROM members"):
                        blobs[f"members/{r['id']}/id"], blobs[f"members/{r['id']}/phone"] = (
                            bytes(r["id_number_enc"]), bytes(r["phone_enc"]))
                    for r in await conn.fetch("SELECT applicant_id, seq, phone_enc FROM applicant_mentors"):
                        blobs[f"mentors/{r['applicant_id']}/{r['seq']}"] = bytes(r["phone_enc"])
                    for r in await conn.fetch("SELECT id, id_number_enc FROM applicants"):
                        blobs[f"applicants/{r['id']}/id"] = bytes(r["id_number_enc"])
                elif db.service == "organizations":
                    for r in await conn.fetch("SELECT id, phone_enc FROM officers"):
                        blobs[f"officers/{r['id']}"] = bytes(r["phone_enc"])
                elif db.service == "notifications":
                    for r in await conn.fetch("SELECT address, email_enc FROM people"):
                        blobs[f"people/{r['address']}"] = bytes(r["email_enc"])
                else:
                    for r in await conn.fetch("SELECT id, content_enc FROM ticket_attachments"):
                        blobs[f"attachments/{r['id']}"] = bytes(r["content_enc"])
                audit += [dict(r, service=db.service) for r in await conn.fetch(
                    "SELECT * FROM audit_log WHERE action = 'pii.reencrypt' ORDER BY tenant_id, seq")]
            finally:
                await conn.close()
    return Snapshot(blobs=blobs, audit=audit)


async def plaintexts(install: Install) -> tuple[dict[str, tuple[str, str]], dict[object, str], dict[str, str]]:
    """What the services' own read paths return, with the keyring as it now stands."""
    keys = key_commands._open(install.config)
    ring = keys.pii_keyring()
    cipher = FieldCipher(keys=ring.keys, active=ring.active)
    members: dict[str, tuple[str, str]] = {}
    mentors: dict[object, str] = {}
    officers: dict[str, str] = {}
    async with key_commands.databases(install.config) as dbs:
        by_service = {db.service: db for db in dbs}
        registry = await Database.connect(by_service["registry"].app_dsn, min_size=1, max_size=1)
        deps = RegistryDeps(db=registry, cipher=cipher, blind_index=BlindIndex(keys.blind_index_key()))
        try:
            for county in COUNTIES:
                async with registry.unit_of_work(tenant=county) as uow:
                    for record in await uow.conn.fetch("SELECT id FROM members"):
                        row = await members_repo.get_member(uow, member_id=str(record["id"]))
                        assert row is not None
                        members[row.id] = clear_numbers(deps, member=row)  # type: ignore[assignment]
                    for r in await uow.conn.fetch("SELECT applicant_id, seq, phone_enc FROM applicant_mentors"):
                        mentors[(str(r["applicant_id"]), r["seq"])] = cipher.decrypt(
                            r["phone_enc"], tenant=county, table="applicant_mentors", column="phone",
                            row=f"{r['applicant_id']}/{r['seq']}")
        finally:
            await registry.close()
        conn = await asyncpg.connect(by_service["organizations"].admin_dsn)
        try:
            for r in await conn.fetch("SELECT tenant_id, id, phone_enc FROM officers"):
                officers[str(r["id"])] = cipher.decrypt(r["phone_enc"], tenant=r["tenant_id"], table="officers",
                                                        column="phone", row=str(r["id"]))
        finally:
            await conn.close()
    return members, mentors, officers


async def test_rotation_reencrypts_every_row_to_the_new_version_and_reads_stay_the_same(install, capsys):
    before = await snapshot(install.config)
    assert {key_version_of(b) for b in before.blobs.values()} == {1} and not before.audit

    assert await key_commands.rotate(install.config) == 0
    out = capsys.readouterr().out
    after = await snapshot(install.config)
    assert set(after.blobs) == set(before.blobs)
    assert {key_version_of(b) for b in after.blobs.values()} == {2}
    assert all(after.blobs[k] != before.blobs[k] for k in before.blobs)
    members_count = len(COUNTIES) * MEMBERS_PER_COUNTY
    assert f"re-encrypted {2 * members_count + 2 * len(COUNTIES) + 2 * len(COUNTIES)} values" in out  # registry
    assert f"members.id_number_enc: {members_count}" in out and "officers.phone_enc: 2" in out

    members, mentors, officers = await plaintexts(install)
    assert members == {k: (v[1], v[2]) for k, v in install.members.items()}
    assert mentors == {k: v[1] for k, v in install.mentors.items()}
    assert officers == {k: v[1] for k, v in install.officers.items()}

    # Audited in each county's own chain of each database, one row per batch, naming the column and the count.
    audit = after.audit
    assert {(r["service"], r["tenant_id"]) for r in audit} == {
        (s, c) for s in ("registry", "organizations", "desk", "notifications") for c in COUNTIES}
    assert await attachments_in_clear(install) == install.attachments
    assert await emails_in_clear(install) == install.emails
    members_rows = [r for r in audit if r["object_id"] == "members.id_number_enc" and r["tenant_id"] == COUNTIES[0]]
    assert len(members_rows) == 2  # 520 rows in batches of 500
    assert sum(int(r["reason"].split()[0]) for r in members_rows) == MEMBERS_PER_COUNTY
    assert all(r["role"] == "operator" and r["actor"].startswith("jinqiao keys rotate") for r in audit)
    assert not any(v[1] in r["reason"] or v[2] in r["reason"] for r in audit for v in install.members.values())


async def test_a_second_run_changes_nothing(install, capsys):
    before = await snapshot(install.config)
    assert {key_version_of(b) for b in before.blobs.values()} == {2}
    assert await key_commands.reencrypt(install.config) == 0
    assert "re-encrypted 0 values" in capsys.readouterr().out
    after = await snapshot(install.config)
    assert after.blobs == before.blobs and len(after.audit) == len(before.audit)


async def test_a_version_still_in_use_cannot_be_retired(install, capsys):
    keys = key_commands._open(install.config)
    assert await key_commands.retire(install.config, 2) == key_commands.REFUSED  # active
    # A version made active without re-encrypting: version 2 is still what every row uses.
    assert keys.add_pii_version() == 3
    assert await key_commands.retire(install.config, 2) == key_commands.REFUSED
    assert "jinqiao keys reencrypt" in capsys.readouterr().err
    assert 2 in keys.pii_keyring().keys
    assert await key_commands.status(install.config) == 0
    assert "members.id_number_enc: v2: 1040" in capsys.readouterr().out
    # Once nothing uses them, the older versions go, and every read still works.
    assert await key_commands.reencrypt(install.config) == 0
    assert await key_commands.retire(install.config, 2) == 0
    assert await key_commands.retire(install.config, 1) == 0
    ring = keys.pii_keyring()
    assert set(ring.keys) == {3} and set(ring.retired) == {1, 2}
    members, _, officers = await plaintexts(install)
    assert members == {k: (v[1], v[2]) for k, v in install.members.items()}
    assert officers == {k: v[1] for k, v in install.officers.items()}
    assert await attachments_in_clear(install) == install.attachments
    assert await key_commands.status(install.config) == 0
    shown = capsys.readouterr().out
    assert "v3: 1040" in shown and "retired" in shown
