"""`jinqiao backup` / `jinqiao restore` on a real PostgreSQL and NATS (a Sandbox standing in for `jinqiao up`):
rows and messages come back, keys never travel, and a tampered archive, foreign keys or a used data directory are
refused with nothing written.

The platform is the Sandbox's servers described by a run.json whose supervisor is this test process, so the
commands see a running platform without the services (tests/e2e/test_restore_drill.py runs the whole saga).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
import pyrage
import pytest

from jinqiao.kit import events as ev
from jinqiao.kit import kms
from jinqiao.kit.runtime import backup
from jinqiao.kit.runtime.config import EmbeddedConfig
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import ADMIN
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import EmbeddedPostgres
from jinqiao.kit.runtime.sandbox import Sandbox

PRODUCER = "registry"
STREAM = ev.stream_name(PRODUCER)
MEMBERS = 50
MESSAGES = 6


@dataclass
class Backed:
    """A backed-up install: its configuration, the archive, and what the archive must bring back."""

    root: Path
    config: EmbeddedConfig
    archive: Path
    msg_ids: list[str]
    box: Sandbox


def _config(data_dir: Path, key_dir: Path, *, pg_port: int = 0, nats_port: int = 0) -> EmbeddedConfig:
    return EmbeddedConfig(data_dir=data_dir, pg_port=pg_port, nats_port=nats_port, nats_monitor_port=0, services=[],
                          seed_module="", key_dir=key_dir)


async def _load(box: Sandbox) -> list[str]:
    """A producer database (members, an outbox, Alembic's table) and its stream holding some events."""
    admin = await asyncpg.connect(box.admin_dsn)
    try:
        await admin.execute(f"CREATE DATABASE jinqiao_{PRODUCER}")
    finally:
        await admin.close()
    db = await asyncpg.connect(box.admin_dsn.rsplit("/", 1)[0] + f"/jinqiao_{PRODUCER}")
    ids = [str(uuid.uuid4()) for _ in range(MESSAGES)]
    try:
        await db.execute("CREATE TABLE alembic_version (version_num text PRIMARY KEY);"
                         "INSERT INTO alembic_version VALUES ('0001_test');"
                         "CREATE TABLE members (tenant_id text, id int, name text, PRIMARY KEY (tenant_id, id));"
                         "CREATE TABLE outbox (tenant_id text, event_id uuid, sent_at timestamptz);"
                         # One event consumed eight days before the backup: near the end of the inbox's horizon.
                         "CREATE TABLE inbox (tenant_id text, consumer text, event_id uuid,"
                         " processed_at timestamptz NOT NULL DEFAULT now());"
                         "INSERT INTO inbox VALUES ('411525', 'organizations-registry', gen_random_uuid(),"
                         " now() - interval '8 days')")
        await db.executemany("INSERT INTO members VALUES ($1, $2, $3)",
                             [("411525", n, f"党员{n}") for n in range(MEMBERS)])
        await db.executemany("INSERT INTO outbox VALUES ('411525', $1::uuid, now())", [(i,) for i in ids])
    finally:
        await db.close()
    login = box.nats_login()
    nc = await nats.connect(box.nats_url, **login.options)
    try:
        js = nc.jetstream()
        for n, msg_id in enumerate(ids):
            await js.publish(f"jinqiao.411525.{PRODUCER}.member.v1.Registered", f"event {n}".encode(),
                             stream=STREAM, headers={ev.HEADER_MSG_ID: msg_id})
    finally:
        await nc.close()
    return ids


@pytest.fixture(scope="module")
def backed() -> Iterator[Backed]:
    """One backup of a loaded Sandbox, shared by the tests (the archive is only read)."""
    root = Path(tempfile.mkdtemp(prefix="jq-backup-"))
    root.chmod(0o755)
    with Sandbox() as box:
        assert box.postgres is not None
        data, keys = root / "data", root / "keys"
        data.mkdir()
        config = _config(data, keys, pg_port=box.postgres.port, nats_port=box.nats.port)
        kms.prepare(key_dir=keys, data_dir=data)
        (data / "secrets.json").write_text(json.dumps({
            "postgres_password": "sandbox", "app_passwords": {},
            "nats_passwords": {user: login.password for user, login in box.logins.items()}}))
        # The supervisor of the "running platform" is this process: `backup` refuses a platform that is not up.
        (data / "run.json").write_text(json.dumps({
            "supervisor": os.getpid(),
            "endpoints": {"postgres": {"port": box.postgres.port}, "nats": {"port": box.nats.port}}}))
        (data / ".seeded").touch()
        ids = asyncio.run(_load(box))
        archive = root / "out" / "platform.jqbak"
        assert asyncio.run(backup.backup(config, archive)) == 0
        yield Backed(root=root, config=config, archive=archive, msg_ids=ids, box=box)
    shutil.rmtree(root, ignore_errors=True)


def _plaintext(b: Backed) -> bytes:
    identity = backup.read_identity(b.config.key_directory / backup.IDENTITY_FILE)
    return pyrage.decrypt(b.archive.read_bytes(), [identity])


def _members_of(plain: bytes, folder: Path) -> dict[str, bytes]:
    path = folder / "plain.tar"
    path.write_bytes(plain)
    with tarfile.open(path) as tar:
        found = {}
        for info in tar:
            stream = tar.extractfile(info)
            if stream is not None:
                found[info.name] = stream.read()
    return found


def test_archive_holds_a_manifest_base_backup_streams_and_secrets_but_no_key(backed: Backed) -> None:
    """The archive's members match the contract; neither key material nor the age identity is inside."""
    members = _members_of(_plaintext(backed), backed.root)
    assert {"manifest.json", "postgres/base.tar", "postgres/pg_wal.tar", "secrets.json",
            f"nats/{STREAM}.jsonl"} <= set(members)
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == 1
    assert manifest["databases"][f"jinqiao_{PRODUCER}"]["alembic_heads"] == ["0001_test"]
    assert manifest["streams"][STREAM]["messages"] == MESSAGES
    assert manifest["postgresql_version"] and manifest["nats_server_version"]
    assert set(manifest["members"]) == set(members) - {"manifest.json"}
    service = kms.LocalKeyDirectory(backed.config.key_directory)
    secrets = [service.blind_index_key(), *service.pii_keyring().keys.values(),
               (backed.config.key_directory / backup.IDENTITY_FILE).read_bytes().strip()]
    blob = b"".join(members.values())
    for secret in secrets:
        assert secret not in blob and base64.b64encode(secret) not in blob
    assert (backed.archive.parent / f"{backed.archive.name}.sha256").read_text().split()[1] == backed.archive.name


def test_restore_brings_rows_back_and_republishes_the_streams_with_their_message_ids(backed: Backed) -> None:
    """Restored into an empty directory: the same rows; the next start re-publishes every message once."""
    target = backed.root / "restored"
    config = _config(target, backed.config.key_directory)
    assert backup.restore(config, backed.archive) == 0
    assert (target / ".seeded").exists() and (target / backup.RESTORE_MARKER).exists()
    pg = EmbeddedPostgres(data_dir=target / "postgres", port=free_port(), superuser_password="sandbox")
    nats_server = EmbeddedNats(data_dir=target / "nats", port=free_port(), users=backed.box.logins.values())
    with pg, nats_server:
        asyncio.run(nats_server.declare_streams())
        counts = asyncio.run(backup.republish_restored(target, nats_url=nats_server.url,
                                                       admin=nats_server.login(ADMIN), admin_dsn=pg.admin_dsn()))
        rows = asyncio.run(_fetch(pg.admin_dsn(f"jinqiao_{PRODUCER}"), "SELECT count(*) FROM members"))
        ids = asyncio.run(_stream_ids(nats_server))
    assert rows == MEMBERS
    assert counts == {"published": MESSAGES, "after_snapshot": 0}
    assert ids == backed.msg_ids
    assert not (target / backup.RESTORE_MARKER).exists()


def test_a_backup_restored_weeks_later_republishes_every_message_and_dates_the_inbox_to_the_restore(
        backed: Backed) -> None:
    """However old the backup, an unconsumed event is still delivered, and its inbox rows outlive the redelivery."""
    target = backed.root / "weeks-later"
    assert backup.restore(_config(target, backed.config.key_directory), backed.archive) == 0
    later = datetime.now(UTC) + timedelta(days=21)
    pg = EmbeddedPostgres(data_dir=target / "postgres", port=free_port(), superuser_password="sandbox")
    nats_server = EmbeddedNats(data_dir=target / "nats", port=free_port(), users=backed.box.logins.values())
    with pg, nats_server:
        asyncio.run(nats_server.declare_streams())
        counts = asyncio.run(backup.republish_restored(target, nats_url=nats_server.url,
                                                       admin=nats_server.login(ADMIN), admin_dsn=pg.admin_dsn(),
                                                       now=later))
        oldest = asyncio.run(_fetch(pg.admin_dsn(f"jinqiao_{PRODUCER}"), "SELECT min(processed_at) FROM inbox"))
    assert counts == {"published": MESSAGES, "after_snapshot": 0}
    assert oldest == later


def test_messages_above_the_floor_without_a_committed_event_are_not_republished(backed: Backed) -> None:
    """An event the restored producer never committed (published after the snapshot) is dropped, the rest kept."""
    target = backed.root / "floor"
    assert backup.restore(_config(target, backed.config.key_directory), backed.archive) == 0
    marker = json.loads((target / backup.RESTORE_MARKER).read_text())
    marker["streams"][STREAM]["floor_seq"] = 2  # messages 3..6 now count as published during the backup
    (target / backup.RESTORE_MARKER).write_text(json.dumps(marker))
    pg = EmbeddedPostgres(data_dir=target / "postgres", port=free_port(), superuser_password="sandbox")
    nats_server = EmbeddedNats(data_dir=target / "nats", port=free_port(), users=backed.box.logins.values())
    with pg, nats_server:
        asyncio.run(nats_server.declare_streams())
        asyncio.run(_fetch(pg.admin_dsn(f"jinqiao_{PRODUCER}"), "DELETE FROM outbox WHERE event_id = $1::uuid",
                           backed.msg_ids[-1]))
        counts = asyncio.run(backup.republish_restored(target, nats_url=nats_server.url,
                                                       admin=nats_server.login(ADMIN), admin_dsn=pg.admin_dsn()))
        ids = asyncio.run(_stream_ids(nats_server))
    assert counts == {"published": MESSAGES - 1, "after_snapshot": 1}
    assert ids == backed.msg_ids[:-1]


def test_a_tampered_archive_is_refused_and_nothing_is_written(backed: Backed, capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    """One flipped byte: refused by the .sha256 beside it, and without it by age's authentication."""
    copy = backed.root / "tampered" / "platform.jqbak"
    copy.parent.mkdir()
    raw = bytearray(backed.archive.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    copy.write_bytes(bytes(raw))
    shutil.copy(backed.archive.with_name(backed.archive.name + ".sha256"), copy.with_name(copy.name + ".sha256"))
    target = backed.root / "never"
    config = _config(target, backed.config.key_directory)
    assert backup.restore(config, copy) == backup.REFUSED
    assert "篡改" in capsys.readouterr().err
    copy.with_name(copy.name + ".sha256").unlink()
    assert backup.restore(config, copy) == backup.REFUSED
    assert "cannot decrypt" in capsys.readouterr().err
    assert not target.exists()


def test_a_key_directory_with_other_keys_is_refused_naming_the_versions(backed: Backed,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Keys other than the archive's would leave every ciphertext unreadable: refused, nothing written."""
    other = backed.root / "other-keys"
    kms.prepare(key_dir=other, data_dir=backed.root / "other-data")
    target = backed.root / "other-data"
    config = _config(target, other)
    identity = backed.config.key_directory / backup.IDENTITY_FILE
    assert backup.restore(config, backed.archive, identity) == backup.REFUSED
    err = capsys.readouterr().err
    assert "PII key version 1" in err and "blind-index" in err
    assert not target.exists()


def test_a_data_directory_in_use_is_refused(backed: Backed, capsys: pytest.CaptureFixture[str]) -> None:
    """A restore never mixes with existing data."""
    target = backed.root / "used"
    target.mkdir()
    (target / "something").write_text("x")
    assert backup.restore(_config(target, backed.config.key_directory), backed.archive) == backup.REFUSED
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == ["something"]


def test_backup_refuses_a_platform_that_is_not_running(backed: Backed, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a live supervisor there is nothing consistent to read."""
    idle = backed.root / "idle"
    idle.mkdir()
    assert asyncio.run(backup.backup(_config(idle, backed.config.key_directory))) == backup.REFUSED
    assert "not running" in capsys.readouterr().err


async def _fetch(dsn: str, query: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _stream_ids(server: EmbeddedNats) -> list[str]:
    nc = await nats.connect(server.url, **server.login(ADMIN).options)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(STREAM)).state
        ids = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            msg = await js.get_msg(STREAM, seq)
            ids.append((msg.headers or {})[ev.HEADER_MSG_ID])
        return ids
    finally:
        await nc.close()
