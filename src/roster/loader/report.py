"""The report of a run: one CSV row per record that was not applied, with its file and line.

Rows come from two places: chunks the target refused as a whole (a 4xx answer: each of their
records is reported, the one the answer names with its code, the others as
``request_refused``), and the issues of the run's batches (``GET /v1/runs/{run}/issues``),
each mapped from its batch and ``index`` back to the record it came from. An element with
issues is reported once, by its outcome: ``failed`` if any issue failed it, else ``skipped``;
an element applied with warnings is not in the report.

For a report of every record (a dry run's, or ``--every-record``) each applied record is a row
too (``Report.effects``), its outcome what it did (``GET /v1/runs/{run}/effects``):
``created`` if any of its elements made something new, else ``updated`` if any changed
something, else ``unchanged``.

A run loaded in parts (a ``roster load`` per kind, under one run name) is reported whole: the
rows of every part the state directory holds, their files in the order the parts started.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roster.loader.state import ChunkLines, RunState

COLUMNS = ("file", "line", "key", "field", "code", "message", "outcome")
REFUSED = "request_refused"
#: A record's effect letters (``domain.outcomes``) to its outcome, the strongest first.
EFFECTS = (("c", "created"), ("u", "updated"), ("n", "unchanged"))


@dataclass
class Summary:
    """What the run's records that were not applied came to, by outcome and code."""

    codes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add_row(self, outcome: str, code: str) -> None:
        if code:  # an applied record's row (every record reported) has no code
            self.codes[(outcome, code)] += 1


@dataclass
class Part:
    """One part of the run (a kind and its files), as the report maps it."""

    state: RunState
    #: The part's files as its command named them.
    labels: list[str]
    #: The ledger ``index`` of a chunk's first element.
    base: int
    #: A record holds several elements (Masivo): a refusal's ``index`` is a record's.
    entries: bool
    #: The position of its first file among the report's files.
    offset: int = 0
    chunks: dict[int, ChunkLines] = field(default_factory=dict)


class Report:
    """Collects the report's rows, then writes them in file and line order.

    The rows are held until the end to be sorted: only elements that were not applied are
    rows, so a run's report is small unless most of it failed (or it lists every record: a
    dry run's, at most 50,000)."""

    def __init__(self, path: Path, parts: list[Part]) -> None:
        self.path = path
        self.files: list[str] = []
        self.seq_of: dict[str, tuple[Part, int]] = {}
        for part in parts:
            part.offset = len(self.files)
            self.files += part.labels
            part.chunks = {c.seq: c for c in part.state.chunk_lines()}
            for ack in part.state.acks.values():
                if ack.batch_id:
                    self.seq_of[ack.batch_id] = (part, ack.seq)
        self.summary = Summary()
        self.rows: list[tuple[int, int, str, str, str, str, str]] = []
        #: Records with a row of their own (``(file, line)``): no effect row for them.
        self.reported: set[tuple[int, int]] = set()

    def __enter__(self) -> Report:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:
            return  # the load stopped: no report that looks complete
        self.rows.sort(key=lambda r: (r[0], r[1]))
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for file, line, *rest in self.rows:
                name = self.files[file] if file >= 0 else ""
                writer.writerow([name, line if line >= 0 else "", *rest])
        partial.replace(self.path)

    def rejected(self, part: Part, file: int, line: int, message: str) -> None:
        """A record the loader could not send (not JSON)."""
        self._row(part.offset + file, line, None, None, "unreadable_record", message, "failed")

    def failed_batch(self, batch_id: str, error: str) -> None:
        """A batch the server gave up on: none of its records was applied."""
        part, chunk = self._chunk_of(batch_id)
        if part is None or chunk is None:
            return
        for line in chunk.lines:
            self._row(part.offset + chunk.file, line, None, None, "batch_failed", error, "failed")

    def refused_chunk(self, part: Part, seq: int, refused: dict[str, Any]) -> None:
        """A chunk the target refused as a whole: every record of it, failed."""
        chunk = part.chunks.get(seq)
        if chunk is None:
            return
        body = refused.get("body")
        error = body.get("error") if isinstance(body, dict) else None
        code, message, fld, index = _refusal(refused["status"], error, body)
        if index is None:
            named = None
        elif part.entries:
            named = index if 0 <= index < len(chunk.lines) else None
        else:
            named = chunk.record_of(index, part.base)
        file = part.offset + chunk.file
        for position, line in enumerate(chunk.lines):
            if named is None or position == named:
                self._row(file, line, None, fld, code, message, "failed")
            else:
                msg = f"refused with its request ({code} at line {chunk.lines[named]})"
                self._row(file, line, None, None, REFUSED, msg, "failed")

    def issues(self, issues: Iterable[dict[str, Any]]) -> None:
        """The run's issues (in batch order), each element reported once by its outcome."""
        for batch_id, found in _by_batch(issues):
            part, chunk = self._chunk_of(batch_id)
            for index, worst in sorted(_worst_by_element(found).items()):
                file = line = None
                if part is not None and chunk is not None:
                    position = chunk.record_of(index, part.base)
                    if position is not None:
                        file, line = part.offset + chunk.file, chunk.lines[position]
                self._row(
                    file,
                    line,
                    worst["key"],
                    worst["field"],
                    worst["code"],
                    worst["message"],
                    worst["outcome"],
                )

    def effects(self, batch_id: str, letters: str) -> None:
        """What each applied record of a batch did (after its issues: a record reported by
        an issue keeps that row)."""
        part, chunk = self._chunk_of(batch_id)
        if part is None or chunk is None:
            return
        file = part.offset + chunk.file
        start = part.base
        for position, line in enumerate(chunk.lines):
            count = 1 if chunk.counts is None else chunk.counts[position]
            mine = letters[start : start + count]
            start += count
            if (file, line) in self.reported:
                continue
            outcome = next((name for letter, name in EFFECTS if letter in mine), None)
            if outcome is not None:
                self._row(file, line, None, None, "", "", outcome)

    def _chunk_of(self, batch_id: str) -> tuple[Part | None, ChunkLines | None]:
        found = self.seq_of.get(batch_id)
        if found is None:
            return None, None
        part, seq = found
        return part, part.chunks.get(seq)

    def _row(
        self,
        file: int | None,
        line: int | None,
        key: str | None,
        fld: str | None,
        code: str,
        message: str,
        outcome: str,
    ) -> None:
        where = (-1 if file is None else file, -1 if line is None else line)
        self.reported.add(where)
        self.rows.append((*where, key or "", fld or "", code, message, outcome))
        self.summary.add_row(outcome, code)


def _refusal(status: int, error: Any, body: Any) -> tuple[str, str, str | None, int | None]:
    """The code, message, field and element index of a refused request's answer (Roster's and
    MoEngage's ``error`` object, Masivo's ``error``/``details``, or the bare status)."""
    if isinstance(error, dict):
        index = error.get("index")
        return (
            str(error.get("code") or f"http_{status}"),
            str(error.get("message") or ""),
            error.get("field"),
            index if isinstance(index, int) else None,
        )
    if isinstance(body, dict) and isinstance(error, str):
        index = body.get("index")
        return (
            error,
            str(body.get("details") or ""),
            body.get("field"),
            index if isinstance(index, int) else None,
        )
    return f"http_{status}", str(body)[:500], None, None


def _by_batch(issues: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    current: str | None = None
    found: list[dict[str, Any]] = []
    for issue in issues:
        if issue["batch_id"] != current and found:
            assert current is not None
            yield current, found
            found = []
        current = issue["batch_id"]
        found.append(issue)
    if found and current is not None:
        yield current, found


def _worst_by_element(issues: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per element index, the issue that decides its outcome (failed, else skipped)."""
    rank = {"failed": 2, "skipped": 1}
    worst: dict[int, dict[str, Any]] = {}
    for issue in issues:
        outcome = issue.get("outcome")
        index = issue.get("index")
        if outcome not in rank or not isinstance(index, int):
            continue
        held = worst.get(index)
        if held is None or rank[outcome] > rank[held["outcome"]]:
            worst[index] = issue
    return worst
