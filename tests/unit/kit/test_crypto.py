"""Field encryption (AES-256-GCM, row-bound, versioned keys) and the blind index."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from jinqiao.kit import catalog
from jinqiao.kit.crypto import (
    BlindIndex,
    DecryptionError,
    EncryptedColumn,
    FieldCipher,
    KeyNotHeld,
    decode_keyring,
    encode_keyring,
    generate_key,
    key_version_of,
)
from jinqiao.kit.settings import KitSettings

BIND = {"tenant": "411525", "table": "members", "column": "id_number", "row": "7f1c"}
SECRET = "11010519491231002X"


@pytest.fixture(scope="module")
def key1() -> bytes:
    return generate_key()


@pytest.fixture(scope="module")
def key2() -> bytes:
    return generate_key()


@pytest.fixture
def cipher(key1: bytes) -> FieldCipher:
    return FieldCipher(keys={1: key1}, active=1)


def test_round_trip_returns_the_plaintext(cipher):
    blob = cipher.encrypt(SECRET, **BIND)
    assert cipher.decrypt(blob, **BIND) == SECRET
    assert SECRET.encode() not in blob


def test_round_trip_keeps_non_ascii_text(cipher):
    assert cipher.decrypt(cipher.encrypt("张建国 城关镇", **BIND), **BIND) == "张建国 城关镇"


def test_blob_layout_is_format_version_nonce_then_ciphertext_and_tag(key1):
    blob = FieldCipher(keys={258: key1}, active=258).encrypt(SECRET, **BIND)
    assert blob[0] == 1
    assert blob[1:3] == (258).to_bytes(2, "big")
    assert len(blob) == 1 + 2 + 12 + len(SECRET.encode()) + 16


def test_same_value_encrypts_differently_each_time(cipher):
    assert cipher.encrypt(SECRET, **BIND) != cipher.encrypt(SECRET, **BIND)


@pytest.mark.parametrize(
    "other",
    [{"tenant": "411503"}, {"table": "accounts"}, {"column": "phone"}, {"row": "7f1d"}],
)
def test_decrypting_under_another_binding_fails(cipher, other):
    blob = cipher.encrypt(SECRET, **BIND)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, **{**BIND, **other})


def test_binding_parts_cannot_be_shifted_across_the_boundary(cipher):
    blob = cipher.encrypt(SECRET, tenant="411525", table="members", column="ab", row="c")
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, tenant="411525", table="members", column="a", row="bc")


@pytest.mark.parametrize("position", [0, 2, 5, 20, -1])
def test_any_flipped_byte_fails(cipher, position):
    blob = bytearray(cipher.encrypt(SECRET, **BIND))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(blob), **BIND)


@pytest.mark.parametrize("blob", [b"", b"\x01\x00\x01", b"\x01" + b"\x00" * 20])
def test_truncated_blob_fails(cipher, blob):
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, **BIND)


def test_wrong_key_fails(cipher):
    blob = cipher.encrypt(SECRET, **BIND)
    with pytest.raises(DecryptionError):
        FieldCipher(keys={1: generate_key()}, active=1).decrypt(blob, **BIND)


def test_rotation_keeps_old_blobs_readable_and_flags_them(key1, key2):
    old = FieldCipher(keys={1: key1}, active=1).encrypt(SECRET, **BIND)
    rotated = FieldCipher(keys={1: key1, 2: key2}, active=2)
    assert rotated.decrypt(old, **BIND) == SECRET
    assert rotated.needs_rotation(old)
    fresh = rotated.encrypt(SECRET, **BIND)
    assert fresh[1:3] == b"\x00\x02"
    assert not rotated.needs_rotation(fresh)
    assert rotated.decrypt(fresh, **BIND) == SECRET


def test_blob_under_a_retired_key_fails(key1, key2):
    old = FieldCipher(keys={1: key1}, active=1).encrypt(SECRET, **BIND)
    with pytest.raises(DecryptionError):
        FieldCipher(keys={2: key2}, active=2).decrypt(old, **BIND)


@pytest.mark.parametrize(
    ("keys", "active"),
    [({}, 1), ({1: b"short"}, 1), ({1: b"\x00" * 33}, 1), ({1: b"\x00" * 32}, 2),
     ({70000: b"\x00" * 32}, 70000)],
)
def test_bad_keyrings_are_refused(keys, active):
    with pytest.raises(ValueError):
        FieldCipher(keys=keys, active=active)


def test_empty_binding_is_refused(cipher):
    with pytest.raises(ValueError):
        cipher.encrypt(SECRET, **{**BIND, "row": ""})


def test_keyring_text_round_trips_and_builds_from_settings(key1, key2):
    text = encode_keyring({2: key2, 1: key1})
    assert text == f"1:{base64.b64encode(key1).decode()},2:{base64.b64encode(key2).decode()}"
    assert decode_keyring(text) == {1: key1, 2: key2}
    settings = KitSettings(service_name="registry", pii_keys=SecretStr(text), pii_active_key=2)
    cipher = FieldCipher.from_settings(settings)
    assert cipher.active_version == 2
    old = FieldCipher(keys={1: key1}, active=1).encrypt(SECRET, **BIND)
    assert cipher.decrypt(old, **BIND) == SECRET


@pytest.mark.parametrize("text", ["", "1", "x:AAAA", "1:not-base64!", "1:AAAA,1:AAAA"])
def test_malformed_keyring_text_is_refused_without_quoting_it(text):
    with pytest.raises(ValueError) as caught:
        FieldCipher.from_settings(KitSettings(service_name="organizations", pii_keys=SecretStr(text)))
    assert "not-base64" not in str(caught.value)


def test_blind_index_is_deterministic_and_normalised(key1):
    index = BlindIndex(key1)
    digest = index.digest("11010519491231002X", purpose="id_number")
    assert len(digest) == 32
    assert digest == index.digest("11010519491231002X", purpose="id_number")
    assert digest == index.digest(" 11010519491231002x ", purpose="id_number")
    assert index.digest("x", purpose="p") == index.digest("X", purpose="p")


def test_blind_index_differs_by_purpose_value_and_key(key1, key2):
    index = BlindIndex(key1)
    digest = index.digest("13812345678", purpose="phone")
    assert digest != index.digest("13812345678", purpose="id_number")
    assert digest != index.digest("13812345679", purpose="phone")
    assert digest != BlindIndex(key2).digest("13812345678", purpose="phone")


def test_blind_index_from_settings_matches_the_key(key1):
    settings = KitSettings(service_name="registry", blind_index_key=SecretStr(base64.b64encode(key1).decode()))
    from_settings = BlindIndex.from_settings(settings)
    assert from_settings.digest("a", purpose="p") == BlindIndex(key1).digest("a", purpose="p")


@pytest.mark.parametrize("key", [b"", b"\x00" * 31])
def test_short_blind_index_key_is_refused(key):
    with pytest.raises(ValueError):
        BlindIndex(key)


def test_blind_index_purpose_must_be_unambiguous(key1):
    with pytest.raises(ValueError):
        BlindIndex(key1).digest("a", purpose="id\x00number")


@pytest.mark.parametrize("service", [e.name for e in catalog.load() if "pii" not in e.keys] + ["jinqiao"])
def test_a_service_not_declaring_pii_keys_fails_to_build_a_cipher_even_when_given_keys(service, key1):
    settings = KitSettings(service_name=service, pii_keys=SecretStr(encode_keyring({1: key1})),
                           blind_index_key=SecretStr(base64.b64encode(key1).decode()))
    with pytest.raises(KeyNotHeld, match="pii"):
        FieldCipher.from_settings(settings)
    with pytest.raises(KeyNotHeld):
        BlindIndex.from_settings(settings)


def test_organizations_holds_the_keyring_but_not_the_blind_index(key1):
    settings = KitSettings(service_name="organizations", pii_keys=SecretStr(encode_keyring({1: key1})),
                           blind_index_key=SecretStr(base64.b64encode(key1).decode()))
    assert FieldCipher.from_settings(settings).active_version == 1
    with pytest.raises(KeyNotHeld, match="blind_index"):
        BlindIndex.from_settings(settings)


def test_a_blob_names_its_key_version(key1, key2):
    blob = FieldCipher(keys={1: key1, 7: key2}, active=7).encrypt(SECRET, **BIND)
    assert key_version_of(blob) == 7
    with pytest.raises(DecryptionError):
        key_version_of(b"\x01\x00")


def test_an_encrypted_column_binds_its_row_from_the_key_columns():
    mentors = EncryptedColumn(table="applicant_mentors", column="phone_enc", bound_as="phone",
                              key=("applicant_id", "seq"), row="{applicant_id}/{seq}")
    assert mentors.row_of({"applicant_id": "a-1", "seq": 2, "name": "x"}) == "a-1/2"
    assert EncryptedColumn(table="members", column="phone_enc", bound_as="phone").row_of({"id": "m"}) == "m"


@pytest.mark.parametrize("bad", [
    {"table": "members; drop", "column": "phone_enc", "bound_as": "phone"},
    {"table": "members", "column": "phone_enc", "bound_as": "phone", "row": "{other}"},
    {"table": "members", "column": "phone_enc", "bound_as": "phone", "row": "fixed"},
    {"table": "members", "column": "phone_enc", "bound_as": ""},
])
def test_an_encrypted_column_refuses_anything_but_plain_names(bad):
    with pytest.raises(ValueError):
        EncryptedColumn(**bad)
