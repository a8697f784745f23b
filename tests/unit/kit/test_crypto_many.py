"""FieldCipher.encrypt_many: a bulk import's seals are ``encrypt``'s blobs, each bound to its own row."""

from __future__ import annotations

import pytest

from jinqiao.kit.crypto import DecryptionError, FieldCipher, generate_key, key_version_of

BIND = {"tenant": "411525", "table": "members", "column": "id_number"}


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(keys={1: generate_key(), 2: generate_key()}, active=2)


def test_each_blob_opens_with_decrypt_for_its_own_row_only(cipher: FieldCipher) -> None:
    values = ["11010519491231002X", "13812345678", "一九六〇"]
    rows = ["row-a", "row-b", "row-c"]
    blobs = cipher.encrypt_many(values, rows=rows, **BIND)
    assert [cipher.decrypt(b, row=r, **BIND) for b, r in zip(blobs, rows, strict=True)] == values
    assert all(key_version_of(b) == 2 for b in blobs)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blobs[0], row="row-b", **BIND)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blobs[0], row="row-a", **{**BIND, "tenant": "411526"})


def test_the_blobs_have_the_layout_of_encrypt_and_distinct_nonces(cipher: FieldCipher) -> None:
    single = cipher.encrypt("13812345678", row="r", **BIND)
    many = cipher.encrypt_many(["13812345678"] * 500, rows=[f"r{i}" for i in range(500)], **BIND)
    assert {len(b) for b in many} == {len(single)}
    assert all(b[:3] == single[:3] for b in many)
    assert len({b[3:15] for b in many}) == 500


def test_bindings_are_checked_as_encrypt_checks_them(cipher: FieldCipher) -> None:
    with pytest.raises(ValueError, match="one row binding"):
        cipher.encrypt_many(["a", "b"], rows=["r"], **BIND)
    with pytest.raises(ValueError, match="row binding"):
        cipher.encrypt_many(["a"], rows=[""], **BIND)
    with pytest.raises(ValueError, match="tenant binding"):
        cipher.encrypt_many(["a"], rows=["r"], tenant="", table="members", column="phone")
    assert cipher.encrypt_many([], rows=[], **BIND) == []
