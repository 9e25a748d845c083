"""``roster runs list|show``: a workspace's runs, read from the store as ``/v1/runs`` gives them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from roster.cli.common import Workspace, or_exit, out
from roster.domain.batches import run_name

app = typer.Typer(help="Runs: the batches sent under one run name, added up.", no_args_is_help=True)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON, as the API gives it.")]


@app.command("list")
def list_runs(
    workspace: Workspace,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
) -> None:
    """The workspace's runs, the one with the newest batch first."""
    from roster.cli.startup import open_store
    from roster.services.admin import workspace_admin
    from roster.services.reads import runs

    db = open_store("refuse").container.db
    ws = or_exit(lambda: workspace_admin.show(db, workspace))
    rows = runs.run_list(db, ws, limit=limit)
    if as_json:
        typer.echo(json.dumps({"runs": rows}))
        return
    table = Table("status", "batches", "elements", "applied", "skipped", "failed", "last")
    longest = max((len(r["run"]) for r in rows), default=3)
    table.columns.insert(0, Column("run", no_wrap=True, min_width=longest))  # never cut short
    for r in rows:
        c, b = r["counts"], r["batches"]
        last = r["last_finished_at"] or r["last_accepted_at"]
        cells = (c["total"], c["applied"], c["skipped"], c["failed"])
        table.add_row(r["run"], r["status"], str(b["total"]), *map(str, cells), last)
    out.print(table)


@app.command("show")
def show_run(run: str, workspace: Workspace, as_json: AsJson = False) -> None:
    """One run: its batches by status, elements by outcome, issue codes and progress."""
    from roster.cli.startup import open_store
    from roster.services.admin import workspace_admin
    from roster.services.reads import runs

    db = open_store("refuse").container.db
    ws = or_exit(lambda: workspace_admin.show(db, workspace))
    view = or_exit(lambda: runs.run_view(db, ws, run_name(run, "RUN")))
    if as_json:
        typer.echo(json.dumps(view))
        return
    _print_run(view)


def _print_run(view: dict[str, Any]) -> None:
    c, b = view["counts"], view["batches"]
    out.print(f"run {view['run']}: {view['status']}, {view['progress']:.1%} of elements decided")
    out.print(
        f"  batches: {b['total']} ({b['queued']} queued, {b['processing']} processing, "
        f"{b['done']} done, {b['failed']} failed); kinds: "
        + ", ".join(f"{k} {n}" for k, n in view["kinds"].items())
    )
    out.print(
        f"  elements: {c['total']} ({c['applied']} applied, {c['skipped']} skipped, "
        f"{c['failed']} failed)"
    )
    e = view["effects"]
    out.print(
        f"  applied: {e['created']} created, {e['updated']} updated, {e['unchanged']} unchanged"
    )
    out.print(
        f"  first accepted {view['first_accepted_at']}, last accepted "
        f"{view['last_accepted_at']}, last finished {view['last_finished_at']}"
    )
    for severity in ("errors", "warnings"):
        for code, n in view["codes"][severity].items():
            out.print(f"  {severity[:-1]} {code}: {n}")
