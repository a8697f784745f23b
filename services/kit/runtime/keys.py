"""`jinqiao keys status | rotate | reencrypt | retire VERSION`: the PII keyring's versions and the data under them.

Rotation runs with the platform stopped (it refuses while `jinqiao status` finds it running). Services receive
their keys at start, so a new active version must reach registry and organizations together, before anything is
written under it: a live rotation would need every holder restarted twice (new key for decryption, then active).
Stopped, the command starts the data directory's PostgreSQL alone, adds the version, rewrites every blob and
stops it again; the next `jinqiao up` hands the services the new keyring.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import asyncpg

from jinqiao.kit import catalog, kms, rotation
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.runtime import supervisor
from jinqiao.kit.runtime.config import EmbeddedConfig
from jinqiao.kit.runtime.ports import PortBusy
from jinqiao.kit.runtime.postgres import EmbeddedPostgres, postmaster_alive
from jinqiao.kit.runtime.processes import alive

REFUSED = 2


@dataclass(frozen=True, slots=True)
class ServiceDatabase:
    """How the key commands reach one decrypting service's database."""

    service: str
    admin_dsn: str
    app_dsn: str


def _say(text: str) -> None:
    print(text, flush=True)


def _refuse(text: str) -> int:
    print(text, file=sys.stderr, flush=True)
    return REFUSED


def _running(config: EmbeddedConfig) -> bool:
    run = supervisor.read_run_file(config)
    supervisor_pid = run.get("supervisor") if run else None
    return alive(supervisor_pid if isinstance(supervisor_pid, int) else None) or postmaster_alive(
        config.data_dir / "postgres")


def _has_data(config: EmbeddedConfig) -> bool:
    return (config.data_dir / "postgres" / "pgdata" / "PG_VERSION").exists()


def _actor(command: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"jinqiao keys {command} ({user})"


def decrypting_services() -> list[str]:
    """The services holding the PII keyring, whose databases hold its blobs."""
    return [e.name for e in catalog.holding("pii") if e.database]


@asynccontextmanager
async def databases(config: EmbeddedConfig, *, live: bool = False) -> AsyncIterator[list[ServiceDatabase]]:
    """The decrypting services' databases: the platform's own PostgreSQL if ``live``, else started here and stopped.

    Started here, each database is provisioned and migrated as `jinqiao up` would, so the declared columns exist.
    """
    from jinqiao.kit.migrations import migrate
    from jinqiao.kit.runtime.provision import provision_service_database

    stored = supervisor.load_secrets(config.data_dir, config.services)
    password = str(stored["postgres_password"])
    passwords = stored["app_passwords"]
    assert isinstance(passwords, dict)
    names = decrypting_services()
    if live:
        host = f"{supervisor.HOST}:{config.pg_port}"
        yield [ServiceDatabase(
            service=name, admin_dsn=f"postgresql://postgres:{quote(password, safe='')}@{host}/jinqiao_{name}",
            app_dsn=f"postgresql://jq_{name}:{quote(str(passwords[name]), safe='')}@{host}/jinqiao_{name}",
        ) for name in names]
        return
    pg = EmbeddedPostgres(data_dir=config.data_dir / "postgres", port=config.pg_port, superuser_password=password,
                          host=supervisor.HOST)
    pg.start()
    try:
        found = []
        for name in names:
            db = await provision_service_database(admin_dsn=pg.admin_dsn(), service=name,
                                                  app_password=str(passwords[name]))
            await migrate(service=name, admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
            found.append(ServiceDatabase(service=name, admin_dsn=db.admin_dsn_for_db, app_dsn=db.app_dsn))
        yield found
    finally:
        pg.stop()


def _open(config: EmbeddedConfig) -> kms.KeyService:
    service, moved = kms.prepare(key_dir=config.key_directory, data_dir=config.data_dir, spec=config.kms)
    if moved:
        _say(f"密钥已移出数据目录 / moved the keys ({', '.join(moved)}) to {service.location()}")
    return service


def _stopped_with_data(config: EmbeddedConfig) -> str | None:
    """Why a changing key command may not run now, or None."""
    if _running(config):
        return "金桥正在运行，请先执行 `jinqiao down` / Jinqiao is running: stop it first (`jinqiao down`)"
    if not _has_data(config):
        return (f"{config.data_dir} 尚无数据，请先运行 `jinqiao up` / no data in {config.data_dir} yet: "
                f"run `jinqiao up` once first")
    return None


async def reencrypt_everything(keys: kms.KeyService, dbs: Sequence[ServiceDatabase], *,
                               actor: str) -> list[rotation.Reencrypted]:
    """Rewrite every decrypting service's older blobs under the active version; what was done, per service."""
    ring = keys.pii_keyring()
    cipher = FieldCipher(keys=ring.keys, active=ring.active)
    results = []
    for db in dbs:
        results.append(await rotation.reencrypt_all_tenants(
            service=db.service, admin_dsn=db.admin_dsn, app_dsn=db.app_dsn, cipher=cipher,
            columns=rotation.encrypted_columns(db.service), actor=actor))
    return results


def _report(results: Sequence[rotation.Reencrypted]) -> int:
    unreadable = 0
    for result in results:
        _say(f"{result.service}: 重新加密 {result.total} 个值（{len(result.counties)} 个县）/ re-encrypted "
             f"{result.total} values in {len(result.counties)} counties under version {result.version}")
        for label, count in sorted(result.rewritten.items()):
            _say(f"    {label}: {count}")
        for label, count in sorted(result.unreadable.items()):
            unreadable += count
            _say(f"    {label}: {count} 个值无法解密，已保留原样 / {count} values could not be decrypted and were left "
                 f"as they are")
    return 1 if unreadable else 0


async def rotate(config: EmbeddedConfig) -> int:
    """Add a key version, make it active, rewrite every blob under it; report counts."""
    if why := _stopped_with_data(config):
        return _refuse(why)
    try:
        keys = _open(config)
        # The database first: a version is added only once its rows can be rewritten right away.
        async with databases(config) as dbs:
            version = keys.add_pii_version()
            _say(f"新密钥版本 {version} 已启用 / key version {version} added and active ({keys.location()})")
            return _report(await reencrypt_everything(keys, dbs, actor=_actor("rotate")))
    except (kms.KeyStoreError, PortBusy) as exc:
        return _refuse(str(exc))


async def reencrypt(config: EmbeddedConfig) -> int:
    """Rewrite blobs still under an older version (after an interrupted rotation); adds no version."""
    if why := _stopped_with_data(config):
        return _refuse(why)
    try:
        keys = _open(config)
        async with databases(config) as dbs:
            return _report(await reencrypt_everything(keys, dbs, actor=_actor("reencrypt")))
    except (kms.KeyStoreError, PortBusy) as exc:
        return _refuse(str(exc))


async def usage(dbs: Sequence[ServiceDatabase]) -> dict[str, dict[str, dict[int | None, int]]]:
    """Blobs per version, per service and column."""
    return {db.service: await rotation.blobs_per_version_all_tenants(
        admin_dsn=db.admin_dsn, columns=rotation.encrypted_columns(db.service)) for db in dbs}


async def retire(config: EmbeddedConfig, version: int) -> int:
    """Destroy an older version's key, only when no stored value and no unsent event can still need it."""
    if why := _stopped_with_data(config):
        return _refuse(why)
    try:
        keys = _open(config)
        ring = keys.pii_keyring()
    except kms.KeyStoreError as exc:
        return _refuse(str(exc))
    if version == ring.active:
        return _refuse(f"版本 {version} 是当前密钥，不能停用 / version {version} is the active key")
    if version not in ring.keys:
        return _refuse(f"没有密钥版本 {version} / there is no key version {version}")
    try:
        async with databases(config) as dbs:
            counts = await usage(dbs)
            unsent = sum([await rotation.unsent_events_all_tenants(admin_dsn=db.admin_dsn) for db in dbs])
    except PortBusy as exc:
        return _refuse(str(exc))
    in_use = sum(n for columns in counts.values() for per in columns.values() for v, n in per.items() if v == version)
    if in_use:
        return _refuse(f"仍有 {in_use} 个值使用版本 {version}，请先执行 `jinqiao keys reencrypt` / {in_use} values are "
                       f"still under version {version}: run `jinqiao keys reencrypt` first")
    if unsent:
        return _refuse(f"仍有 {unsent} 个事件未发出，请先运行平台 / {unsent} events wait in the outbox and may carry "
                       f"values sealed under version {version}: let the platform relay them first")
    keys.retire_pii_version(version)
    _say(f"密钥版本 {version} 已停用并销毁 / key version {version} retired and destroyed")
    return 0


async def status(config: EmbeddedConfig) -> int:
    """Print the versions (active, created, retired) and how many stored values each one encrypts."""
    try:
        # Read only: status neither creates nor moves a key.
        keys = kms.open_key_service(key_dir=config.key_directory, data_dir=config.data_dir, spec=config.kms)
        if kms.legacy_keys_present(config.data_dir):
            return _refuse(f"密钥仍在数据目录（旧版安装），下次启动时移至 {keys.location()} / the keys are still "
                           f"beside the data in {config.data_dir} (an older install); the next start moves them")
        ring = keys.pii_keyring()
    except kms.KeyStoreError as exc:
        return _refuse(str(exc))
    _say(f"密钥位置 key store: {keys.location()}")
    for version in sorted(ring.keys):
        mark = "当前 active" if version == ring.active else "仅解密 decrypt-only"
        _say(f"  版本 version {version}: {mark}, 创建 created {ring.created.get(version, '?')}")
    for version, at in sorted(ring.retired.items()):
        _say(f"  版本 version {version}: 已停用 retired {at}")
    if not _has_data(config):
        _say("尚无数据 / no data yet")
        return 0
    live = _running(config)
    try:
        async with databases(config, live=live) as dbs:
            counts = await usage(dbs)
    except (OSError, asyncpg.PostgresError, PortBusy) as exc:
        return _refuse(f"无法连接数据库 / cannot reach the database: {exc}")
    for service, columns in counts.items():
        for label, per in columns.items():
            shown = ", ".join(f"v{v}: {n}" if v is not None else f"无法识别 unreadable: {n}" for v, n in per.items())
            _say(f"  {service} {label}: {shown or '0'}")
    return 0
