"""Argon2id password hashes and the password policy (MLPS level 3: length and character classes)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from huoban.errors import Invalid

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown e-mail like that of a known one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_policy(password: str, min_length: int, field: str = "password") -> None:
    """At least `min_length` characters from at least three of: lower, upper, digits, symbols."""
    if len(password) < min_length:
        raise Invalid("The password must have at least %(n)s characters.", field=field, n=min_length)
    if len(password) > 256:
        raise Invalid("The password is too long.", field=field)
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")
    )
    if classes < 3:
        raise Invalid(
            "The password must mix at least three of: lower-case, upper-case, digits, symbols.",
            field=field,
        )
