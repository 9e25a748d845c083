"""``roster export customers``: a workspace's customers to a JSON lines file, with progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from roster.cli.common import out
from roster.exporter.customers import ExportFailed, ExportRequest, export

app = typer.Typer(help="Export a workspace's data from a Roster server.", no_args_is_help=True)


@app.command("customers")
def customers(
    url: Annotated[
        str, typer.Option(envvar="ROSTER_URL", help="The Roster server.")
    ] = "http://127.0.0.1:8000",
    workspace: Annotated[
        str, typer.Option(envvar="ROSTER_WORKSPACE", help="The workspace id.")
    ] = "",
    key: Annotated[
        str,
        typer.Option(
            envvar="ROSTER_KEY",
            help="The workspace's API key. Pass it in ROSTER_KEY: on the command line it shows "
            "in the process list.",
            show_default=False,
        ),
    ] = "",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The file (default: customers-WORKSPACE.jsonl)."),
    ] = None,
    attribute: Annotated[
        str | None, typer.Option(help="Only customers whose ATTRIBUTE holds --value.")
    ] = None,
    value: Annotated[
        str | None, typer.Option(help="The value --attribute holds (as text).")
    ] = None,
    migrated: Annotated[
        bool | None,
        typer.Option("--migrated/--not-migrated", help="Only customers migrated (or not)."),
    ] = None,
    updated_since: Annotated[
        str | None, typer.Option(help="Only customers changed since (epoch or ISO-8601).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON (no progress display).")
    ] = False,
) -> None:
    """Every customer of the workspace (or those the filters take), one JSON object per line,
    in uid order, as `GET /v1/customers` lists them. The file appears only once it is whole."""
    if not workspace or not key:
        typer.echo(
            "error: --workspace and --key (or ROSTER_WORKSPACE, ROSTER_KEY) are required", err=True
        )
        raise typer.Exit(2)
    filters = {
        name: text
        for name, text in (
            ("attribute", attribute),
            ("value", value),
            ("migrated", None if migrated is None else str(migrated).lower()),
            ("updated_since", updated_since),
        )
        if text is not None
    }
    path = output or Path(f"customers-{workspace}.jsonl")
    request = ExportRequest(url.rstrip("/"), workspace, key, path, filters)
    with Progress(
        TextColumn("customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),  # progress on stderr: stdout holds the result
        disable=quiet or as_json,
    ) as progress:
        task = progress.add_task("export", total=None)

        def listen(expected: int | None, written: int) -> None:
            progress.update(task, total=expected, completed=written)

        try:
            written = export(request, listen)
        except ExportFailed as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"customers": written, "path": str(path)}))
        return
    out.print(f"{written} customer{'' if written == 1 else 's'} written to {path}")
