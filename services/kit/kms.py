"""Where the keys live, apart from the data: a small key-service interface and its local-directory implementation.

Who reads it: the runner (`jinqiao up`) and `jinqiao keys`, never a service. The runner reads every key once at
start and hands each service, by environment, only the kinds its catalogue entry names (``keys`` in
services/catalog.toml). Services do not read the key service themselves because (1) on one machine every process
runs as the same OS user, so a key directory one service could read is one it could read whole: only a runner that
hands out keys per service makes "each service holds only its keys" true; (2) services then need no KMS client and
no KMS credentials, so a real KMS replaces the runner's side alone; (3) in a cluster the same variables come from
one Secret per service (DESIGN §6: every process is configured by environment). The price, keys readable in
``/proc/<pid>/environ`` by the same OS user or root, is no wider than the key directory itself.

A real KMS replaces the local directory by setting ``JINQIAO_KMS=package.module:factory``: ``factory(key_dir=…)``
returns a ``KeyService`` (e.g. data keys wrapped by the KMS's master key, unwrapped at start).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import importlib
import json
import os
import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from jinqiao.kit.crypto import KEY_BYTES, decode_keyring, encode_keyring, generate_key

LOCAL = "local"
MAX_VERSION = 0xFFFF
PII_FILE = "pii_keyring.json"
BLIND_INDEX_FILE = "blind_index.key"
JWT_PRIVATE_FILE = "jwt_private.pem"
JWT_PUBLIC_FILE = "jwt_public.pem"
_LOCK_FILE = ".lock"


class KeyStoreError(RuntimeError):
    """The key store refuses: misplaced, too open, inconsistent, or asked for something it must not do."""


@dataclass(frozen=True, slots=True)
class Keyring:
    """The PII keyring: every usable version, the active one, when each was made, and the versions retired."""

    keys: Mapping[int, bytes]
    active: int
    created: Mapping[int, str] = field(default_factory=dict)
    retired: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JwtKeyFiles:
    """Where the JWT signing pair can be read (services read key files, not key text: see kit/auth.py)."""

    private: Path
    public: Path


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """Everything the runner read from the key service at start."""

    pii: Keyring
    blind_index: bytes
    jwt: JwtKeyFiles

    def environment(self, kinds: Collection[str]) -> dict[str, str]:
        """The variables of a service holding ``kinds`` (its catalogue ``keys``); the public key is everyone's."""
        env = {"JINQIAO_JWT_PUBLIC_KEY_FILE": str(self.jwt.public)}
        if "pii" in kinds:
            env["JINQIAO_PII_KEYS"] = encode_keyring(self.pii.keys)
            env["JINQIAO_PII_ACTIVE_KEY"] = str(self.pii.active)
        if "blind_index" in kinds:
            env["JINQIAO_BLIND_INDEX_KEY"] = base64.b64encode(self.blind_index).decode()
        if "jwt_signing" in kinds:
            env["JINQIAO_JWT_PRIVATE_KEY_FILE"] = str(self.jwt.private)
        return env


@runtime_checkable
class KeyService(Protocol):
    """What the runner and `jinqiao keys` need of a key store; a real KMS implements the same."""

    def location(self) -> str:
        """Where the keys are, for messages (never key material)."""
        ...

    def ensure(self) -> None:
        """Create whatever is missing (first start); keep everything that exists."""
        ...

    def pii_keyring(self) -> Keyring:
        """The PII keyring."""
        ...

    def add_pii_version(self) -> int:
        """Generate a new PII key version and make it the active one; older versions stay for decryption."""
        ...

    def retire_pii_version(self, version: int) -> None:
        """Destroy a version that is not active; the caller has checked that no row uses it."""
        ...

    def blind_index_key(self) -> bytes:
        """The HMAC key of the blind index."""
        ...

    def jwt_key_files(self) -> JwtKeyFiles:
        """The JWT signing pair's files."""
        ...


def read_material(keys: KeyService) -> KeyMaterial:
    """Read every key once (the runner does this at start)."""
    return KeyMaterial(pii=keys.pii_keyring(), blind_index=keys.blind_index_key(), jwt=keys.jwt_key_files())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_apart(*, key_dir: Path, data_dir: Path) -> None:
    """Keys and data never share a directory: a copy or backup of the data must carry no key."""
    keys, data = key_dir.expanduser().resolve(), data_dir.expanduser().resolve()
    if _inside(keys, data) or _inside(data, keys):
        raise KeyStoreError(f"密钥目录不得位于数据目录之内（或反之）/ the key directory {keys} must lie outside the "
                            f"data directory {data} (set JINQIAO_KEY_DIR)")


class LocalKeyDirectory:
    """Keys as files in one directory (0700, files 0600), written atomically, mutated under a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).expanduser().resolve()

    def location(self) -> str:
        """The directory."""
        return str(self.directory)

    # -------------------------------------------------------------------------------------------- files

    def _check_modes(self) -> None:
        """Refuse keys another user could have read (as ssh does): the keys must be presumed known."""
        if not self.directory.exists():
            return
        if stat.S_IMODE(self.directory.stat().st_mode) & 0o077:
            raise KeyStoreError(f"密钥目录权限过宽 / the key directory {self.directory} is open to other users: "
                                f"chmod 700 it (and consider its keys disclosed)")
        for entry in self.directory.iterdir():
            if entry.is_file() and stat.S_IMODE(entry.stat().st_mode) & 0o077:
                raise KeyStoreError(f"密钥文件权限过宽 / the key file {entry} is open to other users: chmod 600 it "
                                    f"(and consider it disclosed)")

    def _read(self, name: str) -> bytes | None:
        self._check_modes()
        path = self.directory / name
        return path.read_bytes() if path.exists() else None

    def _write(self, name: str, data: bytes) -> None:
        """Write a file 0600 atomically (temporary file, fsync, rename, fsync of the directory)."""
        target = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two `jinqiao keys` commands, or one beside `jinqiao up`)."""
        self._make_directory()
        fd = os.open(self.directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _make_directory(self) -> None:
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True)
            # mkdir's mode passes through the umask; the directory must end up exactly 0700.
            self.directory.chmod(0o700)
        self._check_modes()

    # -------------------------------------------------------------------------------------------- PII keyring

    def _load_keyring(self) -> Keyring | None:
        raw = self._read(PII_FILE)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            keys = {int(v): base64.b64decode(e["key"], validate=True) for v, e in doc["versions"].items()}
            created = {int(v): str(e.get("created_at", "")) for v, e in doc["versions"].items()}
            retired = {int(v): str(at) for v, at in doc.get("retired", {}).items()}
            active = int(doc["active"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise KeyStoreError(f"无法读取 PII 密钥环 / {self.directory / PII_FILE} is not a keyring") from None
        if active not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise KeyStoreError(f"PII 密钥环不一致 / {self.directory / PII_FILE} is inconsistent")
        return Keyring(keys=keys, active=active, created=created, retired=retired)

    def _store_keyring(self, ring: Keyring) -> None:
        doc = {
            "format": 1, "active": ring.active,
            "versions": {str(v): {"key": base64.b64encode(ring.keys[v]).decode(), "created_at": ring.created.get(v, "")}
                         for v in sorted(ring.keys)},
            "retired": {str(v): at for v, at in sorted(ring.retired.items())},
        }
        self._write(PII_FILE, json.dumps(doc, indent=2).encode())

    def pii_keyring(self) -> Keyring:
        """The PII keyring (KeyStoreError when missing: run `jinqiao up` once, or ``ensure``)."""
        ring = self._load_keyring()
        if ring is None:
            raise KeyStoreError(f"缺少 PII 密钥环 / no PII keyring in {self.directory}")
        return ring

    def add_pii_version(self) -> int:
        """A new random version, one above every version ever used (retired ones are never reused), made active."""
        with self._locked():
            ring = self.pii_keyring()
            version = max([*ring.keys, *ring.retired]) + 1
            if version > MAX_VERSION:
                raise KeyStoreError("密钥版本号已用尽 / no key version left")
            self._store_keyring(Keyring(keys={**ring.keys, version: generate_key()}, active=version,
                                        created={**ring.created, version: _now()}, retired=ring.retired))
            return version

    def retire_pii_version(self, version: int) -> None:
        """Destroy a version's key; the active one never."""
        with self._locked():
            ring = self.pii_keyring()
            if version == ring.active:
                raise KeyStoreError(f"不能停用当前密钥版本 {version} / version {version} is the active one")
            if version not in ring.keys:
                raise KeyStoreError(f"没有密钥版本 {version} / there is no key version {version}")
            self._store_keyring(Keyring(keys={v: k for v, k in ring.keys.items() if v != version}, active=ring.active,
                                        created={v: at for v, at in ring.created.items() if v != version},
                                        retired={**ring.retired, version: _now()}))

    # -------------------------------------------------------------------------------------------- the others

    def blind_index_key(self) -> bytes:
        """The blind-index key."""
        raw = self._read(BLIND_INDEX_FILE)
        if raw is None:
            raise KeyStoreError(f"缺少盲索引密钥 / no blind-index key in {self.directory}")
        try:
            return base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyStoreError(f"盲索引密钥无法读取 / {self.directory / BLIND_INDEX_FILE} is not base64") from None

    def jwt_key_files(self) -> JwtKeyFiles:
        """The JWT pair's paths (they exist once ``ensure`` ran)."""
        return JwtKeyFiles(private=self.directory / JWT_PRIVATE_FILE, public=self.directory / JWT_PUBLIC_FILE)

    def ensure(self) -> None:
        """Generate whatever key is missing; an existing key is never replaced."""
        from jinqiao.kit.auth import generate_signing_keypair

        with self._locked():
            if self._load_keyring() is None:
                self._store_keyring(Keyring(keys={1: generate_key()}, active=1, created={1: _now()}))
            if self._read(BLIND_INDEX_FILE) is None:
                self._write(BLIND_INDEX_FILE, base64.b64encode(generate_key()))
            if self._read(JWT_PRIVATE_FILE) is None:
                private, public = generate_signing_keypair()
                self._write(JWT_PUBLIC_FILE, public)
                self._write(JWT_PRIVATE_FILE, private)

    # -------------------------------------------------------------------------------------------- older installs

    def adopt_legacy(self, data_dir: Path) -> list[str]:
        """Move keys an older `jinqiao up` kept beside the data (``secrets.json``, ``keys/``) into this directory.

        The keys are copied first and checked against any already here; only then are the old copies removed, so
        an interrupted move repeats harmlessly and data encrypted under the old keys still decrypts.
        """
        secrets_path = data_dir / "secrets.json"
        secrets: dict[str, object] = json.loads(secrets_path.read_text()) if secrets_path.exists() else {}
        old_keys = data_dir / "keys"
        old_jwt = (old_keys / JWT_PRIVATE_FILE, old_keys / JWT_PUBLIC_FILE)
        moved: list[str] = []
        with self._locked():
            if "pii_keys" in secrets:
                legacy = Keyring(keys=decode_keyring(str(secrets["pii_keys"])),
                                 active=int(str(secrets.get("pii_active_key", 1))))
                ring = self._load_keyring()
                if ring is None:
                    self._store_keyring(Keyring(keys=legacy.keys, active=legacy.active,
                                                created={v: "adopted " + _now() for v in legacy.keys}))
                elif any(ring.keys.get(v, k) != k for v, k in legacy.keys.items()):
                    raise KeyStoreError(f"新旧 PII 密钥不同，请人工核对 / the PII keys in {secrets_path} differ "
                                        f"from those in {self.directory}; reconcile by hand")
                moved.append("pii_keys")
            if "blind_index_key" in secrets:
                key = base64.b64decode(str(secrets["blind_index_key"]), validate=True)
                existing = self._read(BLIND_INDEX_FILE)
                if existing is None:
                    self._write(BLIND_INDEX_FILE, base64.b64encode(key))
                elif base64.b64decode(existing.strip()) != key:
                    raise KeyStoreError(f"新旧盲索引密钥不同，请人工核对 / the blind-index keys in {secrets_path} "
                                        f"and {self.directory} differ; reconcile by hand")
                moved.append("blind_index_key")
            if old_jwt[0].exists():
                for old, name in zip(old_jwt, (JWT_PRIVATE_FILE, JWT_PUBLIC_FILE), strict=True):
                    existing = self._read(name)
                    if existing is None and old.exists():
                        self._write(name, old.read_bytes())
                    elif old.exists() and existing != old.read_bytes():
                        raise KeyStoreError(f"{old} 与 {self.directory / name} 不同 / {old} differs from "
                                            f"{self.directory / name}; reconcile by hand")
                moved.append("jwt")
            # Everything is safely here: only now do the old copies go.
            if "pii_keys" in moved or "blind_index_key" in moved:
                kept = {k: v for k, v in secrets.items()
                        if k not in ("pii_keys", "pii_active_key", "blind_index_key")}
                _rewrite_private(secrets_path, json.dumps(kept, indent=2).encode())
            for old in old_jwt:
                old.unlink(missing_ok=True)
            if old_keys.is_dir() and not any(old_keys.iterdir()):
                old_keys.rmdir()
        return moved


def _rewrite_private(path: Path, data: bytes) -> None:
    """Replace a 0600 file atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def legacy_keys_present(data_dir: Path) -> bool:
    """True when an older install left keys beside the data."""
    secrets = data_dir / "secrets.json"
    in_secrets = secrets.exists() and bool({"pii_keys", "blind_index_key"} & set(json.loads(secrets.read_text())))
    return in_secrets or (data_dir / "keys" / JWT_PRIVATE_FILE).exists()


def open_key_service(*, key_dir: Path, data_dir: Path, spec: str = LOCAL) -> KeyService:
    """The configured key service: the local directory, or ``module:factory`` (called with ``key_dir=``)."""
    if spec == LOCAL:
        check_apart(key_dir=key_dir, data_dir=data_dir)
        return LocalKeyDirectory(key_dir)
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise KeyStoreError(f"JINQIAO_KMS 应为 local 或 module:factory / JINQIAO_KMS must be 'local' or "
                            f"'module:factory', not {spec!r}")
    factory = getattr(importlib.import_module(module), name)
    service = factory(key_dir=key_dir)
    if not isinstance(service, KeyService):
        raise KeyStoreError(f"{spec} 返回的不是 KeyService / {spec} did not return a KeyService")
    return service


def prepare(*, key_dir: Path, data_dir: Path, spec: str = LOCAL) -> tuple[KeyService, list[str]]:
    """Open the key service, move an older install's keys into it, create what is missing; what was moved."""
    service = open_key_service(key_dir=key_dir, data_dir=data_dir, spec=spec)
    moved: list[str] = []
    if legacy_keys_present(data_dir):
        if not isinstance(service, LocalKeyDirectory):
            raise KeyStoreError(f"{data_dir} 中仍有旧密钥：请先导入 {service.location()} 再删除 / keys of an older "
                                f"install are still in {data_dir}: import them into {service.location()}, then delete")
        moved = service.adopt_legacy(data_dir)
    service.ensure()
    return service, moved
