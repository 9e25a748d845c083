"""Operators: the people who sign in to the dashboard (not workspaces' data keys), their roles,
and how repeated failed sign-ins are slowed down. Pure rules, no storage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from roster.domain.element_rules import excerpt
from roster.domain.errors import InvalidSetting


class Role(StrEnum):
    """A viewer reads every page; an admin may also change workspace settings and rotate keys."""

    ADMIN = "admin"
    VIEWER = "viewer"


#: Long enough to resist guessing once slowed down; no upper rule but the hash's input size.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    email: str
    role: Role
    created_at: int
    #: When the password was last set: sessions signed before it are no longer valid.
    password_set_at: int
    last_sign_in_at: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def operator_email(value: str) -> str:
    """An operator's email as stored and compared: trimmed and lower-cased."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidSetting(f"{excerpt(value)} is not an email address", field="email")
    return email


def operator_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidSetting(
            f"role must be 'admin' or 'viewer', got {excerpt(value)}", field="role"
        ) from None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        raise InvalidSetting(msg, field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        msg = f"a password has at most {MAX_PASSWORD_LENGTH} characters"
        raise InvalidSetting(msg, field="password")
    return password


# --- slowing down repeated failed sign-ins ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Failures allowed on one key (an email, a client address) before each further failure
    blocks the key for a delay that doubles, from ``base_ms`` up to ``max_ms``."""

    free: int
    base_ms: int
    max_ms: int

    def block_ms(self, failures: int) -> int:
        """How long the key is blocked after its ``failures``-th consecutive failure."""
        over = failures - self.free
        if over <= 0:
            return 0
        return int(min(self.max_ms, self.base_ms * 2 ** min(over - 1, 30)))


#: Per email: 5 failures free, then 1 s, 2 s, 4 s ... up to 15 minutes.
PER_EMAIL = ThrottlePolicy(free=5, base_ms=1_000, max_ms=15 * 60_000)
#: Per client address (many emails tried from one place): 100 free, then the same doubling.
#: Behind a reverse proxy every operator shares the proxy's address, so this is set high
#: enough that a few mistyped passwords never lock everyone out.
PER_ADDRESS = ThrottlePolicy(free=100, base_ms=1_000, max_ms=15 * 60_000)
#: A key's failures are forgotten this long after its last failure.
FAILURES_FORGOTTEN_MS = 24 * 3_600_000


def email_key(email: str) -> str:
    return f"email:{email}"


def address_key(address: str) -> str:
    return f"address:{address[:200]}"
