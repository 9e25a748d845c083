"""Roster's error hierarchy: every refusal has a stable machine-readable code.

Request-level errors (``RequestRejected`` and its children) refuse a whole request before
anything is stored. Element-level problems are not exceptions: they are recorded as
``Issue`` values in the batch ledger (see ``roster.domain.outcomes``). The mapping from these
classes to HTTP statuses and bodies lives in exactly one place, ``roster.api.errors``.
"""

from __future__ import annotations

#: The most characters an error body's ``message`` and ``field`` hold: messages quote a client's
#: values in excerpts (``element_rules.excerpt``); this is the net under them, so an error body
#: never echoes a 90,000-character value whole.
MAX_MESSAGE, MAX_FIELD = 1000, 400


class RosterError(Exception):
    """Base of every error Roster raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None) -> None:
        if len(message) > MAX_MESSAGE:  # the net under messages that quote excerpts
            message = message[: MAX_MESSAGE - 1] + "…"
        if field is not None and len(field) > MAX_FIELD:
            field = field[: MAX_FIELD - 1] + "…"
        super().__init__(message)
        self.message = message
        self.field = field
        self.index = index


class RequestRejected(RosterError):
    """The request as a whole breaks a rule; nothing of it is stored."""

    code = "invalid_request"


class MalformedBody(RequestRejected):
    """The body is not strict JSON (I-JSON): bad UTF-8, NaN, duplicate keys, too deep, ..."""

    code = "malformed_json"


class MalformedEncoding(MalformedBody):
    """The body's ``Content-Encoding`` (gzip) stream is broken or cut short."""

    code = "malformed_encoding"


class InvalidEnvelope(RequestRejected):
    """The JSON is well formed but its envelope is wrong (missing ``type``, empty list, ...)."""

    code = "invalid_envelope"


class InvalidParameter(RequestRejected):
    """A query or path parameter is missing or not valid."""

    code = "invalid_parameter"


class TooManyElements(RequestRejected):
    """More elements than one request may carry."""

    code = "too_many_elements"


class PayloadTooLarge(RequestRejected):
    """The body is larger than the endpoint accepts."""

    code = "payload_too_large"


class UnsupportedMediaType(RequestRejected):
    """The body's content type is not one the endpoint reads."""

    code = "unsupported_media_type"


class InvalidIdempotencyKey(RequestRejected):
    """The ``Idempotency-Key`` header is empty or too long."""

    code = "invalid_idempotency_key"


class IdempotencyKeyReused(RequestRejected):
    """The ``Idempotency-Key`` was first used with a different body."""

    code = "idempotency_key_reused"


class RateLimited(RequestRejected):
    """The workspace is over its per-minute budget."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, limit: int, remaining: int, reset_at: int, retry_after: int
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.remaining = remaining
        self.reset_at = reset_at
        self.retry_after = retry_after


class AuthenticationFailed(RosterError):
    """Missing, malformed or wrong credentials."""

    code = "authentication_failed"


class WorkspaceMismatch(RosterError):
    """The workspace named in the path or query is not the one the credentials belong to."""

    code = "workspace_mismatch"


class NotFound(RosterError):
    """The thing asked for does not exist in the caller's workspace."""

    code = "not_found"


class Conflict(RosterError):
    """The request conflicts with the state of the workspace."""

    code = "conflict"


class InvalidSetting(RosterError):
    """A workspace setting given on the command line or API is not valid."""

    code = "invalid_setting"
