"""Customer profiles and their devices, as the apply path holds them.

A ``Profile`` is a customer as one batch sees it: attributes with each one's source time, and
the two flags the apply path keeps beside them (``dirty``: to be written back; ``partial``:
loaded without attributes, never written back). They are fields rather than a side table of
the profile book because every attribute write touches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False, slots=True)
class Profile:
    """A customer as one batch sees it; ``uid`` is ``None`` until a new profile is inserted."""

    uid: int | None
    customer_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    times: dict[str, int] = field(default_factory=dict)
    created_at: int = 0
    #: The batch that wrote each attribute's value (attributes written before schema 0013
    #: have none).
    sources: dict[str, str] = field(default_factory=dict)
    created_batch: str | None = None
    #: Changed by the batch: written back when the plan is written.
    dirty: bool = False
    #: Loaded without attributes (the batch only names this customer); never written back.
    partial: bool = False
    #: A new profile created by a loyalty migration is inserted as migrated by this batch,
    #: with these metrics (``mark_migrated`` does it for a stored one).
    migrated_batch: str | None = None
    metrics: str | None = None


@dataclass(eq=False, slots=True)
class Device:
    """A push address of one customer; ``exists`` once it is stored."""

    device_id: str
    uid: int
    platform: str
    push_id: str
    push_opted_out: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
