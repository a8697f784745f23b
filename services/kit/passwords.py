"""Password hashing with argon2id (argon2-cffi defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id PHC string with a fresh salt."""
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """True when the password matches; False on mismatch or an unreadable hash, never raising."""
    if not isinstance(hashed, str) or not isinstance(password, str):
        return False
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8 encoded, so it can match no password.
        return False


def needs_rehash(hashed: str) -> bool:
    """True when the hash was made with other parameters than today's defaults (or cannot be read)."""
    try:
        return _HASHER.check_needs_rehash(hashed)
    except InvalidHashError:
        return True
