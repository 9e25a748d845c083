"""Applying a CSV people import, one chunk of rows at a time (``Worker`` runs each chunk in its
own transaction, with the chunk counted done, so a crash resumes at the next chunk).

Each row is one person, matched by its ``id`` or ``email`` cell (``match_by``): found, its
attributes are updated by last write wins (the row's ``_timestamp`` cell if the file has that
column, else the batch's accept time); not found, it is created unless ``create`` is false
(``unknown_customer``). Empty cells are ignored or set attributes to null (``empty``). Every
problem is reported by row number (the header is row 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.element_rules import MAX_ID_LENGTH, Problem, source_time
from roster.domain.identity import normalise_identifier
from roster.domain.outcomes import NOT_APPLIED, Ledger
from roster.domain.profiles import Profile
from roster.domain.workspaces import Workspace
from roster.formats import customerio_people_csv as people_csv
from roster.formats.customerio_people_csv import EMAIL, ID, TIMESTAMP, Options
from roster.services.book.attribute_writes import write_clean
from roster.services.book.identity_merges import merge_shared
from roster.services.book.profile_book import ProfileBook, identifier_pairs
from roster.store import profiles
from roster.store.batch_chunks import StoredChunk


@dataclass(slots=True)
class ChunkPlan:
    """One chunk's rows decided in memory, waiting to be written."""

    ledger: Ledger
    book: ProfileBook

    def write(self, conn: Connection) -> list[Ledger]:
        self.book.flush(conn)
        merge_shared(conn, self.book)
        return [self.ledger]


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where the header puts what a row needs."""

    width: int
    id: int | None
    email: int | None
    timestamp: int | None
    #: ``(position, name)`` of every column that is an attribute (``email`` is one).
    attributes: list[tuple[int, str]]

    @classmethod
    def of(cls, header: list[str]) -> _Columns:
        where = {name: n for n, name in enumerate(header)}
        attributes = [(n, name) for n, name in enumerate(header) if name not in (ID, TIMESTAMP)]
        return cls(len(header), where.get(ID), where.get(EMAIL), where.get(TIMESTAMP), attributes)


def plan_people_chunk(
    conn: Connection, workspace: Workspace, batch: Claimed, chunk: StoredChunk, *, max_string: int
) -> ChunkPlan:
    """Decide one chunk of an import's rows, reading the people it names in a few queries."""
    meta = people_csv.meta_of(batch.payload)
    options = meta.parsed_options
    columns = _Columns.of(meta.header)
    records = people_csv.records_of(chunk.data)
    # Effects are kept by row number, from 0 (the header and blank lines are no person):
    # the first chunk's start at row 0, so the batch's effects line up with its rows.
    pad = chunk.first_row if chunk.seq == 0 else 0
    effects = bytearray(NOT_APPLIED * (pad + len(records)))
    ledger = Ledger(total=chunk.rows, first=chunk.first_row - pad, effects=effects)
    book = ProfileBook(workspace, batch.accepted_at)
    book.batch_id = batch.id
    rows = _Rows(workspace, batch, options, columns, ledger, book, max_string, {})
    rows.nul_possible = b"\x00" in chunk.data
    rows.preload(conn, records)
    for n, record in enumerate(records):
        if not people_csv.is_blank(record):
            rows.apply(chunk.first_row + n, record)
    return ChunkPlan(ledger, book)


@dataclass(slots=True)
class _Rows:
    workspace: Workspace
    batch: Claimed
    options: Options
    columns: _Columns
    ledger: Ledger
    book: ProfileBook
    max_string: int
    #: Normalised email -> the person holding it (``match_by=email``).
    by_email: dict[str, Profile]
    #: The chunk holds a NUL byte somewhere (rows are only searched for one then).
    nul_possible: bool = False

    def preload(self, conn: Connection, records: list[list[str]]) -> None:
        cols = self.columns
        whole = [r for r in records if len(r) == cols.width]
        ids = {r[cols.id] for r in whole if r[cols.id]} if cols.id is not None else set()
        uids: list[int] = []
        emails: dict[str, tuple[int, str | None]] = {}
        if self.options.match_by == EMAIL and cols.email is not None:
            wanted = {normalise_identifier(EMAIL, r[cols.email]) for r in whole if r[cols.email]}
            indexed = EMAIL in self.workspace.identifiers
            emails = profiles.email_holders(conn, self.workspace.id, wanted, indexed=indexed)
            uids = [uid for uid, _ in emails.values()]
        pairs: set[tuple[str, str]] = set()  # identity resolution: identifiers people take
        if self.workspace.identity_resolution:
            named = [(n, name) for n, name in cols.attributes if name in self.workspace.identifiers]
            for r in whole:
                values = {name: r[n] for n, name in named if r[n]}
                pairs.update(identifier_pairs(self.workspace, values))
        self.book.preload(conn, ids, (), pairs, uids=uids)
        for email, (uid, _) in emails.items():
            if (profile := self.book.by_uid.get(uid)) is not None:
                self.by_email[email] = profile

    def apply(self, row: int, record: list[str]) -> None:
        cols, ledger = self.columns, self.ledger
        if len(record) != cols.width:
            msg = f"row {row} has {len(record)} fields; the header has {cols.width}"
            ledger.fail(row, None, None, oc.INVALID_ROW, msg)
            return
        if self.nul_possible and any("\x00" in cell for cell in record):
            msg = f"row {row} holds a NUL character, which no value may hold"
            ledger.fail(row, None, None, oc.INVALID_ROW, msg)
            return
        match = self.options.match_by
        key = record[cols.id] if match == ID and cols.id is not None else None
        if match == EMAIL and cols.email is not None:
            key = record[cols.email]
        if key is None or not key.strip():
            msg = f"row {row} has no {match}: the {match!r} cell is empty"
            ledger.fail(row, None, match, oc.MISSING_FIELD, msg)
            return
        if len(key) > MAX_ID_LENGTH:
            msg = f"the {match!r} cell holds at most {MAX_ID_LENGTH} characters"
            ledger.fail(row, key[:MAX_ID_LENGTH], match, oc.INVALID_CUSTOMER_ID, msg)
            return
        source_ms = self._source_time(row, key, record)
        if source_ms is None:
            return
        fits, found = self._person(row, key, record)
        if not fits:
            return
        values = self._values(row, key, record)
        if found is None:
            if not self.options.create:
                msg = f"no person has {match} {key!r} and create is false: nothing created"
                ledger.skip(row, key, match, oc.UNKNOWN_CUSTOMER, msg)
                return
            found = self._create(key, record)
            if not self.workspace.identity_resolution:
                # A new person: every value is the first (no stale one, and no identifier
                # conflict to report); the book indexes its identifiers when it is written.
                found.attributes = values
                found.times = dict.fromkeys(values, source_ms)
                found.sources = dict.fromkeys(values, self.book.batch_id)
                ledger.created(row)
                return
            write_clean(self.book, ledger, row, key, found, values, source_ms, prefix="")
            ledger.created(row)
        elif write_clean(self.book, ledger, row, key, found, values, source_ms, prefix=""):
            ledger.updated(row)
        else:
            ledger.unchanged(row)

    def _source_time(self, row: int, key: str, record: list[str]) -> int | None:
        """The row's ``_timestamp`` cell (an empty one is none), else the accept time."""
        at = self.columns.timestamp
        sent = record[at] if at is not None else ""
        found = source_time(sent or None, self.batch.accepted_at, TIMESTAMP)
        if isinstance(found, Problem):
            self.ledger.fail(row, key, found.field, found.code, found.message)
            return None
        return found

    def _person(self, row: int, key: str, record: list[str]) -> tuple[bool, Profile | None]:
        """Whether the row may apply, and the person it names (``None``: none yet). With
        ``match_by=email``, an ``id`` cell must be the found person's id."""
        if self.options.match_by == ID:
            return True, self.book.get(key)
        found = self.by_email.get(normalise_identifier(EMAIL, key))
        at = self.columns.id
        given = record[at] if at is not None else ""
        if not given:
            return True, found
        if found is None:  # the person with that id, who gets this email; or a new one
            return True, self.book.get(given)
        if found.customer_id == given:
            return True, found
        msg = (
            f"the row's id {given!r} is not the id of the person holding email {key!r} "
            f"({found.customer_id!r}); Roster does not change a person's id"
        )
        self.ledger.fail(row, key, ID, oc.IDENTIFIER_CONFLICT, msg)
        return False, None

    def _create(self, key: str, record: list[str]) -> Profile:
        if self.options.match_by == ID:
            return self.book.create(key, self.batch)
        at = self.columns.id
        profile = self.book.create((record[at] or None) if at is not None else None, self.batch)
        self.by_email[normalise_identifier(EMAIL, key)] = profile
        return profile

    def _values(self, row: int, key: str, record: list[str]) -> dict[str, Any]:
        """The row's attribute values: empty cells ignored or null, types inferred if asked,
        strings over the longest kept refused (with a warning)."""
        nullify = self.options.empty == "nullify"
        infer = self.options.infer_types
        limit = self.max_string
        values: dict[str, Any] = {}
        for at, name in self.columns.attributes:
            cell = record[at]
            if not cell:
                if nullify:
                    values[name] = None
                continue
            if len(cell) > limit:
                msg = f"string values hold at most {limit} characters, got {len(cell)}"
                self.ledger.warn(row, key, name, oc.VALUE_TOO_LONG, msg)
                continue
            values[name] = people_csv.typed(cell) if infer else cell
        return values
