"""``roster batches retry ID``: a failed batch queued again, read from the store as
``POST /v1/batches/{batch_id}/retry`` does it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from roster.cli.common import Workspace, or_exit, out

app = typer.Typer(help="Batches: retry a failed one.", no_args_is_help=True)


@app.command("retry")
def retry(
    batch_id: Annotated[str, typer.Argument(help="The failed batch's id.")],
    workspace: Workspace,
    as_json: Annotated[bool, typer.Option("--json", help="Print the batch as JSON.")] = False,
) -> None:
    """Queue a failed batch again: its attempts counted from 0, its progress kept (a CSV
    import resumes at its first chunk not applied)."""
    from roster.cli.startup import open_store
    from roster.services.admin import batch_retry, workspace_admin

    db = open_store("refuse").container.db
    ws = or_exit(lambda: workspace_admin.show(db, workspace))
    view = or_exit(lambda: batch_retry.retry(db, ws, batch_id))
    if as_json:
        typer.echo(json.dumps(view))
        return
    out.print(f"batch {view['batch_id']} queued again ({view['counts']['total']} elements)")
