"""Operators' passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation:
64 MiB, 3 passes), slow by design so a stolen table cannot be guessed through quickly."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
#: Verified when no operator has the email, so an unknown email costs as long as a wrong password.
_NOBODY = _HASHER.hash("no operator has this email")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _NOBODY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
