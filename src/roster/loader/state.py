"""A run's own record on disk, so that running the same command again resumes it.

A run may be loaded in parts: one ``roster load`` per kind of a migration (customers, then
events, then transactions), each under the same ``--run``. ``<state dir>/<run>/run.json`` says
where the run is sent and whether it is a dry run; each part (a kind with its files and options)
has a directory of its own, ``<state dir>/<run>/<kind>-<digest>/``, holding:

* ``plan.json``: what the part loads (kind, files, options) and the limits its chunks were cut
  to, fixed at its start so a resumed part cuts the same chunks;
* ``chunks.jsonl``: each chunk's file and the line each of its records starts on (with the
  elements each holds, where not one), written before the chunk is sent: what maps a ledger
  ``index`` back to a line;
* ``acks.jsonl``: each chunk the target acknowledged (its ``batch_id``) or refused as a whole
  (the answer), written as the answer arrives;
* ``rejected.jsonl``: records that could not be sent (not JSON).

A chunk acknowledged is never sent again; one sent but not recorded (the loader died between the
answer and the write) is sent again with the same ``Idempotency-Key``, and the server answers
with the first batch. Writes reach the operating system at once (a killed loader loses none)
but are not synced to the disk one by one: an acknowledgement lost with the machine only means
one more replayed request, and a sync per request cost more than the request.

A run started by a loader before parts (its ``plan.json`` directly in the run's directory) is
resumed as its one part, with the keys it was started with.
"""

from __future__ import annotations

import hashlib
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


#: What ties a run together: every part goes to one target, and all are dry or all real.
RUN_FIELDS = ("target", "dry_run")
#: What makes a part: the same kind, files and options resume it; others are another part.
PART_FIELDS = ("kind", "files", "options")


@dataclass
class RunState:
    directory: Path
    plan: dict[str, Any]
    #: Starts every ``Idempotency-Key`` of the part; its chunk's number ends it.
    key_prefix: str = ""
    acks: dict[int, Ack] = field(default_factory=dict)
    recorded: set[int] = field(default_factory=set)
    rejected: set[tuple[int, int]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _files: dict[str, IO[bytes]] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, run: str, plan: dict[str, Any]) -> RunState:
        """The part of the run this command loads: a new one, or the one on disk if this
        command started it."""
        run_dir = root / run
        mode = "dry" if plan.get("dry_run") else "real"
        if (run_dir / "plan.json").exists():  # started before runs had parts: its one part
            _check(run, json.loads((run_dir / "plan.json").read_text("utf-8")), plan, RUN_FIELDS)
            return cls._open_part(run_dir, plan, f"roster-load:{run}:{mode}")
        run_dir.mkdir(parents=True, exist_ok=True)
        run_file = run_dir / "run.json"
        if run_file.exists():
            _check(run, json.loads(run_file.read_text("utf-8")), plan, RUN_FIELDS)
        else:
            _write_synced(run_file, json.dumps({k: plan.get(k) for k in RUN_FIELDS}).encode())
        digest = hashlib.sha256(json.dumps([plan.get(k) for k in PART_FIELDS]).encode())
        part = f"{plan['kind']}-{digest.hexdigest()[:10]}"
        return cls._open_part(run_dir / part, plan, f"roster-load:{run}:{mode}:{part}")

    @classmethod
    def parts(cls, root: Path, run: str) -> list[RunState]:
        """Every part of the run on disk, in the order they were started."""
        run_dir = root / run
        if (run_dir / "plan.json").exists():
            directories = [run_dir]
        else:
            directories = [d for d in run_dir.iterdir() if (d / "plan.json").exists()]
        found = [cls._read(d, json.loads((d / "plan.json").read_bytes())) for d in directories]
        return sorted(found, key=lambda s: (s.plan.get("started", 0), s.directory.name))

    @classmethod
    def _open_part(cls, directory: Path, plan: dict[str, Any], key_prefix: str) -> RunState:
        directory.mkdir(parents=True, exist_ok=True)
        plan_file = directory / "plan.json"
        if plan_file.exists():
            stored = json.loads(plan_file.read_text(encoding="utf-8"))
            _check(plan["run"], stored, plan, PART_FIELDS)
            plan = stored  # the limits the part started with, whatever the server says now
        else:
            _write_synced(plan_file, json.dumps(plan).encode())
        for name in ("acks.jsonl", "chunks.jsonl"):
            _drop_partial_line(directory / name)
        state = cls._read(directory, plan)
        state.key_prefix = key_prefix
        return state

    @classmethod
    def _read(cls, directory: Path, plan: dict[str, Any]) -> RunState:
        state = cls(directory, plan)
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


def _check(run: str, stored: dict[str, Any], plan: dict[str, Any], fields: Sequence[str]) -> None:
    for key in fields:
        if stored.get(key, False) != plan.get(key, False):
            raise StateError(
                f"run {run!r} was started with {key} {stored.get(key)!r}, not "
                f"{plan.get(key)!r}: repeat the command that started it, or name another run"
            )


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
