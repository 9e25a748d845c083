"""A run's own record on disk, so that running the same command again resumes it.

``<state dir>/<run>/`` holds three files:

* ``plan.json``: what the run loads (kind, files, options) and the limits its chunks were cut
  to, fixed at its start so a resumed run cuts the same chunks;
* ``chunks.jsonl``: each chunk's file and the line each of its records starts on (with the
  elements each holds, where not one), written before the chunk is sent: what maps a ledger
  ``index`` back to a line;
* ``acks.jsonl``: each chunk the target acknowledged (its ``batch_id``) or refused as a whole
  (the answer), written as the answer arrives.

A chunk acknowledged is never sent again; one sent but not recorded (the loader died between the
answer and the write) is sent again with the same ``Idempotency-Key``, and the server answers
with the first batch. Writes reach the operating system at once (a killed loader loses none)
but are not synced to the disk one by one: an acknowledgement lost with the machine only means
one more replayed request, and a sync per request cost more than the request.
"""

from __future__ import annotations

import json
import os
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


class StateError(ValueError):
    """The run's record on disk does not match the command (other files, another kind)."""


@dataclass(slots=True)
class ChunkLines:
    """Where a chunk's records came from."""

    seq: int
    file: int
    lines: Sequence[int]
    counts: Sequence[int] | None

    def record_of(self, index: int, base: int) -> int | None:
        """The position (in the chunk) of the record holding ledger element ``index``."""
        n = index - base
        if self.counts is None:
            return n if 0 <= n < len(self.lines) else None
        for position, count in enumerate(self.counts):
            if n < count:
                return position if n >= 0 else None
            n -= count
        return None


@dataclass(slots=True)
class Ack:
    seq: int
    batch_id: str | None
    #: For a chunk refused as a whole: the HTTP status and the answer's body.
    refused: dict[str, Any] | None = None


@dataclass
class RunState:
    directory: Path
    plan: dict[str, Any]
    acks: dict[int, Ack] = field(default_factory=dict)
    recorded: set[int] = field(default_factory=set)
    rejected: set[tuple[int, int]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _files: dict[str, IO[bytes]] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, run: str, plan: dict[str, Any]) -> RunState:
        """The run's state: a new one, or the one on disk if this command started it."""
        directory = root / run
        directory.mkdir(parents=True, exist_ok=True)
        plan_file = directory / "plan.json"
        if plan_file.exists():
            stored = json.loads(plan_file.read_text(encoding="utf-8"))
            for key in ("kind", "files", "options", "target", "dry_run"):
                if stored.get(key, False) != plan.get(key, False):
                    raise StateError(
                        f"run {run!r} was started with {key} {stored.get(key)!r}, not "
                        f"{plan.get(key)!r}: repeat the command that started it (another run "
                        "name would send its records again)"
                    )
            plan = stored  # the limits the run started with, whatever the server says now
        else:
            _write_synced(plan_file, json.dumps(plan).encode())
        state = cls(directory, plan)
        for name in ("acks.jsonl", "chunks.jsonl"):
            _drop_partial_line(directory / name)
        for entry in _lines(directory / "acks.jsonl"):
            state.acks[entry["seq"]] = Ack(
                entry["seq"], entry.get("batch_id"), entry.get("refused")
            )
        state.recorded = {entry["seq"] for entry in _lines(directory / "chunks.jsonl")}
        state.rejected = {(e["file"], e["line"]) for e in _lines(directory / "rejected.jsonl")}
        return state

    def reject(self, file: int, line: int, message: str) -> None:
        """A record that cannot be sent (it is not JSON): reported, never sent."""
        if (file, line) in self.rejected:
            return
        self._append("rejected.jsonl", {"file": file, "line": line, "message": message})
        self.rejected.add((file, line))

    def rejected_records(self) -> Iterator[tuple[int, int, str]]:
        for e in _lines(self.directory / "rejected.jsonl"):
            yield e["file"], e["line"], e["message"]

    def record_chunk(self, chunk: ChunkLines) -> None:
        """Remember where a chunk's records came from, before it is sent."""
        if chunk.seq in self.recorded:
            return
        counts = None if chunk.counts is None else list(chunk.counts)
        entry = {"seq": chunk.seq, "file": chunk.file, "lines": list(chunk.lines), "counts": counts}
        self._append("chunks.jsonl", entry)
        self.recorded.add(chunk.seq)

    def acknowledge(self, ack: Ack) -> None:
        """Record the target's answer to a chunk, before the next one settles."""
        entry: dict[str, Any] = {"seq": ack.seq, "batch_id": ack.batch_id}
        if ack.refused is not None:
            entry["refused"] = ack.refused
        self._append("acks.jsonl", entry)
        self.acks[ack.seq] = ack

    def chunk_lines(self) -> Iterator[ChunkLines]:
        """Every recorded chunk's lines, read back from disk (held compactly: 4 bytes a line)."""
        for entry in _lines(self.directory / "chunks.jsonl"):
            counts = entry["counts"]
            yield ChunkLines(
                entry["seq"],
                entry["file"],
                array("I", entry["lines"]),
                None if counts is None else array("I", counts),
            )

    def _append(self, name: str, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            out = self._files.get(name)
            if out is None:
                out = self._files[name] = open(self.directory / name, "ab")  # noqa: SIM115
            out.write(line)
            out.flush()

    def close(self) -> None:
        with self._lock:
            for out in self._files.values():
                out.close()
            self._files.clear()


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a JSON lines file; a last line cut short by a crash is ignored."""
    if not path.exists():
        return
    with open(path, "rb") as source:
        for raw in source:
            if not raw.endswith(b"\n"):
                return  # written partly when the loader died: never acknowledged
            yield json.loads(raw)


def _drop_partial_line(path: Path) -> None:
    """Cut a last line the loader was writing when it died, so appends start on a new line."""
    if not path.exists():
        return
    with open(path, "r+b") as out:
        end = out.seek(0, os.SEEK_END)
        start = end
        while start > 0:  # back, a block at a time, to the last line break
            start = max(0, start - 4096)
            out.seek(start)
            block = out.read(end - start)
            if block.endswith(b"\n") and start + len(block) == end:
                return
            if (cut := block.rfind(b"\n")) >= 0:
                out.truncate(start + cut + 1)
                return
        out.truncate(0)


def _write_synced(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
