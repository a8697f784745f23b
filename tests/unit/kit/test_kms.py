"""The key service: the local key directory (apart from the data, 0700/0600, versions, older installs), a fake KMS."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from jinqiao.kit import kms
from jinqiao.kit.auth import generate_signing_keypair
from jinqiao.kit.crypto import FieldCipher, encode_keyring, generate_key

BIND = {"tenant": "411525", "table": "members", "column": "phone", "row": "m-1"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> kms.LocalKeyDirectory:
    keys = kms.LocalKeyDirectory(tmp_path / "keys")
    keys.ensure()
    return keys


class FakeKms:
    """A stand-in for a real KMS, as ``JINQIAO_KMS=module:factory`` would build one."""

    def __init__(self, *, key_dir: Path) -> None:
        self.key_dir = key_dir
        self.ring = kms.Keyring(keys={1: generate_key()}, active=1)
        self.index = generate_key()
        self.ensured = 0

    def location(self) -> str:
        return "fake-kms://test"

    def ensure(self) -> None:
        self.ensured += 1

    def pii_keyring(self) -> kms.Keyring:
        return self.ring

    def add_pii_version(self) -> int:
        version = max(self.ring.keys) + 1
        self.ring = kms.Keyring(keys={**self.ring.keys, version: generate_key()}, active=version)
        return version

    def retire_pii_version(self, version: int) -> None:
        self.ring = kms.Keyring(keys={v: k for v, k in self.ring.keys.items() if v != version}, active=self.ring.active)

    def blind_index_key(self) -> bytes:
        return self.index

    def jwt_key_files(self) -> kms.JwtKeyFiles:
        return kms.JwtKeyFiles(private=self.key_dir / "sign.pem", public=self.key_dir / "verify.pem")


def test_a_new_key_directory_is_0700_and_every_key_file_0600(store: kms.LocalKeyDirectory):
    assert mode(store.directory) == 0o700
    files = [p for p in store.directory.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {kms.PII_FILE, kms.BLIND_INDEX_FILE, kms.JWT_PRIVATE_FILE, kms.JWT_PUBLIC_FILE}
    assert all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}


def test_ensure_again_keeps_every_existing_key(store: kms.LocalKeyDirectory):
    before = (store.pii_keyring(), store.blind_index_key(), store.jwt_key_files().private.read_bytes())
    store.ensure()
    assert (store.pii_keyring(), store.blind_index_key(), store.jwt_key_files().private.read_bytes()) == before


def test_a_new_version_becomes_active_and_the_old_one_still_decrypts(store: kms.LocalKeyDirectory):
    first = store.pii_keyring()
    blob = FieldCipher(keys=first.keys, active=first.active).encrypt("13812345678", **BIND)
    assert store.add_pii_version() == 2
    ring = store.pii_keyring()
    assert ring.active == 2 and set(ring.keys) == {1, 2} and ring.keys[1] == first.keys[1]
    assert FieldCipher(keys=ring.keys, active=ring.active).decrypt(blob, **BIND) == "13812345678"


def test_a_retired_version_is_destroyed_and_its_number_never_reused(store: kms.LocalKeyDirectory):
    store.add_pii_version()
    store.retire_pii_version(1)
    ring = store.pii_keyring()
    assert set(ring.keys) == {2} and 1 in ring.retired
    assert store.add_pii_version() == 3
    with pytest.raises(kms.KeyStoreError):
        store.retire_pii_version(3)  # the active one
    with pytest.raises(kms.KeyStoreError):
        store.retire_pii_version(1)  # already gone


@pytest.mark.parametrize("loose", ["directory", "file"])
def test_keys_another_user_could_read_are_refused(store: kms.LocalKeyDirectory, loose: str):
    target = store.directory if loose == "directory" else store.directory / kms.PII_FILE
    target.chmod(0o755 if loose == "directory" else 0o644)
    with pytest.raises(kms.KeyStoreError, match="chmod"):
        store.pii_keyring()


@pytest.mark.parametrize("key_dir", ["data/keys", "data", "."])
def test_a_key_directory_inside_the_data_directory_or_around_it_is_refused(tmp_path: Path, key_dir: str):
    with pytest.raises(kms.KeyStoreError, match="JINQIAO_KEY_DIR"):
        kms.open_key_service(key_dir=tmp_path / key_dir, data_dir=tmp_path / "data")


def test_a_sibling_key_directory_is_accepted(tmp_path: Path):
    service = kms.open_key_service(key_dir=tmp_path / "data-keys", data_dir=tmp_path / "data")
    assert isinstance(service, kms.LocalKeyDirectory)


def legacy_install(data: Path) -> dict[str, object]:
    """What an older `jinqiao up` left: keys in secrets.json and keys/ beside the data."""
    data.mkdir()
    keyring = {1: generate_key()}
    private, public = generate_signing_keypair()
    (data / "keys").mkdir(mode=0o700)
    (data / "keys" / "jwt_private.pem").write_bytes(private)
    (data / "keys" / "jwt_public.pem").write_bytes(public)
    stored = {"postgres_password": "pw", "pii_keys": encode_keyring(keyring), "pii_active_key": 1,
              "blind_index_key": base64.b64encode(generate_key()).decode(), "app_passwords": {"registry": "r"}}
    (data / "secrets.json").write_text(json.dumps(stored))
    return {"keyring": keyring, "private": private, "stored": stored}


def test_an_older_installs_keys_move_out_of_the_data_directory_and_still_decrypt(tmp_path: Path):
    data = tmp_path / "data"
    old = legacy_install(data)
    blob = FieldCipher(keys=old["keyring"], active=1).encrypt("13812345678", **BIND)
    service, moved = kms.prepare(key_dir=tmp_path / "keys", data_dir=data)
    assert set(moved) == {"pii_keys", "blind_index_key", "jwt"}
    ring = service.pii_keyring()
    assert FieldCipher(keys=ring.keys, active=ring.active).decrypt(blob, **BIND) == "13812345678"
    assert base64.b64encode(service.blind_index_key()).decode() == old["stored"]["blind_index_key"]
    assert service.jwt_key_files().private.read_bytes() == old["private"]
    left = json.loads((data / "secrets.json").read_text())
    assert "pii_keys" not in left and "blind_index_key" not in left and left["postgres_password"] == "pw"
    assert not (data / "keys").exists() and not kms.legacy_keys_present(data)
    # A second start finds nothing to move and changes nothing.
    assert kms.prepare(key_dir=tmp_path / "keys", data_dir=data)[1] == []
    assert service.pii_keyring() == ring


def test_old_keys_that_disagree_with_the_key_directory_are_left_in_place_and_refused(tmp_path: Path):
    data = tmp_path / "data"
    legacy_install(data)
    kms.LocalKeyDirectory(tmp_path / "keys").ensure()  # a different keyring already there
    with pytest.raises(kms.KeyStoreError, match="reconcile"):
        kms.prepare(key_dir=tmp_path / "keys", data_dir=data)
    assert "pii_keys" in json.loads((data / "secrets.json").read_text())  # nothing lost
    assert (data / "keys" / "jwt_private.pem").exists()


def test_a_real_kms_replaces_the_directory_by_setting(tmp_path: Path):
    service, moved = kms.prepare(key_dir=tmp_path / "ignored", data_dir=tmp_path / "data",
                                 spec=f"{__name__}:FakeKms")
    assert isinstance(service, FakeKms) and service.ensured == 1 and moved == []
    material = kms.read_material(service)
    assert material.pii.active == 1 and material.blind_index == service.index
    assert service.add_pii_version() == 2 and service.pii_keyring().active == 2


def test_a_real_kms_does_not_silently_take_an_older_installs_keys(tmp_path: Path):
    legacy_install(tmp_path / "data")
    with pytest.raises(kms.KeyStoreError, match="import"):
        kms.prepare(key_dir=tmp_path / "k", data_dir=tmp_path / "data", spec=f"{__name__}:FakeKms")


@pytest.mark.parametrize("spec", ["nonsense", "module:", f"{__name__}:legacy_install_not_there"])
def test_a_kms_setting_that_names_nothing_usable_is_refused(tmp_path: Path, spec: str):
    with pytest.raises((kms.KeyStoreError, AttributeError)):
        kms.open_key_service(key_dir=tmp_path / "k", data_dir=tmp_path / "d", spec=spec)


def test_material_gives_each_kind_only_when_asked(tmp_path: Path):
    material = kms.read_material(FakeKms(key_dir=tmp_path))
    nothing = material.environment(())
    assert set(nothing) == {"JINQIAO_JWT_PUBLIC_KEY_FILE"}
    pii = material.environment(("pii",))
    assert set(pii) == {"JINQIAO_JWT_PUBLIC_KEY_FILE", "JINQIAO_PII_KEYS", "JINQIAO_PII_ACTIVE_KEY"}
    assert set(material.environment(("blind_index",))) == {"JINQIAO_JWT_PUBLIC_KEY_FILE", "JINQIAO_BLIND_INDEX_KEY"}
    assert material.environment(("jwt_signing",))["JINQIAO_JWT_PRIVATE_KEY_FILE"].endswith("sign.pem")
