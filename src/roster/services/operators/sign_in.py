"""Signing an operator in, with repeated failures slowed down per email and per client address.

A blocked key is refused before its password is even checked, so a guess made while blocked
tells nothing. A process checks at most ``CHECKS_AT_ONCE`` passwords at a time (each takes about
64 MiB and a fifth of a second), and reads the block again once its turn comes: a burst of
guesses sent together is checked one by one against the failures before it, and cannot hold
more memory than that; one that waits longer than ``WAIT_S`` for its turn is answered "too
many" (429), so sign-ins never hold the threads the API needs.

Failures are counted in the database (``store.sign_in_throttle``): every API process sees the
same counts. A success clears its email's count, not its address's (else one
valid account would reset the count of an address guessing at others).
"""

from __future__ import annotations

import math
import threading
import time

from roster.domain.operators import (
    FAILURES_FORGOTTEN_MS,
    MAX_EMAIL_LENGTH,
    PER_ADDRESS,
    PER_EMAIL,
    Operator,
    ThrottlePolicy,
    address_key,
    email_key,
)
from roster.services.operators.passwords import hash_password, needs_rehash, verify
from roster.store import operators, sign_in_throttle
from roster.store.database import Database

#: Password checks one process runs at once, and how long a sign-in waits for its turn.
CHECKS_AT_ONCE, WAIT_S = 2, 5.0
_CHECKING = threading.BoundedSemaphore(CHECKS_AT_ONCE)


class SignInFailed(Exception):
    """The email and password do not match an operator."""


class SignInThrottled(Exception):
    """Too many recent failures for this email or client address: try again later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def sign_in(db: Database, email: str, password: str, address: str) -> Operator:
    """The operator these credentials name, or ``SignInFailed`` / ``SignInThrottled``."""
    email = email.strip().lower()[: MAX_EMAIL_LENGTH + 1]
    keys = {email_key(email): PER_EMAIL, address_key(address): PER_ADDRESS}
    if not _CHECKING.acquire(timeout=WAIT_S):
        raise SignInThrottled(math.ceil(WAIT_S))
    try:
        now = _now()
        with db.read() as conn:  # read in turn: the failures of a burst's earlier guesses count
            until = sign_in_throttle.blocked_until(conn, list(keys))
            found = operators.by_email(conn, email)
        if until > now:
            raise SignInThrottled(math.ceil((until - now) / 1000))
        stored_hash = found[1] if found else None
        if found is None or not verify(stored_hash, password):
            _failed(db, keys, email, _now())
            raise SignInFailed("wrong email or password")
    finally:
        _CHECKING.release()
    operator, stored = found
    # The hash's cost was raised since: store it at today's cost (hashed before the write
    # transaction, which must not wait for it).
    rehashed = hash_password(password) if needs_rehash(stored) else None
    with db.write() as conn:
        operators.signed_in(conn, operator.id, now)
        sign_in_throttle.clear(conn, email_key(email))
        if rehashed is not None:
            operators.set_password_hash(conn, operator.id, rehashed)
    return operator


def _failed(db: Database, keys: dict[str, ThrottlePolicy], email: str, now: int) -> None:
    with db.write() as conn:
        for key, policy in keys.items():
            count = sign_in_throttle.count_failure(
                conn, key, now, forgotten_before=now - FAILURES_FORGOTTEN_MS
            )
            if delay := policy.block_ms(count):
                sign_in_throttle.block(conn, key, now + delay)
        operators.failed(conn, email, now)


def _now() -> int:
    return int(time.time() * 1000)
