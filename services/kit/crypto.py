"""Field encryption (AES-256-GCM, versioned keys, row-bound) and an HMAC blind index for exact look-up.

Blob layout: ``b"\\x01"`` (format) | key version (2 bytes, big-endian) | nonce (12 bytes) | ciphertext+tag.

Associated data: the 3 header bytes, then tenant, table, column and row, each as a 4-byte big-endian
length followed by its UTF-8 bytes. Length prefixes make the encoding unambiguous for any strings, so
("ab", "c") and ("a", "bc") never bind alike, and a ciphertext copied to another tenant, table,
column or row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jinqiao.kit import catalog

if TYPE_CHECKING:
    from jinqiao.kit.settings import KitSettings

FORMAT = 1
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = 3
_MAX_VERSION = 0xFFFF


class DecryptionError(Exception):
    """A blob that is malformed, tampered with, bound to another cell, or under an unknown key."""


class KeyNotHeld(RuntimeError):
    """A service asked for a key its catalogue entry does not name (``keys`` in services/catalog.toml)."""


def _ensure_held(settings: KitSettings, kind: str) -> None:
    """Fail at start when the service's catalogue entry does not name the key: each service holds only its own."""
    name = settings.service_name
    try:
        entry = catalog.get(name)
    except KeyError:
        raise KeyNotHeld(f"{name!r} 不是目录中的服务，不得持有密钥 / {name!r} is not a catalogued service, so it holds "
                         f"no {kind} key (set JINQIAO_SERVICE_NAME)") from None
    if kind not in entry.keys:
        raise KeyNotHeld(f"服务 {name} 未在 services/catalog.toml 声明 keys 含 \"{kind}\"，不得持有该密钥 / service "
                         f"{name} does not declare \"{kind}\" in its catalogue keys, so it may not hold that key")


_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_ROW_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """A column of FieldCipher blobs, declared once in its concept's models.py for the key rotation.

    ``table`` and ``bound_as`` are the table and column names the blobs' associated data names; ``key`` the primary
    key columns after ``tenant_id``; ``row`` the row binding, formatted from the key columns.
    """

    table: str
    column: str
    bound_as: str
    key: tuple[str, ...] = ("id",)
    row: str = "{id}"
    # Binary content sealed with ``encrypt_bytes`` (e.g. an attachment's file), not text.
    binary: bool = False

    def __post_init__(self) -> None:
        # The names are spliced into SQL by the rotation: only plain identifiers are accepted.
        for name in (self.table, self.column, *self.key):
            if not _IDENT.fullmatch(name):
                raise ValueError(f"not a plain SQL identifier: {name!r}")
        if not self.bound_as or not self.key:
            raise ValueError("an encrypted column needs its bound name and key columns")
        if not set(_ROW_FIELD.findall(self.row)) <= set(self.key) or not _ROW_FIELD.search(self.row):
            raise ValueError(f"row binding {self.row!r} must be formed from the key columns {self.key}")

    def row_of(self, values: Mapping[str, object]) -> str:
        """The row binding of a record holding the key columns."""
        return self.row.format(**{name: str(values[name]) for name in self.key})


def key_version_of(blob: bytes) -> int:
    """The key version a blob was written under (DecryptionError when it is not a blob of this format)."""
    return FieldCipher._version_of(bytes(blob))


def generate_key() -> bytes:
    """32 random bytes: an AES-256 key or a blind-index key."""
    return os.urandom(KEY_BYTES)


def encode_keyring(keys: Mapping[int, bytes]) -> str:
    """The ``"1:base64,2:base64"`` form that ``JINQIAO_PII_KEYS`` carries."""
    return ",".join(f"{version}:{base64.b64encode(keys[version]).decode()}" for version in sorted(keys))


def decode_keyring(text: str) -> dict[int, bytes]:
    """Parse ``"1:base64,2:base64"``; errors never quote key material."""
    keys: dict[int, bytes] = {}
    for position, entry in enumerate(part.strip() for part in text.split(",")):
        version_text, sep, encoded = entry.partition(":")
        version_text = version_text.strip()
        if not sep or not (version_text.isascii() and version_text.isdigit()):
            raise ValueError(f"keyring entry {position} is not 'version:base64key'")
        version = int(version_text)
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"keyring entry {position} (version {version}) is not valid base64") from None
        if version in keys:
            raise ValueError(f"keyring names version {version} twice")
        keys[version] = key
    return keys


def _bound(name: str, value: str) -> bytes:
    """One length-prefixed binding of the associated data."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} binding must be a non-empty string")
    encoded = value.encode()
    return len(encoded).to_bytes(4, "big") + encoded


def _associated_data(header: bytes, tenant: str, table: str, column: str, row: str) -> bytes:
    return b"".join((header, _bound("tenant", tenant), _bound("table", table), _bound("column", column),
                     _bound("row", row)))


class FieldCipher:
    """Encrypts one column value of one row; decrypts with whichever key version the blob names."""

    def __init__(self, *, keys: Mapping[int, bytes], active: int) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        for version, key in keys.items():
            if not isinstance(version, int) or not 0 <= version <= _MAX_VERSION:
                raise ValueError(f"key version must be an integer in 0..{_MAX_VERSION}")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ValueError(f"key version {version} must be exactly {KEY_BYTES} bytes")
        if active not in keys:
            raise ValueError(f"active key version {active} is not in the keyring")
        self._aeads = {version: AESGCM(key) for version, key in keys.items()}
        self._active = active

    @classmethod
    def from_settings(cls, settings: KitSettings) -> FieldCipher:
        """Build from ``JINQIAO_PII_KEYS`` and ``JINQIAO_PII_ACTIVE_KEY``; only in a service declaring "pii"."""
        _ensure_held(settings, "pii")
        text = settings.pii_keys.get_secret_value().strip()
        if not text:
            raise ValueError("JINQIAO_PII_KEYS is not set")
        return cls(keys=decode_keyring(text), active=settings.pii_active_key)

    @property
    def active_version(self) -> int:
        """The key version new blobs are written under."""
        return self._active

    def encrypt(self, plaintext: str, *, tenant: str, table: str, column: str, row: str) -> bytes:
        """Encrypt under the active key with a fresh random nonce, bound to the cell it is stored in."""
        return self.encrypt_bytes(plaintext.encode(), tenant=tenant, table=table, column=column, row=row)

    def encrypt_many(self, plaintexts: Sequence[str], *, tenant: str, table: str, column: str,
                     rows: Sequence[str]) -> list[bytes]:
        """``encrypt`` of many values of one column, each bound to its own row (a bulk import's cost per value).

        The blobs are exactly ``encrypt``'s: a fresh random nonce each (one read of the OS's random source sliced
        into distinct nonces), the same associated data, built once but for the row.
        """
        if len(plaintexts) != len(rows):
            raise ValueError("one row binding is needed per value")
        header = bytes([FORMAT]) + self._active.to_bytes(2, "big")
        prefix = b"".join((header, _bound("tenant", tenant), _bound("table", table), _bound("column", column)))
        seal = self._aeads[self._active].encrypt
        nonces = os.urandom(_NONCE_BYTES * len(rows))
        out: list[bytes] = []
        for i, (plaintext, row) in enumerate(zip(plaintexts, rows, strict=True)):
            nonce = nonces[i * _NONCE_BYTES:(i + 1) * _NONCE_BYTES]
            out.append(header + nonce + seal(nonce, plaintext.encode(), prefix + _bound("row", row)))
        return out

    def decrypt(self, blob: bytes, *, tenant: str, table: str, column: str, row: str) -> str:
        """Decrypt a blob written for exactly this tenant, table, column and row."""
        try:
            return self.decrypt_bytes(blob, tenant=tenant, table=table, column=column, row=row).decode()
        except UnicodeDecodeError:
            raise DecryptionError("ciphertext failed authentication") from None

    def encrypt_bytes(self, plaintext: bytes, *, tenant: str, table: str, column: str, row: str) -> bytes:
        """``encrypt`` for binary content (e.g. an attachment's file): same blob layout and cell binding."""
        header = bytes([FORMAT]) + self._active.to_bytes(2, "big")
        nonce = os.urandom(_NONCE_BYTES)
        aad = _associated_data(header, tenant, table, column, row)
        return header + nonce + self._aeads[self._active].encrypt(nonce, bytes(plaintext), aad)

    def decrypt_bytes(self, blob: bytes, *, tenant: str, table: str, column: str, row: str) -> bytes:
        """``decrypt`` for binary content written by ``encrypt_bytes`` for exactly this cell."""
        data = bytes(blob)
        version = self._version_of(data)
        aead = self._aeads.get(version)
        if aead is None:
            raise DecryptionError(f"no key for version {version}")
        body_start = _HEADER_BYTES + _NONCE_BYTES
        header, nonce, body = data[:_HEADER_BYTES], data[_HEADER_BYTES:body_start], data[body_start:]
        aad = _associated_data(header, tenant, table, column, row)
        try:
            return aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None

    def needs_rotation(self, blob: bytes) -> bool:
        """True when the blob was written under a key version other than the active one."""
        return self._version_of(bytes(blob)) != self._active

    @staticmethod
    def _version_of(data: bytes) -> int:
        if len(data) < _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("blob too short")
        if data[0] != FORMAT:
            raise DecryptionError(f"unknown blob format {data[0]}")
        return int.from_bytes(data[1:_HEADER_BYTES], "big")


class BlindIndex:
    """Keyed HMAC-SHA256 of a normalised value per purpose; not tenant-bound, so look-ups span counties."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < KEY_BYTES:
            raise ValueError(f"blind index key must be at least {KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: KitSettings) -> BlindIndex:
        """Build from ``JINQIAO_BLIND_INDEX_KEY`` (base64); only in a service declaring "blind_index"."""
        _ensure_held(settings, "blind_index")
        text = settings.blind_index_key.get_secret_value().strip()
        if not text:
            raise ValueError("JINQIAO_BLIND_INDEX_KEY is not set")
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("JINQIAO_BLIND_INDEX_KEY is not valid base64") from None
        return cls(key)

    def digest(self, value: str, *, purpose: str) -> bytes:
        """HMAC-SHA256 over ``purpose``, a NUL separator and the stripped, upper-cased value."""
        # NUL cannot occur in a purpose, so the purpose/value boundary is unambiguous.
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be a non-empty string without NUL")
        message = purpose.encode() + b"\x00" + value.strip().upper().encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()
