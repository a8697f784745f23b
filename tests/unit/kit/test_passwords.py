"""Password hashing: argon2id, salted, mismatch is False rather than an exception."""

from __future__ import annotations

from argon2 import PasswordHasher

from jinqiao.kit import passwords


def test_hash_is_argon2id_and_verifies():
    hashed = passwords.hash_password("正确的密码-2026")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "正确的密码-2026")


def test_wrong_password_is_rejected_without_raising():
    hashed = passwords.hash_password("secret-one")
    assert passwords.verify_password(hashed, "secret-two") is False
    assert passwords.verify_password(hashed, "") is False


def test_same_password_hashes_differently():
    assert passwords.hash_password("same") != passwords.hash_password("same")


def test_unreadable_hash_is_rejected_without_raising():
    assert passwords.verify_password("not-a-hash", "anything") is False
    assert passwords.verify_password("", "anything") is False


def test_current_hash_needs_no_rehash_but_weaker_or_garbage_does():
    assert not passwords.needs_rehash(passwords.hash_password("pw"))
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert passwords.verify_password(weak, "pw")
    assert passwords.needs_rehash(weak)
    assert passwords.needs_rehash("not-a-hash")


def test_a_password_with_a_lone_surrogate_matches_nothing_and_does_not_raise():
    assert passwords.verify_password(passwords.hash_password("jinqiao"), "jinqiao\ud800") is False
