"""Workspaces (tenants): their settings and rate limits, as plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from roster.domain.attributes import FORBIDDEN_NAMES, SYSTEM_NAMES
from roster.domain.element_rules import excerpt
from roster.domain.errors import InvalidSetting
from roster.domain.loyalty import Tier

DEFAULT_IDENTIFIERS = ("email", "moe_mobile")
IDENTIFIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute budgets of one workspace; ``None`` means unlimited."""

    users_per_minute: int | None = None
    events_per_minute: int | None = None
    merges_per_minute: int | None = None

    @property
    def unlimited(self) -> bool:
        return (
            self.users_per_minute is None
            and self.events_per_minute is None
            and self.merges_per_minute is None
        )


#: The vendors' documented limits (MoEngage Bulk Import and Merge Users).
VENDOR_LIMITS = Limits(users_per_minute=10_000, events_per_minute=30_000, merges_per_minute=1_000)
NO_LIMITS = Limits()


def limits_preset(name: str) -> Limits:
    if name == "vendor":
        return VENDOR_LIMITS
    if name == "none":
        return NO_LIMITS
    raise InvalidSetting(
        f"limits preset must be 'vendor' or 'none', got {excerpt(name)}", field="limits"
    )


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    name: str
    created_at: int
    key_rotated_at: int
    identity_resolution: bool = False
    identifiers: tuple[str, ...] = DEFAULT_IDENTIFIERS
    limits: Limits = field(default_factory=Limits)
    #: Loyalty tiers, lowest threshold first (``roster.domain.loyalty.tiers_of``).
    tiers: tuple[Tier, ...] = ()

    def with_identifiers(self, names: list[str]) -> Workspace:
        for name in names:
            if not IDENTIFIER_NAME.match(name) or name in SYSTEM_NAMES | FORBIDDEN_NAMES:
                msg = (
                    f"identifier attribute {excerpt(name)} must be a client attribute name "
                    "(letters first, not one Roster owns)"
                )
                raise InvalidSetting(msg, field="identifiers")
        return replace(self, identifiers=tuple(dict.fromkeys(names)))
