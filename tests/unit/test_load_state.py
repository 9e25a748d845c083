"""A run's state on disk: parts of one run, what ties them, and a run started before parts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from roster.loader.state import Ack, ChunkLines, RunState, StateError


def _plan(kind: str, files: list[str], **more: Any) -> dict[str, Any]:
    return {
        "run": "mig",
        "kind": kind,
        "files": files,
        "options": {},
        "target": "http://127.0.0.1:8000",
        "dry_run": False,
        "limits": {"max_bytes": 100, "max_records": None},
        **more,
    }


def test_each_kind_of_a_run_is_a_part_with_its_own_keys_and_record(tmp_path: Path) -> None:
    """Two commands under one run name are two parts: each resumes itself, their keys never
    meet, and the run lists both in the order they started."""
    customers = RunState.open(tmp_path, "mig", _plan("masivo-customers", ["/c"], started=1.0))
    customers.record_chunk(ChunkLines(0, 0, [1, 2], None))
    customers.acknowledge(Ack(0, "b-1"))
    customers.close()
    events = RunState.open(tmp_path, "mig", _plan("masivo-events", ["/e"], started=2.0))
    assert events.key_prefix != customers.key_prefix
    assert events.key_prefix.startswith("roster-load:mig:real:masivo-events-")
    assert events.acks == {}
    events.close()
    again = RunState.open(tmp_path, "mig", _plan("masivo-customers", ["/c"], started=3.0))
    assert again.key_prefix == customers.key_prefix
    assert again.acks[0].batch_id == "b-1"
    assert again.plan["started"] == 1.0  # the part's plan is the one it started with
    again.close()
    parts = RunState.parts(tmp_path, "mig")
    assert [p.plan["kind"] for p in parts] == ["masivo-customers", "masivo-events"]


def test_a_run_is_bound_to_one_target_and_one_mode(tmp_path: Path) -> None:
    """Another target, or a real part of a dry run, is refused before anything is sent."""
    RunState.open(tmp_path, "mig", _plan("transition", ["/a"], dry_run=True)).close()
    with pytest.raises(StateError, match="dry_run"):
        RunState.open(tmp_path, "mig", _plan("masivo-customers", ["/c"]))
    with pytest.raises(StateError, match="target"):
        RunState.open(
            tmp_path, "mig", _plan("transition", ["/a"], dry_run=True, target="http://other")
        )


def test_a_run_started_before_parts_resumes_with_the_keys_it_started_with(
    tmp_path: Path,
) -> None:
    """A run whose state an earlier loader wrote (its plan in the run's own directory) is its
    one part: the same keys, so nothing it sent is applied twice."""
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    plan = _plan("transition", ["/a"], run="old")
    (run_dir / "plan.json").write_text(json.dumps(plan))
    (run_dir / "acks.jsonl").write_text('{"seq":0,"batch_id":"b-0"}\n')
    state = RunState.open(tmp_path, "old", plan)
    assert state.key_prefix == "roster-load:old:real"
    assert state.acks[0].batch_id == "b-0"
    state.close()
    assert [p.directory for p in RunState.parts(tmp_path, "old")] == [run_dir]
    with pytest.raises(StateError, match="kind"):
        RunState.open(tmp_path, "old", _plan("merges", ["/m"], run="old"))
