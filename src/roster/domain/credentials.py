"""API keys and the three credential forms the vendors use.

* ``Authorization: Basic base64(workspace_id:api_key)`` (MoEngage, Customer.io Track v1);
* ``Authorization: Basic base64(api_key:)`` (Customer.io Data Pipelines);
* ``Authorization: Bearer api_key`` (Masivo).

Keys name their workspace (``rk_<workspace id>_<secret>``), so all three forms look the
workspace up by id. The secret is 256 random bits, shown once and stored as a SHA-256 hash (a
slow KDF adds nothing for keys of that strength); hashes are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from roster.domain.errors import AuthenticationFailed

KEY_PREFIX = "rk_"
MAX_HEADER = 1024


@dataclass(frozen=True, slots=True)
class Credentials:
    workspace_id: str | None
    api_key: str


def new_api_key(workspace_id: str) -> str:
    """``rk_<workspace id>_<256 random bits>``: the key names its workspace, so every credential
    form finds the workspace by id and compares key hashes in constant time."""
    return f"{KEY_PREFIX}{workspace_id}_{secrets.token_urlsafe(32)}"


def workspace_of_key(api_key: str) -> str | None:
    """The workspace id a key was issued for, or ``None`` for a string that is no Roster key."""
    if not api_key.startswith(KEY_PREFIX):
        return None
    workspace_id, sep, secret = api_key.removeprefix(KEY_PREFIX).partition("_")
    return workspace_id if sep and workspace_id and secret else None


def new_workspace_id() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def key_matches(api_key: str, stored_hash: str) -> bool:
    """Constant-time comparison of bytes (``compare_digest`` refuses non-ASCII ``str``)."""
    return hmac.compare_digest(hash_key(api_key).encode(), stored_hash.encode())


def parse_authorization(header: str | None) -> Credentials:
    """Read one of the three accepted forms, or raise ``AuthenticationFailed``."""
    if not header or len(header) > MAX_HEADER:
        raise AuthenticationFailed("credentials are required (Basic or Bearer)")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Credentials(None, value)
    if scheme.lower() == "basic" and value:
        return _basic(value)
    raise AuthenticationFailed("the Authorization header must be 'Basic …' or 'Bearer …'")


def _basic(value: str) -> Credentials:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthenticationFailed("Basic credentials are not valid base64 UTF-8") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):  # RFC 7617; PostgreSQL refuses NUL
        raise AuthenticationFailed("Basic credentials must not contain control characters")
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise AuthenticationFailed("Basic credentials must be 'workspace_id:api_key' or 'api_key:'")
    if password == "":
        return Credentials(None, user)
    return Credentials(user, password)
