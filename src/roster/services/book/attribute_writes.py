"""Writing a client's attributes onto a profile: the attribute rules, last write wins by source
time, and the identifier index, each refusal or skipped stale value reported in the ledger.

Every surface that sets attributes (MoEngage customers, Customer.io identify and people
imports) goes through ``set_attributes``.
"""

from __future__ import annotations

from typing import Any

from roster.domain import outcomes as oc
from roster.domain.attributes import clean_attributes, merge_last_write_wins
from roster.domain.element_rules import excerpt
from roster.domain.outcomes import Ledger
from roster.domain.profiles import Profile
from roster.domain.timestamps import format_ms
from roster.services.book.profile_book import ProfileBook


def set_attributes(
    book: ProfileBook,
    ledger: Ledger,
    index: int,
    key: str | None,
    profile: Profile,
    raw: dict[str, Any],
    source_ms: int,
    *,
    prefix: str,
    max_string: int,
    objects: bool = False,
) -> bool:
    """Apply ``raw`` (written at ``source_ms``) to ``profile``; ``prefix`` names where the
    attributes sat in the request (``attributes``, ``traits``, ...); ``objects`` allows values
    that are objects (Customer.io). ``True`` if a stored value changed."""
    clean = clean_attributes(raw, max_string=max_string, prefix=prefix, objects=objects)
    for p in clean.problems:
        ledger.warn(index, key, p.field, p.code, p.message)
    return write_clean(book, ledger, index, key, profile, clean.values, source_ms, prefix=prefix)


def write_clean(
    book: ProfileBook,
    ledger: Ledger,
    index: int,
    key: str | None,
    profile: Profile,
    values: dict[str, Any],
    source_ms: int,
    *,
    prefix: str,
) -> bool:
    """Apply attributes that passed the rules: last write wins, then the identifier index.
    Fields in the ledger are ``prefix.name`` (just ``name`` with an empty prefix). ``True`` if
    a stored value changed."""
    result = merge_last_write_wins(
        profile.attributes, profile.times, values, source_ms, profile.sources, book.batch_id
    )
    dot = "." if prefix else ""
    for name, stored in result.stale:
        msg = (
            f"update written at {format_ms(source_ms)} is older than the stored value "
            f"written at {format_ms(stored)}"
        )
        ledger.warn(index, key, f"{prefix}{dot}{name}", oc.STALE_ATTRIBUTE_SKIPPED, msg)
    if not result.changed:
        return False
    book.mark_dirty(profile)
    shared = book.index_identifiers(profile)
    if book.workspace.identity_resolution:
        for (name, value), holder in shared:
            msg = (
                f"{name} {excerpt(value)} is also held by customer "
                f"{excerpt(holder.customer_id or holder.uid)}: the two profiles are merged into "
                "the older one (identity resolution; the timeline of either shows what moved)"
            )
            ledger.warn(index, key, f"{prefix}{dot}{name}", oc.IDENTITY_MERGED, msg)
            book.shared.append((profile, holder, book.batch_id, "identity"))
    return True
