"""Device platforms: matched case-insensitively, stored in their canonical spelling."""

from __future__ import annotations

CANONICAL = {"android": "ANDROID", "ios": "iOS", "web": "web", "tv": "TV"}


def canonical_platform(value: object) -> str | None:
    """``"ios"`` → ``"iOS"``; ``None`` for anything that is not a known platform."""
    if not isinstance(value, str):
        return None
    return CANONICAL.get(value.strip().lower())


def is_opted_out(value: object) -> bool:
    """MoEngage's ``moe_push_opted`` is ``"False"``/``false`` when the user opted out of push."""
    if isinstance(value, bool):
        return not value
    return isinstance(value, str) and value.strip().lower() == "false"


def parse_active(value: object) -> bool | None:
    """The ``active`` flag of a ``platforms`` entry: a bool or the string ``"true"``/``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None
