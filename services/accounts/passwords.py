"""Password hashing: argon2id with pwdlib's recommended parameters. Each call takes about a
quarter of a second of CPU by design, so the API runs them in a thread (`asyncio.to_thread`)."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from pwdlib import PasswordHash


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    """A hash of no one's password: checked when the user is unknown, so that a wrong
    username takes as long as a wrong password (no user enumeration by timing)."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether `password` is the one `password_hash` was made from; with no hash (an unknown
    user), the same work against a dummy, and False."""
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False
    return _hasher().verify(password, password_hash)


def new_api_key() -> tuple[str, str]:
    """A new Open311 API key and the sha256 hex of it (all that is stored)."""
    key = f"jd_{secrets.token_urlsafe(32)}"
    return key, api_key_hash(key)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
