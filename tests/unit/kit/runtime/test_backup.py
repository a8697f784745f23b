"""The backup archive's pure parts: the age identity, key fingerprints, the manifest's checksums, the default name."""

from __future__ import annotations

import json
import stat
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pyrage
import pytest

from jinqiao.kit.runtime import backup
from jinqiao.kit.runtime.config import EmbeddedConfig


def _config(tmp_path: Path) -> EmbeddedConfig:
    return EmbeddedConfig(data_dir=tmp_path / "data", pg_port=0, nats_port=0, nats_monitor_port=0, services=[],
                          seed_module="", key_dir=tmp_path / "keys")


def _tar(tmp_path: Path, members: dict[str, bytes], manifest: dict[str, object]) -> Path:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), **members}.items():
            (tmp_path / "m").write_bytes(data)
            tar.add(tmp_path / "m", arcname=name)
    return path


def _manifest(members: dict[str, bytes]) -> dict[str, object]:
    import hashlib

    return {"format": backup.FORMAT,
            "members": {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}}


def test_identity_is_created_once_private_and_opens_what_its_recipient_sealed(tmp_path: Path) -> None:
    """backup.key (0600) and backup.pub come together on first use and stay the same afterwards."""
    keys = tmp_path / "keys"
    recipient = backup.ensure_identity(keys)
    first = (keys / backup.IDENTITY_FILE).read_text()
    assert str(backup.ensure_identity(keys)) == str(recipient)
    assert (keys / backup.IDENTITY_FILE).read_text() == first
    assert stat.S_IMODE((keys / backup.IDENTITY_FILE).stat().st_mode) == 0o600
    identity = backup.read_identity(keys / backup.IDENTITY_FILE)
    assert pyrage.decrypt(pyrage.encrypt(b"secret", [recipient]), [identity]) == b"secret"


def test_a_missing_identity_is_refused_with_its_path(tmp_path: Path) -> None:
    """No identity: the restore says which file it looked for."""
    with pytest.raises(backup.BackupError, match="backup.key"):
        backup.read_identity(tmp_path / "backup.key")


def test_fingerprints_name_a_key_without_being_its_plain_hash(tmp_path: Path) -> None:
    """Same key, same fingerprint; another key, another; not the bare SHA-256 of the key."""
    import hashlib

    key = b"k" * 32
    assert backup.fingerprint(key) == backup.fingerprint(key) != backup.fingerprint(b"j" * 32)
    assert backup.fingerprint(key) != hashlib.sha256(key).hexdigest()


def test_key_mismatches_name_each_missing_or_different_version() -> None:
    """Every differing kind and version is named; equal metadata yields nothing."""
    recorded = {"pii": {"active": 2, "versions": {"1": "a", "2": "b"}}, "blind_index": "c", "jwt_public": "d"}
    assert backup.key_mismatches(recorded, recorded) == []
    current = {"pii": {"active": 3, "versions": {"2": "x", "3": "y"}}, "blind_index": "c", "jwt_public": "e"}
    problems = "\n".join(backup.key_mismatches(recorded, current))
    assert "version 1 is missing" in problems and "version 2 has another fingerprint" in problems
    assert "JWT" in problems and "blind-index" not in problems


def test_a_rotated_key_directory_still_matches_an_older_archive() -> None:
    """Versions added after the backup do not refuse it: every version the archive used is still there."""
    recorded = {"pii": {"active": 1, "versions": {"1": "a"}}, "blind_index": "c", "jwt_public": "d"}
    current = {"pii": {"active": 2, "versions": {"1": "a", "2": "b"}}, "blind_index": "c", "jwt_public": "d"}
    assert backup.key_mismatches(recorded, current) == []


def test_verify_archive_accepts_members_matching_the_manifest(tmp_path: Path) -> None:
    """Every member's sha256 and size as recorded: the manifest is returned."""
    members = {"secrets.json": b"{}", "nats/S.jsonl": b"line\n"}
    assert backup.verify_archive(_tar(tmp_path, members, _manifest(members)))["format"] == backup.FORMAT


def test_verify_archive_refuses_a_member_whose_checksum_differs(tmp_path: Path) -> None:
    """A changed member is named as damaged or tampered with."""
    members = {"secrets.json": b"{}"}
    with pytest.raises(backup.BackupError, match="secrets.json"):
        backup.verify_archive(_tar(tmp_path, {"secrets.json": b"{ }"}, _manifest(members)))


def test_verify_archive_refuses_missing_extra_and_unknown_format(tmp_path: Path) -> None:
    """A member the manifest names but the tar lacks, one it does not name, or another format: refused."""
    members = {"a": b"1", "b": b"2"}
    with pytest.raises(backup.BackupError, match="lacks b"):
        backup.verify_archive(_tar(tmp_path, {"a": b"1"}, _manifest(members)))
    with pytest.raises(backup.BackupError, match="extra"):
        backup.verify_archive(_tar(tmp_path, {**members, "extra": b"3"}, _manifest(members)))
    with pytest.raises(backup.BackupError, match="format"):
        backup.verify_archive(_tar(tmp_path, members, {**_manifest(members), "format": 99}))


def test_default_archive_is_named_by_its_utc_time_under_the_data_directory(tmp_path: Path) -> None:
    """``<data_dir>/backups/jinqiao-<yyyymmddThhmmssZ>.jqbak``."""
    path = backup.default_archive(_config(tmp_path), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert path == tmp_path / "data" / "backups" / "jinqiao-20260304T050607Z.jqbak"
