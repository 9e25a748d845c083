"""The CLI prints text for people, or JSON with ``--json``, never Python reprs; where no
database exists, a command that needs one refuses, naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from roster import logs
from roster.cli.main import app


@pytest.fixture
def run(store_url: str) -> Iterator[object]:
    runner = CliRunner()

    def invoke(*args: str, url: str = store_url) -> Result:
        return runner.invoke(app, list(args), env={"ROSTER_DATABASE_URL": url})

    yield invoke
    logs.configure("warning")  # the CLI configured the logs on the runner's stream


def test_every_data_command_prints_json_with_json_and_text_without(run: object) -> None:
    """Each command that prints data gives one JSON document with --json, and text with no
    Python dict or list repr without it."""
    invoke = run
    created = invoke("workspace", "create", "demo", "--json")  # type: ignore[operator]
    assert created.exit_code == 0, created.output
    ws = json.loads(created.stdout)["workspace_id"]
    commands = [
        ["workspace", "list"],
        ["workspace", "show", ws],
        ["workspace", "set", ws, "--identifiers", "email,phone", "--limits", "vendor"],
        ["workspace", "set-tiers", ws, "Bronze=0", "Gold=500"],
        ["workspace", "rotate-key", ws],
        ["db", "upgrade"],
        ["purge"],
        ["runs", "list", "--workspace", ws],
    ]
    for command in commands:
        as_json = invoke(*command, "--json")  # type: ignore[operator]
        assert as_json.exit_code == 0, (command, as_json.output)
        json.loads(as_json.stdout)
        as_text = invoke(*command)  # type: ignore[operator]
        assert as_text.exit_code == 0, (command, as_text.output)
        for repr_mark in ("{'", "['", "None", "True", "False"):
            assert repr_mark not in as_text.stdout, (command, as_text.stdout)
    shown = invoke("workspace", "show", ws)  # type: ignore[operator]
    assert "identifiers: email, phone" in shown.stdout
    assert "tiers: Bronze=0, Gold=500" in shown.stdout


def test_a_command_without_a_database_refuses_naming_it(run: object, tmp_path: Path) -> None:
    """``workspace list`` where no SQLite file exists names the file and creates nothing;
    ``db upgrade`` creates it and says so."""
    invoke = run
    path = tmp_path / "none.db"
    url = f"sqlite:///{path}"
    refused = invoke("workspace", "list", url=url)  # type: ignore[operator]
    assert refused.exit_code == 2
    assert f"no database at {path}" in refused.stderr
    assert not path.exists()
    created = invoke("db", "upgrade", "--json", url=url)  # type: ignore[operator]
    assert created.exit_code == 0, created.output
    assert f"no database at {path}: creating it" in created.stderr
    assert json.loads(created.stdout)["previous"] is None
    assert path.exists()


def test_version_needs_no_database(run: object) -> None:
    """``roster --version`` prints the version."""
    shown = run("--version", url="postgresql://nobody@127.0.0.1:1/x")  # type: ignore[operator]
    assert shown.exit_code == 0
    assert shown.stdout.startswith("roster ")
